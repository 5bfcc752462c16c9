"""Header routes of a canary (Argo Rollouts' ``setHeaderRoute`` step), kept apart from the planner.

Argo's semantics: a ``setHeaderRoute`` step sets (or, without ``match``, removes) a named route
and the rollout proceeds to the next step at once; the routes set by the steps already passed
stay until the rollout completes (every step done) or aborts. A route sends every request whose
headers match to the canary ReplicaSet, whatever the weight; the proxy sees it as a traffic group
named ``canary-route-<name>`` with ``match`` on the Services that split traffic (and the
``stableService``), never on the ``canaryService`` (which only has the canary anyway).

``setMirrorRoute`` is accepted and passes at once: the proxy does not mirror requests (the
validator warns so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.engine.model import HeaderMatch, TrafficGroup

__all__ = [
    "ROUTE_GROUP_PREFIX",
    "active_routes",
    "describe_route_step",
    "header_matches",
    "with_header_routes",
]

ROUTE_GROUP_PREFIX = "canary-route-"
MATCH_KINDS = ("exact", "prefix", "regex")

Routes = dict[str, tuple[HeaderMatch, ...]]


def header_matches(route: Mapping[str, Any]) -> tuple[HeaderMatch, ...]:
    """The matches of one ``setHeaderRoute`` (schema-valid: one kind per ``headerValue``)."""
    out: list[HeaderMatch] = []
    for entry in route.get("match") or []:
        value = entry.get("headerValue") or {}
        kind = next((k for k in MATCH_KINDS if k in value), "exact")
        out.append(HeaderMatch(str(entry["headerName"]), str(value.get(kind, "")), kind))
    return tuple(out)


def active_routes(steps: Sequence[Mapping[str, Any]], index: int) -> Routes:
    """The header routes the steps before ``index`` left in place, in the order they were set;
    none once every step is done (the rollout completes)."""
    routes: Routes = {}
    if index >= len(steps):
        return routes
    for step in steps[:index]:
        route = step.get("setHeaderRoute")
        if not isinstance(route, Mapping):
            continue
        name = str(route.get("name", ""))
        matches = header_matches(route)
        if matches:
            routes[name] = matches
        else:
            routes.pop(name, None)
    return routes


def with_header_routes(
    traffic: Mapping[str, tuple[TrafficGroup, ...]],
    routes: Routes,
    *,
    canary_rs: str,
) -> dict[str, tuple[TrafficGroup, ...]]:
    """``traffic`` plus one match group per route on every Service that has a stable group."""
    out = dict(traffic)
    if not routes:
        return out
    extra = tuple(
        TrafficGroup(f"{ROUTE_GROUP_PREFIX}{name}", 0, (canary_rs,), matches)
        for name, matches in routes.items()
    )
    for service, groups in traffic.items():
        if any(g.name == "stable" for g in groups):
            out[service] = (*groups, *extra)
    return out


def describe_route_step(step: Mapping[str, Any]) -> str | None:
    """How ``rollout status`` and the step events name a route step; None for other steps."""
    for kind in ("setHeaderRoute", "setMirrorRoute"):
        route = step.get(kind)
        if isinstance(route, Mapping):
            verb = "" if route.get("match") else " (remove)"
            return f"{kind}: {route.get('name', '')}{verb}"
    return None
