"""The response side of an http listener's client connection (``http.py`` has the request side).

What comes back from the upstream is parsed up to the end of one response head; the head goes
to the client without hop-by-hop ``Connection`` (the proxy says itself whether the client
connection stays open, and adds the stickiness cookie); the body passes through as received.
Interim responses pass and the final one follows; a ``101`` to an ``Upgrade`` request turns
the connection into a TCP tunnel. When the response has ended the request is counted (status
class, latency), the upstream connection stays parked with the client connection for its next
request, and the next pipelined request, already waiting in the buffer, is started.
"""

from __future__ import annotations

import bisect
import contextlib
import socket
import time
from typing import TYPE_CHECKING

from reconciler.proxy import LATENCY_BOUNDS, Endpoint
from reconciler.proxy.httpwire import (
    MAX_HEAD,
    BadMessage,
    Chunked,
    Head,
    body_length,
    error_response,
    has_token,
    parse_head,
    quick_head,
)
from reconciler.proxy.ports import _Counters, _Port
from reconciler.proxy.splice import _Flow, _Splice
from reconciler.proxy.upstream import Upstream

if TYPE_CHECKING:
    from reconciler.proxy.server import TcpProxy

__all__ = ["BODY", "HEAD", "IDLE", "SENT", "UNTIL_EOF", "Exchange"]

# Request and response states.
HEAD, BODY, SENT, IDLE, UNTIL_EOF = range(5)


class Exchange:
    """A client connection's state, and everything about the response it is waiting for."""

    __slots__ = (
        "address",
        "attempts",
        "batch",
        "body",
        "chunks",
        "cin",
        "client",
        "client_pending",
        "closed",
        "closing",
        "counters",
        "fd",
        "forward_head",
        "forwarded",
        "keep",
        "loop",
        "method",
        "old",
        "port",
        "proxy",
        "reading_client",
        "replay",
        "req_state",
        "resp_chunks",
        "resp_left",
        "resp_state",
        "set_cookie",
        "started",
        "status",
        "tried",
        "uin",
        "up",
        "upgrade",
    )

    def __init__(self, proxy: TcpProxy, port: _Port, client: socket.socket, address: str) -> None:
        loop = proxy._loop
        assert loop is not None
        self.proxy = proxy
        self.port = port
        self.loop = loop
        self.client = client
        self.fd = client.fileno()
        self.address = address
        # Our headers for every request of this connection (the client's address is fixed).
        self.forwarded = b"\r\nX-Forwarded-For: %s\r\nX-Forwarded-Proto: http" % address.encode()
        self.cin = bytearray()  # client bytes not yet forwarded
        self.uin = bytearray()  # upstream bytes not yet forwarded
        self.client_pending: memoryview | None = None  # not yet taken by the client socket
        self.up: Upstream | None = None
        self.req_state = HEAD
        self.resp_state = IDLE
        self.body = 0  # request body bytes still to forward (Content-Length)
        self.chunks: Chunked | None = None  # the request body is chunked
        self.resp_left = 0
        self.resp_chunks: Chunked | None = None
        self.keep = True  # the client connection stays open after this response
        self.old = False  # the client speaks HTTP/1.0
        self.closing = False  # closes once the pending bytes have reached the client
        self.closed = False
        self.method = b""
        self.upgrade = False
        self.forward_head = b""
        self.replay = False  # the request has no body: it may be sent again on a new upstream
        self.counters: _Counters | None = None  # of the group the request counts against
        self.set_cookie = b""
        self.started = 0.0
        self.status = 0
        self.tried: list[Endpoint] = []
        self.attempts = 0
        self.batch: list[bytes] | None = None  # what one pass over upstream bytes sends
        with contextlib.suppress(OSError):
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reading_client = False  # the request side starts reading

    def busy(self) -> bool:
        """A request is being served (a drain waits for it)."""
        return self.resp_state != IDLE or self.client_pending is not None

    def pause_client(self) -> None:
        if self.reading_client:
            self.reading_client = False
            self.loop.remove_reader(self.fd)

    def resume_client(self) -> None:
        if not self.reading_client and not self.closing and not self.closed:
            self.reading_client = True
            self.loop.add_reader(self.fd, self.client_readable)

    def process_upstream(self) -> None:
        """Forward what the upstream sent; everything one pass produces (a response head and
        its body, usually) leaves in one ``send``."""
        self.batch = []
        try:
            self.forward_upstream()
        finally:
            batch, self.batch = self.batch, None
            if batch and not self.closed:
                self.to_client(batch[0] if len(batch) == 1 else b"".join(batch))
            if self.closing and self.client_pending is None and not self.closed:
                self.close()

    def forward_upstream(self) -> None:
        uin = self.uin
        while uin and self.client_pending is None and not self.closed and self.up is not None:
            state = self.resp_state
            if state == HEAD:
                end = uin.find(b"\r\n\r\n")
                if end < 0:
                    if len(uin) > MAX_HEAD:
                        self.bad_upstream()
                    return
                try:
                    raw = bytes(uin[:end])
                    head = quick_head(raw) or parse_head(raw)
                    status = int(head.parts[1])
                except (BadMessage, ValueError):
                    self.bad_upstream()
                    return
                del uin[: end + 4]
                if not self.response_head(head, status):
                    return
            elif state == BODY:
                chunks = self.resp_chunks
                if chunks is not None:
                    try:
                        size = chunks.feed(uin)
                    except BadMessage:
                        self.request_done(502, failed=True)
                        self.close()
                        return
                    done = chunks.done
                else:
                    size = min(self.resp_left, len(uin))
                    self.resp_left -= size
                    done = self.resp_left == 0
                self.to_client(bytes(uin[:size]))
                del uin[:size]
                if done:
                    self.response_done()
            elif state == UNTIL_EOF:
                self.to_client(bytes(uin))
                uin.clear()
            else:  # bytes without a request: the connection cannot be trusted any more
                uin.clear()
                self.drop_upstream()
                return

    def response_head(self, head: Head, status: int) -> bool:
        """Forward a response head; False once the connection became something else."""
        raw_lines = head.lines
        if status < 200:
            self.to_client(b"\r\n".join([head.first, *raw_lines]) + b"\r\n\r\n")
            if status == 101 and self.upgrade:
                self.request_done(status)
                self.tunnel()
                return False
            return True  # interim (100 Continue): the final response follows
        try:
            length = body_length(head, request=False)
        except BadMessage:
            self.bad_upstream()
            return False
        if self.method == b"HEAD" or status in (204, 304):
            length = 0
        up = self.up
        connection = head.headers.get(b"connection")
        if head.parts[0] == b"HTTP/1.1":
            reusable = not has_token(connection, b"close")
        else:
            reusable = has_token(connection, b"keep-alive")
        if up is not None and not reusable:
            up.keep = False
        if length == -2:
            self.keep = False  # delimited by the end of the connection: so is the client's
        if self.keep and not self.old and b"connection" not in head.headers:
            self.to_client(head.raw + b"\r\n" + self.set_cookie + b"\r\n")  # as it came
        else:
            lines = [head.first]
            lines.extend(line for line in raw_lines if line[:11].lower() != b"connection:")
            if not self.keep:
                lines.append(b"Connection: close")
            elif self.old:
                lines.append(b"Connection: keep-alive")
            self.to_client(b"\r\n".join(lines) + b"\r\n" + self.set_cookie + b"\r\n")
        self.status = status
        if length == 0:
            self.response_done()
        elif length == -1:
            self.resp_chunks, self.resp_state = Chunked(), BODY
        elif length == -2:
            self.resp_state = UNTIL_EOF
        else:
            self.resp_chunks, self.resp_left, self.resp_state = None, length, BODY
        return True

    def bad_upstream(self) -> None:
        """A malformed response: 502 if the client has seen nothing of it, else cut."""
        nothing_sent = self.resp_state == HEAD
        self.request_done(502, failed=True)
        self.drop_upstream()
        if nothing_sent:
            self.answer(error_response(502, "the endpoint sent a malformed response", close=True))
        else:
            self.close()

    def response_done(self) -> None:
        """The response ended: count it, keep or drop the upstream, go on with the next."""
        self.request_done(self.status)
        up = self.up
        self.resp_state = IDLE
        self.resp_chunks = None
        if up is not None and (
            self.req_state != SENT or not up.keep or not self.port.balancer.serves(up.endpoint)
        ):
            self.drop_upstream()  # answered before its body ended, not reusable, or removed
        if self.req_state != SENT:
            self.keep = False
        if not self.keep:
            self.finish()
            return
        self.req_state = HEAD
        self.resume_client()
        if self.cin:
            self.process_client()

    def request_done(self, status: int, *, failed: bool = False) -> None:
        counters = self.counters
        if counters is None:
            return
        self.counters = None
        elapsed = time.monotonic() - self.started
        counters.responses[min(max(status // 100, 1), 5) - 1] += 1
        counters.latency[bisect.bisect_left(LATENCY_BOUNDS, elapsed)] += 1
        counters.latency_sum += elapsed
        counters.in_flight -= 1
        if failed:
            counters.failed_requests += 1

    def to_client(self, data: bytes) -> None:
        batch = self.batch
        if batch is not None:
            batch.append(data)
            return
        pending = self.client_pending
        if pending is not None:
            self.client_pending = memoryview(bytes(pending) + data)
            return
        try:
            sent = self.client.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.closing = True  # the client is gone; ``close`` runs from the caller's path
            self.loop.call_soon(self.close)
            return
        if sent < len(data):
            self.client_pending = memoryview(data)[sent:]
            self.loop.add_writer(self.fd, self.client_writable)
            if self.up is not None:
                self.up.pause()

    def client_writable(self) -> None:
        pending = self.client_pending
        assert pending is not None
        try:
            sent = self.client.send(pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        if sent < len(pending):
            self.client_pending = pending[sent:]
            return
        self.client_pending = None
        self.loop.remove_writer(self.fd)
        if self.closing:
            self.close()
            return
        if self.up is not None:
            self.up.resume()
        self.process_upstream()

    def answer(self, response: bytes) -> None:
        """A response of the proxy's own, after which the connection closes."""
        self.keep = False
        self.resp_state = IDLE
        self.to_client(response)
        self.finish()

    def refuse(self, status: int, message: str) -> None:
        self.req_state = SENT
        self.answer(error_response(status, message, close=True))

    def finish(self) -> None:
        """Close once what is pending has reached the client."""
        self.closing = True
        self.pause_client()
        if self.client_pending is None and self.batch is None:
            self.close()  # else once the batch has been sent (``process_upstream``)

    def release_upstream(self) -> None:
        """The parked upstream goes to the pool (if its endpoint is still in the port)."""
        up = self.up
        if up is None:
            return
        self.up = None
        port = self.port
        if up.keep and port.listener is not None and port.balancer.serves(up.endpoint):
            up.detach()
            up.idle(port)
        else:
            up.close()

    def drop_upstream(self) -> None:
        up = self.up
        if up is not None:
            self.up = None
            up.close()

    def tunnel(self) -> None:
        """After a 101: the rest of the connection is bytes both ways (``splice.py``)."""
        up = self.up
        assert up is not None
        self.up = None
        pending_up = up.pending or b""
        up.detach()
        self.pause_client()
        pending_client = bytes(self.client_pending or b"") + b"".join(self.batch or ())
        self.batch = None
        if self.client_pending is not None:
            self.loop.remove_writer(self.fd)
            self.client_pending = None
        self.closed = True
        self.proxy._http.discard(self)
        splice = _Splice(self.proxy, self.port, self.client, self.address)
        splice.counters = up.counters  # the upstream's ``active`` ends with the splice
        self.proxy._connections.add(splice)
        splice.relay(self.loop, up.sock, self.proxy._buffer)
        assert splice.upstream is not None and splice.downstream is not None
        _inject(splice.upstream, pending_up + bytes(self.cin))
        _inject(splice.downstream, pending_client + bytes(self.uin))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.pause_client()
        if self.client_pending is not None:
            self.loop.remove_writer(self.fd)
            self.client_pending = None
        if self.resp_state != IDLE:
            self.drop_upstream()  # mid-request: the upstream's state is unknown
            counters = self.counters
            if counters is not None:
                counters.in_flight -= 1
                self.counters = None
        else:
            self.release_upstream()
        self.client.close()
        self.proxy._http.discard(self)

    def process_client(self) -> None:
        """The request side (``HttpConnection``) forwards what the client sent."""
        raise NotImplementedError

    def client_readable(self) -> None:
        """The request side (``HttpConnection``) reads the client."""
        raise NotImplementedError


def _inject(flow: _Flow, data: bytes) -> None:
    """Bytes already read for a flow of a new tunnel: sent before anything else it reads."""
    if not data:
        return
    flow.pending = memoryview(data)
    flow.loop.remove_reader(flow.source_fd)
    flow.reading = False
    flow.loop.add_writer(flow.target_fd, flow.writable)
