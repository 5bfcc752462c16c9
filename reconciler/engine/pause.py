"""A rollout waiting at a pause: one rule for a canary ``pause`` step and the blue-green pause.

Argo Rollouts pauses the same way in both strategies: the first pass that reaches the pause
adds a pause condition (``CanaryPauseStep`` / ``BlueGreenPause``) with its start time and says
so in an event; a pause with a duration ends by itself that many seconds after the start (the
caller is asked to look again then); one without waits for ``rollout promote``, which clears
the conditions. ``wait`` is that rule, pure: it returns the new conditions and whether the
pause is over, and changes nothing it is given.

Worked example: a ``pause: {duration: 30s}`` reached at t=100 -> conditions
``[CanaryPauseStep since 100]``, not over, look again in 30 s; at t=120 still not over, look
again in 10 s; at t=130 over (the caller moves to the next step and clears the conditions).

>>> first = wait((), reason=PauseReason.CANARY_PAUSE_STEP, duration=30.0, now=100.0)
>>> first.over, first.requeue_after, [e.message for e in first.events]
(False, 30.0, ['Rollout is paused (CanaryPauseStep)'])
>>> later = wait(first.pauses, reason=PauseReason.CANARY_PAUSE_STEP, duration=30.0, now=120.0)
>>> later.over, later.requeue_after, later.events
(False, 10.0, ())
>>> wait(first.pauses, reason=PauseReason.CANARY_PAUSE_STEP, duration=30.0, now=130.0).over
True
>>> wait((), reason=PauseReason.BLUE_GREEN_PAUSE, duration=None, now=5.0).requeue_after is None
True
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.engine.model import EventRecord, Reason
from reconciler.engine.state import PauseCondition, PauseReason


@dataclass(frozen=True, slots=True)
class Paused:
    """Where a pause stands after this pass."""

    pauses: tuple[PauseCondition, ...]  # the pause conditions to record
    over: bool  # the duration has passed: the caller goes on (and clears the conditions)
    events: tuple[EventRecord, ...] = ()
    requeue_after: float | None = None  # seconds until the duration passes


def wait(
    pauses: tuple[PauseCondition, ...],
    *,
    reason: PauseReason,
    duration: float | None,
    now: float,
) -> Paused:
    """The pause ``reason`` at ``now``: started now if ``pauses`` is empty, else since the
    first condition's start; ``duration`` None waits for ``rollout promote``."""
    events: tuple[EventRecord, ...] = ()
    if not pauses:
        pauses = (PauseCondition(str(reason), now),)
        events = (EventRecord("Normal", Reason.ROLLOUT_PAUSED, f"Rollout is paused ({reason})"),)
    if duration is None:
        return Paused(pauses, over=False, events=events)
    end = pauses[0].start_time + duration
    if now >= end:
        return Paused(pauses, over=True, events=events)
    return Paused(pauses, over=False, events=events, requeue_after=end - now)
