"""One proxied TCP connection: the backend connect in progress, then two relay flows.

Split from ``server.py`` (which accepts and picks endpoints); the mechanics are described
there: plain callbacks on non-blocking sockets, one shared read buffer, flow control by
pausing the reading side, half-close passed on with ``shutdown(SHUT_WR)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import struct
from typing import TYPE_CHECKING

from reconciler.proxy import Endpoint
from reconciler.proxy.balancer import Pick
from reconciler.proxy.ports import _Counters, _Port

if TYPE_CHECKING:
    from reconciler.proxy.server import TcpProxy

__all__ = ["_Flow", "_Splice", "_family", "_is_connected", "_reset"]

_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


class _Splice:
    """One client connection: its backend connect in progress, then its two relay flows."""

    __slots__ = (
        "address",
        "backend",
        "client",
        "closed",
        "counters",
        "downstream",
        "pick",
        "port",
        "proxy",
        "timer",
        "tried",
        "upstream",
    )

    def __init__(self, proxy: TcpProxy, port: _Port, client: socket.socket, address: str) -> None:
        self.proxy = proxy
        self.port = port
        self.client = client
        self.address = address
        self.tried: list[Endpoint] = []
        self.backend: socket.socket | None = None
        self.pick: Pick | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.counters: _Counters | None = None
        self.upstream: _Flow | None = None  # client -> backend
        self.downstream: _Flow | None = None  # backend -> client
        self.closed = False

    def stop_connecting(self) -> tuple[socket.socket, Pick]:
        """The handshake ended (or timed out): stop waiting, hand back socket and pick."""
        backend, pick, timer = self.backend, self.pick, self.timer
        assert backend is not None and pick is not None and timer is not None
        self.proxy._connecting.discard(self)
        timer.cancel()
        asyncio.get_running_loop().remove_writer(backend.fileno())
        self.backend = self.pick = self.timer = None
        return backend, pick

    def relay(
        self, loop: asyncio.AbstractEventLoop, backend: socket.socket, buffer: memoryview
    ) -> None:
        self.backend = backend
        client = self.client
        # Small writes go out at once (asyncio's transports do the same); an HTTP head and body
        # written separately would otherwise wait for the peer's delayed ACK.
        try:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            backend.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # a socket that already failed: its first read says so
        self.upstream = _Flow(self, loop, client, backend, buffer, upstream=True)
        self.downstream = _Flow(self, loop, backend, client, buffer, upstream=False)

    def other_ended(self, flow: _Flow) -> bool:
        """Whether the flow opposite ``flow`` has ended too (so the splice is done)."""
        other = self.downstream if flow is self.upstream else self.upstream
        return other is None or other.ended

    def flow_ended(self) -> None:
        upstream, downstream = self.upstream, self.downstream
        if upstream is not None and downstream is not None and upstream.ended and downstream.ended:
            self.close()

    def broken(self, sock: socket.socket) -> None:
        """``sock`` failed (reset, ...): what was read from it still reaches the other side."""
        for flow in (self.upstream, self.downstream):
            if flow is None:
                continue
            if flow.source is sock:
                flow.end_of_input()
            else:
                flow.stop()
        self.flow_ended()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.client.close()
        if self.backend is not None:
            self.backend.close()
        self.upstream = self.downstream = None  # no reference cycles left for the collector
        self.proxy._finished(self)

    def abort(self) -> None:
        """Cut the connection now (the proxy is closing), connecting or relaying."""
        if self.timer is not None:
            self.stop_connecting()[0].close()
        for flow in (self.upstream, self.downstream):
            if flow is not None:
                flow.stop()
        self.close()


class _Flow:
    """One direction of a splice: bytes read from ``source`` are sent to ``target``."""

    __slots__ = (
        "buffer",
        "ended",
        "eof",
        "loop",
        "pending",
        "reading",
        "source",
        "source_fd",
        "splice",
        "target",
        "target_fd",
        "upstream",
    )

    def __init__(
        self,
        splice: _Splice,
        loop: asyncio.AbstractEventLoop,
        source: socket.socket,
        target: socket.socket,
        buffer: memoryview,
        *,
        upstream: bool,
    ) -> None:
        self.splice = splice
        self.upstream = upstream  # client -> backend (counts bytes_in), else bytes_out
        self.loop = loop
        self.source = source
        self.target = target
        self.source_fd = source.fileno()
        self.target_fd = target.fileno()
        self.buffer = buffer
        self.pending: memoryview | None = None  # read but not yet taken by ``target``
        self.reading = True
        self.eof = False  # the source has ended (EOF or failure)
        self.ended = False  # EOF passed on (or the flow was stopped)
        loop.add_reader(self.source_fd, self.readable)

    def readable(self) -> None:
        buffer = self.buffer
        try:
            size = self.source.recv_into(buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.splice.broken(self.source)
            return
        if not size:
            self.end_of_input()
            return
        counters = self.splice.counters
        if counters is not None:
            if self.upstream:
                counters.bytes_in += size
            else:
                counters.bytes_out += size
        try:
            sent = self.target.send(buffer[:size])
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.splice.broken(self.target)
            return
        if sent < size:
            # Flow control: stop reading until the target has taken the rest.
            self.pending = memoryview(bytes(buffer[sent:size]))
            self.loop.remove_reader(self.source_fd)
            self.reading = False
            self.loop.add_writer(self.target_fd, self.writable)

    def writable(self) -> None:
        pending = self.pending
        assert pending is not None
        try:
            sent = self.target.send(pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.splice.broken(self.target)
            return
        if sent < len(pending):
            self.pending = pending[sent:]
            return
        self.pending = None
        self.loop.remove_writer(self.target_fd)
        if self.eof:
            self.pass_eof()
        else:
            self.loop.add_reader(self.source_fd, self.readable)
            self.reading = True

    def end_of_input(self) -> None:
        """The source sent EOF (or failed): pass it on once what is pending has been sent."""
        if self.reading:
            self.loop.remove_reader(self.source_fd)
            self.reading = False
        self.eof = True
        if self.pending is None and not self.ended:
            self.pass_eof()
        # else ``writable`` passes the EOF on after the last pending byte

    def pass_eof(self) -> None:
        self.ended = True
        if self.splice.other_ended(self):
            # The target already sent its EOF, so nothing is left to read from it: closing it
            # sends the FIN, and a shutdown first would be one more system call.
            self.splice.close()
            return
        with contextlib.suppress(OSError):
            self.target.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        """Stop relaying in this direction, dropping anything not yet sent."""
        if self.reading:
            self.loop.remove_reader(self.source_fd)
            self.reading = False
        if self.pending is not None:
            self.loop.remove_writer(self.target_fd)
            self.pending = None
        self.ended = True


@functools.lru_cache(maxsize=1024)
def _family(host: str) -> socket.AddressFamily | None:
    """The address family of an IP address, or None for a host name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET


def _is_connected(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


def _reset(sock: socket.socket) -> None:
    """Close with RST, so the client fails at once instead of waiting."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    sock.close()
