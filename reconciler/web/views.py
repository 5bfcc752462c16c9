"""What the API and the dashboard show, built from the store with the CLI's own functions.

Nothing here re-implements a view: objects come from ``get``'s ``Listing`` (so
``GET /api/v1/namespaces/NS/deployments`` is ``get deployments -o json``), rollout status words,
roles and weights from ``get rollout``'s module, pod STATUS words from ``cli/views.py``, pod
templates and diffs from ``rollout history`` and ``reconciler diff``. This module only arranges
them as JSON for one page: a deployment's document (its phase, canary weights, the Argo-style
tree of revisions, ReplicaSets and pods, and the traffic each revision receives).

Every function takes a Store and plain values (no event loop): the web server runs them on its
reader thread, with its own connection to the database.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.cli.get import Listing
from reconciler.cli.history import describe_pod_template, replicaset_object, revision_template
from reconciler.cli.rollout_tree import (
    _actual_weight,
    _images,
    _roles,
    _rs_health,
    rollout_status_word,
    shown_set_weight,
)
from reconciler.cli.views import pod_ready, pod_status_word
from reconciler.engine.serialize import rollout_of
from reconciler.engine.state import RolloutState
from reconciler.folder import diff as yaml_diff
from reconciler.objects import Kind, ObjectRef, namespaced_name
from reconciler.proxy import ListenerStats
from reconciler.runtime import PodStatus
from reconciler.services.endpoints import selects
from reconciler.store import AppliedObject, ReplicaSetRow, Store
from reconciler.store.records import pod_from_dict

__all__ = [
    "KINDS",
    "ServiceIndex",
    "deployment_document",
    "deployment_documents",
    "group_revisions",
    "history_document",
    "list_json",
    "revision_diff",
    "traffic_by_deployment",
]

# URL words -> kinds, as kubectl spells the plural resources
KINDS = {
    "deployments": Kind.DEPLOYMENT,
    "replicasets": Kind.REPLICASET,
    "pods": Kind.POD,
    "services": Kind.SERVICE,
}


def list_json(
    store: Store, kind: Kind, namespace: str | None, names: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The objects ``get KIND [NAMES] -o json`` prints (all namespaces for None)."""
    if namespace is None:
        spaces = sorted({o.ref.namespace for o in store.list_objects()})
    else:
        spaces = [namespace]
    now = time.time()
    out: list[dict[str, Any]] = []
    for space in spaces:
        out += [item[3] for item in Listing(store, kind, space, names, now).collect({})]
    return out


def _selector_of(obj: AppliedObject) -> dict[str, str]:
    return dict(obj.spec.get("spec", {}).get("selector") or {})


def _template_labels(obj: AppliedObject) -> dict[str, str]:
    template = obj.spec["spec"].get("template") or {}
    return dict((template.get("metadata") or {}).get("labels") or {})


def _named_services(obj: AppliedObject) -> set[str]:
    strategy = obj.spec["spec"].get("strategy") or {}
    named = set()
    for section, keys in (
        ("canary", ("stableService", "canaryService")),
        ("blueGreen", ("activeService", "previewService")),
    ):
        for key in keys:
            value = (strategy.get(section) or {}).get(key)
            if value:
                named.add(str(value))
    return named


class ServiceIndex:
    """Which Deployment stands behind each Service: the strategy names it, or its selector
    picks the Deployment's pods. Built once per snapshot (300 x 300 without an index would
    dominate a scrape)."""

    def __init__(
        self, deployments: Iterable[AppliedObject], services: Iterable[AppliedObject]
    ) -> None:
        self.owner: dict[str, ObjectRef] = {}
        self.services: dict[ObjectRef, list[str]] = {}
        by_label: dict[tuple[str, str, str], list[AppliedObject]] = {}
        deployments = list(deployments)
        for dep in deployments:
            for key, value in _template_labels(dep).items():
                by_label.setdefault((dep.ref.namespace, key, str(value)), []).append(dep)
            for name in _named_services(dep):
                self._own(namespaced_name(dep.ref.namespace, name), dep.ref)
        for svc in services:
            key = svc.ref.namespaced
            selector = _selector_of(svc)
            if key in self.owner or not selector:
                continue
            first_key, first_value = next(iter(selector.items()))
            for dep in by_label.get((svc.ref.namespace, first_key, str(first_value)), []):
                if selects(selector, _template_labels(dep)):
                    self._own(key, dep.ref)
                    break

    def _own(self, service: str, ref: ObjectRef) -> None:
        if service not in self.owner:
            self.owner[service] = ref
            self.services.setdefault(ref, []).append(service)


def group_revisions(rollout: RolloutState, rows: Sequence[ReplicaSetRow]) -> dict[str, str]:
    """A traffic group's name -> the revision it routes to (``stable`` -> "3", ...).

    The proxy counts per group; the rollout state says which ReplicaSet each group is. A group
    named after a ReplicaSet is that one; ``all`` (a Service no strategy routes) has no single
    revision and is left out.
    """
    by_hash = {r.hash: str(r.revision) for r in rows}
    out = {r.name: str(r.revision) for r in rows}
    for group in ("stable", "canary", "active", "preview"):
        revision = by_hash.get(rollout.role_hash(group))
        if revision is not None:
            out[group] = revision
    return out


def _traffic(
    services: Sequence[str],
    stats: Mapping[str, Sequence[ListenerStats]],
    revisions: Mapping[str, str],
) -> list[dict[str, Any]]:
    out = []
    for service in services:
        for listener in stats.get(service, ()):
            out.append(
                {
                    "service": service.split("/", 1)[1],
                    "port": listener.port_name,
                    "refused": listener.refused,
                    "groups": [
                        {
                            "group": g.name,
                            "revision": revisions.get(g.name, ""),
                            "total": g.total,
                            "active": g.active,
                            "failed": g.failed,
                            "bytesIn": getattr(g, "bytes_in", 0),
                            "bytesOut": getattr(g, "bytes_out", 0),
                        }
                        for g in listener.groups
                    ],
                }
            )
    return out


def deployment_document(
    obj: AppliedObject,
    rows: Sequence[ReplicaSetRow],
    pods: Sequence[PodStatus],
    *,
    services: Sequence[str] = (),
    stats: Mapping[str, Sequence[ListenerStats]] | None = None,
    now: float,
) -> dict[str, Any]:
    """One deployment as the dashboard shows it (the ``get rollout`` page, as JSON)."""
    spec, status = obj.spec["spec"], obj.status
    rollout = rollout_of(status)
    strategy = str(spec.get("strategy", {}).get("type", "RollingUpdate"))
    phase, message = rollout_status_word(obj)
    roles = {rs.name: _roles(strategy, rs, rollout) for rs in rows}
    current = next((r for r in rows if r.hash == rollout.current_pod_hash), None)
    canary = None
    if strategy == "Canary":
        steps = (spec["strategy"].get("canary") or {}).get("steps") or []
        canary = {
            "step": rollout.current_step_index,
            "steps": len(steps),
            "setWeight": shown_set_weight(rollout, steps=len(steps)),
            "actualWeight": int(_actual_weight(spec, status, rows, roles)),
        }
    by_owner: dict[str, list[PodStatus]] = {}
    for pod in pods:
        by_owner.setdefault(pod.owner, []).append(pod)
    delays = rollout.scale_down_at
    tree = []
    for revision in sorted({rs.revision for rs in rows}, reverse=True):
        members = sorted((rs for rs in rows if rs.revision == revision), key=lambda r: r.name)
        tree.append(
            {
                "revision": revision,
                "replicaSets": [
                    {
                        "name": rs.name,
                        "hash": rs.hash,
                        "roles": roles[rs.name],
                        "status": _rs_health(rs),
                        "replicas": rs.replicas,
                        "available": int(rs.status.get("availableReplicas", 0) or 0),
                        "scaleDownAt": delays.get(rs.name),
                        "images": [
                            str(c.get("image", ""))
                            for c in (rs.template.get("spec") or {}).get("containers") or []
                        ],
                        "createdAt": rs.created_at,
                        "pods": [
                            {
                                "name": p.name,
                                "status": pod_status_word(p),
                                "ready": pod_ready(p),
                                "restarts": p.restarts,
                                "createdAt": p.created_at,
                            }
                            for p in sorted(
                                by_owner.get(rs.name, []), key=lambda p: (p.created_at, p.name)
                            )
                        ],
                    }
                    for rs in members
                ],
            }
        )
    return {
        "namespace": obj.ref.namespace,
        "name": obj.ref.name,
        "strategy": strategy,
        "phase": phase,
        "message": message,
        "paused": bool(spec.get("paused")),
        "aborted": rollout.aborted,
        "invalid": list(status.get("invalid") or []),
        "revision": current.revision if current else None,
        "images": [{"image": image, "roles": tags} for image, tags in _images(rows, roles)],
        "replicas": {
            "desired": int(spec.get("replicas", 1)),
            "current": int(status.get("replicas", 0) or 0),
            "updated": int(status.get("updatedReplicas", 0) or 0),
            "ready": int(status.get("readyReplicas", 0) or 0),
            "available": int(status.get("availableReplicas", 0) or 0),
        },
        "canary": canary,
        "conditions": list(status.get("conditions") or []),
        "createdAt": obj.created_at,
        "tree": tree,
        "traffic": _traffic(services, stats or {}, group_revisions(rollout, rows)),
        "now": now,
    }


@dataclass(frozen=True, slots=True)
class _World:
    deployments: list[AppliedObject]
    rows: dict[ObjectRef, list[ReplicaSetRow]]
    pods: list[PodStatus]
    index: ServiceIndex


def _world(store: Store, only: set[ObjectRef] | None) -> _World:
    deployments = store.list_objects(Kind.DEPLOYMENT)
    index = ServiceIndex(deployments, store.list_objects(Kind.SERVICE))
    if only is not None:
        deployments = [d for d in deployments if d.ref in only]
    rows: dict[ObjectRef, list[ReplicaSetRow]] = {}
    if only is None:
        for rs in store.list_all_replicasets():
            ref = ObjectRef(Kind.DEPLOYMENT, rs.namespace, rs.deployment)
            rows.setdefault(ref, []).append(rs)
        records = store.list_pods()
    else:  # a few deployments changed: their pods only (by ReplicaSet, an indexed read)
        rows = {d.ref: store.list_replicasets(d.ref) for d in deployments}
        records = [
            p
            for ref, own in rows.items()
            for rs in own
            for p in store.list_pods(ref.namespace, owner=rs.name)
        ]
    pods = [pod_from_dict(r.status) for r in records]
    return _World(deployments, rows, pods, index)


def deployment_documents(
    store: Store,
    *,
    only: set[ObjectRef] | None = None,
    stats: Mapping[str, Sequence[ListenerStats]] | None = None,
) -> list[dict[str, Any]]:
    """Documents of every deployment (or of ``only``), sorted by namespace and name."""
    world = _world(store, only)
    pods_by_ns: dict[str, list[PodStatus]] = {}
    for pod in world.pods:
        pods_by_ns.setdefault(pod.namespace, []).append(pod)
    now = time.time()
    return [
        deployment_document(
            obj,
            world.rows.get(obj.ref, []),
            pods_by_ns.get(obj.ref.namespace, []),
            services=world.index.services.get(obj.ref, []),
            stats=stats,
            now=now,
        )
        for obj in world.deployments
    ]


def history_document(store: Store, ref: ObjectRef) -> list[dict[str, Any]]:
    """Every revision: its cause, images, and the pod template ``rollout history`` prints."""
    out = []
    for rs in sorted(store.list_replicasets(ref), key=lambda r: r.revision):
        template = replicaset_object(rs)["spec"]["template"]  # secret-looking env redacted
        out.append(
            {
                "revision": rs.revision,
                "replicaSet": rs.name,
                "changeCause": rs.change_cause,
                "createdAt": rs.created_at,
                "images": [
                    str(c.get("image", ""))
                    for c in (template.get("spec") or {}).get("containers") or []
                ],
                "template": describe_pod_template(
                    {**revision_template(rs), "spec": template.get("spec", {})}
                ),
            }
        )
    return out


def revision_diff(store: Store, ref: ObjectRef, old: int, new: int) -> str | None:
    """A unified diff of two revisions' pod templates (None when one does not exist)."""
    by_revision = {rs.revision: rs for rs in store.list_replicasets(ref)}
    if old not in by_revision or new not in by_revision:
        return None

    def template(revision: int) -> dict[str, Any]:
        rs = by_revision[revision]
        out = replicaset_object(rs)["spec"]["template"]
        labels = (out.get("metadata") or {}).get("labels") or {}
        labels.pop("pod-template-hash", None)  # differs by definition: not a change to show
        return dict(out)

    return yaml_diff.render(
        template(old),
        template(new),
        old_label=f"{ref.name} revision {old}",
        new_label=f"{ref.name} revision {new}",
    )


def traffic_by_deployment(
    store: Store, stats: Mapping[str, Sequence[ListenerStats]]
) -> dict[str, list[dict[str, Any]]]:
    """``{"namespace/name": traffic}`` of every deployment behind a listening Service."""
    deployments = store.list_objects(Kind.DEPLOYMENT)
    index = ServiceIndex(deployments, store.list_objects(Kind.SERVICE))
    out = {}
    for obj in deployments:
        services = index.services.get(obj.ref, [])
        if not any(s in stats for s in services):
            continue
        revisions = group_revisions(rollout_of(obj.status), store.list_replicasets(obj.ref))
        out[obj.ref.namespaced] = _traffic(services, stats, revisions)
    return out
