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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.cli.history import replicaset_object
from reconciler.cli.views import deployment_object, pod_object, pods_of
from reconciler.errors import UsageError
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import PodStatus
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


_STEP = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_\-/]+)
      | \[(?P<index>-?\d+)\]
      | \[\*\]
      | \[\?\(@\.(?P<key>[A-Za-z0-9_.\-]+)\s*==\s*(?P<quote>["'])(?P<want>.*?)(?P=quote)\)\]""",
    re.VERBOSE,
)


def path_values(obj: Any, path: str) -> list[Any]:
    """The values at ``path`` in ``obj`` (a filter or ``[*]`` may give several).

    >>> obj = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    >>> path_values(obj, '.status.conditions[?(@.type=="Ready")].status')
    ['True']
    >>> path_values(obj, ".status.conditions[0].type"), path_values(obj, ".spec.x")
    (['Ready'], [])
    """
    current: list[Any] = [obj]
    position = 0
    while position < len(path):
        step = _STEP.match(path, position)
        if step is None:
            raise UsageError(
                f"error: unsupported JSONPath {path!r} at {path[position:]!r}: wait understands "
                '.field, [N], [*] and [?(@.field=="value")]'
            )
        position = step.end()
        following: list[Any] = []
        for item in current:
            if step.group("field") is not None:
                if isinstance(item, Mapping) and step.group("field") in item:
                    following.append(item[step.group("field")])
            elif step.group("index") is not None:
                index = int(step.group("index"))
                if isinstance(item, list) and -len(item) <= index < len(item):
                    following.append(item[index])
            elif step.group("key") is not None:
                for element in item if isinstance(item, list) else []:
                    found = path_values(element, "." + step.group("key"))
                    if found and _text(found[0]) == step.group("want"):
                        following.append(element)
            elif isinstance(item, list):
                following.extend(item)
        current = following
    return current


def _text(value: Any) -> str:
    """A value as kubectl's JSONPath prints it (strings bare, the rest as JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def _pod_conditions(pod: PodStatus) -> list[dict[str, str]]:
    if pod.unschedulable:
        return [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]
    ready = bool(pod.containers) and all(c.ready for c in pod.containers)
    word = {True: "True", False: "False"}
    return [
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": word[pod.ready]},
        {"type": "ContainersReady", "status": word[ready]},
        {"type": "PodScheduled", "status": "True"},
    ]


def current_object(store: Store, ref: ObjectRef) -> dict[str, Any] | None:
    """The object as ``get -o json`` shows it now, or None if it does not exist."""
    if ref.kind is Kind.POD:
        record = next((p for p in store.list_pods(ref.namespace) if p.name == ref.name), None)
        if record is None:
            return None
        pod = pods_of([record])[0]
        shown = pod_object(pod)
        status = shown.setdefault("status", {})
        known = {c.get("type") for c in status.get("conditions") or []}
        extra = [c for c in _pod_conditions(pod) if c["type"] not in known]
        status["conditions"] = [*(status.get("conditions") or []), *extra]
        return shown
    if ref.kind is Kind.REPLICASET:
        rs = store.get_replicaset(ref.namespace, ref.name)
        return None if rs is None else replicaset_object(rs)
    obj = store.get_object(ref)
    if obj is None:
        return None
    if ref.kind is Kind.DEPLOYMENT:
        return deployment_object(obj, store.list_replicasets(ref))
    return {**obj.spec, "status": dict(obj.status)}


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
