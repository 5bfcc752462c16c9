"""HTTP/1.1 framing for the http listeners: request and response heads, chunked bodies, routes.

A hand parser rather than ``h11``: the proxy forwards bodies byte for byte and only needs to
know where each message ends (RFC 9112 section 6), which headers route the request, and where
to add its own headers. ``h11`` builds event objects for every message and copies every body
chunk; this costs a few microseconds per request (``bench/README.md``, Proxy).

Strict where a proxy must be (request smuggling): a request with both ``Transfer-Encoding``
and ``Content-Length``, a non-chunked request ``Transfer-Encoding``, differing or malformed
``Content-Length`` values, or a malformed head is answered 400 and the connection closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reconciler.proxy import BackendGroup, RequestMatch

__all__ = [
    "MAX_HEAD",
    "BadMessage",
    "Chunked",
    "Head",
    "Route",
    "compile_routes",
    "error_response",
    "parse_head",
    "quick_head",
    "route_for",
]

MAX_HEAD = 64 * 1024  # bytes of a request or response head (status line and headers)
_REASONS = {
    400: b"Bad Request",
    431: b"Request Header Fields Too Large",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}


class BadMessage(ValueError):
    """A head or chunked body the proxy cannot frame safely (answered 400, then closed)."""


@dataclass(slots=True)
class Head:
    """One parsed head: the start line's three parts and the headers by lower-case name.

    ``lines`` keeps the header lines as received (for forwarding); repeated headers are
    joined in ``headers`` with ", " (``cookie`` with "; ", as RFC 6265 section 5.4 folds it).
    """

    raw: bytes  # the whole head as received, without its final empty line
    first: bytes  # "GET / HTTP/1.1" or "HTTP/1.1 200 OK"
    parts: list[bytes]
    lines: list[bytes]
    headers: dict[bytes, bytes]


def parse_head(data: bytes) -> Head:
    """Parse a head (without its final empty line); raises ``BadMessage``."""
    lines = data.split(b"\r\n")
    first = lines[0]
    parts = first.split(b" ", 2)
    if len(parts) != 3:
        raise BadMessage("malformed start line")
    del lines[0]
    pairs = [line.partition(b":") for line in lines]
    for name, sep, _ in pairs:
        if not sep or not name or name[-1] in b" \t" or name[0] in b" \t":
            raise BadMessage("malformed header line")
    headers = {name.lower(): value.strip(b" \t") for name, _, value in pairs}
    if len(headers) < len(pairs):  # a repeated header: join its values
        headers = {}
        for name, _, value in pairs:
            key = name.lower()
            value = value.strip(b" \t")
            old = headers.get(key)
            if old is None:
                headers[key] = value
            else:
                headers[key] = old + (b"; " if key == b"cookie" else b", ") + value
    return Head(data, first, parts, lines, headers)


def quick_head(data: bytes) -> Head | None:
    """The usual head, parsed for its framing only: ``headers`` holds just ``content-length``
    and ``connection`` (when present). None when the full parser must decide: a chunked or
    otherwise encoded body, a repeated or oddly written framing header, a folded line, an
    upgrade, X-Forwarded-* to rewrite. Several times cheaper than ``parse_head``: searches in
    C instead of a Python loop over the lines (``bench/README.md``, HTTP Services)."""
    if b"\r\n " in data or b"\r\n\t" in data:
        return None
    low = data.lower()
    if b"transfer-encoding" in low or b"upgrade" in low or b"x-forwarded-" in low:
        return None
    lines = data.split(b"\r\n")
    first = lines[0]
    parts = first.split(b" ", 2)
    if len(parts) != 3:
        return None
    del lines[0]
    headers: dict[bytes, bytes] = {}
    for name, size in ((b"content-length", 17), (b"connection", 13)):
        count = low.count(name)
        if not count:
            continue
        at = low.find(b"\r\n" + name + b":")
        if count > 1 or at < 0:
            return None
        end = low.find(b"\r\n", at + size)
        headers[name] = data[at + size : end if end >= 0 else len(data)].strip(b" \t")
    return Head(data, first, parts, lines, headers)


def body_length(head: Head, *, request: bool) -> int:
    """``Content-Length`` (0 if absent), or -1 for a chunked body; raises ``BadMessage``."""
    headers = head.headers
    coding = headers.get(b"transfer-encoding")
    if coding is not None:
        if request and b"content-length" in headers:
            raise BadMessage("both Transfer-Encoding and Content-Length")
        if coding.rsplit(b",", 1)[-1].strip().lower() != b"chunked":
            if request:
                raise BadMessage("request Transfer-Encoding is not chunked")
            return -2  # a response delimited by the end of the connection
        return -1
    length = headers.get(b"content-length")
    if length is None:
        return 0 if request else -2
    values = {v.strip() for v in length.split(b",")}
    if len(values) != 1:
        raise BadMessage("differing Content-Length values")
    (value,) = values
    if not value.isdigit():
        raise BadMessage("malformed Content-Length")
    return int(value)


def has_token(value: bytes | None, token: bytes) -> bool:
    """Whether a comma-separated header (``Connection``) lists ``token``, case-insensitively."""
    if value is None:
        return False
    return any(part.strip().lower() == token for part in value.split(b","))


class Chunked:
    """Finds the end of a chunked body in the bytes that pass through (they are not copied).

    ``feed`` returns how many of the given bytes belong to the body; ``done`` turns true once
    the last chunk and the trailer section have passed.
    """

    __slots__ = ("done", "left", "line", "trailers")

    def __init__(self) -> None:
        self.left = 0  # chunk data (and its CRLF) still to pass
        self.line = bytearray()  # a size or trailer line being read
        self.trailers = False
        self.done = False

    def feed(self, data: bytes | bytearray | memoryview, start: int = 0) -> int:
        """Bytes of ``data[start:]`` that belong to the body."""
        size = len(data)
        at = start
        while at < size and not self.done:
            if self.left:
                step = min(self.left, size - at)
                self.left -= step
                at += step
                continue
            end = bytes(data[at : at + 4096]).find(b"\n") if not self.line else -1
            if end < 0:
                # Slow path: a line split across reads, byte by byte until its LF.
                byte = data[at]
                at += 1
                if byte != 0x0A:
                    self.line.append(byte)
                    if len(self.line) > 4096:
                        raise BadMessage("chunk line too long")
                    continue
                line = bytes(self.line)
                self.line.clear()
            else:
                line = bytes(data[at : at + end])
                at += end + 1
            self._line(line.rstrip(b"\r"))
        return at - start

    def _line(self, line: bytes) -> None:
        if self.trailers:
            if not line:
                self.done = True
            return
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadMessage("malformed chunk size") from None
        if size < 0:
            raise BadMessage("malformed chunk size")
        if size == 0:
            self.trailers = True
        else:
            self.left = size + 2  # the data and its CRLF


# -- header routes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """A header-route group with its matches prepared for bytes: (name, kind, value)."""

    group: BackendGroup
    matches: tuple[tuple[bytes, str, bytes | re.Pattern[bytes]], ...]


def compile_routes(groups: tuple[BackendGroup, ...]) -> tuple[Route, ...]:
    """The header routes of a port's groups, in order (the first matching route wins)."""
    return tuple(
        Route(group, tuple(_compile(m) for m in group.match)) for group in groups if group.match
    )


def _compile(match: RequestMatch) -> tuple[bytes, str, bytes | re.Pattern[bytes]]:
    name = match.header.lower().encode("latin-1")
    if match.kind == "regex":
        return name, "regex", re.compile(match.value.encode())
    return name, match.kind, match.value.encode()


def route_for(routes: tuple[Route, ...], headers: dict[bytes, bytes]) -> Route | None:
    """The first route whose every match holds for ``headers`` (a missing header fails)."""
    for route in routes:
        for name, kind, expected in route.matches:
            value = headers.get(name)
            if value is None:
                break
            if kind == "regex":
                assert isinstance(expected, re.Pattern)
                if expected.fullmatch(value) is None:
                    break
            elif kind == "prefix":
                assert isinstance(expected, bytes)
                if not value.startswith(expected):
                    break
            elif value != expected:
                break
        else:
            return route
    return None


def cookie_value(headers: dict[bytes, bytes], name: bytes) -> bytes | None:
    """The value of cookie ``name`` in the request's ``Cookie`` header, if any."""
    raw = headers.get(b"cookie")
    if raw is None or name not in raw:
        return None
    for pair in raw.split(b";"):
        key, _, value = pair.strip().partition(b"=")
        if key == name:
            return value.strip(b'"')
    return None


def error_response(status: int, message: str, *, close: bool) -> bytes:
    """A complete response of the proxy's own (502, 503, 400...)."""
    body = message.encode() + b"\n"
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
        % (status, _REASONS.get(status, b"Error"), len(body))
    )
    if close:
        head += b"connection: close\r\n"
    return head + b"\r\n" + body
