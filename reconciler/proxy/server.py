"""Services as real TCP listeners: accept, pick an endpoint, relay bytes both ways.

Each Service port is a listening socket watched with ``loop.add_reader``. Every connection is
handled by plain callbacks on non-blocking sockets, without a task, a future or a transport:

- accept, pick an endpoint, ``connect_ex`` to it. On loopback the handshake has finished (or
  been refused) by the time ``connect`` returns, so the relay starts in the same callback; only
  a connect still in progress waits for writability (``loop.add_writer``) with a timer.
- relay: when a socket is readable, ``recv_into`` one shared buffer and ``send`` to the other
  socket at once. What the other side cannot take yet is kept and the reading side is paused
  (no reader) until it drains: flow control. An EOF is passed on with ``shutdown(SHUT_WR)``
  (half-close) and both sockets close once both directions have ended.

Why not asyncio's own servers and transports: ``create_server`` runs a task per accepted
connection and ``create_connection`` a task, futures and a timeout scope per connect, about
90 µs of Python per proxied connection, which held a new-connection-per-request load to a third
of direct throughput. These callbacks cost about 22 µs, and the proxy now matches HAProxy's
throughput; ``bench/README.md`` has the figures, old and new.

A port whose spec says ``protocol: http`` (``appProtocol: http``) hands every accepted
connection to ``http.HttpConnection`` instead, which routes request by request; everything
else on this page is the TCP path, which an http port does not touch.

Why the details matter to users:

- ``set_backends`` swaps one ``Balancer`` (a single assignment), so a connection sees either the
  old endpoints or the new ones. A removed endpoint gets no new connections, but connections
  already open to it are left alone: the runtime stops the pod only after its grace period, and
  that is what makes a rollout drop nothing.
- A failed connect to an endpoint (refused, timed out) happens before any client byte was read,
  so it is retried on another endpoint and counted against the endpoint's group; canary analysis
  reads those counts through ``connection_failures``.
- A Service with no endpoint accepts and resets at once (``SO_LINGER`` 0): a client sees
  "connection reset" immediately instead of hanging until its own timeout.
- A side that fails (reset) ends the connection: what was already read from it is still
  delivered to the other side, then that side is closed too.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import time
from collections.abc import Callable

import structlog

from reconciler.errors import NotFoundError
from reconciler.proxy import (
    BackendGroup,
    ListenerError,
    ListenerSpec,
    ListenerStats,
)
from reconciler.proxy.balancer import Balancer, Pick
from reconciler.proxy.http import HttpConnection, drain_removed
from reconciler.proxy.httpwire import compile_routes
from reconciler.proxy.ports import _Counters, _Listener, _Port
from reconciler.proxy.splice import _family, _is_connected, _reset, _Splice

__all__ = ["MAX_CONNECT_ATTEMPTS", "TcpProxy"]

MAX_CONNECT_ATTEMPTS = 3  # endpoints tried for one connection before it is reset
_BACKLOG = 1024
_ACCEPT_BATCH = 128  # connections accepted per readiness event, so relays are not starved
_READ_SIZE = 256 * 1024  # as asyncio's transports
_ACCEPT_PAUSE = 1.0  # seconds without accepting after running out of file descriptors
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_CONNECTING = {0, errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY}
# A non-blocking socket in one system call where the platform allows it (Linux).
_NONBLOCKING_STREAM = socket.SOCK_STREAM | getattr(socket, "SOCK_NONBLOCK", 0)

# Lazy (not ``reconciler.log.get_logger``, which binds at once): this module is imported before
# the daemon configures logging, and the configuration must still apply.
_log = structlog.get_logger(component="proxy")

_Key = tuple[str, str]  # (service, port name)


class TcpProxy:
    """``reconciler.proxy.Proxy`` on real sockets: one listener per Service port."""

    def __init__(
        self, *, connect_timeout: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._connect_timeout = connect_timeout
        self._clock = clock
        self._ports: dict[_Key, _Port] = {}
        self._connections: set[_Splice] = set()  # relaying
        self._connecting: set[_Splice] = set()  # waiting for a backend's handshake
        self._resolving: set[asyncio.Task[None]] = set()  # endpoints given by host name
        self._http: set[HttpConnection] = set()  # client connections of http listeners
        self._buffer = memoryview(bytearray(_READ_SIZE))  # every read lands here, then is sent
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- listeners ------------------------------------------------------------------------

    async def ensure_listener(self, spec: ListenerSpec) -> None:
        """Listen for ``spec``; idempotent. A changed bind address or port re-binds.

        Raises ``ListenerError`` when the address cannot be bound (e.g. the port is taken); the
        previous listener of this Service port, if any, then keeps listening.
        """
        key = (spec.service, spec.port_name)
        port = self._ports.get(key)
        if port is None:
            port = self._ports[key] = _Port(spec.service, spec.port_name, Balancer())
        old = port.spec
        if port.listener is None or old is None or (old.bind, old.port) != (spec.bind, spec.port):
            await self._bind(port, spec)
        if old is None or old.affinity_timeout != spec.affinity_timeout:
            port.balancer = Balancer(
                port.balancer.groups,
                affinity_timeout=spec.affinity_timeout,
                previous=port.balancer,
            )
        port.spec = spec
        port.http = spec.protocol == "http"

    async def _bind(self, port: _Port, spec: ListenerSpec) -> None:
        old_listener = port.listener
        if old_listener is None:
            port.listener = await self._listen(port, spec.bind, spec.port)
        else:
            old_bind, old_number = old_listener.address
            if spec.port in (0, old_number):
                # Same port number: the old socket must go first (127.0.0.1:80 and 0.0.0.0:80
                # cannot both be bound), and comes back if the new address cannot be bound.
                old_listener.close()
                try:
                    port.listener = await self._listen(port, spec.bind, spec.port)
                except ListenerError:
                    port.listener = await self._listen(port, old_bind, old_number)
                    raise
            else:
                # A new port: bind it before letting go of the old one, so a failure changes
                # nothing.
                port.listener = await self._listen(port, spec.bind, spec.port)
                old_listener.close()
        host, number = port.listener.address
        _log.info(
            "listener_started",
            service=spec.service,
            port_name=spec.port_name,
            address=host,
            port=number,
        )

    async def _listen(self, port: _Port, bind: str, number: int) -> _Listener:
        """Bind every address ``bind`` resolves to (as ``loop.create_server`` would)."""
        loop = self._loop = asyncio.get_running_loop()
        sockets: list[socket.socket] = []
        try:
            infos = await loop.getaddrinfo(
                bind or None, number, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            for family, kind, proto, _, address in dict.fromkeys(infos):
                sock = socket.socket(family, kind, proto)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(_BACKLOG)
                sock.setblocking(False)
        except OSError as exc:
            for sock in sockets:
                sock.close()
            reason = exc.strerror or str(exc)
            raise ListenerError(
                f"service {port.service} port {port.port_name}: "
                f"cannot listen on {bind}:{number}: {reason}"
            ) from exc
        for sock in sockets:
            loop.add_reader(sock.fileno(), self._accept, port, sock)
        return _Listener(loop, sockets)

    async def remove_listener(self, service: str, port_name: str) -> None:
        """Stop listening and forget the port's backends; open connections finish on their own."""
        port = self._ports.pop((service, port_name), None)
        if port is not None:
            for idle in [u for ups in port.pool.values() for u in ups]:
                idle.close()
        if port is not None and port.listener is not None:
            port.listener.close()
            port.listener = None  # its http connections' upstreams close instead of pooling
            _log.info("listener_stopped", service=service, port_name=port_name)

    def backends(self, service: str, port_name: str) -> tuple[BackendGroup, ...]:
        """The port's current backend groups (empty for a port never given any)."""
        port = self._ports.get((service, port_name))
        return port.balancer.groups if port is not None else ()

    def open_connections(self) -> int:
        """Connections relaying or connecting to a backend right now (a drain waits for 0)."""
        return (
            len(self._connections)
            + len(self._connecting)
            + len(self._resolving)
            + sum(1 for c in self._http if c.busy())
        )

    def listeners(self) -> list[ListenerSpec]:
        """The specs of the ports that are listening, sorted by service and port name."""
        return sorted(
            (p.spec for p in self._ports.values() if p.spec is not None and p.listener),
            key=lambda s: (s.service, s.port_name),
        )

    def address(self, service: str, port_name: str) -> tuple[str, int]:
        """Where a listener is bound (the real port when the spec asked for port 0)."""
        port = self._ports.get((service, port_name))
        if port is None or port.listener is None:
            raise NotFoundError(f"service {service} has no listener for port {port_name}")
        return port.listener.address

    # -- backends and counters ----------------------------------------------------------

    def set_backends(self, service: str, port_name: str, groups: tuple[BackendGroup, ...]) -> None:
        """Replace the port's backends in one assignment (may come before ``ensure_listener``)."""
        key = (service, port_name)
        port = self._ports.get(key)
        if port is None:
            port = self._ports[key] = _Port(service, port_name, Balancer())
        timeout = port.spec.affinity_timeout if port.spec is not None else None
        port.balancer = Balancer(groups, affinity_timeout=timeout, previous=port.balancer)
        port.routes = compile_routes(groups)
        if port.pool or self._http:
            drain_removed(self, port)

    def connection_failures(self, service: str, group: str) -> int:
        """Failed connects to ``group``'s endpoints, over all ports of ``service``."""
        return sum(
            p.counters[group].failed
            for p in self._ports.values()
            if p.service == service and group in p.counters
        )

    def stats(self, service: str, port_name: str) -> ListenerStats:
        """Connections total/active/failed per group (current groups first), and refusals."""
        port = self._ports.get((service, port_name))
        if port is None:
            raise NotFoundError(f"service {service} has no listener for port {port_name}")
        names = [g.name for g in port.balancer.groups]
        names += [n for n in port.counters if n not in names]
        groups = [port.counters.get(name, _Counters()).stats(name) for name in names]
        return ListenerStats(service, port_name, groups=tuple(groups), refused=port.refused)

    async def configured(self) -> None:
        """In process every change applies at once: there is no earlier configuration to keep."""

    async def close(self) -> None:
        """Stop every listener and cut every connection (the daemon is shutting down)."""
        for connection in list(self._http):
            connection.close()  # first: a parked upstream connection goes to the pool
        for port in self._ports.values():
            if port.listener is not None:
                port.listener.close()
            for idle in [u for ups in port.pool.values() for u in ups]:
                idle.close()
        self._ports.clear()
        for task in list(self._resolving):
            task.cancel()
        if self._resolving:
            await asyncio.gather(*self._resolving, return_exceptions=True)
        for splice in list(self._connecting):
            splice.abort()
        for splice in list(self._connections):
            splice.abort()

    # -- accepting and connecting ---------------------------------------------------------

    def _accept(self, port: _Port, listening: socket.socket) -> None:
        """Readiness callback of a listening socket: take what is queued, a batch at a time."""
        for _ in range(_ACCEPT_BATCH):
            try:
                client, address = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client gave up while queued
            except OSError as exc:
                self._pause_accepting(port, listening, exc)
                return
            if port.http:
                client.setblocking(False)
                self._http.add(HttpConnection(self, port, client, str(address[0])))
                continue
            if not port.balancer.has_endpoints():
                port.refused += 1
                _reset(client)
                continue
            client.setblocking(False)
            splice = _Splice(self, port, client, str(address[0]))
            self._connect(splice)

    def _pause_accepting(self, port: _Port, listening: socket.socket, exc: OSError) -> None:
        """Out of file descriptors (or another accept error): stop accepting for a moment."""
        assert self._loop is not None
        _log.error(
            "accept_failed",
            service=port.service,
            port_name=port.port_name,
            error=str(exc),
            paused_seconds=_ACCEPT_PAUSE if exc.errno in _OUT_OF_RESOURCES else 0,
        )
        if exc.errno not in _OUT_OF_RESOURCES:
            return
        fd = listening.fileno()
        self._loop.remove_reader(fd)

        def resume() -> None:
            listener = port.listener
            if listener is not None and listening in listener.sockets and listening.fileno() >= 0:
                listener.loop.add_reader(fd, self._accept, port, listening)

        self._loop.call_later(_ACCEPT_PAUSE, resume)

    def _connect(self, splice: _Splice) -> None:
        """Connect ``splice`` to the next endpoint that takes it, or reset the client."""
        port = splice.port
        while len(splice.tried) < MAX_CONNECT_ATTEMPTS:
            pick = port.balancer.pick(
                now=self._clock(), client=splice.address, exclude=splice.tried
            )
            if pick is None:
                break
            host = pick.endpoint.host
            family = _family(host)
            if family is None:
                self._resolve_then_connect(splice, pick)
                return
            error = self._start_connect(splice, pick, family, (host, pick.endpoint.port))
            if error is None:
                return
            self._connect_failed(splice, pick, error)
        port.refused += 1
        _reset(splice.client)

    def _start_connect(
        self,
        splice: _Splice,
        pick: Pick,
        family: socket.AddressFamily,
        address: tuple[str, int],
    ) -> str | None:
        """Open a socket to ``address``; None if it connected or is connecting, else the error."""
        try:
            backend = socket.socket(family, _NONBLOCKING_STREAM)
        except OSError as exc:  # out of file descriptors: a failure like any other
            return str(exc)
        try:
            code = backend.connect_ex(address)
            connected = code == 0 or (code in _CONNECTING and _is_connected(backend))
            if not connected and code in _CONNECTING:
                code = backend.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except (OSError, OverflowError) as exc:
            backend.close()
            return str(exc) or type(exc).__name__
        if connected:
            self._relay(splice, pick, backend)
        elif code == 0:  # still connecting: wait for the handshake
            self._wait_for_connect(splice, pick, backend)
        else:
            backend.close()
            return f"[Errno {code}] {os.strerror(code)}"
        return None

    def _wait_for_connect(self, splice: _Splice, pick: Pick, backend: socket.socket) -> None:
        assert self._loop is not None
        splice.backend = backend
        splice.pick = pick
        self._connecting.add(splice)
        self._loop.add_writer(backend.fileno(), self._connect_ready, splice)
        splice.timer = self._loop.call_later(self._connect_timeout, self._connect_timed_out, splice)

    def _connect_ready(self, splice: _Splice) -> None:
        backend, pick = splice.stop_connecting()
        code = backend.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code == 0:
            self._relay(splice, pick, backend)
            return
        backend.close()
        self._connect_failed(splice, pick, f"[Errno {code}] {os.strerror(code)}")
        self._connect(splice)

    def _connect_timed_out(self, splice: _Splice) -> None:
        backend, pick = splice.stop_connecting()
        backend.close()
        self._connect_failed(splice, pick, f"timed out after {self._connect_timeout:g} s")
        self._connect(splice)

    def _resolve_then_connect(self, splice: _Splice, pick: Pick) -> None:
        """An endpoint given by host name (not an address): resolve it off the loop first."""
        assert self._loop is not None
        loop = self._loop

        async def resolve() -> None:
            endpoint = pick.endpoint
            try:
                infos = await loop.getaddrinfo(
                    endpoint.host, endpoint.port, type=socket.SOCK_STREAM
                )
            except asyncio.CancelledError:
                splice.client.close()
                raise
            except OSError as exc:
                self._connect_failed(splice, pick, str(exc))
                self._connect(splice)
                return
            error = f"{endpoint.host}: no address"
            for family, _, _, _, address in infos:  # in turn, as loop.create_connection does
                found = self._start_connect(splice, pick, family, (str(address[0]), endpoint.port))
                if found is None:
                    return
                error = found
            self._connect_failed(splice, pick, error)
            self._connect(splice)

        task = loop.create_task(resolve())
        self._resolving.add(task)
        task.add_done_callback(self._resolving.discard)

    def _connect_failed(self, splice: _Splice, pick: Pick, error: str) -> None:
        port = splice.port
        splice.tried.append(pick.endpoint)
        port.counter(pick.group).failed += 1
        _log.warning(
            "backend_connect_failed",
            service=port.service,
            port_name=port.port_name,
            group=pick.group,
            pod=pick.endpoint.pod,
            error=error,
        )

    def _relay(self, splice: _Splice, pick: Pick, backend: socket.socket) -> None:
        assert self._loop is not None
        counters = splice.port.counter(pick.group)
        counters.total += 1
        counters.active += 1
        splice.counters = counters
        self._connections.add(splice)
        splice.relay(self._loop, backend, self._buffer)

    def _finished(self, splice: _Splice) -> None:
        self._connections.discard(splice)
        if splice.counters is not None:
            splice.counters.active -= 1
            splice.counters = None
