"""Request measurements per Service and per revision, sampled from the proxy's counters.

The proxy counts requests per backend group *name* ("stable", "canary", "canary-route-x", "all"),
cumulatively since its listener started (``GroupStats``). Analysis and ``/metrics`` need them per
*revision* (the pod-template-hash a group serves, ``BackendGroup.version``) and over a window,
and a group's revision changes under it (the next rollout's canary is a new hash). So the
sampler takes the difference of every group's counters between two samples and books it to the
revision the group served at the sample: a revision's numbers are exact to one sample period
(``SAMPLE_SECONDS``). A counter that went down is a listener that started again (its whole count
is new); the first sample after the daemon started is only a baseline (a data plane
that outlived the previous daemon counted requests nobody can date).

What the sampler keeps: the per-period deltas for ``RETENTION`` seconds in memory (the analysis
windows), the running totals per (Service, revision) since the daemon started (``/metrics``
counters), and each revision's requests in flight; ``store/traffic.py`` keeps the deltas in the
store (for ``describe`` in another process) with the same retention.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.errors import ReconcilerError
from reconciler.log import get_logger
from reconciler.proxy import LATENCY_BOUNDS, GroupStats, Proxy
from reconciler.store.traffic import RETENTION, Counts, Sample

__all__ = ["RETENTION", "SAMPLE_SECONDS", "Counts", "Sample", "TrafficSampler", "counts_of"]

log = get_logger(component="traffic")

SAMPLE_SECONDS = 1.0
_BUCKETS = len(LATENCY_BOUNDS) + 1


def _pad(values: Iterable[int], size: int, *, cumulative: bool = False) -> tuple[int, ...]:
    """``values`` cut or filled to ``size`` (a cumulative histogram fills with its last count)."""
    out = tuple(values)[:size]
    fill = out[-1] if out and cumulative else 0
    return out + (fill,) * (size - len(out))


def counts_of(stats: GroupStats) -> Counts:
    """A group's cumulative request counters as ``Counts``."""
    return Counts(
        responses=_pad(stats.responses, 5),
        latency_buckets=_pad(stats.latency_buckets, _BUCKETS, cumulative=True),
        latency_sum=stats.latency_sum,
        requests=stats.requests,
        failed=stats.failed_requests,
    )


@dataclass(slots=True)
class _Series:
    total: Counts = field(default_factory=Counts)
    in_flight: int = 0


class TrafficSampler:
    """Samples ``proxy.stats()`` (``sample``) and answers window queries (``window``)."""

    def __init__(
        self,
        proxy: Proxy,
        *,
        now: Callable[[], float],
        on_samples: Callable[[list[Sample]], None] | None = None,
    ) -> None:
        self.proxy = proxy
        self.now = now
        self.on_samples = on_samples  # e.g. into the store
        self._last: dict[tuple[str, str, str], Counts] = {}  # (service, port, group) -> counts
        self._samples: deque[Sample] = deque()
        self._series: dict[tuple[str, str], _Series] = {}  # (service, revision)
        self._sampled_at: float | None = None
        self._totals: Mapping[tuple[str, str], tuple[Counts, int]] = {}  # replaced, never mutated

    def due(self) -> bool:
        return self._sampled_at is None or self.now() - self._sampled_at >= SAMPLE_SECONDS

    def sample(self) -> list[Sample]:
        """Book every group's new requests to its revision; returns this period's samples."""
        now = self.now()
        first, self._sampled_at = self._sampled_at is None, now
        deltas: dict[tuple[str, str], Counts] = {}
        in_flight: dict[tuple[str, str], int] = {}
        seen: set[tuple[str, str, str]] = set()
        for spec in self.proxy.listeners():
            try:
                stats = self.proxy.stats(spec.service, spec.port_name)
                versions = {
                    g.name: g.version for g in self.proxy.backends(spec.service, spec.port_name)
                }
            except ReconcilerError:  # the listener went away meanwhile
                continue
            for group in stats.groups:
                key = (spec.service, spec.port_name, group.name)
                seen.add(key)
                counts = counts_of(group)
                # a group that appeared since the last sample counted from 0; at the first
                # sample nobody knows since when
                previous = self._last.get(key, None if first else Counts())
                self._last[key] = counts
                booked = (spec.service, versions.get(group.name, ""))
                in_flight[booked] = in_flight.get(booked, 0) + group.in_flight
                if previous is None:
                    continue  # a baseline: what was counted before is not ours to date
                delta = counts.since(previous)
                if delta:
                    deltas[booked] = deltas.get(booked, Counts()) + delta
        for gone in set(self._last) - seen:
            del self._last[gone]
        for series_key, kept in self._series.items():
            kept.in_flight = in_flight.get(series_key, 0)
        out: list[Sample] = []
        for (service, revision), delta in sorted(deltas.items()):
            series = self._series.setdefault((service, revision), _Series())
            series.total = series.total + delta
            series.in_flight = in_flight.get((service, revision), 0)
            out.append(Sample(now, service, revision, delta, series.in_flight))
        self._samples.extend(out)
        self._totals = {k: (s.total, s.in_flight) for k, s in sorted(self._series.items())}
        while self._samples and self._samples[0].at < now - RETENTION:
            self._samples.popleft()
        if out and self.on_samples is not None:
            try:
                self.on_samples(out)
            except Exception as exc:  # a store that cannot write must not stop the sampling
                log.warning("traffic_not_stored", error=str(exc))
        return out

    def window(self, namespace: str, revision: str, *, since: float) -> Counts:
        """The requests to ``revision``'s pods behind any Service of ``namespace`` after
        ``since``."""
        prefix = f"{namespace}/"
        total = Counts()
        for sample in reversed(self._samples):
            if sample.at <= since:
                break
            if sample.revision == revision and sample.service.startswith(prefix):
                total = total + sample.counts
        return total

    def totals(self) -> Mapping[tuple[str, str], tuple[Counts, int]]:
        """``{(service, revision): (counts since the daemon started, in flight now)}``, as of
        the last sample (a snapshot: safe to read from the web server's thread)."""
        return self._totals
