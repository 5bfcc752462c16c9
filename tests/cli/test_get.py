"""`get`: kubectl's tables from the store, the invalid-manifest warning, and `-w`."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

import pytest
from test_read_world import World, complete_status, world_fixture

from reconciler.cli import main

__all__ = ["world_fixture"]


def test_get_deployments_table_and_wide(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """READY is ready/desired; -o wide adds CONTAINERS, IMAGES and SELECTOR."""
    world.deployment("web", replicas=3)
    world.status("web", **complete_status(3))
    assert world.cli("get", "deployments", "-o", "wide") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert lines[1].split() == ["web", "3/3", "3", "3", "3h", "web", "web:1", "app=web"]


def test_get_missing_name_is_not_found(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown name prints kubectl's NotFound line and exits 1."""
    assert world.cli("get", "deployment", "nope") == 1
    assert capsys.readouterr().err == (
        'Error from server (NotFound): deployments.apps "nope" not found\n'
    )


def test_get_warns_when_the_manifest_is_invalid(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid manifest's error is shown beside the table; the table shows what runs."""
    world.deployment("web", replicas=3)
    error = "manifests/web.yaml:7:13: error: spec.replicas: 'two' is not of type 'integer' (schema)"
    world.status("web", **complete_status(3), invalid=[error])
    assert world.cli("get", "deployments") == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1].split()[:2] == ["web", "3/3"]
    assert error in captured.err and "last good revision keeps running" in captured.err


def test_get_watch_prints_a_row_again_when_it_changes(world: World) -> None:
    """`get deployments -w` prints the table, then the row again when its status changes."""
    world.deployment("web", replicas=3)
    world.status("web", **complete_status(3, readyReplicas=1))
    env = {**os.environ, "RECONCILER_STATE_DIR": os.fspath(world.state_dir)}
    watch = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "get", "deployments", "-w"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert watch.stdout is not None
        assert watch.stdout.readline().split()[0] == "NAME"
        assert watch.stdout.readline().split()[:2] == ["web", "1/3"]
        world.status("web", **complete_status(3))
        ready, _, _ = select.select([watch.stdout], [], [], 10)
        assert ready, "no new row within 10 s"
        assert watch.stdout.readline().split()[:2] == ["web", "3/3"]
    finally:
        watch.terminate()
        watch.wait(10)


def test_get_pods_in_an_empty_namespace(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """No pods: kubectl's 'No resources found' on stderr, exit 0."""
    assert world.cli("get", "pods", "-n", "other") == 0
    assert capsys.readouterr().err == "No resources found in other namespace.\n"


def test_reading_where_no_daemon_ran_leaves_no_state_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`get` where no state exists says so (not "No resources found"), exits 1 as kubectl does
    when it cannot reach a server, and creates no state directory."""
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    assert main(["get", "deployments"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: no reconciler state at {tmp_path / 'state'}: no daemon has run")
    assert "No resources found" not in err
    assert main(["describe", "deployment", "web"]) == 1
    assert "NotFound" not in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
