"""The guard ladder: one pass over one Deployment, from a view to a plan (k8s ``syncDeployment``).

``plan`` is a script of named phases, in Kubernetes' order extended with the intents and
autoRollback. Each phase is a small pure function from the pass so far (``Pass``) to the next;
none changes what it is given:

1. ``begin``: the remembered state; a new template starts a new rollout;
2. ``apply_intents``, ``note_retry``, ``check_analysis`` (``engine/intents.py``): promote,
   abort, retry and restart, and a failed canary analysis, update the remembered state;
3. ``choose_target``: which RS to drive towards, the template's or the stable one after an
   abort or a rollback, and whether this pass only scales (paused, or a scaling event);
4. ``note_pause`` and ``note_new_rollout``: Progressing DeploymentPaused/Resumed, and the
   deadline clock of a new rollout;
5. ``take_step``: the ladder proper: proportional scaling, else a pending ``rollout restart``
   once settled, else the strategy's planner;
6. ``count``, ``note_progress``, ``note_failure``, ``roll_back_on_failure``: counts,
   Available, Progressing (deadline), ReplicaFailure (fail fast) and autoRollback's decision;
7. ``mark_stable``, ``clean_up``, ``set_phase``, ``schedule``: the stable RS, history
   clean-up, the phase and when to look again.

Worked example, RollingUpdate, 3 replicas, stable ``old`` at 3, a new template ``new``: begin
resets the step state and records ``currentPodHash: new``; no intent, no analysis; the target
is ``new`` (created at 0); take_step scales it to 1 (25% surge); counts say 3 pods, 0
updated; Progressing is ``NewReplicaSetCreated``; phase Progressing, "more replicas need to be
updated". Passes later, with 3 new pods available and ``old`` at 0, mark_stable records
``stableRS: new`` and the phase is Healthy.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.engine import progress
from reconciler.engine.bluegreen import plan_bluegreen
from reconciler.engine.canary import plan_canary
from reconciler.engine.context import Step, build_context, earliest
from reconciler.engine.fenceposts import strategy_of
from reconciler.engine.history import plan_cleanup
from reconciler.engine.intents import apply_intents, begin, check_analysis, note_retry
from reconciler.engine.model import (
    Action,
    ConditionType,
    DeletePod,
    DeleteReplicaSet,
    DeploymentView,
    EventRecord,
    Plan,
    Reason,
    ScaleReplicaSet,
)
from reconciler.engine.phase import rollout_phase
from reconciler.engine.recreate import plan_recreate
from reconciler.engine.restart import plan_restart, stale_pods
from reconciler.engine.rollback import rollback_event, rolled_back, should_roll_back, stable_hash
from reconciler.engine.rolling import plan_rolling
from reconciler.engine.scaling import is_scaling_event, plan_scale
from reconciler.engine.script import Pass, Target
from reconciler.engine.serialize import with_rollout
from reconciler.engine.state import Strategy

PassPhase = Callable[[Pass, Target], Pass]  # one named phase of the script


def plan(deployment: DeploymentView, *, now: float) -> Plan:
    """The next safe step for ``deployment`` at ``now``; the same inputs give the same plan."""
    p = check_analysis(note_retry(apply_intents(begin(deployment, now=now))))
    target = choose_target(p)
    phases: tuple[PassPhase, ...] = (
        note_pause,
        note_new_rollout,
        take_step,
        count,
        note_progress,
        note_failure,
        roll_back_on_failure,
        mark_stable,
        clean_up,
        set_phase,
        schedule,
    )
    for phase in phases:
        p = phase(p, target)
    return finish(p)


def choose_target(p: Pass) -> Target:
    """The RS this pass drives towards, and which rung of the ladder it takes."""
    view, rollout = p.view, p.rollout
    strategy = strategy_of(view.spec)
    stable = stable_hash(view, rollout)
    is_rolled_back = rolled_back(view, rollout) and bool(stable)
    back_to_stable = (
        strategy is not Strategy.BLUE_GREEN and bool(stable) and (rollout.aborted or is_rolled_back)
    )
    ctx = build_context(
        view, target_hash=stable if back_to_stable else view.template_hash, now=p.now
    )
    scaling = p.paused or (
        strategy in (Strategy.ROLLING_UPDATE, Strategy.RECREATE) and is_scaling_event(ctx)
    )
    return Target(
        ctx=ctx,
        aborted=rollout.aborted,
        rolled_back=is_rolled_back,
        back_to_stable=back_to_stable,
        scaling=scaling,
    )


def note_pause(p: Pass, t: Target) -> Pass:
    """``checkPausedConditions``: a deadline already exceeded stays as it is."""
    current = progress.get_condition(p.conditions, ConditionType.PROGRESSING)
    if current and current["reason"] == Reason.PROGRESS_DEADLINE_EXCEEDED:
        return p
    paused_now = current is not None and current["reason"] == Reason.DEPLOYMENT_PAUSED
    if p.paused == paused_now:
        return p
    reason, message = (
        (Reason.DEPLOYMENT_PAUSED, "Deployment is paused")
        if p.paused
        else (Reason.DEPLOYMENT_RESUMED, "Deployment is resumed")
    )
    return p.with_condition(
        progress.condition(ConditionType.PROGRESSING, "Unknown", reason, message, now=p.now)
    )


def note_new_rollout(p: Pass, t: Target) -> Pass:
    """A new rollout restarts the deadline clock: ``Created new replica set "X"``."""
    if not p.template_changed or t.back_to_stable:
        return p
    if p.view.spec.get("progressDeadlineSeconds") is None:
        return p
    ctx = t.ctx
    current = progress.get_condition(p.conditions, ConditionType.PROGRESSING)
    if ctx.new_exists and ctx.pods(ctx.new_rs) > 0 and current is None:
        reason, message = Reason.FOUND_NEW_RS, f'Found new replica set "{ctx.new_rs.name}"'
    else:
        reason, message = Reason.NEW_RS_CREATED, f'Created new replica set "{ctx.new_rs.name}"'
    new = progress.condition(ConditionType.PROGRESSING, "True", reason, message, now=ctx.now)
    if current and current["status"] == "True":
        new["lastTransitionTime"] = current["lastTransitionTime"]
    return p.without_condition(ConditionType.PROGRESSING).appending_condition(new)


def take_step(p: Pass, t: Target) -> Pass:
    """Proportional scaling, else a pending restart once settled, else the strategy."""
    step = plan_scale(t.ctx) if t.scaling else _restart_or_strategy(p, t)
    return p.evolve(
        rollout=step.rollout or p.rollout,
        step=step,
        events=(*p.events, *step.events),
        requeue_after=earliest(p.requeue_after, step.requeue_after),
    )


def _restart_or_strategy(p: Pass, t: Target) -> Step:
    restart_at = p.rollout.restarted_at
    if restart_at is not None and _settled(p, t):
        step = plan_restart(t.ctx, restart_at)
        # While a restart is replacing pods, its "wait" must not fall through to the
        # strategy, which would see the surged RS above `replicas` and shrink it at once
        # (killing the pod that was just started, over and over).
        if step.actions or stale_pods(t.ctx, restart_at):
            return step
    ctx, rollout = t.ctx, p.rollout
    if ctx.strategy is Strategy.RECREATE:
        return plan_recreate(ctx)
    if ctx.strategy is Strategy.CANARY:
        return plan_canary(ctx, rollout, back_to_stable=t.back_to_stable)
    if ctx.strategy is Strategy.BLUE_GREEN:
        return plan_bluegreen(ctx, rollout, aborted=t.halted)
    return plan_rolling(ctx)


def _settled(p: Pass, t: Target) -> bool:
    """Everything runs on the template's RS: the moment a restart may replace pods."""
    ctx, template = t.ctx, p.view.template_hash
    if t.back_to_stable or t.aborted or ctx.new_rs.hash != template:
        return False
    if any(rs.replicas or ctx.pods(rs) for rs in ctx.old_rss):
        return False
    if ctx.strategy is Strategy.CANARY and p.rollout.stable_rs != template:
        return False
    return not (ctx.strategy is Strategy.BLUE_GREEN and p.rollout.active_selector != template)


def count(p: Pass, t: Target) -> Pass:
    """The status counts after this pass's scales, and the Available condition."""
    sizes = {rs.name: rs.replicas for rs in t.ctx.all_rss}
    for action in p.step.actions:
        if isinstance(action, ScaleReplicaSet):
            sizes[action.name] = action.replicas
    counts = progress.counts(t.ctx, sizes)
    p = p.evolve(counts=counts)
    return p.with_condition(progress.available_condition(t.ctx, counts["availableReplicas"]))


def note_progress(p: Pass, t: Target) -> Pass:
    """The Progressing condition (skipped on the scaling path, as in Kubernetes)."""
    if t.scaling:
        return p
    conditions = progress.rollout_progressing(
        t.ctx,
        list(p.conditions),
        p.rollout,
        old_status=p.old_status,
        counts=p.counts,
        aborted=t.halted,
    )
    return p.evolve(conditions=tuple(conditions))


def note_failure(p: Pass, t: Target) -> Pass:
    """Fail fast on the template's pods; sticky while rolled back from that template."""
    if t.rolled_back:
        return p
    failure = progress.fail_fast(t.ctx.rs_by_hash(p.view.template_hash))
    if not failure:
        return p.without_condition(ConditionType.REPLICA_FAILURE)
    reason, message = failure
    had = progress.get_condition(p.conditions, ConditionType.REPLICA_FAILURE)
    p = p.with_condition(
        progress.condition(ConditionType.REPLICA_FAILURE, "True", reason, message, now=p.now)
    )
    if had and had.get("message") == message:
        return p
    return p.evolve(events=(*p.events, EventRecord("Warning", reason, message)))


def roll_back_on_failure(p: Pass, t: Target) -> Pass:
    """autoRollback: a failing pod or a passed deadline sends the Deployment back to stable."""
    failure = progress.fail_fast(t.ctx.rs_by_hash(p.view.template_hash))
    current = progress.get_condition(p.conditions, ConditionType.PROGRESSING)
    cause = failure[1] if failure else None
    if current and current["reason"] == Reason.PROGRESS_DEADLINE_EXCEEDED:
        cause = current["message"]
    if not cause or p.paused or not should_roll_back(p.view, p.rollout):
        return p
    event = rollback_event(p.view, stable=stable_hash(p.view, p.rollout), cause=cause)
    return p.evolve(
        rollout=p.rollout.evolve(failed_template_hash=p.view.template_hash),
        events=(*p.events, event),
        requeue_after=earliest(p.requeue_after, 0.0),
    )


def _complete(p: Pass, t: Target) -> bool:
    return progress.is_complete(t.ctx, p.counts)


def mark_stable(p: Pass, t: Target) -> Pass:
    """A completed rollout of the template makes it the stable RS (a canary or blue-green
    one only the first time: later their own scripts decide)."""
    strategy = t.ctx.strategy
    if (
        _complete(p, t)
        and t.ctx.new_rs.hash == p.view.template_hash
        and not t.halted
        and (strategy in (Strategy.ROLLING_UPDATE, Strategy.RECREATE) or not p.rollout.stable_rs)
    ):
        return p.evolve(rollout=p.rollout.evolve(stable_rs=p.view.template_hash))
    return p


def clean_up(p: Pass, t: Target) -> Pass:
    """History clean-up once nothing scales (paused, or complete), keeping what still serves."""
    if any(isinstance(a, ScaleReplicaSet) for a in p.step.actions):
        return p
    if not (p.paused or _complete(p, t)):
        return p
    keep = {p.rollout.stable_rs, p.rollout.active_selector} - {""}
    return p.evolve(step=p.step.then(plan_cleanup(t.ctx, keep=keep)))


def set_phase(p: Pass, t: Target) -> Pass:
    restart_at = p.rollout.restarted_at
    restarting = restart_at is not None and (
        bool(stale_pods(t.ctx, restart_at)) or t.ctx.new_rs.replicas > t.ctx.replicas
    )
    phase, message = rollout_phase(
        t.ctx, rollout=p.rollout, conditions=p.conditions, counts=p.counts, restarting=restarting
    )
    return p.evolve(rollout=p.rollout.evolve(phase=phase, message=message))


def schedule(p: Pass, t: Target) -> Pass:
    """When to look again: the progress deadline (not while paused), ``minReadySeconds``."""
    requeue = p.requeue_after
    if not p.paused:
        requeue = earliest(requeue, progress.deadline_requeue(t.ctx, p.conditions))
    return p.evolve(requeue_after=earliest(requeue, progress.min_ready_requeue(t.ctx)))


def finish(p: Pass) -> Plan:
    status = {
        "observedGeneration": p.view.generation,
        **p.counts,
        "conditions": list(p.conditions),
    }
    return Plan(
        actions=_ordered(p.step.actions),
        status=with_rollout(status, p.rollout),
        events=p.events,
        traffic=dict(p.step.traffic),
        consumed_intents=p.consumed,
        requeue_after=p.requeue_after,
        rollout=p.rollout,
    )


def _ordered(actions: tuple[Action, ...]) -> tuple[Action, ...]:
    """Pod deletions, then one scale per RS (the last decision wins), then RS deletions."""
    pods = [a for a in actions if isinstance(a, DeletePod)]
    scales: dict[str, ScaleReplicaSet] = {}
    for a in actions:
        if isinstance(a, ScaleReplicaSet):
            scales[a.name] = a
    doomed = [a for a in actions if isinstance(a, DeleteReplicaSet)]
    return (*pods, *scales.values(), *doomed)
