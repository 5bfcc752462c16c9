"""Events where Kubernetes puts them: on the object they are about, from the component that saw.

The kubelet reports what happens to a pod's containers on the Pod (``kubelet``), the scheduler
its placement (``default-scheduler``), the ReplicaSet controller the pods it creates and deletes
on the ReplicaSet (``replicaset-controller``), the deployment controller its scaling on the
Deployment. ``kubectl describe pod`` of a crash-looping pod therefore lists the back-offs under
the pod itself. The wording lives here, the calls in the daemon and the executor.
"""

from __future__ import annotations

from reconciler.events.controllers import (
    DEPLOYMENT_CONTROLLER,
    KUBELET,
    REPLICASET_CONTROLLER,
    SCHEDULER,
    SERVICE_CONTROLLER,
    controller_of,
    record_pod_created,
    record_pod_deleted,
)
from reconciler.events.kubelet import KubeletEvents, PodEvent, kubelet_events

__all__ = [
    "DEPLOYMENT_CONTROLLER",
    "KUBELET",
    "REPLICASET_CONTROLLER",
    "SCHEDULER",
    "SERVICE_CONTROLLER",
    "KubeletEvents",
    "PodEvent",
    "controller_of",
    "kubelet_events",
    "record_pod_created",
    "record_pod_deleted",
]
