"""The ReplicaSet controller: how an RS's pods follow its ``replicas``.

Counts here are what a ReplicaSet's status would say: ``status.replicas`` counts pods that are
not terminating (and not finished), ``readyReplicas`` the Ready ones, ``availableReplicas``
those Ready for ``minReadySeconds``. Surplus pods are deleted in Kubernetes' order
(``controller.ActivePods``): not yet running before running, not Ready before Ready, Ready for a
shorter time before longer, more restarts before fewer, newer before older.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.engine.model import PodPlan, PodView, ReplicaSetView


def active_pods(rs: ReplicaSetView) -> tuple[PodView, ...]:
    """Pods the RS counts: not terminating, not Succeeded/Failed."""
    return tuple(p for p in rs.pods if p.active)


def status_replicas(rs: ReplicaSetView) -> int:
    return len(active_pods(rs))


def ready_replicas(rs: ReplicaSetView) -> int:
    return sum(1 for p in active_pods(rs) if p.ready)


def available_replicas(rs: ReplicaSetView, *, min_ready_seconds: float, now: float) -> int:
    return sum(
        1 for p in active_pods(rs) if p.available(min_ready_seconds=min_ready_seconds, now=now)
    )


def _deletion_rank(pod: PodView) -> tuple[int, int, float, int, float, str]:
    # smaller sorts first = deleted first
    running = 1 if pod.phase == "Running" else 0
    ready = 1 if pod.ready else 0
    ready_for = -(pod.ready_since if pod.ready_since is not None else 0.0)  # newer Ready first
    return (running, ready, ready_for, -pod.restarts, -pod.created_at, pod.name)


def deletion_order(pods: Iterable[PodView]) -> list[PodView]:
    """Pods in the order a scale-down removes them."""
    return sorted(pods, key=_deletion_rank)


def plan_pods(rs: ReplicaSetView, *, now: float) -> PodPlan:
    """Start the missing pods or delete the surplus ones of one RS.

    ``now`` is part of the signature so the RS controller can grow timers (back-off) without
    changing its callers; the ranking itself does not need it.
    """
    del now
    pods = active_pods(rs)
    diff = rs.replicas - len(pods)
    if diff > 0:
        return PodPlan(start=diff)
    if diff < 0:
        doomed = deletion_order(pods)[:-diff]
        return PodPlan(delete=tuple(p.name for p in doomed))
    return PodPlan()
