"""Canary and blue-green step scripts, fail fast, autoRollback, and restart."""

from __future__ import annotations

from typing import Any

from reconciler.engine.dispatch import plan
from reconciler.engine.model import (
    DeletePod,
    DeploymentView,
    Intent,
    Plan,
    PodView,
    ReplicaSetView,
    ScaleReplicaSet,
)
from tests.engine.builders import T0, rs, spec

CANARY = {
    "type": "Canary",
    "canary": {
        "steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {"duration": 10}}]
    },
}
BLUE_GREEN = {
    "type": "BlueGreen",
    "blueGreen": {
        "activeService": "web-active",
        "previewService": "web-preview",
        "autoPromotionEnabled": False,
    },
}


def view(
    s: dict[str, Any],
    new: str,
    *rss: ReplicaSetView,
    status: dict[str, Any],
    intents: tuple[Intent, ...] = (),
    services: tuple[str, ...] = ("web",),
    analysis_failures: int = 0,
) -> DeploymentView:
    return DeploymentView(
        namespace="default",
        name="web",
        generation=1,
        spec=s,
        template_hash=new,
        replica_sets=rss,
        status=status,
        services=services,
        intents=intents,
        analysis_failures=analysis_failures,
    )


def scales(p: Plan) -> dict[str, int]:
    return {a.name: a.replicas for a in p.actions if isinstance(a, ScaleReplicaSet)}


def stable_status(pod_hash: str) -> dict[str, Any]:
    return {
        "rollout": {"currentPodHash": pod_hash, "stableRS": pod_hash, "activeSelector": pod_hash}
    }


def test_canary_first_step_sets_weight_twenty() -> None:
    """5 replicas at setWeight 20: 1 canary pod, stable 4, traffic split 80/20 exactly."""
    s = spec(5, CANARY)
    p1 = plan(
        view(
            s, "new", rs("old", 5, desired=5), rs("new", 0, revision=2), status=stable_status("old")
        ),
        now=T0,
    )
    assert scales(p1) == {"web-new": 1}
    st = dict(p1.status)
    p2 = plan(
        view(s, "new", rs("old", 5, desired=5), rs("new", 1, revision=2, desired=5), status=st),
        now=T0 + 1,
    )
    assert scales(p2) == {"web-old": 4}
    groups = {g.name: g.weight for g in p2.traffic["web"]}
    assert groups == {"stable": 80, "canary": 20}


def test_canary_pause_and_promote() -> None:
    """At an indefinite pause the rollout is Paused until promote advances the step."""
    s = spec(5, CANARY)
    rss = (rs("old", 4, desired=5), rs("new", 1, revision=2, desired=5))
    st = {"rollout": {"currentPodHash": "new", "stableRS": "old", "currentStepIndex": 0}}
    p1 = plan(view(s, "new", *rss, status=st), now=T0)
    assert p1.status["rollout"]["currentStepIndex"] == 1
    assert p1.events[-1].message == "Rollout step 1/4 completed (setWeight: 20)"
    p2 = plan(view(s, "new", *rss, status=dict(p1.status)), now=T0 + 1)
    assert p2.status["rollout"]["phase"] == "Paused"
    assert p2.status["rollout"]["message"] == "CanaryPauseStep"
    p3 = plan(
        view(s, "new", *rss, status=dict(p2.status), intents=(Intent(7, "promote"),)), now=T0 + 2
    )
    assert p3.consumed_intents == (7,)
    assert p3.status["rollout"]["currentStepIndex"] == 2
    assert p3.status["rollout"]["setWeight"] == 60


def test_canary_timed_pause_completes_after_duration() -> None:
    """A pause with a duration completes once the duration has passed."""
    s = spec(5, CANARY)
    rss = (rs("old", 2, desired=5), rs("new", 3, revision=2, desired=5))
    st = {"rollout": {"currentPodHash": "new", "stableRS": "old", "currentStepIndex": 3}}
    p1 = plan(view(s, "new", *rss, status=st), now=T0)
    assert p1.requeue_after is not None and abs(p1.requeue_after - 10) < 1e-6
    p2 = plan(view(s, "new", *rss, status=dict(p1.status)), now=T0 + 10)
    assert p2.status["rollout"]["currentStepIndex"] == 4


def test_canary_abort_sends_traffic_to_stable_and_degrades() -> None:
    """Abort: weight 0 at once, the canary scaled down as stable recovers, phase Degraded."""
    s = spec(5, CANARY)
    rss = (rs("old", 4, desired=5), rs("new", 1, revision=2, desired=5))
    st = {"rollout": {"currentPodHash": "new", "stableRS": "old", "currentStepIndex": 1}}
    p = plan(view(s, "new", *rss, status=st, intents=(Intent(1, "abort"),)), now=T0)
    assert {g.name: g.weight for g in p.traffic["web"]} == {"stable": 100, "canary": 0}
    assert scales(p) == {"web-old": 5}
    assert p.status["rollout"]["phase"] == "Degraded"
    retry = plan(
        view(s, "new", *rss, status=dict(p.status), intents=(Intent(2, "retry"),)), now=T0 + 1
    )
    assert retry.status["rollout"]["abort"] is False
    assert retry.status["rollout"]["phase"] != "Degraded"


def test_canary_fast_rollback_to_stable_template() -> None:
    """Going back to the stable template skips the steps: a plain rolling update back."""
    s = spec(5, CANARY)
    st = {"rollout": {"currentPodHash": "new", "stableRS": "old", "currentStepIndex": 1}}
    p = plan(
        view(s, "old", rs("old", 4, desired=5), rs("new", 1, revision=2, desired=5), status=st),
        now=T0,
    )
    assert scales(p) == {"web-old": 5}
    assert p.status["rollout"]["currentStepIndex"] == 4


def test_canary_analysis_failure_aborts() -> None:
    """More analysis failures than failureLimit abort the canary."""
    strategy = {"type": "Canary", "canary": {**CANARY["canary"], "analysis": {"failureLimit": 1}}}
    s = spec(5, strategy)
    rss = (rs("old", 4, desired=5), rs("new", 1, revision=2, desired=5))
    st = {"rollout": {"currentPodHash": "new", "stableRS": "old", "currentStepIndex": 1}}
    p = plan(view(s, "new", *rss, status=st, analysis_failures=2), now=T0)
    assert p.status["rollout"]["abort"] is True
    assert any(e.reason == "AnalysisRunFailed" for e in p.events)


def test_bluegreen_preview_pause_promote_switch() -> None:
    """Preview comes up, pauses (autoPromotion off), promote switches active atomically."""
    s = spec(2, BLUE_GREEN)
    st = stable_status("old")
    p1 = plan(
        view(
            s, "new", rs("old", 2, desired=2, max_replicas=3), rs("new", 0, revision=2), status=st
        ),
        now=T0,
    )
    assert scales(p1) == {"web-new": 2}
    assert p1.traffic["web-active"][0].replica_sets == ("web-old",)
    assert p1.traffic["web-preview"][0].replica_sets == ("web-new",)
    rss = (
        rs("old", 2, desired=2, max_replicas=3),
        rs("new", 2, revision=2, desired=2, max_replicas=3),
    )
    p2 = plan(view(s, "new", *rss, status=dict(p1.status)), now=T0 + 1)
    assert p2.status["rollout"]["phase"] == "Paused"
    assert p2.status["rollout"]["message"] == "BlueGreenPause"
    p3 = plan(
        view(s, "new", *rss, status=dict(p2.status), intents=(Intent(3, "promote"),)), now=T0 + 2
    )
    assert p3.traffic["web-active"][0].replica_sets == ("web-new",)
    assert p3.status["rollout"]["activeSelector"] == "new"
    assert scales(p3) == {}  # old RS stays for scaleDownDelaySeconds
    p4 = plan(view(s, "new", *rss, status=dict(p3.status)), now=T0 + 40)
    assert scales(p4) == {"web-old": 0}


def test_bluegreen_undo_within_the_scale_down_delay_is_fast_tracked() -> None:
    """Back to the previous RS while it is still up: switch at once, no preview pause."""
    s = spec(2, BLUE_GREEN)  # autoPromotionEnabled: false
    rss = (
        rs("old", 2, desired=2, max_replicas=3),
        rs("new", 2, revision=2, desired=2, max_replicas=3),
    )
    promoted = plan(
        view(s, "new", *rss, status=stable_status("old"), intents=(Intent(1, "promote"),)),
        now=T0,
    )
    p1 = plan(view(s, "new", *rss, status=dict(promoted.status)), now=T0 + 1)  # switched
    assert p1.status["rollout"]["activeSelector"] == "new"
    back = plan(view(s, "old", *rss, status=dict(p1.status)), now=T0 + 5)  # undo
    assert back.traffic["web-active"][0].replica_sets == ("web-old",)
    assert back.status["rollout"]["pauseConditions"] == []
    later = plan(view(s, "old", *rss, status=dict(back.status)), now=T0 + 40)
    assert scales(later) == {"web-new": 0}  # the abandoned RS goes after its own delay


def test_bluegreen_abort_keeps_active_on_old() -> None:
    """Abort before promotion: active stays on old, preview back to old, Degraded."""
    bg = {**BLUE_GREEN, "blueGreen": {**BLUE_GREEN["blueGreen"], "abortScaleDownDelaySeconds": 0}}
    s = spec(2, bg)
    rss = (
        rs("old", 2, desired=2, max_replicas=3),
        rs("new", 2, revision=2, desired=2, max_replicas=3),
    )
    p = plan(
        view(s, "new", *rss, status=stable_status("old"), intents=(Intent(1, "abort"),)), now=T0
    )
    assert p.traffic["web-active"][0].replica_sets == ("web-old",)
    assert p.traffic["web-preview"][0].replica_sets == ("web-old",)
    assert scales(p) == {"web-new": 0}
    assert p.status["rollout"]["phase"] == "Degraded"


def _failing(pod_hash: str, reason: str, restarts: int = 0) -> ReplicaSetView:
    name = f"web-{pod_hash}"
    pod = PodView(
        name=f"{name}-xyz",
        created_at=T0 - 10,
        phase="Pending",
        waiting_reason=reason,
        waiting_message="image not found",
        restarts=restarts,
    )
    return ReplicaSetView(
        name=name,
        hash=pod_hash,
        revision=2,
        replicas=1,
        annotations={},
        created_at=T0 - 10,
        pods=(pod,),
    )


def test_fail_fast_reports_replica_failure() -> None:
    """A new pod in ImagePullBackOff gives ReplicaFailure naming the pod, phase Degraded."""
    s = spec(3)
    p = plan(
        view(
            s,
            "new",
            rs("old", 3, desired=3),
            _failing("new", "ImagePullBackOff"),
            status=stable_status("old"),
        ),
        now=T0,
    )
    cond = {c["type"]: c for c in p.status["conditions"]}
    assert cond["ReplicaFailure"]["reason"] == "ImagePullBackOff"
    assert (
        cond["ReplicaFailure"]["message"]
        == 'pod "web-new-xyz" is in ImagePullBackOff: image not found'
    )
    assert p.status["rollout"]["phase"] == "Degraded"


def test_crash_loop_fails_fast_at_the_first_back_off() -> None:
    """CrashLoopBackOff fails fast as soon as Kubernetes would say it: the first back-off
    (one restart), not a pod that has not been restarted yet."""
    s = spec(3)
    early = plan(
        view(
            s,
            "new",
            rs("old", 3, desired=3),
            _failing("new", "CrashLoopBackOff", 0),
            status=stable_status("old"),
        ),
        now=T0,
    )
    assert "ReplicaFailure" not in {c["type"] for c in early.status["conditions"]}
    late = plan(
        view(
            s,
            "new",
            rs("old", 3, desired=3),
            _failing("new", "CrashLoopBackOff", 1),
            status=stable_status("old"),
        ),
        now=T0,
    )
    assert "ReplicaFailure" in {c["type"] for c in late.status["conditions"]}


def test_auto_rollback_returns_to_stable_and_remembers() -> None:
    """autoRollback: the failed template is recorded, then the failed RS is scaled to 0."""
    s = spec(3, autoRollback=True)
    rss = (rs("old", 3, desired=3), _failing("new", "ErrImagePull"))
    p1 = plan(view(s, "new", *rss, status=stable_status("old")), now=T0)
    assert p1.status["rollout"]["failedTemplateHash"] == "new"
    assert p1.requeue_after == 0.0
    p2 = plan(view(s, "new", *rss, status=dict(p1.status)), now=T0 + 1)
    assert scales(p2) == {"web-new": 0}
    assert p2.status["rollout"]["phase"] == "Degraded"
    # the same template again (a resync): still rolled back, no retry
    p3 = plan(
        view(s, "new", rs("old", 3, desired=3), rs("new", 0, revision=2), status=dict(p2.status)),
        now=T0 + 2,
    )
    assert scales(p3) == {}
    assert p3.status["rollout"]["phase"] == "Degraded"


def test_restart_surges_then_replaces_old_pod() -> None:
    """restart with maxUnavailable 0: the RS surges by one, then one old pod goes."""
    s = spec(2, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    st = {"rollout": {"currentPodHash": "aaa", "stableRS": "aaa"}}
    p1 = plan(
        view(
            s,
            "aaa",
            rs("aaa", 2, desired=2, max_replicas=3),
            status=st,
            intents=(Intent(1, "restart", {"at": T0}),),
        ),
        now=T0,
    )
    assert scales(p1) == {"web-aaa": 3}
    assert p1.status["rollout"]["restartedAt"] == T0
    surged = rs("aaa", 3, desired=2, max_replicas=3)
    starting = ReplicaSetView(
        name=surged.name,
        hash="aaa",
        revision=1,
        replicas=3,
        annotations=surged.annotations,
        created_at=surged.created_at,
        pods=(*surged.pods[:2], PodView(name="web-aaa-new", created_at=T0 + 1, phase="Pending")),
    )
    waiting = plan(view(s, "aaa", starting, status=dict(p1.status)), now=T0 + 1)
    assert waiting.actions == ()  # the surged pod is not Ready yet: wait, do not shrink back
    newest = surged.pods[-1]
    fresh = ReplicaSetView(
        name=surged.name,
        hash="aaa",
        revision=1,
        replicas=3,
        annotations=surged.annotations,
        created_at=surged.created_at,
        pods=(
            *surged.pods[:2],
            PodView(
                name=newest.name, created_at=T0 + 1, ready=True, ready_since=T0 + 2, phase="Running"
            ),
        ),
    )
    p2 = plan(view(s, "aaa", fresh, status=dict(p1.status)), now=T0 + 3)
    assert isinstance(p2.actions[0], DeletePod)
    assert scales(p2) == {"web-aaa": 2}
    assert p2.status["rollout"]["message"] == "rollout is restarting"
