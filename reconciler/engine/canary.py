"""Canary: an ordered script of ``setWeight`` and ``pause`` steps (Argo Rollouts, basic canary).

Replica counts follow the weight (``canary_replica_counts``: 10 replicas at 10% -> 1 canary and
9 stable) within maxSurge/maxUnavailable, while the proxy splits new connections EXACTLY by the
weight: the Deployment's own Services get groups ``stable`` (100 - w) and ``canary`` (w); a
``stableService`` only ever sees the stable RS and a ``canaryService`` only the canary RS.

The script, one step per pass: scale towards the step's weight; once the counts are reached and
available, a ``setWeight`` step completes; a ``pause`` adds a ``CanaryPauseStep`` condition and
completes after its duration or on ``promote``. After the last step the canary becomes the
stable RS. The first rollout (no stable RS yet) and a return to the stable template (fast
rollback) skip the steps; an abort sends all traffic to stable and rolls back to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.engine.context import Context, Step
from reconciler.engine.fenceposts import canary_replica_counts
from reconciler.engine.model import (
    EventRecord,
    PauseReason,
    Reason,
    ReplicaSetView,
    RolloutKey,
    TrafficGroup,
)
from reconciler.engine.rolling import converge, plan_rolling
from reconciler.engine.routes import active_routes, describe_route_step, with_header_routes
from reconciler.units import parse_duration


def canary_spec(ctx: Context) -> Mapping[str, Any]:
    return ctx.spec.get("strategy", {}).get("canary", {}) or {}


def current_set_weight(steps: Sequence[Mapping[str, Any]], index: int) -> int:
    """``GetCurrentSetWeight``: the last setWeight at or before ``index``; 100 when done."""
    if index >= len(steps):
        return 100
    for step in reversed(steps[: index + 1]):
        if "setWeight" in step:
            return int(step["setWeight"])
    return 0


def describe_step(step: Mapping[str, Any]) -> str:
    if "setWeight" in step:
        return f"setWeight: {step['setWeight']}"
    if (route := describe_route_step(step)) is not None:
        return route
    pause = step.get("pause") or {}
    if "duration" in pause:
        return f"pause: {pause['duration']}"
    return "pause"


def _traffic(
    ctx: Context, *, stable: ReplicaSetView, canary: ReplicaSetView, weight: int
) -> dict[str, tuple[TrafficGroup, ...]]:
    spec = canary_spec(ctx)
    stable_svc, canary_svc = spec.get("stableService", ""), spec.get("canaryService", "")
    traffic: dict[str, tuple[TrafficGroup, ...]] = {}
    for service in ctx.view.services:
        if service in (stable_svc, canary_svc):
            continue
        if stable is canary:
            traffic[service] = (TrafficGroup("stable", 100, (stable.name,)),)
        else:
            traffic[service] = (
                TrafficGroup("stable", 100 - weight, (stable.name,)),
                TrafficGroup("canary", weight, (canary.name,)),
            )
    if stable_svc:
        traffic[stable_svc] = (TrafficGroup("stable", 100, (stable.name,)),)
    if canary_svc:
        traffic[canary_svc] = (TrafficGroup("canary", 100, (canary.name,)),)
    return traffic


def _actual_weight(
    ctx: Context, *, stable: ReplicaSetView, canary: ReplicaSetView, weight: int
) -> int:
    """The weight the proxy can honour: a group with no Ready pod gets nothing."""
    if stable is canary:
        return 100
    if ctx.ready(canary) == 0:
        return 0
    if ctx.ready(stable) == 0:
        return 100
    return weight


def plan_canary(ctx: Context, rollout: Mapping[str, Any], *, back_to_stable: bool) -> Step:
    spec = canary_spec(ctx)
    steps: list[Mapping[str, Any]] = list(spec.get("steps") or [])
    template = ctx.view.template_hash
    stable_hash = str(rollout.get(RolloutKey.STABLE_RS, "") or "")
    stable = ctx.rs_by_hash(stable_hash) if stable_hash else None
    base: dict[str, Any] = {RolloutKey.STEP_COUNT: len(steps)}

    if back_to_stable:
        # abort (or autoRollback): weight 0 at once, a rolling update back to the stable RS
        canary = ctx.rs_by_hash(template) or ctx.new_rs
        weight = 0
        step = plan_rolling(ctx)
        return step.then(
            Step(
                rollout={**base, RolloutKey.SET_WEIGHT: 0, RolloutKey.ACTUAL_WEIGHT: 0},
                traffic=_traffic(ctx, stable=ctx.new_rs, canary=canary, weight=weight),
            )
        )

    if stable is None or stable_hash == template:
        # first rollout, fully promoted, or fast rollback to the stable template: no steps
        step = plan_rolling(ctx)
        return step.then(
            Step(
                rollout={
                    **base,
                    RolloutKey.CURRENT_STEP_INDEX: len(steps),
                    RolloutKey.SET_WEIGHT: 100,
                    RolloutKey.ACTUAL_WEIGHT: 100,
                    RolloutKey.PAUSE_CONDITIONS: [],
                },
                traffic=_traffic(ctx, stable=ctx.new_rs, canary=ctx.new_rs, weight=100),
            )
        )

    canary = ctx.new_rs
    index = int(rollout.get(RolloutKey.CURRENT_STEP_INDEX, 0) or 0)
    if rollout.get(RolloutKey.PROMOTE_FULL):
        index = len(steps)
    index = min(index, len(steps))
    weight = current_set_weight(steps, index)
    surge, unavailable = ctx.fenceposts
    if index >= len(steps):
        targets = {canary.name: ctx.replicas}
    else:
        canary_n, stable_n = canary_replica_counts(ctx.replicas, weight, surge=surge > 0)
        targets = {canary.name: canary_n, stable.name: stable_n}
    step = converge(ctx, targets, primary=canary, surge=surge, unavailable=unavailable)
    pauses = list(rollout.get(RolloutKey.PAUSE_CONDITIONS) or [])
    updates: dict[str, Any] = {}
    events: list[EventRecord] = []
    requeue: float | None = None
    reached = (
        not step.actions
        and all(rs.replicas == targets.get(rs.name, 0) for rs in ctx.all_rss)
        and ctx.available(canary) >= targets[canary.name]
    )

    if reached and index < len(steps):
        current = steps[index]
        done = False
        if "pause" in current:
            if not pauses:
                pauses = [{"reason": str(PauseReason.CANARY_PAUSE_STEP), "startTime": ctx.now}]
                events.append(
                    EventRecord(
                        "Normal", Reason.ROLLOUT_PAUSED, "Rollout is paused (CanaryPauseStep)"
                    )
                )
            duration = (current.get("pause") or {}).get("duration")
            if duration is not None:
                end = float(pauses[0]["startTime"]) + parse_duration(duration)
                if ctx.now >= end:
                    done = True
                else:
                    requeue = end - ctx.now
        else:
            done = True
        if done:
            events.append(
                EventRecord(
                    "Normal",
                    Reason.ROLLOUT_STEP_COMPLETED,
                    f"Rollout step {index + 1}/{len(steps)} completed ({describe_step(current)})",
                )
            )
            index += 1
            pauses = []
            weight = current_set_weight(steps, index)
            requeue = 0.0
    elif (
        reached
        and index >= len(steps)
        and ctx.available(canary) >= ctx.replicas
        and not any(ctx.pods(rs) for rs in ctx.old_rss)
    ):
        updates[RolloutKey.STABLE_RS] = template
        events.append(
            EventRecord(
                "Normal",
                Reason.ROLLOUT_COMPLETED,
                f"Rollout completed update to revision {canary.revision} ({template}): "
                "Completed all steps",
            )
        )

    actual = _actual_weight(ctx, stable=stable, canary=canary, weight=weight)
    updates.update(
        {
            **base,
            RolloutKey.CURRENT_STEP_INDEX: index,
            RolloutKey.SET_WEIGHT: weight,
            RolloutKey.ACTUAL_WEIGHT: actual,
            RolloutKey.PAUSE_CONDITIONS: pauses,
        }
    )
    return step.then(
        Step(
            events=tuple(events),
            rollout=updates,
            traffic=with_header_routes(
                _traffic(ctx, stable=stable, canary=canary, weight=actual),
                active_routes(steps, index),
                canary_rs=canary.name,
            ),
            requeue_after=requeue,
        )
    )


def promote(rollout: dict[str, Any], *, full: bool, steps: int) -> None:
    """``rollout promote``: leave the current pause (or skip the current step); ``--full``
    skips every remaining step."""
    if full:
        rollout[RolloutKey.PROMOTE_FULL] = True
        rollout[RolloutKey.PAUSE_CONDITIONS] = []
        return
    index = int(rollout.get(RolloutKey.CURRENT_STEP_INDEX, 0) or 0)
    rollout[RolloutKey.CURRENT_STEP_INDEX] = min(index + 1, steps)
    rollout[RolloutKey.PAUSE_CONDITIONS] = []
