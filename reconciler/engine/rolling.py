"""RollingUpdate: one safe step per pass towards the new ReplicaSet (k8s ``rolling.go``).

``converge`` is the arithmetic generalised to per-RS targets, so the canary planner reuses it
(a RollingUpdate is ``{new: replicas, every old RS: 0}``). Worked example from the Kubernetes
source, 10 replicas, maxSurge 3, maxUnavailable 2: the new RS is scaled to 3 (13 pods), the old
one to 8 (10 available - 8 minimum); the new one to 5; if the new pods crash-loop the rollout
stays at 13 pods. A newer template then ("roll-over") scales the crash-looping RS down by 5 at
once, because its pods are unavailable anyway.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.engine.context import Context, Step, scale
from reconciler.engine.model import ReplicaSetView


def plan_rolling(ctx: Context) -> Step:
    """The next RollingUpdate step: scale the new RS up, else scale old RSs down."""
    surge, unavailable = ctx.fenceposts
    return converge(
        ctx,
        {ctx.new_rs.name: ctx.replicas},
        primary=ctx.new_rs,
        surge=surge,
        unavailable=unavailable,
    )


def converge(
    ctx: Context,
    targets: Mapping[str, int],
    *,
    primary: ReplicaSetView,
    surge: int,
    unavailable: int,
) -> Step:
    """Move RSs towards ``targets`` (absent = 0) within ``replicas + surge`` pods and
    ``replicas - unavailable`` available ones. Scale-ups first; if any, that is the step."""
    replicas = ctx.replicas
    rss = ctx.all_rss

    def target(rs: ReplicaSetView) -> int:
        return targets.get(rs.name, 0)

    # reconcileNewReplicaSet: the primary above its target is cut back at once
    if primary.replicas > target(primary):
        return scale(ctx, primary, target(primary))

    # NewRSNewReplicas: grow within the surge ceiling, the primary first
    max_total = replicas + surge
    current = sum(rs.replicas for rs in rss)
    step = Step()
    growing = [primary] + [rs for rs in rss if rs is not primary and rs.replicas < target(rs)]
    for rs in growing:
        room = max_total - current
        if room <= 0 or rs.replicas >= target(rs):
            continue
        up = min(room, target(rs) - rs.replicas)
        step = step.then(scale(ctx, rs, rs.replicas + up))
        current += up
    if step.actions:
        return step

    # reconcileOldReplicaSets
    shrinking = sorted(
        (rs for rs in rss if rs.replicas > target(rs) and rs is not primary),
        key=lambda rs: (target(rs) > 0, rs.created_at, rs.revision, rs.name),
    )
    if not shrinking:
        return step
    min_available = replicas - unavailable
    others_unavailable = sum(
        max(0, rs.replicas - ctx.available(rs)) for rs in rss if rs not in shrinking
    )
    max_scaled_down = current - min_available - others_unavailable
    if max_scaled_down <= 0:
        return step
    sizes = {rs.name: rs.replicas for rs in shrinking}

    # cleanupUnhealthyReplicas: unavailable old pods go first, oldest RS first
    cleaned = 0
    for rs in shrinking:
        if cleaned >= max_scaled_down:
            break
        unhealthy = rs.replicas - ctx.available(rs)
        if unhealthy <= 0:
            continue
        n = min(max_scaled_down - cleaned, unhealthy, rs.replicas - target(rs))
        sizes[rs.name] -= n
        cleaned += n

    # scaleDownOldReplicaSetsForRollingUpdate: only while availability stays above the minimum
    available = sum(ctx.available(rs) for rs in rss)
    if available > min_available:
        budget = available - min_available
        done = 0
        for rs in shrinking:
            if done >= budget:
                break
            n = min(sizes[rs.name] - target(rs), budget - done)
            if n <= 0:
                continue
            sizes[rs.name] -= n
            done += n

    for rs in shrinking:
        if sizes[rs.name] != rs.replicas:
            step = step.then(scale(ctx, rs, sizes[rs.name]))
    return step
