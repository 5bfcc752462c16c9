"""The rollout state is typed outside the engine: nobody else spells ``status["rollout"]`` keys.

``reconciler.engine.serialize`` is the one module that turns the stored dict into a
``RolloutState`` and back. This scan holds every other module to it: outside ``engine/`` no
string constant may name a stored rollout key that has no other meaning (``currentPodHash``,
``stableRS``, ``pauseConditions``...), and nothing may look the state up in a status itself
(``status["rollout"]``, ``status.get("rollout")``), which is the only way to reach the keys
that are also ordinary Kubernetes words (``phase``, ``message``, ``strategy``, ``abort``,
``setWeight``). A dict display may still use such a word as a key: that builds a document
(the JSON API), it does not read the state.
"""

from __future__ import annotations

import ast
from pathlib import Path

import reconciler
from reconciler.engine.serialize import STATUS_KEY, RolloutKey, rollout_of, with_rollout
from reconciler.engine.state import PauseCondition, Phase, RolloutState, Strategy

PACKAGE = Path(reconciler.__file__).parent
ENGINE = PACKAGE / "engine"
# Stored keys that are also manifest or API words, reachable only through status["rollout"].
COMMON_WORDS = {
    RolloutKey.STRATEGY,
    RolloutKey.PHASE,
    RolloutKey.MESSAGE,
    RolloutKey.ABORT,
    RolloutKey.SET_WEIGHT,
}
DISTINCT_KEYS = {str(k) for k in RolloutKey} - {str(k) for k in COMMON_WORDS}
LOOKUPS = {"get", "pop", "setdefault"}


def _offences(source: str, where: object) -> list[str]:
    tree = ast.parse(source)
    dict_keys = {
        id(key) for node in ast.walk(tree) if isinstance(node, ast.Dict) for key in node.keys
    }
    out = []
    for node in ast.walk(tree):
        stored_key = isinstance(node, ast.Constant) and node.value in DISTINCT_KEYS
        if stored_key and id(node) not in dict_keys:
            assert isinstance(node, ast.Constant)
            out.append(f"{where}:{node.lineno}: {node.value!r}")
        looked_up = None
        if isinstance(node, ast.Subscript):
            looked_up = node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOOKUPS
            and node.args
        ):
            looked_up = node.args[0]
        if isinstance(looked_up, ast.Constant) and looked_up.value == STATUS_KEY:
            out.append(f"{where}:{looked_up.lineno}: status[{STATUS_KEY!r}]")
    return out


def test_no_rollout_state_key_outside_the_engine() -> None:
    """No module outside engine/ reads a stored rollout key or status["rollout"] itself."""
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if ENGINE not in p.parents]
    offences = [
        line
        for path in modules
        for line in _offences(path.read_text(encoding="utf-8"), path.relative_to(PACKAGE.parent))
    ]
    assert offences == []
    assert len(modules) > 50 and {"currentPodHash", "stableRS"} <= DISTINCT_KEYS


def test_the_scan_finds_a_reader_around_the_typed_state() -> None:
    """The scan catches status["rollout"] lookups and stored keys, but not API documents."""
    reader = 'def f(status):\n    return status.get("rollout", {}).get("stableRS")\n'
    assert sorted(_offences(reader, "probe.py")) == [
        "probe.py:2: 'stableRS'",
        "probe.py:2: status['rollout']",
    ]
    assert _offences('rollout = status["rollout"]\n', "probe.py") == [
        "probe.py:1: status['rollout']"
    ]
    document = 'def f(w):\n    return {"actualWeight": w, "phase": "Paused"}\n'
    assert _offences(document, "probe.py") == []


def test_a_state_survives_the_store() -> None:
    """Every field of a rollout state comes back from the stored dict as it went in."""
    state = RolloutState(
        strategy=Strategy.BLUE_GREEN,
        phase=Phase.PAUSED,
        message="BlueGreenPause",
        current_pod_hash="new",
        stable_rs="old",
        current_step_index=2,
        step_count=4,
        set_weight=40,
        actual_weight=0,
        pause_conditions=(PauseCondition("BlueGreenPause", 12.5),),
        aborted=True,
        aborted_at=13.0,
        abort_message="analysis assessed Failed",
        promote_full=True,
        active_selector="old",
        preview_selector="new",
        scale_down_at={"web-old": 40.0},
        failed_template_hash="new",
        restarted_at=11.0,
        analysis_failures=3,
    )
    assert rollout_of(with_rollout({}, state)) == state


def test_a_hand_written_or_old_status_reads_with_defaults() -> None:
    """A partial or mistyped stored state gives defaults, never an error."""
    status = {
        STATUS_KEY: {
            "phase": "Sideways",
            "currentStepIndex": "x",
            "pauseConditions": [{"reason": "CanaryPauseStep"}, "junk"],
            "scaleDownAt": {"web-old": "soon"},
        }
    }
    state = rollout_of(status)
    assert state.phase is None and state.current_step_index == 0
    assert state.pause_conditions == (PauseCondition("CanaryPauseStep", 0.0),)
    assert state.scale_down_at == {} and state.set_weight is None
    assert rollout_of({}).is_empty and not state.is_empty
