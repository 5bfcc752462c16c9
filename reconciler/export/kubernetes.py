"""The Kubernetes side of an export: pod templates, environment and seconds a cluster accepts.

Locally every pod gets a free host port and ``$(PORT)`` names it; on a cluster each pod has its
own IP, so the container port itself is the port. Rather than rewrite strings, the export *adds*
``PORT`` / ``PORT_<NAME>`` env entries first (so later ``$(VAR)`` references expand), and the
downward API or image parts for ``POD_NAME``, ``IMAGE_TAG`` and friends when referred to. Every
``*Seconds`` field becomes the API's whole number, rounded up with a warning when it had to.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.export.warnings import Path, Warnings
from reconciler.runtime.config import env_key, image_parts
from reconciler.units import parse_duration

__all__ = [
    "DEPLOYMENT_SPEC",
    "PodPorts",
    "is_int",
    "pod_template",
    "port_variable",
    "seconds",
    "variable_references",
    "whole_seconds",
]

# apps/v1 DeploymentSpec fields.
DEPLOYMENT_SPEC = (
    "replicas",
    "selector",
    "template",
    "strategy",
    "minReadySeconds",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "paused",
)

# Maps of user strings, never seconds, whatever their keys say.
_FREE_FORM = frozenset({"labels", "annotations", "matchLabels", "nodeSelector"})

# Variables the local runtime gives every container, and how a cluster provides the same value.
_DOWNWARD_API = {
    "POD_NAME": "metadata.name",
    "POD_NAMESPACE": "metadata.namespace",
    "POD_IP": "status.podIP",
}


def is_int(value: object) -> bool:
    """An integer that is not a bool (YAML's ``true`` is not a port)."""
    return isinstance(value, int) and not isinstance(value, bool)


def whole_seconds(value: object) -> tuple[int, bool]:
    """Seconds as Kubernetes writes them: an integer, rounded up; and whether that rounded.

    >>> whole_seconds(2.5), whole_seconds("30s"), whole_seconds("500ms"), whole_seconds(3.0)
    ((3, True), (30, False), (1, True), (3, False))
    """
    parsed = parse_duration(value)
    whole = math.ceil(parsed)
    return whole, whole != parsed


def variable_references(text: str) -> list[str]:
    """Names referred to as ``$(NAME)``; ``$$`` escapes a dollar, as in Kubernetes.

    >>> variable_references("--port=$(PORT) --debug=$$(PORT) $(PORT_ADMIN)")
    ['PORT', 'PORT_ADMIN']
    """
    names: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("$$", index):
            index += 2
            continue
        if text.startswith("$(", index):
            end = text.find(")", index + 2)
            if end > 0:
                names.append(text[index + 2 : end])
                index = end + 1
                continue
        index += 1
    return names


def port_variable(name: str) -> str:
    """``PORT_<NAME>`` for a named container port: ``metrics-http`` -> ``PORT_METRICS_HTTP``."""
    return env_key(name)


@dataclass(frozen=True, slots=True)
class PodPorts:
    """The pod's first container port and its named ports (what PORT/PORT_<NAME> mean)."""

    first: int | None
    named: Mapping[str, int]


def pod_template(warnings: Warnings, template: dict[str, Any], path: Path) -> None:
    """Translate a pod template in place: runtime class, working dirs, port variables."""
    pod = template.get("spec")
    if not isinstance(pod, dict):
        return
    runtime_class = pod.get("runtimeClassName")
    if runtime_class in ("process", "podman"):
        # ours, not a cluster's RuntimeClass: a pod naming one that does not exist is
        # refused there, so it goes, and the cluster's default runtime runs the image
        del pod["runtimeClassName"]
        warnings.warn(
            (*path, "spec", "runtimeClassName"),
            f"dropped: {runtime_class!r} names a reconciler runtime, not a RuntimeClass of "
            "the cluster (the cluster's default runtime runs the image)",
        )
    # Only ``containers``: the local runtime does not run initContainers, so there is no
    # local meaning to carry over for them.
    containers = pod.get("containers")
    if not isinstance(containers, list):
        return
    # As the local runtime: PORT is the container's first port, else the pod's first;
    # PORT_<NAME> covers every named port of the pod. Containers of a pod share its
    # network, so the container port numbers are right for all of them.
    ports = [
        port
        for container in containers
        if isinstance(container, dict)
        for port in container.get("ports") or []
        if isinstance(port, dict) and is_int(port.get("containerPort"))
    ]
    pod_ports = PodPorts(
        first=ports[0]["containerPort"] if ports else None,
        named={str(p["name"]): p["containerPort"] for p in ports if p.get("name")},
    )
    for index, container in enumerate(containers):
        if isinstance(container, dict):
            _container(warnings, container, (*path, "spec", "containers", index), pod_ports)


def _container(
    warnings: Warnings, container: dict[str, Any], path: Path, pod_ports: PodPorts
) -> None:
    working_dir = container.get("workingDir")
    if isinstance(working_dir, str) and not posixpath.isabs(working_dir):
        warnings.warn(
            (*path, "workingDir"),
            f"relative working directory {working_dir!r}: here it is relative to the "
            "manifest folder, in a cluster it is a path inside the container image; use "
            "an absolute path in the image",
        )
    _environment(warnings, container, path, pod_ports)


def _environment(
    warnings: Warnings, container: dict[str, Any], path: Path, pod_ports: PodPorts
) -> None:
    env: list[Any] = list(container.get("env") or [])
    defined = {item.get("name") for item in env if isinstance(item, dict)}
    referenced: set[str] = set()
    for key in ("command", "args"):
        for word in container.get(key) or []:
            if isinstance(word, str):
                referenced.update(variable_references(word))
    for item in env:
        if isinstance(item, dict) and isinstance(item.get("value"), str):
            referenced.update(variable_references(item["value"]))

    added: list[dict[str, Any]] = []

    def add(entry: dict[str, Any]) -> None:
        if entry["name"] not in defined:
            defined.add(entry["name"])
            added.append(entry)

    own = [
        p["containerPort"]
        for p in container.get("ports") or []
        if isinstance(p, dict) and is_int(p.get("containerPort"))
    ]
    first = own[0] if own else pod_ports.first
    if first is not None:
        add({"name": "PORT", "value": str(first)})
    for port_name, number in pod_ports.named.items():
        add({"name": port_variable(port_name), "value": str(number)})
    for name in sorted(referenced - defined):
        if name in _DOWNWARD_API:
            add({"name": name, "valueFrom": {"fieldRef": {"fieldPath": _DOWNWARD_API[name]}}})
        elif name in ("IMAGE", "IMAGE_NAME", "IMAGE_TAG") and container.get("image"):
            add({"name": name, "value": _image_part(str(container["image"]), name)})
        elif name == "PORT" or name.startswith("PORT_"):
            warnings.warn(
                path,
                f"$({name}) refers to no declared containerPort; in a cluster it stays "
                "the literal text",
            )
    if added:
        container["env"] = added + env


def seconds(warnings: Warnings, node: object, path: Path) -> None:
    """Every ``*Seconds`` field as a whole number of seconds (the API's int32/int64)."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            seconds(warnings, item, (*path, index))
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = (*path, key)
        if key in _FREE_FORM:
            continue
        if isinstance(key, str) and key.endswith("Seconds") and not is_int(value):
            try:
                whole, rounded = whole_seconds(value)
            except ValueError:
                continue
            node[key] = whole
            if rounded:
                warnings.warn(
                    here,
                    f"{value!r} rounded up to {whole}: Kubernetes counts whole seconds",
                )
        else:
            seconds(warnings, value, here)


def _image_part(image: str, name: str) -> str:
    """``IMAGE``, ``IMAGE_NAME`` or ``IMAGE_TAG`` exactly as the local runtime computes them."""
    if name == "IMAGE":
        return image
    repository, tag = image_parts(image)
    return repository if name == "IMAGE_NAME" else tag
