"""Lint checks of rollout strategies and Services: can the rollout do what it says?

No peer checks these, and each is a rollout that looks right and misbehaves on the day:

``canary-weight-unrealisable``  without traffic routing, Argo Rollouts (and ``export``) shows a
    canary weight by pod counts: ``setWeight: 10`` with 4 replicas runs 1 canary pod of 4, 25%.
``progress-deadline-pause``  a timed pause (or auto-promotion delay) as long as the progress
    deadline: the rollout is declared failed while it waits as told.
``bluegreen-preview-is-active``  a preview Service that is the active Service, or whose selector
    also matches another workload's pods: the "preview" serves production traffic, or the other
    way round.
``service-selects-nothing``  a Service whose selector matches no pod template of any workload
    of its namespace in the files (Deployments, StatefulSets, Rollouts, Jobs, Pods, ...).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from reconciler.errors import Severity
from reconciler.labels import from_map
from reconciler.manifests.lint import pod_specs
from reconciler.manifests.schema import Finding, Path
from reconciler.units import parse_duration

__all__ = ["cross_findings", "strategy_findings"]

DEFAULT_PROGRESS_DEADLINE = 600


def _strategy(obj: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """("canary" | "blueGreen", its block) of a Canary/BlueGreen Deployment or a Rollout."""
    spec = obj.get("spec")
    strategy = spec.get("strategy") if isinstance(spec, dict) else None
    if not isinstance(strategy, dict):
        return None
    if obj.get("kind") == "Deployment":
        key = {"Canary": "canary", "BlueGreen": "blueGreen"}.get(str(strategy.get("type")))
    elif obj.get("kind") == "Rollout":
        key = next((k for k in ("canary", "blueGreen") if k in strategy), None)
    else:
        return None
    block = strategy.get(key) if key else None
    return (key, block) if key and isinstance(block, dict) else None


def _seconds(value: object) -> float | None:
    try:
        return parse_duration(value)
    except (ValueError, TypeError):
        return None


def strategy_findings(obj: dict[str, Any]) -> list[Finding]:
    found = _strategy(obj)
    if found is None:
        return []
    key, block = found
    spec = obj["spec"]
    replicas = spec.get("replicas", 1)
    path: Path = ("spec", "strategy", key)
    out: list[Finding] = []
    pauses: list[tuple[float, Path]] = []
    steps = block.get("steps") if key == "canary" else None
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(step, dict):
            continue
        weight = step.get("setWeight")
        if (
            isinstance(weight, int)
            and isinstance(replicas, int)
            and replicas > 0
            and "trafficRouting" not in block
            and 0 < weight < 100
            and weight * replicas % 100
        ):
            pods = math.ceil(weight * replicas / 100)
            out.append(
                Finding(
                    (*path, "steps", index, "setWeight"),
                    f"{weight}% of {replicas} replicas is {weight * replicas / 100:g} pods: "
                    f"without trafficRouting it runs as {pods} of {replicas} "
                    f"({100 * pods / replicas:g}%)",
                    "canary-weight-unrealisable",
                    Severity.WARNING,
                )
            )
        pause = step.get("pause")
        seconds = _seconds(pause.get("duration")) if isinstance(pause, dict) else None
        if seconds is not None and pause is not None and pause.get("duration") is not None:
            pauses.append((seconds, (*path, "steps", index, "pause", "duration")))
    if key == "blueGreen" and block.get("autoPromotionSeconds") is not None:
        seconds = _seconds(block["autoPromotionSeconds"])
        if seconds is not None:
            pauses.append((seconds, (*path, "autoPromotionSeconds")))
    deadline = spec.get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
    if pauses and isinstance(deadline, int | float) and not isinstance(deadline, bool):
        longest, where = max(pauses, key=lambda p: p[0])
        if longest >= deadline:
            written = "progressDeadlineSeconds" in spec
            out.append(
                Finding(
                    ("spec", "progressDeadlineSeconds") if written else where,
                    f"progressDeadlineSeconds {deadline:g}{'' if written else ' (default)'} is "
                    f"not longer than the pause of {longest:g}s: the rollout fails while it "
                    "waits as told",
                    "progress-deadline-pause",
                    Severity.WARNING,
                    at=None if written else where,
                )
            )
    return out


def _namespace(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return namespace if isinstance(namespace, str) and namespace else "default"


def _name(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""


def _selects(selector: object, labels: dict[str, Any]) -> bool:
    """A Service selector (a plain map) selects pods with ``labels``."""
    if not isinstance(selector, dict) or not selector:
        return False
    return from_map(selector, empty_matches=False).matches({k: str(v) for k, v in labels.items()})


def cross_findings(objects: Sequence[dict[str, Any]]) -> list[tuple[int, Finding]]:
    workloads: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    services: dict[tuple[str, str], int] = {}
    for index, obj in enumerate(objects):
        found = pod_specs(obj)
        if found is not None:
            workloads[_namespace(obj)].append((index, found[2]))
        if obj.get("kind") == "Service":
            services[(_namespace(obj), _name(obj))] = index
    out: list[tuple[int, Finding]] = []
    out.extend(_selects_nothing(objects, services, workloads))
    for index, obj in enumerate(objects):
        out.extend((index, f) for f in _preview(obj, index, objects, services, workloads))
    return out


def _selects_nothing(
    objects: Sequence[dict[str, Any]],
    services: dict[tuple[str, str], int],
    workloads: dict[str, list[tuple[int, dict[str, Any]]]],
) -> Iterator[tuple[int, Finding]]:
    for (namespace, _), index in services.items():
        spec = objects[index].get("spec")
        selector = spec.get("selector") if isinstance(spec, dict) else None
        candidates = workloads.get(namespace)
        if not isinstance(selector, dict) or not selector or not candidates:
            continue
        if not any(_selects(selector, labels) for _, labels in candidates):
            yield (
                index,
                Finding(
                    ("spec", "selector"),
                    f"{json.dumps(selector, sort_keys=True)} matches the pod template of no "
                    f"workload of namespace {json.dumps(namespace)} in the files",
                    "service-selects-nothing",
                    Severity.WARNING,
                ),
            )


def _preview(
    obj: dict[str, Any],
    index: int,
    objects: Sequence[dict[str, Any]],
    services: dict[tuple[str, str], int],
    workloads: dict[str, list[tuple[int, dict[str, Any]]]],
) -> Iterator[Finding]:
    found = _strategy(obj)
    if found is None or found[0] != "blueGreen":
        return
    block = found[1]
    preview, active = block.get("previewService"), block.get("activeService")
    if not isinstance(preview, str) or not preview:
        return
    path: Path = ("spec", "strategy", "blueGreen", "previewService")
    if preview == active:
        yield Finding(
            path,
            f'previewService "{preview}" is also the activeService: the preview would take '
            "production traffic",
            "bluegreen-preview-is-active",
            Severity.WARNING,
        )
        return
    namespace = _namespace(obj)
    service_index = services.get((namespace, preview))
    if service_index is None:
        return
    spec = objects[service_index].get("spec")
    selector = spec.get("selector") if isinstance(spec, dict) else None
    for other, labels in workloads.get(namespace, []):
        if other != index and _selects(selector, labels):
            what = f"{objects[other].get('kind')} {json.dumps(_name(objects[other]))}"
            yield Finding(
                path,
                f'the preview Service "{preview}" also selects the pods of {what}: the preview '
                "would serve that workload's (active) pods too",
                "bluegreen-preview-is-active",
                Severity.WARNING,
            )
            return
