"""RollingUpdate, Recreate, proportional scaling and history clean-up on the reference examples."""

from __future__ import annotations

from reconciler.engine.dispatch import plan
from reconciler.engine.model import (
    DeleteReplicaSet,
    DeploymentView,
    Plan,
    ReplicaSetView,
    ScaleReplicaSet,
)
from tests.engine.builders import T0, rs, spec

ROLL_10 = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}


def view(s: dict, new: str, *rss: ReplicaSetView, status: dict | None = None) -> DeploymentView:
    return DeploymentView(
        namespace="default",
        name="web",
        generation=1,
        spec=s,
        template_hash=new,
        replica_sets=rss,
        status=status if status is not None else {"rollout": {"currentPodHash": new}},
    )


def scales(p: Plan) -> dict[str, int]:
    return {a.name: a.replicas for a in p.actions if isinstance(a, ScaleReplicaSet)}


def test_first_rollout_scales_new_rs_to_replicas() -> None:
    """A fresh deployment scales its only RS up to replicas, with the creation event text."""
    p = plan(view(spec(3), "aaa", status={}), now=T0)
    assert scales(p) == {"web-aaa": 3}
    assert p.events[0].message == "Scaled up replica set web-aaa to 3"
    cond = {c["type"]: c for c in p.status["conditions"]}
    assert cond["Progressing"]["reason"] == "NewReplicaSetCreated"
    assert cond["Progressing"]["message"] == 'Created new replica set "web-aaa"'


def test_ten_replica_example_scale_up_then_down() -> None:
    """10 replicas, surge 3, unavailable 2: new RS to 3, then old to 8, then new to 5."""
    s = spec(10, ROLL_10)
    old = rs("old", 10, revision=1, desired=10, max_replicas=13)
    p1 = plan(view(s, "new", old, rs("new", 0, revision=2)), now=T0)
    assert scales(p1) == {"web-new": 3}
    assert p1.events[0].message == "Scaled up replica set web-new to 3 from 0"
    p2 = plan(view(s, "new", old, rs("new", 3, revision=2, ready=0, unready=3)), now=T0)
    assert scales(p2) == {"web-old": 8}
    assert p2.events[0].message == "Scaled down replica set web-old to 8 from 10"
    old8 = rs("old", 8, revision=1, desired=10, max_replicas=13)
    p3 = plan(view(s, "new", old8, rs("new", 3, revision=2, ready=0, unready=3)), now=T0)
    assert scales(p3) == {"web-new": 5}


def test_crashlooping_rollout_is_stuck_at_thirteen() -> None:
    """With 5 unavailable new pods nothing more may be scaled: 8 + 5 pods stay."""
    s = spec(10, ROLL_10)
    p = plan(
        view(
            s,
            "new",
            rs("old", 8, revision=1, desired=10, max_replicas=13),
            rs("new", 5, revision=2, ready=0, unready=5, desired=10, max_replicas=13),
        ),
        now=T0,
    )
    assert scales(p) == {}


def test_roll_over_scales_unhealthy_rs_down_at_once() -> None:
    """A newer template mid-rollout removes the crash-looping RS's 5 pods in one step."""
    s = spec(10, ROLL_10)
    p = plan(
        view(
            s,
            "third",
            rs("old", 8, revision=1, desired=10, max_replicas=13),
            rs("new", 5, revision=2, ready=0, unready=5, desired=10, max_replicas=13),
            rs("third", 0, revision=3),
        ),
        now=T0,
    )
    assert scales(p) == {"web-new": 0}


def test_unhealthy_old_pods_go_first() -> None:
    """Old RS pods that are not available are removed first, within maxScaledDown."""
    s = spec(4, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
    p = plan(
        view(s, "new", rs("old", 4, ready=2, unready=2, desired=4), rs("new", 0, revision=2)),
        now=T0,
    )
    assert scales(p) == {"web-old": 3}  # capped: all 4 - min 3 - new unavailable 0


def test_complete_rollout_condition_and_stable_rs() -> None:
    """All pods updated and available: Progressing NewReplicaSetAvailable, stableRS recorded."""
    p = plan(view(spec(3), "aaa", rs("aaa", 3, desired=3, max_replicas=4)), now=T0)
    assert p.actions == ()
    cond = {c["type"]: c for c in p.status["conditions"]}
    assert cond["Available"]["reason"] == "MinimumReplicasAvailable"
    assert cond["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert cond["Progressing"]["message"] == 'ReplicaSet "web-aaa" has successfully progressed.'
    assert p.status["rollout"]["stableRS"] == "aaa"
    assert p.status["rollout"]["phase"] == "Healthy"


def test_min_ready_seconds_delays_availability() -> None:
    """A pod Ready for less than minReadySeconds is not available, and a requeue is asked."""
    s = spec(1, minReadySeconds=10)
    new = rs("aaa", 1, desired=1, max_replicas=2)
    fresh = ReplicaSetView(
        name=new.name,
        hash=new.hash,
        revision=1,
        replicas=1,
        annotations=new.annotations,
        pods=tuple(
            p.__class__(**{**{f: getattr(p, f) for f in p.__slots__}, "ready_since": T0 - 4})
            for p in new.pods
        ),
    )
    p = plan(view(s, "aaa", fresh), now=T0)
    assert p.status["availableReplicas"] == 0
    assert p.requeue_after is not None and abs(p.requeue_after - 6) < 1e-6


def test_recreate_scales_old_down_then_waits_then_new_up() -> None:
    """Recreate: old to 0; wait while old pods exist; then new to replicas in one step."""
    s = spec(3, {"type": "Recreate"})
    p1 = plan(view(s, "new", rs("old", 3, desired=3), rs("new", 0, revision=2)), now=T0)
    assert scales(p1) == {"web-old": 0}
    terminating = rs("old", 0, desired=3)
    old_pods = rs("old", 3).pods
    waiting = ReplicaSetView(
        name=terminating.name,
        hash="old",
        revision=1,
        replicas=0,
        pods=tuple(
            p.__class__(name=p.name, created_at=p.created_at, terminating=True, phase="Running")
            for p in old_pods
        ),
    )
    p2 = plan(view(s, "new", waiting, rs("new", 0, revision=2)), now=T0)
    assert scales(p2) == {}
    p3 = plan(view(s, "new", rs("old", 0), rs("new", 0, revision=2)), now=T0)
    assert scales(p3) == {"web-new": 3}


def test_proportional_scaling_ten_to_fifteen() -> None:
    """Stuck at 8 old + 5 new, scaled 10 -> 15: +3 old, +2 new."""
    s = spec(15, ROLL_10)
    p = plan(
        view(
            s,
            "new",
            rs("old", 8, revision=1, desired=10, max_replicas=13),
            rs("new", 5, revision=2, ready=0, unready=5, desired=10, max_replicas=13),
        ),
        now=T0,
    )
    assert scales(p) == {"web-old": 11, "web-new": 7}


def test_paused_deployment_only_scales() -> None:
    """Paused: a new template starts nothing; Progressing is Unknown/DeploymentPaused."""
    s = spec(3, paused=True)
    status = {"rollout": {"currentPodHash": "old"}}
    p = plan(
        view(
            s,
            "new",
            rs("old", 3, desired=3, max_replicas=4),
            rs("new", 0, revision=2),
            status=status,
        ),
        now=T0,
    )
    assert scales(p) == {}
    cond = {c["type"]: c for c in p.status["conditions"]}
    assert (cond["Progressing"]["status"], cond["Progressing"]["reason"]) == (
        "Unknown",
        "DeploymentPaused",
    )
    s5 = spec(5, paused=True)
    p2 = plan(
        view(s5, "new", rs("old", 3, desired=3), rs("new", 0, revision=2), status=status), now=T0
    )
    assert scales(p2) == {"web-old": 5}
    resumed = plan(
        view(
            spec(3), "new", rs("old", 3, desired=3), rs("new", 0, revision=2), status=dict(p.status)
        ),
        now=T0 + 5,
    )
    assert scales(resumed) == {"web-new": 1}


def test_progress_deadline_is_sticky() -> None:
    """No progress for progressDeadlineSeconds: ProgressDeadlineExceeded, and it stays."""
    s = spec(1, progressDeadlineSeconds=60)
    v = view(
        s,
        "new",
        rs("old", 1, desired=1),
        rs("new", 1, revision=2, ready=0, unready=1, desired=1),
        status={},
    )
    p1 = plan(v, now=T0)
    p2 = plan(view(s, "new", *v.replica_sets, status=dict(p1.status)), now=T0 + 61)
    cond = {c["type"]: c for c in p2.status["conditions"]}
    assert cond["Progressing"]["reason"] == "ProgressDeadlineExceeded"
    assert cond["Progressing"]["message"] == 'ReplicaSet "web-new" has timed out progressing.'
    assert p2.status["rollout"]["phase"] == "Degraded"
    p3 = plan(view(s, "new", *v.replica_sets, status=dict(p2.status)), now=T0 + 62)
    assert {c["type"]: c for c in p3.status["conditions"]}["Progressing"]["reason"] == (
        "ProgressDeadlineExceeded"
    )


def test_history_cleanup_keeps_limit() -> None:
    """Complete rollout with 3 old empty RSs and limit 1: the 2 lowest revisions go."""
    s = spec(2, revisionHistoryLimit=1)
    p = plan(
        view(
            s,
            "d",
            rs("a", 0, revision=1),
            rs("b", 0, revision=2),
            rs("c", 0, revision=3),
            rs("d", 2, revision=4, desired=2, max_replicas=3),
        ),
        now=T0,
    )
    assert [a.name for a in p.actions if isinstance(a, DeleteReplicaSet)] == ["web-a", "web-b"]


def test_replanning_is_deterministic() -> None:
    """The same view and time give the same plan."""
    v = view(spec(10, ROLL_10), "new", rs("old", 10, desired=10), rs("new", 0, revision=2))
    assert plan(v, now=T0) == plan(v, now=T0)
