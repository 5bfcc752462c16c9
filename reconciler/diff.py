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
    elif kind == "Service":
        out = default_service(dict(obj))
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
