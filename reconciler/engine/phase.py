"""The rollout phase and its message (Argo Rollouts' ``CalculateRolloutPhase``), every strategy.

``rollout status`` and ``get rollout`` read ``status.rollout.phase`` and ``message``:
Degraded (aborted, rolled back, deadline exceeded, a pod failing fast) before Paused (by the
user, or at a step) before Progressing (with the first reason that applies) before Healthy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.engine.context import Context
from reconciler.engine.model import ConditionType, Reason
from reconciler.engine.progress import get_condition
from reconciler.engine.state import Phase, RolloutState, Strategy


def rollout_phase(
    ctx: Context,
    *,
    rollout: RolloutState,
    conditions: Sequence[Mapping[str, Any]],
    counts: Mapping[str, int],
    restarting: bool,
) -> tuple[Phase, str]:
    progressing = get_condition(conditions, ConditionType.PROGRESSING)
    failure = get_condition(conditions, ConditionType.REPLICA_FAILURE)
    template = ctx.view.template_hash
    if progressing and progressing["reason"] in (
        Reason.ROLLOUT_ABORTED,
        Reason.PROGRESS_DEADLINE_EXCEEDED,
    ):
        return Phase.DEGRADED, f"{progressing['reason']}: {progressing['message']}"
    if failure and failure["status"] == "True":
        return Phase.DEGRADED, f"{failure['reason']}: {failure['message']}"
    if ctx.spec.get("paused"):
        return Phase.PAUSED, "manually paused"
    if rollout.paused:
        return Phase.PAUSED, rollout.pause_reasons[0]
    if restarting:
        return Phase.PROGRESSING, "rollout is restarting"
    if counts["updatedReplicas"] < ctx.replicas:
        return Phase.PROGRESSING, "more replicas need to be updated"
    if counts["availableReplicas"] < counts["updatedReplicas"]:
        return Phase.PROGRESSING, "updated replicas are still becoming available"
    if ctx.strategy is Strategy.BLUE_GREEN and rollout.active_selector != template:
        return Phase.PROGRESSING, "active service cutover pending"
    if counts["replicas"] > counts["updatedReplicas"]:
        return Phase.PROGRESSING, "old replicas are pending termination"
    if ctx.strategy is Strategy.CANARY and rollout.stable_rs != template:
        return Phase.PROGRESSING, "waiting for all steps to complete"
    return Phase.HEALTHY, ""
