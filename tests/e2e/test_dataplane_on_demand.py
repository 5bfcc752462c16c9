"""The data plane is started for Services, not for every daemon (real daemon, real sockets):
a folder without a Service runs none; the first Service starts it; a daemon that fails at start
leaves none behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port
from tests.e2e.harness import DaemonProcess, complete, deployment_yaml, wait_for
from tests.e2e.load import fetch_version
from tests.e2e.test_traffic import service_yaml
from tests.e2e.test_walkthrough import env_token, write

pytestmark = pytest.mark.e2e


def test_no_data_plane_until_the_first_service(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """Deployments only: no data plane process; a Service added: one starts and serves it."""
    write(folder, "web", deployment_yaml("web", replicas=1, env=env_token(token)))
    daemon.start()
    wait_for(complete(daemon, "web", 1), what="web available")
    assert daemon.dataplane_pid() is None
    port = free_port()
    write(folder, "svc", service_yaml("web", port, app="web"))
    wait_for(lambda: _version(port) == "1", what="the Service answers")
    assert daemon.dataplane_pid() is not None


def _version(port: int) -> str | None:
    """The version answering through the Service, or None while nothing listens yet."""
    try:
        return fetch_version(port)
    except OSError:
        return None


def test_a_daemon_that_fails_at_start_leaves_no_data_plane(folder: Path, tmp_path: Path) -> None:
    """A store that cannot be written at start: the daemon exits with a clear error (no
    traceback), and no data plane was started (or is left) for the Service in the folder."""
    write(folder, "svc", service_yaml("web", free_port(), app="web"))
    switch = tmp_path / "read-only"
    switch.write_text("attempt to write a readonly database")
    state = tmp_path / "state"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "reconciler", "run", str(folder), "--http", "off"),
            *("--state-dir", str(state), "--fault-file", str(switch)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "cannot start: the state database" in result.stderr
    assert "attempt to write a readonly database" in result.stderr
    assert "Traceback" not in result.stderr
    assert DaemonProcess(folder, state).dataplane_pid() is None
