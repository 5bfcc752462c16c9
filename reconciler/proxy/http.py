"""HTTP/1.1 listeners (``appProtocol: http``): requests routed one by one, and counted.

A TCP listener picks a backend per connection, so a keep-alive client sends all its requests
to one version and a canary's weight is a share of connections. Here every request is routed
on its own: the header routes first (``BackendGroup.match``), then the version the client's
``reconciler-version`` cookie names (stickiness, when the Service has session affinity), then
the balancer's exact weights. Upstream connections are kept alive and reused: the one the
client connection used last if the next request goes to the same endpoint, else an idle one
from the port's pool, else a new one.

One client connection is handled by plain callbacks, as the TCP relay (``server.py``): the
client's bytes are parsed up to the end of one request head, the head goes out with
``X-Forwarded-For``/``-Proto`` added, its body passes through as received (``Content-Length``
or chunked), and the client is not read again until the response has ended: pipelined
requests wait in the socket, and responses leave in request order. Interim responses
(``100 Continue``) pass through. A ``101 Switching Protocols`` answer to an ``Upgrade``
request turns the connection into a TCP tunnel (``splice.py``), which is how WebSockets pass.

Drain by request: a removed endpoint gets no new request; a request in flight to it ends
normally; its idle upstream connections are closed at once (``drain_removed``), and a client
connection that used it picks another endpoint for its next request.

The proxy answers by itself when no endpoint can take a request: 503 when the port has no
endpoint, 502 when connecting failed on every endpoint tried or an upstream ended before its
response head (counted in the group's ``failed_requests`` and 5xx).
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

import structlog

from reconciler.proxy import BackendGroup, Endpoint
from reconciler.proxy.balancer import Pick
from reconciler.proxy.httpresponse import BODY, HEAD, IDLE, SENT, UNTIL_EOF, Exchange
from reconciler.proxy.httpwire import (
    MAX_HEAD,
    BadMessage,
    Chunked,
    Head,
    body_length,
    cookie_value,
    error_response,
    has_token,
    parse_head,
    quick_head,
    route_for,
)
from reconciler.proxy.ports import _Port
from reconciler.proxy.upstream import Upstream, connect_upstream, take_idle

if TYPE_CHECKING:
    from reconciler.proxy.server import TcpProxy

__all__ = ["COOKIE", "HttpConnection", "drain_removed"]

COOKIE = b"reconciler-version"
_ATTEMPTS = 3  # connects tried for one request before the proxy answers 502
_READ = 256 * 1024
_log = structlog.get_logger(component="proxy")


def drain_removed(proxy: TcpProxy, port: _Port) -> None:
    """Close the idle upstream connections (pooled or parked) to endpoints ``port`` lost."""
    keep = port.balancer.endpoints()
    for endpoint in [e for e in port.pool if e not in keep]:
        for upstream in port.pool.pop(endpoint):
            upstream.close()
    for connection in list(proxy._http):
        up = connection.up
        idle = connection.resp_state == IDLE
        if connection.port is port and up is not None and idle and up.endpoint not in keep:
            connection.drop_upstream()


class HttpConnection(Exchange):
    """One client connection of an http listener, and the request it is serving."""

    __slots__ = ()

    def __init__(self, proxy: TcpProxy, port: _Port, client: socket.socket, address: str) -> None:
        super().__init__(proxy, port, client, address)
        self.reading_client = True
        self.loop.add_reader(self.fd, self.client_readable)

    # -- the client side -----------------------------------------------------------------

    def client_readable(self) -> None:
        try:
            data = self.client.recv(_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.client_eof()
            return
        if not self.cin and self.req_state == HEAD and self.resp_state == IDLE:
            end = data.find(b"\r\n\r\n")
            if end == len(data) - 4:  # the usual read: exactly one head, nothing after it
                self.start_head(data[:end])
                return
        self.cin += data
        self.process_client()

    def client_eof(self) -> None:
        self.pause_client()
        if self.req_state == BODY or (self.resp_state == IDLE and self.client_pending is None):
            self.close()  # between requests, or a request body cut short
        else:
            self.keep = False  # the response still goes out, then the connection ends

    def process_client(self) -> None:
        """Forward what the client sent as far as the current request allows."""
        if self.req_state == HEAD:
            if self.resp_state != IDLE:
                self.pause_client()  # pipelined: waits until the response has ended
                return
            end = self.cin.find(b"\r\n\r\n")
            if end < 0:
                if len(self.cin) > MAX_HEAD:
                    self.refuse(431, "request head too large")
                return
            raw = bytes(self.cin[:end])
            del self.cin[: end + 4]
            if not self.start_head(raw):
                return
        if self.req_state == BODY and self.cin and self.up is not None:
            self.forward_body()

    def start_head(self, raw: bytes) -> bool:
        """Parse one request head and start the request; False if it was refused."""
        port = self.port
        spec = port.spec
        plain = not port.routes and (spec is None or spec.affinity_timeout is None)
        try:
            # Without routes or stickiness nothing but the framing is needed.
            head = (quick_head(raw) if plain else None) or parse_head(raw)
            length = body_length(head, request=True)
        except BadMessage as exc:
            self.refuse(400, f"bad request: {exc}")
            return False
        self.start_request(head, length)
        return True

    def forward_body(self) -> None:
        up = self.up
        assert up is not None
        cin = self.cin
        if self.chunks is not None:
            try:
                size = self.chunks.feed(cin)
            except BadMessage:
                self.close()
                return
            done = self.chunks.done
        else:
            size = min(self.body, len(cin))
            self.body -= size
            done = self.body == 0
        if size:
            up.send(bytes(cin[:size]))
            del cin[:size]
        if done:
            self.req_state = SENT
            if self.resp_state != IDLE:
                self.pause_client()  # the next request waits for this response
        elif up.pending is not None:
            self.pause_client()  # flow control: the upstream takes the rest first

    def upstream_drained(self) -> None:
        """The upstream took every pending byte: the client may send more body."""
        if self.req_state == BODY:
            self.resume_client()
            if self.cin:
                self.forward_body()

    def start_request(self, head: Head, length: int) -> None:
        """Route one request and send its head (with the proxy's headers) upstream."""
        headers = head.headers
        version = head.parts[2]
        connection = headers.get(b"connection")
        self.old = version != b"HTTP/1.1"
        if self.old:
            self.keep = has_token(connection, b"keep-alive")
        else:
            self.keep = not has_token(connection, b"close")
        self.method = head.parts[0]
        self.upgrade = b"upgrade" in headers and has_token(connection, b"upgrade")
        self.body = max(length, 0)
        self.chunks = Chunked() if length == -1 else None
        self.replay = length == 0
        self.tried.clear()
        self.attempts = 0
        self.counters = None
        self.started = time.monotonic()
        if self.old and not self.upgrade:
            ours = self.forwarded + b"\r\nConnection: keep-alive\r\n\r\n"
        else:
            ours = self.forwarded + b"\r\n\r\n"
        if (
            b"x-forwarded-for" not in headers
            and b"x-forwarded-proto" not in headers
            and (b"connection" not in headers or self.upgrade)
        ):
            self.forward_head = head.raw + ours  # the usual case: nothing to take out
        else:
            self.forward_head = self.rewritten(head, ours)
        self.req_state = BODY if (self.body or self.chunks) else SENT
        self.resp_state = HEAD
        self.dispatch(headers)

    def rewritten(self, head: Head, ours: bytes) -> bytes:
        """The head without the client's Connection (unless upgrading) and X-Forwarded-*
        headers, with ours (an existing X-Forwarded-For gets the client's address appended)."""
        lines = [head.first]
        for line in head.lines:
            name = line[: line.find(b":")].lower()
            if name == b"x-forwarded-proto" or name == b"x-forwarded-for":
                continue
            if name == b"connection" and not self.upgrade:
                continue  # the upstream connection stays alive whatever the client does
            lines.append(line)
        forwarded = head.headers.get(b"x-forwarded-for")
        if forwarded:
            address = self.address.encode()
            ours = ours.replace(b"For: " + address, b"For: " + forwarded + b", " + address, 1)
        return b"\r\n".join(lines) + ours

    def choose(self, headers: dict[bytes, bytes] | None) -> Pick | None:
        """The endpoint for the current request: header route, sticky version, weights."""
        port = self.port
        balancer = port.balancer
        group: BackendGroup | None = None
        if headers is not None and port.routes:
            route = route_for(port.routes, headers)
            if route is not None:
                group = route.group
        spec = port.spec
        timeout = spec.affinity_timeout if spec is not None else None
        wanted = None
        if timeout is not None and group is None and headers is not None:
            wanted = cookie_value(headers, COOKIE)
            if wanted:
                group = balancer.version_group(wanted.decode("latin-1"))
        if group is not None:
            pick = balancer.pick_in(group, exclude=self.tried)
        else:
            pick = balancer.pick(now=0.0, exclude=self.tried)
        self.set_cookie = b""
        if pick is not None and timeout is not None:
            version = next((g.version for g in balancer.groups if g.name == pick.group), "")
            if version and wanted != version.encode():
                self.set_cookie = b"Set-Cookie: %s=%s; Max-Age=%d; Path=/; HttpOnly\r\n" % (
                    COOKIE,
                    version.encode(),
                    int(timeout),
                )
        return pick

    def dispatch(self, headers: dict[bytes, bytes] | None) -> None:
        """Send the request head to the chosen endpoint (reusing an upstream connection)."""
        port = self.port
        while self.attempts < _ATTEMPTS:
            pick = self.choose(headers)
            if pick is None:
                break
            self.attempts += 1
            counters = port.counter(pick.group)
            if self.counters is None:
                self.counters = counters
                counters.requests += 1
                counters.in_flight += 1
            up = self.up
            if up is not None and up.endpoint != pick.endpoint:
                self.release_upstream()
                up = None
            if up is None:
                up = take_idle(port, pick.endpoint)
                if up is None:
                    made = connect_upstream(self.loop, pick.endpoint, counters)
                    if isinstance(made, str):
                        self.connect_failed(pick.endpoint, pick.group, made)
                        continue
                    up = made
                    counters.total += 1
                    counters.active += 1
                up.attach(self)
                self.up = up
            up.send(self.forward_head)
            if self.req_state == BODY and self.cin:
                self.forward_body()
            return
        if self.counters is not None:
            self.request_done(502, failed=True)
            self.answer(error_response(502, "no endpoint accepted the connection", close=True))
            return
        port.refused += 1
        self.answer(
            error_response(503, f'no endpoints available for service "{port.service}"', close=True)
        )

    def connect_failed(self, endpoint: Endpoint, group: str, error: str) -> None:
        self.tried.append(endpoint)
        self.port.counter(group).failed += 1
        _log.warning(
            "backend_connect_failed",
            service=self.port.service,
            port_name=self.port.port_name,
            group=group,
            pod=endpoint.pod,
            error=error,
        )

    # -- the upstream side ---------------------------------------------------------------

    def upstream_failed(self, up: Upstream, *, connecting: bool) -> None:
        """The upstream connection ended or failed before this response ended."""
        self.up = None
        up.close()
        state = self.resp_state
        if state == UNTIL_EOF:
            self.response_done()  # the end of the connection is the end of this body
            return
        if state == IDLE:
            return  # a parked connection the endpoint closed
        if state == HEAD and not self.uin:
            if connecting:
                group = next(
                    (g.name for g in self.port.balancer.groups if up.endpoint in g.endpoints), ""
                )
                self.connect_failed(up.endpoint, group or "unknown", "connect failed")
                self.dispatch(None)
                return
            if up.reused and self.replay:
                # A bodiless request met an idle connection the endpoint had just closed:
                # send it again on a new connection (not counted as a failure).
                self.attempts -= 1
                self.dispatch(None)
                return
            self.request_done(502, failed=True)
            self.answer(error_response(502, "the endpoint closed the connection", close=True))
            return
        self.request_done(502, failed=True)
        self.close()  # a response cut short: the client must see the connection end

    def upstream_data(self, data: bytes) -> None:
        if (
            not self.uin
            and self.resp_state == HEAD
            and self.client_pending is None
            and self.keep
            and not self.old
            and self.method != b"HEAD"
            and data.startswith(b"HTTP/1.1 ")
            and self.whole_response(data)
        ):
            return
        self.uin += data
        self.process_upstream()

    def whole_response(self, data: bytes) -> bool:
        """The usual read: one complete response with a Content-Length and nothing to
        rewrite. Forwarded as it came (plus the stickiness cookie), in one ``send``; False
        (nothing done) for anything else, which ``process_upstream`` then frames."""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = quick_head(data[:end])
        if head is None or b"connection" in head.headers:
            return False
        length = head.headers.get(b"content-length")
        status = head.parts[1]
        if length is None or not length.isdigit() or len(data) != end + 4 + int(length):
            return False
        if len(status) != 3 or not status.isdigit() or status[0] not in b"2345":
            return False
        if status in (b"204", b"304"):
            return False
        self.status = int(status)
        if self.set_cookie:
            data = data[: end + 2] + self.set_cookie + data[end + 2 :]
        self.to_client(data)
        self.response_done()
        return True

    # -- writing to the client, and the end --------------------------------------------
