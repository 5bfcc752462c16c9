"""The verdict of one ``canary.analysis.metrics`` entry over the canary's requests in a window.

Pure, so the daemon's analysis and ``describe`` (reading the store in another process) measure
the same way:

- ``successRate: {min}``: the share of answered requests that were not 5xx (a 502/504 the proxy
  made because the canary did not answer counts as a 5xx);
- ``latencyP99: {max}``: the 99th percentile of the response times, estimated from the proxy's
  histogram as Prometheus' ``histogram_quantile`` does (linear inside the bucket; beyond the
  last finite bound it is that bound, printed as ``> 10s``);
- no verdict (``Inconclusive``) before ``minRequests`` answered requests in the window (default 1),
  so a canary nobody calls is never judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.proxy import LATENCY_BOUNDS
from reconciler.services.traffic import Counts
from reconciler.units import parse_duration

__all__ = ["DEFAULT_WINDOW", "Measurement", "Phase", "measure", "quantile", "window_of"]

DEFAULT_WINDOW = 60.0


class Phase(StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


@dataclass(frozen=True, slots=True)
class Measurement:
    """One metric measured once: the value (None before ``minRequests``) against its bound."""

    metric: str  # the metric's name
    measure: str  # "success-rate" | "latency-p99"
    value: float | None
    bound: float
    requests: int  # answered requests in the window
    window: float  # seconds
    phase: Phase

    def text(self) -> str:
        """``success-rate 0.90 < 0.95 over 212 requests in 10s`` (the event, describe)."""
        window = _seconds(self.window)
        span = f"over {self.requests} requests in {window}"
        if self.value is None:
            return f"{self.measure}: no verdict yet ({self.requests} requests in {window})"
        if self.measure == "success-rate":
            op = "<" if self.phase is Phase.FAILED else ">="
            return f"{self.measure} {self.value:.2f} {op} {self.bound:.2f} {span}"
        op = ">" if self.phase is Phase.FAILED else "<="
        shown = (
            f"> {_seconds(self.value)}"
            if self.value >= LATENCY_BOUNDS[-1]
            else _seconds(self.value)
        )
        return f"{self.measure} {shown} {op} {_seconds(self.bound)} {span}"


def _seconds(value: float) -> str:
    """``250ms``, ``4.5s``, ``10s``, ``1m`` (as a duration is written in a manifest)."""
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value >= 60 and value % 60 == 0:
        return f"{value / 60:g}m"
    return f"{round(value, 1):g}s"


def window_of(metric: Mapping[str, Any]) -> float:
    try:
        return parse_duration(metric.get("window", DEFAULT_WINDOW)) or DEFAULT_WINDOW
    except ValueError:
        return DEFAULT_WINDOW


def quantile(q: float, counts: Counts) -> float | None:
    """``histogram_quantile(q, ...)`` over the cumulative buckets; None without requests."""
    buckets = counts.latency_buckets
    total = buckets[-1] if buckets else 0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0
    for bound, cumulative in zip(LATENCY_BOUNDS, buckets, strict=False):
        if cumulative >= rank:
            inside = cumulative - below
            share = (rank - below) / inside if inside else 1.0
            return lower + (bound - lower) * share
        lower, below = bound, cumulative
    return LATENCY_BOUNDS[-1]


def measure(metric: Mapping[str, Any], counts: Counts, *, window: float) -> Measurement:
    """The verdict of ``metric`` (schema-valid) on ``counts`` over ``window`` seconds."""
    name = str(metric.get("name", ""))
    least = int(metric.get("minRequests", 1))
    answered = counts.answered
    if "successRate" in metric:
        bound = float(metric["successRate"]["min"])
        value = 1.0 - counts.responses[4] / answered if answered else None
        failed = value is not None and value < bound
        kind = "success-rate"
    else:
        bound = parse_duration(metric["latencyP99"]["max"])
        value = quantile(0.99, counts)
        failed = value is not None and value > bound
        kind = "latency-p99"
    if answered < least or value is None:
        return Measurement(name, kind, None, bound, answered, window, Phase.INCONCLUSIVE)
    phase = Phase.FAILED if failed else Phase.SUCCESSFUL
    return Measurement(name, kind, value, bound, answered, window, phase)
