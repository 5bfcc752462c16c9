"""Service traffic outlives the daemon: the data plane keeps serving while no daemon runs, the
next daemon takes it over, and only ``down`` (stop_dataplane) ends it (real daemon, sockets)."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from tests.e2e.harness import DaemonProcess, complete, deployment_yaml, processes_with, wait_for
from tests.e2e.load import Load, fetch_version
from tests.e2e.test_traffic import service_yaml
from tests.e2e.test_walkthrough import env_token, write
from tests.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NO_DAEMON_REQUESTS = 300  # requests served with no daemon at all (1.5 s at 200 req/s)


def serve_web(folder: Path, daemon: DaemonProcess, token: str) -> int:
    """Deployment ``web`` (3 replicas) behind a Service on a free port, rolled out and answering."""
    port = free_port()
    write(
        folder,
        "web",
        deployment_yaml("web", replicas=3, env=env_token(token))
        + service_yaml("web", port, app="web"),
    )
    daemon.start()
    wait_for(complete(daemon, "web", 3), what="web available")
    wait_for(lambda: fetch_version(port) == "1", what="the Service answers")
    return port


def version(port: int) -> str | None:
    """The version that answers through the Service, or None while none can."""
    try:
        return fetch_version(port)
    except OSError:
        return None


def listening(port: int) -> bool:
    """Something listens on 127.0.0.1:port. A reset counts: the data plane accepts and resets
    at once while a Service has no endpoint, and on a busy machine that can beat ``connect``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionResetError:
        return True
    except OSError:
        return False
    return True


def logged_since(daemon: DaemonProcess, offset: int, event: str) -> bool:
    return f'"{event}"' in daemon.log.read_text()[offset:]


def test_kill_9_of_the_daemon_fails_no_request_while_no_daemon_runs(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """200 req/s through a Service across kill -9 of the daemon: not one failed request while
    no daemon runs; the next daemon takes the same data plane over and the Service answers."""
    port = serve_web(folder, daemon, token)
    plane = daemon.dataplane_pid()
    assert plane is not None and plane not in {daemon.proc.pid if daemon.proc else 0}
    with Load(port) as load:
        wait_for(lambda: load.result.ok > 50, what="load running")
        daemon.kill()
        seen = load.result.ok
        # the window under test: no daemon at all, for as many requests as 1.5 s carry
        wait_for(lambda: load.result.ok > seen + NO_DAEMON_REQUESTS, what="load, no daemon")
    assert load.result.failures == []
    assert daemon.dataplane_pid() == plane

    offset = daemon.log.stat().st_size
    daemon.start()
    wait_for(complete(daemon, "web", 3), what="web available after the restart")
    wait_for(lambda: version(port) == "1", what="the Service answers after the restart")
    assert logged_since(daemon, offset, "dataplane_adopted")
    assert daemon.dataplane_pid() == plane


def test_sigterm_leaves_the_listener_to_the_data_plane_and_down_removes_it(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """After SIGTERM the Service port still listens (the data plane serves it) and the next
    daemon adopts that process; ``down`` then leaves no listener, data plane or socket file."""
    port = serve_web(folder, daemon, token)
    plane = daemon.dataplane_pid()
    assert plane is not None
    assert daemon.stop() == 0
    assert listening(port)  # never closed: the next daemon needs no new bind
    assert daemon.dataplane_pid() == plane

    offset = daemon.log.stat().st_size
    daemon.start()
    wait_for(lambda: version(port) == "1", what="the Service answers after the restart")
    assert logged_since(daemon, offset, "dataplane_adopted")
    assert daemon.dataplane_pid() == plane

    daemon.down()
    wait_for(lambda: not processes_with(token), timeout=15, what="pods gone after down")
    wait_for(lambda: _gone(plane), what="the data plane exited")
    assert not listening(port)
    assert not (daemon.state / "dataplane" / "control.sock").exists()
    assert daemon.dataplane_pid() is None


def test_a_crashed_data_plane_is_restarted_by_the_daemon(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """kill -9 of the data plane: the daemon logs it, starts a new one with every Service."""
    port = serve_web(folder, daemon, token)
    plane = daemon.dataplane_pid()
    assert plane is not None
    os.kill(plane, signal.SIGKILL)
    wait_for(
        lambda: daemon.dataplane_pid() not in (None, plane), what="a new data plane", timeout=15
    )
    wait_for(lambda: version(port) == "1", what="the Service answers again")
    text = daemon.log.read_text()
    assert '"dataplane_lost"' in text and '"dataplane_restarted"' in text
    assert "Traceback" not in text


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"


def attempts(load: Load) -> int:
    return load.result.ok + len(load.result.failures)


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_zero_failed_requests_across_a_daemon_restart(
    folder: Path, daemon: DaemonProcess, token: str, how: str
) -> None:
    """200 req/s through a Service of 3 pods across a daemon restart: 0 failed requests, and
    the same pods and data plane afterwards."""
    port = serve_web(folder, daemon, token)
    pods = {p.name for p in daemon.pods()}
    plane = daemon.dataplane_pid()
    with Load(port) as load:
        wait_for(lambda: load.result.ok > 50, what="load running")
        if how == "kill -9":
            daemon.kill()
        else:
            assert daemon.stop() == 0
        sent = attempts(load)
        wait_for(lambda: attempts(load) > sent + 100, what="load with no daemon")
        daemon.start()
        wait_for(complete(daemon, "web", 3), what="web available after the restart")
        seen = load.result.ok
        wait_for(lambda: load.result.ok > seen + 100, what="load after the restart")
    assert load.result.failures == []
    assert {p.name for p in daemon.pods()} == pods
    assert daemon.dataplane_pid() == plane
