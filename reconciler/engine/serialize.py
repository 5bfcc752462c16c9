"""The rollout state in the store: ``status["rollout"]`` to and from ``RolloutState``.

This is the only module that spells the stored keys (Argo Rollouts' status field names where
Argo has one: ``currentPodHash``, ``stableRS``, ``currentStepIndex``, ``pauseConditions``,
``abort``...). The executor stores ``Plan.status`` (built here) and every reader of a stored
status (CLI, web, analysis, drift) calls ``rollout_of(status)``. Decoding is lenient: a status
written by an older version, by hand in a test, or not written yet gives the defaults for what
is missing, so a reader never fails on a field it does not find.

>>> state = RolloutState(phase=Phase.PAUSED, current_step_index=1, set_weight=20,
...     pause_conditions=(PauseCondition("CanaryPauseStep", 7.0),))
>>> stored = with_rollout({"replicas": 3}, state)
>>> stored["rollout"]["pauseConditions"], stored["rollout"]["setWeight"]
([{'reason': 'CanaryPauseStep', 'startTime': 7.0}], 20)
>>> "actualWeight" in stored["rollout"]  # no canary weight was ever given to the proxy
False
>>> rollout_of(stored) == state, rollout_of({}) == RolloutState(), without_rollout(stored)
(True, True, {'replicas': 3})
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from reconciler.engine.state import PauseCondition, Phase, RolloutState, Strategy

__all__ = ["STATUS_KEY", "RolloutKey", "rollout_of", "with_rollout", "without_rollout"]

STATUS_KEY = "rollout"  # status[STATUS_KEY] holds the rollout state


class RolloutKey(enum.StrEnum):
    """Keys of ``status["rollout"]`` as stored."""

    STRATEGY = "strategy"
    PHASE = "phase"
    MESSAGE = "message"
    CURRENT_POD_HASH = "currentPodHash"
    STABLE_RS = "stableRS"
    CURRENT_STEP_INDEX = "currentStepIndex"
    STEP_COUNT = "stepCount"
    SET_WEIGHT = "setWeight"
    ACTUAL_WEIGHT = "actualWeight"
    PAUSE_CONDITIONS = "pauseConditions"  # [{"reason": PauseReason, "startTime": float}]
    ABORT = "abort"
    ABORTED_AT = "abortedAt"
    ABORT_MESSAGE = "abortMessage"
    PROMOTE_FULL = "promoteFull"
    ACTIVE_SELECTOR = "activeSelector"
    PREVIEW_SELECTOR = "previewSelector"
    SCALE_DOWN_AT = "scaleDownAt"
    FAILED_TEMPLATE = "failedTemplateHash"
    RESTARTED_AT = "restartedAt"
    ANALYSIS_FAILURES = "analysisFailures"


_E = TypeVar("_E", bound=enum.StrEnum)


def _enum(kind: type[_E], value: object) -> _E | None:
    try:
        return kind(str(value)) if value else None
    except ValueError:
        return None


def _int(value: object, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default


def _optional_int(value: object) -> int | None:
    return None if value is None else _int(value)


def _optional_float(value: object) -> float | None:
    try:
        return None if value is None else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _pauses(value: object) -> tuple[PauseCondition, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(
        PauseCondition(str(p.get("reason", "")), _optional_float(p.get("startTime")) or 0.0)
        for p in value
        if isinstance(p, Mapping)
    )


def _deadlines(value: object) -> dict[str, float]:
    if not isinstance(value, Mapping):
        return {}
    out = {str(k): _optional_float(v) for k, v in value.items()}
    return {k: v for k, v in out.items() if v is not None}


def rollout_from_dict(data: Mapping[str, Any]) -> RolloutState:
    """The state a stored ``status["rollout"]`` stands for (defaults for what is missing)."""
    k = RolloutKey
    return RolloutState(
        strategy=_enum(Strategy, data.get(k.STRATEGY)),
        phase=_enum(Phase, data.get(k.PHASE)),
        message=str(data.get(k.MESSAGE) or ""),
        current_pod_hash=str(data.get(k.CURRENT_POD_HASH) or ""),
        stable_rs=str(data.get(k.STABLE_RS) or ""),
        current_step_index=_int(data.get(k.CURRENT_STEP_INDEX)),
        step_count=_optional_int(data.get(k.STEP_COUNT)),
        set_weight=_optional_int(data.get(k.SET_WEIGHT)),
        actual_weight=_optional_int(data.get(k.ACTUAL_WEIGHT)),
        pause_conditions=_pauses(data.get(k.PAUSE_CONDITIONS)),
        aborted=bool(data.get(k.ABORT)),
        aborted_at=_optional_float(data.get(k.ABORTED_AT)),
        abort_message=str(data.get(k.ABORT_MESSAGE) or ""),
        promote_full=bool(data.get(k.PROMOTE_FULL)),
        active_selector=str(data.get(k.ACTIVE_SELECTOR) or ""),
        preview_selector=str(data.get(k.PREVIEW_SELECTOR) or ""),
        scale_down_at=_deadlines(data.get(k.SCALE_DOWN_AT)),
        failed_template_hash=str(data.get(k.FAILED_TEMPLATE) or ""),
        restarted_at=_optional_float(data.get(k.RESTARTED_AT)),
        analysis_failures=_int(data.get(k.ANALYSIS_FAILURES)),
    )


def rollout_to_dict(state: RolloutState) -> dict[str, Any]:
    """The stored form: JSON-able; the canary-only numbers only once the canary set them."""
    k = RolloutKey
    out: dict[str, Any] = {}
    if state.strategy is not None:
        out[k.STRATEGY] = str(state.strategy)
    if state.phase is not None:
        out[k.PHASE] = str(state.phase)
    out |= {
        k.MESSAGE: state.message,
        k.CURRENT_POD_HASH: state.current_pod_hash,
        k.STABLE_RS: state.stable_rs,
        k.CURRENT_STEP_INDEX: state.current_step_index,
        k.PAUSE_CONDITIONS: [
            {"reason": str(p.reason), "startTime": p.start_time} for p in state.pause_conditions
        ],
        k.ABORT: state.aborted,
        k.ABORTED_AT: state.aborted_at,
        k.ABORT_MESSAGE: state.abort_message,
        k.PROMOTE_FULL: state.promote_full,
        k.ACTIVE_SELECTOR: state.active_selector,
        k.PREVIEW_SELECTOR: state.preview_selector,
        k.SCALE_DOWN_AT: dict(state.scale_down_at),
        k.FAILED_TEMPLATE: state.failed_template_hash,
        k.RESTARTED_AT: state.restarted_at,
        k.ANALYSIS_FAILURES: state.analysis_failures,
    }
    for key, value in (
        (k.STEP_COUNT, state.step_count),
        (k.SET_WEIGHT, state.set_weight),
        (k.ACTUAL_WEIGHT, state.actual_weight),
    ):
        if value is not None:
            out[key] = value
    return {str(key): value for key, value in out.items()}


def rollout_of(status: Mapping[str, Any] | None) -> RolloutState:
    """The rollout state of a stored Deployment status (``RolloutState()`` if none yet)."""
    data = (status or {}).get(STATUS_KEY)
    return rollout_from_dict(data) if isinstance(data, Mapping) else RolloutState()


def with_rollout(status: Mapping[str, Any], state: RolloutState) -> dict[str, Any]:
    """``status`` with the rollout state stored in it (a new dict)."""
    return {**status, STATUS_KEY: rollout_to_dict(state)}


def without_rollout(status: Mapping[str, Any]) -> dict[str, Any]:
    """The Deployment status as Kubernetes shows it (``get -o yaml``): no rollout state."""
    return {key: value for key, value in status.items() if key != STATUS_KEY}
