"""Automatic rollback and abort: which RS a pass drives towards.

With ``spec.autoRollback: true`` a new revision that fails (fail-fast pod reasons, the progress
deadline, or a canary's analysis) makes the Deployment go back to the last RS that completed a
rollout (``status.rollout.stableRS``). The failed template hash is remembered and not retried
until the template changes (or ``rollout retry``). An ``abort`` does the same for one rollout
without remembering anything. BlueGreen keeps its own target (the active RS simply stays).
"""

from __future__ import annotations

from reconciler.engine.model import DeploymentView, EventRecord, Reason
from reconciler.engine.state import RolloutState


def stable_hash(view: DeploymentView, rollout: RolloutState) -> str:
    """The stable RS's hash if that RS still exists and is not the template's."""
    stable = rollout.stable_rs
    if not stable or stable == view.template_hash:
        return ""
    if not any(rs.hash == stable for rs in view.replica_sets):
        return ""
    return stable


def rolled_back(view: DeploymentView, rollout: RolloutState) -> bool:
    """The template failed before and autoRollback keeps the stable RS in charge."""
    return (
        bool(view.spec.get("autoRollback")) and rollout.failed_template_hash == view.template_hash
    )


def should_roll_back(view: DeploymentView, rollout: RolloutState) -> bool:
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


def aborted_message(view: DeploymentView) -> str:
    """Argo's words for an abort: ``Rollout aborted update to revision 3``."""
    revision = next((rs.revision for rs in view.replica_sets if rs.hash == view.template_hash), 0)
    return f"Rollout aborted update to revision {revision}"
