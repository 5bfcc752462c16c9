"""Upstream connections of http listeners: connect, send with flow control, keep idle ones.

An upstream connection serves one client connection's request at a time (its ``owner``), and
between requests either stays with that client connection (parked: the next request to the
same endpoint reuses it) or waits in its port's pool for any client connection. An idle
connection is watched for readability: an endpoint that closes it (its keep-alive timeout, a
pod stopping) is noticed at once and the connection leaves the pool.

Endpoints given by host name are resolved once and remembered (``getaddrinfo`` of a pod's
host name reads ``/etc/hosts``; endpoints are pods on this host).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from typing import TYPE_CHECKING

from reconciler.proxy import Endpoint
from reconciler.proxy.ports import _Counters, _Port
from reconciler.proxy.splice import _family, _is_connected

if TYPE_CHECKING:
    from reconciler.proxy.http import HttpConnection

__all__ = ["CONNECT_TIMEOUT", "Upstream", "connect_upstream", "take_idle"]

CONNECT_TIMEOUT = 2.0
_READ = 256 * 1024
_CONNECTING = {errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY}
_NONBLOCKING_STREAM = socket.SOCK_STREAM | getattr(socket, "SOCK_NONBLOCK", 0)


class Upstream:
    """One connection to an endpoint."""

    __slots__ = (
        "closed",
        "connecting",
        "counters",
        "endpoint",
        "fd",
        "keep",
        "loop",
        "owner",
        "pending",
        "reading",
        "reused",
        "sock",
        "timer",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        endpoint: Endpoint,
        counters: _Counters,
        *,
        connecting: bool,
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        self.endpoint = endpoint
        self.counters = counters
        self.owner: HttpConnection | None = None
        self.pending: bytes | None = None  # not yet taken by the socket
        self.connecting = connecting
        self.reading = False
        self.keep = True  # may serve another request after this response
        self.reused = False  # has served a request before (an idle connection may be stale)
        self.closed = False
        self.timer: asyncio.TimerHandle | None = None
        if connecting:
            loop.add_writer(self.fd, self.writable)
            self.timer = loop.call_later(CONNECT_TIMEOUT, self.timed_out)

    def attach(self, owner: HttpConnection) -> None:
        self.owner = owner
        self.keep = True
        if not self.connecting:
            self.reading = True
            self.loop.add_reader(self.fd, self.readable)  # replaces the idle watch, if any

    def readable(self) -> None:
        try:
            data = self.sock.recv(_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        owner = self.owner
        if owner is None:
            self.close()
            return
        if not data:
            owner.upstream_failed(self, connecting=False)
            return
        self.counters.bytes_out += len(data)
        owner.upstream_data(data)

    def send(self, data: bytes) -> None:
        self.counters.bytes_in += len(data)
        if self.pending is not None or self.connecting:
            self.pending = data if self.pending is None else self.pending + data
            return
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = len(data)  # the read side reports the failure
        if sent < len(data):
            self.pending = data[sent:]
            self.loop.add_writer(self.fd, self.writable)

    def writable(self) -> None:
        if self.connecting:
            code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            self.connecting = False
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if code != 0:
                self.fail_connect()
                return
            if self.owner is not None:
                self.reading = True
                self.loop.add_reader(self.fd, self.readable)
        pending = self.pending
        if pending is not None:
            try:
                sent = self.sock.send(pending)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                sent = len(pending)
            if sent < len(pending):
                self.pending = pending[sent:]
                return
            self.pending = None
        self.loop.remove_writer(self.fd)
        if self.owner is not None:
            self.owner.upstream_drained()

    def timed_out(self) -> None:
        self.timer = None
        self.fail_connect()

    def fail_connect(self) -> None:
        owner = self.owner
        if owner is not None:
            owner.upstream_failed(self, connecting=True)
        else:
            self.close()

    def pause(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.fd)

    def resume(self) -> None:
        if not self.reading and not self.connecting and not self.closed:
            self.reading = True
            self.loop.add_reader(self.fd, self.readable)

    def detach(self) -> None:
        """No owner, no callbacks (before a hand-over to the pool or to a tunnel)."""
        self.owner = None
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.fd)
        if self.pending is not None or self.connecting:
            self.loop.remove_writer(self.fd)
            self.pending = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def idle(self, port: _Port) -> None:
        """Wait in ``port``'s pool; leave it when the endpoint closes the connection."""
        self.owner = None
        self.reused = True
        port.pool.setdefault(self.endpoint, []).append(self)
        self.reading = True
        self.loop.add_reader(self.fd, self.idle_readable, port)

    def idle_readable(self, port: _Port) -> None:
        idle = port.pool.get(self.endpoint)
        if idle is not None and self in idle:
            idle.remove(self)
            if not idle:
                del port.pool[self.endpoint]
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.detach()
        self.closed = True
        self.sock.close()
        self.counters.active -= 1


def take_idle(port: _Port, endpoint: Endpoint) -> Upstream | None:
    """An idle pooled connection to ``endpoint`` (the most recently used first)."""
    idle = port.pool.get(endpoint)
    while idle:
        upstream: Upstream = idle.pop()
        if not idle:
            del port.pool[endpoint]
        if not upstream.closed:
            upstream.detach()
            return upstream
    return None


def connect_upstream(
    loop: asyncio.AbstractEventLoop, endpoint: Endpoint, counters: _Counters
) -> Upstream | str:
    """A new connection to ``endpoint`` (connected, or with its handshake under way), or
    the reason it failed at once (refused)."""
    address = _address(endpoint.host, endpoint.port)
    if isinstance(address, str):
        return address
    family, target = address
    try:
        sock = socket.socket(family, _NONBLOCKING_STREAM)
    except OSError as exc:
        return str(exc)
    try:
        code = sock.connect_ex(target)
        connecting = code in _CONNECTING and not _is_connected(sock)
        if code in _CONNECTING and not connecting:
            code = 0
        elif connecting:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    except (OSError, OverflowError) as exc:
        sock.close()
        return str(exc) or type(exc).__name__
    if code != 0:
        sock.close()
        return f"[Errno {code}] {errno.errorcode.get(code, code)}"
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Upstream(loop, sock, endpoint, counters, connecting=connecting)


_RESOLVED: dict[tuple[str, int], tuple[socket.AddressFamily, tuple[str, int]]] = {}


def _address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[str, int]] | str:
    """Where to connect for an endpoint: its address, or its host name resolved once."""
    found = _RESOLVED.get((host, port))
    if found is not None:
        return found
    family = _family(host)
    if family is not None:
        found = family, (host, port)
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            return f"{host}: {exc}"  # not remembered: the name may resolve later
        resolved, _, _, _, address = infos[0]
        found = resolved, (str(address[0]), port)
    if len(_RESOLVED) >= 1024:
        _RESOLVED.clear()
    _RESOLVED[(host, port)] = found
    return found
