"""``describe deployment`` and ``describe replicaset``: kubectl's pages for the workloads.

Section order and words as kubectl's (semantics §2.7), plus what a kubectl user would look for
here: ``Manifest Errors:`` when the manifest currently fails validation (the last good spec
keeps running), ``Drift:`` when what runs is not what the folder asks for
(``reconciler.folder.drift``), and ``Rollout:`` for BlueGreen and Canary deployments (phase,
steps completed as Argo counts them, weights).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.cli.analysis_view import describe_analysis
from reconciler.cli.describe_text import (
    annotations_text,
    events_text,
    labels_text,
    render,
    rfc1123z,
    selector_text,
)
from reconciler.cli.drift_view import describe_drift, drifted_cells
from reconciler.cli.get import object_or_fail
from reconciler.cli.history import describe_pod_template
from reconciler.cli.views import deployment_object, pods_of
from reconciler.engine.serialize import rollout_of
from reconciler.engine.state import RolloutState
from reconciler.errors import NotFoundError
from reconciler.folder.drift import store_drift
from reconciler.objects import Kind, ObjectRef
from reconciler.store import ReplicaSetRow, Store

__all__ = ["describe_deployment", "describe_replicaset"]


def _rs_list(rows: Sequence[ReplicaSetRow]) -> str:
    if not rows:
        return "<none>"
    return ", ".join(
        f"{rs.name} ({int(rs.status.get('replicas', 0))}/{rs.replicas} replicas created)"
        for rs in rows
    )


def _rollout_section(spec: Mapping[str, Any], rollout: RolloutState) -> str:
    strategy = spec.get("strategy", {}).get("type", "")
    if strategy not in ("BlueGreen", "Canary") or rollout.is_empty:
        return ""
    out = "Rollout:\n"
    out += f"  Phase:\t{rollout.phase or 'Progressing'}\n"
    if rollout.message:
        out += f"  Message:\t{rollout.message}\n"
    if strategy == "Canary":
        steps = spec["strategy"].get("canary", {}).get("steps") or []
        if steps:
            out += f"  Step:\t{rollout.current_step_index}/{len(steps)}\n"
        out += f"  SetWeight:\t{rollout.set_weight or 0}\n"
        out += f"  ActualWeight:\t{rollout.actual_weight or 0}\n"
    else:
        out += f"  Active Selector:\t{rollout.active_selector or '<none>'}\n"
        out += f"  Preview Selector:\t{rollout.preview_selector or '<none>'}\n"
    if rollout.paused:
        out += f"  Paused:\t{', '.join(rollout.pause_reasons)}\n"
    if rollout.aborted:
        out += "  Aborted:\ttrue\n"
    return out


def describe_deployment(store: Store, ref: ObjectRef, *, now: float) -> str:
    obj = object_or_fail(store, ref)
    rows = store.list_replicasets(ref)
    shown = deployment_object(obj, rows)
    metadata, spec, status = shown["metadata"], obj.spec["spec"], obj.status
    strategy = spec.get("strategy", {})
    out = f"Name:\t{ref.name}\n"
    out += f"Namespace:\t{ref.namespace}\n"
    out += f"CreationTimestamp:\t{rfc1123z(obj.created_at)}\n"
    out += labels_text("Labels", metadata.get("labels"))
    out += annotations_text(metadata.get("annotations"))
    out += f"Selector:\t{selector_text(spec.get('selector'))}\n"
    drift = store_drift(store, obj)
    updated, _ = drifted_cells(drift, str(status.get("updatedReplicas", 0)), "")
    out += (
        f"Replicas:\t{spec.get('replicas', 1)} desired | {updated} "
        f"updated | {status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} "
        f"available | {status.get('unavailableReplicas', 0)} unavailable\n"
    )
    out += f"StrategyType:\t{strategy.get('type', 'RollingUpdate')}\n"
    out += f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n"
    rolling = strategy.get("rollingUpdate")
    if rolling:
        out += (
            f"RollingUpdateStrategy:\t{rolling.get('maxUnavailable')} max unavailable, "
            f"{rolling.get('maxSurge')} max surge\n"
        )
    out += describe_pod_template(spec.get("template", {}))
    conditions = status.get("conditions") or []
    if conditions:
        out += "Conditions:\n  Type\tStatus\tReason\n  ----\t------\t------\n"
        for c in conditions:
            out += f"  {c.get('type')} \t{c.get('status')}\t{c.get('reason')}\n"
    invalid = status.get("invalid") or []
    if invalid:
        out += "Manifest Errors:\n" + "".join(f"  {line}\n" for line in invalid)
    out += describe_drift(drift)
    rollout = rollout_of(status)
    out += _rollout_section(spec, rollout)
    out += describe_analysis(store, obj, now=now)
    current = rollout.current_pod_hash
    new = [rs for rs in rows if current and rs.hash == current]
    old = [rs for rs in rows if rs not in new and rs.replicas != 0]
    out += f"OldReplicaSets:\t{_rs_list(old)}\n"
    out += f"NewReplicaSet:\t{_rs_list(new)}\n"
    out += events_text(store.list_events(ref), now)
    return render(out)


# -- replicaset ------------------------------------------------------------------------------


def describe_replicaset(store: Store, ref: ObjectRef, *, now: float) -> str:
    rs = store.get_replicaset(ref.namespace, ref.name)
    if rs is None:
        raise NotFoundError(
            f'Error from server (NotFound): replicasets.apps "{ref.name}" not found'
        )
    labels = (rs.template.get("metadata") or {}).get("labels") or {}
    pods = pods_of(store.list_pods(ref.namespace, owner=rs.name))
    running = sum(1 for p in pods if str(p.phase) == "Running")
    waiting = sum(1 for p in pods if str(p.phase) == "Pending")
    succeeded = sum(1 for p in pods if str(p.phase) == "Succeeded")
    failed = sum(1 for p in pods if str(p.phase) == "Failed")
    annotations = {**rs.annotations, "deployment.kubernetes.io/revision": str(rs.revision)}
    if rs.change_cause:
        annotations["kubernetes.io/change-cause"] = rs.change_cause
    out = f"Name:\t{rs.name}\n"
    out += f"Namespace:\t{rs.namespace}\n"
    out += f"Selector:\t{selector_text(labels)}\n"
    out += labels_text("Labels", labels)
    out += annotations_text(annotations)
    out += f"Controlled By:\tDeployment/{rs.deployment}\n"
    out += f"Replicas:\t{int(rs.status.get('replicas', 0))} current / {rs.replicas} desired\n"
    out += (
        f"Pods Status:\t{running} Running / {waiting} Waiting / {succeeded} Succeeded / "
        f"{failed} Failed\n"
    )
    out += describe_pod_template(rs.template)
    out += events_text(store.list_events(ObjectRef(Kind.REPLICASET, ref.namespace, rs.name)), now)
    return render(out)
