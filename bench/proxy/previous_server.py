"""The previous ``TcpProxy`` (commit 6c3cb7c), kept only as the benchmark's "before" row.

It forwarded with asyncio's own ``create_server`` and ``create_connection``: a task per accepted
connection and a task, futures and a timeout scope per backend connect, ~90 µs of Python
(~160 µs of CPU with the kernel's share) per proxied connection. ``reconciler/proxy/server.py``
replaced it with plain callbacks on non-blocking sockets; ``bench_proxy.py`` runs both side by
side so the gain is measured under the same load. Its original docstring follows.

Services as real TCP listeners: accept, pick an endpoint, splice bytes both ways.

Each Service port is one asyncio listener. A connection is forwarded with two
``asyncio.Protocol`` objects wired to each other's transports (``data_received`` writes straight
into the other side), not with streams and copy tasks: that is the cheapest path asyncio has, and
the benchmark in ``bench/proxy`` measured it (see ``bench/README.md``). Flow control is the
transports' own (a full write buffer pauses reading on the other side), a half-close is passed
on with ``write_eof`` and the connection ends when both directions have ended.

Why the details matter to users:

- ``set_backends`` swaps one ``Balancer`` (a single assignment), so a connection sees either the
  old endpoints or the new ones. A removed endpoint gets no new connections, but connections
  already open to it are left alone: the runtime stops the pod only after its grace period, and
  that is what makes a rollout drop nothing.
- A failed connect to an endpoint (refused, timed out) happens before any client byte was sent,
  so it is retried on another endpoint and counted against the endpoint's group; canary analysis
  reads those counts through ``connection_failures``.
- A Service with no endpoint accepts and resets at once (``SO_LINGER`` 0): a client sees
  "connection reset" immediately instead of hanging until its own timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import structlog

from reconciler.errors import NotFoundError
from reconciler.proxy import (
    BackendGroup,
    Endpoint,
    GroupStats,
    ListenerError,
    ListenerSpec,
    ListenerStats,
)
from reconciler.proxy.balancer import Balancer

__all__ = ["MAX_CONNECT_ATTEMPTS", "TcpProxy"]

MAX_CONNECT_ATTEMPTS = 3  # endpoints tried for one connection before it is reset
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST

# Lazy (not ``reconciler.log.get_logger``, which binds at once): this module is imported before
# the daemon configures logging, and the configuration must still apply.
_log = structlog.get_logger(component="proxy")

_Key = tuple[str, str]  # (service, port name)


@dataclass(slots=True)
class _Counters:
    total: int = 0
    active: int = 0
    failed: int = 0


@dataclass(slots=True)
class _Port:
    """Everything about one Service port: its listener (if any), backends and counters."""

    service: str
    port_name: str
    balancer: Balancer
    spec: ListenerSpec | None = None
    server: asyncio.Server | None = None
    counters: dict[str, _Counters] = field(default_factory=dict)
    refused: int = 0

    def counter(self, group: str) -> _Counters:
        counters = self.counters.get(group)
        if counters is None:
            counters = self.counters[group] = _Counters()
        return counters


class TcpProxy:
    """``reconciler.proxy.Proxy`` on real sockets: one asyncio listener per Service port."""

    def __init__(
        self, *, connect_timeout: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._connect_timeout = connect_timeout
        self._clock = clock
        self._ports: dict[_Key, _Port] = {}
        self._connections: set[_Connection] = set()
        self._connecting: set[asyncio.Task[None]] = set()

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
        if port.server is None or old is None or (old.bind, old.port) != (spec.bind, spec.port):
            await self._bind(port, spec)
        if old is None or old.affinity_timeout != spec.affinity_timeout:
            port.balancer = Balancer(
                port.balancer.groups,
                affinity_timeout=spec.affinity_timeout,
                previous=port.balancer,
            )
        port.spec = spec

    async def _bind(self, port: _Port, spec: ListenerSpec) -> None:
        old_server = port.server
        if old_server is None:
            port.server = await self._listen(port, spec.bind, spec.port)
        else:
            old_bind, old_number = self._address(old_server)
            if spec.port in (0, old_number):
                # Same port number: the old socket must go first (127.0.0.1:80 and 0.0.0.0:80
                # cannot both be bound), and comes back if the new address cannot be bound.
                old_server.close()
                try:
                    port.server = await self._listen(port, spec.bind, spec.port)
                except ListenerError:
                    port.server = await self._listen(port, old_bind, old_number)
                    raise
            else:
                # A new port: bind it before letting go of the old one, so a failure changes
                # nothing.
                port.server = await self._listen(port, spec.bind, spec.port)
                old_server.close()
        host, number = self._address(port.server)
        _log.info(
            "listener_started",
            service=spec.service,
            port_name=spec.port_name,
            address=host,
            port=number,
        )

    async def _listen(self, port: _Port, bind: str, number: int) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        try:
            return await loop.create_server(
                lambda: _ClientSide(self, port),
                host=bind,
                port=number,
                backlog=1024,
                reuse_address=True,
            )
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ListenerError(
                f"service {port.service} port {port.port_name}: "
                f"cannot listen on {bind}:{number}: {reason}"
            ) from exc

    async def remove_listener(self, service: str, port_name: str) -> None:
        """Stop listening and forget the port's backends; open connections finish on their own."""
        port = self._ports.pop((service, port_name), None)
        if port is not None and port.server is not None:
            port.server.close()
            _log.info("listener_stopped", service=service, port_name=port_name)

    def listeners(self) -> list[ListenerSpec]:
        """The specs of the ports that are listening, sorted by service and port name."""
        return sorted(
            (p.spec for p in self._ports.values() if p.spec is not None and p.server),
            key=lambda s: (s.service, s.port_name),
        )

    def address(self, service: str, port_name: str) -> tuple[str, int]:
        """Where a listener is bound (the real port when the spec asked for port 0)."""
        port = self._ports.get((service, port_name))
        if port is None or port.server is None:
            raise NotFoundError(f"service {service} has no listener for port {port_name}")
        return self._address(port.server)

    @staticmethod
    def _address(server: asyncio.Server) -> tuple[str, int]:
        host, number = server.sockets[0].getsockname()[:2]
        return str(host), int(number)

    # -- backends and counters ----------------------------------------------------------

    def set_backends(self, service: str, port_name: str, groups: tuple[BackendGroup, ...]) -> None:
        """Replace the port's backends in one assignment (may come before ``ensure_listener``)."""
        key = (service, port_name)
        port = self._ports.get(key)
        if port is None:
            port = self._ports[key] = _Port(service, port_name, Balancer())
        timeout = port.spec.affinity_timeout if port.spec is not None else None
        port.balancer = Balancer(groups, affinity_timeout=timeout, previous=port.balancer)

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
        groups = []
        for name in names:
            c = port.counters.get(name, _Counters())
            groups.append(GroupStats(name, total=c.total, active=c.active, failed=c.failed))
        return ListenerStats(service, port_name, groups=tuple(groups), refused=port.refused)

    async def close(self) -> None:
        """Stop every listener and cut every connection (the daemon is shutting down)."""
        for port in self._ports.values():
            if port.server is not None:
                port.server.close()
        self._ports.clear()
        for task in list(self._connecting):
            task.cancel()
        if self._connecting:
            await asyncio.gather(*self._connecting, return_exceptions=True)
        for connection in list(self._connections):
            connection.abort()
        # Let the transports run their connection_lost callbacks before the loop goes away.
        await asyncio.sleep(0)

    # -- one connection -----------------------------------------------------------------

    def _accepted(self, client: _ClientSide) -> None:
        port = client.port
        if not port.balancer.has_endpoints():
            port.refused += 1
            _reset(client.transport)
            return
        client.transport.pause_reading()  # nothing to forward to until the backend is connected
        task = asyncio.get_running_loop().create_task(self._connect(client))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect(self, client: _ClientSide) -> None:
        port = client.port
        tried: list[Endpoint] = []
        try:
            connected = await self._connect_backend(client, tried)
        except asyncio.CancelledError:
            _reset(client.transport)
            raise
        if not connected:
            port.refused += 1
            _reset(client.transport)

    async def _connect_backend(self, client: _ClientSide, tried: list[Endpoint]) -> bool:
        loop = asyncio.get_running_loop()
        port = client.port
        for _ in range(MAX_CONNECT_ATTEMPTS):
            pick = port.balancer.pick(now=self._clock(), client=client.address, exclude=tried)
            if pick is None:
                break
            endpoint = pick.endpoint
            try:
                async with asyncio.timeout(self._connect_timeout):
                    _transport, backend = await loop.create_connection(
                        lambda: _BackendSide(client), endpoint.host, endpoint.port
                    )
            except (OSError, TimeoutError) as exc:
                tried.append(endpoint)
                port.counter(pick.group).failed += 1
                _log.warning(
                    "backend_connect_failed",
                    service=port.service,
                    port_name=port.port_name,
                    group=pick.group,
                    pod=endpoint.pod,
                    error=str(exc) or type(exc).__name__,
                )
                continue
            counters = port.counter(pick.group)
            counters.total += 1
            counters.active += 1
            self._connections.add(_Connection(self, client, backend, counters))
            return True
        return False

    def _finished(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        connection.counters.active -= 1


class _Side(asyncio.Protocol):
    """One socket of a forwarded connection; whatever it reads goes to ``peer``."""

    transport: asyncio.Transport
    peer: _Side | None = None
    connection: _Connection | None = None

    def __init__(self) -> None:
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.peer is not None:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        # Half-close: pass the EOF on and keep the other direction open until it ends too.
        self.eof = True
        peer = self.peer
        if peer is None:
            return False
        if peer.eof:
            peer.transport.close()
            return False
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
        return True

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.peer.transport.close()  # flushes what is already buffered for the peer
        if self.connection is not None:
            self.connection.lost()


class _ClientSide(_Side):
    def __init__(self, proxy: TcpProxy, port: _Port) -> None:
        super().__init__()
        self.proxy = proxy
        self.port = port
        self.address: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else None
        self.proxy._accepted(self)


class _BackendSide(_Side):
    def __init__(self, client: _ClientSide) -> None:
        super().__init__()
        self.client = client


class _Connection:
    """A client wired to a backend; ``lost`` runs once, when the first side goes away."""

    __slots__ = ("backend", "client", "counters", "done", "proxy")

    def __init__(
        self, proxy: TcpProxy, client: _ClientSide, backend: _BackendSide, counters: _Counters
    ) -> None:
        self.proxy = proxy
        self.client = client
        self.backend = backend
        self.counters = counters
        self.done = False
        client.peer, backend.peer = backend, client
        client.connection = backend.connection = self
        if client.transport.is_closing():
            backend.transport.close()
            self.lost()
        else:
            client.transport.resume_reading()

    def lost(self) -> None:
        if not self.done:
            self.done = True
            self.proxy._finished(self)

    def abort(self) -> None:
        self.client.transport.abort()
        self.backend.transport.abort()


def _reset(transport: asyncio.Transport) -> None:
    """Close with RST, so the client fails at once instead of waiting."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()
