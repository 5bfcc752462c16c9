"""The planners as scripts of pure phases: typed state in and out, nothing mutated, extensible."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from reconciler.engine import canary
from reconciler.engine.canary import CanaryStep, StepKind, StepRun
from reconciler.engine.context import Context
from reconciler.engine.dispatch import plan
from reconciler.engine.model import DeploymentView, EventRecord, Intent, ReplicaSetView
from reconciler.engine.serialize import with_rollout
from reconciler.engine.state import PauseCondition, Phase, RolloutState
from tests.engine.builders import T0, rs, spec

BLUE_GREEN = {
    "type": "BlueGreen",
    "blueGreen": {"activeService": "web-active", "previewService": "web-preview"},
}


def view(
    s: dict[str, Any],
    new: str,
    *rss: ReplicaSetView,
    rollout: RolloutState,
    intents: tuple[Intent, ...] = (),
) -> DeploymentView:
    return DeploymentView(
        namespace="default",
        name="web",
        generation=1,
        spec=s,
        template_hash=new,
        replica_sets=rss,
        status=with_rollout({}, rollout),
        services=("web",),
        intents=intents,
    )


def test_plan_returns_the_state_it_stores() -> None:
    """Plan.rollout is the typed state, and Plan.status["rollout"] is exactly its stored form."""
    p = plan(view(spec(3), "aaa", rs("aaa", 3), rollout=RolloutState()), now=T0)
    assert p.rollout.phase is Phase.HEALTHY and p.rollout.stable_rs == "aaa"
    assert p.status == with_rollout(
        {k: v for k, v in p.status.items() if k != "rollout"}, p.rollout
    )


def test_a_pass_changes_nothing_it_is_given() -> None:
    """Planning leaves the view, its status and its spec exactly as they were."""
    s = spec(5, {"type": "Canary", "canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}})
    before = RolloutState(current_pod_hash="new", stable_rs="old", current_step_index=1)
    v = view(
        s,
        "new",
        rs("old", 4, desired=5),
        rs("new", 1, revision=2, desired=5),
        rollout=before,
        intents=(Intent(1, "promote"),),
    )
    status, spec_copy = copy.deepcopy(dict(v.status)), copy.deepcopy(s)
    p = plan(v, now=T0)
    assert p.rollout.current_step_index == 2 and p.consumed_intents == (1,)
    assert dict(v.status) == status and s == spec_copy


def test_bluegreen_undo_points_the_preview_back_too() -> None:
    """A fast-tracked switch back to the previous RS records both selectors on it."""
    s = spec(2, BLUE_GREEN)
    rss = (rs("old", 2, desired=2), rs("new", 2, revision=2, desired=2))
    switched = RolloutState(
        current_pod_hash="new",
        stable_rs="new",
        active_selector="new",
        preview_selector="new",
        scale_down_at={"web-old": T0 + 30},
    )
    back = plan(view(s, "old", *rss, rollout=switched), now=T0 + 5)
    assert (back.rollout.active_selector, back.rollout.preview_selector) == ("old", "old")
    assert back.rollout.stable_rs == "old"
    assert back.rollout.scale_down_at == {"web-new": T0 + 35}
    assert [e.reason for e in back.events] == ["SwitchService"]


def test_canary_and_bluegreen_pause_alike() -> None:
    """Both strategies pause through one rule: a condition, an event, the same words."""
    s = spec(
        2, {**BLUE_GREEN, "blueGreen": {**BLUE_GREEN["blueGreen"], "autoPromotionEnabled": False}}
    )
    rss = (rs("old", 2, desired=2), rs("new", 2, revision=2, desired=2))
    state = RolloutState(current_pod_hash="new", stable_rs="old", active_selector="old")
    p = plan(view(s, "new", *rss, rollout=state), now=T0)
    assert p.rollout.pause_conditions == (PauseCondition("BlueGreenPause", T0),)
    assert [e.message for e in p.events] == ["Rollout is paused (BlueGreenPause)"]
    c = spec(2, {"type": "Canary", "canary": {"steps": [{"pause": {}}]}})
    q = plan(view(c, "new", *rss[:1], rollout=state), now=T0)
    assert q.rollout.pause_conditions == (PauseCondition("CanaryPauseStep", T0),)
    assert [e.message for e in q.events] == ["Rollout is paused (CanaryPauseStep)"]


def test_a_new_canary_step_kind_is_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step kind added to STEP_KINDS runs once its weight is reached and is named in events."""

    def run(ctx: Context, rollout: RolloutState, step: CanaryStep) -> StepRun:
        event = EventRecord("Normal", "Noted", str(step["note"]))
        return StepRun(done=True, rollout=rollout, events=(event,))

    kinds = {**canary.STEP_KINDS, "note": StepKind(run, lambda step: f"note: {step['note']}")}
    monkeypatch.setattr(canary, "STEP_KINDS", kinds)
    s = spec(2, {"type": "Canary", "canary": {"steps": [{"note": "hello"}, {"pause": {}}]}})
    state = RolloutState(current_pod_hash="new", stable_rs="old")
    p = plan(view(s, "new", rs("old", 2, desired=2), rollout=state), now=T0)
    assert [(e.reason, e.message) for e in p.events] == [
        ("Noted", "hello"),
        ("RolloutStepCompleted", "Rollout step 1/2 completed (note: hello)"),
    ]
    assert p.rollout.current_step_index == 1


def test_a_manual_abort_after_a_retried_analysis_failure_says_abort() -> None:
    """The analysis' message goes with the retry: a later manual abort is not blamed on it."""
    s = spec(
        2,
        {
            "type": "Canary",
            "canary": {
                "steps": [{"setWeight": 50}, {"pause": {}}],
                "analysis": {"failureLimit": 0},
            },
        },
    )
    rss = (rs("old", 1, desired=2), rs("new", 1, revision=2, desired=2))
    state = RolloutState(current_pod_hash="new", stable_rs="old")

    def step(rollout: RolloutState, *intents: Intent, at: float) -> Any:
        v = view(s, "new", *rss, rollout=rollout, intents=intents)
        return plan(replace(v, analysis_failures=1), now=at)

    failed = step(state, at=T0)
    assert failed.rollout.aborted and failed.rollout.abort_message.startswith("analysis assessed")
    retried = step(failed.rollout, Intent(1, "retry"), at=T0 + 1)
    assert not retried.rollout.aborted and retried.rollout.abort_message == ""
    aborted = step(retried.rollout, Intent(2, "abort"), at=T0 + 2)
    progressing = {c["type"]: c for c in aborted.status["conditions"]}["Progressing"]
    assert progressing["message"] == "Rollout aborted update to revision 2"
