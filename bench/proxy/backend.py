"""A fast HTTP/1.1 backend for the proxy benchmark: 1 KiB body per request, keep-alive.

Runs in its own process so it never shares an event loop with the proxy under test. Listens on
as many ports as asked (``python backend.py 2`` -> two backends), prints ``READY p1 p2`` and
serves until killed. ``Connection: close`` requests get one answer and a close, so a load
generator can measure the cost of a new connection per request too.
"""

from __future__ import annotations

import asyncio
import sys

BODY = b"x" * 1024
KEEP_ALIVE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1024\r\n\r\n" + BODY
CLOSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1024\r\n"
    b"Connection: close\r\n\r\n" + BODY
)


class Http(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end].lower(), self.buffer[end + 4 :]
            if b"connection: close" in head:
                self.transport.write(CLOSE)
                self.transport.close()
                return
            self.transport.write(KEEP_ALIVE)

    def eof_received(self) -> bool:
        return False


async def main(count: int) -> None:
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(Http, "127.0.0.1", 0, backlog=4096) for _ in range(count)]
    ports = [str(s.sockets[0].getsockname()[1]) for s in servers]
    print("READY", *ports, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2))
