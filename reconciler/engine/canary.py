"""Canary: an ordered script of ``setWeight`` and ``pause`` steps (Argo Rollouts, basic canary).

Replica counts follow the weight (``canary_replica_counts``: 10 replicas at 10% -> 1 canary and
9 stable) within maxSurge/maxUnavailable, while the proxy splits new connections EXACTLY by the
weight: the Deployment's own Services get groups ``stable`` (100 - w) and ``canary`` (w); a
``stableService`` only ever sees the stable RS and a ``canaryService`` only the canary RS.

The script, one step per pass (``plan_canary``):

1. back to stable (abort, autoRollback): weight 0 at once, a rolling update back to stable;
2. no steps to run (the first rollout, fully promoted, or a return to the stable template, a
   fast rollback): a rolling update at weight 100;
3. else scale towards the current step's weight; once the counts are reached and available,
   the step runs: a ``setWeight`` completes at once, a ``pause`` waits (``pause.wait``) for its
   duration or ``rollout promote``; after the last step, once every pod is on the canary and
   available, the canary becomes the stable RS.

Step kinds are looked up by key in ``STEP_KINDS`` (how to run one, how to name it in events),
so a new kind of step is one entry there.

Worked example, 5 replicas, steps ``[setWeight 20, pause {}, setWeight 60, pause 10s]``, stable
``old`` at 5: step 1 scales the canary to 1 (20% of 5) and, once it is available, completes
(weight 20); step 2 adds a ``CanaryPauseStep`` and waits; ``rollout promote`` moves to step 3,
which scales the canary to 3 and the stable RS to 2 (weight 60); step 4 waits 10 s; then the
canary goes to 5, the stable RS to 0, and the canary is the new stable RS (weight 100).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.engine.context import Context, Step
from reconciler.engine.fenceposts import canary_replica_counts
from reconciler.engine.model import EventRecord, Reason, ReplicaSetView, TrafficGroup
from reconciler.engine.pause import wait
from reconciler.engine.rolling import converge, plan_rolling
from reconciler.engine.routes import active_routes, describe_route_step, with_header_routes
from reconciler.engine.state import PauseReason, RolloutState
from reconciler.units import parse_duration

CanaryStep = Mapping[str, Any]  # one entry of spec.strategy.canary.steps


def canary_spec(ctx: Context) -> Mapping[str, Any]:
    return ctx.spec.get("strategy", {}).get("canary", {}) or {}


def current_set_weight(steps: Sequence[CanaryStep], index: int) -> int:
    """``GetCurrentSetWeight``: the last setWeight at or before ``index``; 100 when done.

    >>> steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]
    >>> [current_set_weight(steps, i) for i in range(4)]
    [20, 20, 60, 100]
    """
    if index >= len(steps):
        return 100
    for step in reversed(steps[: index + 1]):
        if "setWeight" in step:
            return int(step["setWeight"])
    return 0


# -- step kinds ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepRun:
    """What running the current step did this pass."""

    done: bool  # the step is complete: the script moves to the next one
    rollout: RolloutState  # the state while the step runs (pause conditions, ...)
    events: tuple[EventRecord, ...] = ()
    requeue_after: float | None = None


@dataclass(frozen=True, slots=True)
class StepKind:
    """One kind of canary step: how it runs once its weight is reached, how events name it."""

    run: Callable[[Context, RolloutState, CanaryStep], StepRun]
    describe: Callable[[CanaryStep], str]


def _done_at_once(ctx: Context, rollout: RolloutState, step: CanaryStep) -> StepRun:
    return StepRun(done=True, rollout=rollout)  # the weight is reached: nothing left to do


def _run_pause(ctx: Context, rollout: RolloutState, step: CanaryStep) -> StepRun:
    duration = (step.get("pause") or {}).get("duration")
    paused = wait(
        rollout.pause_conditions,
        reason=PauseReason.CANARY_PAUSE_STEP,
        duration=None if duration is None else parse_duration(duration),
        now=ctx.now,
    )
    return StepRun(
        done=paused.over,
        rollout=rollout.evolve(pause_conditions=paused.pauses),
        events=paused.events,
        requeue_after=paused.requeue_after,
    )


def _describe_pause(step: CanaryStep) -> str:
    pause = step.get("pause") or {}
    return f"pause: {pause['duration']}" if "duration" in pause else "pause"


# Looked up in this order: a step is of the first kind whose key it has.
STEP_KINDS: Mapping[str, StepKind] = {
    "pause": StepKind(_run_pause, _describe_pause),
    "setWeight": StepKind(_done_at_once, lambda step: f"setWeight: {step['setWeight']}"),
    # a route is set (or removed) and the script moves on at once (``engine/routes.py``)
    "setHeaderRoute": StepKind(_done_at_once, lambda step: describe_route_step(step) or ""),
    "setMirrorRoute": StepKind(_done_at_once, lambda step: describe_route_step(step) or ""),
}


def step_kind(step: CanaryStep) -> StepKind:
    """The kind of ``step`` (validation admits no other; an unknown one completes at once)."""
    for key, kind in STEP_KINDS.items():
        if key in step:
            return kind
    return StepKind(_done_at_once, lambda step: ", ".join(sorted(step)))


def describe_step(step: CanaryStep) -> str:
    """The step as Argo's events name it.

    >>> describe_step({"setWeight": 20}), describe_step({"pause": {"duration": "30s"}})
    ('setWeight: 20', 'pause: 30s')
    """
    return step_kind(step).describe(step)


# -- traffic ------------------------------------------------------------------------------------


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


# -- the script ---------------------------------------------------------------------------------


def plan_canary(ctx: Context, rollout: RolloutState, *, back_to_stable: bool) -> Step:
    steps: list[CanaryStep] = list(canary_spec(ctx).get("steps") or [])
    rollout = rollout.evolve(step_count=len(steps))
    stable = ctx.rs_by_hash(rollout.stable_rs) if rollout.stable_rs else None
    if back_to_stable:
        return _back_to_stable(ctx, rollout)
    if stable is None or rollout.stable_rs == ctx.view.template_hash:
        return _without_steps(ctx, rollout, steps)
    return _run_steps(ctx, rollout, steps, stable=stable)


def _back_to_stable(ctx: Context, rollout: RolloutState) -> Step:
    """Abort or autoRollback: weight 0 at once, a rolling update back to the stable RS."""
    canary = ctx.rs_by_hash(ctx.view.template_hash) or ctx.new_rs
    return plan_rolling(ctx).then(
        Step(
            rollout=rollout.evolve(set_weight=0, actual_weight=0),
            traffic=_traffic(ctx, stable=ctx.new_rs, canary=canary, weight=0),
        )
    )


def _without_steps(ctx: Context, rollout: RolloutState, steps: Sequence[CanaryStep]) -> Step:
    """First rollout, fully promoted, or fast rollback to the stable template: no steps."""
    return plan_rolling(ctx).then(
        Step(
            rollout=rollout.evolve(
                current_step_index=len(steps),
                set_weight=100,
                actual_weight=100,
                pause_conditions=(),
            ),
            traffic=_traffic(ctx, stable=ctx.new_rs, canary=ctx.new_rs, weight=100),
        )
    )


def _run_steps(
    ctx: Context, rollout: RolloutState, steps: Sequence[CanaryStep], *, stable: ReplicaSetView
) -> Step:
    """Scale towards the current step's weight; once there, run the step (or complete)."""
    canary = ctx.new_rs
    index = len(steps) if rollout.promote_full else min(rollout.current_step_index, len(steps))
    targets = _targets(ctx, steps, index, stable=stable)
    surge, unavailable = ctx.fenceposts
    scaling = converge(ctx, targets, primary=canary, surge=surge, unavailable=unavailable)
    reached = (
        not scaling.actions
        and all(rs.replicas == targets.get(rs.name, 0) for rs in ctx.all_rss)
        and ctx.available(canary) >= targets[canary.name]
    )
    progress = Step(rollout=rollout.evolve(current_step_index=index))
    if reached and index < len(steps):
        progress = _run_step(ctx, rollout, steps, index)
    elif reached and ctx.available(canary) >= ctx.replicas and not _old_pods(ctx):
        progress = _complete(ctx, rollout.evolve(current_step_index=index))
    state = progress.rollout or rollout
    weight = current_set_weight(steps, state.current_step_index)
    actual = _actual_weight(ctx, stable=stable, canary=canary, weight=weight)
    return scaling.then(progress).then(
        Step(
            rollout=state.evolve(set_weight=weight, actual_weight=actual),
            traffic=with_header_routes(
                _traffic(ctx, stable=stable, canary=canary, weight=actual),
                active_routes(steps, state.current_step_index),
                canary_rs=canary.name,
            ),
        )
    )


def _targets(
    ctx: Context, steps: Sequence[CanaryStep], index: int, *, stable: ReplicaSetView
) -> dict[str, int]:
    """Replicas per RS at step ``index``: the weight's share, every replica once done."""
    canary = ctx.new_rs
    if index >= len(steps):
        return {canary.name: ctx.replicas}
    weight = current_set_weight(steps, index)
    surge, _ = ctx.fenceposts
    canary_n, stable_n = canary_replica_counts(ctx.replicas, weight, surge=surge > 0)
    return {canary.name: canary_n, stable.name: stable_n}


def _old_pods(ctx: Context) -> bool:
    return any(ctx.pods(rs) for rs in ctx.old_rss)


def _run_step(ctx: Context, rollout: RolloutState, steps: Sequence[CanaryStep], index: int) -> Step:
    """The step at ``index`` runs; when it is done, the script moves to the next one."""
    current = steps[index]
    kind = step_kind(current)
    run = kind.run(ctx, rollout.evolve(current_step_index=index), current)
    if not run.done:
        return Step(rollout=run.rollout, events=run.events, requeue_after=run.requeue_after)
    completed = EventRecord(
        "Normal",
        Reason.ROLLOUT_STEP_COMPLETED,
        f"Rollout step {index + 1}/{len(steps)} completed ({kind.describe(current)})",
    )
    return Step(
        rollout=run.rollout.evolve(current_step_index=index + 1, pause_conditions=()),
        events=(*run.events, completed),
        requeue_after=0.0,
    )


def _complete(ctx: Context, rollout: RolloutState) -> Step:
    """Every step done and every pod on the canary: it is the stable RS now."""
    template, revision = ctx.view.template_hash, ctx.new_rs.revision
    return Step(
        rollout=rollout.evolve(stable_rs=template),
        events=(
            EventRecord(
                "Normal",
                Reason.ROLLOUT_COMPLETED,
                f"Rollout completed update to revision {revision} ({template}): "
                "Completed all steps",
            ),
        ),
    )


def promote(rollout: RolloutState, *, full: bool, steps: int) -> RolloutState:
    """``rollout promote``: leave the current pause (or skip the current step); ``--full``
    skips every remaining step.

    >>> promote(RolloutState(current_step_index=1), full=False, steps=4).current_step_index
    2
    >>> promote(RolloutState(current_step_index=4), full=False, steps=4).current_step_index
    4
    >>> promote(RolloutState(current_step_index=1), full=True, steps=4).promote_full
    True
    """
    if full:
        return rollout.evolve(promote_full=True, pause_conditions=())
    return rollout.evolve(
        current_step_index=min(rollout.current_step_index + 1, steps), pause_conditions=()
    )
