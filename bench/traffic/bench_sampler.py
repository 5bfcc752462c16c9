"""What request measurement (#20) costs the daemon's loop and the store.

Runs in process on a fake ``stats()`` source (the proxy's counters are what the sampler reads;
their cost is the proxy's, measured in ``bench/proxy``):

- ``TrafficSampler.sample()`` with N HTTP listeners x 3 groups, every group with new requests
  (the worst case: every series changes every second);
- an analysis window query (``window``) with an hour of samples retained for one Service;
- ``record_traffic``: one store batch (``STORE_EVERY`` = 5 s of every watched series: here all
  N canaries are under analysis, the worst case), durable;
- ``render_traffic``: the ``/metrics`` request families of N Services x 2 revisions.

Usage: ``. .venv/bin/activate && python bench/traffic/bench_sampler.py [--services 300]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from reconciler.proxy import LATENCY_BOUNDS, BackendGroup, GroupStats, ListenerSpec, ListenerStats
from reconciler.services.traffic import TrafficSampler
from reconciler.store import Store
from reconciler.store.traffic import RETENTION, record_traffic
from reconciler.web.traffic_metrics import render_traffic


class Counters:
    """N listeners x 3 groups; their counters are built before the run (a real client hands out
    the objects the data plane pushed), and grow at each ``step()`` unless ``idle``."""

    def __init__(self, services: int, *, rounds: int = 80) -> None:
        self.specs = [
            ListenerSpec(f"default/svc{i}", "http", "127.0.0.1", 10000 + i, protocol="http")
            for i in range(services)
        ]
        self.round = 0
        self.idle = False
        self._states = [
            {spec.service: self._stats(spec.service, (r + 1) * 7) for spec in self.specs}
            for r in range(rounds)
        ]

    @staticmethod
    def _stats(service: str, n: int) -> ListenerStats:
        buckets = tuple(n * (i + 1) // (len(LATENCY_BOUNDS) + 1) for i in range(12))
        return ListenerStats(
            service,
            "http",
            tuple(
                GroupStats(g, requests=n, responses=(0, n - 1, 0, 0, 1), latency_buckets=buckets)
                for g in ("stable", "canary", "canary-route-beta")
            ),
        )

    def step(self) -> None:
        if not self.idle:
            self.round = (self.round + 1) % len(self._states)

    def listeners(self) -> list[ListenerSpec]:
        return self.specs

    def stats(self, service: str, port_name: str) -> ListenerStats:
        return self._states[self.round][service]

    def backends(self, service: str, port_name: str) -> tuple[BackendGroup, ...]:
        return _BACKENDS

    def connection_failures(self, service: str, group: str) -> int:
        return 0


_BACKENDS = (
    BackendGroup("stable", 80, (), version="old"),
    BackendGroup("canary", 20, (), version="new"),
    BackendGroup("canary-route-beta", 0, (), version="new"),
)


def timed(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    """(median, p95) in milliseconds."""
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    return statistics.median(spent), spent[int(len(spent) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    clock = [1_700_000_000.0]
    proxy = Counters(args.services)
    sampler = TrafficSampler(proxy, now=lambda: clock[0])  # type: ignore[arg-type]
    sampler.sample()

    sampler.watched = frozenset({("default", "new")})  # every canary under analysis: worst case

    def sample() -> None:
        clock[0] += 1.0
        proxy.step()
        sampler.sample()

    rows = []
    rows.append(("sample(), every counter changed", *timed(sample, args.rounds)))
    proxy.idle = True
    rows.append(("sample(), no counter changed", *timed(sample, args.rounds)))
    proxy.idle = False
    counters = Counters(1)
    one = TrafficSampler(counters, now=lambda: clock[0])  # type: ignore[arg-type]
    one.watched = frozenset({("default", "new")})
    for _ in range(int(RETENTION)):
        clock[0] += 1.0
        counters.step()
        one.sample()
    rows.append(
        (
            "window(10s) of 1 Service, 1 h retained",
            *timed(lambda: one.window("default", "new", since=clock[0] - 10), args.rounds),
        )
    )
    rows.append(
        (
            "window(1h) of 1 Service, 1 h retained",
            *timed(lambda: one.window("default", "new", since=clock[0] - 3600), args.rounds),
        )
    )
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp)) as store:
        batch: list = []
        for _ in range(5):
            clock[0] += 1.0
            proxy.step()
            batch.extend(sampler.sample())
        rows.append(
            (
                f"record_traffic, 5 s of {len(batch)} series rows",
                *timed(lambda: record_traffic(store, batch, now=clock[0]), 20),
            )
        )
    totals = sampler.totals()
    rows.append(
        (
            f"render_traffic ({len(totals)} series)",
            *timed(lambda: render_traffic(totals), args.rounds),
        )
    )
    print(f"services: {args.services} x 3 groups (2 revisions each)")
    print("| measurement | median | p95 |\n|---|---|---|")
    for name, median, p95 in rows:
        print(f"| {name} | {median:.2f} ms | {p95:.2f} ms |")


if __name__ == "__main__":
    main()
