"""``expose deployment``: a Service manifest in the folder, as kubectl expose builds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, team: a}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: demo:1
          command: ["python3", "-m", "reconciler.demoapp"]
          ports:
            - {name: http, containerPort: 8080}
            - {containerPort: 9090}
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "manifests"
    path.mkdir()
    (path / "web.yaml").write_text(DEPLOYMENT)
    return path


def _run(folder: Path, *words: str) -> int:
    return main(["expose", *words, "--manifests", str(folder)])


def test_expose_writes_a_service_file(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`service/NAME exposed`; the file: the Deployment's labels, its matchLabels, the ports."""
    assert _run(folder, "deployment", "web", "--port=80", "--target-port=http", "--name=front") == 0
    assert capsys.readouterr().out == "service/front exposed\n"
    assert (folder / "front.yaml").read_text() == (
        "apiVersion: v1\n"
        "kind: Service\n"
        "metadata:\n"
        "  name: front\n"
        "  labels:\n"
        "    app: web\n"
        "    team: a\n"
        "spec:\n"
        "  ports:\n"
        "  - port: 80\n"
        "    protocol: TCP\n"
        "    targetPort: http\n"
        "  selector:\n"
        "    app: web\n"
    )


def test_expose_without_port_takes_the_container_ports(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --port: every containerPort, named port-1, port-2 (kubectl's introspection)."""
    assert _run(folder, "deploy/web", "--dry-run", "-o", "yaml", "--type", "NodePort") == 0
    out = capsys.readouterr().out
    assert "  - name: port-1\n    port: 8080\n    protocol: TCP\n    targetPort: 8080\n" in out
    assert "  - name: port-2\n    port: 9090\n" in out
    assert "  type: NodePort\n" in out
    assert sorted(p.name for p in folder.iterdir()) == ["web.yaml"]  # dry run: nothing written


def test_expose_twice_is_already_exists(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Service of that name already in the folder: kubectl's AlreadyExists, exit 1."""
    assert _run(folder, "deployment", "web", "--port=80") == 0
    capsys.readouterr()
    assert _run(folder, "deployment", "web", "--port=81") == 1
    assert 'services "web" already exists' in capsys.readouterr().err


def test_expose_missing_deployment(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Deployment not in the folder: NotFound, and nothing written."""
    assert _run(folder, "deployment", "nope", "--port=80") == 1
    assert capsys.readouterr().err == (
        'Error from server (NotFound): deployments.apps "nope" not found\n'
    )
