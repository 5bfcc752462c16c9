"""Status, conditions and the progress deadline (k8s ``sync.go calculateStatus``, ``progress.go``).

Conditions are plain dicts ``{type, status, reason, message, lastUpdateTime, lastTransitionTime}``
(times in epoch seconds) so the status is stored and shown as-is. ``set_condition`` follows
``SetDeploymentCondition``: same status and reason -> unchanged (the deadline clock keeps
running); same status -> the transition time is kept.

Fail fast (issue 5 §4): a new pod waiting in ``ErrImagePull``/``ImagePullBackOff``,
``CreateContainerConfigError``, or ``CrashLoopBackOff`` (from its first back-off, when
Kubernetes starts calling it that: one restart) gives ``ReplicaFailure`` True naming the pod,
instead of waiting for the 600 s deadline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.engine.context import Context
from reconciler.engine.model import ConditionType, Reason, ReplicaSetView
from reconciler.engine.rollback import aborted_message
from reconciler.engine.state import RolloutState

Condition = dict[str, Any]

FAIL_FAST_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError"})
CRASH_LOOP = "CrashLoopBackOff"
CRASH_LOOP_RESTARTS = 1  # the first back-off (issue 18): not three, ~30 s of back-offs later


def condition(
    kind: ConditionType, status: str, reason: str, message: str, *, now: float
) -> Condition:
    return {
        "type": str(kind),
        "status": status,
        "reason": str(reason),
        "message": message,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
    }


def get_condition(conditions: Sequence[Mapping[str, Any]], kind: ConditionType) -> Condition | None:
    for cond in conditions:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def set_condition(conditions: list[Condition], new: Condition) -> list[Condition]:
    """``SetDeploymentCondition``: no-op when status and reason are unchanged."""
    current = get_condition(conditions, ConditionType(new["type"]))
    if current and current["status"] == new["status"] and current["reason"] == new["reason"]:
        return conditions
    if current and current["status"] == new["status"]:
        new = {**new, "lastTransitionTime": current["lastTransitionTime"]}
    return [c for c in conditions if c.get("type") != new["type"]] + [new]


def remove_condition(conditions: list[Condition], kind: ConditionType) -> list[Condition]:
    return [c for c in conditions if c.get("type") != kind]


def counts(ctx: Context, sizes: Mapping[str, int]) -> dict[str, int]:
    """Replica counts of the status; ``sizes`` are the RS specs after this pass's actions."""
    rss = ctx.all_rss
    available = sum(ctx.available(rs) for rs in rss)
    return {
        "replicas": sum(ctx.pods(rs) for rs in rss),
        "updatedReplicas": ctx.pods(ctx.new_rs),
        "readyReplicas": sum(ctx.ready(rs) for rs in rss),
        "availableReplicas": available,
        "unavailableReplicas": max(
            0, sum(sizes.get(rs.name, rs.replicas) for rs in rss) - available
        ),
    }


def available_condition(ctx: Context, available: int) -> Condition:
    _, unavailable = ctx.fenceposts
    if available >= ctx.replicas - unavailable:
        return condition(
            ConditionType.AVAILABLE,
            "True",
            Reason.MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.",
            now=ctx.now,
        )
    return condition(
        ConditionType.AVAILABLE,
        "False",
        Reason.MINIMUM_REPLICAS_UNAVAILABLE,
        "Deployment does not have minimum availability.",
        now=ctx.now,
    )


def is_complete(ctx: Context, status: Mapping[str, int]) -> bool:
    """``DeploymentComplete`` (observedGeneration is this pass's, so always current)."""
    n = ctx.replicas
    return (
        status["updatedReplicas"] == n
        and status["replicas"] == n
        and status["availableReplicas"] == n
    )


def is_progressing(old: Mapping[str, Any], new: Mapping[str, int]) -> bool:
    """``DeploymentProgressing``: updated up, old pods down, ready up or available up."""
    if not old:
        return False
    old_old = int(old.get("replicas", 0)) - int(old.get("updatedReplicas", 0))
    new_old = new["replicas"] - new["updatedReplicas"]
    return (
        new["updatedReplicas"] > int(old.get("updatedReplicas", 0))
        or new_old < old_old
        or new["readyReplicas"] > int(old.get("readyReplicas", 0))
        or new["availableReplicas"] > int(old.get("availableReplicas", 0))
    )


def sync_progressing(
    ctx: Context,
    conditions: list[Condition],
    *,
    old_status: Mapping[str, Any],
    new_counts: Mapping[str, int],
) -> list[Condition]:
    """``syncRolloutStatus``: complete > progressing > timed out."""
    deadline = ctx.spec.get("progressDeadlineSeconds")
    if deadline is None:
        return remove_condition(conditions, ConditionType.PROGRESSING)
    current = get_condition(conditions, ConditionType.PROGRESSING)
    name = ctx.new_rs.name
    if (
        current
        and current["reason"] == Reason.NEW_RS_AVAILABLE
        and new_counts["replicas"] == new_counts["updatedReplicas"]
    ):
        return conditions
    if is_complete(ctx, new_counts):
        return set_condition(
            conditions,
            condition(
                ConditionType.PROGRESSING,
                "True",
                Reason.NEW_RS_AVAILABLE,
                f'ReplicaSet "{name}" has successfully progressed.',
                now=ctx.now,
            ),
        )
    if is_progressing(old_status, new_counts):
        new = condition(
            ConditionType.PROGRESSING,
            "True",
            Reason.RS_UPDATED,
            f'ReplicaSet "{name}" is progressing.',
            now=ctx.now,
        )
        if current and current["status"] == "True":
            new["lastTransitionTime"] = current["lastTransitionTime"]
        return [*remove_condition(conditions, ConditionType.PROGRESSING), new]
    if timed_out(ctx, current):
        return set_condition(
            conditions,
            condition(
                ConditionType.PROGRESSING,
                "False",
                Reason.PROGRESS_DEADLINE_EXCEEDED,
                f'ReplicaSet "{name}" has timed out progressing.',
                now=ctx.now,
            ),
        )
    return conditions


def rollout_progressing(
    ctx: Context,
    conditions: list[Condition],
    rollout: RolloutState,
    *,
    old_status: Mapping[str, Any],
    counts: Mapping[str, int],
    aborted: bool,
) -> list[Condition]:
    """Progressing for every strategy: aborted (or rolled back) > paused at a step > resumed
    from a pause or an abort > ``sync_progressing``; nothing without a deadline."""
    if ctx.spec.get("progressDeadlineSeconds") is None:
        return conditions
    now = ctx.now
    if aborted:
        message = rollout.abort_message or aborted_message(ctx.view)
        if rollout.failed_template_hash == ctx.view.template_hash:
            message = f"{aborted_message(ctx.view)}: rolled back to revision {ctx.new_rs.revision}"
        return set_condition(
            conditions,
            condition(ConditionType.PROGRESSING, "False", Reason.ROLLOUT_ABORTED, message, now=now),
        )
    if rollout.paused:
        return set_condition(
            conditions,
            condition(
                ConditionType.PROGRESSING,
                "Unknown",
                Reason.ROLLOUT_PAUSED,
                "Rollout is paused",
                now=now,
            ),
        )
    current = get_condition(conditions, ConditionType.PROGRESSING)
    if current and current["reason"] in (Reason.ROLLOUT_PAUSED, Reason.ROLLOUT_ABORTED):
        return set_condition(
            conditions,
            condition(
                ConditionType.PROGRESSING,
                "Unknown",
                Reason.ROLLOUT_RESUMED,
                "Rollout is resumed",
                now=now,
            ),
        )
    return sync_progressing(ctx, conditions, old_status=old_status, new_counts=counts)


def timed_out(ctx: Context, current: Mapping[str, Any] | None) -> bool:
    deadline = ctx.spec.get("progressDeadlineSeconds")
    if deadline is None or current is None:
        return False
    if current["reason"] == Reason.NEW_RS_AVAILABLE:
        return False
    if current["reason"] == Reason.PROGRESS_DEADLINE_EXCEEDED:
        return True
    return float(current["lastUpdateTime"]) + float(deadline) < ctx.now


def deadline_requeue(ctx: Context, conditions: Sequence[Mapping[str, Any]]) -> float | None:
    """Seconds until the progress deadline would pass (None if it cannot)."""
    deadline = ctx.spec.get("progressDeadlineSeconds")
    current = get_condition(conditions, ConditionType.PROGRESSING)
    if deadline is None or current is None or current["status"] != "True":
        return None
    if current["reason"] == Reason.NEW_RS_AVAILABLE:
        return None
    after = float(current["lastUpdateTime"]) + float(deadline) - ctx.now
    return max(after, 0.0) + 0.001


def min_ready_requeue(ctx: Context) -> float | None:
    """Seconds until a Ready pod becomes available under ``minReadySeconds``."""
    if ctx.min_ready <= 0:
        return None
    waits = [
        pod.ready_since + ctx.min_ready - ctx.now
        for rs in ctx.all_rss
        for pod in rs.pods
        if pod.active
        and pod.ready
        and pod.ready_since is not None
        and pod.ready_since + ctx.min_ready > ctx.now
    ]
    return min(waits) if waits else None


def fail_fast(rs: ReplicaSetView | None) -> tuple[str, str] | None:
    """(reason, message) of the first pod of ``rs`` that will not come up on its own."""
    if rs is None:
        return None
    for pod in sorted(rs.pods, key=lambda p: (p.created_at, p.name)):
        if not pod.active:
            continue
        reason = pod.waiting_reason
        if reason in FAIL_FAST_REASONS or (
            reason == CRASH_LOOP and pod.restarts >= CRASH_LOOP_RESTARTS
        ):
            detail = f": {pod.waiting_message}" if pod.waiting_message else ""
            return reason, f'pod "{pod.name}" is in {reason}{detail}'
    return None
