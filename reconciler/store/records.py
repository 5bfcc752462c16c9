"""The rows of the store as values, and PodStatus <-> JSON.

Everything the store hands out is a frozen value: the daemon, the engine and the CLI can pass
rows around without worrying that someone mutates what another reads. JSON columns come back
as plain dicts (copies, never shared).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.objects import ObjectRef
from reconciler.revisions import RevisionAction
from reconciler.runtime import ContainerState, ContainerStatus, PodPhase, PodStatus


@dataclass(frozen=True, slots=True)
class AppliedObject:
    """A desired object the daemon has accepted from the folder."""

    ref: ObjectRef
    manifest: dict[str, Any]  # as written in the file
    spec: dict[str, Any]  # the defaulted full object
    source: str
    line: int
    digest: str
    generation: int  # metadata.generation: bumped when the defaulted `spec` section changes
    created_at: float
    updated_at: float
    status: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReplicaSetRow:
    """One ReplicaSet of a deployment: a revision of its pod template."""

    name: str
    namespace: str
    deployment: str
    hash: str
    revision: int
    revision_history: tuple[int, ...]
    template: dict[str, Any]  # with the pod-template-hash label
    change_cause: str
    replicas: int
    annotations: dict[str, str]
    status: dict[str, Any]
    created_at: float


@dataclass(frozen=True, slots=True)
class RevisionResult:
    replicaset: ReplicaSetRow
    action: RevisionAction  # a StrEnum: compares equal to "created" | "reused" | "unchanged"


@dataclass(frozen=True, slots=True)
class PodRecord:
    """A pod as the daemon last observed it."""

    name: str
    namespace: str
    owner: str  # the ReplicaSet's name
    deployment: str
    status: dict[str, Any]  # pod_to_dict(PodStatus)
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class EventRow:
    ref: ObjectRef
    type: str  # Normal | Warning
    reason: str
    message: str
    count: int
    first_seen: float
    last_seen: float
    source: str


@dataclass(frozen=True, slots=True)
class IntentRow:
    """A runtime operation asked for by the CLI (promote, abort, retry, restart, ...)."""

    id: int
    ref: ObjectRef
    action: str
    args: dict[str, Any]
    created_at: float


def _container_to_dict(c: ContainerStatus) -> dict[str, Any]:
    return {
        "name": c.name,
        "image": c.image,
        "state": str(c.state),
        "reason": c.reason,
        "message": c.message,
        "ready": c.ready,
        "restart_count": c.restart_count,
        "last_restart_at": c.last_restart_at,
        "started_at": c.started_at,
        "exit_code": c.exit_code,
        "signal": c.signal,
        "last_exit_code": c.last_exit_code,
        "last_reason": c.last_reason,
        "container_id": c.container_id,
        "image_id": c.image_id,
    }


def _container_from_dict(d: Mapping[str, Any]) -> ContainerStatus:
    return ContainerStatus(
        name=d["name"],
        image=d.get("image", ""),
        state=ContainerState(d.get("state", ContainerState.WAITING)),
        reason=d.get("reason", ""),
        message=d.get("message", ""),
        ready=bool(d.get("ready", False)),
        restart_count=int(d.get("restart_count", 0)),
        last_restart_at=d.get("last_restart_at"),
        started_at=d.get("started_at"),
        exit_code=d.get("exit_code"),
        signal=d.get("signal"),
        last_exit_code=d.get("last_exit_code"),
        last_reason=d.get("last_reason", ""),
        container_id=d.get("container_id", ""),
        image_id=d.get("image_id", ""),
    )


def pod_to_dict(pod: PodStatus) -> dict[str, Any]:
    """A JSON-ready dict of a PodStatus (enums as their strings); inverse of pod_from_dict."""
    return {
        "name": pod.name,
        "namespace": pod.namespace,
        "owner": pod.owner,
        "labels": dict(pod.labels),
        "phase": str(pod.phase),
        "created_at": pod.created_at,
        "containers": [_container_to_dict(c) for c in pod.containers],
        "ready": pod.ready,
        "ready_since": pod.ready_since,
        "terminating": pod.terminating,
        "terminating_since": pod.terminating_since,
        "ip": pod.ip,
        "ports": dict(pod.ports),
        "unschedulable": pod.unschedulable,
        "schedule_attempts": pod.schedule_attempts,
    }


def pod_from_dict(data: Mapping[str, Any]) -> PodStatus:
    """The PodStatus a dict from pod_to_dict describes."""
    return PodStatus(
        name=data["name"],
        namespace=data.get("namespace", "default"),
        owner=data.get("owner", ""),
        labels=dict(data.get("labels") or {}),
        phase=PodPhase(data.get("phase", PodPhase.PENDING)),
        created_at=float(data.get("created_at", 0.0)),
        containers=tuple(_container_from_dict(c) for c in data.get("containers") or ()),
        ready=bool(data.get("ready", False)),
        ready_since=data.get("ready_since"),
        terminating=bool(data.get("terminating", False)),
        terminating_since=data.get("terminating_since"),
        ip=data.get("ip", "127.0.0.1"),
        ports={str(k): int(v) for k, v in (data.get("ports") or {}).items()},
        unschedulable=str(data.get("unschedulable", "")),
        schedule_attempts=int(data.get("schedule_attempts", 0)),
    )
