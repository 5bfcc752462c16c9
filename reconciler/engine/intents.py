"""The first phases of a pass: what the engine remembers, updated by intents and analysis.

Before the ladder decides anything, the remembered ``RolloutState`` is brought up to date:

* ``begin``: a new template (not while paused: it has not started yet) starts a new rollout,
  so the step, pause, abort and failure memory of the last one is dropped;
* ``apply_intents``: ``rollout promote|abort|retry|restart``, oldest first, all consumed
  (an abort only while a template other than the stable one rolls out);
* ``note_retry``: a retry puts Progressing back to ``RolloutRetry``;
* ``check_analysis``: more canary analysis failures than ``failureLimit`` abort the canary
  (and, with autoRollback, roll it back).

Worked example, a canary paused at step 2 of 4 (``currentStepIndex: 1``): a ``promote`` intent
gives ``currentStepIndex: 2`` and no pause conditions, a ``promote --full`` gives
``promoteFull: true`` (the canary planner then skips every remaining step); an ``abort`` gives
``abort: true``, ``abortedAt: now`` and a ``RolloutAborted`` warning.
"""

from __future__ import annotations

from reconciler.engine import progress
from reconciler.engine.canary import promote
from reconciler.engine.context import earliest
from reconciler.engine.fenceposts import strategy_of
from reconciler.engine.model import (
    ConditionType,
    DeploymentView,
    EventRecord,
    Intent,
    IntentAction,
    Reason,
)
from reconciler.engine.rollback import (
    aborted_message,
    rollback_event,
    should_roll_back,
    stable_hash,
)
from reconciler.engine.script import Pass
from reconciler.engine.serialize import rollout_of
from reconciler.engine.state import RolloutState, Strategy


def begin(view: DeploymentView, *, now: float) -> Pass:
    """The pass starts from what the last one stored."""
    rollout = rollout_of(view.status)
    paused = bool(view.spec.get("paused"))
    changed = not paused and rollout.current_pod_hash != view.template_hash
    if changed:
        rollout = rollout.evolve(
            aborted=False,
            aborted_at=None,
            abort_message="",
            promote_full=False,
            current_step_index=0,
            pause_conditions=(),
            failed_template_hash="",
            analysis_failures=0,
            current_pod_hash=view.template_hash,
        )
    return Pass(
        view=view,
        now=now,
        rollout=rollout.evolve(strategy=strategy_of(view.spec)),
        conditions=tuple(dict(c) for c in (view.status or {}).get("conditions") or []),
        template_changed=changed,
    )


def apply_intents(p: Pass) -> Pass:
    """Fold the pending intents into the rollout state, oldest first; all are consumed."""
    view = p.view
    steps = len(view.spec.get("strategy", {}).get("canary", {}).get("steps") or [])
    updating = p.rollout.stable_rs not in ("", view.template_hash)
    rollout, events = p.rollout, list(p.events)
    for intent in sorted(view.intents, key=lambda i: i.id):
        rollout, said = _apply(view, rollout, intent, updating=updating, steps=steps, now=p.now)
        events += said
    return p.evolve(
        rollout=rollout, events=tuple(events), consumed=tuple(i.id for i in view.intents)
    )


def _apply(
    view: DeploymentView,
    rollout: RolloutState,
    intent: Intent,
    *,
    updating: bool,
    steps: int,
    now: float,
) -> tuple[RolloutState, tuple[EventRecord, ...]]:
    """One intent: the new state and what it says."""
    if intent.action == IntentAction.ABORT and updating and not rollout.aborted:
        return rollout.evolve(aborted=True, aborted_at=now), (
            EventRecord("Warning", Reason.ROLLOUT_ABORTED, aborted_message(view)),
        )
    if intent.action == IntentAction.RETRY:
        retried = rollout.evolve(
            aborted=False,
            aborted_at=None,
            abort_message="",
            failed_template_hash="",
            current_step_index=0,
            pause_conditions=(),
            analysis_failures=view.analysis_failures,
        )
        return retried, (
            EventRecord("Normal", Reason.ROLLOUT_RETRY, "Retrying Rollout after abort"),
        )
    if intent.action == IntentAction.PROMOTE:
        full = bool(intent.args.get("full"))
        if strategy_of(view.spec) is Strategy.CANARY:
            promoted = promote(rollout, full=full, steps=steps)
        else:
            promoted = rollout.evolve(promote_full=True, pause_conditions=())
        message = "Rollout fully promoted" if full else "Rollout promoted"
        return promoted, (EventRecord("Normal", Reason.ROLLOUT_PROMOTED, message),)
    if intent.action == IntentAction.RESTART:
        return rollout.evolve(restarted_at=float(intent.args.get("at", now))), (
            EventRecord("Normal", Reason.ROLLOUT_RESTARTED, "Rollout restarted"),
        )
    return rollout, ()


def note_retry(p: Pass) -> Pass:
    """A retry starts the Progressing condition over: ``RolloutRetry``."""
    if not any(i.action == IntentAction.RETRY for i in p.view.intents):
        return p
    retry = progress.condition(
        ConditionType.PROGRESSING,
        "True",
        Reason.ROLLOUT_RETRY,
        "Retrying Rollout after abort",
        now=p.now,
    )
    return p.without_condition(ConditionType.PROGRESSING).with_condition(retry)


def check_analysis(p: Pass) -> Pass:
    """Canary analysis: more failures than ``failureLimit`` aborts the canary."""
    view, rollout = p.view, p.rollout
    if strategy_of(view.spec) is not Strategy.CANARY or rollout.aborted:
        return p
    analysis = view.spec.get("strategy", {}).get("canary", {}).get("analysis")
    if not analysis or not stable_hash(view, rollout):
        return p
    limit = int(analysis.get("failureLimit", 0))
    failed = view.analysis_failures - rollout.analysis_failures
    if failed <= limit:
        return p
    message = (
        view.analysis_message
        or f"analysis assessed Failed due to failed ({failed}) > failureLimit ({limit})"
    )
    rollout = rollout.evolve(aborted=True, aborted_at=p.now, abort_message=message)
    events = [EventRecord("Warning", Reason.ANALYSIS_FAILED, message)]
    if should_roll_back(view, rollout):
        rollout = rollout.evolve(failed_template_hash=view.template_hash)
        events.append(rollback_event(view, stable=stable_hash(view, rollout), cause=message))
    return p.evolve(
        rollout=rollout,
        events=(*p.events, *events),
        requeue_after=earliest(p.requeue_after, 0.0),
    )
