"""Quiet diffs: normalize, classify and render, and `reconciler diff` with its exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import main
from reconciler.defaults import default_deployment, default_service
from reconciler.folder.diff import ChangeKind, classify, normalize, render
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store
from tests.store.conftest import deployment

ROOT = Path(__file__).resolve().parents[2]

SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080}]},
}


def test_spelled_out_defaults_are_no_change() -> None:
    """A manifest that only writes defaults normalizes to the same object as a terse one."""
    verbose = deployment(
        replicas=1,
        revisionHistoryLimit=10,
        progressDeadlineSeconds=600,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
    )
    verbose["metadata"]["namespace"] = "default"
    verbose["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert normalize(verbose) == normalize(deployment())
    assert classify(deployment(), verbose) is ChangeKind.NONE


def test_runtime_fields_are_ignored() -> None:
    """status, deployment.kubernetes.io/* annotations and server metadata never differ."""
    live = deployment()
    live["status"] = {"readyReplicas": 1}
    live["metadata"].update(
        generation=4,
        resourceVersion="123",
        uid="u",
        creationTimestamp="2024-01-01T00:00:00Z",
        managedFields=[{}],
        annotations={"deployment.kubernetes.io/revision": "3"},
    )
    assert normalize(live) == normalize(deployment())


def test_user_annotations_are_kept() -> None:
    """An annotation the user wrote is part of the object."""
    annotated = deployment()
    annotated["metadata"]["annotations"] = {"team": "a", "deployment.kubernetes.io/revision": "1"}
    assert normalize(annotated)["metadata"]["annotations"] == {"team": "a"}


def test_service_defaults() -> None:
    """A Service's targetPort/protocol defaults are no change either."""
    spelled = yaml.safe_load(yaml.safe_dump(SERVICE))
    spelled["spec"]["ports"][0].update(targetPort=8080, protocol="TCP")
    spelled["spec"]["type"] = "ClusterIP"
    assert classify(SERVICE, spelled) is ChangeKind.NONE


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        pytest.param(None, deployment(), ChangeKind.CREATED, id="created"),
        pytest.param(deployment(), None, ChangeKind.DELETED, id="deleted"),
        pytest.param(deployment(), deployment(replicas=1), ChangeKind.NONE, id="default only"),
        pytest.param(deployment(), deployment(replicas=5), ChangeKind.SCALE, id="scale"),
        pytest.param(deployment(), deployment(image="demo:2"), ChangeKind.TEMPLATE, id="image"),
        pytest.param(
            deployment(replicas=2),
            deployment(replicas=5, image="demo:2"),
            ChangeKind.TEMPLATE,
            id="template wins over scale",
        ),
        pytest.param(
            deployment(), deployment(strategy={"type": "Recreate"}), ChangeKind.OTHER, id="strategy"
        ),
        pytest.param(deployment(), deployment(paused=True), ChangeKind.OTHER, id="paused"),
        pytest.param(
            deployment(replicas=2),
            deployment(replicas=3, minReadySeconds=5),
            ChangeKind.OTHER,
            id="scale plus strategy field",
        ),
    ],
)
def test_classify(old: dict[str, Any] | None, new: dict[str, Any] | None, kind: ChangeKind) -> None:
    """Each change is named by what it will cause."""
    assert classify(old, new) is kind


def test_render_is_a_unified_yaml_diff() -> None:
    """render gives ---/+++ headers and -/+ lines of sorted-key YAML."""
    text = render(
        normalize(deployment()),
        normalize(deployment(replicas=3)),
        old_label="LIVE/x",
        new_label="MERGED/x",
    )
    assert text.startswith("--- LIVE/x\n+++ MERGED/x\n@@ ")
    assert "-  replicas: 1\n+  replicas: 3\n" in text
    assert render(deployment(), deployment(), old_label="a", new_label="b") == ""


# -- the CLI ---------------------------------------------------------------------------------


def _write(folder: Path, *objects: dict[str, Any]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "app.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))


def _apply(state_dir: Path, *objects: dict[str, Any]) -> None:
    """Record objects in the store the way the daemon does (defaulted spec)."""
    with Store.open(state_dir) as store:
        for obj in objects:
            kind = Kind(obj["kind"])
            spec = default_deployment(obj) if kind is Kind.DEPLOYMENT else default_service(obj)
            store.put_object(
                ref=ObjectRef(kind, "default", obj["metadata"]["name"]),
                manifest=obj,
                spec=spec,
                source="app.yaml",
                line=1,
                digest="d",
                now=1.0,
            )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.fspath(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_diff_exit_codes_through_the_real_cli(tmp_path: Path, state_dir: Path) -> None:
    """`reconciler diff`: 0 when equal, 1 with a diff, 2 for invalid manifests."""
    folder = tmp_path / "manifests"
    _apply(state_dir, deployment(), SERVICE)
    _write(folder, deployment(replicas=1), SERVICE)  # only a default spelled out
    same = _cli("diff", os.fspath(folder), "--state-dir", os.fspath(state_dir))
    assert (same.returncode, same.stdout) == (0, ""), same.stderr

    _write(folder, deployment(image="demo:2"), SERVICE)
    changed = _cli("diff", os.fspath(folder), "--state-dir", os.fspath(state_dir))
    assert changed.returncode == 1, changed.stderr
    name = "apps.v1.Deployment.default.web"
    assert changed.stdout.startswith(f"diff -u -N LIVE/{name} MERGED/{name}\n--- LIVE/{name}\n")
    assert "-        image: demo:1\n+        image: demo:2\n" in changed.stdout

    (folder / "app.yaml").write_text(
        "kind: Deployment\nmetadata: {name: web}\nspec: {replicas: x}\n"
    )
    broken = _cli("diff", os.fspath(folder), "--state-dir", os.fspath(state_dir))
    assert broken.returncode == 2
    assert "app.yaml" in broken.stderr and broken.stdout == ""


def test_diff_shows_new_and_deleted_objects(
    tmp_path: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An object only in the folder is all `+`; one only in the store is all `-`."""
    folder = tmp_path / "manifests"
    _apply(state_dir, SERVICE)
    _write(folder, deployment())
    code = main(["diff", os.fspath(folder), "--state-dir", os.fspath(state_dir)])
    out = capsys.readouterr().out
    assert code == 1
    assert "+++ MERGED/apps.v1.Deployment.default.web\n" in out
    assert "--- LIVE/v1.Service.default.web\n" in out
    assert "-kind: Service\n" in out and "+kind: Deployment\n" in out


def test_diff_without_a_state_directory_shows_everything_new(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before any daemon ran, every object is a creation (and nothing is created on disk)."""
    folder = tmp_path / "manifests"
    _write(folder, SERVICE)
    state = tmp_path / "nowhere"
    assert main(["diff", os.fspath(folder), "--state-dir", os.fspath(state)]) == 1
    assert "+kind: Service\n" in capsys.readouterr().out
    assert not state.exists()


def test_diff_defaults_to_the_watched_folder(
    tmp_path: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without DIR, diff reads the folder the daemon watches (meta manifests_dir)."""
    folder = tmp_path / "watched"
    _write(folder, SERVICE)
    _apply(state_dir, SERVICE)
    with Store.open(state_dir) as store:
        store.set_meta("manifests_dir", os.fspath(folder))
    assert main(["diff", "--state-dir", os.fspath(state_dir)]) == 0
    assert capsys.readouterr().out == ""


def test_diff_of_a_missing_folder_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder that does not exist exits 2 with a message."""
    code = main(["diff", os.fspath(tmp_path / "nope"), "--state-dir", os.fspath(tmp_path / "s")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_diff_says_when_there_is_no_state_and_when_no_daemon_runs(
    tmp_path: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No state: every object is new and stderr says why; a store no daemon holds: the stale
    warning (what runs may have changed since)."""
    folder = tmp_path / "manifests"
    _write(folder, deployment())
    nowhere = tmp_path / "nowhere"
    assert main(["diff", os.fspath(folder), "--state-dir", os.fspath(nowhere)]) == 1
    captured = capsys.readouterr()
    assert f"warning: no reconciler state at {nowhere}: nothing runs yet" in captured.err
    assert "+++ MERGED/apps.v1.Deployment.default.web\n" in captured.out
    assert not nowhere.exists()
    _apply(state_dir, deployment())
    assert main(["diff", os.fspath(folder), "--state-dir", os.fspath(state_dir)]) == 0
    assert "warning: no reconciler daemon is running for" in capsys.readouterr().err
