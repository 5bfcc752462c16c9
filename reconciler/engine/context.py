"""One planning pass's view of a Deployment, and the small result every step returns.

``Context`` resolves what every planner asks first: which RS is the new one (the target), which
are old, how many pods each has, and the fenceposts. ``Step`` is a planner's answer (actions,
events, traffic, the new rollout state); ``scale`` builds one RS scale with its annotations and
Kubernetes' event text. ``Pass`` is the guard ladder's value (``dispatch.plan``): what the
phases of one pass decided so far, handed from phase to phase and never changed in place;
``Target`` is what the pass drives towards, decided once after the intents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.engine import replicaset
from reconciler.engine.fenceposts import strategy_of, surge_and_unavailable
from reconciler.engine.model import (
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    Action,
    DeploymentView,
    EventRecord,
    ReplicaSetView,
    ScaleReplicaSet,
    TrafficGroup,
)
from reconciler.engine.state import RolloutState, Strategy


@dataclass(frozen=True, slots=True)
class Step:
    """What one planner decided: RS changes, events, traffic, and the new rollout state.

    ``a.then(b)`` is ``a`` followed by ``b``: actions and events in order, ``b``'s traffic and
    rollout state win (``rollout`` None: the step leaves the state as it was).
    """

    actions: tuple[Action, ...] = ()
    events: tuple[EventRecord, ...] = ()
    rollout: RolloutState | None = None
    traffic: Mapping[str, tuple[TrafficGroup, ...]] = field(default_factory=dict)
    requeue_after: float | None = None

    def then(self, other: Step) -> Step:
        return Step(
            actions=self.actions + other.actions,
            events=self.events + other.events,
            rollout=other.rollout if other.rollout is not None else self.rollout,
            traffic={**self.traffic, **other.traffic},
            requeue_after=earliest(self.requeue_after, other.requeue_after),
        )


def earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


@dataclass(frozen=True, slots=True)
class Context:
    """The Deployment as one pass sees it; ``new_rs`` is the RS the pass drives towards."""

    view: DeploymentView
    now: float
    new_rs: ReplicaSetView
    old_rss: tuple[ReplicaSetView, ...]  # oldest first
    new_exists: bool  # False: new_rs is virtual (to be created by a scale)

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.view.spec

    @property
    def replicas(self) -> int:
        return int(self.spec.get("replicas", 1))

    @property
    def min_ready(self) -> float:
        return float(self.spec.get("minReadySeconds", 0) or 0)

    @property
    def strategy(self) -> Strategy:
        return strategy_of(self.spec)

    @property
    def fenceposts(self) -> tuple[int, int]:
        return surge_and_unavailable(self.spec)

    @property
    def all_rss(self) -> tuple[ReplicaSetView, ...]:
        return (*self.old_rss, self.new_rs)

    def rs_by_hash(self, pod_hash: str) -> ReplicaSetView | None:
        for rs in self.all_rss:
            if rs.hash == pod_hash:
                return rs
        return None

    def available(self, rs: ReplicaSetView) -> int:
        return replicaset.available_replicas(rs, min_ready_seconds=self.min_ready, now=self.now)

    def ready(self, rs: ReplicaSetView) -> int:
        return replicaset.ready_replicas(rs)

    def pods(self, rs: ReplicaSetView) -> int:
        return replicaset.status_replicas(rs)

    def annotations(self, replicas: int | None = None) -> dict[str, str]:
        n = self.replicas if replicas is None else replicas
        surge, _ = surge_and_unavailable(self.spec, replicas=n)
        return {DESIRED_REPLICAS_ANNOTATION: str(n), MAX_REPLICAS_ANNOTATION: str(n + surge)}


def build_context(view: DeploymentView, *, target_hash: str, now: float) -> Context:
    """Split the RSs into the target (``target_hash``) and the old ones, oldest first."""
    target: ReplicaSetView | None = None
    old: list[ReplicaSetView] = []
    for rs in view.replica_sets:
        if rs.hash == target_hash and target is None:
            target = rs
        else:
            old.append(rs)
    old.sort(key=lambda rs: (rs.created_at, rs.revision, rs.name))
    exists = target is not None
    if target is None:
        target = ReplicaSetView(
            name=f"{view.name}-{target_hash}",
            hash=target_hash,
            revision=max((rs.revision for rs in view.replica_sets), default=0) + 1,
            replicas=0,
            created_at=now,
        )
    return Context(view=view, now=now, new_rs=target, old_rss=tuple(old), new_exists=exists)


def scale(ctx: Context, rs: ReplicaSetView, to: int) -> Step:
    """Scale ``rs`` to ``to`` with Kubernetes' ``ScalingReplicaSet`` event (none if unchanged).

    The annotations are always refreshed, so a scale to the same size still records the
    desired and max replicas the proportional scaler reads.
    """
    to = max(0, to)
    annotations = ctx.annotations()
    if to == rs.replicas and all(rs.annotations.get(k) == v for k, v in annotations.items()):
        return Step()
    action = ScaleReplicaSet(name=rs.name, replicas=to, annotations=annotations)
    if to == rs.replicas:
        return Step(actions=(action,))
    if rs is ctx.new_rs and not ctx.new_exists:
        message = f"Scaled up replica set {rs.name} to {to}"
    else:
        direction = "up" if to > rs.replicas else "down"
        message = f"Scaled {direction} replica set {rs.name} to {to} from {rs.replicas}"
    return Step(actions=(action,), events=(EventRecord("Normal", "ScalingReplicaSet", message),))
