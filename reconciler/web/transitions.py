"""Rollout transitions, from one reconcile pass to the next: what a webhook is told.

Pure. The daemon hands every pass's new status and events to the web server; this module
compares them with what the previous pass left (``Tracked``) and names the transitions in the
order they happened within the pass:

    started      the pod template changed: a new revision is being rolled out
    promoted     ``rollout promote`` was taken (event RolloutPromoted)
    aborted      ``rollout abort``, or a failed analysis (event RolloutAborted)
    degraded     the phase became Degraded for another reason (deadline, ImagePullBackOff, ...)
    rolled-back  autoRollback returned to the last good revision (event RolledBack)
    paused       the phase became Paused (a canary/blue-green pause, or ``rollout pause``)
    completed    the revision being rolled out is Healthy: every replica updated and available

``invalid-manifest`` comes from the daemon's InvalidManifest event instead (no pass runs for a
file that does not validate). Because the engine takes one step per pass and every pass is
seen, no transition is lost between two looks, as polling the store could.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.engine.serialize import rollout_of

__all__ = ["Notice", "Tracked", "Transition", "next_transitions", "tracked_from"]


class Transition(enum.StrEnum):
    STARTED = "started"
    PAUSED = "paused"
    PROMOTED = "promoted"
    ABORTED = "aborted"
    COMPLETED = "completed"
    DEGRADED = "degraded"
    ROLLED_BACK = "rolled-back"
    INVALID_MANIFEST = "invalid-manifest"


class EventLike(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def message(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Notice:
    transition: Transition
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Tracked:
    """What one deployment's last pass left: its template hash, phase, and the hash whose
    rollout has not completed yet ("" when none is under way)."""

    hash: str = ""
    phase: str = ""
    pending: str = ""


def tracked_from(status: Mapping[str, Any]) -> Tracked:
    """The state a stored status stands for (when the web server starts on a running world)."""
    rollout = rollout_of(status)
    current, phase = rollout.current_pod_hash, str(rollout.phase or "")
    return Tracked(current, phase, current if phase and phase != "Healthy" else "")


def _split(message: str, default_reason: str) -> tuple[str, str]:
    """``"ProgressDeadlineExceeded: ReplicaSet ..."`` -> (reason, message)."""
    head, sep, rest = message.partition(": ")
    if sep and head and " " not in head:
        return head, rest
    return default_reason, message


def next_transitions(
    previous: Tracked | None,
    status: Mapping[str, Any],
    events: Iterable[EventLike],
) -> tuple[Tracked, list[Notice]]:
    """The transitions of one pass (``previous`` None: a deployment first seen now).

    >>> paused = {"rollout": {"currentPodHash": "b", "phase": "Paused",
    ...                       "message": "CanaryPauseStep"}}
    >>> state, notices = next_transitions(Tracked("a", "Healthy"), paused, [])
    >>> [n.transition.value for n in notices], state.pending
    (['started', 'paused'], 'b')
    >>> healthy = {"rollout": {"currentPodHash": "b", "phase": "Healthy"}}
    >>> [n.transition.value for n in next_transitions(state, healthy, [])[1]]
    ['completed']
    """
    before = previous or Tracked()
    rollout = rollout_of(status)
    current, phase, message = rollout.current_pod_hash, str(rollout.phase or ""), rollout.message
    by_reason: dict[str, EventLike] = {}
    for event in events:
        by_reason.setdefault(event.reason, event)
    notices: list[Notice] = []
    pending = before.pending
    if current and current != before.hash:
        pending = current
        notices.append(Notice(Transition.STARTED, "NewReplicaSetCreated", f"rolling out {current}"))
    for reason, transition in (
        ("RolloutPromoted", Transition.PROMOTED),
        ("RolloutAborted", Transition.ABORTED),
    ):
        if reason in by_reason:
            notices.append(Notice(transition, reason, by_reason[reason].message))
    if phase == "Degraded" and before.phase != "Degraded":
        reason, detail = _split(message, "Degraded")
        if reason != "RolloutAborted" and "RolloutAborted" not in by_reason:
            notices.append(Notice(Transition.DEGRADED, reason, detail))
    if "RolledBack" in by_reason:
        notices.append(
            Notice(Transition.ROLLED_BACK, "RolledBack", by_reason["RolledBack"].message)
        )
    if phase == "Paused" and before.phase != "Paused":
        reason = message if message and " " not in message else "DeploymentPaused"
        notices.append(Notice(Transition.PAUSED, reason, message or "Rollout is paused"))
    if phase == "Healthy" and pending and pending == current:
        completed = by_reason.get("RolloutCompleted")
        notices.append(
            Notice(
                Transition.COMPLETED,
                "RolloutCompleted" if completed else "NewReplicaSetAvailable",
                completed.message if completed else f"rollout of {current} completed",
            )
        )
        pending = ""
    return Tracked(current or before.hash, phase or before.phase, pending), notices
