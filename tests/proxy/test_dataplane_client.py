"""The daemon's side of the data plane: what ``set_backends`` waits for, and the counters."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import structlog
from dataplane_helpers import (
    WEB,
    answer,
    backend,
    serving,
)
from proxy_backends import dead_endpoint, eventually, run

from reconciler.proxy import BackendGroup, ListenerSpec
from reconciler.proxy.client import DataPlaneClient


def test_connection_failures_and_stats_reach_the_daemon(state: Path) -> None:
    """Failed connects counted in the data plane show in ``connection_failures`` (canary
    analysis) and ``stats`` (metrics) of the client within a moment."""

    async def scenario() -> None:
        with backend() as pod:
            client = DataPlaneClient(state)
            await client.start()
            port = await serving(client, pod)
            client.set_backends(
                WEB,
                "http",
                (BackendGroup("stable", 1, (pod,)), BackendGroup("canary", 1, (dead_endpoint(),))),
            )
            await asyncio.sleep(0.1)  # the message is on its way; no answer to wait for
            for _ in range(6):
                assert await asyncio.to_thread(answer, port) == b"hi\n"  # retried on stable
            await eventually(lambda: client.connection_failures(WEB, "canary") == 3)
            stats = {g.name: g for g in client.stats(WEB, "http").groups}
            assert stats["canary"].failed == 3 and stats["stable"].total >= 6
            await client.close()

    run(scenario())


def test_set_backends_returns_once_a_removal_is_applied_and_never_waits_otherwise(
    state: Path,
) -> None:
    """A pod leaves the endpoints before it is signalled: ``set_backends`` that removes an
    endpoint (or changes the split) returns only once the data plane has applied it (here:
    after it was resumed from SIGSTOP), and the next connection avoids the pod; one that only
    adds returns at once."""

    async def scenario() -> None:
        with backend(b"a", "pod-a") as a, backend(b"b", "pod-b") as b:
            client = DataPlaneClient(state)
            await client.start()
            await client.ensure_listener(ListenerSpec(WEB, "http", "127.0.0.1", 0))
            await client.configured()
            port = client.address(WEB, "http")[1]
            plane = client.pid
            assert plane is not None

            os.kill(plane, signal.SIGSTOP)
            started = time.monotonic()
            client.set_backends(WEB, "http", (BackendGroup("all", 1, (a, b)),))  # adds only
            assert time.monotonic() - started < 0.2
            threading.Timer(0.5, os.kill, (plane, signal.SIGCONT)).start()
            started = time.monotonic()
            client.set_backends(WEB, "http", (BackendGroup("all", 1, (b,)),))  # removes pod-a
            waited = time.monotonic() - started
            assert 0.4 < waited < 1.0, waited
            assert {answer(port) for _ in range(6)} == {b"b"}

            # a new split (a canary step), nothing removed: confirmed too
            os.kill(plane, signal.SIGSTOP)
            threading.Timer(0.5, os.kill, (plane, signal.SIGCONT)).start()
            started = time.monotonic()
            split = (BackendGroup("stable", 80, (b,)), BackendGroup("canary", 20, (a,)))
            client.set_backends(WEB, "http", split)
            assert 0.4 < time.monotonic() - started < 1.0
            await client.close()

    run(scenario())


def test_a_stalled_data_plane_stalls_the_daemon_once_not_on_every_change(state: Path) -> None:
    """Removals wait at most 1 s for a data plane that does not answer, and only the first:
    later ones are only written until it answers again (the daemon never crawls)."""

    async def scenario() -> None:
        with backend(b"a", "pod-a") as a, backend(b"b", "pod-b") as b:
            client = DataPlaneClient(state)
            await client.start()
            await client.ensure_listener(ListenerSpec(WEB, "http", "127.0.0.1", 0))
            await client.configured()
            plane = client.pid
            assert plane is not None
            both = (BackendGroup("all", 1, (a, b)),)
            client.set_backends(WEB, "http", both)
            os.kill(plane, signal.SIGSTOP)
            try:
                with structlog.testing.capture_logs() as logs:
                    started = time.monotonic()
                    client.set_backends(WEB, "http", (BackendGroup("all", 1, (b,)),))
                    first = time.monotonic() - started
                    client.set_backends(WEB, "http", both)
                    started = time.monotonic()
                    client.set_backends(WEB, "http", (BackendGroup("all", 1, (a,)),))
                    second = time.monotonic() - started
            finally:
                os.kill(plane, signal.SIGCONT)
            assert 0.9 < first < 2.0 and second < 0.2, (first, second)
            assert [e["event"] for e in logs] == ["dataplane_slow"]
            await client.close()

    run(scenario())
