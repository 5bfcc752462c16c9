"""Objects as the Kubernetes API server would serve them, built from the store's rows.

Scripts read ``kubectl get -o json|yaml|jsonpath|custom-columns`` with ``jq`` and templates; they
rely on the API's shapes: ``kind: List`` for collections, ``metadata.uid``, ``resourceVersion``,
``deletionTimestamp`` on a terminating pod, ``ownerReferences``, a pod's ``spec`` and its
``status.conditions``. This package is pure (rows in, dicts out) so each shape is pinned by a
golden test; the CLI only chooses which rows to shape.
"""

from __future__ import annotations

from reconciler.apiobjects.meta import as_list, rfc3339, sort_keys, uid
from reconciler.apiobjects.network import (
    endpoints_cells,
    endpoints_object,
    endpointslice_objects,
    namespace_object,
    service_object,
)
from reconciler.apiobjects.pods import NODE_NAME, grace_period, pod_object
from reconciler.apiobjects.workloads import (
    deployment_object,
    object_uid,
    replicaset_object,
    replicaset_uid,
)

__all__ = [
    "NODE_NAME",
    "as_list",
    "deployment_object",
    "endpoints_cells",
    "endpoints_object",
    "endpointslice_objects",
    "grace_period",
    "namespace_object",
    "object_uid",
    "pod_object",
    "replicaset_object",
    "replicaset_uid",
    "rfc3339",
    "service_object",
    "sort_keys",
    "uid",
]
