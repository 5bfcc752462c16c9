"""Rules of one object that a JSON schema cannot express, worded as the API server words them.

Each rule has an id (the ``rule`` of its Problem) so a reader can look it up and a test can pin
it. The messages follow ``k8s: pkg/apis/apps/validation`` (``Invalid value: <v>: <why>``,
``Required value``, ``Duplicate value``, ``Forbidden``); an invalid value is printed as JSON, as
API servers from v1.34 do. Rules run only on objects that passed the schema, so they may trust
types, and return ``Finding``s (a path in the object) that the validator turns into positions.

Rules that need more than one object (duplicate objects, strategy Services, targetPort names,
port conflicts) live in ``reconciler.manifests.crossrules``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.errors import Severity
from reconciler.manifests.podrules import check_pod_template
from reconciler.manifests.schema import Finding, Path
from reconciler.manifests.trafficrules import check_canary_traffic, check_service_protocols
from reconciler.units import is_percent, parse_duration

__all__ = [
    "check_deployment",
    "check_service",
    "label_selector_matches",
    "selector_labels",
]

WARNING = Severity.WARNING

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "
    "'93%', regex used for validation is '[0-9]+%')"
)
HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
PROBES = ("readinessProbe", "livenessProbe", "startupProbe")
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


def invalid(value: Any, why: str) -> str:
    """``Invalid value: "x": why`` with the value as JSON."""
    return f"Invalid value: {json.dumps(value, sort_keys=True)}: {why}"


# --- names and labels -------------------------------------------------------------------------


def dns_label(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    return None if _DNS1123_LABEL.match(value) else LABEL_MSG


def dns_subdomain(value: str) -> str | None:
    if len(value) > 253:
        return "must be no more than 253 characters"
    return None if _DNS1123_SUBDOMAIN.match(value) else SUBDOMAIN_MSG


def dns1035_label(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    return None if _DNS1035_LABEL.match(value) else DNS1035_MSG


def iana_svc_name(value: str) -> str | None:
    """A port name (``validation.IsValidPortName``)."""
    if len(value) > 15:
        return "must be no more than 15 characters"
    if not _IANA_SVC_NAME.match(value):
        return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
    if "--" in value:
        return "must not contain consecutive hyphens"
    if not any(c.isalpha() for c in value):
        return "must contain at least one letter (a-z)"
    return None


def _label_key(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and dns_subdomain(prefix):
        return "prefix part " + SUBDOMAIN_MSG
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
            "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return None


def _labels(labels: Mapping[str, str] | None, path: Path) -> Iterable[Finding]:
    for key, value in (labels or {}).items():
        why = _label_key(key)
        if why:
            yield Finding((*path, key), invalid(key, why), "labels")
        elif len(value) > 63 or not _LABEL_VALUE.match(value):
            yield Finding(
                (*path, key),
                invalid(
                    value,
                    "a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                ),
                "labels",
            )


def _metadata(obj: Mapping[str, Any], *, name_check: Any) -> Iterable[Finding]:
    metadata = obj["metadata"]
    why = name_check(metadata["name"])
    if why:
        yield Finding(("metadata", "name"), invalid(metadata["name"], why), "name")
    namespace = metadata.get("namespace")
    if namespace is not None and (why := dns_label(namespace)):
        yield Finding(("metadata", "namespace"), invalid(namespace, why), "name")
    yield from _labels(metadata.get("labels"), ("metadata", "labels"))


# --- selectors --------------------------------------------------------------------------------


def selector_labels(selector: Mapping[str, Any] | None) -> dict[str, str]:
    return dict((selector or {}).get("matchLabels") or {})


def label_selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """``metav1.LabelSelector`` semantics: matchLabels AND every matchExpression."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _selector(spec: Mapping[str, Any]) -> Iterable[Finding]:
    selector = spec["selector"]
    yield from _labels(selector.get("matchLabels"), ("spec", "selector", "matchLabels"))
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


# --- strategy ---------------------------------------------------------------------------------


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


def _strategy(spec: Mapping[str, Any]) -> Iterable[Finding]:
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
                        f"(declared: {_names(names)})",
                    ),
                    "probe-port",
                )


def _names(names: Iterable[Any]) -> str:
    listed = sorted(str(n) for n in names if n)
    return ", ".join(listed) if listed else "none"


# --- pod template -----------------------------------------------------------------------------


def _pod(spec: Mapping[str, Any]) -> Iterable[Finding]:
    template = spec["template"]
    yield from _labels(
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
                        f"(declared: {_names(declared)})",
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
    findings = list(_metadata(obj, name_check=dns_subdomain))
    findings.extend(_selector(spec))
    findings.extend(_strategy(spec))
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
    findings = list(_metadata(obj, name_check=dns1035_label))
    findings.extend(check_service_protocols(obj))  # appProtocol (#20)
    findings.extend(_labels(spec.get("selector"), ("spec", "selector")))
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
