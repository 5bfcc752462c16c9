"""setHeaderRoute steps in the canary planner: set, proceed at once, removed at the end or abort."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.engine.dispatch import plan
from reconciler.engine.model import HeaderMatch, Plan
from reconciler.engine.routes import active_routes
from tests.engine.builders import T0, rs, spec
from tests.engine.test_strategies import view

BETA = {
    "setHeaderRoute": {
        "name": "beta",
        "match": [
            {"headerName": "X-Beta", "headerValue": {"exact": "1"}},
            {"headerName": "Cookie", "headerValue": {"regex": ".*beta=yes.*"}},
        ],
    }
}
STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    BETA,
    {"pause": {}},
    {"setHeaderRoute": {"name": "beta"}},
    {"pause": {}},
]
STRATEGY = {"type": "Canary", "canary": {"steps": STEPS}}
MATCHES = (HeaderMatch("X-Beta", "1", "exact"), HeaderMatch("Cookie", ".*beta=yes.*", "regex"))


def _at(index: int, **extra: Any) -> dict[str, Any]:
    return {
        "rollout": {
            "currentPodHash": "new",
            "stableRS": "old",
            "currentStepIndex": index,
            **extra,
        }
    }


def _plan(index: int, **extra: Any) -> Plan:
    rss = (rs("old", 4, desired=5), rs("new", 1, revision=2, desired=5))
    return plan(view(spec(5, STRATEGY), "new", *rss, status=_at(index, **extra)), now=T0)


def test_active_routes_follow_the_steps_passed() -> None:
    """A route is set by its step, removed by a later step without match, gone when done."""
    assert active_routes(STEPS, 1) == {}
    assert active_routes(STEPS, 2) == {"beta": MATCHES}
    assert active_routes(STEPS, 3) == {"beta": MATCHES}
    assert active_routes(STEPS, 4) == {}
    assert active_routes(STEPS[:3], 3) == {}  # every step done: the rollout completes


def test_header_route_step_completes_at_once_and_routes_to_the_canary() -> None:
    """At the setHeaderRoute step the plan moves on in the same pass with a match group."""
    p = _plan(1)
    assert p.status["rollout"]["currentStepIndex"] == 2
    assert any("setHeaderRoute: beta" in e.message for e in p.events)
    groups = {g.name: g for g in p.traffic["web"]}
    assert set(groups) == {"stable", "canary", "canary-route-beta"}
    route = groups["canary-route-beta"]
    assert route.match == MATCHES
    assert route.replica_sets == ("web-new",)
    assert groups["canary"].weight == 20


def test_route_removed_by_its_step_and_on_abort() -> None:
    """The removing step drops the match group; an aborted canary has no header route."""
    assert {g.name for g in _plan(3).traffic["web"]} == {"stable", "canary"}
    paused = _plan(2)
    assert "canary-route-beta" in {g.name for g in paused.traffic["web"]}
    aborted = _plan(2, abort=True, abortedAt=T0 - 1)
    assert all(not g.match for g in aborted.traffic["web"])


def test_stable_service_gets_the_route_canary_service_does_not() -> None:
    """A stableService carries the header route to the canary; the canaryService does not."""
    strategy = {
        "type": "Canary",
        "canary": {"steps": STEPS, "stableService": "web-stable", "canaryService": "web-canary"},
    }
    rss = (rs("old", 4, desired=5), rs("new", 1, revision=2, desired=5))
    p = plan(
        view(
            spec(5, strategy),
            "new",
            *rss,
            status=_at(2),
            services=("web", "web-stable", "web-canary"),
        ),
        now=T0,
    )
    assert [g.name for g in p.traffic["web-stable"]] == ["stable", "canary-route-beta"]
    assert [g.name for g in p.traffic["web-canary"]] == ["canary"]


def test_metric_failure_message_is_the_abort_message() -> None:
    """A failing metric's measured values become the AnalysisRunFailed event and abortMessage."""
    strategy = {"type": "Canary", "canary": {"steps": STEPS, "analysis": {"metrics": [{}]}}}
    rss = (rs("old", 4, desired=5), rs("new", 1, revision=2, desired=5))
    message = 'Metric "sr" assessed Failed: success-rate 0.90 < 0.95 over 212 requests in 10s'
    base = view(spec(5, strategy), "new", *rss, status=_at(2), analysis_failures=1)
    p = plan(replace(base, analysis_message=message), now=T0)
    assert p.status["rollout"]["abort"] is True
    assert p.status["rollout"]["abortMessage"] == message
    [event] = [e for e in p.events if e.reason == "AnalysisRunFailed"]
    assert (event.type, event.message) == ("Warning", message)


def test_mirror_route_step_passes_at_once_without_a_group() -> None:
    """setMirrorRoute is accepted and passes at once; it adds no traffic group (no mirroring)."""
    steps = [{"setWeight": 20}, {"setMirrorRoute": {"name": "m", "percentage": 50}}, {"pause": {}}]
    strategy = {"type": "Canary", "canary": {"steps": steps}}
    rss = (rs("old", 4, desired=5), rs("new", 1, revision=2, desired=5))
    p = plan(view(spec(5, strategy), "new", *rss, status=_at(1)), now=T0)
    assert p.status["rollout"]["currentStepIndex"] == 2
    assert any("setMirrorRoute: m" in e.message for e in p.events)
    assert {g.name for g in p.traffic["web"]} == {"stable", "canary"}
