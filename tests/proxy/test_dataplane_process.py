"""The data-plane process with real sockets: started detached, adopted, restarted after a
crash, replaced by hand-over without refusing a connection, stopped leaving nothing."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import structlog
from dataplane_helpers import (
    WEB,
    Load,
    answer,
    backend,
    eventually_answers,
    free_port,
    gone,
    serving,
)
from proxy_backends import eventually, run

import reconciler
from reconciler.proxy import BackendGroup, Endpoint, ListenerError, ListenerSpec
from reconciler.proxy.client import DataPlaneClient
from reconciler.proxy.control import (
    PROTOCOL,
    LineReader,
    Status,
    build_id,
    encode,
    groups_to_wire,
    socket_path,
    spec_to_wire,
    status_path,
)
from reconciler.proxy.dataplane import DataPlaneError, is_running, stop_dataplane


def test_data_plane_outlives_its_daemon_and_is_adopted_with_its_listeners(state: Path) -> None:
    """Started in its own session (0600 socket); serves after the client left; the next client
    keeps the same process and socket; stop_dataplane leaves no process, listener or file."""

    async def scenario() -> None:
        with backend() as pod:
            first = DataPlaneClient(state)
            await first.start()
            port = await serving(first, pod)
            pid = first.pid
            assert pid is not None and os.getsid(pid) == pid  # detached: its own session
            assert stat.S_IMODE(os.stat(socket_path(state)).st_mode) == 0o600
            assert stat.S_IMODE(os.stat(socket_path(state).parent).st_mode) == 0o700
            await first.close()
            assert answer(port) == b"hi\n"  # no daemon: still served

            with structlog.testing.capture_logs() as logs, Load(port) as load:
                await eventually(lambda: load.ok > 20)
                second = DataPlaneClient(state)
                await second.start()
                assert second.pid == pid
                assert second.inherited[(WEB, "http")] == (BackendGroup("all", 1, (pod,)),)
                assert await serving(second, pod) == port
                seen = load.ok
                await eventually(lambda: load.ok > seen + 20)
            assert load.failures == []
            assert [e["event"] for e in logs if e["event"].startswith("dataplane_")] == [
                "dataplane_adopted"
            ]
            await second.close()

        assert await asyncio.to_thread(stop_dataplane, state) is True
        await eventually(lambda: gone(pid))
        with pytest.raises(ConnectionRefusedError):
            answer(port)
        assert not socket_path(state).exists() and not status_path(state).exists()
        assert await asyncio.to_thread(stop_dataplane, state) is False

    run(scenario())


def test_stale_files_of_a_killed_data_plane_are_cleared_and_a_new_one_started(
    state: Path,
) -> None:
    """kill -9 leaves a socket file and dataplane.json: the next client starts afresh."""

    async def scenario() -> None:
        client = DataPlaneClient(state)
        await client.start()
        old = client.pid
        assert old is not None
        await client.close()
        os.kill(old, signal.SIGKILL)
        await eventually(lambda: not is_running(state))
        assert socket_path(state).exists() and status_path(state).exists()
        with structlog.testing.capture_logs() as logs:
            again = DataPlaneClient(state)
            await again.start()
        assert again.pid not in (None, old)
        removed = [e for e in logs if e["event"] == "dataplane_stale_files_removed"]
        assert removed and set(removed[0]["files"]) == {"control.sock", "dataplane.json"}
        await again.close()

    run(scenario())


def test_a_second_data_plane_on_the_same_state_dir_is_refused(state: Path) -> None:
    """A second data plane exits 1 naming the first one's pid, without a traceback."""

    async def scenario() -> None:
        client = DataPlaneClient(state)
        await client.start()
        await client.close()

    run(scenario())
    status = Status.load(state)
    assert status is not None
    for detach in ([], ["--detach"]):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "reconciler.proxy.dataplane",
                "--state-dir",
                str(state),
                *detach,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 1
        assert f"another data plane (pid {status.pid}) already serves" in result.stderr
        assert "Traceback" not in result.stderr
    assert Status.load(state) == status and status.alive()


def test_a_crashed_data_plane_is_restarted_with_the_whole_configuration(state: Path) -> None:
    """kill -9 of the data plane: the daemon's client notices, starts a new one, re-sends its
    listeners and backends, and logs both the loss and the restart."""

    async def scenario() -> None:
        with backend() as pod, structlog.testing.capture_logs() as logs:
            client = DataPlaneClient(state)
            await client.start()
            port = await serving(client, pod, free_port())
            old = client.pid
            assert old is not None
            os.kill(old, signal.SIGKILL)
            await eventually(lambda: client.pid not in (None, old), timeout=10)
            await asyncio.to_thread(lambda: eventually_answers(port))
            await eventually(lambda: any(e["event"] == "dataplane_restarted" for e in logs))
            await client.close()
        lost = next(e for e in logs if e["event"] == "dataplane_lost")
        assert lost["pid"] == old and lost["log_level"] == "error"
        restarted = next(e for e in logs if e["event"] == "dataplane_restarted")
        assert restarted["previous_pid"] == old and restarted["pid"] == client.pid

    run(scenario())


def test_a_port_that_cannot_be_bound_is_a_listener_error(state: Path) -> None:
    """A taken port comes back from the data plane as ListenerError naming it and the reason."""

    async def scenario() -> None:
        client = DataPlaneClient(state)
        await client.start()
        with socket.create_server(("127.0.0.1", 0)) as taken:
            number = taken.getsockname()[1]
            with pytest.raises(ListenerError, match=f"cannot listen on 127.0.0.1:{number}"):
                await client.ensure_listener(ListenerSpec(WEB, "http", "127.0.0.1", number))
        assert client.listeners() == []
        await client.close()

    run(scenario())


def test_stop_refuses_new_connections_and_drains_open_ones_within_the_bound(
    state: Path,
) -> None:
    """stop_dataplane: the port stops listening at once, an open connection keeps relaying
    until it ends, and the process exits when it has."""

    async def scenario() -> None:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(100):
                writer.write(data)
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        pod = Endpoint("echo", "127.0.0.1", server.sockets[0].getsockname()[1])
        client = DataPlaneClient(state)
        await client.start()
        await client.ensure_listener(ListenerSpec(WEB, "http", "127.0.0.1", 0))
        client.set_backends(WEB, "http", (BackendGroup("all", 1, (pod,)),))
        await client.configured()
        port = client.address(WEB, "http")[1]
        pid = client.pid
        assert pid is not None
        await client.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"one")
        assert await reader.readexactly(3) == b"one"
        stopping = asyncio.create_task(asyncio.to_thread(stop_dataplane, state, drain=20.0))
        await eventually(lambda: _refused(port))
        writer.write(b"two")
        assert await reader.readexactly(3) == b"two"  # still relayed while draining
        assert not stopping.done()
        started = time.monotonic()
        writer.close()
        assert await stopping is True
        assert time.monotonic() - started < 5  # not the whole 20 s bound
        await eventually(lambda: gone(pid))
        server.close()

    run(scenario())


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def old_build(tmp_path: Path) -> Path:
    """A copy of the package whose proxy code differs by one comment: another build."""
    root = tmp_path / "old-build"
    package = Path(reconciler.__file__).parent
    shutil.copytree(package, root / "reconciler", ignore=shutil.ignore_patterns("__pycache__"))
    with (root / "reconciler" / "proxy" / "control.py").open("a") as out:
        out.write("\n# an older build\n")
    return root


def configure_by_hand(state: Path, pod: Endpoint) -> int:
    """Configure a data plane over the wire as its own daemon would (a daemon of its build)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(os.fspath(socket_path(state)))
        spec = ListenerSpec(WEB, "http", "127.0.0.1", 0)
        groups = (BackendGroup("all", 1, (pod,)),)
        sock.sendall(
            encode({"op": "hello", "id": 1, "protocol": PROTOCOL, "role": "daemon"})
            + encode({"op": "ensure", "id": 2, "spec": spec_to_wire(spec)})
            + encode(
                {
                    "op": "backends",
                    "service": WEB,
                    "port_name": "http",
                    "groups": groups_to_wire(groups),
                }
            )
            + encode({"op": "stats", "id": 3})
        )
        reader = LineReader()
        answers: list[dict[str, Any]] = []
        while len([a for a in answers if "id" in a]) < 3:
            answers += reader.feed(sock.recv(65536))
    ensured = next(a for a in answers if a.get("id") == 2)
    assert ensured["ok"], ensured
    return int(ensured["address"][1])


def test_upgrade_hands_the_listening_sockets_over_without_refusing_a_connection(
    state: Path, tmp_path: Path
) -> None:
    """A data plane of another build is replaced by one of ours through SCM_RIGHTS: under a
    new-connection-per-request load not one request fails, and the old process exits."""
    old_root = old_build(tmp_path)
    started = subprocess.run(
        [sys.executable, "-m", "reconciler.proxy.dataplane", "--state-dir", str(state), "--detach"],
        env={**os.environ, "PYTHONPATH": os.fspath(old_root)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert started.returncode == 0, started.stderr
    old = Status.load(state)
    assert old is not None and old.build != build_id()

    async def scenario() -> None:
        with backend() as pod:
            port = await asyncio.to_thread(configure_by_hand, state, pod)
            await asyncio.to_thread(lambda: eventually_answers(port))
            with structlog.testing.capture_logs() as logs, Load(port) as load:
                await eventually(lambda: load.ok > 50)
                client = DataPlaneClient(state)
                await client.start()
                assert await serving(client, pod) == port
                seen = load.ok
                await eventually(lambda: load.ok > seen + 50)
            assert load.failures == []
            events = [e["event"] for e in logs if e["event"].startswith("dataplane_")]
            assert events == ["dataplane_upgrading", "dataplane_upgraded"]
            now = Status.load(state)
            assert now is not None and now.build == build_id() and now.pid == client.pid
            await eventually(lambda: gone(old.pid))
            await client.close()

    run(scenario())


def test_a_data_plane_that_cannot_start_is_a_clear_error(state: Path) -> None:
    """``dataplane`` taken by a file: the daemon gets one error line naming it, no traceback."""
    (state / "dataplane").write_text("not a directory")

    async def scenario() -> None:
        client = DataPlaneClient(state)
        with pytest.raises(DataPlaneError, match=r"cannot start the data plane of .*File exists"):
            await client.start()

    run(scenario())
    (state / "dataplane").unlink()


def test_a_hung_data_plane_is_killed_and_replaced(state: Path) -> None:
    """A data plane that holds the state but does not answer (stopped): the next daemon says
    so, kills it (verified by pid and start time) and starts a new one."""

    async def scenario() -> None:
        client = DataPlaneClient(state)
        await client.start()
        hung = client.pid
        assert hung is not None
        await client.close()
        os.kill(hung, signal.SIGSTOP)
        with structlog.testing.capture_logs() as logs:
            again = DataPlaneClient(state)
            await again.start()
        assert again.pid not in (None, hung)
        await eventually(lambda: gone(hung))
        unresponsive = next(e for e in logs if e["event"] == "dataplane_unresponsive")
        assert unresponsive["pid"] == hung
        await again.close()

    run(scenario())
