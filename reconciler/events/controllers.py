"""The controllers' names and the ReplicaSet controller's events (``SuccessfulCreate``/``Delete``).

As in ``pkg/controller/replicaset/replica_set.go``: every pod the controller creates or deletes
is one event on the ReplicaSet, ``Created pod: web-7d4b9-abcde`` / ``Deleted pod: ...``, from
``replicaset-controller``; the Deployment keeps only its own ``ScalingReplicaSet`` events.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from reconciler.objects import Kind, ObjectRef

DEPLOYMENT_CONTROLLER = "deployment-controller"
REPLICASET_CONTROLLER = "replicaset-controller"
SERVICE_CONTROLLER = "service-controller"
SCHEDULER = "default-scheduler"
KUBELET = "kubelet"

_CONTROLLERS = {
    Kind.DEPLOYMENT: DEPLOYMENT_CONTROLLER,
    Kind.REPLICASET: REPLICASET_CONTROLLER,
    Kind.SERVICE: SERVICE_CONTROLLER,
    Kind.POD: KUBELET,
}


class EventSink(Protocol):
    def transaction(self) -> AbstractContextManager[None]: ...

    def add_event(
        self,
        ref: ObjectRef,
        *,
        type: str,
        reason: str,
        message: str,
        now: float,
        source: str = ...,
    ) -> None: ...


def controller_of(kind: Kind) -> str:
    """The component whose events an object of ``kind`` carries.

    >>> controller_of(Kind.SERVICE)
    'service-controller'
    >>> controller_of(Kind.CONFIGMAP)
    'reconciler'
    """
    return _CONTROLLERS.get(kind, "reconciler")


def record_pod_created(
    store: EventSink, namespace: str, replica_set: str, pod: str, *, now: float
) -> None:
    """``SuccessfulCreate`` on the ReplicaSet: ``Created pod: <pod>``."""
    store.add_event(
        ObjectRef(Kind.REPLICASET, namespace, replica_set),
        type="Normal",
        reason="SuccessfulCreate",
        message=f"Created pod: {pod}",
        now=now,
        source=REPLICASET_CONTROLLER,
    )


def record_pod_deleted(
    store: EventSink, namespace: str, replica_set: str, pod: str, *, now: float
) -> None:
    """``SuccessfulDelete`` on the ReplicaSet: ``Deleted pod: <pod>``."""
    store.add_event(
        ObjectRef(Kind.REPLICASET, namespace, replica_set),
        type="Normal",
        reason="SuccessfulDelete",
        message=f"Deleted pod: {pod}",
        now=now,
        source=REPLICASET_CONTROLLER,
    )
