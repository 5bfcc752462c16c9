"""Rules of a canary's request-level traffic (#20): header routes, mirror routes, metrics.

What the schema cannot say, worded as the API server words it (``rules.py`` explains the style):
a ``headerValue.regex`` must compile (the proxy matches it with ``re.fullmatch``); a route step
without ``match`` removes a route, so it must name one an earlier step set; a metric measures
exactly one thing (``successRate`` or ``latencyP99``) and its durations must parse; analysis
needs ``httpGet`` checks or ``metrics``. ``setMirrorRoute`` is validated by the schema and warned
about there (the proxy does not mirror requests).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reconciler.errors import Severity
from reconciler.manifests.schema import Finding, Path
from reconciler.objects import Kind
from reconciler.units import parse_duration

if TYPE_CHECKING:
    from reconciler.manifests.crossrules import Entry, Hit

__all__ = ["check_canary_traffic", "check_metric_services", "check_service_protocols"]

MEASURES = ("successRate", "latencyP99")


def _invalid(value: Any, why: str) -> str:
    return f"Invalid value: {json.dumps(value, sort_keys=True)}: {why}"


def _duration(value: Any, path: Path) -> Iterable[Finding]:
    try:
        parse_duration(value)
    except ValueError:
        yield Finding(
            path,
            _invalid(value, 'must be seconds or a duration like "250ms", "30s", "5m"'),
            "duration",
        )


def _header_route(route: Mapping[str, Any], path: Path, set_before: set[str]) -> Iterable[Finding]:
    name = str(route.get("name", ""))
    matches = route.get("match") or []
    if not matches and name not in set_before:
        yield Finding(
            (*path, "name"),
            _invalid(
                name,
                "a setHeaderRoute without match removes a route, but no earlier step sets one "
                "by this name (add match to set it)",
            ),
            "header-route",
            Severity.WARNING,
        )
    for i, entry in enumerate(matches):
        regex = (entry.get("headerValue") or {}).get("regex")
        if regex is None:
            continue
        try:
            re.compile(regex)
        except re.error as exc:
            yield Finding(
                (*path, "match", i, "headerValue", "regex"),
                _invalid(regex, f"must be a valid regular expression: {exc}"),
                "header-route",
            )
    if matches:
        set_before.add(name)
    else:
        set_before.discard(name)


def _metric(metric: Mapping[str, Any], path: Path) -> Iterable[Finding]:
    measures = [m for m in MEASURES if m in metric]
    if not measures:
        yield Finding(
            path,
            "Required value: a metric must have successRate: {min: 0.95} or "
            "latencyP99: {max: 250ms}",
            "analysis-metric",
        )
    elif len(measures) > 1:
        yield Finding(
            (*path, measures[1]),
            f"Forbidden: may not be specified with {measures[0]} (one measure per metric; "
            "split it into two metrics)",
            "analysis-metric",
        )
    if "latencyP99" in metric:
        yield from _duration(metric["latencyP99"]["max"], (*path, "latencyP99", "max"))
    if "window" in metric:
        yield from _duration(metric["window"], (*path, "window"))
        try:
            if parse_duration(metric["window"]) <= 0:
                yield Finding(
                    (*path, "window"),
                    _invalid(metric["window"], "must be greater than 0"),
                    "duration",
                )
        except ValueError:
            pass


def check_service_protocols(obj: Mapping[str, Any]) -> list[Finding]:
    """An ``appProtocol`` other than http is accepted, and proxied as plain TCP: say so."""
    findings: list[Finding] = []
    for i, port in enumerate(obj["spec"].get("ports") or []):
        app = port.get("appProtocol")
        if app is not None and str(app).lower() not in ("http", "tcp"):
            findings.append(
                Finding(
                    ("spec", "ports", i, "appProtocol"),
                    f"{json.dumps(app)} is proxied as plain TCP on this host (only http is "
                    "proxied request by request)",
                    "app-protocol",
                    Severity.WARNING,
                )
            )
    return findings


def check_canary_traffic(canary: Mapping[str, Any], base: Path) -> list[Finding]:
    """Findings of a schema-valid ``spec.strategy.canary`` block at ``base``."""
    findings: list[Finding] = []
    routes: set[str] = set()
    weight = 0
    for index, step in enumerate(canary.get("steps") or []):
        weight = int(step.get("setWeight", weight))
        route = step.get("setHeaderRoute")
        if not isinstance(route, Mapping):
            continue
        path: Path = (*base, "steps", index, "setHeaderRoute")
        findings.extend(_header_route(route, path, routes))
        if route.get("match") and weight == 0:
            findings.append(
                Finding(
                    path,
                    "the canary has no pods at setWeight 0 (setCanaryScale is not supported "
                    "here), so the route's requests find no endpoint: put a setWeight step "
                    "before it",
                    "header-route",
                    Severity.WARNING,
                )
            )
    analysis = canary.get("analysis")
    if not isinstance(analysis, Mapping):
        return findings
    at: Path = (*base, "analysis")
    metrics = analysis.get("metrics") or []
    if "httpGet" not in analysis and not metrics:
        findings.append(
            Finding(
                (*at, "httpGet"),
                "Required value: analysis needs httpGet checks of the canary pods, metrics of "
                "their requests (successRate, latencyP99), or both",
                "analysis",
                at=at,
            )
        )
    seen: dict[str, int] = {}
    for i, metric in enumerate(metrics):
        path = (*at, "metrics", i)
        name = metric.get("name", "")
        if name in seen:
            findings.append(
                Finding((*path, "name"), f"Duplicate value: {json.dumps(name)}", "analysis-metric")
            )
        seen.setdefault(name, i)
        findings.extend(_metric(metric, path))
    return findings


def _is_http(service: Mapping[str, Any]) -> bool:
    ports = service["spec"].get("ports") or []
    return any(str(p.get("appProtocol", "")).lower() == "http" for p in ports)


def check_metric_services(entries: Sequence[Entry]) -> Iterable[Hit]:
    """(warning) ``analysis.metrics`` measure requests through ``appProtocol: http`` ports: a
    canary whose Services have none would never get a verdict. Said only when the set has
    Services in the namespace (a single file validated alone proves nothing)."""
    for index, entry in enumerate(entries):
        if entry.ref.kind != Kind.DEPLOYMENT or not entry.checked:
            continue
        strategy = entry.obj["spec"].get("strategy") or {}
        analysis = (strategy.get("canary") or {}).get("analysis") or {}
        if strategy.get("type") != "Canary" or not analysis.get("metrics"):
            continue
        labels = (entry.obj["spec"]["template"].get("metadata") or {}).get("labels") or {}
        services = [
            e
            for e in entries
            if e.ref.kind == Kind.SERVICE and e.checked and e.ref.namespace == entry.ref.namespace
        ]
        if not services:
            continue
        selecting = [
            s
            for s in services
            if (selector := s.obj["spec"].get("selector"))
            and all(labels.get(k) == v for k, v in selector.items())
        ]
        if any(_is_http(s.obj) for s in selecting):
            continue
        names = ", ".join(f"{s.ref.name} ({s.where(('metadata', 'name'))})" for s in selecting)
        yield (
            index,
            Finding(
                ("spec", "strategy", "canary", "analysis", "metrics"),
                "the metrics measure requests through Service ports with appProtocol: http, "
                + (
                    f"and no port of {names} has it"
                    if names
                    else "and no Service selects these pods"
                )
                + ": they would never have a verdict (add appProtocol: http to the port)",
                "analysis-metric",
                Severity.WARNING,
            ),
        )
