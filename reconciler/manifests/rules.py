"""Rules of one object that a JSON schema cannot express, worded as the API server words them.

Each rule has an id (the ``rule`` of its Problem) so a reader can look it up and a test can pin
it. The messages follow ``k8s: pkg/apis/apps/validation`` (``Invalid value: <v>: <why>``,
``Required value``, ``Duplicate value``, ``Forbidden``); an invalid value is printed as JSON, as
API servers from v1.34 do. Rules run only on objects that passed the schema, so they may trust
types, and return ``Finding``s (a path in the object) that the validator turns into positions.

Names and labels are checked by ``names``, strategies by ``strategyrules``, volumes and
resources by ``podrules``. Rules that need more than one object (duplicate objects, strategy
Services, targetPort names, port conflicts) live in ``reconciler.manifests.crossrules``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.errors import Severity
from reconciler.labels import SelectorError, from_dict
from reconciler.manifests.names import (
    check_labels,
    check_metadata,
    dns1035_label,
    dns_label,
    dns_subdomain,
    iana_svc_name,
    invalid,
    listed,
)
from reconciler.manifests.podrules import check_pod_template
from reconciler.manifests.schema import Finding, Path
from reconciler.manifests.strategyrules import check_strategy
from reconciler.manifests.trafficrules import check_service_protocols

__all__ = [
    "check_deployment",
    "check_service",
    "label_selector_matches",
    "selector_labels",
]

WARNING = Severity.WARNING

HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
PROBES = ("readinessProbe", "livenessProbe", "startupProbe")


# --- selectors --------------------------------------------------------------------------------


def selector_labels(selector: Mapping[str, Any] | None) -> dict[str, str]:
    return dict((selector or {}).get("matchLabels") or {})


def label_selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """``metav1.LabelSelector`` semantics: matchLabels AND every matchExpression."""
    try:
        return from_dict(selector).matches(labels)
    except SelectorError:  # a bad operator: reported by ``_selector``, matches nothing
        return False


def _selector(spec: Mapping[str, Any]) -> Iterable[Finding]:
    selector = spec["selector"]
    yield from check_labels(selector.get("matchLabels"), ("spec", "selector", "matchLabels"))
    expressions = selector.get("matchExpressions") or []
    for index, expression in enumerate(expressions):
        path: Path = ("spec", "selector", "matchExpressions", index, "values")
        values = expression.get("values") or []
        if expression["operator"] in ("In", "NotIn") and not values:
            yield Finding(
                path,
                "Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "selector",
                at=path[:-1],
            )
        if expression["operator"] in ("Exists", "DoesNotExist") and values:
            yield Finding(
                path,
                "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                "selector",
            )
    if not selector.get("matchLabels") and not expressions:
        yield Finding(
            ("spec", "selector"),
            invalid(selector, "empty selector is invalid for deployment"),
            "selector",
        )
        return
    labels = ((spec["template"].get("metadata") or {}).get("labels")) or {}
    if not label_selector_matches(selector, labels):
        yield Finding(
            ("spec", "template", "metadata", "labels"),
            invalid(labels, "`selector` does not match template `labels`"),
            "selector",
        )


# --- pod template -----------------------------------------------------------------------------


def _pod(spec: Mapping[str, Any]) -> Iterable[Finding]:
    template = spec["template"]
    yield from check_labels(
        (template.get("metadata") or {}).get("labels"), ("spec", "template", "metadata", "labels")
    )
    pod_path: Path = ("spec", "template", "spec")
    containers = template["spec"]["containers"]
    runtime_class = template["spec"].get("runtimeClassName")  # podman runs the image's own
    container_names: dict[str, int] = {}
    port_names: dict[str, int] = {}
    for index, container in enumerate(containers):
        path: Path = (*pod_path, "containers", index)
        name = container["name"]
        if name in container_names:
            yield Finding((*path, "name"), f"Duplicate value: {json.dumps(name)}", "duplicate-name")
        container_names.setdefault(name, index)
        if why := dns_label(name):
            yield Finding((*path, "name"), invalid(name, why), "name")
        declared: dict[str, int] = {}
        for port_index, port in enumerate(container.get("ports") or []):
            port_path: Path = (*path, "ports", port_index)
            if port.get("protocol", "TCP") != "TCP":
                yield Finding(
                    (*port_path, "protocol"),
                    "the local runtime serves TCP only; this port is ignored",
                    "unsupported-field",
                    WARNING,
                )
            port_name = port.get("name")
            if port_name is None:
                continue
            if why := iana_svc_name(port_name):
                yield Finding((*port_path, "name"), invalid(port_name, why), "name")
            if port_name in port_names:
                yield Finding(
                    (*port_path, "name"),
                    f"Duplicate value: {json.dumps(port_name)}",
                    "duplicate-name",
                )
            port_names.setdefault(port_name, index)
            declared[port_name] = port["containerPort"]
        numbers = {p["containerPort"] for p in container.get("ports") or []}
        for probe_name in PROBES:
            probe = container.get(probe_name)
            if probe is not None:
                yield from _probe(probe, (*path, probe_name), probe_name, declared, numbers, name)
        pre_stop = (container.get("lifecycle") or {}).get("preStop")
        if pre_stop is not None:
            yield from _handler_count(
                pre_stop, (*path, "lifecycle", "preStop"), ("exec", "httpGet", "tcpSocket", "sleep")
            )
        if "command" not in container and runtime_class != "podman":
            yield Finding(
                (*path, "command"),
                "the process runtime runs a container's command; add "
                f"spec.template.spec.containers[{index}].command, or run the image on podman "
                "(spec.template.spec.runtimeClassName: podman)",
                "no-command",
                WARNING,
                at=path,
            )


def _handler_count(
    handler: Mapping[str, Any], path: Path, kinds: tuple[str, ...]
) -> Iterable[Finding]:
    present = [kind for kind in kinds if kind in handler]
    if not present:
        yield Finding(path, "Required value: must specify a handler type", "probe")
    elif len(present) > 1:
        yield Finding(
            (*path, present[1]), "Forbidden: may not specify more than 1 handler type", "probe"
        )


def _probe(
    probe: Mapping[str, Any],
    path: Path,
    probe_name: str,
    declared: Mapping[str, int],
    numbers: set[int],
    container: str,
) -> Iterable[Finding]:
    yield from _handler_count(probe, path, HANDLERS)
    if probe_name != "readinessProbe" and probe.get("successThreshold", 1) != 1:
        yield Finding(
            (*path, "successThreshold"), invalid(probe["successThreshold"], "must be 1"), "probe"
        )
    for handler in ("httpGet", "tcpSocket"):
        if handler not in probe:
            continue
        port = probe[handler]["port"]
        port_path: Path = (*path, handler, "port")
        if isinstance(port, str):
            if why := iana_svc_name(port):
                yield Finding(port_path, invalid(port, why), "probe-port")
            elif port not in declared:
                yield Finding(
                    port_path,
                    invalid(
                        port,
                        f'no port of container "{container}" has this name '
                        f"(declared: {listed(declared)})",
                    ),
                    "probe-port",
                )
        elif port not in numbers:
            yield Finding(
                port_path,
                f'port {port} is not a declared containerPort of container "{container}"; the '
                "local runtime assigns host ports to declared ports only: name a declared port",
                "probe-port",
                WARNING,
            )


# --- objects ----------------------------------------------------------------------------------


def check_deployment(obj: Mapping[str, Any]) -> list[Finding]:
    """Findings of one schema-valid Deployment."""
    spec = obj["spec"]
    findings = list(check_metadata(obj, name_check=dns_subdomain))
    findings.extend(_selector(spec))
    findings.extend(check_strategy(spec))
    min_ready = spec.get("minReadySeconds", 0)
    deadline = spec.get("progressDeadlineSeconds", 600)
    if deadline <= min_ready:
        findings.append(
            Finding(
                ("spec", "progressDeadlineSeconds"),
                invalid(deadline, "must be greater than minReadySeconds"),
                "progress-deadline",
                at=None if "progressDeadlineSeconds" in spec else ("spec", "minReadySeconds"),
            )
        )
    findings.extend(_pod(spec))
    findings.extend(check_pod_template(spec))  # volumes, mounts, resources (podrules)
    return findings


def check_service(obj: Mapping[str, Any]) -> list[Finding]:
    """Findings of one schema-valid Service."""
    spec = obj["spec"]
    findings = list(check_metadata(obj, name_check=dns1035_label))
    findings.extend(check_labels(spec.get("selector"), ("spec", "selector")))
    findings.extend(check_service_protocols(obj))  # appProtocol (#20)
    if not spec.get("selector"):
        findings.append(
            Finding(
                ("spec", "selector"),
                "a Service without a selector has no endpoints on the local runtime",
                "no-selector",
                WARNING,
                at=("spec",),
            )
        )
    service_type = spec.get("type", "ClusterIP")
    if service_type != "ClusterIP":
        findings.append(
            Finding(
                ("spec", "type"),
                f"the local runtime serves a {service_type} Service as ClusterIP on its port",
                "unsupported-field",
                WARNING,
            )
        )
    if spec.get("sessionAffinityConfig") and spec.get("sessionAffinity", "None") == "None":
        findings.append(
            Finding(
                ("spec", "sessionAffinityConfig"),
                "Forbidden: must not be set when `sessionAffinity` is None",
                "service-port",
            )
        )
    ports = spec["ports"]
    names: set[str] = set()
    numbers: set[tuple[int, str]] = set()
    for index, port in enumerate(ports):
        path: Path = ("spec", "ports", index)
        name = port.get("name")
        if name is None:
            if len(ports) > 1:
                findings.append(
                    Finding(
                        (*path, "name"),
                        "Required value: must be specified when there is more than one port",
                        "service-port",
                        at=path,
                    )
                )
        else:
            if why := dns_label(name):
                findings.append(Finding((*path, "name"), invalid(name, why), "name"))
            if name in names:
                findings.append(
                    Finding((*path, "name"), f"Duplicate value: {json.dumps(name)}", "service-port")
                )
            names.add(name)
        key = (port["port"], port.get("protocol", "TCP"))
        if key in numbers:
            findings.append(
                Finding((*path, "port"), f"Duplicate value: {port['port']}", "service-port")
            )
        numbers.add(key)
        if key[1] != "TCP":
            findings.append(
                Finding(
                    (*path, "protocol"),
                    "the local runtime serves TCP only; this port is ignored",
                    "unsupported-field",
                    WARNING,
                )
            )
        target = port.get("targetPort")
        if isinstance(target, str) and (why := iana_svc_name(target)):
            findings.append(Finding((*path, "targetPort"), invalid(target, why), "target-port"))
    return findings
