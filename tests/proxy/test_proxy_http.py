"""HTTP listeners on real sockets: framing (keep-alive, chunked, pipelining, 100-continue,
HTTP/1.0), WebSocket tunnels, forwarded headers and the proxy's own 502/503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from http_backends import HttpBackend, RawClient, http_backends, read_response
from proxy_backends import run

from reconciler.proxy import BackendGroup, Endpoint, ListenerSpec
from reconciler.proxy.server import TcpProxy

SVC = "default/web"


@asynccontextmanager
async def http_proxy(
    *groups: BackendGroup, affinity: float | None = None
) -> AsyncIterator[tuple[TcpProxy, int]]:
    proxy = TcpProxy()
    spec = ListenerSpec(SVC, "http", "127.0.0.1", 0, affinity_timeout=affinity, protocol="http")
    await proxy.ensure_listener(spec)
    proxy.set_backends(SVC, "http", groups)
    try:
        yield proxy, proxy.address(SVC, "http")[1]
    finally:
        await proxy.close()


def one(backend: HttpBackend) -> BackendGroup:
    return BackendGroup("all", 1, (backend.endpoint,))


def test_keep_alive_reuses_one_upstream_connection_and_adds_forwarded_headers() -> None:
    """Ten requests on one client connection travel over one upstream connection, each with
    X-Forwarded-For (appended to the client's) and X-Forwarded-Proto."""

    async def scenario() -> None:
        async with http_backends("a") as b, http_proxy(one(b["a"])) as (proxy, port):
            client = await RawClient.connect(port)
            for _ in range(9):
                assert (await client.get()).text == "a"
            reply = await client.get(headers={"X-Forwarded-For": "10.0.0.9"})
            assert reply.status == 200 and "connection" not in reply.headers
            assert b["a"].connections() == 1
            assert b["a"].forwarded[0] == ("127.0.0.1", "http")
            assert b["a"].forwarded[-1] == ("10.0.0.9, 127.0.0.1", "http")
            stats = proxy.stats(SVC, "http").groups[0]
            assert stats.requests == 10 and stats.responses[1] == 10 and stats.in_flight == 0
            assert stats.latency_buckets[-1] == 10 and stats.latency_sum > 0
            await client.close()

    run(scenario())


def test_pipelined_requests_are_answered_in_order() -> None:
    """Three requests written at once (a GET, a chunked POST, a GET) get their three responses
    in request order."""

    async def scenario() -> None:
        async with http_backends("a") as b, http_proxy(one(b["a"])) as (_, port):
            client = await RawClient.connect(port)
            client.send(
                b"GET / HTTP/1.1\r\nHost: s\r\n\r\n"
                b"POST /echo HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nfirst\r\n7\r\n-second\r\n0\r\n\r\n"
                b"GET /chunked HTTP/1.1\r\nHost: s\r\n\r\n"
            )
            assert (await client.response()).text == "a"
            assert (await client.response()).body == b"first-second"
            last = await client.response()
            assert last.headers["transfer-encoding"] == "chunked" and last.body == b"one,two,three"
            await client.close()

    run(scenario())


def test_expect_100_continue_passes_the_interim_response() -> None:
    """A client that sends ``Expect: 100-continue`` gets the backend's 100 before it sends
    its body, then the final response."""

    async def scenario() -> None:
        async with http_backends("a") as b, http_proxy(one(b["a"])) as (_, port):
            client = await RawClient.connect(port)
            client.send(
                b"POST /echo HTTP/1.1\r\nHost: s\r\nContent-Length: 4\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            interim = await asyncio.wait_for(client.response(), 5)
            assert interim.status == 100
            client.send(b"body")
            final = await client.response()
            assert final.status == 200 and final.body == b"body"
            await client.close()

    run(scenario())


def test_http_1_0_gets_its_response_then_the_connection_closes() -> None:
    """An HTTP/1.0 request without keep-alive is answered with ``Connection: close`` and the
    connection ends; the upstream connection stays in the pool for the next client."""

    async def scenario() -> None:
        async with http_backends("a") as b, http_proxy(one(b["a"])) as (_, port):
            for _ in range(3):
                client = await RawClient.connect(port)
                client.send(b"GET / HTTP/1.0\r\n\r\n")
                reply = await client.response()
                assert reply.text == "a" and reply.headers["connection"] == "close"
                assert await client.reader.read() == b""
                await client.close()
            assert b["a"].connections() == 1

    run(scenario())


def test_connection_close_ends_the_client_connection_after_the_response() -> None:
    """``Connection: close`` from the client: the response says so and the proxy closes."""

    async def scenario() -> None:
        async with http_backends("a") as b, http_proxy(one(b["a"])) as (_, port):
            client = await RawClient.connect(port)
            reply = await client.get(headers={"Connection": "close"})
            assert reply.text == "a" and reply.headers["connection"] == "close"
            assert await client.reader.read() == b""
            await client.close()

    run(scenario())


def test_a_websocket_passes_through_as_a_tunnel() -> None:
    """A real WebSocket handshake through the proxy; text and binary frames go both ways."""

    async def scenario() -> None:
        async with (
            http_backends("a") as b,
            http_proxy(one(b["a"])) as (_, port),
            aiohttp.ClientSession() as session,
            session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws,
        ):
            assert (await ws.receive_str(timeout=5)) == "hello from a"
            await ws.send_str("ping")
            assert (await ws.receive_str(timeout=5)) == "echo ping"
            await ws.send_bytes(b"\x01\x02\x03")
            assert (await ws.receive_bytes(timeout=5)) == b"\x03\x02\x01"

    run(scenario())


def test_no_endpoint_is_a_503_and_a_refused_endpoint_a_counted_502() -> None:
    """Without endpoints the proxy answers 503 itself (counted as refused); when every
    endpoint refuses the connection it answers 502, counted in the group's failures."""

    async def scenario() -> None:
        async with http_proxy() as (proxy, port):
            reply = await (await RawClient.connect(port)).get()
            assert reply.status == 503 and "default/web" in reply.text
            assert proxy.stats(SVC, "http").refused == 1
            dead = Endpoint("dead", "127.0.0.1", _closed_port())
            proxy.set_backends(SVC, "http", (BackendGroup("all", 1, (dead,)),))
            reply = await (await RawClient.connect(port)).get()
            assert reply.status == 502
            stats = proxy.stats(SVC, "http").groups[0]
            assert stats.failed_requests == 1 and stats.responses[4] == 1 and stats.failed >= 1

    run(scenario())


def test_a_request_smuggling_head_is_refused_with_400() -> None:
    """Both Transfer-Encoding and Content-Length: 400, the backend never sees it."""

    async def scenario() -> None:
        async with http_backends("a") as b, http_proxy(one(b["a"])) as (_, port):
            client = await RawClient.connect(port)
            client.send(
                b"POST /echo HTTP/1.1\r\nHost: s\r\nContent-Length: 3\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            )
            reply = await read_response(client.reader)
            assert reply.status == 400 and b["a"].requests == 0
            await client.close()

    run(scenario())


def test_a_tcp_port_is_not_parsed() -> None:
    """Without ``protocol: http`` the port relays bytes: no header is added."""

    async def scenario() -> None:
        async with http_backends("a") as b:
            proxy = TcpProxy()
            await proxy.ensure_listener(ListenerSpec(SVC, "tcp", "127.0.0.1", 0))
            proxy.set_backends(SVC, "tcp", (one(b["a"]),))
            client = await RawClient.connect(proxy.address(SVC, "tcp")[1])
            assert (await client.get()).text == "a"
            assert b["a"].forwarded == [(None, None)]
            assert proxy.stats(SVC, "tcp").groups[0].requests == 0
            await client.close()
            await proxy.close()

    run(scenario())


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
