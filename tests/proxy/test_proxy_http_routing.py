"""HTTP listeners route every request: exact weights over keep-alive connections, cookie
stickiness per version, header routes, and drain by request when an endpoint leaves."""

from __future__ import annotations

import asyncio

from http_backends import RawClient, http_backends
from proxy_backends import eventually, run
from test_proxy_http import SVC, http_proxy

from reconciler.proxy import BackendGroup, RequestMatch


def test_weights_apply_per_request_over_keep_alive_connections() -> None:
    """Stable 4 : canary 1: one keep-alive connection's 50 requests are exactly 10 canary
    and 40 stable; 10 concurrent connections of 50 requests add exactly 100 canary."""

    async def scenario() -> None:
        async with http_backends("s1", "s2", "c1") as b:
            stable = BackendGroup("stable", 4, (b["s1"].endpoint, b["s2"].endpoint))
            canary = BackendGroup("canary", 1, (b["c1"].endpoint,))
            async with http_proxy(stable, canary) as (proxy, port):
                seen: list[set[str]] = []

                async def connection() -> None:
                    client = await RawClient.connect(port)
                    names = set()
                    for _ in range(50):
                        names.add((await client.get()).text)
                    seen.append(names)
                    await client.close()

                await connection()  # alone: one keep-alive connection sees both versions
                assert seen[0] == {"s1", "s2", "c1"} and b["c1"].requests == 10
                await asyncio.gather(*(connection() for _ in range(10)))
                assert b["c1"].requests == 110
                assert b["s1"].requests + b["s2"].requests == 440
                counts = {g.name: g.requests for g in proxy.stats(SVC, "http").groups}
                assert counts == {"stable": 440, "canary": 110}

    run(scenario())


def test_a_cookie_keeps_a_client_on_its_version_while_that_version_serves() -> None:
    """With affinity the first response sets ``reconciler-version`` (Max-Age = the timeout);
    requests carrying it stay on that version, on new connections too, until the group
    stops taking traffic (weight 0); then they go to the other version and get its cookie."""

    async def scenario() -> None:
        async with http_backends("s", "c") as b:
            stable = BackendGroup("stable", 1, (b["s"].endpoint,), version="aaa")
            canary = BackendGroup("canary", 1, (b["c"].endpoint,), version="bbb")
            async with http_proxy(stable, canary, affinity=600) as (proxy, port):
                first = await (await RawClient.connect(port)).get()
                cookie = first.headers["set-cookie"]
                version = "aaa" if first.text == "s" else "bbb"
                assert cookie == f"reconciler-version={version}; Max-Age=600; Path=/; HttpOnly"
                for _ in range(10):
                    client = await RawClient.connect(port)
                    reply = await client.get(
                        headers={"Cookie": f"x=1; reconciler-version={version}"}
                    )
                    assert reply.text == first.text and "set-cookie" not in reply.headers
                    await client.close()
                mine = stable if version == "aaa" else canary
                other = canary if version == "aaa" else stable
                proxy.set_backends(
                    SVC,
                    "http",
                    (BackendGroup(mine.name, 0, mine.endpoints, version=mine.version), other),
                )
                client = await RawClient.connect(port)
                moved = await client.get(headers={"Cookie": f"reconciler-version={version}"})
                assert moved.text != first.text
                assert moved.headers["set-cookie"].startswith(
                    f"reconciler-version={other.version};"
                )
                await client.close()

    run(scenario())


def test_a_header_route_takes_exactly_the_matching_requests() -> None:
    """A header-route group (weight ignored) gets every request whose headers match all its
    entries (exact, prefix, regex), and no other; the weighted split never picks it."""

    async def scenario() -> None:
        async with http_backends("s", "c") as b:
            stable = BackendGroup("stable", 100, (b["s"].endpoint,))
            canary = BackendGroup("canary", 0, (b["c"].endpoint,))
            route = BackendGroup(
                "canary-route-beta",
                1000,
                (b["c"].endpoint,),
                match=(
                    RequestMatch("X-Canary", "yes"),
                    RequestMatch("user-agent", "Mozilla/", "prefix"),
                    RequestMatch("Cookie", r".*beta=(1|true).*", "regex"),
                ),
            )
            async with http_proxy(stable, canary, route) as (proxy, port):
                client = await RawClient.connect(port)
                matching = {"X-Canary": "yes", "User-Agent": "Mozilla/5.0", "Cookie": "beta=true"}
                for _ in range(20):
                    assert (await client.get(headers=matching)).text == "c"
                for partial in (
                    {"X-Canary": "yes", "User-Agent": "Mozilla/5.0"},
                    {"X-Canary": "YES", "User-Agent": "Mozilla/5.0", "Cookie": "beta=1"},
                    {"X-Canary": "yes", "User-Agent": "curl/8", "Cookie": "beta=1"},
                    {"X-Canary": "yes", "User-Agent": "Mozilla/5.0", "Cookie": "beta=2"},
                    {},
                ):
                    for _ in range(5):
                        assert (await client.get(headers=partial)).text == "s"
                counts = {g.name: g.requests for g in proxy.stats(SVC, "http").groups}
                assert counts == {"stable": 25, "canary": 0, "canary-route-beta": 20}
                await client.close()

    run(scenario())


def test_an_endpoint_removed_under_keep_alive_load_gets_no_new_request_and_nothing_fails() -> None:
    """Keep-alive clients run while backend b leaves the endpoints: its request in flight
    finishes, it gets no new requests, its idle upstream connections close, and no request
    fails, even when b then stops."""

    async def scenario() -> None:
        async with http_backends("a", "b") as b:
            both = BackendGroup("all", 1, (b["a"].endpoint, b["b"].endpoint))
            async with http_proxy(both) as (proxy, port):
                failures: list[str] = []
                done = 0
                stop = asyncio.Event()

                async def keep_alive_client() -> None:
                    nonlocal done
                    client = await RawClient.connect(port)
                    while not stop.is_set():
                        try:
                            reply = await client.get()
                        except (OSError, asyncio.IncompleteReadError) as exc:
                            failures.append(repr(exc))
                            return
                        if reply.status != 200:
                            failures.append(f"status {reply.status}")
                        done += 1
                    await client.close()

                # One request stays in flight to b across the removal.
                slow = await RawClient.connect(port)
                while True:
                    slow.send(b"GET /slow HTTP/1.1\r\nHost: s\r\n\r\n")
                    await eventually(lambda: b["a"].requests + b["b"].requests > 0)
                    if b["b"].requests:
                        break
                    b["a"].release.set()
                    await slow.response()
                    b["a"].release.clear()
                    b["a"].requests = 0
                clients = [asyncio.create_task(keep_alive_client()) for _ in range(5)]
                await eventually(lambda: done >= 100)
                proxy.set_backends(SVC, "http", (BackendGroup("all", 1, (b["a"].endpoint,)),))
                before = b["b"].requests
                start = done
                await eventually(lambda: done >= start + 200)
                # At most the request each client had in flight at the removal reached b.
                assert b["b"].requests <= before + 5
                b["b"].release.set()
                assert (await slow.response()).text == "b"
                await eventually(lambda: b["b"].connections() == 0)
                await b["b"].runner.cleanup()  # type: ignore[union-attr]  # the pod stops
                start = done
                await eventually(lambda: done >= start + 100)
                stop.set()
                await asyncio.gather(*clients)
                await slow.close()
                assert failures == []

    run(scenario())
