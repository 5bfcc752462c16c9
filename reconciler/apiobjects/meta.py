"""Object metadata as the API server writes it: uid, resourceVersion, times, owners, lists.

We have no API server, so the fields it would assign are derived from what the store keeps:

- ``uid``: a UUID (version 5) of kind, namespace, name and the creation time. It is stable for
  the object's life and a new one for an object deleted and created again, as in Kubernetes.
- ``resourceVersion``: a decimal digest of the object's content. Clients must treat it as
  opaque and compare it only for equality (the API conventions say so); it changes whenever
  the object does, and stays put while it does not.
- times: RFC 3339 in UTC with second precision (``2026-12-01T22:53:00Z``), as ``metav1.Time``.

>>> rfc3339(1796165580.7)
'2026-12-01T22:53:00Z'
>>> uid("Pod", "default", "web-abc", 1.5) == uid("Pod", "default", "web-abc", 1.5)
True
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

_UID_NAMESPACE = uuid.UUID("6f1b2c64-8f4e-5a3b-9c41-3d2e7b0a9e15")


def rfc3339(ts: float | None) -> str | None:
    """``metav1.Time`` as JSON: whole seconds, UTC, ``Z``; None for an unset time."""
    if not ts:
        return None
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def uid(kind: str, namespace: str, name: str, created_at: float) -> str:
    """The object's ``metadata.uid``: one per (kind, namespace, name, creation)."""
    return str(uuid.uuid5(_UID_NAMESPACE, f"{kind}/{namespace}/{name}/{created_at!r}"))


def resource_version(obj: Mapping[str, Any]) -> str:
    """An opaque version that changes exactly when the object's content does."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return str(int.from_bytes(hashlib.sha256(blob).digest()[:6], "big"))


def owner_reference(*, api_version: str, kind: str, name: str, owner_uid: str) -> dict[str, Any]:
    """A controller's ``ownerReferences`` entry (the garbage collector's ``blockOwnerDeletion``)."""
    return {
        "apiVersion": api_version,
        "blockOwnerDeletion": True,
        "controller": True,
        "kind": kind,
        "name": name,
        "uid": owner_uid,
    }


def finish(obj: dict[str, Any]) -> dict[str, Any]:
    """Stamp ``resourceVersion`` over the finished object and order keys as the API's JSON.

    kubectl prints what the server sent through Go's ``encoding/json`` over unstructured maps,
    so every mapping's keys come out sorted; lists keep their order."""
    metadata = obj.setdefault("metadata", {})
    metadata.pop("resourceVersion", None)
    metadata["resourceVersion"] = resource_version(obj)
    ordered: dict[str, Any] = sort_keys(obj)
    return ordered


def sort_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [sort_keys(v) for v in value]
    return value


def as_list(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """What ``kubectl get`` prints for a collection: a ``v1`` ``List`` (``resourceVersion: ""``)."""
    return {
        "apiVersion": "v1",
        "items": list(items),
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }


def drop_empty(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Go's ``omitempty``: leave out None, "", 0, False and empty collections."""
    return {k: v for k, v in mapping.items() if v not in (None, "", 0, False, [], {})}
