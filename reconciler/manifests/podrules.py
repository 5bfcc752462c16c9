"""Rules of a pod template's volumes, volumeMounts and resources, as the API server words them,
plus the warnings of what this host cannot enforce.

The messages follow ``k8s: pkg/apis/core/validation`` (``validateVolumes``,
``ValidateVolumeMounts``, ``ValidateResourceRequirements``): a volume needs exactly one source, a
mount names a declared volume, an item's ``path`` is relative without ``..``, a file mode is
within 0777, a quantity parses, and a request is at most its limit. Beyond the API server: a
``mountPath`` must be absolute (the host's root is the container's), and where this host has no
usable cgroups or mount namespace, each limit and each mount gets a warning naming why, so a
limit is never silently ignored (``reconciler.runtime.isolation.capabilities``).
"""

from __future__ import annotations

import functools
import json
import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.errors import Severity
from reconciler.manifests.names import dns_label, dns_subdomain
from reconciler.manifests.schema import Finding, Path
from reconciler.runtime.isolation.quantity import QuantityError, parse_quantity
from reconciler.runtime.isolation.volumes import SOURCES

WARNING = Severity.WARNING
ENFORCED = ("cpu", "memory")
KNOWN_RESOURCES = ("cpu", "memory", "ephemeral-storage")
MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"


def _invalid(value: Any, why: str) -> str:
    return f"Invalid value: {json.dumps(value, sort_keys=True)}: {why}"


def _relative_path(value: str, path: Path) -> Iterable[Finding]:
    """An item's ``path`` or a ``subPath`` (validateLocalDescendingPath)."""
    if value.startswith("/"):
        yield Finding(path, _invalid(value, "must be a relative path"), "volume-path")
    elif ".." in value.split("/"):
        yield Finding(path, _invalid(value, "must not contain '..'"), "volume-path")
    elif value.split("/", 1)[0].startswith(".."):
        yield Finding(path, _invalid(value, "must not start with '..'"), "volume-path")


def _mode(value: Any, path: Path) -> Iterable[Finding]:
    if not 0 <= int(value) <= 0o777:
        yield Finding(path, _invalid(value, MODE_MSG), "volume-mode")


def _config_source(source: Mapping[str, Any], path: Path, name_key: str) -> Iterable[Finding]:
    if not source.get(name_key):
        yield Finding((*path, name_key), "Required value", "volume-source", at=path)
    if "defaultMode" in source:
        yield from _mode(source["defaultMode"], (*path, "defaultMode"))
    for index, item in enumerate(source.get("items") or []):
        item_path: Path = (*path, "items", index)
        yield from _relative_path(str(item["path"]), (*item_path, "path"))
        if "mode" in item:
            yield from _mode(item["mode"], (*item_path, "mode"))


def _volumes(volumes: list[Mapping[str, Any]], pod_path: Path) -> Iterable[Finding]:
    seen: set[str] = set()
    for index, volume in enumerate(volumes):
        path: Path = (*pod_path, "volumes", index)
        name = str(volume.get("name", ""))
        if name in seen:
            yield Finding((*path, "name"), f"Duplicate value: {json.dumps(name)}", "volume-name")
        seen.add(name)
        if len(name) > 63 or not name or not _is_label(name):
            yield Finding(
                (*path, "name"), _invalid(name, "must be a DNS-1123 label"), "volume-name"
            )
        kinds = [k for k in volume if k != "name"]
        if not kinds:
            yield Finding(path, "Required value: must specify a volume type", "volume-source")
            continue
        if len(kinds) > 1:
            yield Finding(
                (*path, kinds[1]), "Forbidden: may not specify more than 1 volume type", "volume"
            )
        kind = kinds[0]
        if kind not in SOURCES:
            yield Finding(
                (*path, kind),
                f"volumes of type {kind} are not supported by the local runtime: its mounts "
                f"stay empty (supported: {', '.join(SOURCES)})",
                "unsupported-volume",
                WARNING,
            )
            continue
        source = volume[kind] or {}
        if kind == "configMap":
            yield from _config_source(source, (*path, kind), "name")
        elif kind == "secret":
            yield from _config_source(source, (*path, kind), "secretName")
        elif kind == "hostPath" and not str(source.get("path", "")).startswith("/"):
            yield Finding(
                (*path, kind, "path"),
                _invalid(source.get("path"), "must be an absolute path"),
                "volume-path",
            )
        elif kind == "persistentVolumeClaim" and not _is_subdomain(str(source["claimName"])):
            yield Finding(
                (*path, kind, "claimName"),
                _invalid(source["claimName"], "must be a lowercase RFC 1123 subdomain"),
                "volume-name",
            )
        elif kind == "emptyDir" and source.get("sizeLimit") is not None:
            yield from _quantity(source["sizeLimit"], (*path, kind, "sizeLimit"))


def _is_label(value: str) -> bool:
    return dns_label(value) is None


def _is_subdomain(value: str) -> bool:
    return dns_subdomain(value) is None


def _mounts(container: Mapping[str, Any], path: Path, volumes: set[str]) -> Iterable[Finding]:
    targets: set[str] = set()
    for index, mount in enumerate(container.get("volumeMounts") or []):
        mount_path: Path = (*path, "volumeMounts", index)
        name = str(mount["name"])
        if name not in volumes:
            yield Finding((*mount_path, "name"), f"Not found: {json.dumps(name)}", "volume-mount")
        target = str(mount["mountPath"])
        if not target.startswith("/"):
            yield Finding(
                (*mount_path, "mountPath"),
                _invalid(target, "must be an absolute path (the container shares the host's /)"),
                "volume-mount",
            )
        elif ".." in target.split("/") or ":" in target:
            yield Finding(
                (*mount_path, "mountPath"),
                _invalid(target, "must not contain '..' or ':'"),
                "volume-mount",
            )
        normalized = posixpath.normpath(target)
        if normalized in targets:
            yield Finding(
                (*mount_path, "mountPath"), _invalid(target, "must be unique"), "volume-mount"
            )
        targets.add(normalized)
        if mount.get("subPath"):
            yield from _relative_path(str(mount["subPath"]), (*mount_path, "subPath"))


def _quantity(value: Any, path: Path) -> Iterable[Finding]:
    try:
        number = parse_quantity(value)
    except QuantityError as exc:
        yield Finding(path, _invalid(value, str(exc)), "quantity")
        return
    if number < 0:
        yield Finding(path, _invalid(value, "must be greater than or equal to 0"), "quantity")


def _resources(container: Mapping[str, Any], path: Path) -> Iterable[Finding]:
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    for block, values in (("limits", limits), ("requests", requests)):
        for resource, value in values.items():
            field: Path = (*path, "resources", block, resource)
            yield from _quantity(value, field)
            if resource not in KNOWN_RESOURCES and not resource.startswith("hugepages-"):
                yield Finding(
                    field,
                    "the local runtime does not know this resource; it is ignored",
                    "unsupported-field",
                    WARNING,
                )
            elif resource not in ENFORCED:
                yield Finding(
                    field,
                    f"{resource} is not enforced by the local runtime",
                    "unsupported-field",
                    WARNING,
                )
    for resource, request in requests.items():
        if resource not in limits:
            continue
        try:
            too_big = parse_quantity(request) > parse_quantity(limits[resource])
        except QuantityError:
            continue
        if too_big:
            yield Finding(
                (*path, "resources", "requests", resource),
                _invalid(
                    request, f"must be less than or equal to {resource} limit of {limits[resource]}"
                ),
                "resources",
            )


@functools.cache
def _host() -> Mapping[str, Any]:
    """This host's capabilities, detected once per process (a fork; cheap but not free)."""
    from reconciler.runtime.isolation.capabilities import detect

    return detect().as_dict()


def _host_warnings(template: Mapping[str, Any], pod_path: Path) -> Iterable[Finding]:
    from reconciler.runtime.isolation.capabilities import warnings_for

    for field, message in warnings_for(template, _host()):
        parts: list[str | int] = []
        for part in field.replace("]", "").replace("[", ".").split("."):
            parts.append(int(part) if part.isdigit() else part)
        yield Finding((*pod_path, *parts), message, "not-enforced", WARNING)


def check_pod_template(spec: Mapping[str, Any]) -> list[Finding]:
    """Findings of a Deployment's pod template's volumes, mounts and resources."""
    template = spec["template"]
    pod_path: Path = ("spec", "template", "spec")
    pod = template["spec"]
    volumes = list(pod.get("volumes") or [])
    findings = list(_volumes(volumes, pod_path))
    names = {str(v.get("name", "")) for v in volumes}
    for index, container in enumerate(pod["containers"]):
        path: Path = (*pod_path, "containers", index)
        findings.extend(_mounts(container, path, names))
        findings.extend(_resources(container, path))
    findings.extend(_host_warnings(template, pod_path))
    return findings


__all__ = ["check_pod_template"]
