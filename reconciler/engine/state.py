"""The rollout state: what the engine remembers about a Deployment's rollout between passes.

Kubernetes keeps a Deployment's progress in its ReplicaSets and conditions; Argo Rollouts adds
``status.currentStepIndex``, ``pauseConditions``, ``abort``, ``stableRS``, the selectors of the
blue-green Services... This module is that memory as one typed, frozen value. The engine reads
it at the start of a pass and returns a new one in ``Plan.rollout``; the CLI, the web views and
the analysis read the same value. Nobody outside ``reconciler.engine`` spells the stored keys:
``reconciler.engine.serialize`` turns the state into the store's dict and back, and nothing else
does (``tests/test_rollout_state.py`` holds everyone to it).

A state is never changed in place: ``state.evolve(current_step_index=2)`` is a new state.

>>> state = RolloutState(strategy=Strategy.CANARY, current_pod_hash="new", stable_rs="old")
>>> state.updating, state.paused
(True, False)
>>> paused = state.evolve(pause_conditions=(PauseCondition("CanaryPauseStep", 5.0),))
>>> paused.paused, paused.pause_reasons, state.paused
(True, ('CanaryPauseStep',), False)
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Strategy(enum.StrEnum):
    ROLLING_UPDATE = "RollingUpdate"
    RECREATE = "Recreate"
    BLUE_GREEN = "BlueGreen"
    CANARY = "Canary"


class Phase(enum.StrEnum):
    """Argo Rollouts' phases, for every strategy (``get rollout``, ``rollout status``)."""

    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    DEGRADED = "Degraded"


class PauseReason(enum.StrEnum):
    CANARY_PAUSE_STEP = "CanaryPauseStep"
    BLUE_GREEN_PAUSE = "BlueGreenPause"


@dataclass(frozen=True, slots=True)
class PauseCondition:
    """Argo's ``status.pauseConditions[]`` entry: why the rollout waits, and since when."""

    reason: str  # PauseReason (a stored state may hold a reason this version does not know)
    start_time: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class RolloutState:
    """The strategy state of one Deployment (``status.rollout`` as stored).

    Defaults are what a Deployment that never had a planning pass shows: no phase, nothing
    stable, no step, nothing paused. ``set_weight``/``actual_weight``/``step_count`` stay None
    until the canary planner has run, so readers can tell "no canary weight yet" from 0.
    """

    strategy: Strategy | None = None
    phase: Phase | None = None
    message: str = ""  # "" or the phase's reason, e.g. "more replicas need to be updated"
    current_pod_hash: str = ""  # template hash of the last pass
    stable_rs: str = ""  # hash of the last RS that completed a rollout
    current_step_index: int = 0  # canary: index into steps (== len when done)
    step_count: int | None = None  # canary: len(steps)
    set_weight: int | None = None  # canary: weight the current step asks for
    actual_weight: int | None = None  # canary: weight the proxy is given
    pause_conditions: tuple[PauseCondition, ...] = ()
    aborted: bool = False  # ``rollout abort`` or a failed analysis
    aborted_at: float | None = None
    abort_message: str = ""  # why an analysis aborted ("" for ``rollout abort``)
    promote_full: bool = False
    active_selector: str = ""  # blue-green: hash the active Service routes to
    preview_selector: str = ""  # blue-green: hash the preview Service routes to
    # blue-green: {rs name: epoch seconds} old RSs kept up until then after a switch
    scale_down_at: Mapping[str, float] = field(default_factory=dict)
    failed_template_hash: str = ""  # autoRollback: the template not to retry
    restarted_at: float | None = None  # the ``rollout restart`` being carried out
    analysis_failures: int = 0  # canary: failures already counted before this RS's analysis

    def evolve(self, **changes: Any) -> RolloutState:
        """A copy with ``changes`` (field names); the state itself never changes."""
        return dataclasses.replace(self, **changes)

    @property
    def is_empty(self) -> bool:
        """Nothing recorded yet (no planning pass has run)."""
        return self == _EMPTY

    @property
    def paused(self) -> bool:
        """Waiting at a pause (a canary pause step, a blue-green pause before promotion)."""
        return bool(self.pause_conditions)

    @property
    def pause_reasons(self) -> tuple[str, ...]:
        return tuple(p.reason for p in self.pause_conditions)

    @property
    def updating(self) -> bool:
        """A template other than the stable one is being rolled out."""
        return bool(self.current_pod_hash) and self.current_pod_hash != self.stable_rs

    def role_hash(self, group: str) -> str:
        """The pod-template hash a traffic group stands for ("" if none).

        ``stable`` is the stable RS, ``canary`` the template's, ``active`` and ``preview`` the
        blue-green selectors; any other group (an RS name, ``all``) has none.
        """
        return {
            "stable": self.stable_rs,
            "canary": self.current_pod_hash,
            "active": self.active_selector,
            "preview": self.preview_selector,
        }.get(group, "")


_EMPTY = RolloutState()
