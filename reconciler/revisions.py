"""Revision identity: the pod-template-hash and the rule that decides which ReplicaSet is new.

Kubernetes ties a revision to the pod template, never to the rest of the spec: scaling,
strategy, ``minReadySeconds`` or ``paused`` never make one (semantics §1.6, §7.2 items 3-4).
This module is pure (no I/O) so every rule is tested as a named case; ``reconciler.store``
applies the decision to its tables.

The worked example everyone should know::

    rev 1 = template A        RS web-<hA> revision 1
    rev 2 = template B        RS web-<hB> revision 2
    back to A                 RS web-<hA> revision 3, revision-history "1"
    rollout history           shows 2 and 3 (1 is gone: that RS now *is* 3)
"""

from __future__ import annotations

import copy
import enum
import json
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

HASH_LABEL = "pod-template-hash"
# k8s.io/apimachinery/pkg/util/rand: no vowels, so a hash never spells a word
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
# deployment_util.go maxRevHistoryLengthInChars
MAX_REVISION_HISTORY_CHARS = 2000

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


class RevisionAction(enum.StrEnum):
    CREATED = "created"  # no ReplicaSet had this template: a new one, revision max+1
    REUSED = "reused"  # an old ReplicaSet had it (a rollback): bumped to max+1
    UNCHANGED = "unchanged"  # the newest ReplicaSet already has it


def _prune_empty(value: Any) -> Any:
    """Drop None, empty maps and empty lists: Kubernetes' semantic equality treats nil == empty."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            pruned = _prune_empty(item)
            if pruned is None or pruned == {} or pruned == []:
                continue
            out[str(key)] = pruned
        return out
    if isinstance(value, list | tuple):
        return [_prune_empty(item) for item in value]
    return value


def strip_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``template`` without the ``pod-template-hash`` label."""
    out = copy.deepcopy(dict(template))
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        labels = metadata.get("labels")
        if isinstance(labels, dict) and HASH_LABEL in labels:
            labels = {k: v for k, v in labels.items() if k != HASH_LABEL}
            metadata["labels"] = labels
    return out


def canonical_template(template: Mapping[str, Any]) -> str:
    """The canonical text of a template: sorted-key JSON without the hash label or empty fields."""
    pruned = _prune_empty(strip_hash(template))
    return json.dumps(pruned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fnv1a_32(data: bytes) -> int:
    """FNV-1a, 32 bits (hash/fnv New32a)."""
    value = _FNV_OFFSET
    for byte in data:
        value ^= byte
        value = (value * _FNV_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each byte of ``text`` -> ``alphanums[byte % 27]``.

    >>> safe_encode("1234")
    '5678'
    """
    return "".join(_ALPHANUMS[ord(ch) % len(_ALPHANUMS)] for ch in text)


def pod_template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """The ``pod-template-hash`` of a pod template (controller.ComputeHash).

    FNV-1a 32 over :func:`canonical_template`, then 8 little-endian bytes of the collision count
    when it is non-zero, then ``SafeEncodeString`` of the decimal sum. Kubernetes hashes a spew
    dump of the Go struct instead of JSON, so a hash here is stable across runs and versions of
    this tool but is *not* the hash a cluster would compute for the same template.
    """
    data = canonical_template(template).encode()
    if collision_count:
        data += struct.pack("<Q", collision_count & 0xFFFFFFFFFFFFFFFF)
    return safe_encode(str(fnv1a_32(data)))


def templates_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """EqualIgnoreHash: equal templates once the hash label is gone (nil and empty are equal)."""
    return canonical_template(a) == canonical_template(b)


def with_hash_label(template: Mapping[str, Any], hash_: str) -> dict[str, Any]:
    """A copy of ``template`` whose labels carry ``pod-template-hash: <hash>``."""
    out = copy.deepcopy(dict(template))
    metadata = out.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    metadata = dict(metadata)
    labels = dict(metadata.get("labels") or {})
    labels[HASH_LABEL] = hash_
    metadata["labels"] = labels
    out["metadata"] = metadata
    return out


def append_revision_history(history: Sequence[int], old_revision: int) -> tuple[int, ...]:
    """Append ``old_revision``, dropping the oldest entries past 2,000 characters.

    Mirrors SetNewReplicaSetAnnotations: the annotation is a comma-separated list.

    >>> append_revision_history((1, 3), 5)
    (1, 3, 5)
    """
    items = [str(n) for n in history]
    new = str(old_revision)
    total = len(",".join(items)) + len(new) + (1 if items else 0)
    start = 0
    while total > MAX_REVISION_HISTORY_CHARS and start < len(items):
        total -= len(items[start]) + 1
        start += 1
    return (*(int(n) for n in items[start:]), old_revision)


@dataclass(frozen=True, slots=True)
class KnownReplicaSet:
    """What the decision needs to know about one existing ReplicaSet of the deployment."""

    name: str
    revision: int
    template: Mapping[str, Any]
    revision_history: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RevisionDecision:
    """What to do for one pod template: which ReplicaSet, which revision, which history."""

    action: RevisionAction
    name: str
    hash: str
    revision: int
    revision_history: tuple[int, ...]
    template: dict[str, Any]  # with the hash label
    collision_count: int


def find_matching(
    template: Mapping[str, Any], replicasets: Sequence[KnownReplicaSet]
) -> KnownReplicaSet | None:
    """The OLDEST ReplicaSet (first in ``replicasets``) whose template equals ``template``."""
    wanted = canonical_template(template)
    for rs in replicasets:
        if canonical_template(rs.template) == wanted:
            return rs
    return None


def decide_revision(
    deployment: str,
    template: Mapping[str, Any],
    *,
    found: KnownReplicaSet | None,
    max_other_revision: int,
    collision_count: int = 0,
    name_taken: Callable[[str], bool] = lambda _name: False,
    hash_fn: Callable[[Mapping[str, Any], int], str] = pod_template_hash,
) -> RevisionDecision:
    """getNewReplicaSet's decision, as a value.

    ``found`` is the oldest ReplicaSet with this template (see :func:`find_matching`);
    ``max_other_revision`` is the highest revision among the *other* ReplicaSets (0 if none);
    ``name_taken`` says whether a ReplicaSet name already exists (a hash collision when no RS
    with this template was found under that name), which bumps ``collision_count``.

    - none found, others up to 2 -> created, revision 3
    - found at revision 1, others up to 2 -> reused, revision 3, history (1,)
    - found at revision 3, others up to 2 -> unchanged
    """
    new_revision = max_other_revision + 1
    if found is not None:
        hash_ = str(found.template.get("metadata", {}).get("labels", {}).get(HASH_LABEL, ""))
        if found.revision >= new_revision:
            return RevisionDecision(
                action=RevisionAction.UNCHANGED,
                name=found.name,
                hash=hash_,
                revision=found.revision,
                revision_history=found.revision_history,
                template=dict(found.template),
                collision_count=collision_count,
            )
        return RevisionDecision(
            action=RevisionAction.REUSED,
            name=found.name,
            hash=hash_,
            revision=new_revision,
            revision_history=append_revision_history(found.revision_history, found.revision),
            template=dict(found.template),
            collision_count=collision_count,
        )
    count = collision_count
    while True:
        hash_ = hash_fn(template, count)
        name = f"{deployment}-{hash_}"
        if not name_taken(name):
            break
        count += 1  # a different template already owns this name: rehash (status.collisionCount)
    return RevisionDecision(
        action=RevisionAction.CREATED,
        name=name,
        hash=hash_,
        revision=new_revision,
        revision_history=(),
        template=with_hash_label(strip_hash(template), hash_),
        collision_count=count,
    )
