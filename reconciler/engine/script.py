"""The values the guard ladder hands from phase to phase (``dispatch.plan``).

``Pass`` is what the phases of one pass decided so far; each phase returns a new one and none
changes what it is given, so a phase is tested by building a ``Pass`` and reading the next.
``Target`` is what the pass drives towards, decided once after the intents: the ten flags the
ladder used to juggle are its five fields, a few properties here, and locals of one phase each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.engine.context import Context, Step
from reconciler.engine.model import ConditionType, DeploymentView, EventRecord
from reconciler.engine.progress import Condition, set_condition
from reconciler.engine.state import RolloutState


@dataclass(frozen=True, slots=True)
class Pass:
    """One planning pass so far: the phases of ``dispatch.plan`` each return a new one."""

    view: DeploymentView
    now: float
    rollout: RolloutState
    conditions: tuple[Condition, ...] = ()
    events: tuple[EventRecord, ...] = ()
    requeue_after: float | None = None
    consumed: tuple[int, ...] = ()  # intent ids
    template_changed: bool = False  # this pass starts a new rollout
    step: Step = field(default_factory=Step)  # what the ladder decided
    counts: Mapping[str, int] = field(default_factory=dict)  # status counts after the step

    @property
    def paused(self) -> bool:
        return bool(self.view.spec.get("paused"))

    @property
    def old_status(self) -> Mapping[str, Any]:
        return self.view.status or {}

    def evolve(self, **changes: Any) -> Pass:
        return dataclasses.replace(self, **changes)

    def with_condition(self, new: Condition) -> Pass:
        """``SetDeploymentCondition`` (``progress.set_condition``)."""
        return self.evolve(conditions=tuple(set_condition(list(self.conditions), new)))

    def without_condition(self, kind: ConditionType) -> Pass:
        return self.evolve(conditions=tuple(c for c in self.conditions if c.get("type") != kind))

    def appending_condition(self, new: Condition) -> Pass:
        return self.evolve(conditions=(*self.conditions, new))


@dataclass(frozen=True, slots=True)
class Target:
    """What one pass drives towards, and which rung of the ladder it takes."""

    ctx: Context  # new_rs: the template's RS, or the stable one when going back to it
    aborted: bool  # ``rollout abort`` (or a failed analysis) holds
    rolled_back: bool  # autoRollback keeps the stable RS in charge of this template
    back_to_stable: bool  # the pass drives the stable RS (not blue-green: it keeps its own)
    scaling: bool  # paused, or a scaling event: proportional scaling only

    @property
    def halted(self) -> bool:
        """The rollout of the template is off (aborted or rolled back)."""
        return self.aborted or self.rolled_back
