"""Objects as kubectl shows them, built from the store.

``get``, ``describe`` and ``get -o yaml`` read the same rows; this module turns them into the
words and objects kubectl prints: a pod's STATUS word, a Deployment with its status and
revision annotation, a ReplicaSet. Secret-looking env values are redacted on the way out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from reconciler.engine.serialize import rollout_of, without_rollout
from reconciler.log import redact_env
from reconciler.runtime import ContainerState, PodStatus
from reconciler.store import AppliedObject, ReplicaSetRow
from reconciler.store.records import pod_from_dict

REVISION = "deployment.kubernetes.io/revision"


def rfc3339(ts: float | None) -> str | None:
    if not ts:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_status_word(pod: PodStatus) -> str:
    """kubectl's STATUS column (``printPod``)."""
    if pod.terminating:
        return "Terminating"
    reason = str(pod.phase)
    for container in pod.containers:
        if container.state == ContainerState.WAITING and container.reason:
            return container.reason
        if container.state == ContainerState.TERMINATED:
            if container.reason:
                reason = container.reason
            elif container.signal:
                reason = f"Signal:{container.signal}"
            else:
                reason = f"ExitCode:{container.exit_code}"
    return reason


def pod_ready(pod: PodStatus) -> str:
    return f"{sum(1 for c in pod.containers if c.ready)}/{len(pod.containers)}"


def pods_of(records: list[Any]) -> list[PodStatus]:
    return [pod_from_dict(r.status) for r in records]


def redacted_template(template: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(template))
    for container in out.get("spec", {}).get("containers", []) or []:
        if isinstance(container, dict) and container.get("env"):
            container["env"] = redact_env(container["env"])
    return out


def revision_of(rows: list[ReplicaSetRow], template_hash: str | None) -> int | None:
    for row in rows:
        if row.hash == template_hash:
            return row.revision
    return max((r.revision for r in rows), default=None)


def deployment_object(obj: AppliedObject, rows: list[ReplicaSetRow]) -> dict[str, Any]:
    """The Deployment as ``get -o yaml`` shows it: defaulted spec, status, annotations."""
    out = copy.deepcopy(obj.spec)
    metadata = out.setdefault("metadata", {})
    metadata["generation"] = obj.generation
    metadata["creationTimestamp"] = rfc3339(obj.created_at)
    revision = revision_of(rows, rollout_of(obj.status).current_pod_hash)
    if revision is not None:
        metadata.setdefault("annotations", {})[REVISION] = str(revision)
    metadata.setdefault("annotations", {})["reconciler/source"] = f"{obj.source}:{obj.line}"
    out["spec"]["template"] = redacted_template(out["spec"].get("template", {}))
    status = without_rollout(obj.status)
    for condition in status.get("conditions", []) or []:
        for key in ("lastUpdateTime", "lastTransitionTime"):
            if isinstance(condition.get(key), int | float):
                condition[key] = rfc3339(condition[key])
    out["status"] = status
    return out
