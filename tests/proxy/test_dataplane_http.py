"""HTTP listeners through the data-plane process: the spec, header routes and versions cross
the control socket, requests are routed one by one, drained by request, and counted; a
hand-over to a successor keeps a port http and its counters."""

from __future__ import annotations

import socket
from pathlib import Path

from http_backends import RawClient, http_backends
from proxy_backends import eventually, run

from reconciler.proxy import BackendGroup, GroupStats, ListenerSpec, ListenerStats, RequestMatch
from reconciler.proxy.client import DataPlaneClient
from reconciler.proxy.handover import HandoverProxy

SVC = "default/web"


def test_the_data_plane_routes_requests_drains_by_request_and_reports_counters(
    state: Path,
) -> None:
    """Through the data plane: 4:1 weights are exact per request on one keep-alive
    connection, a header route takes its requests, a removed endpoint gets no new request
    while the connection stays up, and the request counters reach the daemon."""

    async def scenario() -> None:
        async with http_backends("s", "c", "s2") as b:
            client = DataPlaneClient(state)
            await client.start()
            try:
                spec = ListenerSpec(SVC, "web", "127.0.0.1", 0, protocol="http")
                await client.ensure_listener(spec)
                stable = BackendGroup("stable", 4, (b["s"].endpoint, b["s2"].endpoint))
                canary = BackendGroup("canary", 1, (b["c"].endpoint,), version="c1")
                route = BackendGroup(
                    "canary-route-beta",
                    0,
                    (b["c"].endpoint,),
                    version="c1",
                    match=(RequestMatch("x-beta", "on"),),
                )
                client.set_backends(SVC, "web", (stable, canary, route))
                await client.configured()
                assert client.listeners()[0].protocol == "http"
                port = client.address(SVC, "web")[1]
                http = await RawClient.connect(port)
                for _ in range(100):
                    assert (await http.get()).status == 200
                assert b["c"].requests == 20
                for _ in range(10):
                    assert (await http.get(headers={"X-Beta": "on"})).text == "c"
                client.set_backends(SVC, "web", (BackendGroup("stable", 1, (b["s"].endpoint,)),))
                before = b["s2"].requests
                for _ in range(20):
                    assert (await http.get()).text == "s"
                assert b["s2"].requests == before
                await eventually(lambda: b["s2"].connections() == 0)
                await http.close()

                def counted() -> dict[str, GroupStats]:
                    return {g.name: g for g in client.stats(SVC, "web").groups}

                await eventually(
                    lambda: counted().get("canary-route-beta", GroupStats("")).requests == 10
                )
                groups = counted()
                assert groups["stable"].requests == 100 and groups["canary"].requests == 20
                assert groups["stable"].responses[1] == 100 and groups["stable"].in_flight == 0
                assert groups["canary"].latency_buckets[-1] == 20
            finally:
                await client.close()

    run(scenario())


def test_a_data_plane_answers_503_when_a_http_port_has_no_endpoint(state: Path) -> None:
    """An http port without endpoints answers the proxy's own 503, counted as refused."""

    async def scenario() -> None:
        client = DataPlaneClient(state)
        await client.start()
        try:
            await client.ensure_listener(ListenerSpec(SVC, "web", "127.0.0.1", 0, protocol="http"))
            await client.configured()
            http = await RawClient.connect(client.address(SVC, "web")[1])
            assert (await http.get()).status == 503
            await http.close()
            await eventually(lambda: client.stats(SVC, "web").refused == 1)
        finally:
            await client.close()

    run(scenario())


def test_an_http_listener_handed_over_stays_http_with_its_request_counters() -> None:
    """A successor adopting a predecessor's socket of an http port routes requests there
    (forwarded headers added), and continues the predecessor's request counters."""

    async def scenario() -> None:
        async with http_backends("a") as b:
            listening = socket.create_server(("127.0.0.1", 0))
            spec = ListenerSpec(SVC, "web", "127.0.0.1", 0, protocol="http")
            proxy = HandoverProxy()
            proxy.set_backends(SVC, "web", (BackendGroup("all", 1, (b["a"].endpoint,)),))
            await proxy.adopt_listener(spec, [listening])
            before = GroupStats("all", requests=7, responses=(0, 6, 0, 0, 1), failed_requests=1)
            proxy.restore_counters(ListenerStats(SVC, "web", groups=(before,)))
            http = await RawClient.connect(listening.getsockname()[1])
            assert (await http.get()).text == "a"
            assert b["a"].forwarded == [("127.0.0.1", "http")]
            (stats,) = proxy.stats(SVC, "web").groups
            assert stats.requests == 8 and stats.responses == (0, 7, 0, 0, 1)
            assert stats.failed_requests == 1 and stats.latency_buckets[-1] == 1
            await http.close()
            await proxy.close()

    run(scenario())
