"""Automatic rollback and abort: which RS a pass drives towards.

With ``spec.autoRollback: true`` a new revision that fails (fail-fast pod reasons, the progress
deadline, or a canary's analysis) makes the Deployment go back to the last RS that completed a
rollout (``status.rollout.stableRS``). The failed template hash is remembered and not retried
until the template changes (or ``rollout retry``). An ``abort`` does the same for one rollout
without remembering anything. BlueGreen keeps its own target (the active RS simply stays).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.engine.model import DeploymentView, EventRecord, Reason, RolloutKey


def stable_hash(view: DeploymentView, rollout: Mapping[str, Any]) -> str:
    """The stable RS's hash if that RS still exists and is not the template's."""
    stable = str(rollout.get(RolloutKey.STABLE_RS, "") or "")
    if not stable or stable == view.template_hash:
        return ""
    if not any(rs.hash == stable for rs in view.replica_sets):
        return ""
    return stable


def rolled_back(view: DeploymentView, rollout: Mapping[str, Any]) -> bool:
    """The template failed before and autoRollback keeps the stable RS in charge."""
    return (
        bool(view.spec.get("autoRollback"))
        and rollout.get(RolloutKey.FAILED_TEMPLATE) == view.template_hash
    )


def should_roll_back(view: DeploymentView, rollout: Mapping[str, Any]) -> bool:
    """autoRollback is on, this template has not failed yet, and there is somewhere to go."""
    return (
        bool(view.spec.get("autoRollback"))
        and not rolled_back(view, rollout)
        and bool(stable_hash(view, rollout))
    )


def rollback_event(view: DeploymentView, *, stable: str, cause: str) -> EventRecord:
    revision = next((rs.revision for rs in view.replica_sets if rs.hash == stable), 0)
    return EventRecord(
        "Warning",
        Reason.ROLLED_BACK,
        f"Rolling back to revision {revision} ({view.name}-{stable}): {cause}",
    )
