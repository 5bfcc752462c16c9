"""Recreate: every old pod is gone before the first new one starts (k8s ``recreate.go``).

1. scale every active old RS to 0 (that is the whole step);
2. wait while any old pod still exists, terminating ones included (finished pods don't count);
3. scale the new RS to ``replicas`` in one step.
"""

from __future__ import annotations

from reconciler.engine.context import Context, Step, scale


def plan_recreate(ctx: Context) -> Step:
    step = Step()
    for rs in ctx.old_rss:
        if rs.replicas > 0:
            step = step.then(scale(ctx, rs, 0))
    if step.actions:
        return step
    if old_pods_running(ctx):
        return step
    return scale(ctx, ctx.new_rs, ctx.replicas)


def old_pods_running(ctx: Context) -> bool:
    """``oldPodsRunning``: an old pod that is not Succeeded/Failed, terminating or not."""
    return any(pod.phase not in ("Succeeded", "Failed") for rs in ctx.old_rss for pod in rs.pods)
