"""``get configmaps|secrets`` and ``describe configmap|secret``: kubectl's columns and pages.

``get``: ``NAME  DATA  AGE`` for ConfigMaps, ``NAME  TYPE  DATA  AGE`` for Secrets; ``-o yaml``
shows the object as the API server stores it (a Secret's ``data`` base64, as kubectl shows it:
the user's own data, on the user's own host). ``describe secret`` shows each key's size in
bytes, never a value; for a Secret created outside the folder (``reconciler create secret
generic``) it names the file in the state directory that holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.cli import output
from reconciler.labels import from_map
from reconciler.manifests.configdata import config_values
from reconciler.objects import Kind
from reconciler.runtime import PodStatus
from reconciler.store import AppliedObject, Store

__all__ = [
    "HEADERS",
    "NOT_FOUND",
    "config_rows",
    "describe_configmap",
    "describe_secret",
    "pod_field_values",
]

Row = list[str]

HEADERS: dict[Kind, tuple[Row, Row]] = {
    Kind.CONFIGMAP: (["NAME", "DATA", "AGE"], []),
    Kind.SECRET: (["NAME", "TYPE", "DATA", "AGE"], []),
}
NOT_FOUND = {Kind.CONFIGMAP: "configmaps", Kind.SECRET: "secrets"}


def pod_field_values(pod: PodStatus) -> dict[str, str]:
    """What kubectl's resolver shows for a pod's ``fieldRef`` env in ``describe pod``."""
    values = {"metadata.name": pod.name, "metadata.namespace": pod.namespace}
    values |= {"status.podIP": pod.ip, "status.hostIP": pod.ip, "spec.nodeName": "localhost"}
    values |= {f"metadata.labels['{k}']": str(v) for k, v in pod.labels.items()}
    return values


def _labels_match(obj: Mapping[str, Any], selector: Mapping[str, str]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return from_map(selector).matches(labels)


def _count(obj: AppliedObject) -> int:
    return len(config_values(str(obj.ref.kind), obj.spec))


def config_rows(
    store: Store,
    kind: Kind,
    namespace: str,
    *,
    names: list[str],
    selector: Mapping[str, str],
    now: float,
) -> list[tuple[str, Row, Row, dict[str, Any]]]:
    """(display name, row, wide cells, object) of each ConfigMap or Secret."""
    out: list[tuple[str, Row, Row, dict[str, Any]]] = []
    for obj in store.list_objects(kind, namespace):
        if names and obj.ref.name not in names:
            continue
        if not _labels_match(obj.spec, selector):
            continue
        row = [obj.ref.name]
        if kind is Kind.SECRET:
            row.append(str(obj.spec.get("type", "Opaque")))
        row += [str(_count(obj)), output.age(obj.created_at, now)]
        out.append((obj.ref.display, row, [], dict(obj.spec)))
    return out


def _header(obj: AppliedObject) -> str:
    metadata = obj.spec.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    out = f"Name:         {obj.ref.name}\nNamespace:    {obj.ref.namespace}\n"
    out += (
        "Labels:       "
        + ("\n              ".join(f"{k}={labels[k]}" for k in sorted(labels)) or "<none>")
        + "\n"
    )
    out += (
        "Annotations:  "
        + (
            "\n              ".join(f"{k}: {annotations[k]}" for k in sorted(annotations))
            or "<none>"
        )
        + "\n"
    )
    return out


def _source(store: Store, obj: AppliedObject) -> str:
    secrets_root = str(store.state_dir / "secrets")
    if obj.source.startswith(secrets_root):
        return f"Source:       {obj.source} (created with reconciler create secret)\n"
    return ""


def describe_configmap(store: Store, obj: AppliedObject, events: str) -> str:
    """kubectl describe configmap: every key and its value (a ConfigMap is not secret)."""
    out = _header(obj) + "\nData\n====\n"
    for key, value in sorted((obj.spec.get("data") or {}).items()):
        out += f"{key}:\n----\n{value}\n\n"
    out += "\nBinaryData\n====\n"
    for key, value in sorted(
        config_values("ConfigMap", {"binaryData": obj.spec.get("binaryData")}).items()
    ):
        out += f"{key}: {len(value)} bytes\n"
    return out + "\n" + events


def describe_secret(store: Store, obj: AppliedObject, events: str) -> str:
    """kubectl describe secret: the type and each key's size, never a value."""
    out = _header(obj) + _source(store, obj)
    out += f"\nType:  {obj.spec.get('type', 'Opaque')}\n\nData\n====\n"
    values = config_values("Secret", obj.spec)
    width = max((len(k) for k in values), default=0) + 1
    for key, value in sorted(values.items()):
        out += f"{(key + ':').ljust(width)}  {len(value)} bytes\n"
    return out + "\n" + events
