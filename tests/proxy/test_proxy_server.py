"""TcpProxy on real sockets: forwarding, weights, affinity, draining, refusal, retries, rebinds."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
import structlog
from proxy_backends import (
    ask,
    custom_backend,
    dead_endpoint,
    eventually,
    named_backends,
    run,
    which_backend,
)

from reconciler.errors import NotFoundError
from reconciler.proxy import BackendGroup, GroupStats, ListenerError, ListenerSpec
from reconciler.proxy.server import TcpProxy

SERVICE = "default/web"


def spec(port: int = 0, *, bind: str = "127.0.0.1", affinity: float | None = None) -> ListenerSpec:
    return ListenerSpec(SERVICE, "http", bind, port, affinity_timeout=affinity)


async def listening(
    proxy: TcpProxy, groups: tuple[BackendGroup, ...], *, affinity: float | None = None
) -> tuple[str, int]:
    proxy.set_backends(SERVICE, "http", groups)
    await proxy.ensure_listener(spec(affinity=affinity))
    return proxy.address(SERVICE, "http")


def test_forwards_both_ways_including_a_large_stream() -> None:
    """Bytes reach the backend and come back unchanged, 8 MiB included (flow control)."""

    async def scenario() -> None:
        proxy = TcpProxy()
        async with named_backends("a") as backends:
            group = BackendGroup("web", 1, (backends["a"].endpoint,))
            address = await listening(proxy, (group,))
            name, reader, writer = await which_backend(address)
            assert name == "a"
            payload = bytes(range(256)) * 32 * 1024  # 8 MiB
            writer.write(payload)
            received = await reader.readexactly(len(payload))
            assert received == payload
            writer.close()
            await writer.wait_closed()
            await eventually(lambda: proxy.stats(SERVICE, "http").groups[0].active == 0)
            greeting = len(name) + 1  # the backend's name line, sent before the echo
            assert proxy.stats(SERVICE, "http").groups == (
                GroupStats(
                    "web", total=1, bytes_in=len(payload), bytes_out=greeting + len(payload)
                ),
            )
        await proxy.close()

    run(scenario())


def test_client_half_close_keeps_the_response_direction_open() -> None:
    """The client's EOF reaches the backend, and the backend's answer after it still arrives."""

    async def read_all_then_answer(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        request = await reader.read()  # until EOF
        w.write(b"got " + request)
        await w.drain()
        w.close()

    async def scenario() -> None:
        proxy = TcpProxy()
        async with custom_backend(read_all_then_answer) as endpoint:
            address = await listening(proxy, (BackendGroup("web", 1, (endpoint,)),))
            reader, writer = await asyncio.open_connection(*address)
            writer.write(b"hello")
            writer.write_eof()
            assert await asyncio.wait_for(reader.read(), 5) == b"got hello"
            writer.close()
        await proxy.close()

    run(scenario())


def test_backend_half_close_keeps_the_request_direction_open() -> None:
    """The backend's EOF reaches the client, and the client can still send afterwards."""
    received: list[bytes] = []

    async def banner_then_listen(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"banner")
        w.write_eof()
        received.append(await reader.read())
        w.close()

    async def scenario() -> None:
        proxy = TcpProxy()
        async with custom_backend(banner_then_listen) as endpoint:
            address = await listening(proxy, (BackendGroup("web", 1, (endpoint,)),))
            reader, writer = await asyncio.open_connection(*address)
            assert await asyncio.wait_for(reader.read(), 5) == b"banner"
            writer.write(b"still here")
            writer.write_eof()
            await eventually(lambda: received == [b"still here"])
            writer.close()
            await eventually(lambda: proxy.stats(SERVICE, "http").groups[0].active == 0)
        await proxy.close()

    run(scenario())


def test_canary_weight_over_1000_connections_is_exact() -> None:
    """setWeight 20: exactly 200 of 1,000 connections reach the canary pods."""

    async def scenario() -> None:
        proxy = TcpProxy()
        async with named_backends("s1", "s2", "c1") as b:
            groups = (
                BackendGroup("stable", 80, (b["s1"].endpoint, b["s2"].endpoint)),
                BackendGroup("canary", 20, (b["c1"].endpoint,)),
            )
            address = await listening(proxy, groups)
            served = Counter([await ask(address) for _ in range(1000)])
            assert served == {"s1": 400, "s2": 400, "c1": 200}
            stats = {g.name: g for g in proxy.stats(SERVICE, "http").groups}
            assert (stats["stable"].total, stats["canary"].total) == (800, 200)
        await proxy.close()

    run(scenario())


def test_client_ip_affinity_keeps_each_of_100_clients_on_one_version() -> None:
    """Sticky canary: 100 distinct 127.0.0.x clients each stay on one version; 20 are canary."""

    async def scenario() -> None:
        proxy = TcpProxy()
        async with named_backends("s1", "s2", "c1", "c2") as b:
            groups = (
                BackendGroup("stable", 80, (b["s1"].endpoint, b["s2"].endpoint)),
                BackendGroup("canary", 20, (b["c1"].endpoint, b["c2"].endpoint)),
            )
            address = await listening(proxy, groups, affinity=60.0)
            clients = [f"127.0.0.{n}" for n in range(2, 102)]
            seen: dict[str, set[str]] = {c: set() for c in clients}
            for _ in range(3):
                for client in clients:
                    seen[client].add(await ask(address, source=client))
            assert all(len(backends) == 1 for backends in seen.values())
            canary = [c for c, backends in seen.items() if backends & {"c1", "c2"}]
            assert len(canary) == 20
        await proxy.close()

    run(scenario())


def test_removed_endpoint_drains_while_new_connections_go_elsewhere() -> None:
    """An endpoint removed from the backends keeps its open connection but gets no new one."""

    async def scenario() -> None:
        proxy = TcpProxy()
        async with named_backends("old", "new") as b:
            address = await listening(proxy, (BackendGroup("web", 1, (b["old"].endpoint,)),))
            name, reader, writer = await which_backend(address)
            assert name == "old"

            proxy.set_backends(SERVICE, "http", (BackendGroup("web", 1, (b["new"].endpoint,)),))
            assert {await ask(address) for _ in range(5)} == {"new"}

            writer.write(b"still served")
            assert await reader.readexactly(12) == b"still served"
            writer.close()
            await writer.wait_closed()
            await eventually(lambda: b["old"].open == 0)
            assert b["old"].accepted == 1
            await eventually(lambda: proxy.stats(SERVICE, "http").groups[0].active == 0)
        await proxy.close()

    run(scenario())


def test_no_endpoints_refuses_within_100_ms() -> None:
    """A Service without endpoints resets a connection at once instead of hanging."""

    async def scenario() -> None:
        proxy = TcpProxy()
        address = await listening(proxy, (BackendGroup("web", 1, ()),))
        for _ in range(3):
            started = time.monotonic()
            writer = None
            # The reset can be quick enough to reach an asyncio client inside its connect.
            with pytest.raises(ConnectionResetError):
                reader, writer = await asyncio.open_connection(*address)
                await asyncio.wait_for(reader.read(1), 1)
                writer.write(b"x")
                await writer.drain()
                await reader.read(1)
            assert time.monotonic() - started < 0.1
            if writer is not None:
                writer.close()
        assert proxy.stats(SERVICE, "http").refused == 3
        await proxy.close()

    run(scenario())


def test_failed_connect_is_retried_on_another_endpoint_and_counted() -> None:
    """A refused connect to one endpoint is retried elsewhere and counted against its group."""

    async def scenario() -> None:
        proxy = TcpProxy()
        async with named_backends("s1") as b:
            groups = (
                BackendGroup("stable", 50, (b["s1"].endpoint,)),
                BackendGroup("canary", 50, (dead_endpoint(),)),
            )
            address = await listening(proxy, groups)
            with structlog.testing.capture_logs() as logs:
                assert [await ask(address) for _ in range(10)] == ["s1"] * 10
            assert proxy.connection_failures(SERVICE, "canary") == 5
            assert proxy.connection_failures(SERVICE, "stable") == 0
            assert [e["event"] for e in logs].count("backend_connect_failed") == 5
            stats = {g.name: g for g in proxy.stats(SERVICE, "http").groups}
            assert (stats["canary"].failed, stats["canary"].total) == (5, 0)
        await proxy.close()

    run(scenario())


def test_every_endpoint_dead_resets_the_client() -> None:
    """When no endpoint can be connected the client is reset, after a bounded few attempts."""

    async def scenario() -> None:
        proxy = TcpProxy()
        dead = tuple(dead_endpoint(f"dead-{i}") for i in range(5))
        address = await listening(proxy, (BackendGroup("web", 1, dead),))
        writer = None
        with pytest.raises(ConnectionResetError):  # in the client's connect, or its first read
            reader, writer = await asyncio.open_connection(*address)
            await asyncio.wait_for(reader.read(1), 2)
        if writer is not None:
            writer.close()
        assert proxy.connection_failures(SERVICE, "web") == 3
        assert proxy.stats(SERVICE, "http").refused == 1
        await proxy.close()

    run(scenario())


def test_listener_is_idempotent_and_rebinds_on_a_new_port() -> None:
    """Same spec: nothing changes. New port: the old one closes, the new one serves."""

    async def scenario() -> None:
        proxy = TcpProxy()
        async with named_backends("a") as b:
            first = await listening(proxy, (BackendGroup("web", 1, (b["a"].endpoint,)),))
            await proxy.ensure_listener(spec())
            assert proxy.address(SERVICE, "http") == first

            free_port = dead_endpoint().port
            await proxy.ensure_listener(spec(free_port))
            assert proxy.address(SERVICE, "http") == ("127.0.0.1", free_port)
            assert proxy.listeners() == [spec(free_port)]
            assert await ask(("127.0.0.1", free_port)) == "a"
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(*first)
        await proxy.close()

    run(scenario())


def test_taken_port_is_a_clear_error_and_the_old_listener_stays() -> None:
    """Binding a port someone else holds raises ListenerError; the previous port keeps serving."""

    async def scenario() -> None:
        proxy = TcpProxy()
        async with named_backends("a") as b:
            address = await listening(proxy, (BackendGroup("web", 1, (b["a"].endpoint,)),))
            squatter = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
            taken = squatter.sockets[0].getsockname()[1]
            with pytest.raises(ListenerError, match=r"default/web port http: .*in use"):
                await proxy.ensure_listener(spec(taken))
            assert await ask(address) == "a"
            squatter.close()
        await proxy.close()

    run(scenario())


def test_removed_listener_refuses_new_connections_and_lets_open_ones_finish() -> None:
    """remove_listener closes the port; a connection already forwarded carries on."""

    async def scenario() -> None:
        proxy = TcpProxy()
        async with named_backends("a") as b:
            address = await listening(proxy, (BackendGroup("web", 1, (b["a"].endpoint,)),))
            _, reader, writer = await which_backend(address)
            await proxy.remove_listener(SERVICE, "http")
            assert proxy.listeners() == []
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(*address)
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
            writer.close()
            with pytest.raises(NotFoundError):
                proxy.stats(SERVICE, "http")
        await proxy.close()

    run(scenario())


def test_close_leaves_no_tasks_or_connections() -> None:
    """close() cuts open connections and leaves no task of its own running."""

    async def scenario() -> None:
        proxy = TcpProxy()
        async with named_backends("a") as b:
            address = await listening(proxy, (BackendGroup("web", 1, (b["a"].endpoint,)),))
            _, reader, writer = await which_backend(address)
            await proxy.close()
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()
            assert asyncio.all_tasks() - {asyncio.current_task()} <= _backend_tasks()
            await eventually(lambda: b["a"].open == 0)
        assert proxy.listeners() == []

    run(scenario())


def _backend_tasks() -> set[asyncio.Task[object]]:
    """The test backends' own handler tasks (asyncio.start_server runs one per connection)."""
    return {t for t in asyncio.all_tasks() if "NamedBackend.handle" in repr(t.get_coro())}
