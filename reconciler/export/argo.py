"""The Argo Rollouts side of an export: BlueGreen and Canary strategies as a Rollout's.

The local strategies already use Argo's field names, so most of a strategy goes as written;
what Argo has no field for is dropped with a warning, what Argo reads differently (pause
durations, ``setWeight`` without traffic routing, inline analysis) is translated or explained.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.export.kubernetes import DEPLOYMENT_SPEC, whole_seconds
from reconciler.export.traffic import Routing, route_canary
from reconciler.export.warnings import Path, Warnings

__all__ = ["ROLLOUT_API_VERSION", "ROLLOUT_SPEC", "rollout_strategy"]

ROLLOUT_API_VERSION = "argoproj.io/v1alpha1"

# What a Rollout spec adds to a Deployment's (Argo CRD, spec.*).
ROLLOUT_SPEC = (*DEPLOYMENT_SPEC, "progressDeadlineAbort", "restartAt", "analysis", "workloadRef")

# strategy.blueGreen / strategy.canary fields of the Argo Rollouts CRD.
_BLUE_GREEN = frozenset(
    {
        "abortScaleDownDelaySeconds",
        "activeMetadata",
        "activeService",
        "antiAffinity",
        "autoPromotionEnabled",
        "autoPromotionSeconds",
        "maxUnavailable",
        "postPromotionAnalysis",
        "prePromotionAnalysis",
        "previewMetadata",
        "previewReplicaCount",
        "previewService",
        "scaleDownDelayRevisionLimit",
        "scaleDownDelaySeconds",
    }
)
_CANARY = frozenset(
    {
        "abortScaleDownDelaySeconds",
        "antiAffinity",
        "canaryMetadata",
        "canaryService",
        "dynamicStableScale",
        "maxSurge",
        "minPodsPerReplicaSet",
        "maxUnavailable",
        "pingPong",
        "scaleDownDelayRevisionLimit",
        "scaleDownDelaySeconds",
        "stableMetadata",
        "stableService",
        "steps",
        "trafficRouting",
    }
)
_CANARY_STEP = frozenset(
    {
        "setWeight",
        "pause",
        "setCanaryScale",
        "experiment",
        "setHeaderRoute",
        "setMirrorRoute",
        "replicaProgressThreshold",
        "plugin",
    }
)


def rollout_strategy(
    warnings: Warnings,
    strategy: dict[str, Any],
    kind: str,
    *,
    replicas: int,
    routing: Routing,
    workload: dict[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A Rollout's ``spec.strategy`` for a local BlueGreen or Canary strategy, and the route
    objects its traffic routing edits (``traffic``)."""
    key = "blueGreen" if kind == "BlueGreen" else "canary"
    body: dict[str, Any] = dict(strategy.get(key) or {})
    path: Path = ("spec", "strategy", key)
    for other in [name for name in strategy if name not in ("type", key)]:
        warnings.warn(
            ("spec", "strategy", other),
            f"dropped: a {kind} Rollout uses only strategy.{key}",
        )
    if kind == "BlueGreen":
        if body.get("activeService") is None:
            body.pop("activeService", None)
        _only(warnings, body, _BLUE_GREEN, path, "strategy.blueGreen")
        return {"blueGreen": body}, []
    analysis = body.pop("analysis", None)
    if analysis is not None:
        _drop_analysis(
            warnings, (*path, "analysis"), analysis, canary_service=body.get("canaryService")
        )
    _only(warnings, body, _CANARY, path, "strategy.canary")
    steps = body.get("steps")
    routes: list[dict[str, Any]] = []
    if isinstance(steps, list):
        body["steps"] = _steps(
            warnings, steps, (*path, "steps"), canary_service=body.get("canaryService")
        )
        routes = route_canary(warnings, body, path, routing=routing, workload=workload)
        if "trafficRouting" not in body:
            _weights(warnings, body["steps"], (*path, "steps"), replicas=replicas)
    if "trafficRouting" not in body:
        # Argo's ValidateRollout: InvalidCanaryScaleDownDelay / InvalidCanaryDynamicStableScale.
        for field in ("scaleDownDelaySeconds", "dynamicStableScale"):
            if field in body:
                del body[field]
                warnings.warn(
                    (*path, field),
                    f"dropped: Argo Rollouts rejects canary {field} without trafficRouting "
                    "(InvalidSpec); it is not used by the local reconciler either",
                )
    return {"canary": body}, routes


def _weights(warnings: Warnings, steps: list[Any], path: Path, *, replicas: int) -> None:
    """Warn at each setWeight that whole pods cannot show without traffic routing.

    Without trafficRouting Argo Rollouts sets the weight by pod counts: with 4 replicas,
    ``setWeight: 25`` is 1 canary pod of 4 (exact), ``setWeight: 10`` is still 1 of 4.
    """
    for index, step in enumerate(steps):
        weight = step.get("setWeight") if isinstance(step, dict) else None
        if not isinstance(weight, int) or weight in (0, 100) or weight * replicas % 100 == 0:
            continue
        warnings.warn(
            (*path, index, "setWeight"),
            f"{weight}% of {replicas} replicas is {weight * replicas / 100:g} pods: without "
            "trafficRouting Argo Rollouts approximates the weight by the ratio of canary "
            "to stable pods, where the local proxy splits connections exactly; add "
            "replicas, or a trafficRouting provider",
        )


def _only(
    warnings: Warnings, body: dict[str, Any], allowed: frozenset[str], path: Path, what: str
) -> None:
    for key in [key for key in body if key not in allowed]:
        del body[key]
        warnings.warn((*path, key), f"dropped: not an Argo Rollouts {what} field")


def _steps(
    warnings: Warnings, steps: list[Any], path: Path, *, canary_service: object
) -> list[Any]:
    out: list[Any] = []
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            out.append(step)
            continue
        step = dict(step)
        if "analysis" in step:
            _drop_analysis(
                warnings,
                (*path, index, "analysis"),
                step.pop("analysis"),
                canary_service=canary_service,
            )
        _only(warnings, step, _CANARY_STEP, (*path, index), "canary step")
        pause = step.get("pause")
        if isinstance(pause, dict) and pause.get("duration") is not None:
            step["pause"] = {
                **pause,
                "duration": _pause_duration(
                    warnings, pause["duration"], (*path, index, "pause", "duration")
                ),
            }
        if step:
            out.append(step)
    return out


def _pause_duration(warnings: Warnings, value: object, path: Path) -> int | str:
    # Argo reads an integer as seconds and a string with Go's time.ParseDuration, truncating
    # to whole seconds; keep "30s"/"5m"/"1h" as written, make everything else whole seconds.
    try:
        seconds, rounded = whole_seconds(value)
    except ValueError:
        return value if isinstance(value, int | str) else str(value)
    if rounded:
        warnings.warn(
            path,
            f"{value!r} rounded up to {seconds}: Argo Rollouts pauses in whole seconds",
        )
        return seconds
    if isinstance(value, str) and re.fullmatch(r"[0-9]+(s|m|h)", value.strip()):
        return value.strip()
    return seconds


def _drop_analysis(
    warnings: Warnings, path: Path, analysis: object, *, canary_service: object
) -> None:
    check = ""
    if isinstance(analysis, dict):
        found = analysis.get("httpGet")
        http: dict[str, Any] = found if isinstance(found, dict) else {}
        metrics = analysis.get("metrics")
        names = (
            [str(m.get("name", "?")) for m in metrics or [] if isinstance(m, dict)]
            if isinstance(metrics, list)
            else []
        )
        service = canary_service or "<canary Service>"
        if http or not names:
            check = (
                f" (a `web` metric whose url is http://{service}:{http.get('port', '<port>')}"
                f"{http.get('path', '/')}, interval {analysis.get('interval', '<interval>')}, "
                f"failureLimit {analysis.get('failureLimit', 0)}, successCondition on HTTP "
                f"{analysis.get('expectedStatus', 200)})"
            )
        if names:
            # the traffic metrics (#20): measured here by the proxy, there by the router
            check += (
                f"{' and' if check else ':'} the traffic metrics {', '.join(names)} (a "
                "`prometheus` metric each, over the request metrics your traffic router or "
                "mesh exports for the canary)"
            )
    warnings.warn(
        path,
        "dropped: Argo Rollouts has no inline canary analysis; write an "
        f"argoproj.io/v1alpha1 AnalysisTemplate that repeats this check{check} and "
        "reference it from strategy.canary.analysis.templates[].templateName",
    )
