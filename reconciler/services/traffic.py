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

What the sampler keeps: the running totals per (Service, revision) since the daemon started
(``/metrics`` counters; a revision no group served for ``RETENTION`` seconds is dropped) and
each revision's requests in flight; the per-period deltas, for ``RETENTION`` seconds, of the
revisions being ``watched`` only (the canaries under analysis: their windows), which
``store/traffic.py`` also keeps in the store for ``describe`` in another process. A group
whose counters did not change since the last sample costs one comparison.
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
    seen_at: float = 0.0  # the last sample a group served this revision


class TrafficSampler:
    """Samples ``proxy.stats()`` (``sample``) and answers window queries (``window``).

    Every (Service, revision) gets running totals (``/metrics``); the per-period samples are
    kept, and handed to ``on_samples`` (the store), only for the revisions being ``watched``
    (the canaries under analysis), so memory and the store do not grow with the traffic of
    the whole host."""

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
        self.watched: frozenset[tuple[str, str]] = frozenset()  # (namespace, revision)
        self._last: dict[tuple[str, str, str], tuple[GroupStats, Counts]] = {}
        self._samples: deque[Sample] = deque()
        self._series: dict[tuple[str, str], _Series] = {}  # (service, revision)
        self._sampled_at: float | None = None
        self._totals: Mapping[tuple[str, str], tuple[Counts, int]] = {}  # replaced, never mutated

    def due(self) -> bool:
        return self._sampled_at is None or self.now() - self._sampled_at >= SAMPLE_SECONDS

    def sample(self) -> list[Sample]:
        """Book every group's new requests to its revision; returns this period's samples of
        the watched revisions."""
        now = self.now()
        first, self._sampled_at = self._sampled_at is None, now
        deltas: dict[tuple[str, str], Counts] = {}
        in_flight: dict[tuple[str, str], int] = {}
        seen: set[tuple[str, str, str]] = set()
        for spec in self.proxy.listeners():
            try:
                stats = self.proxy.stats(spec.service, spec.port_name)
                backends = self.proxy.backends(spec.service, spec.port_name)
            except ReconcilerError:  # the listener went away meanwhile
                continue
            versions = {g.name: g.version for g in backends}
            for group in stats.groups:
                key = (spec.service, spec.port_name, group.name)
                seen.add(key)
                booked = (spec.service, versions.get(group.name, ""))
                if group.in_flight:
                    in_flight[booked] = in_flight.get(booked, 0) + group.in_flight
                known = self._last.get(key)
                if known is not None and known[0] == group:
                    deltas.setdefault(booked, Counts())  # served, nothing new
                    continue
                counts = counts_of(group)
                self._last[key] = (group, counts)
                if known is None and first:
                    continue  # a baseline: what was counted before is not ours to date
                # a group that appeared since the last sample counted from 0
                delta = counts.since(known[1] if known is not None else Counts())
                deltas[booked] = deltas.get(booked, Counts()) + delta
        for gone in set(self._last) - seen:
            del self._last[gone]
        return self._book(now, deltas, in_flight)

    def _book(
        self,
        now: float,
        deltas: Mapping[tuple[str, str], Counts],
        in_flight: Mapping[tuple[str, str], int],
    ) -> list[Sample]:
        changed = False
        for key, kept in self._series.items():
            flying = in_flight.get(key, 0)
            changed |= kept.in_flight != flying
            kept.in_flight = flying
        out: list[Sample] = []
        for (service, revision), delta in sorted(deltas.items()):
            series = self._series.get((service, revision))
            if series is None:
                series = self._series[(service, revision)] = _Series()
                changed = True
            series.seen_at = now
            if not delta:
                continue
            changed = True
            series.total = series.total + delta
            series.in_flight = in_flight.get((service, revision), 0)
            if (service.partition("/")[0], revision) in self.watched:
                out.append(Sample(now, service, revision, delta, series.in_flight))
        for key in [k for k, s in self._series.items() if now - s.seen_at > RETENTION]:
            del self._series[key]  # a revision nobody served for an hour: its series ends
            changed = True
        if changed:
            self._totals = {k: (s.total, s.in_flight) for k, s in sorted(self._series.items())}
        self._samples.extend(out)
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
