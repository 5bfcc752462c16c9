"""The data plane's control messages and its sync: reconcile to the daemon's configuration
without closing a listener that stays (real TcpProxy, real sockets, no control socket)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from proxy_backends import ask, named_backends, run

from reconciler.proxy import BackendGroup, Endpoint, GroupStats, ListenerSpec, ListenerStats
from reconciler.proxy.control import (
    LineReader,
    encode,
    groups_from_wire,
    groups_to_wire,
    spec_from_wire,
    spec_to_wire,
    stats_from_wire,
    stats_to_wire,
)
from reconciler.proxy.handover import HandoverProxy
from reconciler.proxy.session import BadRequest, DataPlane, Session

WEB = "default/web"


def plane(tmp_path: Path) -> DataPlane:
    lock_fd = os.open(tmp_path / "lock", os.O_RDWR | os.O_CREAT, 0o600)  # closed by _stop only
    return DataPlane(tmp_path, HandoverProxy(), lock_fd=lock_fd, control=None)


def ensure(port: int = 0, *, service: str = WEB, name: str = "http") -> dict[str, object]:
    return {"op": "ensure", "spec": spec_to_wire(ListenerSpec(service, name, "127.0.0.1", port))}


def backends(*endpoints: Endpoint, service: str = WEB) -> dict[str, object]:
    groups = (BackendGroup("all", 1, endpoints),)
    return {
        "op": "backends",
        "service": service,
        "port_name": "http",
        "groups": groups_to_wire(groups),
    }


def test_wire_values_round_trip() -> None:
    """Specs, backend groups and counters come out of the wire as they went in."""
    spec = ListenerSpec(WEB, "http", "0.0.0.0", 8080, affinity_timeout=10800.0)
    groups = (
        BackendGroup("stable", 80, (Endpoint("a", "127.0.0.1", 1), Endpoint("b", "::1", 2))),
        BackendGroup("canary", 20, ()),
    )
    stats = ListenerStats(WEB, "http", (GroupStats("stable", 5, 1, 2),), refused=3)
    assert spec_from_wire(spec_to_wire(spec)) == spec
    assert groups_from_wire(groups_to_wire(groups)) == groups
    assert stats_from_wire(stats_to_wire(stats)) == stats


def test_line_reader_joins_messages_split_across_reads() -> None:
    """A message cut by the stream arrives whole, once; two in one read arrive as two."""
    reader = LineReader()
    data = encode({"op": "a"}) + encode({"op": "b", "n": 1})
    assert reader.feed(data[:5]) == []
    assert reader.feed(data[5:]) == [{"op": "a"}, {"op": "b", "n": 1}]
    with pytest.raises(ValueError, match="not an object"):
        reader.feed(b"[1]\n")


def test_a_sync_keeps_the_listening_socket_and_serves_old_backends_until_it_ends(
    tmp_path: Path,
) -> None:
    """A port that stays is not re-bound; staged backends apply only at ``sync end``."""

    async def scenario() -> None:
        dp = plane(tmp_path)
        daemon = Session(None)
        async with named_backends("old", "new") as b:
            answer = await dp.handle(daemon, ensure())
            assert answer is not None
            address = (answer["address"][0], answer["address"][1])
            await dp.handle(daemon, backends(b["old"].endpoint))
            sockets = dp.proxy.listening_sockets(WEB, "http")

            await dp.handle(daemon, {"op": "hello", "role": "daemon"})
            await dp.handle(daemon, {"op": "sync", "phase": "begin"})
            again = await dp.handle(daemon, ensure())
            assert again is not None and tuple(again["address"]) == address
            await dp.handle(daemon, backends(b["new"].endpoint))
            assert dp.proxy.listening_sockets(WEB, "http") == sockets  # the same socket objects
            assert {await ask(address) for _ in range(4)} == {"old"}  # staged, not applied

            await dp.handle(daemon, {"op": "sync", "phase": "end"})
            assert {await ask(address) for _ in range(4)} == {"new"}
            await dp.proxy.close()

    run(scenario())


def test_sync_end_drops_listeners_the_new_daemon_did_not_ask_for(tmp_path: Path) -> None:
    """A Service deleted while no daemon ran stops listening once the next daemon's sync ends."""

    async def scenario() -> None:
        dp = plane(tmp_path)
        daemon = Session(None)
        await dp.handle(daemon, ensure(service="default/kept"))
        gone = await dp.handle(daemon, ensure(service="default/gone"))
        assert gone is not None
        await dp.handle(daemon, {"op": "sync", "phase": "begin"})
        await dp.handle(daemon, ensure(service="default/kept"))
        new = await dp.handle(daemon, ensure(service="default/new"))
        assert {s.service for s in dp.proxy.listeners()} == {
            "default/kept",
            "default/gone",
            "default/new",
        }
        await dp.handle(daemon, {"op": "sync", "phase": "end"})
        assert {s.service for s in dp.proxy.listeners()} == {"default/kept", "default/new"}
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(tuple(gone["address"]), timeout=1).close()
        assert new is not None
        await dp.proxy.close()

    run(scenario())


def test_a_daemon_lost_mid_sync_leaves_the_previous_configuration(tmp_path: Path) -> None:
    """A daemon killed before ``sync end``: its staged backends are dropped, nothing is removed."""

    async def scenario() -> None:
        dp = plane(tmp_path)
        first = Session(None)
        async with named_backends("old", "new") as b:
            answer = await dp.handle(first, ensure())
            assert answer is not None
            address = (answer["address"][0], answer["address"][1])
            await dp.handle(first, backends(b["old"].endpoint))
            second = Session(None)
            await dp.handle(second, {"op": "hello", "role": "daemon"})
            await dp.handle(second, {"op": "sync", "phase": "begin"})
            await dp.handle(second, backends(b["new"].endpoint))
            dp.forget(second)  # its connection ended: killed mid-sync
            assert {await ask(address) for _ in range(4)} == {"old"}
            await dp.handle(first, {"op": "sync", "phase": "end"})  # no sync open: nothing
            assert {await ask(address) for _ in range(4)} == {"old"}
            assert [s.service for s in dp.proxy.listeners()] == [WEB]
            await dp.proxy.close()

    run(scenario())


def test_outside_a_sync_backends_apply_at_once(tmp_path: Path) -> None:
    """With no sync open (a running daemon), a backends message takes effect immediately."""

    async def scenario() -> None:
        dp = plane(tmp_path)
        session = Session(None)
        async with named_backends("a", "b") as b:
            answer = await dp.handle(session, ensure())
            assert answer is not None
            address = (answer["address"][0], answer["address"][1])
            await dp.handle(session, backends(b["a"].endpoint))
            assert await ask(address) == "a"
            await dp.handle(session, backends(b["b"].endpoint))
            assert await ask(address) == "b"
            hello = await dp.handle(session, {"op": "hello", "role": "cli"})
            assert hello is not None
            [port] = hello["ports"]
            assert groups_from_wire(port["groups"]) == (BackendGroup("all", 1, (b["b"].endpoint,)),)
            await dp.proxy.close()

    run(scenario())


def test_bad_requests_are_answered_with_an_error_not_a_crash(tmp_path: Path) -> None:
    """A taken port, a malformed message and an unknown op each give ``ok: false`` and a why."""

    async def scenario() -> None:
        dp = plane(tmp_path)
        session = Session(None)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            outcome = await dp._handle(session, ensure(taken.getsockname()[1]))
        assert isinstance(outcome, BadRequest)
        assert "cannot listen on 127.0.0.1" in str(outcome)
        assert "Address already in use" in str(outcome)
        malformed = await dp._handle(session, {"op": "ensure", "spec": {"service": "x"}})
        assert isinstance(malformed, BadRequest) and "bad 'ensure' message" in str(malformed)
        unknown = await dp._handle(session, {"op": "explode"})
        assert isinstance(unknown, BadRequest) and "unknown op 'explode'" in str(unknown)
        assert dp.proxy.listeners() == []
        await dp.proxy.close()

    run(scenario())
