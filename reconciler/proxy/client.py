"""The daemon's side of the data plane: a ``Proxy`` whose listeners live in another process.

``DataPlaneClient`` implements the ``Proxy`` Protocol for the daemon. Its synchronous methods
stay synchronous: ``set_backends`` writes one line to the control socket and returns (the
socket keeps changes in order; the daemon never waits on the data plane to change endpoints),
and ``connection_failures`` and ``stats`` read counters the data plane pushes every
``STATS_INTERVAL`` while they change. ``ensure_listener`` waits for the answer, because a port
that cannot be bound must be reported by the daemon.

The client keeps the whole desired configuration (specs and backends), so whenever it
(re)connects it can send it again as one sync (``session.py``): at start against a data plane
that outlived the previous daemon, and after a data plane that crashed was restarted.

At ``start``:

- a data plane of this state directory that runs and is verified (its lock is held, and the
  pid, start time and boot id in ``dataplane.json`` match what it says in ``hello``) of the
  same protocol and build is kept, with every listener open;
- one of another protocol or build is replaced by a successor that takes its sockets
  (``handover.py``): not one connection is refused. If that fails, it is stopped and a new one
  started, and the log says that Services were briefly unreachable;
- none (or only stale files of a dead one): a new one is started in its own session, so it
  outlives the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import reconciler
from reconciler.errors import NotFoundError
from reconciler.log import get_logger
from reconciler.proxy import BackendGroup, GroupStats, ListenerError, ListenerSpec, ListenerStats
from reconciler.proxy.channel import Channel
from reconciler.proxy.control import (
    PROTOCOL,
    Status,
    bindable,
    build_id,
    dataplane_dir,
    groups_from_wire,
    groups_to_wire,
    log_path,
    socket_path,
    spec_to_wire,
    stats_from_wire,
)
from reconciler.proxy.dataplane import (
    DataPlaneError,
    is_running,
    remove_stale_files,
    stop_dataplane,
    wait_stopped,
)

__all__ = ["DataPlaneClient"]

log = get_logger(component="dataplane_client")

_Key = tuple[str, str]
_REQUEST_TIMEOUT = 15.0
_BARRIER_TIMEOUT = 1.0  # longest a removal of endpoints blocks the daemon (then: logged)
_HELLO_TIMEOUT = 5.0  # a data plane that does not answer hello in this time is hung: replaced
_START_TIMEOUT = 30.0
_RECOVER_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)
_CRASH_WINDOW = 60.0  # seconds: more losses than _CRASHES_TOLERATED in it and restarts slow down
_CRASHES_TOLERATED = 5


class _Lost(Exception):
    """The connection to the data plane broke while a request was waiting."""


class DataPlaneClient:
    """``reconciler.proxy.Proxy`` for the daemon, backed by the state directory's data plane."""

    def __init__(self, state: Path, *, python: str = sys.executable) -> None:
        self.state = state
        self.python = python
        self.pid: int | None = None  # of the data plane we talk to
        self.inherited: dict[_Key, tuple[BackendGroup, ...]] = {}  # what it served at start
        self._specs: dict[_Key, ListenerSpec] = {}
        self._groups: dict[_Key, tuple[BackendGroup, ...]] = {}
        self._addresses: dict[_Key, tuple[str, int]] = {}
        self._stats: dict[_Key, ListenerStats] = {}
        self._channel: Channel | None = None
        self._unanswered = False  # a removal went unconfirmed: the data plane is slow
        self._recovering: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 0
        self._connected = asyncio.Event()
        self._syncing = False
        self._closing = False
        self._losses: list[float] = []  # loop times the data plane was lost

    # -- start: keep, replace or start the data plane ---------------------------------------

    async def start(self) -> None:
        """Connect to the state directory's data plane (starting or replacing it as needed) and
        open a sync: what it serves stays as it is until ``configured``."""
        try:
            dataplane_dir(self.state).mkdir(mode=0o700, parents=True, exist_ok=True)
            hello = await self._attach()
        except (OSError, _Lost, TimeoutError) as exc:
            await self._disconnect()
            reason = str(exc) or type(exc).__name__
            raise DataPlaneError(
                f"error: cannot start the data plane of {self.state}: {reason} "
                f"(see {log_path(self.state)})"
            ) from exc
        self.inherited = {
            (p["spec"]["service"], p["spec"]["port_name"]): groups_from_wire(p["groups"])
            for p in hello["ports"]
        }
        await self._request({"op": "sync", "phase": "begin"})
        self._syncing = True
        self._connected.set()

    async def _attach(self) -> dict[str, Any]:
        """Connect to a verified data plane of our build, replacing or starting one; returns
        its ``hello``."""
        if is_running(self.state):
            try:
                hello = await self._connect()
            except (OSError, _Lost, DataPlaneError) as exc:
                log.error("dataplane_unresponsive", error=str(exc), pid=self._recorded_pid())
                await self._kill_recorded()
            else:
                if hello["protocol"] == PROTOCOL and hello["build"] == build_id():
                    log.info("dataplane_adopted", pid=hello["pid"], listeners=len(hello["ports"]))
                    return hello
                log.warning(
                    "dataplane_upgrading",
                    pid=hello["pid"],
                    protocol=hello["protocol"],
                    build=hello["build"],
                    to_protocol=PROTOCOL,
                    to_build=build_id(),
                )
                await self._disconnect()
                try:
                    await self._launch(take_over=True)
                except DataPlaneError as exc:
                    log.error("dataplane_handover_failed", error=str(exc))
                    log.warning("dataplane_replaced_with_gap", why="the hand-over failed")
                    await asyncio.to_thread(stop_dataplane, self.state, drain=5.0)
                else:
                    hello = await self._connect()
                    log.info("dataplane_upgraded", pid=hello["pid"], build=hello["build"])
                    return hello
        else:
            stale = remove_stale_files(self.state)
            if stale:
                log.info("dataplane_stale_files_removed", files=stale)
        await self._launch(take_over=False)
        hello = await self._connect()
        log.info("dataplane_started", pid=hello["pid"])
        return hello

    def _recorded_pid(self) -> int | None:
        status = Status.load(self.state)
        return status.pid if status is not None else None

    async def _kill_recorded(self) -> None:
        """A data plane that holds the state but does not answer: kill it (verified)."""
        status = Status.load(self.state)
        if status is not None and status.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(status.pid, signal.SIGKILL)
        if not await asyncio.to_thread(wait_stopped, self.state, 5.0):
            raise DataPlaneError(
                f"error: a data plane holds {dataplane_dir(self.state)} and neither answers nor "
                f"stops (pid {status.pid if status else 'unknown'}); stop it by hand"
            )
        remove_stale_files(self.state)

    async def _launch(self, *, take_over: bool) -> None:
        args = [self.python, "-m", "reconciler.proxy.dataplane", "--state-dir"]
        args += [os.fspath(self.state), "--detach", *(["--take-over"] if take_over else [])]
        # The same code as this daemon: the package's own directory first on the path, and not
        # the working directory (``-m`` would put it first, and it may hold another checkout).
        here = os.fspath(Path(reconciler.__file__).parent.parent)
        path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
        proc = await asyncio.create_subprocess_exec(
            *args,
            cwd="/",
            env={**os.environ, "PYTHONPATH": path},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), _START_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise DataPlaneError(
                f"error: the data plane did not start within {_START_TIMEOUT:g}s; "
                f"see {log_path(self.state)}"
            ) from None
        if proc.returncode != 0:
            text = (err or out).decode(errors="replace").strip()
            raise DataPlaneError(text or f"error: the data plane failed to start ({args})")

    async def _connect(self) -> dict[str, Any]:
        """Open the control connection and say hello; verify whom we talk to."""
        with bindable(socket_path(self.state)) as address:
            self._channel = await Channel.connect(
                address, timeout=5.0, on_message=self._received, on_closed=self._closed
            )
        try:
            hello = await self._request(
                {"op": "hello", "protocol": PROTOCOL, "role": "daemon", "pid": os.getpid()},
                timeout=_HELLO_TIMEOUT,
            )
        except BaseException:
            await self._disconnect()  # so its end is not taken for a crash to recover from
            raise
        status = Status.load(self.state)
        if (
            status is None
            or not status.alive()
            or (status.pid, status.start_time) != (hello["pid"], hello["start_time"])
        ):
            await self._disconnect()
            raise DataPlaneError(
                f"error: the process answering {socket_path(self.state)} (pid {hello['pid']}) "
                "is not the one recorded in dataplane.json"
            )
        self.pid = int(hello["pid"])
        return hello

    async def _disconnect(self) -> None:
        self._connected.clear()
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close("disconnected")  # ours: ``_closed`` sees it is no longer current
        self._fail_waiting()

    # -- the connection ---------------------------------------------------------------------

    def _received(self, message: dict[str, Any]) -> None:
        self._unanswered = False
        future = self._waiting.pop(message.get("id", -1), None)
        if future is not None:
            if not future.done():
                future.set_result(message)
        elif message.get("event") == "stats":
            try:
                ports = [stats_from_wire(p) for p in message["ports"]]
            except (KeyError, ValueError, TypeError) as exc:
                log.warning("dataplane_bad_stats", error=repr(exc))
                return
            self._stats = {(s.service, s.port_name): s for s in ports}

    def _closed(self, channel: Channel, why: str) -> None:
        if channel is not self._channel:
            return  # a disconnect of our own
        log.warning("dataplane_connection_closed", why=why)
        self._channel = None
        self._connected.clear()
        self._fail_waiting()
        running = self._recovering is not None and not self._recovering.done()
        if not self._closing and not running:  # a running recovery tries again itself
            self._recovering = asyncio.get_running_loop().create_task(self._recover())

    def _fail_waiting(self) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(_Lost("the connection to the data plane broke"))
        self._waiting.clear()

    def _send(self, message: dict[str, Any]) -> None:
        if self._channel is not None:
            self._channel.send(message)

    async def _request(
        self, message: dict[str, Any], *, timeout: float = _REQUEST_TIMEOUT
    ) -> dict[str, Any]:
        if self._channel is None:
            raise _Lost("not connected to the data plane")
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next_id] = future
        self._send({**message, "id": self._next_id})
        return await asyncio.wait_for(future, timeout)

    def _barrier(self, message: dict[str, Any]) -> None:
        """Send and wait (blocking, bounded) until the data plane has carried it out."""
        channel = self._channel
        if channel is None:
            return
        if self._unanswered:  # it did not answer the last one: do not stall the daemon again
            channel.send(message)
            return
        self._next_id += 1
        if channel.barrier({**message, "id": self._next_id}, timeout=_BARRIER_TIMEOUT):
            return
        if not channel.closed:
            self._unanswered = True  # until the data plane says anything again
            log.warning("dataplane_slow", waited=_BARRIER_TIMEOUT, op=message["op"])

    async def _recover(self) -> None:
        """The data plane went away (it crashed, or was killed): start it again and send it
        the whole configuration. Services were unreachable in between; the log says so."""
        lost = self.pid
        log.error("dataplane_lost", pid=lost, running=is_running(self.state))
        now = asyncio.get_running_loop().time()
        self._losses = [t for t in self._losses if now - t < _CRASH_WINDOW] + [now]
        delays = _RECOVER_DELAYS if len(self._losses) <= _CRASHES_TOLERATED else ()
        if not delays:
            log.error("dataplane_crash_looping", losses=len(self._losses), window=_CRASH_WINDOW)
        for attempt, delay in enumerate((*delays, *[10.0] * 100_000)):
            await asyncio.sleep(delay)
            try:
                await self._attach()
                await self._resend()
            except (OSError, _Lost, DataPlaneError, TimeoutError) as exc:
                log.error("dataplane_restart_failed", attempt=attempt + 1, error=str(exc))
                await self._disconnect()
                continue
            self._connected.set()  # only now: a listener ensured meanwhile is in the sync
            log.warning("dataplane_restarted", pid=self.pid, previous_pid=lost)
            return

    async def _resend(self) -> None:
        await self._request({"op": "sync", "phase": "begin"})
        for key, spec in list(self._specs.items()):
            answer = await self._request({"op": "ensure", "spec": spec_to_wire(spec)})
            if not answer["ok"]:
                log.warning("listen_failed", service=key[0], port=spec.port, error=answer["error"])
            else:
                self._addresses[key] = (answer["address"][0], int(answer["address"][1]))
        for key, groups in self._groups.items():
            self._send_backends(key, groups)
        if not self._syncing:
            await self._request({"op": "sync", "phase": "end"})

    async def _connection(self) -> None:
        """Wait (bounded) for a connection: the data plane may be being restarted."""
        if self._closing:
            raise ListenerError("the daemon is stopping")
        try:
            await asyncio.wait_for(self._connected.wait(), _START_TIMEOUT)
        except TimeoutError:
            raise ListenerError(
                f"the data plane is not running (see {log_path(self.state)})"
            ) from None

    # -- the Proxy Protocol -----------------------------------------------------------------

    async def ensure_listener(self, spec: ListenerSpec) -> None:
        key = (spec.service, spec.port_name)
        for _ in range(2):
            await self._connection()
            try:
                answer = await self._request({"op": "ensure", "spec": spec_to_wire(spec)})
            except _Lost:
                continue  # the recovery re-sends the configuration: ask again once it has
            if not answer["ok"]:
                raise ListenerError(str(answer["error"]))
            self._specs[key] = spec
            self._addresses[key] = (str(answer["address"][0]), int(answer["address"][1]))
            return
        raise ListenerError(f"service {spec.service}: the data plane went away twice")

    async def remove_listener(self, service: str, port_name: str) -> None:
        key = (service, port_name)
        self._specs.pop(key, None)
        self._groups.pop(key, None)
        self._addresses.pop(key, None)
        self._stats.pop(key, None)
        if self._channel is not None:
            with contextlib.suppress(_Lost, TimeoutError):
                await self._request({"op": "remove", "service": service, "port_name": port_name})

    def set_backends(self, service: str, port_name: str, groups: tuple[BackendGroup, ...]) -> None:
        """Unchanged: nothing is sent. An endpoint removed (a pod leaving, about to be
        signalled) or a new split (a canary step, a blue/green switch): returns once the data
        plane has applied it, as in process. A pod only added (it became Ready): written."""
        key = (service, port_name)
        before = self.backends(service, port_name)
        if key in self._groups and groups == before:
            return
        self._groups[key] = groups
        kept = {e for g in groups for e in g.endpoints}
        split = bool(before) and [(g.name, g.weight, g.match) for g in before] != [
            (g.name, g.weight, g.match) for g in groups
        ]
        removed = any(e not in kept for g in before for e in g.endpoints)
        self._send_backends(key, groups, confirm=split or removed)

    def _send_backends(
        self, key: _Key, groups: tuple[BackendGroup, ...], *, confirm: bool = False
    ) -> None:
        message = {
            "op": "backends",
            "service": key[0],
            "port_name": key[1],
            "groups": groups_to_wire(groups),
        }
        if confirm:
            self._barrier(message)
        else:
            self._send(message)

    def backends(self, service: str, port_name: str) -> tuple[BackendGroup, ...]:
        key = (service, port_name)
        return self._groups[key] if key in self._groups else self.inherited.get(key, ())

    def connection_failures(self, service: str, group: str) -> int:
        return sum(
            g.failed
            for (name, _), stats in self._stats.items()
            if name == service
            for g in stats.groups
            if g.name == group
        )

    def stats(self, service: str, port_name: str) -> ListenerStats:
        """The counters last pushed by the data plane (at most ``STATS_INTERVAL`` old)."""
        key = (service, port_name)
        if key not in self._specs:
            raise NotFoundError(f"service {service} has no listener for port {port_name}")
        found = self._stats.get(key)
        if found is not None:
            return found
        names = tuple(GroupStats(g.name) for g in self._groups.get(key, ()))
        return ListenerStats(service, port_name, groups=names)

    def address(self, service: str, port_name: str) -> tuple[str, int]:
        found = self._addresses.get((service, port_name))
        if found is None:
            raise NotFoundError(f"service {service} has no listener for port {port_name}")
        return found

    def listeners(self) -> list[ListenerSpec]:
        return sorted(self._specs.values(), key=lambda s: (s.service, s.port_name))

    async def configured(self) -> None:
        """End the start-up sync: the data plane switches to our backends in one step."""
        if not self._syncing:
            return
        self._syncing = False
        if self._channel is not None:
            with contextlib.suppress(_Lost, TimeoutError):
                await self._request({"op": "sync", "phase": "end"})

    async def close(self) -> None:
        """Disconnect; the data plane keeps serving (``stop_dataplane`` stops it)."""
        self._closing = True
        if self._recovering is not None:
            self._recovering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovering
        if self._channel is not None:
            self._channel.flush(timeout=1.0)
        await self._disconnect()
