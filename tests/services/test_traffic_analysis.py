"""Traffic windows and metric verdicts of canary analysis, on a fake stats() source and a manual
clock: per-revision booking, minRequests, the window, the abort message, the store's copy."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.clock import ManualClock
from reconciler.objects import Kind, ObjectRef
from reconciler.proxy import (
    LATENCY_BOUNDS,
    BackendGroup,
    GroupStats,
    ListenerSpec,
    ListenerStats,
)
from reconciler.runtime import PodStatus
from reconciler.services.analysis import STORE_EVERY, CanaryAnalysis
from reconciler.services.traffic import Counts, TrafficSampler
from reconciler.services.verdicts import Phase, measure, quantile
from reconciler.store import Store
from reconciler.store.traffic import RETENTION, Sample, record_traffic, traffic_window

SERVICE = "default/web"


@dataclass
class _Group:
    version: str
    requests: int = 0
    responses: list[int] = field(default_factory=lambda: [0] * 5)
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS) + 1))

    def serve(self, n: int, *, status: int = 200, seconds: float = 0.004) -> None:
        """``n`` requests answered with ``status`` after ``seconds``."""
        self.requests += n
        self.responses[status // 100 - 1] += n
        bounds = (*LATENCY_BOUNDS, float("inf"))
        for i, bound in enumerate(bounds):
            if seconds <= bound:
                self.latency[i] += n


class FakeProxy:
    """The proxy's read side as the sampler sees it: cumulative counters per group name."""

    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {}

    def listeners(self) -> list[ListenerSpec]:
        return [ListenerSpec(SERVICE, "http", "127.0.0.1", 8080, protocol="http")]

    def stats(self, service: str, port_name: str) -> ListenerStats:
        return ListenerStats(
            service,
            port_name,
            tuple(
                GroupStats(
                    name,
                    requests=g.requests,
                    responses=(*g.responses,),  # type: ignore[arg-type]
                    latency_buckets=tuple(g.latency),
                )
                for name, g in self.groups.items()
            ),
        )

    def backends(self, service: str, port_name: str) -> tuple[BackendGroup, ...]:
        return tuple(BackendGroup(n, 1, (), version=g.version) for n, g in self.groups.items())

    def connection_failures(self, service: str, group: str) -> int:
        return 0


class NoPods:
    def pods(self) -> list[PodStatus]:
        return []


REF = ObjectRef(Kind.DEPLOYMENT, "default", "web")
METRICS = [
    {"name": "success-rate", "successRate": {"min": 0.95}, "minRequests": 50, "window": "10s"},
    {"name": "latency", "latencyP99": {"max": "250ms"}},
]


def _spec(metrics: list[dict[str, Any]] = METRICS, **analysis: Any) -> dict[str, Any]:
    return {
        "strategy": {
            "type": "Canary",
            "canary": {
                "steps": [{"setWeight": 10}],
                "analysis": {"interval": "2s", "metrics": metrics, **analysis},
            },
        }
    }


STATUS = {"rollout": {"currentPodHash": "new", "stableRS": "old"}}


def _analysis(
    proxy: FakeProxy, clock: ManualClock, **kw: Any
) -> tuple[CanaryAnalysis, list[ObjectRef]]:
    failed: list[ObjectRef] = []
    analysis = CanaryAnalysis(
        runtime=NoPods(),  # type: ignore[arg-type]
        proxy=proxy,  # type: ignore[arg-type]
        on_failure=failed.append,
        now=clock.now,
        **kw,
    )
    return analysis, failed


def _tick(analysis: CanaryAnalysis, clock: ManualClock, seconds: float) -> None:
    clock.advance(seconds)
    asyncio.run(analysis.check_due())


def test_sampler_books_requests_to_the_revision_a_group_served() -> None:
    """Deltas go to the group's version; the first sample is only a baseline; a new canary
    revision under the same group name starts from its own requests."""
    clock, proxy = ManualClock(), FakeProxy()
    proxy.groups = {"stable": _Group("old", requests=1000), "canary": _Group("new")}
    sampler = TrafficSampler(proxy, now=clock.now)  # type: ignore[arg-type]
    sampler.watched = frozenset({("default", "old"), ("default", "new"), ("default", "newer")})
    assert sampler.sample() == []  # what was counted before the daemon started is not dated
    proxy.groups["stable"].serve(90)
    proxy.groups["canary"].serve(10, status=500)
    clock.advance(1)
    samples = {s.revision: s.counts for s in sampler.sample()}
    assert samples["old"].responses[1] == 90
    assert samples["new"].responses[4] == 10
    proxy.groups["canary"].version = "newer"
    proxy.groups["canary"].serve(5)
    clock.advance(1)
    [sample] = sampler.sample()
    assert (sample.revision, sample.counts.requests) == ("newer", 5)
    assert sampler.window("default", "new", since=0).requests == 10
    assert sampler.window("other", "new", since=0).requests == 0


def test_counter_that_went_down_is_a_restarted_listener() -> None:
    """After a listener restart (counters back near 0) the new counts are all booked."""
    clock, proxy = ManualClock(), FakeProxy()
    proxy.groups = {"canary": _Group("new")}
    sampler = TrafficSampler(proxy, now=clock.now)  # type: ignore[arg-type]
    sampler.watched = frozenset({("default", "new")})
    sampler.sample()
    proxy.groups["canary"].serve(40)
    clock.advance(1)
    sampler.sample()
    proxy.groups = {"canary": _Group("new")}
    proxy.groups["canary"].serve(3)
    clock.advance(1)
    [sample] = sampler.sample()
    assert sample.counts.requests == 3
    assert sampler.totals()[(SERVICE, "new")][0].requests == 43


def test_window_only_counts_recent_samples() -> None:
    """A window of 10 s does not see requests booked 11 s ago."""
    clock, proxy = ManualClock(), FakeProxy()
    proxy.groups = {"canary": _Group("new")}
    sampler = TrafficSampler(proxy, now=clock.now)  # type: ignore[arg-type]
    sampler.watched = frozenset({("default", "new")})
    sampler.sample()
    proxy.groups["canary"].serve(7)
    clock.advance(1)
    sampler.sample()
    clock.advance(11)
    proxy.groups["canary"].serve(2)
    sampler.sample()
    assert sampler.window("default", "new", since=clock.now() - 10).requests == 2


def test_only_watched_revisions_keep_samples_all_keep_totals() -> None:
    """A revision no analysis watches has no samples (memory, store) but has its totals; a
    revision no group served for the retention loses its series."""
    clock, proxy = ManualClock(), FakeProxy()
    proxy.groups = {"stable": _Group("old"), "canary": _Group("new")}
    stored: list[Sample] = []
    sampler = TrafficSampler(proxy, now=clock.now, on_samples=stored.extend)  # type: ignore[arg-type]
    sampler.watched = frozenset({("default", "new")})
    sampler.sample()
    proxy.groups["stable"].serve(50)
    proxy.groups["canary"].serve(5)
    clock.advance(1)
    assert [s.revision for s in sampler.sample()] == ["new"]
    assert [s.revision for s in stored] == ["new"]
    assert sampler.window("default", "old", since=0).requests == 0
    assert sampler.totals()[(SERVICE, "old")][0].requests == 50
    del proxy.groups["stable"]
    clock.advance(RETENTION + 1)
    sampler.sample()
    assert (SERVICE, "old") not in sampler.totals()
    assert (SERVICE, "new") in sampler.totals()


def test_verdicts_success_rate_latency_and_min_requests() -> None:
    """successRate fails below its bound, passes at it, and has no verdict before minRequests."""
    rate = METRICS[0]
    counts = Counts(responses=(0, 190, 0, 0, 22))
    m = measure(rate, counts, window=10)
    assert m.phase is Phase.FAILED
    assert m.text() == "success-rate 0.90 < 0.95 over 212 requests in 10s"
    assert measure(rate, Counts(responses=(0, 95, 0, 0, 5)), window=10).phase is Phase.SUCCESSFUL
    early = measure(rate, Counts(responses=(0, 0, 0, 0, 49)), window=10)
    assert early.phase is Phase.INCONCLUSIVE
    assert early.value is None


def test_latency_p99_from_the_histogram() -> None:
    """p99 is interpolated in its bucket as histogram_quantile does; beyond 10 s it is 10 s."""
    fast = _Group("x")
    fast.serve(99, seconds=0.004)
    fast.serve(1, seconds=0.4)
    counts = Counts(responses=tuple(fast.responses), latency_buckets=tuple(fast.latency))
    assert quantile(0.99, counts) == pytest.approx(0.005)
    slow = _Group("y")
    slow.serve(10, seconds=0.3)
    counts = Counts(responses=tuple(slow.responses), latency_buckets=tuple(slow.latency))
    m = measure(METRICS[1], counts, window=60)
    assert m.phase is Phase.FAILED
    assert m.text() == "latency-p99 498ms > 250ms over 10 requests in 1m"
    never = _Group("z")
    never.serve(5, seconds=30)
    assert quantile(0.99, Counts(latency_buckets=tuple(never.latency))) == LATENCY_BOUNDS[-1]


def test_failing_canary_is_reported_with_its_measured_values() -> None:
    """10 % 500s on the canary's requests: one failure and the abort message with the values;
    the stable's requests do not count."""
    clock, proxy = ManualClock(), FakeProxy()
    proxy.groups = {"stable": _Group("old"), "canary": _Group("new")}
    analysis, failed = _analysis(proxy, clock)
    analysis.track(REF, _spec(), STATUS)
    _tick(analysis, clock, 0)
    proxy.groups["stable"].serve(1000)
    proxy.groups["canary"].serve(30)
    _tick(analysis, clock, 2)
    assert failed == []  # 30 < minRequests: no verdict
    assert analysis.measurements(REF)[0].phase is Phase.INCONCLUSIVE
    proxy.groups["canary"].serve(60)
    proxy.groups["canary"].serve(10, status=503)
    _tick(analysis, clock, 2)
    assert failed == [REF]
    assert analysis.failures(REF, "new") == 1
    assert analysis.verdict(REF, "new") == (
        'Metric "success-rate" assessed Failed: success-rate 0.90 < 0.95 over 100 requests in 4s'
    )


def test_a_retried_canary_is_judged_on_requests_after_it_started() -> None:
    """Once aborted (no longer tracked) and retried, the old failing requests are out of the
    window."""
    clock, proxy = ManualClock(), FakeProxy()
    proxy.groups = {"canary": _Group("new")}
    analysis, failed = _analysis(proxy, clock)
    analysis.track(REF, _spec(), STATUS)
    _tick(analysis, clock, 0)
    proxy.groups["canary"].serve(100, status=500)
    _tick(analysis, clock, 2)
    assert failed == [REF]
    analysis.track(REF, _spec(), {"rollout": {**STATUS["rollout"], "abort": True}})
    _tick(analysis, clock, 1)
    analysis.track(REF, _spec(), STATUS)
    proxy.groups["canary"].serve(100)
    _tick(analysis, clock, 2)
    assert failed == [REF]
    assert analysis.measurements(REF)[0].phase is Phase.SUCCESSFUL


def test_sampled_traffic_reaches_the_store_in_batches(state_dir: Path) -> None:
    """The store gets the canary's periods every STORE_EVERY seconds; describe reads the same
    window from it; rows past the retention are deleted."""
    clock, proxy = ManualClock(), FakeProxy()
    proxy.groups = {"canary": _Group("new")}
    with Store.open(state_dir) as store:
        analysis, _ = _analysis(proxy, clock, store=store)
        analysis.track(REF, _spec(), STATUS)
        _tick(analysis, clock, 0)
        proxy.groups["canary"].serve(20, status=500)
        _tick(analysis, clock, 1)
        assert traffic_window(store, "default", "new", since=0).requests == 0  # not yet
        _tick(analysis, clock, STORE_EVERY)
        stored = traffic_window(store, "default", "new", since=0)
        assert (stored.requests, stored.responses[4]) == (20, 20)
        record_traffic(store, [], now=clock.now() + RETENTION + 10)
        assert traffic_window(store, "default", "new", since=0).requests == 0


def test_request_metrics_per_revision_parse_as_prometheus_text() -> None:
    """/metrics' request families: requests by code class, the latency histogram and in-flight
    per (Service, revision), valid for Prometheus' parser."""
    from prometheus_client.parser import text_string_to_metric_families

    from reconciler.web.traffic_metrics import render_traffic

    clock, proxy = ManualClock(), FakeProxy()
    proxy.groups = {"stable": _Group("old"), "canary": _Group("new")}
    sampler = TrafficSampler(proxy, now=clock.now)  # type: ignore[arg-type]
    sampler.sample()
    proxy.groups["stable"].serve(9)
    proxy.groups["canary"].serve(1, status=500, seconds=0.3)
    clock.advance(1)
    sampler.sample()
    text = render_traffic(sampler.totals(), {("default", "old"): "1", ("default", "new"): "2"})
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = {
        (s.labels["pod_template_hash"], s.labels["code_class"]): s.value
        for s in families["reconciler_service_requests"].samples
    }
    assert requests[("old", "2xx")] == 9
    assert requests[("new", "5xx")] == 1
    assert requests[("old", "5xx")] == 0
    buckets = {
        (s.labels["pod_template_hash"], s.labels.get("le")): s.value
        for s in families["reconciler_service_request_duration_seconds"].samples
        if s.name.endswith("_bucket")
    }
    assert buckets[("new", "0.25")] == 0
    assert buckets[("new", "0.5")] == 1
    assert buckets[("old", "+Inf")] == 9
    flying = families["reconciler_service_requests_in_flight"].samples[0].labels
    assert (flying["service"], flying["revision"], flying["pod_template_hash"]) == (
        "web",
        "2",
        "new",
    )


def test_describe_and_get_rollout_fields_from_the_store(state_dir: Path) -> None:
    """While the canary runs each metric shows its value from the stored traffic; once the
    analysis aborted it, the failing measurement is shown instead."""
    from reconciler.cli.analysis_view import analysis_document, analysis_fields, describe_analysis

    spec = {"spec": _spec()}
    with Store.open(state_dir) as store:
        obj = store.put_object(
            ref=REF, manifest=spec, spec=spec, source="web.yaml", line=1, digest="d", now=100.0
        )
        store.set_status(REF, dict(STATUS))
        counts = Counts(responses=(0, 99, 0, 0, 1), latency_buckets=(100,) * 12, requests=100)
        record_traffic(store, [Sample(95.0, SERVICE, "new", counts)], now=100.0)
        obj = store.get_object(REF)
        assert obj is not None
        fields = dict(analysis_fields(store, obj, now=100.0))
        assert fields["success-rate"] == (
            "success-rate 0.99 >= 0.95 over 100 requests in 10s (Successful)"
        )
        assert fields["latency"] == "latency-p99 5ms <= 250ms over 100 requests in 1m (Successful)"
        assert describe_analysis(store, obj, now=100.0).startswith("Analysis:\n  success-rate:")
        document = analysis_document(store, obj, now=100.0)
        assert [(m["name"], m["phase"], m["requests"]) for m in document["metrics"]] == [
            ("success-rate", "Successful", 100),
            ("latency", "Successful", 100),
        ]
        assert document["metrics"][0]["value"] == pytest.approx(0.99)
        assert describe_analysis(store, obj, now=200.0) == (
            "Analysis:\n  success-rate:\tsuccess-rate: no verdict yet (0 requests in 10s)"
            " (Inconclusive)\n  latency:\tlatency-p99: no verdict yet (0 requests in 1m)"
            " (Inconclusive)\n"
        )
        message = 'Metric "success-rate" assessed Failed: success-rate 0.90 < 0.95 over 212 ...'
        store.set_status(
            REF, {"rollout": {**STATUS["rollout"], "abort": True, "abortMessage": message}}
        )
        obj = store.get_object(REF)
        assert obj is not None
        assert analysis_fields(store, obj, now=100.0) == [("Analysis", message)]
