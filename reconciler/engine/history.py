"""History clean-up: keep ``revisionHistoryLimit`` old ReplicaSets (k8s ``cleanupDeployment``).

Only once a rollout is complete (or while paused): old RSs sorted by revision, the lowest
``len(old) - limit`` are deleted if they have no replicas and no pods left. ``limit: 0`` removes
every old RS, so nothing is left to undo to. RSs in ``keep`` (a blue-green active RS, the stable
RS of a canary) are never deleted.
"""

from __future__ import annotations

from collections.abc import Collection

from reconciler.engine.context import Context, Step
from reconciler.engine.model import DeleteReplicaSet


def plan_cleanup(ctx: Context, *, keep: Collection[str] = ()) -> Step:
    limit = ctx.spec.get("revisionHistoryLimit", 10)
    if limit is None:
        return Step()
    old = sorted(ctx.old_rss, key=lambda rs: (rs.revision, rs.created_at, rs.name))
    diff = len(old) - int(limit)
    if diff <= 0:
        return Step()
    doomed = [
        rs.name
        for rs in old[:diff]
        if rs.replicas == 0 and not rs.pods and rs.name not in keep and rs.hash not in keep
    ]
    return Step(actions=tuple(DeleteReplicaSet(name) for name in doomed))
