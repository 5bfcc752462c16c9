"""Proportional scaling: a change of ``replicas`` mid-rollout is shared out (k8s ``sync.go``).

Docs example: 10 replicas, maxSurge 3, maxUnavailable 2, stuck at old 8 + new 5; scaled to 15,
the allowed size is 15 + 3 = 18, 5 pods to add; old gets round(8 * 18 / 13) - 8 = +3, new gets
round(5 * 18 / 13) - 5 = +2. ReplicaSets with zero replicas are not scaled up.
"""

from __future__ import annotations

import math

from reconciler.engine.context import Context, Step, scale
from reconciler.engine.model import (
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    ReplicaSetView,
)
from reconciler.engine.state import Strategy


def is_scaling_event(ctx: Context) -> bool:
    """An active RS whose ``desired-replicas`` annotation differs from ``spec.replicas``."""
    for rs in ctx.all_rss:
        if rs.replicas <= 0:
            continue
        desired = rs.annotations.get(DESIRED_REPLICAS_ANNOTATION)
        if desired is not None and desired != str(ctx.replicas):
            return True
    return False


def is_saturated(ctx: Context, rs: ReplicaSetView) -> bool:
    return (
        rs.replicas == ctx.replicas
        and rs.annotations.get(DESIRED_REPLICAS_ANNOTATION) == str(ctx.replicas)
        and ctx.available(rs) == ctx.replicas
    )


def _round(value: float) -> int:
    """Go's math.Round (half away from zero); sizes are never negative here."""
    return math.floor(value + 0.5)


def plan_scale(ctx: Context) -> Step:
    """``scale()``: set the only active RS, or share the change in proportion to each RS."""
    active = [rs for rs in ctx.all_rss if rs.replicas > 0]
    if len(active) <= 1:
        target = active[0] if active else ctx.new_rs
        return scale(ctx, target, ctx.replicas)
    if ctx.new_exists and is_saturated(ctx, ctx.new_rs):
        step = Step()
        for rs in ctx.old_rss:
            if rs.replicas > 0:
                step = step.then(scale(ctx, rs, 0))
        return step
    if ctx.strategy is not Strategy.ROLLING_UPDATE:
        return Step()
    surge, _ = ctx.fenceposts
    allowed = ctx.replicas + surge if ctx.replicas > 0 else 0
    total = sum(rs.replicas for rs in active)
    to_add = allowed - total
    if to_add > 0:  # biggest first; newer first on ties
        active.sort(key=lambda rs: (-rs.replicas, -rs.created_at, rs.name))
    elif to_add < 0:  # biggest first; older first on ties
        active.sort(key=lambda rs: (-rs.replicas, rs.created_at, rs.name))
    sizes = {rs.name: rs.replicas for rs in active}
    if to_add != 0:
        added = 0
        for rs in active:
            proportion = _proportion(ctx, rs, to_add=to_add, added=added, allowed=allowed)
            sizes[rs.name] += proportion
            added += proportion
        first = active[0].name
        sizes[first] = max(0, sizes[first] + to_add - added)
    step = Step()
    for rs in active:
        step = step.then(scale(ctx, rs, sizes[rs.name]))
    return step


def _proportion(ctx: Context, rs: ReplicaSetView, *, to_add: int, added: int, allowed: int) -> int:
    if rs.replicas == 0 or to_add == added:
        return 0
    if ctx.replicas == 0:
        fraction = -rs.replicas
    else:
        annotated = rs.annotations.get(MAX_REPLICAS_ANNOTATION)
        max_replicas = int(annotated) if annotated else int(ctx.view.status.get("replicas", 0))
        if max_replicas <= 0:
            return 0
        fraction = _round(rs.replicas * allowed / max_replicas) - rs.replicas
    left = to_add - added
    return min(fraction, left) if to_add > 0 else max(fraction, left)
