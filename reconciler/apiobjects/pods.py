"""A pod as the API server shows it: the template's spec on a node, the kubelet's status.

``spec`` is the ReplicaSet template's (defaulted) spec plus ``nodeName``; ``status`` carries the
kubelet's four conditions in the kubelet's order (Initialized, Ready, ContainersReady,
PodScheduled) with their ``lastTransitionTime``, ``startTime``, ``hostIP``/``podIP`` (and the
plural lists), and per container ``containerID``, ``imageID``, ``state``, ``lastState`` and
``started``. A pod being stopped has ``deletionTimestamp`` (when termination began plus the
grace period: the moment the kubelet will kill it, as the API server sets it) and
``deletionGracePeriodSeconds``; that is what tells a script a pod is no longer live.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from reconciler.apiobjects.meta import drop_empty, finish, owner_reference, rfc3339, uid
from reconciler.log import redact_env
from reconciler.runtime import ContainerState, ContainerStatus, PodStatus

NODE_NAME = "localhost"  # the one node; `get pods -o wide` shows the same


def grace_period(template: Mapping[str, Any]) -> int:
    spec = template.get("spec") or {}
    return int(spec.get("terminationGracePeriodSeconds", 30))


def _state(c: ContainerStatus) -> dict[str, Any]:
    if c.state is ContainerState.RUNNING:
        return {"running": drop_empty({"startedAt": rfc3339(c.started_at)})}
    if c.state is ContainerState.TERMINATED:
        terminated = {
            "exitCode": c.exit_code if c.exit_code is not None else 0,
            **drop_empty(
                {
                    "containerID": c.container_id,
                    "reason": c.reason,
                    "message": c.message,
                    "signal": c.signal,
                    "startedAt": rfc3339(c.started_at),
                }
            ),
        }
        return {"terminated": terminated}
    return {"waiting": drop_empty({"reason": c.reason, "message": c.message})}


def _last_state(c: ContainerStatus) -> dict[str, Any]:
    if c.last_exit_code is None or not c.restart_count:
        return {}
    terminated = {"exitCode": c.last_exit_code, **drop_empty({"reason": c.last_reason})}
    if c.last_restart_at:
        terminated["finishedAt"] = rfc3339(c.last_restart_at)
    return {"terminated": terminated}


def _container_status(c: ContainerStatus, *, pod_name: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "image": c.image,
        "imageID": c.image_id or c.image,
        "lastState": _last_state(c),
        "name": c.name,
        "ready": c.ready,
        "restartCount": c.restart_count,
        "started": c.state is ContainerState.RUNNING,
        "state": _state(c),
    }
    if c.container_id or c.state is not ContainerState.WAITING:
        out["containerID"] = c.container_id or f"process://{pod_name}/{c.name}"
    return out


def _condition(kind: str, ok: bool, since: float | None, **why: str) -> dict[str, Any]:
    return {
        "lastProbeTime": None,
        "lastTransitionTime": rfc3339(since),
        **({} if ok else drop_empty(why)),
        "status": "True" if ok else "False",
        "type": kind,
    }


def _conditions(pod: PodStatus) -> list[dict[str, Any]]:
    if pod.unschedulable:
        return [
            _condition(
                "PodScheduled",
                False,
                pod.created_at,
                reason="Unschedulable",
                message=pod.unschedulable,
            )
        ]
    started = [c.started_at for c in pod.containers if c.started_at]
    changed = pod.ready_since if pod.ready else max(started, default=pod.created_at)
    unready = [c.name for c in pod.containers if not c.ready]
    message = f"containers with unready status: [{' '.join(unready)}]"
    return [
        _condition("Initialized", True, pod.created_at),
        _condition("Ready", pod.ready, changed, reason="ContainersNotReady", message=message),
        _condition(
            "ContainersReady",
            not unready,
            changed,
            reason="ContainersNotReady",
            message=message,
        ),
        _condition("PodScheduled", True, pod.created_at),
    ]


def pod_object(
    pod: PodStatus,
    *,
    template: Mapping[str, Any] | None = None,
    owner_uid: str = "",
    host_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The ``v1`` Pod for ``get pod -o json|yaml|jsonpath``; ``template`` is its ReplicaSet's."""
    template = template or {}
    spec = copy.deepcopy(dict(template.get("spec") or {}))
    for container in spec.get("containers") or []:
        if isinstance(container, dict) and container.get("env"):
            container["env"] = redact_env(container["env"])
    if not pod.unschedulable:
        spec["nodeName"] = NODE_NAME
    metadata: dict[str, Any] = {
        "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
        "creationTimestamp": rfc3339(pod.created_at),
        "generateName": f"{pod.owner}-" if pod.owner else "",
        "labels": dict(pod.labels),
        "name": pod.name,
        "namespace": pod.namespace,
        "uid": uid("Pod", pod.namespace, pod.name, pod.created_at),
    }
    if pod.owner:
        metadata["ownerReferences"] = [
            owner_reference(
                api_version="apps/v1", kind="ReplicaSet", name=pod.owner, owner_uid=owner_uid
            )
        ]
    if pod.terminating:
        grace = grace_period(template)
        since = pod.terminating_since or pod.created_at
        metadata["deletionGracePeriodSeconds"] = grace
        metadata["deletionTimestamp"] = rfc3339(since + grace)
    status: dict[str, Any] = {
        "conditions": _conditions(pod),
        "phase": str(pod.phase),
        "qosClass": _qos_class(spec),
    }
    if not pod.unschedulable:
        status |= {
            "containerStatuses": [_container_status(c, pod_name=pod.name) for c in pod.containers],
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": pod.ip,
            "podIPs": [{"ip": pod.ip}],
            "startTime": rfc3339(pod.created_at),
        }
    return finish(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": drop_empty(metadata),
            "spec": spec,
            "status": status,
        }
    )


def _qos_class(spec: Mapping[str, Any]) -> str:
    """``Guaranteed`` when every container's limits equal its requests, ``BestEffort`` with
    none at all, else ``Burstable`` (the kubelet's ``GetPodQOS``, for cpu and memory)."""
    containers = [c for c in spec.get("containers") or [] if isinstance(c, Mapping)]
    any_set, guaranteed = False, bool(containers)
    for container in containers:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        any_set = any_set or bool(requests) or bool(limits)
        for resource in ("cpu", "memory"):
            limit = limits.get(resource)
            if limit is None or str(requests.get(resource, limit)) != str(limit):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
