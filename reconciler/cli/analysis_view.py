"""What ``describe`` and ``get rollout`` show of a canary's analysis from real traffic (#20).

The daemon judges from its own memory; these commands run in another process, so they measure
the same way (``services/verdicts.py``) over the traffic the daemon wrote to the store (at most
``STORE_EVERY`` seconds behind), from the canary ReplicaSet's creation at the earliest. While
the canary runs, each metric's latest value against its bound; once the analysis aborted it,
the measured values that failed it (the abort message).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.engine.serialize import rollout_of
from reconciler.engine.state import RolloutState
from reconciler.services.verdicts import Measurement, measure, window_of
from reconciler.store import AppliedObject, Store
from reconciler.store.traffic import traffic_window

__all__ = ["analysis_document", "analysis_fields", "describe_analysis"]


def _analysis(obj: AppliedObject) -> tuple[Mapping[str, Any], RolloutState]:
    spec: Mapping[str, Any] = obj.spec.get("spec", {})
    strategy = spec.get("strategy", {})
    analysis = (strategy.get("canary") or {}).get("analysis") or {}
    if strategy.get("type") != "Canary":
        analysis = {}
    return analysis, rollout_of(obj.status)


def measurements(store: Store, obj: AppliedObject, *, now: float) -> list[Measurement]:
    """Each metric of the running canary measured now over the stored traffic."""
    analysis, rollout = _analysis(obj)
    current = rollout.current_pod_hash
    if not analysis or rollout.aborted or not rollout.updating:
        return []
    created = [rs.created_at for rs in store.list_replicasets(obj.ref) if rs.hash == current]
    began = created[0] if created else 0.0  # no window reaches before the canary's ReplicaSet
    out: list[Measurement] = []
    for metric in analysis.get("metrics") or []:
        window = window_of(metric)
        since = max(now - window, began)
        counts = traffic_window(store, obj.ref.namespace, str(current), since=since)
        out.append(measure(metric, counts, window=min(window, max(0.0, now - since))))
    return out


def analysis_fields(store: Store, obj: AppliedObject, *, now: float) -> list[tuple[str, str]]:
    """``[(label, text)]``: one per metric of a running canary, or the failed analysis."""
    analysis, rollout = _analysis(obj)
    message = rollout.abort_message
    if analysis and rollout.aborted:
        return [("Analysis", message)] if message else []
    return [(m.metric, f"{m.text()} ({m.phase})") for m in measurements(store, obj, now=now)]


def analysis_document(store: Store, obj: AppliedObject, *, now: float) -> dict[str, Any]:
    """The dashboard API's ``analysis`` of a deployment: each metric's measurement, and the
    message of the analysis that aborted the canary ("" if none)."""
    analysis, rollout = _analysis(obj)
    return {
        "metrics": [
            {
                "name": m.metric,
                "measure": m.measure,
                "phase": str(m.phase),
                "value": m.value,
                "bound": m.bound,
                "requests": m.requests,
                "windowSeconds": m.window,
                "text": m.text(),
            }
            for m in measurements(store, obj, now=now)
        ],
        "abortMessage": rollout.abort_message if analysis else "",
    }


def describe_analysis(store: Store, obj: AppliedObject, *, now: float) -> str:
    """The ``Analysis:`` block of ``describe deployment`` ("" when there is nothing to show)."""
    fields = analysis_fields(store, obj, now=now)
    if not fields:
        return ""
    return "Analysis:\n" + "".join(f"  {label}:\t{text}\n" for label, text in fields)
