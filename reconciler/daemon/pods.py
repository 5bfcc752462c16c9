"""The daemon's view of pods: whose they are, and when the store hears of them.

A pod names its ReplicaSet (``owner``); passes work on Deployments, so a pod change is mapped to
its Deployment through a small cache (filled from the store, refreshed after every pass). The
pods the CLI reads (``get pods``) are written in one transaction, at most every
``pods_flush`` seconds, not one per change: a rollout of twenty pods changes hundreds of times.
The runtime's scheduler reports each attempt to place an unschedulable pod: one
``FailedScheduling`` event per attempt, as Kubernetes' scheduler records them; every other
change is handed to the kubelet's events (``reconciler.events.kubelet``), recorded on the Pod.
"""

from __future__ import annotations

from reconciler.daemon.events import DaemonEvents
from reconciler.events import KubeletEvents
from reconciler.events.kubelet import reports_own_events
from reconciler.log import get_logger
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import PodStatus, Runtime
from reconciler.store import PodRecord, Store, pod_to_dict

log = get_logger(component="daemon")


def longest_grace_period(store: Store, floor: float) -> float:
    """The longest ``terminationGracePeriodSeconds`` of any Deployment (at least ``floor``)."""
    longest = floor
    for obj in store.list_objects(Kind.DEPLOYMENT):
        template = obj.spec["spec"]["template"].get("spec", {})
        longest = max(longest, float(template.get("terminationGracePeriodSeconds", 30)))
    return longest


class PodLedger:
    """Owner cache, scheduling attempts and the pods' flush to the store."""

    def __init__(self, store: Store, runtime: Runtime, *, events: DaemonEvents) -> None:
        self.store = store
        self.runtime = runtime
        self.events = events
        self.dirty = False
        self._rs_owner: dict[str, ObjectRef] = {}  # ReplicaSet name -> its Deployment
        self._schedule_attempts: dict[str, int] = {}  # pod -> FailedScheduling attempts recorded
        self._kubelet = KubeletEvents(
            store,
            now=events.now,
            known=lambda ref: bool(store.list_events(ref)),
            reports_own=reports_own_events(runtime),
        )

    def learn_owners(self, deployment: ObjectRef | None = None) -> None:
        """Note which Deployment owns each ReplicaSet (all of them, or one Deployment's)."""
        rows = (
            self.store.list_all_replicasets()
            if deployment is None
            else self.store.list_replicasets(deployment)
        )
        if deployment is not None:  # its ReplicaSets the store forgot are forgotten here too
            listed = {rs.name for rs in rows}
            for name in [n for n, d in self._rs_owner.items() if d == deployment]:
                if name not in listed:
                    del self._rs_owner[name]
        for rs in rows:
            self._rs_owner[rs.name] = ObjectRef(Kind.DEPLOYMENT, rs.namespace, rs.deployment)

    def orphaned_deployments(self) -> list[ObjectRef]:
        """Deployments that are gone but still have ReplicaSets: a pass winds them down."""
        refs = {
            ObjectRef(Kind.DEPLOYMENT, rs.namespace, rs.deployment)
            for rs in self.store.list_all_replicasets()
        }
        return sorted(ref for ref in refs if self.store.get_object(ref) is None)

    def ownerless(self) -> list[str]:
        """Adopted pods whose ReplicaSet the store no longer has (a crash between forgetting
        it and stopping them): nothing would wind them down, so they are stopped, as
        Kubernetes' garbage collector deletes pods whose owner is gone."""
        known = {(rs.namespace, rs.name) for rs in self.store.list_all_replicasets()}
        names = []
        for pod in self.runtime.pods():
            if (pod.namespace, pod.owner) not in known and not pod.terminating:
                log.warning("ownerless_pod_stopped", pod=pod.name, replica_set=pod.owner)
                names.append(pod.name)
        return names

    def owner_of(self, pod: PodStatus) -> ObjectRef | None:
        """The Deployment the pod belongs to, if the store knows its ReplicaSet."""
        owner = self._rs_owner.get(pod.owner)
        if owner is None:
            row = self.store.get_replicaset(pod.namespace, pod.owner)
            if row is not None:
                owner = ObjectRef(Kind.DEPLOYMENT, row.namespace, row.deployment)
                self._rs_owner[pod.owner] = owner
        return owner

    def changed(self, pod: PodStatus) -> ObjectRef | None:
        """Take note of a pod change; the Deployment that should look at it."""
        self._record_scheduling(pod)
        self.dirty = True
        owner = self.owner_of(pod)
        self._kubelet.observe(pod)  # last: a store that cannot be written delays nothing
        return owner

    def _record_scheduling(self, pod: PodStatus) -> None:
        if pod.gone:
            self._schedule_attempts.pop(pod.name, None)
            return
        if not pod.unschedulable or pod.terminating:
            return
        if self._schedule_attempts.get(pod.name) == pod.schedule_attempts:
            return
        self._schedule_attempts[pod.name] = pod.schedule_attempts
        self.events.failed_scheduling(pod.namespace, pod.name, pod.unschedulable)

    async def flush_if_dirty(self) -> None:
        if self.dirty:
            self.dirty = False
            try:
                self.flush()
            except Exception:
                self.dirty = True  # try again on the next tick
                raise

    def flush(self) -> None:
        """Write every pod the runtime knows to the store, in one transaction."""
        now = self.events.now()
        records = []
        for pod in self.runtime.pods():
            owner = self._rs_owner.get(pod.owner)
            records.append(
                PodRecord(
                    name=pod.name,
                    namespace=pod.namespace,
                    owner=pod.owner,
                    deployment=owner.name if owner else "",
                    status=pod_to_dict(pod),
                    created_at=pod.created_at,
                    updated_at=now,
                )
            )
        self.store.replace_pods(records)


__all__ = ["PodLedger", "longest_grace_period"]
