"""Quiet diffs: desired against applied, after both sides are normalized (§7.3 item 6).

A manifest that spells out a default (``replicas: 1``, ``protocol: TCP``) is the same object as
one that leaves it out, and fields the runtime writes (``status``, ``deployment.kubernetes.io/*``
annotations, ``metadata.generation``, ...) are not the user's to diff. Both sides go through
:func:`normalize` before they are compared, so "no diff" really means nothing would change.

:func:`classify` names the kind of change, because it decides what happens next: ``scale``
resizes in place, ``template`` makes a new revision, ``other`` (strategy, metadata, a Service)
changes no pod.
"""

from __future__ import annotations

import copy
import difflib
import enum
from collections.abc import Mapping
from typing import Any

import yaml

from reconciler.defaults import default_deployment, default_service
from reconciler.manifests.configdata import default_secret, without_config_hash

_DROPPED_METADATA = ("generation", "resourceVersion", "uid", "creationTimestamp", "managedFields")
_RUNTIME_ANNOTATION_PREFIX = "deployment.kubernetes.io/"


class ChangeKind(enum.StrEnum):
    NONE = "none"
    CREATED = "created"
    DELETED = "deleted"
    SCALE = "scale"  # only spec.replicas differs
    TEMPLATE = "template"  # the pod template differs: a new revision
    OTHER = "other"  # strategy, minReadySeconds, paused, metadata, a Service's spec, ...


def normalize(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The comparable form of an object: defaulted, without status and runtime-managed fields."""
    kind = obj.get("kind")
    if kind == "Deployment":
        out = default_deployment(dict(obj))
        # the config hash the sync adds to the stored template is not the user's to diff
        out["spec"]["template"] = without_config_hash(out["spec"]["template"])
    elif kind == "Service":
        out = default_service(dict(obj))
    elif kind == "Secret":
        out = default_secret(dict(obj))  # stringData is stored merged into data
    elif kind == "ConfigMap":
        out = copy.deepcopy(dict(obj))
        out.setdefault("metadata", {}).setdefault("namespace", "default")
    else:
        out = copy.deepcopy(dict(obj))
    out.pop("status", None)
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        for key in _DROPPED_METADATA:
            metadata.pop(key, None)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            kept = {
                k: v for k, v in annotations.items() if not k.startswith(_RUNTIME_ANNOTATION_PREFIX)
            }
            if kept:
                metadata["annotations"] = kept
            else:
                del metadata["annotations"]
        if metadata.get("labels") == {}:
            del metadata["labels"]
    return out


def _without(obj: Mapping[str, Any], *paths: tuple[str, ...]) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    for path in paths:
        node: Any = out
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return out


def classify(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> ChangeKind:
    """What kind of change turns ``old`` into ``new`` (both as written or stored).

    A template change wins over everything else, since it is what makes a revision.
    """
    if old is None and new is None:
        return ChangeKind.NONE
    if old is None:
        return ChangeKind.CREATED
    if new is None:
        return ChangeKind.DELETED
    a, b = normalize(old), normalize(new)
    if a == b:
        return ChangeKind.NONE
    if a.get("kind") == "Deployment" and b.get("kind") == "Deployment":
        if a.get("spec", {}).get("template") != b.get("spec", {}).get("template"):
            return ChangeKind.TEMPLATE
        if _without(a, ("spec", "replicas")) == _without(b, ("spec", "replicas")):
            return ChangeKind.SCALE
    return ChangeKind.OTHER


def mask_secrets(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Secret values hidden as ``kubectl diff`` hides them: ``***``, or ``*** (before)`` and
    ``*** (after)`` where a value changed, so a diff says which keys changed and nothing more.

    >>> mask_secrets({"data": {"a": "eA==", "b": "eQ=="}}, {"data": {"a": "eA==", "b": "eg=="}})
    ({'data': {'a': '***', 'b': '*** (before)'}}, {'data': {'a': '***', 'b': '*** (after)'}})
    """
    before = dict((old or {}).get("data") or {})
    after = dict((new or {}).get("data") or {})
    masked = []
    for values, other, label in ((before, after, "before"), (after, before, "after")):
        out = {
            key: "***" if other.get(key, value) == value or key not in other else f"*** ({label})"
            for key, value in values.items()
        }
        masked.append(out)
    results: list[dict[str, Any] | None] = []
    for obj, data in ((old, masked[0]), (new, masked[1])):
        if obj is None:
            results.append(None)
            continue
        copied = copy.deepcopy(dict(obj))
        if data:
            copied["data"] = data
        results.append(copied)
    return results[0], results[1]


def to_yaml(obj: Mapping[str, Any] | None) -> str:
    """YAML with sorted keys (so field order in a file is never a difference); "" for None."""
    if obj is None:
        return ""
    return yaml.safe_dump(dict(obj), sort_keys=True, default_flow_style=False, allow_unicode=True)


def render(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    old_label: str,
    new_label: str,
) -> str:
    """A unified diff of the YAML of ``old`` and ``new`` ("" when they render the same).

    The caller decides whether to normalize first; ``None`` is an absent object (all added or
    all removed lines).
    """
    lines = difflib.unified_diff(
        to_yaml(old).splitlines(keepends=True),
        to_yaml(new).splitlines(keepends=True),
        fromfile=old_label,
        tofile=new_label,
    )
    return "".join(lines)
