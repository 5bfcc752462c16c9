"""Deployments and ReplicaSets as the API server shows them, status included.

A Deployment is the defaulted manifest with the controller's ``status`` (``observedGeneration``,
the replica counts, ``conditions`` with RFC 3339 times; zero counts left out, as Go's
``omitempty`` leaves them out) and the revision annotation; a ReplicaSet is its stored template
under ``spec`` with the Deployment as controlling owner and ``status.replicas`` always present.
Our own bookkeeping (``status.rollout``, the source file) stays out of the object except as the
``reconciler/source`` annotation that says which file and line an object came from.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.apiobjects.meta import drop_empty, finish, owner_reference, rfc3339, uid
from reconciler.engine.serialize import rollout_of
from reconciler.log import redact_env
from reconciler.store import AppliedObject, ReplicaSetRow

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
CHANGE_CAUSE = "kubernetes.io/change-cause"
SOURCE = "reconciler/source"
_COUNTS = (
    "replicas",
    "updatedReplicas",
    "readyReplicas",
    "availableReplicas",
    "unavailableReplicas",
)


def redacted(template: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(template))
    for container in (out.get("spec") or {}).get("containers") or []:
        if isinstance(container, dict) and container.get("env"):
            container["env"] = redact_env(container["env"])
    return out


def object_uid(obj: AppliedObject) -> str:
    return uid(str(obj.ref.kind), obj.ref.namespace, obj.ref.name, obj.created_at)


def replicaset_uid(rs: ReplicaSetRow) -> str:
    return uid("ReplicaSet", rs.namespace, rs.name, rs.created_at)


def _revision(rows: Sequence[ReplicaSetRow], template_hash: str | None) -> int | None:
    for row in rows:
        if row.hash == template_hash:
            return row.revision
    return max((r.revision for r in rows), default=None)


def _times(condition: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(condition)
    for key in ("lastUpdateTime", "lastTransitionTime"):
        if isinstance(out.get(key), int | float):
            out[key] = rfc3339(out[key])
    return out


def base_metadata(obj: AppliedObject, *, generation: bool = False) -> dict[str, Any]:
    """The manifest's metadata plus what the API server adds (uid, creation; ``generation``
    only for kinds whose registry keeps one: Deployments, not Services or ConfigMaps)."""
    metadata = copy.deepcopy(dict(obj.spec.get("metadata") or {}))
    metadata.setdefault("namespace", obj.ref.namespace)
    metadata["creationTimestamp"] = rfc3339(obj.created_at)
    if generation:
        metadata["generation"] = obj.generation
    metadata["uid"] = object_uid(obj)
    metadata.setdefault("annotations", {})[SOURCE] = f"{obj.source}:{obj.line}"
    return metadata


def deployment_object(obj: AppliedObject, rows: Sequence[ReplicaSetRow]) -> dict[str, Any]:
    """The ``apps/v1`` Deployment for ``get deploy -o json|yaml|jsonpath``."""
    out = copy.deepcopy(obj.spec)
    out["metadata"] = metadata = base_metadata(obj, generation=True)
    revision = _revision(rows, rollout_of(obj.status).current_pod_hash or None)
    if revision is not None:
        metadata["annotations"][REVISION] = str(revision)
    spec = out.setdefault("spec", {})
    spec["template"] = redacted(spec.get("template") or {})
    status: dict[str, Any] = {}
    if "observedGeneration" in obj.status:
        status["observedGeneration"] = obj.status["observedGeneration"]
    for key in _COUNTS:
        if obj.status.get(key):
            status[key] = obj.status[key]
    conditions = [_times(c) for c in obj.status.get("conditions") or []]
    if conditions:
        status["conditions"] = conditions
    if obj.status.get("collisionCount"):
        status["collisionCount"] = obj.status["collisionCount"]
    out["status"] = status
    return finish(out)


def replicaset_object(rs: ReplicaSetRow, *, owner_uid: str = "") -> dict[str, Any]:
    """The ``apps/v1`` ReplicaSet of one revision, owned by its Deployment."""
    annotations = {**rs.annotations, REVISION: str(rs.revision)}
    if rs.revision_history:
        annotations[REVISION_HISTORY] = ",".join(map(str, rs.revision_history))
    if rs.change_cause:
        annotations[CHANGE_CAUSE] = rs.change_cause
    labels = dict((rs.template.get("metadata") or {}).get("labels") or {})
    observed = dict(rs.status)
    status = {
        "replicas": int(observed.get("replicas", 0)),
        **drop_empty(
            {
                "availableReplicas": observed.get("availableReplicas"),
                "fullyLabeledReplicas": observed.get("replicas"),
                "readyReplicas": observed.get("readyReplicas"),
            }
        ),
        "observedGeneration": 1,
    }
    return finish(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "annotations": annotations,
                "creationTimestamp": rfc3339(rs.created_at),
                "generation": 1,
                "labels": labels,
                "name": rs.name,
                "namespace": rs.namespace,
                "ownerReferences": [
                    owner_reference(
                        api_version="apps/v1",
                        kind="Deployment",
                        name=rs.deployment,
                        owner_uid=owner_uid,
                    )
                ],
                "uid": replicaset_uid(rs),
            },
            "spec": {
                "replicas": rs.replicas,
                "selector": {"matchLabels": labels},
                "template": redacted(rs.template),
            },
            "status": status,
        }
    )
