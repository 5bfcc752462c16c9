"""What ``wait --for`` waits for: a condition, the object's deletion or creation, a JSONPath value.

``--for=condition=Available`` (value ``True`` unless ``=False`` etc. is given; type and value
compared case-insensitively, as kubectl does), ``--for=delete``, ``--for=create``,
``--for=jsonpath='{.status.readyReplicas}'=3`` (or with no ``=value``: the path exists and is
not empty). The objects are read as ``get -o json`` shows them; a pod's conditions (``Ready``,
``ContainersReady``, ``Initialized``, ``PodScheduled``) are derived from its status where the
object does not carry them.

The JSONPath here is kubectl's for ``wait``: one path of fields, ``[N]`` indexes and
``[?(@.field=="value")]`` filters (``{.status.conditions[?(@.type=="Ready")].status}``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.cli import jsonpath
from reconciler.cli.listing import RESOURCES, Snapshot, collect
from reconciler.errors import UsageError
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store

__all__ = ["Condition", "current_object", "met", "parse_for", "path_values"]


@dataclass(frozen=True, slots=True)
class Condition:
    kind: str  # "condition" | "delete" | "create" | "jsonpath"
    name: str = ""  # the condition type, or the JSONPath expression
    value: str | None = None  # the wanted value (None: jsonpath only needs a non-empty result)


def parse_for(text: str) -> Condition:
    """``--for``'s argument.

    >>> parse_for("condition=Available")
    Condition(kind='condition', name='Available', value='true')
    >>> parse_for("jsonpath={.status.phase}=Running")
    Condition(kind='jsonpath', name='.status.phase', value='Running')
    """
    if text in ("delete", "create"):
        return Condition(text)
    kind, eq, rest = text.partition("=")
    if kind == "condition" and eq and rest:
        name, eq2, value = rest.partition("=")
        return Condition("condition", name, value.lower() if eq2 else "true")
    if kind == "jsonpath" and eq and rest:
        match = re.fullmatch(r"'?\{(?P<path>.+)\}'?(?:=(?P<value>.*))?", rest)
        if match is None:
            raise UsageError(
                f"error: jsonpath {rest!r} must be in the form {{.path}}=value "
                "(e.g. --for=jsonpath='{.status.readyReplicas}'=3)"
            )
        value = match.group("value")
        return Condition("jsonpath", match.group("path"), value.strip("'\"") if value else None)
    raise UsageError(
        f"error: unrecognized condition: {text!r} (use condition=NAME[=value], delete, create "
        "or jsonpath={.path}=value)"
    )


def path_values(obj: Any, path: str) -> list[Any]:
    """The values at ``path`` in ``obj``, in kubectl's JSONPath dialect (a filter or ``[*]``
    may give several).

    >>> obj = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    >>> path_values(obj, '.status.conditions[?(@.type=="Ready")].status')
    ['True']
    >>> path_values(obj, ".status.conditions[0].type"), path_values(obj, ".spec.x")
    (['Ready'], [])
    """
    try:
        results = jsonpath.parse("{" + path + "}").results(obj)
    except jsonpath.JSONPathError as exc:
        raise UsageError(f"error: jsonpath {path!r}: {exc}") from None
    return [value for found in results for value in found]


def _text(value: Any) -> str:
    """A value as kubectl's JSONPath prints it (strings bare, the rest as JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


_RESOURCE = {
    Kind.POD: "pods",
    Kind.DEPLOYMENT: "deployments",
    Kind.REPLICASET: "replicasets",
    Kind.SERVICE: "services",
    Kind.CONFIGMAP: "configmaps",
    Kind.SECRET: "secrets",
}


def current_object(store: Store, ref: ObjectRef) -> dict[str, Any] | None:
    """The object as ``get -o json`` shows it now, or None if it does not exist."""
    snapshot = Snapshot(store, now=time.time())
    items = collect(snapshot, RESOURCES[_RESOURCE[ref.kind]], ref.namespace)
    return next((item.obj for item in items if item.name == ref.name), None)


def met(condition: Condition, obj: Mapping[str, Any] | None) -> bool:
    """Whether ``obj`` (None: it does not exist) satisfies ``condition``."""
    if condition.kind == "delete":
        return obj is None
    if obj is None:
        return False
    if condition.kind == "create":
        return True
    if condition.kind == "condition":
        for item in (obj.get("status") or {}).get("conditions") or []:
            if str(item.get("type", "")).lower() == condition.name.lower():
                return str(item.get("status", "")).lower() == condition.value
        return False
    values = path_values(obj, condition.name)
    if condition.value is None:
        return any(v not in (None, "", [], {}) for v in values)
    return len(values) == 1 and _text(values[0]) == condition.value
