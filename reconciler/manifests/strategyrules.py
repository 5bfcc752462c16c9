"""Deployment strategies: RollingUpdate's surge arithmetic, BlueGreen's and Canary's blocks.

The local strategies use Argo Rollouts' field names, so these rules follow Argo's
``ValidateRollout`` as well as ``apps/validation``: one strategy block, matching its ``type``;
``maxSurge``/``maxUnavailable`` not both zero; distinct stable/canary (active/preview) Services;
exactly one action per canary step; durations Kubernetes can read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.manifests.names import PERCENT_MSG, invalid, listed
from reconciler.manifests.schema import Finding, Path
from reconciler.manifests.trafficrules import check_canary_traffic
from reconciler.units import is_percent, parse_duration

__all__ = ["STEP_KINDS", "STRATEGY_BLOCKS", "check_strategy"]

STRATEGY_BLOCKS = {"RollingUpdate": "rollingUpdate", "BlueGreen": "blueGreen", "Canary": "canary"}
STEP_KINDS = (
    "setWeight",
    "pause",
    "setCanaryScale",
    "analysis",
    "experiment",
    "setHeaderRoute",
    "setMirrorRoute",
    "plugin",
)


def _int_or_percent(value: Any, path: Path, *, at_most_100: bool) -> Iterable[Finding]:
    if isinstance(value, str):
        if not is_percent(value):
            yield Finding(path, invalid(value, PERCENT_MSG), "percent")
        elif at_most_100 and int(value[:-1]) > 100:
            yield Finding(path, invalid(value, "must not be greater than 100%"), "percent")


def _is_zero(value: Any) -> bool:
    """Percents are compared as plain numbers, not against replicas: "0%" is zero, "1%" is not."""
    if isinstance(value, str):
        return is_percent(value) and int(value[:-1]) == 0
    return bool(value == 0)


def _surge_unavailable(block: Mapping[str, Any], path: Path) -> Iterable[Finding]:
    surge = block.get("maxSurge", "25%")
    unavailable = block.get("maxUnavailable", "25%")
    yield from _int_or_percent(surge, (*path, "maxSurge"), at_most_100=False)
    yield from _int_or_percent(unavailable, (*path, "maxUnavailable"), at_most_100=True)
    if _is_zero(surge) and _is_zero(unavailable):
        yield Finding(
            (*path, "maxUnavailable"),
            invalid(unavailable, "may not be 0 when `maxSurge` is 0"),
            "max-surge-unavailable",
            at=(*path,) if "maxUnavailable" not in block else None,
        )


def _duration(value: Any, path: Path) -> Iterable[Finding]:
    try:
        parse_duration(value)
    except ValueError:
        yield Finding(
            path,
            invalid(value, 'must be seconds or a duration like "30s", "5m", "1h"'),
            "duration",
        )


def check_strategy(spec: Mapping[str, Any]) -> Iterable[Finding]:
    """Findings of a Deployment spec's ``strategy``."""
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type", "RollingUpdate")
    for type_name, block in STRATEGY_BLOCKS.items():
        if block in strategy and kind != type_name:
            yield Finding(
                ("spec", "strategy", block),
                f"Forbidden: may not be specified when strategy `type` is '{kind}'",
                "strategy",
            )
    if kind == "BlueGreen" and "blueGreen" not in strategy:
        yield Finding(
            ("spec", "strategy", "blueGreen"),
            "Required value: must be specified when strategy `type` is 'BlueGreen' "
            "(at least blueGreen.activeService)",
            "strategy",
            at=("spec", "strategy", "type"),
        )
    if kind == "RollingUpdate":
        yield from _surge_unavailable(
            strategy.get("rollingUpdate") or {}, ("spec", "strategy", "rollingUpdate")
        )
    if kind == "BlueGreen" and "blueGreen" in strategy:
        blue_green = strategy["blueGreen"]
        preview = blue_green.get("previewService")
        if preview and preview == blue_green["activeService"]:
            yield Finding(
                ("spec", "strategy", "blueGreen", "previewService"),
                invalid(preview, "must differ from activeService"),
                "strategy",
            )
    if kind == "Canary" and "canary" in strategy:
        yield from _canary(strategy["canary"], spec)


def _canary(canary: Mapping[str, Any], spec: Mapping[str, Any]) -> Iterable[Finding]:
    base: Path = ("spec", "strategy", "canary")
    yield from _surge_unavailable(canary, base)
    stable, canary_service = canary.get("stableService"), canary.get("canaryService")
    if stable and stable == canary_service:
        yield Finding(
            (*base, "canaryService"),
            invalid(canary_service, "must differ from stableService"),
            "strategy",
        )
    for index, step in enumerate(canary.get("steps") or []):
        path: Path = (*base, "steps", index)
        kinds = [name for name in STEP_KINDS if name in step]
        if len(kinds) != 1:
            what = ", ".join(kinds) if kinds else "none"
            yield Finding(
                path,
                f"Invalid value: a step must have exactly one of setWeight or pause (has: {what})",
                "canary-step",
            )
        pause = step.get("pause")
        if isinstance(pause, dict) and "duration" in pause:
            yield from _duration(pause["duration"], (*path, "pause", "duration"))
    yield from check_canary_traffic(canary, base)  # header routes, metrics (#20)
    analysis = canary.get("analysis")
    if analysis:
        if "interval" in analysis:
            yield from _duration(analysis["interval"], (*base, "analysis", "interval"))
        port = (analysis.get("httpGet") or {}).get("port")
        if isinstance(port, str):
            names = {
                p.get("name")
                for c in spec["template"]["spec"]["containers"]
                for p in c.get("ports") or []
            }
            if port not in names:
                yield Finding(
                    (*base, "analysis", "httpGet", "port"),
                    invalid(
                        port,
                        "must be a number or the name of a container port "
                        f"(declared: {listed(names)})",
                    ),
                    "probe-port",
                )
