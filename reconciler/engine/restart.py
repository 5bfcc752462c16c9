"""``rollout restart``: replace every pod created before ``at`` without a new revision.

Runs only once the rollout has settled (everything on the target RS). With room to surge the
RS grows by one, and once every pod is available one old pod is deleted as the RS shrinks back
(so availability never drops); with ``maxUnavailable`` room, old pods are deleted while
``available - deleted >= replicas - maxUnavailable``. The RS controller replaces deleted pods.
"""

from __future__ import annotations

from reconciler.engine.context import Context, Step, scale
from reconciler.engine.model import DeletePod, PodView
from reconciler.engine.replicaset import active_pods


def stale_pods(ctx: Context, at: float) -> list[PodView]:
    """Pods of the target RS created before ``at``: not Ready first, then oldest first."""
    pods = [p for p in active_pods(ctx.new_rs) if p.created_at < at]
    return sorted(pods, key=lambda p: (p.ready, p.created_at, p.name))


def plan_restart(ctx: Context, at: float) -> Step:
    rs = ctx.new_rs
    replicas = ctx.replicas
    stale = stale_pods(ctx, at)
    if not stale:
        return scale(ctx, rs, replicas) if rs.replicas > replicas else Step()
    surge, unavailable = ctx.fenceposts
    available = ctx.available(rs)
    pods = len(active_pods(rs))
    reason = "restarted by rollout restart"
    if unavailable >= 1 and rs.replicas == replicas and pods == replicas:
        budget = available - (replicas - unavailable)
        doomed: list[PodView] = []
        for pod in stale:
            counts = pod.available(min_ready_seconds=ctx.min_ready, now=ctx.now)
            if counts and budget <= 0:
                break
            doomed.append(pod)
            budget -= 1 if counts else 0
        return Step(actions=tuple(DeletePod(p.name, reason) for p in doomed))
    if surge >= 1:
        if rs.replicas == replicas and pods == replicas:
            return scale(ctx, rs, replicas + 1)
        if rs.replicas == replicas + 1 and pods == replicas + 1 and available >= replicas + 1:
            return Step(actions=(DeletePod(stale[0].name, reason),)).then(scale(ctx, rs, replicas))
    return Step()
