"""The CLI for ConfigMaps and Secrets: create secret generic, get and describe in kubectl's
layout (a Secret's sizes, never its values), diff masking, and undo naming values it cannot
bring back."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
import yaml

from reconciler.cli import main
from reconciler.folder.sync import FolderSync
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store

CONFIG = """apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, labels: {app: web}}
data:
  greeting: hello
  mode: fast
---
apiVersion: v1
kind: Secret
metadata: {name: db}
type: kubernetes.io/basic-auth
stringData:
  username: ada
  password: hunter2-value
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run from an empty directory: a default ./manifests never hits the repo."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_STATE_DIR", raising=False)


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    """(folder, state dir) after one sync of CONFIG."""
    folder, state = tmp_path / "manifests", tmp_path / "state"
    folder.mkdir()
    (folder / "config.yaml").write_text(CONFIG)
    with Store.open(state) as store:
        FolderSync(store, folder).sync(now=1.0)
    return folder, state


def cli(state: Path, *words: str) -> int:
    return main([*words, "--state-dir", str(state)])


def test_get_configmaps_and_secrets(
    world: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """kubectl's columns: NAME DATA AGE, and NAME TYPE DATA AGE."""
    _, state = world
    assert cli(state, "get", "configmaps") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "AGE"]
    assert lines[1].split()[:2] == ["app-config", "2"]
    assert cli(state, "get", "secret") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert lines[1].split()[:3] == ["db", "kubernetes.io/basic-auth", "2"]
    assert cli(state, "get", "cm", "nope") == 1
    assert 'configmaps "nope" not found' in capsys.readouterr().err


def test_get_secret_yaml_shows_data_as_the_api_server_stores_it(
    world: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """-o yaml: base64 data (stringData merged in), as kubectl get secret -o yaml shows it."""
    _, state = world
    assert cli(state, "get", "secret", "db", "-o", "yaml") == 0
    obj = yaml.safe_load(capsys.readouterr().out)
    assert base64.b64decode(obj["data"]["password"]) == b"hunter2-value"
    assert "stringData" not in obj


def test_describe_secret_shows_sizes_never_values(
    world: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """describe secret: kubectl's page, each key's size in bytes."""
    _, state = world
    assert cli(state, "describe", "secret", "db") == 0
    out = capsys.readouterr().out
    assert out == (
        "Name:         db\n"
        "Namespace:    default\n"
        "Labels:       <none>\n"
        "Annotations:  <none>\n"
        "\n"
        "Type:  kubernetes.io/basic-auth\n"
        "\n"
        "Data\n"
        "====\n"
        "password:  13 bytes\n"
        "username:  3 bytes\n"
        "\n"
        "Events:  <none>\n"
    )


def test_describe_configmap(world: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """describe configmap: every key with its value under a ---- line, as kubectl prints it."""
    _, state = world
    assert cli(state, "describe", "configmap/app-config") == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "Name:         app-config\nNamespace:    default\nLabels:       app=web\n"
    )
    assert "Data\n====\ngreeting:\n----\nhello\n\nmode:\n----\nfast\n" in out
    assert "BinaryData\n====\n" in out


def test_create_secret_generic_writes_a_private_file_outside_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The values go to STATE_DIR/secrets/NS/NAME.yaml, 0600 in 0700 folders; never the folder."""
    folder, state = tmp_path / "manifests", tmp_path / "state"
    folder.mkdir()
    (tmp_path / "cert.pem").write_bytes(b"\x00binary\xff")
    (tmp_path / "app.env").write_text("# comment\nUSER=ada\n\nLEVEL=3\n")
    code = main(
        [
            "create", "secret", "generic", "api",
            "--from-literal", "token=tok-123",
            "--from-file", "tls.crt=" + str(tmp_path / "cert.pem"),
            "--from-env-file", str(tmp_path / "app.env"),
            "--state-dir", str(state), "--manifests", str(folder),
        ]
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out == "secret/api created\n"
    path = state / "secrets" / "default" / "api.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert list(folder.iterdir()) == []
    obj = yaml.safe_load(path.read_text())
    values = {k: base64.b64decode(v) for k, v in obj["data"].items()}
    assert values == {
        "token": b"tok-123",
        "tls.crt": b"\x00binary\xff",
        "USER": b"ada",
        "LEVEL": b"3",
    }
    with Store.open(state) as store:
        assert [i.action for i in store.pending_intents()] == ["resync"]
        FolderSync(store, folder).sync(now=1.0)
        assert store.get_object(ObjectRef(Kind.SECRET, "default", "api")) is not None
    again = ["create", "secret", "generic", "api", "--from-literal", "a=b"]
    assert main([*again, "--state-dir", str(state), "--manifests", str(folder)]) == 1
    assert 'secrets "api" already exists' in capsys.readouterr().err
    assert (
        main(["delete", "secret", "api", "--state-dir", str(state), "--manifests", str(folder)])
        == 0
    )
    assert capsys.readouterr().out == 'secret "api" deleted\n' and not path.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(
            ["--from-literal", "a=1", "--from-literal", "a=2"], "cannot add key a", id="dup"
        ),
        pytest.param(["--from-literal", "bad key=1"], "not a valid key name", id="bad key"),
        pytest.param(["--from-literal", "novalue"], "expected KEY=VALUE", id="no value"),
    ],
)
def test_create_secret_generic_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    """kubectl's errors for duplicate and invalid keys; nothing is written."""
    state = tmp_path / "state"
    assert main(["create", "secret", "generic", "x", *flags, "--state-dir", str(state)]) == 1
    assert message in capsys.readouterr().err
    assert not (state / "secrets").exists()


def test_dry_run_prints_the_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run -o yaml prints what kubectl would (the user asked for their own values)."""
    args = ["create", "secret", "generic", "x", "--from-literal", "k=v", "--dry-run", "-o", "yaml"]
    assert main([*args, "--state-dir", str(tmp_path / "state")]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {"k": "dg=="},
    }  # fmt: skip


def test_diff_masks_secret_values(
    world: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """diff says which Secret key changed, as kubectl diff does: *** (before) / *** (after)."""
    folder, state = world
    (folder / "config.yaml").write_text(CONFIG.replace("hunter2-value", "hunter3-value"))
    assert main(["diff", str(folder), "--state-dir", str(state)]) == 1
    out = capsys.readouterr().out
    assert "-  password: '*** (before)'" in out and "+  password: '*** (after)'" in out
    assert "hunter" not in out and "aHVudGVy" not in out
    assert "username" in out and "ConfigMap" not in out


def test_create_configmap_writes_a_manifest_into_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """create configmap: kubectl's flags, a new manifest in the folder whose values stay strings
    (``on``, ``1.0``) and whose non-UTF-8 file contents go to binaryData."""
    folder, state = tmp_path / "manifests", tmp_path / "state"
    folder.mkdir()
    (tmp_path / "logo.bin").write_bytes(b"\x89PNG\xff")
    base = ["--state-dir", str(state), "--manifests", str(folder)]
    words = ["create", "configmap", "flags", "--from-literal", "enabled=on"]
    words += ["--from-literal", "ratio=1.0", "--from-file", str(tmp_path / "logo.bin")]
    assert main([*words, *base]) == 0
    assert capsys.readouterr().out == "configmap/flags created\n"
    obj = yaml.safe_load((folder / "flags.yaml").read_text())
    assert obj["data"] == {"enabled": "on", "ratio": "1.0"}
    assert base64.b64decode(obj["binaryData"]["logo.bin"]) == b"\x89PNG\xff"
    assert main([*words, *base]) == 1
    assert 'configmaps "flags" already exists' in capsys.readouterr().err


def test_validate_knows_the_secrets_this_host_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reference to a Secret the folder lacks is a warning, unless create secret generic made
    it in this host's state directory."""
    folder, state = tmp_path / "manifests", tmp_path / "state"
    folder.mkdir()
    (folder / "web.yaml").write_text(
        """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: demo:1
          command: [python3]
          envFrom: [{secretRef: {name: api}}]
"""
    )
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(state))
    assert main(["validate", str(folder)]) == 0
    assert 'secret "api" not found' in capsys.readouterr().out
    created = ["create", "secret", "generic", "api", "--from-literal", "k=v"]
    assert main([*created, "--manifests", str(folder)]) == 0
    capsys.readouterr()
    assert main(["validate", str(folder)]) == 0
    assert capsys.readouterr().out.endswith("Errors: 0, Warnings: 0\n")
