"""Rules across objects for configuration: the ConfigMaps, Secrets and keys a pod refers to.

A pod whose env refers to a ConfigMap, Secret or key that does not exist waits in
``CreateContainerConfigError``; ``validate`` says so first, at the reference's line and
column, unless the reference is ``optional: true``:

``config-ref``       a ConfigMap that the validated files do not define, or a key that a defined
                     ConfigMap or Secret does not have (error)
``secret-ref``       a Secret that the validated files do not define (warning: its values may be
                     kept out of the folder with ``reconciler create secret generic``, and the
                     daemon validates with those Secrets included, so it is an error only where
                     it really is missing)
``env-from-keys``    (warning) keys of an ``envFrom`` source that are not environment variable
                     names: the kubelet skips them, and so does the runtime
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from reconciler.errors import Severity
from reconciler.manifests.envrules import env_name_error
from reconciler.manifests.schema import Finding, Path
from reconciler.objects import Kind, ObjectRef

__all__ = ["config_references"]

_KINDS = {
    "configMapKeyRef": Kind.CONFIGMAP,
    "secretKeyRef": Kind.SECRET,
    "configMapRef": Kind.CONFIGMAP,
    "secretRef": Kind.SECRET,
}


class _Entry(Protocol):
    @property
    def ref(self) -> ObjectRef: ...

    @property
    def obj(self) -> dict[str, Any]: ...

    @property
    def checked(self) -> bool: ...


def _keys(kind: Kind, obj: Mapping[str, Any]) -> set[str]:
    blocks = ("data", "binaryData") if kind is Kind.CONFIGMAP else ("data", "stringData")
    keys: set[str] = set()
    for block in blocks:
        value = obj.get(block)
        if isinstance(value, Mapping):
            keys.update(str(k) for k in value)
    return keys


def _word(kind: Kind) -> str:
    return "configmap" if kind is Kind.CONFIGMAP else "secret"


def _missing_object(kind: Kind, ref: ObjectRef, path: Path) -> Finding:
    if kind is Kind.SECRET:
        return Finding(
            path,
            f'secret "{ref.name}" not found: no Secret of that name in namespace '
            f"{json.dumps(ref.namespace)} of the validated files; the pod waits in "
            "CreateContainerConfigError unless it is created outside the folder "
            f"(reconciler create secret generic {ref.name} ...) or the reference is "
            "optional: true",
            "secret-ref",
            Severity.WARNING,
        )
    return Finding(
        path,
        f'configmap "{ref.name}" not found: no ConfigMap of that name in namespace '
        f"{json.dumps(ref.namespace)} of the validated files; the pod would wait in "
        "CreateContainerConfigError (define it, fix the name, or mark the reference "
        "optional: true)",
        "config-ref",
    )


def _pod_references(
    pod_spec: Mapping[str, Any], pod_path: Path
) -> Iterable[tuple[str, Mapping[str, Any], Path]]:
    """(field, reference, path of the reference) of every env/envFrom use."""
    for index, container in enumerate(pod_spec.get("containers") or []):
        if not isinstance(container, Mapping):
            continue
        path: Path = (*pod_path, "containers", index)
        for env_index, item in enumerate(container.get("env") or []):
            source = item.get("valueFrom") if isinstance(item, Mapping) else None
            if not isinstance(source, Mapping):
                continue
            for field in ("configMapKeyRef", "secretKeyRef"):
                ref = source.get(field)
                if isinstance(ref, Mapping):
                    yield field, ref, (*path, "env", env_index, "valueFrom", field)
        for from_index, item in enumerate(container.get("envFrom") or []):
            if not isinstance(item, Mapping):
                continue
            for field in ("configMapRef", "secretRef"):
                ref = item.get(field)
                if isinstance(ref, Mapping):
                    yield field, ref, (*path, "envFrom", from_index, field)


def config_references(entries: Sequence[_Entry]) -> Iterable[tuple[int, Finding]]:
    """Findings of every Deployment's references to ConfigMaps and Secrets."""
    defined: dict[ObjectRef, set[str] | None] = {}
    for entry in entries:
        if entry.ref.kind in (Kind.CONFIGMAP, Kind.SECRET):
            # an object that failed the schema exists, but its keys cannot be trusted
            defined[entry.ref] = _keys(entry.ref.kind, entry.obj) if entry.checked else None
    for index, entry in enumerate(entries):
        if entry.ref.kind is not Kind.DEPLOYMENT or not entry.checked:
            continue
        pod_path: Path = ("spec", "template", "spec")
        pod_spec = entry.obj["spec"]["template"]["spec"]
        for field, ref, path in _pod_references(pod_spec, pod_path):
            name = ref.get("name")
            if not isinstance(name, str) or not name or ref.get("optional") is True:
                continue
            kind = _KINDS[field]
            target = ObjectRef(kind, entry.ref.namespace, name)
            if target not in defined:
                yield index, _missing_object(kind, target, (*path, "name"))
                continue
            keys = defined[target]
            if keys is None:
                continue
            if "key" in ref:
                key = str(ref["key"])
                if key not in keys:
                    what = "ConfigMap" if kind is Kind.CONFIGMAP else "Secret"
                    yield (
                        index,
                        Finding(
                            (*path, "key"),
                            f"couldn't find key {key} in {what} {entry.ref.namespace}/{name} "
                            f"(it has {', '.join(sorted(keys)) or 'no keys'}); the pod would wait "
                            "in CreateContainerConfigError",
                            "config-ref",
                        ),
                    )
            else:
                prefix = str((_parent_item(pod_spec, path) or {}).get("prefix") or "")
                bad = sorted(k for k in keys if env_name_error(prefix + k))
                if bad:
                    yield (
                        index,
                        Finding(
                            path,
                            f"{_word(kind)}/{name} has keys that are not environment variable "
                            f"names ({', '.join(bad)}): envFrom skips them, as the kubelet does",
                            "env-from-keys",
                            Severity.WARNING,
                        ),
                    )


def _parent_item(pod_spec: Mapping[str, Any], path: Path) -> Mapping[str, Any] | None:
    """The envFrom item holding the reference at ``path`` (``...envFrom[i].configMapRef``)."""
    container = pod_spec["containers"][path[4]]
    item = container["envFrom"][path[6]]
    return item if isinstance(item, Mapping) else None
