"""What ``describe`` and ``get rollout`` show of a canary's analysis from real traffic (#20).

The daemon judges from its own memory; these commands run in another process, so they measure
the same way (``services/verdicts.py``) over the traffic the daemon wrote to the store (at most
``STORE_EVERY`` seconds behind). While the canary runs, each metric's latest value against its
bound; once the analysis aborted it, the measured values that failed it (the abort message).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.services.verdicts import measure, window_of
from reconciler.store import AppliedObject, Store
from reconciler.store.traffic import traffic_window

__all__ = ["analysis_fields", "describe_analysis"]


def analysis_fields(store: Store, obj: AppliedObject, *, now: float) -> list[tuple[str, str]]:
    """``[(label, text)]``: one per metric of a running canary, or the failed analysis."""
    spec: Mapping[str, Any] = obj.spec.get("spec", {})
    strategy = spec.get("strategy", {})
    analysis = (strategy.get("canary") or {}).get("analysis") or {}
    rollout: Mapping[str, Any] = obj.status.get("rollout") or {}
    if strategy.get("type") != "Canary" or not analysis:
        return []
    message = str(rollout.get("abortMessage") or "")
    if rollout.get("abort"):
        return [("Analysis", message)] if message else []
    current, stable = rollout.get("currentPodHash"), rollout.get("stableRS")
    if not current or current == stable:
        return []
    out: list[tuple[str, str]] = []
    for metric in analysis.get("metrics") or []:
        window = window_of(metric)
        counts = traffic_window(store, obj.ref.namespace, str(current), since=now - window)
        measured = measure(metric, counts, window=window)
        out.append((str(metric.get("name", "")), f"{measured.text()} ({measured.phase})"))
    return out


def describe_analysis(store: Store, obj: AppliedObject, *, now: float) -> str:
    """The ``Analysis:`` block of ``describe deployment`` ("" when there is nothing to show)."""
    fields = analysis_fields(store, obj, now=now)
    if not fields:
        return ""
    return "Analysis:\n" + "".join(f"  {label}:\t{text}\n" for label, text in fields)
