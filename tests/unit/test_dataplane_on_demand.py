"""The data plane on demand: none for a folder without Services, one at the first Service, and
none left behind by a daemon that failed to start (a client stands in for the process)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

import pytest

from reconciler.daemon import dataplane as module
from reconciler.daemon.dataplane import OnDemandDataPlane
from reconciler.proxy import BackendGroup, Endpoint, ListenerSpec
from reconciler.proxy.fake import FakeProxy

WEB = ListenerSpec("default/web", "http", "127.0.0.1", 0)
GROUPS = (BackendGroup("all", 1, (Endpoint("web-1", "127.0.0.1", 4000),)),)


class _Client(FakeProxy):
    """A data plane client: started explicitly, as ``DataPlaneClient`` is."""

    made: ClassVar[list[_Client]] = []

    def __init__(self, state: Path) -> None:
        super().__init__()
        self.state = state
        self.started = False
        _Client.made.append(self)

    async def start(self) -> None:
        self.started = True


@pytest.fixture(autouse=True)
def _fresh_clients() -> None:
    _Client.made = []


def _plane(tmp_path: Path, *, running: bool) -> OnDemandDataPlane:
    return OnDemandDataPlane(tmp_path, client=_Client, running=lambda state: running)  # type: ignore[arg-type]


def test_no_service_no_data_plane(tmp_path: Path) -> None:
    """Nothing running and no listener asked for: no data plane is started, through close."""

    async def scenario() -> None:
        plane = _plane(tmp_path, running=False)
        await plane.prepare()
        plane.set_backends("default/web", "http", GROUPS)  # a refresh before any listener
        await plane.configured()
        assert plane.listeners() == [] and plane.connection_failures("default/web", "all") == 0
        await plane.close()
        assert _Client.made == [] and not plane.started

    asyncio.run(scenario())


def test_the_first_listener_starts_it_with_what_was_set_before(tmp_path: Path) -> None:
    """The first Service bound (after the start-up sync ended) starts the data plane, gives it
    the backends set meanwhile, ends its sync at once, and then listens."""

    async def scenario() -> None:
        plane = _plane(tmp_path, running=False)
        await plane.prepare()
        await plane.configured()
        plane.set_backends("default/web", "http", GROUPS)
        await plane.ensure_listener(WEB)
        (client,) = _Client.made
        assert client.started and client.configured_calls == 1
        assert plane.listeners() == [WEB] and plane.backends("default/web", "http") == GROUPS
        await plane.ensure_listener(ListenerSpec("default/api", "http", "127.0.0.1", 0))
        assert len(_Client.made) == 1  # one data plane for every Service

    asyncio.run(scenario())


def test_a_running_data_plane_is_connected_at_start_and_kept_by_a_failed_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One that outlived the previous daemon is connected to at once (it keeps serving until
    configured), and a failed start leaves it running."""
    stopped: list[Path] = []
    monkeypatch.setattr(module, "stop_dataplane", lambda state, drain: stopped.append(state))

    async def scenario() -> None:
        plane = _plane(tmp_path, running=True)
        await plane.prepare()
        (client,) = _Client.made
        assert client.started and client.configured_calls == 0
        await plane.abandon()
        assert client.closed and stopped == []

    asyncio.run(scenario())


def test_a_failed_start_stops_the_data_plane_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon that started a fresh data plane for its Services and then failed stops it."""
    stopped: list[Path] = []
    monkeypatch.setattr(module, "stop_dataplane", lambda state, drain: stopped.append(state))

    async def scenario() -> None:
        plane = _plane(tmp_path, running=False)
        await plane.prepare()
        await plane.ensure_listener(WEB)
        await plane.abandon()
        assert _Client.made[0].closed and stopped == [tmp_path]
        assert not plane.started

    asyncio.run(scenario())
