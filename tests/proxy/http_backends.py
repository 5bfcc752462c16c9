"""Real HTTP backends (aiohttp servers on 127.0.0.1 port 0) and a raw keep-alive client.

The client is a few lines over asyncio streams rather than an HTTP library, so that a test
controls exactly what goes on the wire: pipelined requests in one write, HTTP/1.0, an
``Expect: 100-continue`` head without its body, chunked bodies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from reconciler.proxy import Endpoint

__all__ = ["HttpBackend", "RawClient", "Response", "http_backends", "read_response"]


class HttpBackend:
    """Answers ``<name>`` on ``/``, echoes bodies on ``/echo``, streams chunks on ``/chunked``,
    waits on ``/slow``, echoes WebSocket frames on ``/ws``; counts its requests."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests = 0
        self.forwarded: list[tuple[str | None, str | None]] = []  # X-Forwarded-For, -Proto
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.release = asyncio.Event()  # ``/slow`` answers once set

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/", self.hello)
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_get("/chunked", self.chunked)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/ws", self.websocket)
        return app

    def count(self, request: web.Request) -> None:
        self.requests += 1
        headers = request.headers
        self.forwarded.append((headers.get("X-Forwarded-For"), headers.get("X-Forwarded-Proto")))

    async def hello(self, request: web.Request) -> web.Response:
        self.count(request)
        return web.Response(text=self.name)

    async def echo(self, request: web.Request) -> web.Response:
        self.count(request)
        return web.Response(body=await request.read())

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        self.count(request)
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"one,", b"two,", b"three"):
            await response.write(part)
        await response.write_eof()
        return response

    async def slow(self, request: web.Request) -> web.Response:
        self.count(request)
        await self.release.wait()
        return web.Response(text=self.name)

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        self.count(request)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(f"hello from {self.name}")
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(f"echo {message.data}")
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data[::-1])
        return ws

    def connections(self) -> int:
        """Client (here: proxy upstream) connections open to this backend now."""
        assert self.runner is not None and self.runner.server is not None
        return len(self.runner.server.connections)

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.name, "127.0.0.1", self.port)


@asynccontextmanager
async def http_backends(*names: str) -> AsyncIterator[dict[str, HttpBackend]]:
    backends = {name: HttpBackend(name) for name in names}
    for backend in backends.values():
        backend.runner = web.AppRunner(backend.app(), handle_signals=False)
        await backend.runner.setup()
        site = web.TCPSite(backend.runner, "127.0.0.1", 0)
        await site.start()
        backend.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield backends
    finally:
        for backend in backends.values():
            backend.release.set()
            assert backend.runner is not None
            await backend.runner.cleanup()


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    raw_head: bytes = field(repr=False, default=b"")

    @property
    def text(self) -> str:
        return self.body.decode()


async def read_response(reader: asyncio.StreamReader, *, head_only: bool = False) -> Response:
    """One response: head, then its body by Content-Length, chunks, or until EOF."""
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw[:-4].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    if head_only or status < 200 or status in (204, 304):
        return Response(status, headers, b"", raw)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                break
            body += (await reader.readexactly(size + 2))[:-2]
        return Response(status, headers, body, raw)
    if "content-length" in headers:
        return Response(
            status, headers, await reader.readexactly(int(headers["content-length"])), raw
        )
    return Response(status, headers, await reader.read(), raw)


class RawClient:
    """One client connection: write bytes, read responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def get(self, path: str = "/", headers: dict[str, str] | None = None) -> Response:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: svc\r\n{extra}\r\n".encode())
        return await read_response(self.reader)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def response(self) -> Response:
        return await read_response(self.reader)

    async def close(self) -> None:
        self.writer.close()
        with suppress(ConnectionError):
            await self.writer.wait_closed()
