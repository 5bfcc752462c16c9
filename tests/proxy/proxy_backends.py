"""Real backends and clients for the proxy tests: asyncio servers on 127.0.0.1 port 0."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from reconciler.proxy import Endpoint
from tests.polling import wait_until as eventually  # the proxy tests await with this name

DEADLINE = 5.0


def run(coro: Coroutine[Any, Any, None]) -> None:
    """Run one test's coroutine with an overall deadline."""

    async def bounded() -> None:
        async with asyncio.timeout(20):
            await coro

    asyncio.run(bounded())


class NamedBackend:
    """Writes ``<name>\\n`` on connect, then echoes; remembers its open connections."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.server: asyncio.Server | None = None
        self.open = 0
        self.accepted = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.accepted += 1
        try:
            writer.write(f"{self.name}\n".encode())
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()
        except ConnectionError:
            pass
        finally:
            self.open -= 1

    @property
    def endpoint(self) -> Endpoint:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return Endpoint(self.name, "127.0.0.1", port)


@asynccontextmanager
async def named_backends(*names: str) -> AsyncIterator[dict[str, NamedBackend]]:
    backends = {name: NamedBackend(name) for name in names}
    for backend in backends.values():
        backend.server = await asyncio.start_server(backend.handle, "127.0.0.1", 0)
    try:
        yield backends
    finally:
        for backend in backends.values():
            assert backend.server is not None
            backend.server.close()
        # Connections end once the proxy has passed the client's close on to the backend.
        await eventually(lambda: all(b.open == 0 for b in backends.values()))


@asynccontextmanager
async def custom_backend(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[Endpoint]:
    handlers: set[asyncio.Task[None]] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handler(reader, writer)
        finally:
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    try:
        yield Endpoint("custom", "127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await eventually(lambda: not handlers)


def dead_endpoint(name: str = "dead") -> Endpoint:
    """An address where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return Endpoint(name, "127.0.0.1", port)


async def which_backend(
    address: tuple[str, int], *, source: str | None = None
) -> tuple[str, asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect (optionally from ``source``) and read the serving backend's name."""
    local = (source, 0) if source else None
    reader, writer = await asyncio.open_connection(*address, local_addr=local)
    line = await asyncio.wait_for(reader.readline(), DEADLINE)
    return line.decode().strip(), reader, writer


async def ask(address: tuple[str, int], *, source: str | None = None) -> str:
    """One short connection: which backend served it."""
    name, _, writer = await which_backend(address, source=source)
    writer.close()
    await writer.wait_closed()
    return name
