"""The guard ladder: one pass over one Deployment, from a view to a plan (k8s ``syncDeployment``).

Order, as in Kubernetes' deployment controller, extended with the intents and autoRollback:

1. intents (promote, abort, retry, restart) update the remembered strategy state;
2. which RS to drive towards: the template's, or the stable one after an abort or rollback;
3. paused -> proportional scaling and history clean-up only, Progressing Unknown/DeploymentPaused;
4. a scaling event (RollingUpdate/Recreate) -> proportional scaling;
5. a pending ``rollout restart`` once settled, else the strategy's planner;
6. status: counts, Available, Progressing (deadline), ReplicaFailure (fail fast), the stable
   RS, autoRollback's decision, the phase, and when to look again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.engine import canary as canary_mod
from reconciler.engine import progress
from reconciler.engine.bluegreen import plan_bluegreen
from reconciler.engine.canary import plan_canary
from reconciler.engine.context import Context, Step, build_context, earliest
from reconciler.engine.fenceposts import strategy_of
from reconciler.engine.history import plan_cleanup
from reconciler.engine.model import (
    Action,
    ConditionType,
    DeletePod,
    DeleteReplicaSet,
    DeploymentView,
    EventRecord,
    IntentAction,
    Plan,
    Reason,
    RolloutKey,
    ScaleReplicaSet,
    Strategy,
)
from reconciler.engine.phase import rollout_phase
from reconciler.engine.recreate import plan_recreate
from reconciler.engine.restart import plan_restart, stale_pods
from reconciler.engine.rollback import rollback_event, rolled_back, should_roll_back, stable_hash
from reconciler.engine.rolling import plan_rolling
from reconciler.engine.scaling import is_scaling_event, plan_scale

_RESET_ON_NEW_TEMPLATE: dict[str, Any] = {
    RolloutKey.ABORT: False,
    RolloutKey.ABORTED_AT: None,
    RolloutKey.PROMOTE_FULL: False,
    RolloutKey.CURRENT_STEP_INDEX: 0,
    RolloutKey.PAUSE_CONDITIONS: [],
    RolloutKey.FAILED_TEMPLATE: "",
    RolloutKey.ANALYSIS_FAILURES: 0,
}


def plan(deployment: DeploymentView, *, now: float) -> Plan:
    """The next safe step for ``deployment`` at ``now``; the same inputs give the same plan."""
    view = deployment
    spec = view.spec
    strategy = strategy_of(spec)
    paused = bool(spec.get("paused"))
    old_status: Mapping[str, Any] = view.status or {}
    rollout: dict[str, Any] = dict(old_status.get("rollout") or {})
    conditions = [dict(c) for c in old_status.get("conditions") or []]
    events: list[EventRecord] = []
    template = view.template_hash
    requeue: float | None = None

    # a new template starts a new rollout (not while paused: it has not started yet)
    template_changed = not paused and rollout.get(RolloutKey.CURRENT_POD_HASH) != template
    if template_changed:
        rollout.update(_RESET_ON_NEW_TEMPLATE)
        rollout[RolloutKey.CURRENT_POD_HASH] = template
    rollout[RolloutKey.STRATEGY] = str(strategy)

    consumed, intent_events = _apply_intents(view, rollout, strategy=strategy, now=now)
    events += intent_events
    if _retried(view):
        conditions = progress.set_condition(
            progress.remove_condition(conditions, ConditionType.PROGRESSING),
            progress.condition(
                ConditionType.PROGRESSING,
                "True",
                Reason.ROLLOUT_RETRY,
                "Retrying Rollout after abort",
                now=now,
            ),
        )
    analysis = _check_analysis(view, rollout, strategy=strategy, now=now)
    events += analysis.events
    requeue = earliest(requeue, analysis.requeue_after)

    aborted = bool(rollout.get(RolloutKey.ABORT))
    stable = stable_hash(view, rollout)
    is_rolled_back = rolled_back(view, rollout) and bool(stable)
    back_to_stable = (
        strategy is not Strategy.BLUE_GREEN and bool(stable) and (aborted or is_rolled_back)
    )
    ctx = build_context(view, target_hash=stable if back_to_stable else template, now=now)

    conditions = _paused_conditions(conditions, paused=paused, now=now)
    if template_changed and not back_to_stable and spec.get("progressDeadlineSeconds") is not None:
        conditions = _new_rs_condition(ctx, conditions)

    # the ladder
    scaling_path = paused or (
        strategy in (Strategy.ROLLING_UPDATE, Strategy.RECREATE) and is_scaling_event(ctx)
    )
    restart_at = rollout.get(RolloutKey.RESTARTED_AT)
    settled = _settled(ctx, rollout, back_to_stable=back_to_stable, aborted=aborted)
    if scaling_path:
        step = plan_scale(ctx)
    else:
        step = Step()
        replacing = False
        if restart_at is not None and settled:
            step = plan_restart(ctx, float(restart_at))
            # While a restart is replacing pods, its "wait" must not fall through to the
            # strategy, which would see the surged RS above `replicas` and shrink it at once
            # (killing the pod that was just started, over and over).
            replacing = bool(stale_pods(ctx, float(restart_at)))
        if not step.actions and not replacing:
            step = _strategy_step(ctx, rollout, strategy, back_to_stable, aborted or is_rolled_back)
    rollout.update(step.rollout)
    events += step.events
    requeue = earliest(requeue, step.requeue_after)

    sizes = {rs.name: rs.replicas for rs in ctx.all_rss}
    for action in step.actions:
        if isinstance(action, ScaleReplicaSet):
            sizes[action.name] = action.replicas
    counts = progress.counts(ctx, sizes)
    conditions = progress.set_condition(
        conditions, progress.available_condition(ctx, counts["availableReplicas"])
    )
    conditions = _progressing(
        ctx,
        conditions,
        rollout,
        old_status=old_status,
        counts=counts,
        scaling_path=scaling_path,
        aborted=aborted or is_rolled_back,
    )

    # fail fast on the template's pods; sticky while rolled back from that template
    failure = progress.fail_fast(ctx.rs_by_hash(template))
    had_failure = progress.get_condition(conditions, ConditionType.REPLICA_FAILURE)
    if is_rolled_back:
        pass
    elif failure:
        reason, message = failure
        conditions = progress.set_condition(
            conditions,
            progress.condition(ConditionType.REPLICA_FAILURE, "True", reason, message, now=now),
        )
        if not had_failure or had_failure.get("message") != message:
            events.append(EventRecord("Warning", reason, message))
    else:
        conditions = progress.remove_condition(conditions, ConditionType.REPLICA_FAILURE)

    current = progress.get_condition(conditions, ConditionType.PROGRESSING)
    cause = failure[1] if failure else None
    if current and current["reason"] == Reason.PROGRESS_DEADLINE_EXCEEDED:
        cause = current["message"]
    if cause and not paused and should_roll_back(view, rollout):
        rollout[RolloutKey.FAILED_TEMPLATE] = template
        events.append(rollback_event(view, stable=stable_hash(view, rollout), cause=cause))
        requeue = 0.0

    complete = progress.is_complete(ctx, counts)
    if (
        complete
        and ctx.new_rs.hash == template
        and not (aborted or is_rolled_back)
        and (
            strategy in (Strategy.ROLLING_UPDATE, Strategy.RECREATE)
            or not rollout.get(RolloutKey.STABLE_RS)
        )
    ):
        rollout[RolloutKey.STABLE_RS] = template
    if not any(isinstance(a, ScaleReplicaSet) for a in step.actions) and (paused or complete):
        keep = {
            str(rollout.get(RolloutKey.STABLE_RS) or ""),
            str(rollout.get(RolloutKey.ACTIVE_SELECTOR) or ""),
        } - {""}
        step = step.then(plan_cleanup(ctx, keep=keep))

    restarting = restart_at is not None and (
        bool(stale_pods(ctx, float(restart_at))) or ctx.new_rs.replicas > ctx.replicas
    )
    phase, message = rollout_phase(
        ctx, rollout=rollout, conditions=conditions, counts=counts, restarting=restarting
    )
    rollout[RolloutKey.PHASE] = str(phase)
    rollout[RolloutKey.MESSAGE] = message

    if not paused:
        requeue = earliest(requeue, progress.deadline_requeue(ctx, conditions))
    requeue = earliest(requeue, progress.min_ready_requeue(ctx))
    status: dict[str, Any] = {
        "observedGeneration": view.generation,
        **counts,
        "conditions": conditions,
        "rollout": {str(k): v for k, v in rollout.items()},
    }
    return Plan(
        actions=_ordered(step.actions),
        status=status,
        events=tuple(events),
        traffic=dict(step.traffic),
        consumed_intents=consumed,
        requeue_after=requeue,
    )


def _strategy_step(
    ctx: Context,
    rollout: Mapping[str, Any],
    strategy: Strategy,
    back_to_stable: bool,
    aborted: bool,
) -> Step:
    if strategy is Strategy.RECREATE:
        return plan_recreate(ctx)
    if strategy is Strategy.CANARY:
        return plan_canary(ctx, rollout, back_to_stable=back_to_stable)
    if strategy is Strategy.BLUE_GREEN:
        return plan_bluegreen(ctx, rollout, aborted=aborted)
    return plan_rolling(ctx)


def _settled(
    ctx: Context, rollout: Mapping[str, Any], *, back_to_stable: bool, aborted: bool
) -> bool:
    """Everything runs on the template's RS: the moment a restart may replace pods."""
    if back_to_stable or aborted or ctx.new_rs.hash != ctx.view.template_hash:
        return False
    if any(rs.replicas or ctx.pods(rs) for rs in ctx.old_rss):
        return False
    if (
        ctx.strategy is Strategy.CANARY
        and rollout.get(RolloutKey.STABLE_RS) != ctx.view.template_hash
    ):
        return False
    return not (
        ctx.strategy is Strategy.BLUE_GREEN
        and rollout.get(RolloutKey.ACTIVE_SELECTOR) != ctx.view.template_hash
    )


def _retried(view: DeploymentView) -> bool:
    return any(i.action == IntentAction.RETRY for i in view.intents)


def _apply_intents(
    view: DeploymentView, rollout: dict[str, Any], *, strategy: Strategy, now: float
) -> tuple[tuple[int, ...], list[EventRecord]]:
    """Fold the pending intents into the strategy state, oldest first; all are consumed."""
    events: list[EventRecord] = []
    steps = len(view.spec.get("strategy", {}).get("canary", {}).get("steps") or [])
    updating = rollout.get(RolloutKey.STABLE_RS) not in (None, "", view.template_hash)
    for intent in sorted(view.intents, key=lambda i: i.id):
        if intent.action == IntentAction.ABORT and updating and not rollout.get(RolloutKey.ABORT):
            rollout[RolloutKey.ABORT] = True
            rollout[RolloutKey.ABORTED_AT] = now
            events.append(EventRecord("Warning", Reason.ROLLOUT_ABORTED, _aborted_message(view)))
        elif intent.action == IntentAction.RETRY:
            rollout[RolloutKey.ABORT] = False
            rollout[RolloutKey.ABORTED_AT] = None
            rollout[RolloutKey.FAILED_TEMPLATE] = ""
            rollout[RolloutKey.CURRENT_STEP_INDEX] = 0
            rollout[RolloutKey.PAUSE_CONDITIONS] = []
            rollout[RolloutKey.ANALYSIS_FAILURES] = view.analysis_failures
            events.append(
                EventRecord("Normal", Reason.ROLLOUT_RETRY, "Retrying Rollout after abort")
            )
        elif intent.action == IntentAction.PROMOTE:
            full = bool(intent.args.get("full"))
            if strategy is Strategy.CANARY:
                canary_mod.promote(rollout, full=full, steps=steps)
            else:
                rollout[RolloutKey.PROMOTE_FULL] = True
                rollout[RolloutKey.PAUSE_CONDITIONS] = []
            events.append(
                EventRecord(
                    "Normal",
                    Reason.ROLLOUT_PROMOTED,
                    "Rollout fully promoted" if full else "Rollout promoted",
                )
            )
        elif intent.action == IntentAction.RESTART:
            rollout[RolloutKey.RESTARTED_AT] = float(intent.args.get("at", now))
            events.append(EventRecord("Normal", Reason.ROLLOUT_RESTARTED, "Rollout restarted"))
    return tuple(i.id for i in view.intents), events


def _aborted_message(view: DeploymentView) -> str:
    revision = next((rs.revision for rs in view.replica_sets if rs.hash == view.template_hash), 0)
    return f"Rollout aborted update to revision {revision}"


def _check_analysis(
    view: DeploymentView, rollout: dict[str, Any], *, strategy: Strategy, now: float
) -> Step:
    """Canary analysis: more failures than ``failureLimit`` aborts the canary."""
    if strategy is not Strategy.CANARY or rollout.get(RolloutKey.ABORT):
        return Step()
    analysis = view.spec.get("strategy", {}).get("canary", {}).get("analysis")
    if not analysis or not stable_hash(view, rollout):
        return Step()
    limit = int(analysis.get("failureLimit", 0))
    failed = view.analysis_failures - int(rollout.get(RolloutKey.ANALYSIS_FAILURES) or 0)
    if failed <= limit:
        return Step()
    rollout[RolloutKey.ABORT] = True
    rollout[RolloutKey.ABORTED_AT] = now
    message = (
        view.analysis_message
        or f"analysis assessed Failed due to failed ({failed}) > failureLimit ({limit})"
    )
    rollout["abortMessage"] = message
    events = [EventRecord("Warning", Reason.ANALYSIS_FAILED, message)]
    if should_roll_back(view, rollout):
        rollout[RolloutKey.FAILED_TEMPLATE] = view.template_hash
        events.append(rollback_event(view, stable=stable_hash(view, rollout), cause=message))
    return Step(events=tuple(events), requeue_after=0.0)


def _paused_conditions(
    conditions: list[dict[str, Any]], *, paused: bool, now: float
) -> list[dict[str, Any]]:
    """``checkPausedConditions``: a deadline already exceeded stays as it is."""
    current = progress.get_condition(conditions, ConditionType.PROGRESSING)
    if current and current["reason"] == Reason.PROGRESS_DEADLINE_EXCEEDED:
        return conditions
    paused_now = current is not None and current["reason"] == Reason.DEPLOYMENT_PAUSED
    if paused and not paused_now:
        return progress.set_condition(
            conditions,
            progress.condition(
                ConditionType.PROGRESSING,
                "Unknown",
                Reason.DEPLOYMENT_PAUSED,
                "Deployment is paused",
                now=now,
            ),
        )
    if not paused and paused_now:
        return progress.set_condition(
            conditions,
            progress.condition(
                ConditionType.PROGRESSING,
                "Unknown",
                Reason.DEPLOYMENT_RESUMED,
                "Deployment is resumed",
                now=now,
            ),
        )
    return conditions


def _new_rs_condition(ctx: Context, conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A new rollout restarts the deadline clock: ``Created new replica set "X"``."""
    current = progress.get_condition(conditions, ConditionType.PROGRESSING)
    if ctx.new_exists and ctx.pods(ctx.new_rs) > 0 and current is None:
        reason, message = Reason.FOUND_NEW_RS, f'Found new replica set "{ctx.new_rs.name}"'
    else:
        reason, message = Reason.NEW_RS_CREATED, f'Created new replica set "{ctx.new_rs.name}"'
    new = progress.condition(ConditionType.PROGRESSING, "True", reason, message, now=ctx.now)
    if current and current["status"] == "True":
        new["lastTransitionTime"] = current["lastTransitionTime"]
    return [*progress.remove_condition(conditions, ConditionType.PROGRESSING), new]


def _progressing(
    ctx: Context,
    conditions: list[dict[str, Any]],
    rollout: Mapping[str, Any],
    *,
    old_status: Mapping[str, Any],
    counts: Mapping[str, int],
    scaling_path: bool,
    aborted: bool,
) -> list[dict[str, Any]]:
    if scaling_path or ctx.spec.get("progressDeadlineSeconds") is None:
        return conditions
    now = ctx.now
    if aborted:
        message = str(rollout.get("abortMessage") or "") or _aborted_message(ctx.view)
        if rollout.get(RolloutKey.FAILED_TEMPLATE) == ctx.view.template_hash:
            message = f"{_aborted_message(ctx.view)}: rolled back to revision {ctx.new_rs.revision}"
        return progress.set_condition(
            conditions,
            progress.condition(
                ConditionType.PROGRESSING, "False", Reason.ROLLOUT_ABORTED, message, now=now
            ),
        )
    if rollout.get(RolloutKey.PAUSE_CONDITIONS):
        return progress.set_condition(
            conditions,
            progress.condition(
                ConditionType.PROGRESSING,
                "Unknown",
                Reason.ROLLOUT_PAUSED,
                "Rollout is paused",
                now=now,
            ),
        )
    current = progress.get_condition(conditions, ConditionType.PROGRESSING)
    if current and current["reason"] in (Reason.ROLLOUT_PAUSED, Reason.ROLLOUT_ABORTED):
        return progress.set_condition(
            conditions,
            progress.condition(
                ConditionType.PROGRESSING,
                "Unknown",
                Reason.ROLLOUT_RESUMED,
                "Rollout is resumed",
                now=now,
            ),
        )
    return progress.sync_progressing(ctx, conditions, old_status=old_status, new_counts=counts)


def _ordered(actions: tuple[Action, ...]) -> tuple[Action, ...]:
    """Pod deletions, then one scale per RS (the last decision wins), then RS deletions."""
    pods = [a for a in actions if isinstance(a, DeletePod)]
    scales: dict[str, ScaleReplicaSet] = {}
    for a in actions:
        if isinstance(a, ScaleReplicaSet):
            scales[a.name] = a
    doomed = [a for a in actions if isinstance(a, DeleteReplicaSet)]
    return (*pods, *scales.values(), *doomed)
