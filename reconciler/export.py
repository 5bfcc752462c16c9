"""Translate a folder of local manifests into objects a Kubernetes cluster accepts.

When a folder outgrows one host it should move to a cluster without a rewrite. Plain
``RollingUpdate`` / ``Recreate`` Deployments and Services go as they are; BlueGreen and Canary
Deployments become Argo Rollouts (``argoproj.io/v1alpha1`` ``Rollout``), whose field names the
local extensions already use. What only the local runtime understands is translated, and every
translation that changes or loses meaning is a warning ``Problem`` naming the file, line and
field, so nothing is dropped silently:

* ``$(PORT)`` / ``$(PORT_<NAME>)``: locally every pod gets a free host port. On a cluster each
  pod has its own IP, so the container port itself is the port. The exporter *adds* ``PORT`` and
  ``PORT_<NAME>`` env entries (first, so that later ``$(VAR)`` references expand) with the
  container port values instead of rewriting strings: ``$(PORT)`` in command/args/env keeps
  expanding, and programs that read ``$PORT`` keep working. ``POD_NAME``, ``POD_NAMESPACE``,
  ``POD_IP`` (downward API) and ``IMAGE``, ``IMAGE_NAME``, ``IMAGE_TAG`` are added the same way
  when a ``$(VAR)`` refers to them. No warning: no meaning is lost.
* Fractional or ``"500ms"``-style seconds (probes, grace periods, delays) round *up* to whole
  seconds, with a warning; ``"30s"``/``"5m"`` strings become integers silently.
* A relative ``workingDir`` is relative to the manifest folder here, to the image there: warning.
* ``autoRollback`` is dropped from Deployments (warning: Kubernetes has no such field) and becomes
  ``progressDeadlineAbort: true`` on Rollouts (warning: Argo aborts on the deadline only).
* Canary ``analysis`` has no inline equivalent in Argo Rollouts (it needs an AnalysisTemplate):
  dropped with a warning that says what the template needs.

>>> from types import SimpleNamespace
>>> item = SimpleNamespace(source="web.yaml", line=1, obj={
...     "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
...     "spec": {"autoRollback": True, "selector": {"matchLabels": {"app": "web"}},
...              "template": {"metadata": {"labels": {"app": "web"}},
...                           "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}})
>>> result = export_objects([item])
>>> "autoRollback" in result.objects[0].obj["spec"], result.problems[0].field
(False, 'spec.autoRollback')
"""

from __future__ import annotations

import copy
import math
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from reconciler.errors import Problem, Severity
from reconciler.runtime.config import env_key, image_parts
from reconciler.units import parse_duration

__all__ = [
    "ROLLOUT_API_VERSION",
    "RULE",
    "Exported",
    "ExportedObject",
    "SourceObject",
    "dump_yaml",
    "export_objects",
    "file_name",
    "port_variable",
    "portability_problems",
    "render_path",
    "variable_references",
    "whole_seconds",
]

RULE = "kubernetes"
ROLLOUT_API_VERSION = "argoproj.io/v1alpha1"

Path = tuple[str | int, ...]

# apps/v1 DeploymentSpec fields, and what a Rollout adds (Argo CRD, spec.*).
_DEPLOYMENT_SPEC = (
    "replicas",
    "selector",
    "template",
    "strategy",
    "minReadySeconds",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "paused",
)
_ROLLOUT_SPEC = (*_DEPLOYMENT_SPEC, "progressDeadlineAbort", "restartAt", "analysis", "workloadRef")

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
# Maps of user strings, never seconds, whatever their keys say.
_FREE_FORM = frozenset({"labels", "annotations", "matchLabels", "nodeSelector"})

# Variables the local runtime gives every container, and how a cluster provides the same value.
_DOWNWARD_API = {
    "POD_NAME": "metadata.name",
    "POD_NAMESPACE": "metadata.namespace",
    "POD_IP": "status.podIP",
}


class SourceObject(Protocol):
    """One manifest object and where it was written (``manifests.validate.ValidObject`` fits).

    When the object also has ``position(path) -> (line, column)`` (or a ``document`` that has
    it), warnings point at the exact field; otherwise at the object's first line.
    """

    @property
    def obj(self) -> Mapping[str, Any]: ...

    @property
    def source(self) -> str: ...

    @property
    def line(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ExportedObject:
    """One object for the cluster, and the manifest it came from."""

    obj: dict[str, Any]
    source: str
    line: int

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))


@dataclass(frozen=True, slots=True)
class Exported:
    """The translated objects, in input order, and every warning of the translation."""

    objects: tuple[ExportedObject, ...]
    problems: tuple[Problem, ...]


def export_objects(objects: Iterable[SourceObject]) -> Exported:
    """Translate validated manifest objects into Kubernetes and Argo Rollouts objects."""
    out: list[ExportedObject] = []
    problems: list[Problem] = []
    for item in objects:
        translation = _Translation(item)
        out.append(ExportedObject(translation.run(), item.source, item.line))
        problems.extend(sorted(translation.problems, key=lambda p: (p.line, p.column)))
    return Exported(tuple(out), tuple(problems))


def portability_problems(objects: Iterable[SourceObject]) -> list[Problem]:
    """What would not carry over to a cluster (``validate --target kubernetes``)."""
    return list(export_objects(objects).problems)


def file_name(obj: Mapping[str, Any]) -> str:
    """``deployment-web.yaml``; ``shop-rollout-cart.yaml`` when a namespace is written."""
    kind = str(obj.get("kind", "object")).lower()
    metadata = obj.get("metadata") or {}
    name = f"{kind}-{metadata.get('name', 'unnamed')}.yaml"
    namespace = metadata.get("namespace")
    return f"{namespace}-{name}" if namespace else name


def dump_yaml(objects: Sequence[ExportedObject]) -> str:
    """Multi-document YAML, each document headed by the manifest it came from."""
    docs = [
        f"# Source: {item.source}\n" + yaml.safe_dump(item.obj, sort_keys=False, width=100)
        for item in objects
    ]
    return "---\n" + "---\n".join(docs) if docs else ""


def render_path(path: Path) -> str:
    """``("spec", "containers", 0, "env")`` -> ``spec.containers[0].env``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def whole_seconds(value: object) -> tuple[int, bool]:
    """Seconds as Kubernetes writes them: an integer, rounded up; and whether that rounded.

    >>> whole_seconds(2.5), whole_seconds("30s"), whole_seconds("500ms"), whole_seconds(3.0)
    ((3, True), (30, False), (1, True), (3, False))
    """
    seconds = parse_duration(value)
    whole = math.ceil(seconds)
    return whole, whole != seconds


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


@dataclass(slots=True)
class _Translation:
    """One object's translation; collects warnings as it goes."""

    item: SourceObject
    problems: list[Problem] = field(default_factory=list)

    def warn(self, path: Path, message: str) -> None:
        line, column = self._position(path)
        self.problems.append(
            Problem(
                file=self.item.source,
                line=line,
                column=column,
                severity=Severity.WARNING,
                message=message,
                rule=RULE,
                field=render_path(path),
            )
        )

    def _position(self, path: Path) -> tuple[int, int]:
        # The most precise place known: the field itself, else the nearest parent, else the
        # object's first line.
        locate = getattr(self.item, "position", None)
        if locate is None:
            locate = getattr(getattr(self.item, "document", None), "position", None)
        if callable(locate):
            for end in range(len(path), -1, -1):
                try:
                    found = locate(path[:end])
                except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                    continue
                if found:
                    return int(found[0]), int(found[1])
        return self.item.line, 1

    def run(self) -> dict[str, Any]:
        obj: dict[str, Any] = copy.deepcopy(dict(self.item.obj))
        if obj.get("kind") == "Deployment":
            obj = self._workload(obj)
        if obj.get("kind") not in ("ConfigMap", "Secret"):  # their data is the user's, as is
            self._seconds(obj, ())
        return obj

    # -- workloads ----------------------------------------------------------------------------

    def _workload(self, obj: dict[str, Any]) -> dict[str, Any]:
        spec: dict[str, Any] = obj.get("spec") or {}
        strategy = spec.get("strategy") or {}
        kind = strategy.get("type", "RollingUpdate")
        rollout = kind in ("BlueGreen", "Canary")
        auto_rollback = spec.pop("autoRollback", None)
        if rollout:
            obj["apiVersion"] = ROLLOUT_API_VERSION
            obj["kind"] = "Rollout"
            replicas = spec.get("replicas", 1)
            spec["strategy"] = self._rollout_strategy(
                strategy, kind, replicas=replicas if _is_int(replicas) else 1
            )
            if auto_rollback:
                spec["progressDeadlineAbort"] = True
                deadline = spec.get("progressDeadlineSeconds", 600)
                self.warn(
                    ("spec", "autoRollback"),
                    "mapped to Argo Rollouts progressDeadlineAbort: true; the Rollout aborts "
                    f"(traffic back to the stable ReplicaSet) only after progressDeadlineSeconds "
                    f"({deadline}) passes without progress, not as soon as a pod reports "
                    "ImagePullBackOff or CrashLoopBackOff, and then stays Degraded until the "
                    "manifest changes or `kubectl argo rollouts retry`",
                )
        elif auto_rollback:
            self.warn(
                ("spec", "autoRollback"),
                "dropped: a Kubernetes Deployment has no automatic rollback; a failed rollout "
                "only reports ProgressDeadlineExceeded and keeps the new ReplicaSet. Roll back "
                "with `kubectl rollout undo`, or use strategy BlueGreen or Canary (exported as an "
                "Argo Rollout with progressDeadlineAbort)",
            )
        allowed = _ROLLOUT_SPEC if rollout else _DEPLOYMENT_SPEC
        for key in [key for key in spec if key not in allowed]:
            del spec[key]
            self.warn(("spec", key), f"dropped: not a field of a {obj['kind']} spec")
        template = spec.get("template")
        if isinstance(template, dict):
            self._pod_template(template, ("spec", "template"))
        return obj

    def _rollout_strategy(
        self, strategy: dict[str, Any], kind: str, *, replicas: int
    ) -> dict[str, Any]:
        key = "blueGreen" if kind == "BlueGreen" else "canary"
        body: dict[str, Any] = dict(strategy.get(key) or {})
        path: Path = ("spec", "strategy", key)
        for other in [name for name in strategy if name not in ("type", key)]:
            self.warn(
                ("spec", "strategy", other),
                f"dropped: a {kind} Rollout uses only strategy.{key}",
            )
        if kind == "BlueGreen":
            if body.get("activeService") is None:
                body.pop("activeService", None)
            self._only(body, _BLUE_GREEN, path, "strategy.blueGreen")
            return {"blueGreen": body}
        analysis = body.pop("analysis", None)
        if analysis is not None:
            self._drop_analysis(
                (*path, "analysis"), analysis, canary_service=body.get("canaryService")
            )
        self._only(body, _CANARY, path, "strategy.canary")
        steps = body.get("steps")
        if isinstance(steps, list):
            body["steps"] = self._steps(
                steps, (*path, "steps"), canary_service=body.get("canaryService")
            )
            if "trafficRouting" not in body:
                self._weights(body["steps"], (*path, "steps"), replicas=replicas)
        if "trafficRouting" not in body:
            # Argo's ValidateRollout: InvalidCanaryScaleDownDelay / InvalidCanaryDynamicStableScale.
            for key in ("scaleDownDelaySeconds", "dynamicStableScale"):
                if key in body:
                    del body[key]
                    self.warn(
                        (*path, key),
                        f"dropped: Argo Rollouts rejects canary {key} without trafficRouting "
                        "(InvalidSpec); it is not used by the local reconciler either",
                    )
        return {"canary": body}

    def _weights(self, steps: list[Any], path: Path, *, replicas: int) -> None:
        """Warn at each setWeight that whole pods cannot show without traffic routing.

        Without trafficRouting Argo Rollouts sets the weight by pod counts: with 4 replicas,
        ``setWeight: 25`` is 1 canary pod of 4 (exact), ``setWeight: 10`` is still 1 of 4.
        """
        for index, step in enumerate(steps):
            weight = step.get("setWeight") if isinstance(step, dict) else None
            if not isinstance(weight, int) or weight in (0, 100) or weight * replicas % 100 == 0:
                continue
            self.warn(
                (*path, index, "setWeight"),
                f"{weight}% of {replicas} replicas is {weight * replicas / 100:g} pods: without "
                "trafficRouting Argo Rollouts approximates the weight by the ratio of canary "
                "to stable pods, where the local proxy splits connections exactly; add "
                "replicas, or a trafficRouting provider",
            )

    def _only(self, body: dict[str, Any], allowed: frozenset[str], path: Path, what: str) -> None:
        for key in [key for key in body if key not in allowed]:
            del body[key]
            self.warn((*path, key), f"dropped: not an Argo Rollouts {what} field")

    def _steps(self, steps: list[Any], path: Path, *, canary_service: object) -> list[Any]:
        out: list[Any] = []
        for index, step in enumerate(steps):
            if not isinstance(step, dict):
                out.append(step)
                continue
            step = dict(step)
            if "analysis" in step:
                self._drop_analysis(
                    (*path, index, "analysis"), step.pop("analysis"), canary_service=canary_service
                )
            self._only(step, _CANARY_STEP, (*path, index), "canary step")
            pause = step.get("pause")
            if isinstance(pause, dict) and pause.get("duration") is not None:
                step["pause"] = {
                    **pause,
                    "duration": self._pause_duration(
                        pause["duration"], (*path, index, "pause", "duration")
                    ),
                }
            if step:
                out.append(step)
        return out

    def _pause_duration(self, value: object, path: Path) -> int | str:
        # Argo reads an integer as seconds and a string with Go's time.ParseDuration, truncating
        # to whole seconds; keep "30s"/"5m"/"1h" as written, make everything else whole seconds.
        try:
            seconds, rounded = whole_seconds(value)
        except ValueError:
            return value if isinstance(value, int | str) else str(value)
        if rounded:
            self.warn(
                path,
                f"{value!r} rounded up to {seconds}: Argo Rollouts pauses in whole seconds",
            )
            return seconds
        if isinstance(value, str) and re.fullmatch(r"[0-9]+(s|m|h)", value.strip()):
            return value.strip()
        return seconds

    def _drop_analysis(self, path: Path, analysis: object, *, canary_service: object) -> None:
        check = ""
        if isinstance(analysis, dict):
            found = analysis.get("httpGet")
            http: dict[str, Any] = found if isinstance(found, dict) else {}
            service = canary_service or "<canary Service>"
            check = (
                f" (a `web` metric whose url is http://{service}:{http.get('port', '<port>')}"
                f"{http.get('path', '/')}, interval {analysis.get('interval', '<interval>')}, "
                f"failureLimit {analysis.get('failureLimit', 0)}, successCondition on HTTP "
                f"{analysis.get('expectedStatus', 200)})"
            )
        self.warn(
            path,
            "dropped: Argo Rollouts has no inline canary analysis; write an "
            f"argoproj.io/v1alpha1 AnalysisTemplate that repeats this check{check} and "
            "reference it from strategy.canary.analysis.templates[].templateName",
        )

    # -- pod template -------------------------------------------------------------------------

    def _pod_template(self, template: dict[str, Any], path: Path) -> None:
        pod = template.get("spec")
        if not isinstance(pod, dict):
            return
        runtime_class = pod.get("runtimeClassName")
        if runtime_class in ("process", "podman"):
            # ours, not a cluster's RuntimeClass: a pod naming one that does not exist is
            # refused there, so it goes, and the cluster's default runtime runs the image
            del pod["runtimeClassName"]
            self.warn(
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
            if isinstance(port, dict) and _is_int(port.get("containerPort"))
        ]
        pod_ports = PodPorts(
            first=ports[0]["containerPort"] if ports else None,
            named={str(p["name"]): p["containerPort"] for p in ports if p.get("name")},
        )
        for index, container in enumerate(containers):
            if isinstance(container, dict):
                self._container(container, (*path, "spec", "containers", index), pod_ports)

    def _container(self, container: dict[str, Any], path: Path, pod_ports: PodPorts) -> None:
        working_dir = container.get("workingDir")
        if isinstance(working_dir, str) and not posixpath.isabs(working_dir):
            self.warn(
                (*path, "workingDir"),
                f"relative working directory {working_dir!r}: here it is relative to the "
                "manifest folder, in a cluster it is a path inside the container image; use "
                "an absolute path in the image",
            )
        self._environment(container, path, pod_ports)

    def _environment(self, container: dict[str, Any], path: Path, pod_ports: PodPorts) -> None:
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
            if isinstance(p, dict) and _is_int(p.get("containerPort"))
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
                self.warn(
                    path,
                    f"$({name}) refers to no declared containerPort; in a cluster it stays "
                    "the literal text",
                )
        if added:
            container["env"] = added + env

    # -- seconds ------------------------------------------------------------------------------

    def _seconds(self, node: object, path: Path) -> None:
        """Every ``*Seconds`` field as a whole number of seconds (the API's int32/int64)."""
        if isinstance(node, list):
            for index, item in enumerate(node):
                self._seconds(item, (*path, index))
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            here = (*path, key)
            if key in _FREE_FORM:
                continue
            if isinstance(key, str) and key.endswith("Seconds") and not _is_int(value):
                try:
                    seconds, rounded = whole_seconds(value)
                except ValueError:
                    continue
                node[key] = seconds
                if rounded:
                    self.warn(
                        here,
                        f"{value!r} rounded up to {seconds}: Kubernetes counts whole seconds",
                    )
            else:
                self._seconds(value, here)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _image_part(image: str, name: str) -> str:
    """``IMAGE``, ``IMAGE_NAME`` or ``IMAGE_TAG`` exactly as the local runtime computes them."""
    if name == "IMAGE":
        return image
    repository, tag = image_parts(image)
    return repository if name == "IMAGE_NAME" else tag
