"""``reconciler get rollout NAME``: the Argo Rollouts plugin's tree view of one deployment.

The page of ``kubectl argo rollouts get rollout NAME --no-color`` (semantics §3.5): a header
(status with its icon, strategy, canary step and weights, images tagged with their role,
replica counts) and a tree of revisions → ReplicaSets (with their role: stable, canary,
active, preview, and ``delay:`` while a scale-down waits) → pods (status and ``ready:x/y``).
Every strategy gets the tree; the Canary and BlueGreen lines only appear for those.

It reads the store only. Status words follow the plugin's ``info`` package: a rollout is
Degraded, Paused, Progressing or Healthy; a ReplicaSet Progressing, Healthy or ScaledDown; a
pod shows kubectl's STATUS word. Output is never coloured (the plugin's ``--no-color``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.cli import output
from reconciler.cli.analysis_view import analysis_fields
from reconciler.cli.common import open_store
from reconciler.cli.describe import kubectl_not_found, tabwrite
from reconciler.cli.drift_view import warn_drift
from reconciler.cli.views import pod_ready, pod_status_word, pods_of
from reconciler.engine.serialize import rollout_of
from reconciler.engine.state import RolloutState
from reconciler.errors import NotFoundError, UsageError
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import PodStatus
from reconciler.store import AppliedObject, ReplicaSetRow, Store

__all__ = ["get_rollout", "render_rollout", "rollout_status_word"]

ICON_ROLLOUT, ICON_REVISION, ICON_REPLICASET, ICON_POD = "⟳", "#", "⧉", "□"
ICON_OK, ICON_BAD, ICON_PROGRESSING, ICON_PAUSED = "✔", "✖", "◌", "॥"
ICON_NEUTRAL, ICON_WARNING, ICON_UNKNOWN = "•", "⚠", "?"

_ROLLOUT_ICONS = {
    "Progressing": ICON_PROGRESSING,
    "Paused": ICON_PAUSED,
    "Healthy": ICON_OK,
    "Degraded": ICON_BAD,
    "InvalidSpec": ICON_WARNING,
}
_RS_ICONS = {"Progressing": ICON_PROGRESSING, "Healthy": ICON_OK, "ScaledDown": ICON_NEUTRAL}


def _pod_icon(word: str) -> str:
    """The plugin's podIcon."""
    if word.startswith("Init:"):
        return ICON_PROGRESSING
    if word.startswith(("Signal:", "ExitCode:")):
        return ICON_BAD
    if word.endswith("Error") or word.startswith("Err"):
        return ICON_WARNING
    return {
        "Pending": ICON_PROGRESSING,
        "Terminating": ICON_PROGRESSING,
        "ContainerCreating": ICON_PROGRESSING,
        "Running": ICON_OK,
        "Completed": ICON_OK,
        "Failed": ICON_BAD,
        "CrashLoopBackOff": ICON_BAD,
        "ImagePullBackOff": ICON_WARNING,
        "Unknown": ICON_UNKNOWN,
    }.get(word, " ")


def rollout_status_word(obj: AppliedObject) -> tuple[str, str]:
    """(status, message): the engine's phase when it set one, else the plugin's rules."""
    spec, status = obj.spec["spec"], obj.status
    rollout = rollout_of(status)
    if status.get("invalid"):
        return "InvalidSpec", "; ".join(status["invalid"])
    if rollout.phase:
        return str(rollout.phase), rollout.message
    for condition in status.get("conditions") or []:
        if condition.get("reason") in ("RolloutAborted", "ProgressDeadlineExceeded"):
            return "Degraded", f"{condition['reason']}: {condition.get('message', '')}"
    if spec.get("paused"):
        return "Paused", "manually paused"
    if rollout.paused:
        return "Paused", rollout.pause_reasons[0]
    replicas = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas", 0) or 0)
    if updated < replicas:
        return "Progressing", "more replicas need to be updated"
    if updated < int(status.get("replicas", 0) or 0):
        return "Progressing", "old replicas are pending termination"
    if int(status.get("availableReplicas", 0) or 0) < updated:
        return "Progressing", "updated replicas are still becoming available"
    kind = spec.get("strategy", {}).get("type")
    current = rollout.current_pod_hash
    if kind == "BlueGreen" and current and rollout.active_selector != current:
        return "Progressing", "active service cutover pending"
    if kind == "Canary" and rollout.updating:
        return "Progressing", "waiting for all steps to complete"
    return "Healthy", ""


def _roles(kind: str, rs: ReplicaSetRow, rollout: RolloutState) -> list[str]:
    roles: list[str] = []
    if kind not in ("Canary", "BlueGreen"):
        return roles
    if rs.hash == rollout.stable_rs:
        roles.append("stable")
    if kind == "Canary":
        if "stable" not in roles and rs.hash == rollout.current_pod_hash:
            roles.append("canary")
    elif rs.hash == rollout.active_selector:
        roles.append("active")
    elif rs.hash == rollout.preview_selector:
        roles.append("preview")
    return roles


def _rs_health(rs: ReplicaSetRow) -> str:
    if int(rs.status.get("availableReplicas", 0) or 0) < rs.replicas:
        return "Progressing"
    return "ScaledDown" if rs.replicas == 0 else "Healthy"


def _images(
    rows: Sequence[ReplicaSetRow], roles: Mapping[str, list[str]]
) -> list[tuple[str, list[str]]]:
    merged: dict[str, set[str]] = {}
    for rs in rows:
        if rs.replicas <= 0:
            continue
        for container in (rs.template.get("spec") or {}).get("containers") or []:
            merged.setdefault(str(container.get("image", "")), set()).update(roles[rs.name])
    return [(image, sorted(tags)) for image, tags in sorted(merged.items())]


def _actual_weight(
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    rows: Sequence[ReplicaSetRow],
    roles: Mapping[str, list[str]],
) -> str:
    rollout = rollout_of(status)
    if rollout.actual_weight is not None:
        return str(rollout.actual_weight)
    steps = (spec.get("strategy", {}).get("canary") or {}).get("steps") or []
    if rollout.current_step_index >= len(steps):
        return "100"
    available = int(status.get("availableReplicas", 0) or 0)
    for rs in rows:
        if "canary" in roles[rs.name] and available > 0:
            return str(int(rs.status.get("availableReplicas", 0) or 0) * 100 // available)
    return "0"


def shown_set_weight(rollout: RolloutState, *, steps: int) -> int:
    """The SetWeight line: 0 once aborted; before the canary planner ran, 100 without steps."""
    if rollout.aborted:
        return 0
    if rollout.set_weight is not None:
        return rollout.set_weight
    return 0 if steps else 100


def render_rollout(
    obj: AppliedObject,
    rows: Sequence[ReplicaSetRow],
    pods: Sequence[PodStatus],
    *,
    now: float,
    analysis: Sequence[tuple[str, str]] = (),
) -> str:
    """The whole page, header and tree (trailing spaces stripped, as the plugin's tests do)."""
    spec, status = obj.spec["spec"], obj.status
    rollout = rollout_of(status)
    kind = str(spec.get("strategy", {}).get("type", "RollingUpdate"))
    word, message = rollout_status_word(obj)
    icon = _ROLLOUT_ICONS.get(word, " ")
    roles = {rs.name: _roles(kind, rs, rollout) for rs in rows}

    def field(label: str, value: object) -> str:
        return f"{label:<17}{value}\n"

    out = field("Name:", obj.ref.name)
    out += field("Namespace:", obj.ref.namespace)
    out += field("Status:", f"{icon} {word}")
    if message:
        out += field("Message:", message)
    out += field("Strategy:", kind)
    if kind == "Canary":
        steps = (spec["strategy"].get("canary") or {}).get("steps") or []
        if steps:
            out += field("  Step:", f"{rollout.current_step_index}/{len(steps)}")
        out += field("  SetWeight:", shown_set_weight(rollout, steps=len(steps)))
        out += field("  ActualWeight:", _actual_weight(spec, status, rows, roles))
        out += "".join(field(f"  {label}:", text) for label, text in analysis)  # #20 metrics
    for i, (image, tags) in enumerate(_images(rows, roles)):
        shown = f"{image} ({', '.join(tags)})" if tags else image
        out += field("" if i else "Images:", shown)
    out += "Replicas:\n"
    out += field("  Desired:", spec.get("replicas", 1))
    out += field("  Current:", status.get("replicas", 0))
    out += field("  Updated:", status.get("updatedReplicas", 0))
    out += field("  Ready:", status.get("readyReplicas", 0))
    out += field("  Available:", status.get("availableReplicas", 0))
    out += "\n"

    by_owner: dict[str, list[PodStatus]] = {}
    for pod in pods:
        by_owner.setdefault(pod.owner, []).append(pod)
    delays = rollout.scale_down_at
    tree = "NAME\tKIND\tSTATUS\tAGE\tINFO\n"
    tree += (
        f"{ICON_ROLLOUT} {obj.ref.name}\tRollout\t{icon} {word}\t"
        f"{output.age(obj.created_at, now)}\t\n"
    )
    revisions = sorted({rs.revision for rs in rows}, reverse=True)
    for r_index, revision in enumerate(revisions):
        prefix, sub = _prefixes(r_index == len(revisions) - 1, "")
        tree += f"{prefix}{ICON_REVISION} revision:{revision}\t\t \t\t\n"
        members = sorted((rs for rs in rows if rs.revision == revision), key=lambda r: r.name)
        for m_index, rs in enumerate(members):
            rs_prefix, rs_sub = _prefixes(m_index == len(members) - 1, sub)
            info = list(roles[rs.name])
            if rs.name in delays:
                left = float(delays[rs.name]) - now
                info.append(f"delay:{output.human_duration(left) if left > 0 else 'passed'}")
            health = _rs_health(rs)
            tree += (
                f"{rs_prefix}{ICON_REPLICASET} {rs.name}\tReplicaSet\t"
                f"{_RS_ICONS.get(health, ' ')} {health}\t{output.age(rs.created_at, now)}\t"
                f"{','.join(info)}\n"
            )
            owned = sorted(by_owner.get(rs.name, []), key=lambda p: (p.created_at, p.name))
            for p_index, pod in enumerate(owned):
                pod_prefix, _ = _prefixes(p_index == len(owned) - 1, rs_sub)
                pod_word = pod_status_word(pod)
                pod_info = f"ready:{pod_ready(pod)}"
                if pod.restarts:
                    pod_info += f",restarts:{pod.restarts}"
                tree += (
                    f"{pod_prefix}{ICON_POD} {pod.name}\tPod\t{_pod_icon(pod_word)} {pod_word}\t"
                    f"{output.age(pod.created_at, now)}\t{pod_info}\n"
                )
    out += tabwrite(tree)
    return "".join(line.rstrip(" ") + "\n" for line in out.splitlines())


def _prefixes(is_last: bool, sub: str) -> tuple[str, str]:
    if is_last:
        return sub + "└──", sub + "   "
    return sub + "├──", sub + "│  "


def _page(store: Store, ref: ObjectRef) -> str:
    obj = store.get_object(ref)
    if obj is None:
        raise NotFoundError(
            f'Error from server (NotFound): deployments.apps "{ref.name}" not found'
        )
    pods = pods_of(store.list_pods(ref.namespace))
    now = time.time()
    analysis = analysis_fields(store, obj, now=now)
    return render_rollout(obj, store.list_replicasets(ref), pods, now=now, analysis=analysis)


@kubectl_not_found
def get_rollout(args: argparse.Namespace) -> int:
    """``get rollout NAME [-w]`` (called by ``get``)."""
    names: list[str] = list(args.names)
    if len(names) != 1:
        raise UsageError("error: get rollout needs exactly one NAME")
    name = names[0].split("/", 1)[1] if "/" in names[0] else names[0]
    ref = ObjectRef(Kind.DEPLOYMENT, args.namespace, name)
    with open_store(args) as store:
        page = _page(store, ref)
        warn_drift(store, Kind.DEPLOYMENT, args.namespace, [name])
        sys.stdout.write(page)
        sys.stdout.flush()
        if not getattr(args, "watch", False):
            return 0
        try:
            while True:
                time.sleep(1.0)
                current = _page(store, ref)
                if current != page:
                    page = current
                    if sys.stdout.isatty():
                        sys.stdout.write("\033[H\033[2J\033[0;0H")
                    else:
                        sys.stdout.write("\n")
                    sys.stdout.write(page)
                    sys.stdout.flush()
        except KeyboardInterrupt:
            return 0
