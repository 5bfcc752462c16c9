"""TcpProxy's own socket paths: slow handshakes, timeouts, flow control, resets, no leaked fds.

Loopback connects finish inside ``connect()``, so the proxy's wait-for-the-handshake path is
reached here with an endpoint whose accept queue is full: Linux drops the SYN and the connect
stays in progress until a retransmitted SYN finds room (after about a second).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import structlog
from proxy_backends import ask, custom_backend, dead_endpoint, eventually, named_backends, run

from reconciler.proxy import BackendGroup, Endpoint, ListenerSpec
from reconciler.proxy.server import TcpProxy

SERVICE = "default/web"
FD_DIR = "/proc/self/fd"


async def listening(proxy: TcpProxy, groups: tuple[BackendGroup, ...]) -> tuple[str, int]:
    proxy.set_backends(SERVICE, "http", groups)
    await proxy.ensure_listener(ListenerSpec(SERVICE, "http", "127.0.0.1", 0))
    return proxy.address(SERVICE, "http")


def _connected(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


@contextmanager
def unanswered_endpoint() -> Iterator[tuple[Endpoint, socket.socket]]:
    """An endpoint with a full accept queue (connects hang), and its listening socket."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        while True:  # fill the queue until a connect no longer completes at once
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
            if not _connected(filler):
                # The queue is full. This probe's own SYN would be retried too and could take
                # the place a test frees for the proxy's connect, so it goes.
                fillers.pop().close()
                break
            assert len(fillers) < 16, "accept queue never filled"
        yield Endpoint("unanswered", "127.0.0.1", port), listener
    finally:
        for sock in [*fillers, listener]:
            sock.close()


def open_fds() -> int:
    return len(os.listdir(FD_DIR))


def test_connect_timeout_is_retried_elsewhere_and_counted() -> None:
    """A handshake that does not finish in connect_timeout counts as a failure and is retried."""

    async def scenario() -> None:
        proxy = TcpProxy(connect_timeout=0.3)
        with unanswered_endpoint() as (hanging, _), structlog.testing.capture_logs() as logs:
            async with named_backends("a") as b:
                groups = (
                    BackendGroup("slow", 1, (hanging,)),  # first pick on a tie
                    BackendGroup("web", 1, (b["a"].endpoint,)),
                )
                address = await listening(proxy, groups)
                started = time.monotonic()
                assert await ask(address) == "a"
                assert time.monotonic() - started >= 0.3
                assert proxy.connection_failures(SERVICE, "slow") == 1
                assert proxy.connection_failures(SERVICE, "web") == 0
        failures = [e for e in logs if e["event"] == "backend_connect_failed"]
        assert [e["error"] for e in failures] == ["timed out after 0.3 s"]
        await proxy.close()

    run(scenario())


@pytest.mark.slow
def test_connect_that_completes_late_is_relayed() -> None:
    """A handshake still in progress is awaited, and the connection relays once it completes."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        proxy = TcpProxy(connect_timeout=5.0)
        with unanswered_endpoint() as (late, listener):
            address = await listening(proxy, (BackendGroup("web", 1, (late,)),))
            reader, writer = await asyncio.open_connection(*address)
            await eventually(lambda: len(proxy._connecting) == 1)  # the SYN was dropped
            listener.setblocking(False)
            while True:  # make room: the retransmitted SYN (after ~1 s) gets through
                try:
                    listener.accept()[0].close()
                except BlockingIOError:
                    break
            accepted, _ = await asyncio.wait_for(loop.sock_accept(listener), 5)
            with accepted:
                await loop.sock_sendall(accepted, b"late\n")
                assert await asyncio.wait_for(reader.readline(), 5) == b"late\n"
                writer.write(b"ping")
                assert await asyncio.wait_for(loop.sock_recv(accepted, 4), 5) == b"ping"
            assert proxy.connection_failures(SERVICE, "web") == 0
            writer.close()
        await proxy.close()

    run(scenario())


def test_close_during_a_connect_closes_the_client() -> None:
    """close() while a handshake is pending ends the client's connection and leaves no fd."""

    async def scenario() -> None:
        proxy = TcpProxy(connect_timeout=5.0)
        with unanswered_endpoint() as (hanging, _):
            before = open_fds()
            address = await listening(proxy, (BackendGroup("web", 1, (hanging,)),))
            reader, writer = await asyncio.open_connection(*address)
            await eventually(lambda: len(proxy._connecting) == 1)
            await proxy.close()
            assert await asyncio.wait_for(reader.read(), 2) == b""
            writer.close()
            await writer.wait_closed()
            await eventually(lambda: open_fds() == before)  # the listener is gone too

    run(scenario())


def test_endpoint_given_by_host_name_is_resolved() -> None:
    """An endpoint host that is a name (localhost) is resolved, then connected as usual."""

    async def scenario() -> None:
        proxy = TcpProxy()
        async with named_backends("named") as b:
            endpoint = Endpoint("named", "localhost", b["named"].endpoint.port)
            address = await listening(proxy, (BackendGroup("web", 1, (endpoint,)),))
            assert [await ask(address) for _ in range(3)] == ["named"] * 3
        await proxy.close()

    run(scenario())


def test_client_reset_frees_the_backend_connection() -> None:
    """A client that resets its connection ends the backend's connection too."""

    async def scenario() -> None:
        proxy = TcpProxy()
        async with named_backends("a") as b:
            address = await listening(proxy, (BackendGroup("web", 1, (b["a"].endpoint,)),))
            reader, writer = await asyncio.open_connection(*address)
            assert await asyncio.wait_for(reader.readline(), 5) == b"a\n"
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            await eventually(lambda: b["a"].open == 0)
            await eventually(lambda: proxy.stats(SERVICE, "http").groups[0].active == 0)
        await proxy.close()

    run(scenario())


def test_backend_reset_ends_the_client_connection() -> None:
    """A backend that resets mid-connection ends the client's connection promptly."""

    async def reset_after_hello(_: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"hello")
        await w.drain()
        sock = w.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.transport.abort()

    async def scenario() -> None:
        proxy = TcpProxy()
        async with custom_backend(reset_after_hello) as endpoint:
            address = await listening(proxy, (BackendGroup("web", 1, (endpoint,)),))
            reader, writer = await asyncio.open_connection(*address)
            try:
                received = await asyncio.wait_for(reader.read(), 5)
            except ConnectionResetError:
                received = b""
            assert received in (b"", b"hello")
            writer.close()
            await eventually(lambda: proxy.stats(SERVICE, "http").groups[0].active == 0)
        await proxy.close()

    run(scenario())


@pytest.mark.skipif(not os.path.isdir(FD_DIR), reason="needs /proc/self/fd")
def test_no_file_descriptor_outlives_its_connection() -> None:
    """Relayed, refused and retried connections all give their sockets back."""

    async def scenario() -> None:
        proxy = TcpProxy()
        async with named_backends("a") as b:
            before = open_fds()
            groups = (
                BackendGroup("web", 1, (b["a"].endpoint,)),
                BackendGroup("dead", 1, (dead_endpoint(),)),
            )
            address = await listening(proxy, groups)
            idle = open_fds()  # the listener and the proxy's own descriptors
            assert [await ask(address) for _ in range(50)] == ["a"] * 50
            assert proxy.connection_failures(SERVICE, "dead") == 25
            proxy.set_backends(SERVICE, "http", ())
            for _ in range(20):
                with pytest.raises(ConnectionResetError):
                    await ask(address)
            assert proxy.stats(SERVICE, "http").refused == 20
            await eventually(lambda: open_fds() == idle)
            await proxy.close()
            await eventually(lambda: open_fds() == before)

    run(scenario())


STREAM_TOTAL = 64 * 1024 * 1024  # far more than the loopback socket buffers hold (~20 MiB)
CHUNK = bytes(range(256)) * 256  # 64 KiB


class Firehose:
    """A backend that writes STREAM_TOTAL bytes as fast as its peer takes them."""

    def __init__(self) -> None:
        self.sent = 0
        self.waiting = False  # blocked in drain(): everything downstream is full
        self.finished = False
        self.failed = False

    async def handle(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while self.sent < STREAM_TOTAL:
                writer.write(CHUNK)
                self.sent += len(CHUNK)
                if writer.transport.get_write_buffer_size() > 0:
                    self.waiting = True
                    await writer.drain()
                    self.waiting = False
            await writer.drain()
        except ConnectionError:
            self.failed = True
        finally:
            self.finished = True


def test_reader_that_does_not_read_pauses_the_sender_and_then_gets_every_byte() -> None:
    """Flow control: a client that stops reading stops the backend; later it gets all bytes."""

    async def scenario() -> None:
        proxy = TcpProxy()
        firehose = Firehose()
        async with custom_backend(firehose.handle) as endpoint:
            address = await listening(proxy, (BackendGroup("web", 1, (endpoint,)),))
            reader, writer = await asyncio.open_connection(*address)
            await eventually(lambda: firehose.waiting)
            # Nothing can happen here, so this needs a window: with the client not reading,
            # the proxy must not keep reading the backend into memory.
            await asyncio.sleep(0.3)
            assert firehose.waiting and firehose.sent < STREAM_TOTAL // 2
            received, digest = 0, hashlib.sha256()
            while data := await asyncio.wait_for(reader.read(1024 * 1024), 5):
                received += len(data)
                digest.update(data)
            assert received == STREAM_TOTAL
            expected = hashlib.sha256()
            for _ in range(STREAM_TOTAL // len(CHUNK)):
                expected.update(CHUNK)
            assert digest.digest() == expected.digest()
            writer.close()
            await eventually(lambda: proxy.stats(SERVICE, "http").groups[0].active == 0)
        assert firehose.finished and not firehose.failed
        await proxy.close()

    run(scenario())


def test_reader_that_resets_while_data_waits_for_it_ends_both_sides() -> None:
    """A client reset while the proxy holds bytes for it also ends the backend's connection."""

    async def scenario() -> None:
        proxy = TcpProxy()
        firehose = Firehose()
        async with custom_backend(firehose.handle) as endpoint:
            address = await listening(proxy, (BackendGroup("web", 1, (endpoint,)),))
            _, writer = await asyncio.open_connection(*address)
            await eventually(lambda: firehose.waiting)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            await eventually(lambda: firehose.finished)
            assert firehose.failed  # reset: the rest of the stream went nowhere
            await eventually(lambda: proxy.stats(SERVICE, "http").groups[0].active == 0)
        await proxy.close()

    run(scenario())
