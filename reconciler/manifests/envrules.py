"""The API server's rules for a container's ``env`` and ``envFrom`` (``validateEnv``,
``validateEnvVarValueFrom``, ``validateEnvFrom``), with its words.

One source per ``valueFrom``; a ``fieldRef`` only to the fields Kubernetes' downward API
serves to env; a ``resourceFieldRef`` only to ``limits.*``/``requests.*`` of cpu, memory and
ephemeral-storage, of a container of the pod; keys that are config keys; names that are env var
names. Whether the ConfigMaps and Secrets referred to exist is a rule across objects
(``reconciler.manifests.crossrules``).

>>> [f.message for f in check_env({"containers": [{"name": "a", "env": [
...     {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
...     {"name": "Y", "valueFrom": {}}]}]}, ("spec",))]
['Invalid value: "valueFrom": must specify one of: `fieldRef`, `resourceFieldRef`, \
`configMapKeyRef` or `secretKeyRef`']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.manifests.configrules import config_key_error
from reconciler.manifests.names import invalid
from reconciler.manifests.schema import Finding, Path

__all__ = ["FIELD_PATHS", "RESOURCES", "check_env", "env_name_error"]

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
ENV_NAME_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', "
    "or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or "
    "'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
)
FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_SUBSCRIPTED = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
RESOURCES = tuple(
    f"{kind}.{name}"
    for kind in ("limits", "requests")
    for name in ("cpu", "memory", "ephemeral-storage")
)
SOURCES = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")


def env_name_error(name: str) -> str | None:
    return None if _ENV_NAME.match(name) else ENV_NAME_MSG


def _value_from(
    source: Mapping[str, Any], path: Path, *, has_value: bool, containers: set[str], own: str
) -> Iterable[Finding]:
    given = [name for name in SOURCES if name in source]
    if len(given) != 1:
        why = (
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
            "`secretKeyRef`"
            if not given
            else "may not have more than one field specified at a time"
        )
        yield Finding(path, invalid("valueFrom", why), "env-source")
        return
    if has_value:
        yield Finding(
            path,
            'Invalid value: "": may not be specified when `value` is not empty',
            "env-source",
        )
    kind = given[0]
    ref = source[kind]
    ref_path: Path = (*path, kind)
    if kind == "fieldRef":
        field_path = ref["fieldPath"]
        api_version = ref.get("apiVersion", "v1")
        if api_version != "v1":
            yield Finding(
                (*ref_path, "apiVersion"), invalid(api_version, "must be v1"), "env-source"
            )
        match = _SUBSCRIPTED.match(field_path)
        if match is None and field_path not in FIELD_PATHS:
            yield Finding(
                (*ref_path, "fieldPath"),
                f'Unsupported value: "{field_path}": supported values: '
                + ", ".join(
                    f'"{p}"'
                    for p in (
                        *FIELD_PATHS,
                        "metadata.labels['<KEY>']",
                        "metadata.annotations['<KEY>']",
                    )
                ),
                "env-source",
            )
    elif kind == "resourceFieldRef":
        resource = ref["resource"]
        if resource not in RESOURCES:
            yield Finding(
                (*ref_path, "resource"),
                f'Unsupported value: "{resource}": supported values: '
                + ", ".join(f'"{r}"' for r in RESOURCES),
                "env-source",
            )
        target = str(ref.get("containerName") or own)
        if target not in containers:
            yield Finding(
                (*ref_path, "containerName"),
                invalid(target, "must match the name of a container of the pod"),
                "env-source",
                at=(*ref_path, "containerName") if "containerName" in ref else ref_path,
            )
    else:
        if not ref.get("name"):
            yield Finding((*ref_path, "name"), "Required value", "env-source", at=ref_path)
        if bad_key := config_key_error(str(ref["key"])):
            yield Finding((*ref_path, "key"), invalid(ref["key"], bad_key), "config-key")


def check_env(pod_spec: Mapping[str, Any], pod_path: Path) -> list[Finding]:
    """Findings of the env and envFrom of every container of one schema-valid pod spec."""
    findings: list[Finding] = []
    containers = [c for c in pod_spec.get("containers") or [] if isinstance(c, Mapping)]
    names = {str(c.get("name", "")) for c in containers}
    for index, container in enumerate(containers):
        path: Path = (*pod_path, "containers", index)
        for env_index, item in enumerate(container.get("env") or []):
            env_path: Path = (*path, "env", env_index)
            if why := env_name_error(str(item["name"])):
                findings.append(
                    Finding((*env_path, "name"), invalid(item["name"], why), "env-name")
                )
            source = item.get("valueFrom")
            if source is not None:
                findings.extend(
                    _value_from(
                        source,
                        (*env_path, "valueFrom"),
                        has_value=bool(item.get("value")),
                        containers=names,
                        own=str(container.get("name", "")),
                    )
                )
        for from_index, item in enumerate(container.get("envFrom") or []):
            from_path: Path = (*path, "envFrom", from_index)
            given = [k for k in ("configMapRef", "secretRef") if k in item]
            if len(given) != 1:
                why = (
                    "must specify one of: `configMapRef` or `secretRef`"
                    if not given
                    else "may not have more than one field specified at a time"
                )
                findings.append(Finding(from_path, invalid("", why), "env-source"))
                continue
            if not item[given[0]].get("name"):
                findings.append(
                    Finding(
                        (*from_path, given[0], "name"),
                        "Required value",
                        "env-source",
                        at=(*from_path, given[0]),
                    )
                )
            prefix = item.get("prefix")
            if prefix and (why := env_name_error(str(prefix))):
                findings.append(Finding((*from_path, "prefix"), invalid(prefix, why), "env-name"))
    return findings
