"""The imperative shell around the planners: observe, plan, apply.

``Executor.reconcile(ref)`` is one level-triggered pass for one Deployment:

1. observe: the applied spec and status from the store, its ReplicaSets, its pods from the
   runtime, pending intents;
2. record the revision of the current pod template (unless paused), so the RS the planner
   calls "new" exists;
3. ``plan(view, now)`` — pure;
4. apply: scale or delete ReplicaSets in the store, stop pods, record events and status;
5. the ReplicaSet controller: for each RS, start or stop pods until they match its replicas.

Only this module (with the runtime and the proxy) has effects. Pods that are stopped leave the
Service endpoints *first* (``on_pod_leaving``), then get their SIGTERM.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.engine.context import earliest
from reconciler.engine.dispatch import plan
from reconciler.engine.model import (
    DeletePod,
    DeleteReplicaSet,
    DeploymentView,
    Intent,
    Plan,
    PodView,
    ReplicaSetView,
    ScaleReplicaSet,
)
from reconciler.engine.podconfig import config_now_resolves, pod_config
from reconciler.engine.replicaset import plan_pods
from reconciler.events import record_pod_created, record_pod_deleted
from reconciler.folder.broken import carry_manifest_state
from reconciler.folder.changecause import change_cause
from reconciler.labels import from_map
from reconciler.log import get_logger
from reconciler.manifests.configdata import (
    changed_objects,
    template_annotation,
    without_config_hash,
)
from reconciler.manifests.load import read_regular_file
from reconciler.objects import Kind, ObjectRef
from reconciler.revisions import templates_equal
from reconciler.runtime import PodConfig, PodSpec, PodStatus, Runtime
from reconciler.store import EngineStore, IntentRow, ReplicaSetRow

POD_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

log = get_logger(component="executor")


def pod_name(replica_set: str) -> str:
    """``<rs>-<5 random chars>`` from Kubernetes' vowel-free alphabet."""
    suffix = "".join(secrets.choice(POD_SUFFIX_ALPHABET) for _ in range(5))
    return f"{replica_set}-{suffix}"


def pod_view(pod: PodStatus) -> PodView:
    waiting = next((c for c in pod.containers if c.reason and c.state == "Waiting"), None)
    return PodView(
        name=pod.name,
        created_at=pod.created_at,
        ready=pod.ready,
        ready_since=pod.ready_since,
        terminating=pod.terminating,
        phase=str(pod.phase),
        waiting_reason=waiting.reason if waiting else "",
        waiting_message=waiting.message if waiting else "",
        restarts=pod.restarts,
    )


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> bool:
    return from_map(selector, empty_matches=False).matches(labels)


@dataclass(frozen=True, slots=True)
class PassResult:
    plan: Plan | None
    spec: Mapping[str, Any] | None
    requeue_after: float | None
    acted: bool


def _file_sha256(path: str) -> str:
    """The file's sha256 ("" if it is not a regular file): run in a worker thread."""
    # never a plain read: the file may have been replaced by a FIFO, which would block this
    # thread forever (and, through it, the daemon's worker and its shutdown)
    data = read_regular_file(path)
    return hashlib.sha256(data).hexdigest() if data is not None else ""


class Executor:
    def __init__(
        self,
        *,
        store: EngineStore,
        runtime: Runtime,
        now: Callable[[], float],
        on_pod_leaving: Callable[[str], None],
        analysis_failures: Callable[[ObjectRef, str], int] = lambda ref, rs_hash: 0,
        analysis_message: Callable[[ObjectRef, str], str] = lambda ref, rs_hash: "",
    ) -> None:
        self.store = store
        self.runtime = runtime
        self.now = now
        self.on_pod_leaving = on_pod_leaving
        self.analysis_failures = analysis_failures
        self.analysis_message = analysis_message
        self._starting: set[str] = set()

    # -- observe ----------------------------------------------------------------------------

    def _pods_by_owner(self, namespace: str) -> dict[str, list[PodStatus]]:
        by_owner: dict[str, list[PodStatus]] = {}
        for pod in self.runtime.pods():
            if pod.namespace == namespace:
                by_owner.setdefault(pod.owner, []).append(pod)
        return by_owner

    @staticmethod
    def _rs_view(row: ReplicaSetRow, pods: Sequence[PodStatus]) -> ReplicaSetView:
        return ReplicaSetView(
            name=row.name,
            hash=row.hash,
            revision=row.revision,
            replicas=row.replicas,
            annotations=dict(row.annotations),
            created_at=row.created_at,
            pods=tuple(pod_view(p) for p in sorted(pods, key=lambda p: (p.created_at, p.name))),
        )

    async def _record_revision(self, ref: ObjectRef, obj: Any, rows: list[ReplicaSetRow]) -> str:
        """Make sure the RS of the current template exists; return its hash."""
        template = obj.spec["spec"]["template"]
        newest = max(rows, key=lambda r: r.revision, default=None)
        if newest is not None and templates_equal(newest.template, template):
            return newest.hash
        # the file is read off the loop (it may block); the store is asked on the loop, never from
        # the worker thread, while a transaction of the loop's may be open on the connection
        file_sha = await asyncio.to_thread(_file_sha256, obj.source)
        cause = self._change_cause(obj, file_sha256=file_sha)
        if newest is not None:
            # a ConfigMap or Secret the pods use changed (reconciler.folder.configsync): say which
            changed = changed_objects(
                template_annotation(newest.template), template_annotation(template)
            )
            if changed and templates_equal(
                without_config_hash(newest.template), without_config_hash(template)
            ):
                cause = ", ".join(changed)
            elif changed:
                cause = f"{cause} (and {', '.join(changed)})"
        result = self.store.record_revision(ref, template, change_cause=cause, now=self.now())
        rs = result.replicaset
        log.info(
            "revision_recorded",
            deployment=ref.key,
            replica_set=rs.name,
            revision=rs.revision,
            action=str(result.action),
            change_cause=cause,
        )
        return rs.hash

    def _change_cause(self, obj: Any, *, file_sha256: str) -> str:
        """The annotation, else the CLI command that wrote the file, else git, else the path."""
        command = self.store.command_for(source=obj.source, file_sha256=file_sha256)
        return change_cause(obj=obj.manifest, source=obj.source, digest=obj.digest, command=command)

    # -- one pass ---------------------------------------------------------------------------

    async def reconcile(self, ref: ObjectRef, intents: Sequence[IntentRow] = ()) -> PassResult:
        obj = self.store.get_object(ref)
        if obj is None:
            return PassResult(None, None, None, await self._wind_down(ref))
        rows = self.store.list_replicasets(ref)
        spec = obj.spec["spec"]
        if not spec.get("paused") or not rows:
            template_hash = await self._record_revision(ref, obj, rows)
            rows = self.store.list_replicasets(ref)
        else:
            template_hash = max(rows, key=lambda r: r.revision).hash
        by_owner = self._pods_by_owner(ref.namespace)
        labels = spec["template"].get("metadata", {}).get("labels", {})
        services = tuple(
            s.ref.name
            for s in self.store.list_objects(Kind.SERVICE, ref.namespace)
            if selects(s.spec.get("spec", {}).get("selector"), labels)
        )
        view = DeploymentView(
            namespace=ref.namespace,
            name=ref.name,
            generation=obj.generation,
            spec=spec,
            template_hash=template_hash,
            replica_sets=tuple(self._rs_view(r, by_owner.get(r.name, ())) for r in rows),
            status=obj.status,
            services=services,
            intents=tuple(Intent(id=i.id, action=i.action, args=dict(i.args)) for i in intents),
            analysis_failures=self.analysis_failures(ref, template_hash),
            analysis_message=self.analysis_message(ref, template_hash),
        )
        now = self.now()
        result = plan(view, now=now)
        acted = await self._apply(ref, obj, result, rows, now=now)
        # Observe the pods again: the plan may have just stopped some (they are terminating
        # now), and the RS controller must not count them as still there.
        pods_acted, pods_requeue = await self._sync_pods(ref, obj)
        requeue = earliest(result.requeue_after, pods_requeue)
        return PassResult(result, spec, requeue, acted or pods_acted)

    async def _apply(
        self, ref: ObjectRef, obj: Any, result: Plan, rows: list[ReplicaSetRow], *, now: float
    ) -> bool:
        by_name = {r.name: r for r in rows}
        acted = False
        bound = log.bind(deployment=ref.key)
        with self.store.transaction():
            for action in result.actions:
                if isinstance(action, ScaleReplicaSet):
                    row = by_name.get(action.name)
                    if row is None:
                        bound.warning("scale_unknown_replica_set", replica_set=action.name)
                        continue
                    annotations = {**row.annotations, **action.annotations}
                    if row.replicas != action.replicas or annotations != row.annotations:
                        self.store.set_replicaset(
                            ref.namespace,
                            action.name,
                            replicas=action.replicas,
                            annotations=annotations,
                        )
                        acted = acted or row.replicas != action.replicas
                        if row.replicas != action.replicas:
                            bound.info(
                                "scaled",
                                replica_set=action.name,
                                from_=row.replicas,
                                to=action.replicas,
                            )
                elif isinstance(action, DeleteReplicaSet):
                    self.store.delete_replicaset(ref.namespace, action.name)
                    bound.info("replica_set_deleted", replica_set=action.name)
                    acted = True
            for event in result.events:
                self.store.add_event(
                    ref, type=event.type, reason=event.reason, message=event.message, now=now
                )
            current = self.store.get_object(ref)  # the daemon's word on the manifest since
            status = carry_manifest_state((current or obj).status, result.status)
            self.store.set_status(ref, status)
            for intent_id in result.consumed_intents:
                self.store.finish_intent(intent_id, result="done", now=now)
        for action in result.actions:
            if isinstance(action, DeletePod):
                await self.stop_pod(action.name)
                acted = True
        return acted

    async def stop_pod(self, name: str) -> None:
        self.on_pod_leaving(name)  # out of the endpoints before the SIGTERM
        await self.runtime.stop_pod(name)

    # -- the ReplicaSet controller ------------------------------------------------------------

    async def _sync_pods(
        self, ref: ObjectRef, obj: Any, by_owner: Mapping[str, Sequence[PodStatus]] | None = None
    ) -> tuple[bool, float | None]:
        rows = self.store.list_replicasets(ref)
        if by_owner is None:
            by_owner = self._pods_by_owner(ref.namespace)
        now = self.now()
        acted = False
        requeue: float | None = None
        base_dir = Path(obj.source).parent if obj is not None else Path.cwd()
        newest = max((r.revision for r in rows), default=0)
        with self.store.transaction():
            for row in rows:
                pods = by_owner.get(row.name, ())
                view = self._rs_view(row, pods)
                pod_plan = plan_pods(view, now=now)
                requeue = earliest(requeue, pod_plan.requeue_after)
                for name in pod_plan.delete:
                    await self.stop_pod(name)
                    record_pod_deleted(self.store, ref.namespace, row.name, name, now=now)
                    acted = True
                # The missing ConfigMap, Secret or key is there now: a new pod gets it. Only
                # the newest revision's pods: when the object's arrival changed the config hash,
                # that revision is the new one, and the rollout replaces the older pods once.
                resolved = (
                    config_now_resolves(self.store, ref.namespace, row, pods)
                    if row.revision == newest
                    else []
                )
                for name in resolved:
                    log.info("pod_config_available", deployment=ref.key, pod=name)
                    await self.stop_pod(name)
                    record_pod_deleted(self.store, ref.namespace, row.name, name, now=now)
                    acted = True
                for _ in range(pod_plan.start):
                    started = await self._start_pod(ref, row, base_dir)
                    record_pod_created(self.store, ref.namespace, row.name, started, now=now)
                    acted = True
                status = _rs_status(pods, obj, now=now)
                if status != row.status:
                    self.store.set_replicaset(ref.namespace, row.name, status=status)
        return acted, requeue

    async def _start_pod(self, ref: ObjectRef, row: ReplicaSetRow, base_dir: Path) -> str:
        name = pod_name(row.name)
        labels = dict(row.template.get("metadata", {}).get("labels", {}))
        spec = PodSpec(
            name=name,
            namespace=ref.namespace,
            owner=row.name,
            labels=labels,
            template=row.template,
            base_dir=base_dir,
            config=self.pod_config(ref.namespace, row.template),
        )
        await self.runtime.start_pod(spec)
        log.info("pod_started", deployment=ref.key, replica_set=row.name, pod=name)
        return name

    async def refresh_config_volumes(self, namespace: str) -> None:
        """A ConfigMap or Secret of ``namespace`` changed: rewrite the configMap and secret
        volumes of its running pods in place, as the kubelet does. A Deployment that opted out
        of the roll on config change sees the new files this way; one that rolls sees them
        until its pods are replaced."""
        for pod in self.runtime.pods():
            if pod.namespace != namespace or pod.terminating or not pod.owner:
                continue
            row = self.store.get_replicaset(namespace, pod.owner)
            if row is None or not _has_config_volumes(row.template):
                continue
            config = self.pod_config(namespace, row.template)
            await self.runtime.update_pod_config(pod.name, config)

    def pod_config(self, namespace: str, template: Mapping[str, Any]) -> PodConfig:
        """What the pod's template uses, as it is now (``reconciler.engine.podconfig``)."""
        return pod_config(self.store, namespace, template)

    async def _wind_down(self, ref: ObjectRef) -> bool:
        """The Deployment is gone: stop its pods, then forget its ReplicaSets."""
        rows = self.store.list_replicasets(ref)
        if not rows:
            return False
        by_owner = self._pods_by_owner(ref.namespace)
        acted = False
        for row in rows:
            pods = [p for p in by_owner.get(row.name, ()) if not p.terminating]
            for pod in pods:
                await self.stop_pod(pod.name)
                acted = True
            if not by_owner.get(row.name):
                self.store.delete_replicaset(ref.namespace, row.name)
                acted = True
        return acted


def _rs_status(pods: Sequence[PodStatus], obj: Any, *, now: float) -> dict[str, int]:
    """An RS's observed counts, as ``kubectl get rs`` shows them."""
    min_ready = float(obj.spec["spec"].get("minReadySeconds", 0)) if obj is not None else 0.0
    active = [p for p in pods if not p.terminating]
    ready = [p for p in active if p.ready]
    available = [p for p in ready if min_ready <= 0 or (p.ready_since or now) + min_ready <= now]
    return {
        "replicas": len(active),
        "readyReplicas": len(ready),
        "availableReplicas": len(available),
    }


def _has_config_volumes(template: Mapping[str, Any]) -> bool:
    volumes = (template.get("spec") or {}).get("volumes") or []
    return any(isinstance(v, Mapping) and ("configMap" in v or "secret" in v) for v in volumes)
