"""The daemon's own promises: one per state dir, stop and `down`, restart, prune guard, rollback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import (
    ROLLING_SURGE_ONE,
    DaemonProcess,
    complete,
    deployment_yaml,
    processes_with,
    wait_for,
)
from tests.e2e.test_walkthrough import env_token, images, write

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_second_daemon_on_the_same_state_dir_is_refused(
    folder: Path, daemon: DaemonProcess, tmp_path: Path
) -> None:
    """A second `run` on one state directory exits 1 naming the first daemon's pid."""
    daemon.start()
    assert daemon.proc is not None
    second = DaemonProcess(folder, daemon.state)
    result = second.cli("run", str(folder))
    assert result.returncode == 1
    assert f"pid {daemon.proc.pid}" in result.stderr
    assert daemon.proc.poll() is None


def test_sigterm_leaves_pods_running_and_down_stops_them(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """SIGTERM: the daemon exits 0 and its pods run on (`get pods` still lists them);
    `reconciler down` then stops every one, and `get pods` shows none."""
    write(folder, "web", deployment_yaml("web", replicas=2, env=env_token(token)))
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="ready")
    before = set(processes_with(token))
    assert len(before) == 2
    assert daemon.stop() == 0
    assert set(processes_with(token)) == before
    assert {p.name for p in daemon.pods()} and all(p.ready for p in daemon.pods())
    listing = daemon.cli("get", "deployments")
    assert listing.returncode == 0 and "web" in listing.stdout  # the store still answers
    result = daemon.down()
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" deleted\n") == 2
    assert processes_with(token) == []
    assert daemon.pods() == []


def test_rollout_restart_replaces_every_pod_without_a_new_revision(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """`rollout restart` swaps all pods under the strategy's limits; history keeps one revision."""
    write(
        folder,
        "web",
        deployment_yaml("web", replicas=2, strategy=ROLLING_SURGE_ONE, env=env_token(token)),
    )
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="ready")
    before = {p.name for p in daemon.pods()}
    result = daemon.cli("rollout", "restart", "deployment/web")
    assert result.stdout.strip() == "deployment.apps/web restarted", result.stderr
    wait_for(
        lambda: not before & {p.name for p in daemon.pods()} and complete(daemon, "web", 2)(),
        what="all pods replaced",
    )
    assert [rs.revision for rs in daemon.replicasets("web")] == [1]


def test_prune_guard_holds_a_mass_deletion_until_confirmed(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """Two of three manifests vanish: nothing is deleted until `reconciler prune --yes`."""
    for name in ("a", "b", "c"):
        write(
            folder, name, deployment_yaml(name, replicas=1, env=env_token(token), readiness=False)
        )
    daemon.start()
    for name in ("a", "b", "c"):
        wait_for(complete(daemon, name, 1), what=name)
    (folder / "a.yaml").unlink()
    (folder / "b.yaml").unlink()
    wait_for(
        lambda: any(
            e.reason == "PruneHeld"
            for e in daemon.read(lambda s: s.list_events(namespace="default"))
        ),
        what="held",
    )
    assert len(processes_with(token)) == 3
    pruned = daemon.cli("prune", "--yes")
    assert pruned.returncode == 0, pruned.stderr
    wait_for(
        lambda: (
            len(processes_with(token)) == 1
            and {p.name.split("-")[0] for p in daemon.pods()} == {"c"}
        ),
        what="a and b pruned",
    )


def test_auto_rollback_returns_to_the_last_complete_revision(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """autoRollback: a crash-looping revision is abandoned, stable pods run, phase is Degraded."""
    auto = "\n  autoRollback: true"

    def manifest(image: str, command: str) -> str:
        return deployment_yaml(
            "web",
            image=image,
            replicas=2,
            strategy=ROLLING_SURGE_ONE,
            extra_spec=auto,
            command=command,
            env=env_token(token),
        )

    write(folder, "web", manifest("demo:1", '["python3", "-m", "reconciler.demoapp"]'))
    daemon.start()
    wait_for(complete(daemon, "web", 2), what="rev 1")
    write(folder, "web", manifest("demo:2", '["/nonexistent/demo"]'))
    wait_for(
        lambda: (
            daemon.status("web").get("rollout", {}).get("phase") == "Degraded"
            and images(daemon) == {"demo:1"}
            and len([p for p in daemon.pods() if p.ready]) == 2
        ),
        timeout=30,
        what="rolled back to demo:1",
    )
    status = daemon.cli("rollout", "status", "deployment/web", "--timeout", "10s")
    assert status.returncode == 1


def test_a_signal_to_down_kills_what_is_left_and_leaves_no_process(
    folder: Path, daemon: DaemonProcess, token: str, tmp_path: Path
) -> None:
    """`down` with a running daemon stops it first, then waits on a pod that ignores SIGTERM
    (grace 120 s); Ctrl-C to `down` SIGKILLs it at once, and `down` exits 1."""
    marker = tmp_path / "ignoring-sigterm"
    stubborn = (
        '["python3", "-c", "import pathlib, signal, time;'
        " signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        f" pathlib.Path('{marker}').touch(); time.sleep(600)\"]"
    )
    manifest = deployment_yaml(
        "stubborn", replicas=1, command=stubborn, env=env_token(token), readiness=False
    ).replace("terminationGracePeriodSeconds: 5", "terminationGracePeriodSeconds: 120")
    write(folder, "stubborn", manifest)
    daemon.start()
    # only once the pod really ignores SIGTERM (its interpreter may still be starting)
    wait_for(marker.exists, what="pod ignoring SIGTERM")
    assert daemon.proc is not None
    env = {**os.environ, "RECONCILER_STATE_DIR": os.fspath(daemon.state)}
    down = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "down"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        assert down.stdout is not None
        lines = []
        for line in down.stdout:
            lines.append(line)
            if line.startswith("stopping 1 pod gracefully"):
                break
        assert lines[0] == f"stopping the daemon (pid {daemon.proc.pid}) first\n", lines
        assert daemon.proc.wait(10) == 0  # the daemon left; the pod is still being stopped
        assert processes_with(token)
        down.send_signal(signal.SIGINT)
        assert down.wait(10) == 1
        assert "forced: killing what is left" in down.stdout.read()
    finally:
        down.kill()
        down.wait()
    assert processes_with(token) == []
    assert daemon.pods() == []
