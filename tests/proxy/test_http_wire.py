"""The http listeners' framing and routing rules in isolation: chunked bodies split anywhere,
heads a proxy must refuse, header-route matching, and which Service ports are http."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.objects import Kind, ObjectRef
from reconciler.proxy import BackendGroup, RequestMatch
from reconciler.proxy.httpwire import (
    BadMessage,
    Chunked,
    body_length,
    compile_routes,
    cookie_value,
    parse_head,
    quick_head,
    route_for,
)
from reconciler.services.router import listener_specs
from reconciler.store import AppliedObject

BODY = b"4\r\nwiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n"


@pytest.mark.parametrize("cut", range(1, len(BODY)))
def test_the_end_of_a_chunked_body_is_found_wherever_the_reads_split_it(cut: int) -> None:
    """Split in two reads at any byte, the body ends exactly after its trailer section,
    and the bytes after it (the next request) are not part of it."""
    chunks = Chunked()
    first = chunks.feed(BODY[:cut])
    assert first == cut and not chunks.done
    rest = BODY[cut:] + b"GET / HTTP/1.1\r\n"
    assert chunks.feed(rest) == len(BODY) - cut and chunks.done


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4",
        b"POST / HTTP/1.1\r\nContent-Length: -1",
    ],
)
def test_ambiguous_request_framing_is_refused(head: bytes) -> None:
    """Heads that could smuggle a second request past the proxy are errors."""
    with pytest.raises(BadMessage):
        body_length(parse_head(head), request=True)


def test_malformed_heads_are_errors_and_repeated_headers_are_joined() -> None:
    """A header without a colon, or with space before it, is an error; repeated headers are
    joined (cookies with "; ")."""
    for bad in (b"GET /\r\nHost: x", b"GET / HTTP/1.1\r\nHost x", b"GET / HTTP/1.1\r\nHost : x"):
        with pytest.raises(BadMessage):
            parse_head(bad)
    head = parse_head(b"GET / HTTP/1.1\r\nCookie: a=1\r\ncookie: b=2\r\nAccept: x\r\nAccept: y")
    assert head.headers[b"cookie"] == b"a=1; b=2" and head.headers[b"accept"] == b"x, y"
    assert cookie_value(head.headers, b"b") == b"2" and cookie_value(head.headers, b"c") is None


def test_a_route_matches_only_when_every_entry_holds() -> None:
    """Exact is case-sensitive on the value, names are not; prefix and full regex; the first
    matching route wins."""
    first = BackendGroup(
        "canary-route-a",
        0,
        (),
        match=(RequestMatch("X-User", "alice"), RequestMatch("X-Env", r"stag(e|ing)", "regex")),
    )
    second = BackendGroup("canary-route-b", 0, (), match=(RequestMatch("x-user", "al", "prefix"),))
    routes = compile_routes((BackendGroup("stable", 1, ()), first, second))
    assert [r.group.name for r in routes] == ["canary-route-a", "canary-route-b"]

    def pick(**headers: str) -> str | None:
        found = route_for(
            routes, {k.replace("_", "-").encode(): v.encode() for k, v in headers.items()}
        )
        return found.group.name if found else None

    assert pick(x_user="alice", x_env="staging") == "canary-route-a"
    assert pick(x_user="alice", x_env="stage") == "canary-route-a"
    assert pick(x_user="alice", x_env="stagingx") == "canary-route-b"
    assert pick(x_user="albert") == "canary-route-b"
    assert pick(x_user="Alice") is None and pick() is None


def _service(ports: list[dict[str, Any]], **spec: Any) -> AppliedObject:
    body = {"kind": "Service", "spec": {"ports": ports, **spec}}
    ref = ObjectRef(Kind.SERVICE, "default", "web")
    return AppliedObject(ref, body, body, "svc.yaml", 1, "d", 1, 0.0, 0.0)


def test_app_protocol_http_makes_an_http_listener_with_the_affinity_as_cookie_age() -> None:
    """``appProtocol: http`` (any case) is an http listener keeping ClientIP's timeout (the
    cookie's Max-Age); other ports and protocols stay tcp."""
    obj = _service(
        [
            {"name": "web", "port": 80, "appProtocol": "HTTP"},
            {"name": "grpc", "port": 81, "appProtocol": "kubernetes.io/h2c"},
            {"name": "raw", "port": 82},
        ],
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}},
    )
    specs = listener_specs(obj, bind="127.0.0.1")
    assert {name: s.protocol for name, s in specs.items()} == {
        "web": "http",
        "grpc": "tcp",
        "raw": "tcp",
    }
    assert specs["web"].affinity_timeout == 600.0


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: a",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1024",
        b"HTTP/1.1 204 No Content\r\nConnection: close",
        b"POST /x HTTP/1.1\r\nHost: a\r\ncontent-length:  12 \r\nConnection: keep-alive",
    ],
)
def test_the_quick_parse_frames_a_usual_head_as_the_full_parser_does(head: bytes) -> None:
    """Same start line, body length and Connection as ``parse_head`` for usual heads."""
    quick, full = quick_head(head), parse_head(head)
    assert quick is not None
    assert quick.parts == full.parts and quick.lines == full.lines
    for request in (True, False):
        assert body_length(quick, request=request) == body_length(full, request=request)
    assert quick.headers.get(b"connection") == full.headers.get(b"connection")


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4",
        b"POST / HTTP/1.1\r\nContent-Length : 3",
        b"POST / HTTP/1.1\r\nX-Note: a\r\n Content-Length: 3",
        b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket",
        b"GET / HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1",
        b"GET / HTTP/1.1\r\nAccess-Control-Expose-Headers: Content-Length\r\nContent-Length: 0",
    ],
)
def test_the_quick_parse_leaves_every_unusual_head_to_the_full_parser(head: bytes) -> None:
    """Encodings, repeated or oddly written framing headers, folding, upgrades and headers
    to rewrite are not framed by the quick path."""
    assert quick_head(head) is None
