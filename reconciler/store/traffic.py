"""The ``traffic`` table: request measurements per Service and revision, for another process.

The daemon's sampler (``services/traffic.py``) books each sample period's requests to the
revision that served them; analysis judges from its own memory, but ``describe`` and ``get
rollout`` run in another process and read the same numbers here. Writes come in batches (one
transaction per flush, never per request) and only for periods with requests, so an idle host
writes nothing; rows older than ``RETENTION`` seconds are deleted with each batch, and at most
``MAX_ROWS`` are kept whatever the clock says.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.store.core import Store

__all__ = ["MAX_ROWS", "RETENTION", "Counts", "Sample", "record_traffic", "traffic_window"]

MAX_ROWS = 200_000
RETENTION = 3600.0  # seconds of samples kept (here and in the daemon): the longest window


def _sum(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if len(a) == len(b):
        return tuple(map(operator.add, a, b))
    if len(a) < len(b):
        a, b = b, a
    return tuple(map(operator.add, a, b + (0,) * (len(a) - len(b))))


def _difference(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if len(a) != len(b):  # a histogram that appeared (a TCP port became http): all is new
        return a
    return tuple(map(operator.sub, a, b))


@dataclass(frozen=True, slots=True)
class Counts:
    """Requests over some span: answered by class, latency histogram, proxy-made failures."""

    responses: tuple[int, ...] = (0,) * 5  # 1xx..5xx
    latency_buckets: tuple[int, ...] = ()  # cumulative per LATENCY_BOUNDS, then +Inf
    latency_sum: float = 0.0
    requests: int = 0  # routed to the group (answered or not yet)
    failed: int = 0  # 502/503/504 the proxy answered itself (also in responses)

    @property
    def answered(self) -> int:
        return sum(self.responses)

    def __add__(self, other: Counts) -> Counts:
        if not other.requests and not other.latency_buckets and not any(other.responses):
            return self
        return Counts(
            _sum(self.responses, other.responses),
            _sum(self.latency_buckets, other.latency_buckets),
            self.latency_sum + other.latency_sum,
            self.requests + other.requests,
            self.failed + other.failed,
        )

    def since(self, earlier: Counts) -> Counts:
        """What was counted after ``earlier`` (a counter that went down restarted: all of it)."""
        if self.requests < earlier.requests or self.answered < earlier.answered:
            return self
        return Counts(
            _difference(self.responses, earlier.responses),
            _difference(self.latency_buckets, earlier.latency_buckets),
            max(0.0, self.latency_sum - earlier.latency_sum),
            self.requests - earlier.requests,
            max(0, self.failed - earlier.failed),
        )

    def __bool__(self) -> bool:
        return self.requests > 0 or self.answered > 0


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample period's requests of one revision behind one Service."""

    at: float
    service: str  # "namespace/name"
    revision: str  # pod-template-hash ("" when the group's pods are mixed)
    counts: Counts
    in_flight: int = 0


def record_traffic(store: Store, samples: Sequence[Sample], *, now: float) -> None:
    """Keep ``samples``; forget what is older than the retention (one transaction)."""
    rows = [
        (
            s.at,
            *s.service.split("/", 1),
            s.revision,
            s.counts.requests,
            json.dumps(s.counts.responses),
            json.dumps(s.counts.latency_buckets),
            s.counts.latency_sum,
            s.counts.failed,
            s.in_flight,
        )
        for s in samples
    ]
    conn = store._conn
    with store.transaction():
        conn.executemany(
            "INSERT INTO traffic (at, namespace, service, revision, requests, responses, "
            "latency, latency_sum, failed, in_flight) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("DELETE FROM traffic WHERE at < ?", (now - RETENTION,))
        conn.execute(
            "DELETE FROM traffic WHERE id <= (SELECT MAX(id) FROM traffic) - ?", (MAX_ROWS,)
        )


def traffic_window(store: Store, namespace: str, revision: str, *, since: float) -> Counts:
    """The requests to ``revision``'s pods behind any Service of ``namespace`` after ``since``."""
    total = Counts()
    for requests, responses, latency, latency_sum, failed in store._conn.execute(
        "SELECT requests, responses, latency, latency_sum, failed FROM traffic "
        "WHERE namespace = ? AND revision = ? AND at > ?",
        (namespace, revision, since),
    ):
        total = total + Counts(
            tuple(json.loads(responses)),
            tuple(json.loads(latency)),
            float(latency_sum),
            int(requests),
            int(failed),
        )
    return total
