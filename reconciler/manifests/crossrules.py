"""Rules across objects: what only the whole folder can tell.

One object alone cannot say that its name is taken, that the Service its BlueGreen strategy
switches does not exist, or that two Services want the same port on this host. Each rule here
reports a finding at *every* object involved, naming the other's location, so that each of
them is invalid and each file points at the conflict.

``duplicate-object``  (kind, namespace, name) defined twice
``strategy-service``  BlueGreen/Canary Services missing, or not selecting the pods
``target-port``       a Service targetPort name that the selected pods do not declare
``port-conflict``     two Services listening on one port
``selects-nothing``   (warning) a Service whose selector matches no Deployment of its namespace
                      in the set, when the set has some: most likely a typo in a label
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import Severity
from reconciler.manifests.configrefs import config_references
from reconciler.manifests.load import Document
from reconciler.manifests.rules import label_selector_matches
from reconciler.manifests.schema import Finding, Path
from reconciler.manifests.trafficrules import check_metric_services
from reconciler.objects import Kind, ObjectRef

__all__ = ["Entry", "check_all"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One readable object: ``checked`` when it passed the schema (its shape can be trusted)."""

    ref: ObjectRef
    doc: Document
    checked: bool

    @property
    def obj(self) -> dict[str, Any]:
        return self.doc.obj

    def where(self, path: Path) -> str:
        line, column = self.doc.position(path)
        return f"{self.doc.source}:{line}:{column}"


Hit = tuple[int, Finding]  # (entry index, finding)


def check_all(entries: Sequence[Entry]) -> list[Hit]:
    """Findings of every cross-object rule, each attached to the entry it is about."""
    hits: list[Hit] = []
    hits.extend(_duplicates(entries))
    hits.extend(_strategy_services(entries))
    hits.extend(_target_ports(entries))
    hits.extend(_port_conflicts(entries))
    hits.extend(_selects_nothing(entries))
    hits.extend(config_references(entries))  # config-ref, secret-ref, env-from-keys
    hits.extend(check_metric_services(entries))  # analysis metrics need an http port (#20)
    return hits


def _duplicates(entries: Sequence[Entry]) -> Iterable[Hit]:
    by_ref: dict[ObjectRef, list[int]] = defaultdict(list)
    for index, entry in enumerate(entries):
        by_ref[entry.ref].append(index)
    name: Path = ("metadata", "name")
    for ref, indices in by_ref.items():
        if len(indices) < 2:
            continue
        for index in indices:
            others = ", ".join(entries[i].where(name) for i in indices if i != index)
            yield (
                index,
                Finding(
                    name,
                    f"Duplicate value: {ref.display} (namespace {json.dumps(ref.namespace)}) is "
                    f"also defined at {others}",
                    "duplicate-object",
                ),
            )


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _template_labels(obj: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = (obj["spec"]["template"].get("metadata") or {}).get("labels") or {}
    return labels


def _selects(service: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = service["spec"].get("selector") or {}
    return bool(selector) and label_selector_matches({"matchLabels": selector}, labels)


def _strategy_services(entries: Sequence[Entry]) -> Iterable[Hit]:
    services = {e.ref: i for i, e in enumerate(entries) if e.ref.kind == Kind.SERVICE}
    for index, entry in enumerate(entries):
        if entry.ref.kind != Kind.DEPLOYMENT or not entry.checked:
            continue
        strategy = entry.obj["spec"].get("strategy") or {}
        block = {"BlueGreen": "blueGreen", "Canary": "canary"}.get(strategy.get("type", ""))
        if block is None or block not in strategy:
            continue
        fields = (
            ("activeService", "previewService")
            if block == "blueGreen"
            else ("stableService", "canaryService")
        )
        labels = _template_labels(entry.obj)
        for field in fields:
            name = strategy[block].get(field)
            if not name:
                continue
            path: Path = ("spec", "strategy", block, field)
            ref = ObjectRef(Kind.SERVICE, entry.ref.namespace, name)
            service_index = services.get(ref)
            if service_index is None:
                yield (
                    index,
                    Finding(
                        path,
                        f"Not found: Service {json.dumps(name)} (namespace "
                        f"{json.dumps(ref.namespace)}) is not among the validated manifests",
                        "strategy-service",
                    ),
                )
                continue
            service = entries[service_index]
            if not service.checked or _selects(service.obj, labels):
                continue
            selector = service.obj["spec"].get("selector") or {}
            yield (
                index,
                Finding(
                    path,
                    f"Invalid value: {json.dumps(name)}: the Service's selector "
                    f"{_json(selector)} ({service.where(('spec', 'selector'))}) "
                    f"does not select this deployment's pods (labels {_json(labels)})",
                    "strategy-service",
                ),
            )
            yield (
                service_index,
                Finding(
                    ("spec", "selector"),
                    f"Invalid value: {_json(selector)}: does not select the pods of"
                    f" {entry.ref.display}, whose {field} this Service is ({entry.where(path)})",
                    "strategy-service",
                    at=("spec", "selector") if "selector" in service.obj["spec"] else ("spec",),
                ),
            )


def _target_ports(entries: Sequence[Entry]) -> Iterable[Hit]:
    deployments = [
        (i, e) for i, e in enumerate(entries) if e.ref.kind == Kind.DEPLOYMENT and e.checked
    ]
    for index, entry in enumerate(entries):
        if entry.ref.kind != Kind.SERVICE or not entry.checked:
            continue
        selector = entry.obj["spec"].get("selector")
        if not selector:
            continue
        for dep_index, deployment in deployments:
            if deployment.ref.namespace != entry.ref.namespace:
                continue
            if not _selects(entry.obj, _template_labels(deployment.obj)):
                continue
            containers = deployment.obj["spec"]["template"]["spec"]["containers"]
            ports = [p for c in containers for p in c.get("ports") or []]
            names = {p.get("name") for p in ports if p.get("name")}
            numbers = {p["containerPort"] for p in ports}
            for port_index, port in enumerate(entry.obj["spec"]["ports"]):
                target = port.get("targetPort", port["port"])
                path: Path = ("spec", "ports", port_index, "targetPort")
                at = None if "targetPort" in port else ("spec", "ports", port_index)
                declared = ", ".join(sorted(names)) or "none"
                if isinstance(target, str) and target not in names:
                    pods: Path = ("spec", "template", "spec", "containers")
                    yield (
                        index,
                        Finding(
                            path,
                            f"Invalid value: {json.dumps(target)}: no container port of "
                            f"{deployment.ref.display} ({deployment.where(pods)}) has this name "
                            f"(declared: {declared})",
                            "target-port",
                            at=at,
                        ),
                    )
                    yield (
                        dep_index,
                        Finding(
                            pods,
                            f"Service {json.dumps(entry.ref.name)} ({entry.where(path)}) selects "
                            f"these pods with targetPort {json.dumps(target)}, but no container "
                            f"port has that name (declared: {declared})",
                            "target-port",
                        ),
                    )
                elif isinstance(target, int) and target not in numbers:
                    yield (
                        index,
                        Finding(
                            path,
                            f"targetPort {target} is not a declared containerPort of "
                            f"{deployment.ref.display}; the local runtime forwards to declared "
                            "ports only",
                            "target-port",
                            Severity.WARNING,
                            at=at,
                        ),
                    )


def _port_conflicts(entries: Sequence[Entry]) -> Iterable[Hit]:
    by_port: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for index, entry in enumerate(entries):
        if entry.ref.kind != Kind.SERVICE or not entry.checked:
            continue
        seen: set[int] = set()
        for port_index, port in enumerate(entry.obj["spec"]["ports"]):
            if port.get("protocol", "TCP") == "TCP" and port["port"] not in seen:
                seen.add(port["port"])
                by_port[port["port"]].append((index, port_index))
    for number, users in by_port.items():
        if len(users) < 2:
            continue
        for index, port_index in users:
            others = ", ".join(
                f"Service {json.dumps(entries[i].ref.name)} at "
                f"{entries[i].where(('spec', 'ports', p, 'port'))}"
                for i, p in users
                if i != index
            )
            yield (
                index,
                Finding(
                    ("spec", "ports", port_index, "port"),
                    f"Duplicate value: {number}: also used by {others}; each Service port is one "
                    "listener on this host",
                    "port-conflict",
                ),
            )


def _readable_labels(obj: Any) -> dict[str, str] | None:
    """The template labels of a Deployment that failed the schema, if that part has a shape."""
    spec = obj.get("spec") if isinstance(obj, dict) else None
    template = spec.get("template") if isinstance(spec, dict) else None
    metadata = template.get("metadata") if isinstance(template, dict) else None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    if isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values()):
        return {str(k): v for k, v in labels.items()}
    return None


def _selects_nothing(entries: Sequence[Entry]) -> Iterable[Hit]:
    labels_by_namespace: dict[str, list[dict[str, str]]] = defaultdict(list)
    unknown: set[str] = set()  # namespaces with a Deployment whose labels cannot be read
    for entry in entries:
        if entry.ref.kind != Kind.DEPLOYMENT:
            continue
        # an invalid Deployment still has the pods its Service is for: compare with its labels
        # when they can be read, and say nothing when they cannot (its own errors say enough)
        labels = _template_labels(entry.obj) if entry.checked else _readable_labels(entry.obj)
        if labels is None:
            unknown.add(entry.ref.namespace)
        else:
            labels_by_namespace[entry.ref.namespace].append(labels)
    for index, entry in enumerate(entries):
        if entry.ref.kind != Kind.SERVICE or not entry.checked:
            continue
        selector = entry.obj["spec"].get("selector")
        candidates = labels_by_namespace.get(entry.ref.namespace)
        if not selector or not candidates or entry.ref.namespace in unknown:
            continue  # no Deployment here to compare with: say nothing
        if not any(_selects(entry.obj, labels) for labels in candidates):
            yield (
                index,
                Finding(
                    ("spec", "selector"),
                    f"{_json(selector)} selects the pods of no Deployment in namespace "
                    f"{json.dumps(entry.ref.namespace)} of the validated files; the Service will "
                    "have no endpoints (a typo in a label?)",
                    "selects-nothing",
                    Severity.WARNING,
                ),
            )
