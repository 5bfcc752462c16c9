"""The data plane: Service listeners in their own long-lived process, one per state directory.

``python -m reconciler.proxy.dataplane --state-dir DIR`` runs the ``TcpProxy`` on its own event
loop and takes its configuration from the daemon over ``DIR/dataplane/control.sock`` (0600;
the protocol is in ``control.py``). It does not depend on the daemon being there: when the
daemon stops, is killed with ``kill -9`` or is upgraded, the listeners and the connections they
carry go on with the last configuration, and the next daemon connects and takes over without
closing a listener that stays, so no connection is refused. That is the split Kubernetes makes
between the control plane and kube-proxy's rules.

Why a process and not only handing listening sockets to the next daemon (SCM_RIGHTS, as
HAProxy's seamless reload): a hand-over needs the old daemon alive to hand over, and
``kill -9``, a crash or the OOM killer give it no chance. The hand-over is still used, between
data planes: a daemon that finds one of another version starts its successor with
``--take-over``, which receives the listening sockets from the running one (``handover.py``),
while the old one drains its open connections and exits.

Life cycle: one data plane per state directory (an ``flock`` on ``dataplane/lock``, which the
kernel drops when the process dies); ``dataplane.json`` records pid, start time, boot id,
protocol and build so a daemon verifies what it talks to. SIGTERM or ``stop_dataplane``: stop
accepting, let open connections finish within a bound, exit, leaving no file behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import signal
import socket
import sys
import time
from pathlib import Path

import structlog

from reconciler.errors import ReconcilerError
from reconciler.log import configure, get_logger
from reconciler.proxy import ListenerError
from reconciler.proxy.control import (
    HANDOVER_PROTOCOL,
    PROTOCOL,
    Status,
    bindable,
    dataplane_dir,
    encode,
    lock_path,
    log_path,
    socket_path,
    status_path,
)
from reconciler.proxy.handover import HandoverProxy, take_sockets
from reconciler.proxy.session import DataPlane

__all__ = ["DataPlaneError", "is_running", "main", "stop_dataplane"]

log = get_logger(component="dataplane")

DEFAULT_DRAIN = 30.0  # seconds open connections get to finish when the data plane stops
_LOG_LIMIT = 10 * 1024 * 1024  # bytes of dataplane.log before it is rotated to .1
_WATCH_INTERVAL = 2.0


class DataPlaneError(ReconcilerError):
    """The data plane cannot start, or cannot be reached."""


# -- holding the state directory --------------------------------------------------------


def _take_lock(state: Path) -> int:
    fd = os.open(lock_path(state), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        status = Status.load(state)
        who = f"pid {status.pid}" if status is not None else "pid unknown"
        raise DataPlaneError(
            f"error: another data plane ({who}) already serves state directory {state}"
        ) from None
    return fd


def is_running(state: Path) -> bool:
    """Whether a data plane holds ``state`` (its lock is taken; a dead one holds nothing)."""
    try:
        fd = os.open(lock_path(state), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def wait_stopped(state: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(state):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def remove_stale_files(state: Path) -> list[str]:
    """Socket and status file of a data plane that is gone (call only without the lock held
    by anyone, or while holding it); returns what was removed."""
    removed = []
    for path in (socket_path(state), status_path(state)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path.name)
    return removed


def _listen_control(state: Path) -> socket.socket:
    path = socket_path(state)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # stale: we hold the lock, so nobody serves it
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # 0600 from the start: no moment where another user could connect
    try:
        with bindable(path) as address:
            sock.bind(address)
    finally:
        os.umask(old)
    sock.listen(16)
    return sock


# -- the process ------------------------------------------------------------------------


async def serve(state: Path, *, take_over: bool, ready: int | None) -> int:
    """Run until stopped; ``ready`` (a pipe) gets one byte once the control socket serves."""
    structlog.contextvars.bind_contextvars(dataplane_pid=os.getpid())  # two share the log
    proxy = HandoverProxy()
    plane: DataPlane
    if take_over and is_running(state):
        taken = await asyncio.to_thread(take_sockets, state)
        plane = DataPlane(state, proxy, lock_fd=taken.lock_fd, control=taken.control)
        await plane.adopt(taken)
    else:
        lock_fd = _take_lock(state)
        remove_stale_files(state)
        plane = DataPlane(state, proxy, lock_fd=lock_fd, control=_listen_control(state))
    Status.mine().save(state)
    plane.start()
    if take_over and plane.predecessor is not None:
        plane.predecessor.confirm()  # the old data plane stops accepting now, and drains
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, plane.request_stop, DEFAULT_DRAIN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    log.info(
        "dataplane_started",
        pid=os.getpid(),
        protocol=PROTOCOL,
        listeners=len(proxy.listeners()),
        took_over=plane.predecessor.pid if plane.predecessor else None,
    )
    if ready is not None:
        os.write(ready, b"ok\n")
        os.close(ready)
    watch = asyncio.create_task(_watch(state, plane))
    try:
        await plane.finished()
    finally:
        watch.cancel()
    return 0


async def _watch(state: Path, plane: DataPlane) -> None:
    """Every few seconds: the state directory still exists (else nobody can ever reach us:
    stop), and the log has not outgrown its limit (rotate it)."""
    while True:
        await asyncio.sleep(_WATCH_INTERVAL)
        if not dataplane_dir(state).is_dir():
            log.warning("state_dir_gone", state=os.fspath(state))
            plane.request_stop(0.0)
            return
        _rotate_log(state)


def _rotate_log(state: Path) -> None:
    path = log_path(state)
    try:
        if os.fstat(2).st_size < _LOG_LIMIT or os.stat(path).st_ino != os.fstat(2).st_ino:
            return
        os.replace(path, path.with_name(path.name + ".1"))
        _log_to(path)
    except OSError:
        pass


def _log_to(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _detach(state: Path) -> int | None:
    """Fork a data plane in its own session; the parent waits until it serves, says so, and
    exits (``reconciler run`` starts it this way). Returns the ready pipe in the child."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        chunks = []
        while chunk := os.read(read_end, 4096):
            chunks.append(chunk)
        answer = b"".join(chunks).decode(errors="replace").strip()
        if answer == "ok":
            print(f"data plane started (pid {pid})")
            os._exit(0)
        os.waitpid(pid, 0)
        print(
            answer or f"error: the data plane exited at start; see {log_path(state)}",
            file=sys.stderr,
        )
        os._exit(1)
    os.close(read_end)
    os.setsid()
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    _log_to(log_path(state))
    return write_end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reconciler.proxy.dataplane",
        description="Serve the Service listeners of a state directory (started by the daemon).",
    )
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--detach", action="store_true", help="run in the background")
    parser.add_argument(
        "--take-over",
        action="store_true",
        help="take the listening sockets of the data plane running there (an upgrade)",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    state = args.state_dir.absolute()
    try:
        dataplane_dir(state).mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot create {dataplane_dir(state)}: {exc.strerror}", file=sys.stderr)
        return 1
    ready = _detach(state) if args.detach else None
    configure(args.log_level, json=True)
    try:
        return asyncio.run(serve(state, take_over=args.take_over, ready=ready))
    except (ReconcilerError, ListenerError, OSError) as exc:
        message = str(exc) if isinstance(exc, ReconcilerError) else f"error: {exc}"
        log.error("dataplane_failed", error=message)
        if ready is not None:
            with contextlib.suppress(OSError):
                os.write(ready, message.encode())
        else:
            print(message, file=sys.stderr)
        return 1


# -- stopping it (``reconciler down``) --------------------------------------------------


def stop_dataplane(state: Path, *, drain: float = 10.0) -> bool:
    """Stop the data plane of ``state``: it stops accepting, lets open connections finish
    within ``drain`` seconds, and exits. True if one was running (it is gone now: one that does
    not answer is killed, verified by pid, start time and boot id), False if none was."""
    if not is_running(state):
        remove_stale_files(state)
        return False
    status = Status.load(state)
    try:
        _ask_to_stop(state, drain)
    except (OSError, ValueError) as exc:
        log.warning("dataplane_unresponsive", error=str(exc))
        if status is not None and status.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(status.pid, signal.SIGTERM)
    if not wait_stopped(state, drain + 5.0):
        if status is not None and status.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(status.pid, signal.SIGKILL)
        if not wait_stopped(state, 5.0):
            raise DataPlaneError(f"error: the data plane of {state} does not stop")
    remove_stale_files(state)
    return True


def _ask_to_stop(state: Path, drain: float) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5.0)
        with bindable(socket_path(state)) as address:
            sock.connect(address)
        hello = {"op": "hello", "id": 1, "protocol": HANDOVER_PROTOCOL, "role": "cli"}
        sock.sendall(encode(hello) + encode({"op": "stop", "id": 2, "drain": drain}))
        answers = b""
        while answers.count(b"\n") < 2:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the data plane closed the connection")
            answers += chunk


if __name__ == "__main__":
    sys.exit(main())
