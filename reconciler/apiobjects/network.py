"""Services, their Endpoints and EndpointSlices, and Namespaces as the API server shows them.

A Service gets ``spec.clusterIP`` (the address its proxy listens on: the daemon's bind host),
``clusterIPs``, the IP family fields and ``status.loadBalancer``. The endpoints controller's
views are computed from the pods the Service selects, with the same selector code the data
plane uses: ``Endpoints`` groups addresses that share ports into one subset (every pod here has
its own host ports, so each pod is a subset of its own), Ready pods under ``addresses`` and
the others under ``notReadyAddresses``, terminating pods left out; an ``EndpointSlice`` per
port set lists every pod with its ``ready``/``serving``/``terminating`` conditions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.apiobjects.meta import finish, owner_reference, rfc3339, uid
from reconciler.apiobjects.pods import NODE_NAME
from reconciler.apiobjects.workloads import base_metadata, object_uid
from reconciler.labels import from_map
from reconciler.runtime import PodStatus
from reconciler.store import AppliedObject

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"


def service_object(obj: AppliedObject, *, cluster_ip: str) -> dict[str, Any]:
    out = {k: v for k, v in obj.spec.items() if k != "status"}
    out["metadata"] = base_metadata(obj)
    spec = dict(out.get("spec") or {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    spec["clusterIP"] = cluster_ip
    spec["clusterIPs"] = [cluster_ip]
    spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("ipFamilies", ["IPv6" if ":" in cluster_ip else "IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec["ports"] = [
        {"protocol": "TCP", "targetPort": p.get("port"), **p} for p in spec.get("ports") or []
    ]
    out["spec"] = spec
    out["status"] = {"loadBalancer": {}}
    return finish(out)


def _selected(service: AppliedObject, pods: Iterable[PodStatus]) -> list[PodStatus]:
    spec = service.spec.get("spec") or {}
    selector = from_map(spec.get("selector"), empty_matches=False)
    return sorted(
        (p for p in pods if p.namespace == service.ref.namespace and selector.matches(p.labels)),
        key=lambda p: p.name,
    )


def _ports_of(service: AppliedObject, pod: PodStatus) -> tuple[tuple[str, int, str], ...]:
    """(port name, the pod's host port, protocol) per Service port the pod serves."""
    out = []
    for port in (service.spec.get("spec") or {}).get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        host_port = pod.ports.get(str(target))
        if host_port is not None:
            out.append((str(port.get("name") or ""), host_port, str(port.get("protocol", "TCP"))))
    return tuple(out)


def _target_ref(pod: PodStatus) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "name": pod.name,
        "namespace": pod.namespace,
        "uid": uid("Pod", pod.namespace, pod.name, pod.created_at),
    }


def _port_list(ports: Sequence[tuple[str, int, str]]) -> list[dict[str, Any]]:
    return [
        {**({"name": name} if name else {}), "port": port, "protocol": protocol}
        for name, port, protocol in ports
    ]


def endpoints_object(service: AppliedObject, pods: Iterable[PodStatus]) -> dict[str, Any]:
    """The ``v1`` Endpoints of a Service (named as the Service)."""
    subsets: dict[tuple[tuple[str, int, str], ...], dict[str, list[dict[str, Any]]]] = {}
    for pod in _selected(service, pods):
        ports = _ports_of(service, pod)
        if pod.terminating or not ports:
            continue
        address = {"ip": pod.ip, "nodeName": NODE_NAME, "targetRef": _target_ref(pod)}
        group = subsets.setdefault(ports, {"addresses": [], "notReadyAddresses": []})
        group["addresses" if pod.ready else "notReadyAddresses"].append(address)
    metadata = _derived_metadata(service, service.ref.name)
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata}
    if subsets:
        body["subsets"] = [
            {**{k: v for k, v in group.items() if v}, "ports": _port_list(ports)}
            for ports, group in subsets.items()
        ]
    return finish(body)


def endpoints_cells(endpoints: Mapping[str, Any]) -> str:
    """kubectl's ENDPOINTS column (``formatEndpoints``): 3 ready ``ip:port``, ``+ N more...``"""
    pairs = [
        f"{a['ip']}:{p['port']}"
        for subset in endpoints.get("subsets") or []
        for p in subset.get("ports") or []
        for a in subset.get("addresses") or []
    ]
    if not pairs:
        return "<none>"
    shown = ",".join(pairs[:3])
    return shown + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")


def endpointslice_objects(
    service: AppliedObject, pods: Iterable[PodStatus]
) -> list[dict[str, Any]]:
    """The ``discovery.k8s.io/v1`` EndpointSlices of a Service: one per port set."""
    groups: dict[tuple[tuple[str, int, str], ...], list[PodStatus]] = {}
    for pod in _selected(service, pods):
        ports = _ports_of(service, pod)
        if ports:
            groups.setdefault(ports, []).append(pod)
    out = []
    for ports, members in groups.items():
        digest = hashlib.sha256(repr((service.ref.name, ports)).encode()).hexdigest()
        name = f"{service.ref.name}-{_suffix(digest)}"
        metadata = _derived_metadata(service, name)
        metadata["generateName"] = f"{service.ref.name}-"
        metadata["labels"] = {
            **metadata.get("labels", {}),
            SERVICE_NAME_LABEL: service.ref.name,
            MANAGED_BY: "endpointslice-controller.k8s.io",
        }
        metadata["ownerReferences"] = [
            owner_reference(
                api_version="v1",
                kind="Service",
                name=service.ref.name,
                owner_uid=object_uid(service),
            )
        ]
        endpoints = [
            {
                "addresses": [pod.ip],
                "conditions": {
                    "ready": pod.ready and not pod.terminating,
                    "serving": pod.ready,
                    "terminating": pod.terminating,
                },
                "nodeName": NODE_NAME,
                "targetRef": _target_ref(pod),
            }
            for pod in members
        ]
        slice_ = {
            "addressType": "IPv6" if ":" in members[0].ip else "IPv4",
            "apiVersion": "discovery.k8s.io/v1",
            "endpoints": endpoints,
            "kind": "EndpointSlice",
            "metadata": metadata,
            "ports": _port_list(ports),
        }
        out.append(finish(slice_))
    return out


def _suffix(digest: str) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's rand.String alphabet
    n = int(digest[:16], 16)
    chars = []
    for _ in range(5):
        n, i = divmod(n, len(alphabet))
        chars.append(alphabet[i])
    return "".join(chars)


def _derived_metadata(service: AppliedObject, name: str) -> dict[str, Any]:
    labels = dict((service.spec.get("metadata") or {}).get("labels") or {})
    return {
        "creationTimestamp": rfc3339(service.created_at),
        **({"labels": labels} if labels else {}),
        "name": name,
        "namespace": service.ref.namespace,
        "uid": uid("Endpoints", service.ref.namespace, name, service.created_at),
    }


def namespace_object(name: str, *, created_at: float) -> dict[str, Any]:
    """A ``v1`` Namespace (always ``Active``: we never delete one)."""
    return finish(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "creationTimestamp": rfc3339(created_at),
                "labels": {"kubernetes.io/metadata.name": name},
                "name": name,
                "uid": uid("Namespace", "", name, created_at),
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
    )
