"""What ``get`` lists: each resource type's rows, wide cells, labels and API object.

One ``Item`` per object, from one read of the store (``Snapshot``), so a table, ``-o name``,
``-o json`` and a selector all see the same objects. The resource types are kubectl's
(``pods``, ``services``, ``deployments.apps``, ``replicasets.apps``, ``endpoints``,
``endpointslices.discovery.k8s.io``, ``namespaces``, ``configmaps``, ``secrets``), listed in the
API server's order: by namespace, then name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler import apiobjects as api
from reconciler.apiobjects.meta import finish
from reconciler.apiobjects.workloads import base_metadata
from reconciler.cli import output
from reconciler.cli.configviews import HEADERS as CONFIG_HEADERS
from reconciler.cli.configviews import config_rows
from reconciler.cli.drift_view import drifted_cells
from reconciler.cli.views import pod_ready, pod_status_word, pods_of
from reconciler.folder.drift import drift_of, held_keys
from reconciler.objects import Kind
from reconciler.runtime import PodStatus
from reconciler.store import AppliedObject, ReplicaSetRow, Store

Row = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Item:
    """One object as ``get`` shows it."""

    resource: Resource
    namespace: str
    name: str
    row: Row  # NAME first, AGE last
    wide: Row
    obj: dict[str, Any]

    @property
    def display(self) -> str:
        """The name printer's ``TYPE/NAME`` (``deployment.apps/web``)."""
        return f"{self.resource.prefix}/{self.name}"

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.obj.get("metadata") or {}).get("labels") or {})


@dataclass(frozen=True, slots=True)
class Resource:
    plural: str  # "deployments"
    prefix: str  # the name printer's type: "deployment.apps"
    group_version: str  # "apps/v1"
    headers: Row
    wide_headers: Row
    fields: frozenset[str]  # what --field-selector accepts (the API server's field labels)
    namespaced: bool = True

    @property
    def not_found(self) -> str:
        """kubectl's ``deployments.apps "x" not found`` resource word."""
        group = self.group_version.rpartition("/")[0]
        return f"{self.plural}.{group}" if group else self.plural

    @property
    def gvr(self) -> str:
        """A GroupVersionResource as kubectl prints it: ``apps/v1, Resource=deployments``."""
        group_version = (
            self.group_version if "/" in self.group_version else f"/{self.group_version}"
        )
        return f"{group_version}, Resource={self.plural}"


_META = frozenset({"metadata.name", "metadata.namespace"})
_POD_FIELDS = _META | {
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
}

RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        Resource(
            "pods",
            "pod",
            "v1",
            ("NAME", "READY", "STATUS", "RESTARTS", "AGE"),
            ("IP", "NODE", "NOMINATED NODE", "READINESS GATES"),
            _POD_FIELDS,
        ),
        Resource(
            "services",
            "service",
            "v1",
            ("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"),
            ("SELECTOR",),
            _META,
        ),
        Resource(
            "deployments",
            "deployment.apps",
            "apps/v1",
            ("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"),
            ("CONTAINERS", "IMAGES", "SELECTOR"),
            _META,
        ),
        Resource(
            "replicasets",
            "replicaset.apps",
            "apps/v1",
            ("NAME", "DESIRED", "CURRENT", "READY", "AGE"),
            ("CONTAINERS", "IMAGES", "SELECTOR"),
            _META | {"status.replicas"},
        ),
        Resource("endpoints", "endpoints", "v1", ("NAME", "ENDPOINTS", "AGE"), (), _META),
        Resource(
            "endpointslices",
            "endpointslice.discovery.k8s.io",
            "discovery.k8s.io/v1",
            ("NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"),
            (),
            _META,
        ),
        Resource(
            "namespaces",
            "namespace",
            "v1",
            ("NAME", "STATUS", "AGE"),
            (),
            frozenset({"metadata.name", "status.phase"}),
            namespaced=False,
        ),
        Resource(
            "configmaps", "configmap", "v1", tuple(CONFIG_HEADERS[Kind.CONFIGMAP][0]), (), _META
        ),
        Resource(
            "secrets",
            "secret",
            "v1",
            tuple(CONFIG_HEADERS[Kind.SECRET][0]),
            (),
            _META | {"type"},
        ),
    )
}

ALIASES: dict[str, str] = {
    **{r: r for r in RESOURCES},
    **{r[:-1]: r for r in RESOURCES if r != "endpoints"},
    "endpoints": "endpoints",
    "endpoint": "endpoints",
    "ep": "endpoints",
    "po": "pods",
    "svc": "services",
    "deploy": "deployments",
    "rs": "replicasets",
    "ns": "namespaces",
    "cm": "configmaps",
}
ALL = ("pods", "services", "deployments", "replicasets")  # kubectl's "all" category, our kinds


def _images(template: Mapping[str, Any]) -> tuple[str, str]:
    containers = (template.get("spec") or {}).get("containers") or []
    return (
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
    )


def _sel_text(labels: Mapping[str, Any] | None) -> str:
    selector = (labels or {}).get("matchLabels", labels) if labels else None
    return ",".join(f"{k}={v}" for k, v in sorted((selector or {}).items())) or "<none>"


class Snapshot:
    """One read of the store for a ``get``: pods, ReplicaSets and owners, looked up once."""

    def __init__(self, store: Store, *, now: float) -> None:
        self.store, self.now = store, now

    @functools.cached_property
    def pods(self) -> list[PodStatus]:
        return pods_of(self.store.list_pods(None))

    @functools.cached_property
    def replicasets(self) -> dict[tuple[str, str], ReplicaSetRow]:
        return {(r.namespace, r.name): r for r in self.store.list_all_replicasets(None)}

    @functools.cached_property
    def bind(self) -> str:
        return self.store.get_meta("bind") or "127.0.0.1"

    def objects(self, kind: Kind, namespace: str | None) -> list[AppliedObject]:
        return self.store.list_objects(kind, namespace)

    def namespaces(self) -> dict[str, float]:
        """Every namespace in use, with its first object's creation ("default" always)."""
        out: dict[str, float] = {}
        for obj in self.store.list_objects():
            out[obj.ref.namespace] = min(out.get(obj.ref.namespace, obj.created_at), obj.created_at)
        for pod in self.pods:
            out[pod.namespace] = min(out.get(pod.namespace, pod.created_at), pod.created_at)
        if "default" not in out:
            out["default"] = min(out.values(), default=self.now)
        return out


def _age(since: float | None, now: float) -> str:
    return output.age(since, now)


def _deployments(snap: Snapshot, namespace: str | None) -> Iterable[Item]:
    held = held_keys(snap.store)
    resource = RESOURCES["deployments"]
    for obj in snap.objects(Kind.DEPLOYMENT, namespace):
        spec, status = obj.spec["spec"], obj.status
        rows = snap.store.list_replicasets(obj.ref)
        names, images = _images(spec.get("template") or {})
        updated, images = drifted_cells(
            drift_of(obj, rows, held=held), str(status.get("updatedReplicas", 0)), images
        )
        row = (
            obj.ref.name,
            f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            updated,
            str(status.get("availableReplicas", 0)),
            _age(obj.created_at, snap.now),
        )
        wide = (names, images, _sel_text(spec.get("selector")))
        shaped = api.deployment_object(obj, rows)
        yield Item(resource, obj.ref.namespace, obj.ref.name, row, wide, shaped)


def _replicasets(snap: Snapshot, namespace: str | None) -> Iterable[Item]:
    resource = RESOURCES["replicasets"]
    owners = {(o.ref.namespace, o.ref.name): o for o in snap.objects(Kind.DEPLOYMENT, namespace)}
    for (space, name), rs in sorted(snap.replicasets.items()):
        if namespace is not None and space != namespace:
            continue
        owner = owners.get((space, rs.deployment))
        labels = (rs.template.get("metadata") or {}).get("labels") or {}
        names, images = _images(rs.template)
        row = (
            name,
            str(rs.replicas),
            str(rs.status.get("replicas", 0)),
            str(rs.status.get("readyReplicas", 0)),
            _age(rs.created_at, snap.now),
        )
        owner_uid = api.object_uid(owner) if owner else ""
        shaped = api.replicaset_object(rs, owner_uid=owner_uid)
        yield Item(resource, space, name, row, (names, images, _sel_text(labels)), shaped)


def _pods(snap: Snapshot, namespace: str | None) -> Iterable[Item]:
    resource = RESOURCES["pods"]
    for pod in sorted(snap.pods, key=lambda p: (p.namespace, p.name)):
        if namespace is not None and pod.namespace != namespace:
            continue
        restarts = str(pod.restarts)
        last = max((c.last_restart_at or 0 for c in pod.containers), default=0)
        if pod.restarts and last:
            restarts += f" ({output.human_duration(snap.now - last)} ago)"
        row = (
            pod.name,
            pod_ready(pod),
            pod_status_word(pod),
            restarts,
            _age(pod.created_at, snap.now),
        )
        node = "<none>" if pod.unschedulable else api.NODE_NAME
        wide = (pod.ip or "<none>", node, "<none>", "<none>")
        rs = snap.replicasets.get((pod.namespace, pod.owner))
        shaped = api.pod_object(
            pod,
            template=rs.template if rs else None,
            owner_uid=api.replicaset_uid(rs) if rs else "",
            host_ip=snap.bind,
        )
        yield Item(resource, pod.namespace, pod.name, row, wide, shaped)


def _port_cell(port: Mapping[str, Any]) -> str:
    node = f":{port['nodePort']}" if port.get("nodePort") else ""
    return f"{port['port']}{node}/{port.get('protocol', 'TCP')}"


def _services(snap: Snapshot, namespace: str | None) -> Iterable[Item]:
    resource = RESOURCES["services"]
    for obj in snap.objects(Kind.SERVICE, namespace):
        spec = obj.spec.get("spec") or {}
        ports = ",".join(_port_cell(p) for p in spec.get("ports") or [])
        row = (
            obj.ref.name,
            str(spec.get("type", "ClusterIP")),
            snap.bind,
            "<none>",
            ports or "<none>",
            _age(obj.created_at, snap.now),
        )
        shaped = api.service_object(obj, cluster_ip=snap.bind)
        yield Item(
            resource,
            obj.ref.namespace,
            obj.ref.name,
            row,
            (_sel_text(spec.get("selector")),),
            shaped,
        )


def _endpoints(snap: Snapshot, namespace: str | None) -> Iterable[Item]:
    resource = RESOURCES["endpoints"]
    for obj in snap.objects(Kind.SERVICE, namespace):
        shaped = api.endpoints_object(obj, snap.pods)
        row = (obj.ref.name, api.endpoints_cells(shaped), _age(obj.created_at, snap.now))
        yield Item(resource, obj.ref.namespace, obj.ref.name, row, (), shaped)


def _slice_cells(items: Sequence[str]) -> str:
    if not items:
        return "<unset>"
    return ",".join(items[:3]) + (f" + {len(items) - 3} more..." if len(items) > 3 else "")


def _endpointslices(snap: Snapshot, namespace: str | None) -> Iterable[Item]:
    resource = RESOURCES["endpointslices"]
    for obj in snap.objects(Kind.SERVICE, namespace):
        for shaped in api.endpointslice_objects(obj, snap.pods):
            name = shaped["metadata"]["name"]
            ports = [str(p["port"]) for p in shaped.get("ports") or []]
            addresses = [a for e in shaped.get("endpoints") or [] for a in e["addresses"]]
            row = (
                name,
                str(shaped["addressType"]),
                _slice_cells(ports),
                _slice_cells(addresses),
                _age(obj.created_at, snap.now),
            )
            yield Item(resource, obj.ref.namespace, name, row, (), shaped)


def _namespaces(snap: Snapshot, namespace: str | None) -> Iterable[Item]:
    resource = RESOURCES["namespaces"]
    for name, created in sorted(snap.namespaces().items()):
        row = (name, "Active", _age(created, snap.now))
        yield Item(resource, "", name, row, (), api.namespace_object(name, created_at=created))


def _configs(kind: Kind) -> Callable[[Snapshot, str | None], Iterable[Item]]:
    resource = RESOURCES["configmaps" if kind is Kind.CONFIGMAP else "secrets"]

    def collect(snap: Snapshot, namespace: str | None) -> Iterable[Item]:
        spaces = [namespace] if namespace is not None else sorted(snap.namespaces())
        for space in spaces:
            objects = {o.ref.name: o for o in snap.objects(kind, space)}
            for _, row, _, _ in config_rows(
                snap.store, kind, space, names=[], selector={}, now=snap.now
            ):
                obj = objects[row[0]]
                shaped = {k: v for k, v in obj.spec.items() if k != "status"}
                shaped["metadata"] = base_metadata(obj)
                yield Item(resource, space, row[0], tuple(row), (), finish(shaped))

    return collect


COLLECTORS: dict[str, Callable[[Snapshot, str | None], Iterable[Item]]] = {
    "pods": _pods,
    "services": _services,
    "deployments": _deployments,
    "replicasets": _replicasets,
    "endpoints": _endpoints,
    "endpointslices": _endpointslices,
    "namespaces": _namespaces,
    "configmaps": _configs(Kind.CONFIGMAP),
    "secrets": _configs(Kind.SECRET),
}


def collect(snap: Snapshot, resource: Resource, namespace: str | None) -> list[Item]:
    """Every object of one type in ``namespace`` (None: all namespaces), in the API's order."""
    items = list(COLLECTORS[resource.plural](snap, namespace))
    return sorted(items, key=lambda i: (i.namespace, i.name))
