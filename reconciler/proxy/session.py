"""What the data plane does with its control messages: reconcile its listeners to the daemon's.

A daemon that connects to a data plane which outlived its predecessor does not know, at
first, everything it will want: its pods are being adopted, its Services read from the store.
So a configuration from scratch is a *sync*, a transaction:

- ``sync begin``: the data plane notes the ports that listen now;
- ``ensure`` of a port that already listens on the same address and port changes nothing on
  the socket (no connection is refused); a new port binds at once, a changed one re-binds;
- ``backends`` of a port that listened before the sync are staged, not applied: the port keeps
  serving its last backends (and so the previous daemon's pods) meanwhile;
- ``sync end``: every staged backend list is applied in one step, and the ports that listened
  before but were not ensured in the sync stop listening.

A daemon that disconnects in the middle of a sync (it was killed) leaves the configuration as
it was before the sync: the staged backends are dropped. Outside a sync every change applies
at once, as in process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.log import get_logger
from reconciler.proxy import BackendGroup, ListenerError
from reconciler.proxy.control import (
    HANDOVER_PROTOCOL,
    PROTOCOL,
    LineReader,
    Status,
    build_id,
    encode,
    groups_from_wire,
    groups_to_wire,
    send_with_fds,
    socket_path,
    spec_from_wire,
    spec_to_wire,
    stats_to_wire,
    status_path,
)
from reconciler.proxy.handover import HandoverProxy

if TYPE_CHECKING:
    from reconciler.proxy.handover import Predecessor, Taken

log = get_logger(component="dataplane")

STATS_INTERVAL = 0.2  # seconds between counter pushes to the daemon (only when they changed)
_HANDOVER_TIMEOUT = 15.0
_PUSH_BACKLOG = 1 << 20  # bytes unread by the daemon before counter pushes pause

_Key = tuple[str, str]


class BadRequest(Exception):
    """A control message the data plane cannot carry out (answered with ``ok: false``)."""


@dataclass(slots=True)
class Session:
    """One control connection; ``role`` is what its ``hello`` said (``daemon``, ``cli``...)."""

    writer: asyncio.StreamWriter | None
    role: str = ""

    def send(self, message: dict[str, Any]) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(encode(message))

    def backlogged(self) -> bool:
        """The peer has not read what it was sent (a stuck daemon): stop pushing to it."""
        writer = self.writer
        return writer is not None and writer.transport.get_write_buffer_size() > _PUSH_BACKLOG


@dataclass(slots=True)
class _Sync:
    before: set[_Key]
    ensured: set[_Key] = field(default_factory=set)
    staged: dict[_Key, tuple[BackendGroup, ...]] = field(default_factory=dict)


class DataPlane:
    """The proxy, its control socket, and the rules above."""

    def __init__(
        self, state: Path, proxy: HandoverProxy, *, lock_fd: int, control: socket.socket | None
    ) -> None:
        self.state = state
        self.proxy = proxy
        self.predecessor: Predecessor | None = None
        self._lock_fd = lock_fd
        self._control = control
        self._control_inode = _inode(state) if control is not None else None
        self._owner: Session | None = None
        self._sync: _Sync | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._accepting: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._handed_over = False
        self._done = asyncio.Event()
        self._last_stats: list[dict[str, Any]] | None = None

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._accept()
        self._spawn(self._push_stats())

    async def finished(self) -> None:
        await self._done.wait()

    def request_stop(self, drain: float) -> None:
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(self._stop(drain))

    async def adopt(self, taken: Taken) -> None:
        """Serve what a predecessor handed over: its sockets, backends and counters."""
        for port in taken.ports:
            key = (port.spec.service, port.spec.port_name)
            self.proxy.set_backends(*key, port.groups)
            await self.proxy.adopt_listener(port.spec, port.sockets)
            self.proxy.restore_counters(port.stats)
        self.predecessor = taken.predecessor
        self._control_inode = _inode(self.state)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _accept(self) -> None:
        assert self._control is not None
        self._control.setblocking(False)
        self._accepting = asyncio.get_running_loop().create_task(self._accept_loop(self._control))

    async def _accept_loop(self, control: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(control)
            except OSError as exc:
                log.error("control_accept_failed", error=str(exc))
                await asyncio.sleep(0.5)
                continue
            self._spawn(self._session(conn))

    async def _stop(self, drain: float) -> None:
        """Stop accepting (control and Services), drain open connections, release the state."""
        log.info("dataplane_stopping", drain=drain, handed_over=self._handed_over)
        if self._accepting is not None:
            self._accepting.cancel()
        if self._control is not None:
            self._control.close()
            if not self._handed_over and _inode(self.state) == self._control_inode:
                with contextlib.suppress(FileNotFoundError):
                    socket_path(self.state).unlink()
        for spec in self.proxy.listeners():
            await self.proxy.remove_listener(spec.service, spec.port_name)
        deadline = time.monotonic() + drain
        while self.proxy.open_connections() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        cut = self.proxy.open_connections()
        await self.proxy.close()
        if not self._handed_over:
            status = Status.load(self.state)
            if status is not None and status.pid == os.getpid():
                with contextlib.suppress(FileNotFoundError):
                    status_path(self.state).unlink()
        os.close(self._lock_fd)  # last: a new data plane may start from here on
        log.info("dataplane_stopped", connections_cut=cut)
        self._done.set()

    # -- sessions -------------------------------------------------------------------------

    async def _session(self, conn: socket.socket) -> None:
        reader, writer = await asyncio.open_unix_connection(sock=conn)
        session = Session(writer)
        lines = LineReader()
        try:
            while data := await reader.read(65536):
                for message in lines.feed(data):
                    if message.get("op") == "handover":
                        await self._give(session, reader, conn, message)
                        return
                    self._answer(session, message, await self._handle(session, message))
        except (ValueError, ConnectionError) as exc:
            log.warning("control_session_failed", role=session.role, error=str(exc))
        finally:
            self.forget(session)
            writer.close()

    def forget(self, session: Session) -> None:
        """A control connection ended. If it was the daemon's in the middle of a sync (the
        daemon was killed), the sync is dropped: what was served before it stays."""
        if self._owner is session:
            self._owner = None
            if self._sync is not None:
                log.warning("sync_abandoned", staged=len(self._sync.staged))
                self._sync = None

    @staticmethod
    def _answer(session: Session, message: dict[str, Any], outcome: Any) -> None:
        if "id" not in message:
            return
        if isinstance(outcome, BadRequest):
            session.send({"id": message["id"], "ok": False, "error": str(outcome)})
        else:
            session.send({"id": message["id"], "ok": True, **(outcome or {})})

    async def _handle(self, session: Session, message: dict[str, Any]) -> Any:
        try:
            return await self.handle(session, message)
        except BadRequest as exc:
            return exc
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("bad_control_message", op=message.get("op"), error=repr(exc))
            return BadRequest(f"bad {message.get('op')!r} message: {exc!r}")

    async def handle(self, session: Session, message: dict[str, Any]) -> dict[str, Any] | None:
        """Carry out one control message; the answer's fields (None: nothing to say)."""
        op = message.get("op")
        if op == "hello":
            return self._hello(session, message)
        if op == "sync":
            await self._sync_phase(str(message["phase"]))
            return None
        if op == "ensure":
            spec = spec_from_wire(message["spec"])
            try:
                await self.proxy.ensure_listener(spec)
            except ListenerError as exc:
                raise BadRequest(str(exc)) from None
            if self._sync is not None:
                self._sync.ensured.add((spec.service, spec.port_name))
            return {"address": list(self.proxy.address(spec.service, spec.port_name))}
        if op == "remove":
            key = (str(message["service"]), str(message["port_name"]))
            await self.proxy.remove_listener(*key)
            if self._sync is not None:
                self._sync.staged.pop(key, None)
            return None
        if op == "backends":
            key = (str(message["service"]), str(message["port_name"]))
            groups = groups_from_wire(message["groups"])
            if self._sync is not None and key in self._sync.before:
                self._sync.staged[key] = groups
            else:
                self.proxy.set_backends(*key, groups)
            return None
        if op == "stats":
            return {"ports": self._stats()}
        if op == "stop":
            self.request_stop(float(message.get("drain", 10.0)))
            return None
        raise BadRequest(f"unknown op {op!r}")

    def _hello(self, session: Session, message: dict[str, Any]) -> dict[str, Any]:
        session.role = str(message.get("role", ""))
        if session.role == "daemon":
            if self._owner is not None and self._owner is not session:
                log.warning("daemon_session_replaced")
                if self._owner.writer is not None:
                    self._owner.writer.close()
                self._sync = None
            self._owner = session
            self._last_stats = None  # the new daemon gets the counters at once
        status = Status.mine()
        return {
            "protocol": PROTOCOL,
            "handover_protocol": HANDOVER_PROTOCOL,
            "build": build_id(),
            "pid": status.pid,
            "start_time": status.start_time,
            "ports": self._ports(),
        }

    async def _sync_phase(self, phase: str) -> None:
        if phase == "begin":
            listening = {(s.service, s.port_name) for s in self.proxy.listeners()}
            self._sync = _Sync(before=listening)
            return
        if phase != "end":
            raise BadRequest(f"unknown sync phase {phase!r}")
        sync, self._sync = self._sync, None
        if sync is None:
            return
        for key, groups in sync.staged.items():
            self.proxy.set_backends(*key, groups)
        dropped = []
        for spec in self.proxy.listeners():
            key = (spec.service, spec.port_name)
            if key in sync.before and key not in sync.ensured:
                await self.proxy.remove_listener(*key)
                dropped.append(f"{spec.service}:{spec.port_name}")
        log.info("sync_finished", applied=len(sync.staged), dropped=dropped)

    def _ports(self) -> list[dict[str, Any]]:
        return [
            {
                "spec": spec_to_wire(spec),
                "address": list(self.proxy.address(spec.service, spec.port_name)),
                "groups": groups_to_wire(self.proxy.backends(spec.service, spec.port_name)),
            }
            for spec in self.proxy.listeners()
        ]

    def _stats(self) -> list[dict[str, Any]]:
        return [
            stats_to_wire(self.proxy.stats(spec.service, spec.port_name))
            for spec in self.proxy.listeners()
        ]

    async def _push_stats(self) -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL)
            if self._owner is None or self._owner.backlogged():
                continue
            snapshot = self._stats()
            if snapshot != self._last_stats:
                self._last_stats = snapshot
                self._owner.send({"event": "stats", "ports": snapshot})

    # -- handing the sockets to a successor -------------------------------------------------

    async def _give(
        self,
        session: Session,
        reader: asyncio.StreamReader,
        conn: socket.socket,
        message: dict[str, Any],
    ) -> None:
        """Send the lock, control and listening sockets (SCM_RIGHTS) to a successor data plane;
        keep accepting until it says ``taken``, then stop accepting and drain. If it fails or
        goes away first, carry on as before."""
        if self._stopping is not None or self._control is None or self._accepting is None:
            self._answer(session, message, BadRequest("the data plane is stopping"))
            return
        self._accepting.cancel()  # control connections wait in the backlog for the successor
        fds = [self._lock_fd, self._control.fileno()]
        ports = []
        for spec in self.proxy.listeners():
            key = (spec.service, spec.port_name)
            sockets = self.proxy.listening_sockets(*key)
            ports.append(
                {
                    "spec": spec_to_wire(spec),
                    "groups": groups_to_wire(self.proxy.backends(*key)),
                    "stats": stats_to_wire(self.proxy.stats(*key)),
                    "fds": list(range(len(fds), len(fds) + len(sockets))),
                }
            )
            fds.extend(s.fileno() for s in sockets)
        header = {"id": message.get("id"), "ok": True, "pid": os.getpid(), "ports": ports}
        try:
            with socket.socket(fileno=os.dup(conn.fileno())) as raw:
                raw.setblocking(True)
                raw.settimeout(5.0)
                send_with_fds(raw, header, fds)
            line = await asyncio.wait_for(reader.readline(), _HANDOVER_TIMEOUT)
            taken = bool(line) and json.loads(line).get("op") == "taken"
        except (OSError, ValueError, TimeoutError) as exc:
            log.warning("handover_failed", error=str(exc) or type(exc).__name__)
            taken = False
        if not taken:
            log.warning("handover_abandoned", reason="the successor did not take the sockets")
            self._accept()
            return
        self._handed_over = True
        for spec in self.proxy.listeners():  # our copies only: the successor accepts on them
            await self.proxy.remove_listener(spec.service, spec.port_name)
        log.info("handed_over", ports=len(ports))
        self.request_stop(float(message.get("drain", 30.0)))


def _inode(state: Path) -> int | None:
    try:
        return os.stat(socket_path(state)).st_ino
    except OSError:
        return None
