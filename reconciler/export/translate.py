"""One pass over a folder's objects: each to its cluster form, with its warnings.

Deployments with a ``RollingUpdate``/``Recreate`` strategy stay Deployments (``kubernetes``);
``BlueGreen`` and ``Canary`` ones become Argo Rollouts (``argo``); every object but ConfigMaps
and Secrets (whose data is the user's, as is) has its ``*Seconds`` made whole.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from reconciler.errors import Problem
from reconciler.export.argo import ROLLOUT_API_VERSION, ROLLOUT_SPEC, rollout_strategy
from reconciler.export.kubernetes import DEPLOYMENT_SPEC, is_int, pod_template, seconds
from reconciler.export.objects import Exported, ExportedObject, SourceObject
from reconciler.export.traffic import Routing, TrafficRouter
from reconciler.export.warnings import Warnings

__all__ = ["export_objects", "portability_problems"]


def export_objects(
    objects: Iterable[SourceObject], *, traffic_router: TrafficRouter | None = None
) -> Exported:
    """Translate validated manifest objects into Kubernetes and Argo Rollouts objects.

    ``traffic_router`` names who routes requests in the cluster (``traffic``); the route
    objects it edits follow the Rollout they belong to.
    """
    items = list(objects)
    routing = Routing.of((item.obj for item in items), traffic_router)
    out: list[ExportedObject] = []
    problems: list[Problem] = []
    for item in items:
        warnings = Warnings(item)
        obj, routes = _translate(warnings, item, routing)
        out.append(ExportedObject(obj, item.source, item.line))
        out.extend(ExportedObject(route, item.source, item.line) for route in routes)
        problems.extend(sorted(warnings.problems, key=lambda p: (p.line, p.column)))
    return Exported(tuple(out), tuple(problems))


def portability_problems(
    objects: Iterable[SourceObject], *, traffic_router: TrafficRouter | None = None
) -> list[Problem]:
    """What would not carry over to a cluster (``validate --target kubernetes``)."""
    return list(export_objects(objects, traffic_router=traffic_router).problems)


def _translate(
    warnings: Warnings, item: SourceObject, routing: Routing
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    obj: dict[str, Any] = copy.deepcopy(dict(item.obj))
    routes: list[dict[str, Any]] = []
    if obj.get("kind") == "Deployment":
        obj, routes = _workload(warnings, obj, routing)
    if obj.get("kind") not in ("ConfigMap", "Secret"):  # their data is the user's, as is
        seconds(warnings, obj, ())
    return obj, routes


def _workload(
    warnings: Warnings, obj: dict[str, Any], routing: Routing
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    spec: dict[str, Any] = obj.get("spec") or {}
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type", "RollingUpdate")
    rollout = kind in ("BlueGreen", "Canary")
    auto_rollback = spec.pop("autoRollback", None)
    routes: list[dict[str, Any]] = []
    if rollout:
        obj["apiVersion"] = ROLLOUT_API_VERSION
        obj["kind"] = "Rollout"
        replicas = spec.get("replicas", 1)
        spec["strategy"], routes = rollout_strategy(
            warnings,
            strategy,
            kind,
            replicas=replicas if is_int(replicas) else 1,
            routing=routing,
            workload=obj,
        )
        if auto_rollback:
            spec["progressDeadlineAbort"] = True
            deadline = spec.get("progressDeadlineSeconds", 600)
            warnings.warn(
                ("spec", "autoRollback"),
                "mapped to Argo Rollouts progressDeadlineAbort: true; the Rollout aborts "
                f"(traffic back to the stable ReplicaSet) only after progressDeadlineSeconds "
                f"({deadline}) passes without progress, not as soon as a pod reports "
                "ImagePullBackOff or CrashLoopBackOff, and then stays Degraded until the "
                "manifest changes or `kubectl argo rollouts retry`",
            )
    elif auto_rollback:
        warnings.warn(
            ("spec", "autoRollback"),
            "dropped: a Kubernetes Deployment has no automatic rollback; a failed rollout "
            "only reports ProgressDeadlineExceeded and keeps the new ReplicaSet. Roll back "
            "with `kubectl rollout undo`, or use strategy BlueGreen or Canary (exported as an "
            "Argo Rollout with progressDeadlineAbort)",
        )
    allowed = ROLLOUT_SPEC if rollout else DEPLOYMENT_SPEC
    for key in [key for key in spec if key not in allowed]:
        del spec[key]
        warnings.warn(("spec", key), f"dropped: not a field of a {obj['kind']} spec")
    template = spec.get("template")
    if isinstance(template, dict):
        pod_template(warnings, template, ("spec", "template"))
    return obj, routes
