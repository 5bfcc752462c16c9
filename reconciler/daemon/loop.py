"""The daemon: one event loop that keeps the host equal to the folder.

Wiring, and nothing else (the decisions live in the engine, the effects in the runtime, the
proxy and the executor):

- the folder watcher asks for a sync; the sync applies changes to the store and says which
  objects changed; changed Deployments are queued, changed Services re-bound;
- a work queue of Deployments, one pass at a time per Deployment (level-triggered: a pass that
  acted queues another; pod changes queue their Deployment; plans ask for timers);
- pod changes also refresh Service endpoints and, a little later, the pods the CLI reads;
- intents written by the CLI are polled from the store and handed to the engine (or, for
  ``delete pod`` and ``prune``, carried out here);
- SIGTERM/SIGINT stop the daemon and leave the pods running (as the kubelet does): the runtime
  lets go of them and the next daemon adopts them; ``reconciler down`` stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.cli.liveness import HEARTBEAT_SECONDS, OBSERVED_META
from reconciler.clock import Clock, SystemClock
from reconciler.engine.executor import Executor, PassResult
from reconciler.errors import Problem
from reconciler.folder.broken import mark_invalid, mark_valid
from reconciler.folder.sync import Change, FolderSync, SyncResult
from reconciler.folder.watch import FolderWatcher
from reconciler.log import get_logger
from reconciler.objects import Kind, ObjectRef
from reconciler.proxy import Proxy
from reconciler.runtime import PodStatus, Runtime
from reconciler.services.analysis import CanaryAnalysis
from reconciler.services.router import ServiceRouter
from reconciler.store import IntentRow, PodRecord, Store, pod_to_dict

log = get_logger(component="daemon")

# CLI intents the daemon carries out itself; the rest go to the engine.
DELETE_POD = "delete-pod"
PRUNE = "prune"
RESYNC = "resync"


class ForcedStop(Exception):
    """The graceful shutdown did not finish; the caller kills what is left."""


def _task_summary() -> list[str]:
    """Where each pending task waits: what a stuck shutdown is stuck on."""
    out = []
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=1)
        where = (
            f"{frames[0].f_code.co_filename}:{frames[0].f_lineno}" if frames else "<not started>"
        )
        out.append(f"{task.get_name()} at {where}")
    return sorted(out)


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    manifests: Path
    bind: str = "127.0.0.1"
    debounce: float = 0.05
    resync: float = 30.0
    intent_poll: float = 0.2
    pods_flush: float = 0.1


class Daemon:
    def __init__(
        self,
        options: DaemonOptions,
        *,
        store: Store,
        runtime: Runtime,
        proxy: Proxy,
        clock: Clock | None = None,
    ) -> None:
        self.options = options
        self.store = store
        self.runtime = runtime
        self.proxy = proxy
        self.clock = clock or SystemClock()
        self.sync = FolderSync(store, options.manifests)
        self.services = ServiceRouter(
            proxy=proxy, runtime=runtime, bind=options.bind, on_listen_failed=self._listen_failed
        )
        self.analysis = CanaryAnalysis(
            runtime=runtime, proxy=proxy, on_failure=self.enqueue, store=store, now=self.clock.now
        )
        self.executor = Executor(
            store=store,
            runtime=runtime,
            now=self.clock.now,
            on_pod_leaving=lambda name: self.services.leaving(name),
            analysis_failures=lambda ref, rs_hash: self.analysis.failures(ref, rs_hash),
            analysis_message=lambda ref, rs_hash: self.analysis.verdict(ref, rs_hash),
        )
        self.watcher = FolderWatcher(
            options.manifests,
            self._sync_folder,
            debounce=options.debounce,
            resync=options.resync,
        )
        self._queue: asyncio.Queue[ObjectRef] = asyncio.Queue()
        self._queued: set[ObjectRef] = set()
        self._timers: dict[ObjectRef, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._pods_dirty = False
        self._stopping = False
        self._rs_owner: dict[str, ObjectRef] = {}
        self._invalid: dict[ObjectRef, list[Problem]] = {}
        self._pending_intents: list[IntentRow] = []
        self._seen_intents: set[int] = set()
        self._store_fault: tuple[str, float] | None = None  # (error, since) of a failed sync
        self._schedule_attempts: dict[str, int] = {}  # pod -> FailedScheduling attempts recorded
        self.synced = asyncio.Event()
        # called after every pass with its result and duration (the web server: metrics, live
        # pages, webhooks); must be quick, and its failures never reach the engine
        self.pass_observers: list[Callable[[ObjectRef, PassResult, float], None]] = []

    # -- life cycle -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self.store.set_meta("manifests_dir", os.fspath(self.options.manifests.resolve()))
        self.store.set_meta("bind", self.options.bind)  # `get services` shows it as CLUSTER-IP
        await self._heartbeat()
        # the pods the runtime adopted from a previous daemon are ours now, under their owners
        for rs in self.store.list_all_replicasets():
            self._rs_owner[rs.name] = ObjectRef(Kind.DEPLOYMENT, rs.namespace, rs.deployment)
        self._flush_pods()
        self.runtime.subscribe(self._on_pod_change)
        # Until a deployment's first pass says how its Services split traffic, they keep what
        # the data plane serves (the previous daemon's split), minus pods no longer Ready. No
        # pass runs before the worker: a pod stopped inside the data plane's start-up sync
        # would still be served by the backends it keeps until ``configured``.
        self.services.await_routes(o.ref for o in self.store.list_objects(Kind.DEPLOYMENT))
        await self._on_folder_change()
        # Services the store already had are unchanged for the sync, so it does not bind them:
        # after a restart (or a crash) each needs its listener again.
        for obj in self.store.list_objects(Kind.SERVICE):
            if not self.services.is_bound(obj.ref):
                await self.services.bind(obj.ref, obj)
        # Every Service is bound with the backends of every pod the runtime knows: a data plane
        # that outlived the previous daemon switches from its backends to these in one step.
        await self.proxy.configured()
        for obj in self.store.list_objects(Kind.DEPLOYMENT):
            self.enqueue(obj.ref)
        self._forget_orphans()
        await self._stop_ownerless_pods()
        self.services.refresh()
        await self.watcher.start()
        self._tasks = [
            asyncio.create_task(self._worker(), name="worker"),
            asyncio.create_task(self._every(self.options.intent_poll, self._poll_intents)),
            asyncio.create_task(self._every(self.options.pods_flush, self._flush_if_dirty)),
            asyncio.create_task(self._every(0.25, self.analysis.check_due)),
            asyncio.create_task(self._every(HEARTBEAT_SECONDS, self._heartbeat)),
        ]
        log.info("daemon_started", manifests=os.fspath(self.options.manifests), pid=os.getpid())
        self.synced.set()
        await stop.wait()
        await self._shutdown_within_budget(stop)

    async def _shutdown_within_budget(self, stop: asyncio.Event) -> None:
        """Graceful shutdown, but never a daemon that will not die: a second signal, or a
        shutdown that outlasts every pod's grace period, forces it (``ForcedStop``) and says what
        it was waiting on."""
        stop.clear()
        budget = self._longest_grace_period() + 15.0
        shutdown = asyncio.create_task(self.shutdown(), name="shutdown")
        again = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait(
            {shutdown, again}, timeout=budget, return_when=asyncio.FIRST_COMPLETED
        )
        again.cancel()
        if shutdown in done:
            shutdown.result()
            return
        log.error(
            "shutdown_forced",
            why="second signal" if stop.is_set() else f"still stopping after {budget:.0f}s",
            waiting_on=_task_summary(),
        )
        shutdown.cancel()
        raise ForcedStop

    def _longest_grace_period(self) -> float:
        longest = 30.0
        for obj in self.store.list_objects(Kind.DEPLOYMENT):
            template = obj.spec["spec"]["template"].get("spec", {})
            longest = max(longest, float(template.get("terminationGracePeriodSeconds", 30)))
        return longest

    async def shutdown(self) -> None:
        self._stopping = True
        log.info("daemon_stopping")
        await self.watcher.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for timer in self._timers.values():
            timer.cancel()
        # the pods keep running (the next daemon adopts them); the store shows them as they were
        await self.runtime.detach()
        await self.proxy.close()
        with contextlib.suppress(sqlite3.Error):
            self._flush_pods()
        log.info("daemon_stopped", pods_left_running=len(self.runtime.pods()))

    # -- the folder -------------------------------------------------------------------------

    async def _sync_folder(self) -> None:
        try:
            await self._on_folder_change()
        except sqlite3.Error as exc:
            # the watcher retries; say so once, and leave an event once the store is writable
            if self._store_fault is None:
                self._store_fault = (str(exc), self.clock.now())
                log.error("store_unwritable", error=str(exc))
            raise
        if self._store_fault is not None:
            error, since = self._store_fault
            self._store_fault = None
            message = (
                f"the state database could not be written for {self.clock.now() - since:.0f}s "
                f"({error}); the folder was synced once it could be"
            )
            log.warning("store_writable_again", error=error)
            for obj in self.store.list_objects(Kind.DEPLOYMENT):
                self.store.add_event(
                    obj.ref,
                    type="Warning",
                    reason="StateStoreUnwritable",
                    message=message,
                    now=self.clock.now(),
                )

    async def _on_folder_change(self, *, confirm_prune: bool = False) -> SyncResult:
        result = self.sync.sync(
            now=self.clock.now(), confirm_prune=confirm_prune, unsettled=self.watcher.unsettled()
        )
        self._report_problems(result)
        if result.settling:
            log.info("deletion_settling", objects=[r.key for r in result.settling])
            self.watcher.resync_when_settled()
        config_namespaces: set[str] = set()
        for ref, change in sorted(result.changes.items()):
            log.info("object_" + str(change), object=ref.key)
            if change is Change.DELETED:
                self._delete(ref)
            if ref.kind is Kind.SERVICE:
                await self.services.bind(ref, self.store.get_object(ref))
                self._refresh_deployments_of(ref.namespace)
            elif ref.kind is Kind.DEPLOYMENT:
                self.enqueue(ref)
            else:  # a ConfigMap or Secret: pods waiting for it may start now
                config_namespaces.add(ref.namespace)
        for namespace in sorted(config_namespaces):  # once per namespace, not per object
            await self.executor.refresh_config_volumes(namespace)
            self._refresh_deployments_of(namespace)
        if result.held:
            message = (
                f"Not deleting {len(result.held)} objects whose manifests are gone "
                f"({', '.join(r.display for r in result.held[:5])}"
                f"{', ...' if len(result.held) > 5 else ''}): more than half of all objects at "
                "once. Restore the files, or run 'reconciler prune' to confirm."
            )
            for ref in result.held:
                self.store.add_event(
                    ref, type="Warning", reason="PruneHeld", message=message, now=self.clock.now()
                )
            log.warning("prune_held", objects=[r.key for r in result.held])
        if result.changes:
            self.services.refresh()
        return result

    def _report_problems(self, result: SyncResult) -> None:
        now = self.clock.now()
        for ref, problems in result.invalid.items():
            rendered = [p.render() for p in problems if p.severity == "error"]
            if self._invalid.get(ref) == problems:
                continue
            self._invalid[ref] = problems
            message = "; ".join(rendered[:3]) + (" ..." if len(rendered) > 3 else "")
            self.store.add_event(
                ref, type="Warning", reason="InvalidManifest", message=message, now=now
            )
            obj = self.store.get_object(ref)
            if obj is not None:
                self.store.set_status(ref, mark_invalid(obj.status, rendered, now=now))
            log.warning("manifest_invalid", object=ref.key, problems=rendered)
        for ref in [r for r in self._invalid if r not in result.invalid]:
            del self._invalid[ref]
        for obj in self.store.list_objects():
            # also what a previous daemon marked: the file may have been fixed meanwhile
            if obj.ref not in result.invalid and "invalid" in obj.status:
                self.store.set_status(obj.ref, mark_valid(obj.status))
                log.info("manifest_valid_again", object=obj.ref.key)
        for problem in result.problems:
            log.warning("manifest_problem", problem=problem.render())

    def _listen_failed(self, ref: ObjectRef, message: str) -> None:
        self.store.add_event(
            ref, type="Warning", reason="FailedToListen", message=message, now=self.clock.now()
        )

    def _delete(self, ref: ObjectRef) -> None:
        """Forget the object; its pods are wound down by the next pass."""
        self.store.delete_object(ref)
        self.store.add_event(
            ref, type="Normal", reason="Deleted", message="manifest removed", now=self.clock.now()
        )

    def _forget_orphans(self) -> None:
        """ReplicaSets whose Deployment is gone (e.g. a crash mid-delete) are wound down."""
        for rs in self.store.list_all_replicasets():
            if (
                self.store.get_object(ObjectRef(Kind.DEPLOYMENT, rs.namespace, rs.deployment))
                is None
            ):
                self.enqueue(ObjectRef(Kind.DEPLOYMENT, rs.namespace, rs.deployment))

    async def _stop_ownerless_pods(self) -> None:
        """Adopted pods whose ReplicaSet the store no longer has (a crash between forgetting
        it and stopping them) have no owner to wind them down: stop them, as Kubernetes'
        garbage collector deletes pods whose owner is gone."""
        known = {(rs.namespace, rs.name) for rs in self.store.list_all_replicasets()}
        for pod in self.runtime.pods():
            if (pod.namespace, pod.owner) not in known and not pod.terminating:
                log.warning("ownerless_pod_stopped", pod=pod.name, replica_set=pod.owner)
                await self.executor.stop_pod(pod.name)

    def _refresh_deployments_of(self, namespace: str) -> None:
        for obj in self.store.list_objects(Kind.DEPLOYMENT, namespace):
            self.enqueue(obj.ref)

    # -- pods -------------------------------------------------------------------------------

    def _on_pod_change(self, pod: PodStatus) -> None:
        if self._stopping:
            return
        try:
            self._pod_changed(pod)
        except Exception:  # called by the runtime: never let the store's trouble reach it
            log.exception("pod_change_failed", pod=pod.name)

    def _pod_changed(self, pod: PodStatus) -> None:
        self.services.pod_changed(pod)
        self._record_scheduling(pod)
        self._pods_dirty = True
        owner = self._rs_owner.get(pod.owner)
        if owner is None:
            row = self.store.get_replicaset(pod.namespace, pod.owner)
            if row is not None:
                owner = ObjectRef(Kind.DEPLOYMENT, row.namespace, row.deployment)
                self._rs_owner[pod.owner] = owner
        if owner is not None:
            self.enqueue(owner)

    def _record_scheduling(self, pod: PodStatus) -> None:
        """One FailedScheduling event per attempt the runtime's scheduler made for the pod."""
        if pod.gone:
            self._schedule_attempts.pop(pod.name, None)
            return
        if not pod.unschedulable or pod.terminating:
            return
        if self._schedule_attempts.get(pod.name) == pod.schedule_attempts:
            return
        self._schedule_attempts[pod.name] = pod.schedule_attempts
        self.store.add_event(
            ObjectRef(Kind.POD, pod.namespace, pod.name),
            type="Warning",
            reason="FailedScheduling",
            message=pod.unschedulable,
            now=self.clock.now(),
            source="default-scheduler",
        )

    @staticmethod
    async def _every(interval: float, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` every ``interval`` seconds for the daemon's life; a failing step (a full
        disk, a locked database) is logged and tried again next time, never fatal."""
        failing = False
        while True:
            await asyncio.sleep(interval)
            try:
                await step()
            except Exception as exc:
                if not failing:  # log the first failure of a streak, not one per tick
                    log.exception("background_step_failed", step=step.__name__, error=str(exc))
                failing = True
            else:
                if failing:
                    log.info("background_step_recovered", step=step.__name__)
                failing = False

    async def _heartbeat(self) -> None:
        """Note when the daemon last looked: read commands show it once no daemon runs."""
        self.store.set_meta(OBSERVED_META, repr(self.clock.now()))

    async def _flush_if_dirty(self) -> None:
        if self._pods_dirty:
            self._pods_dirty = False
            try:
                self._flush_pods()
            except Exception:
                self._pods_dirty = True  # try again on the next tick
                raise

    def _flush_pods(self) -> None:
        records = []
        now = self.clock.now()
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

    # -- the work queue ---------------------------------------------------------------------

    def enqueue(self, ref: ObjectRef, *, delay: float = 0.0) -> None:
        if self._stopping:
            return
        if delay > 0:
            timer = self._timers.get(ref)
            loop = asyncio.get_running_loop()
            due = loop.time() + delay
            if timer is not None and timer.when() <= due:
                return
            if timer is not None:
                timer.cancel()
            self._timers[ref] = loop.call_at(due, self._due, ref)
            return
        if ref not in self._queued:
            self._queued.add(ref)
            self._queue.put_nowait(ref)

    def _due(self, ref: ObjectRef) -> None:
        self._timers.pop(ref, None)
        self.enqueue(ref)

    async def _worker(self) -> None:
        while True:
            ref = await self._queue.get()
            self._queued.discard(ref)
            try:
                await self._pass(ref)
            except Exception:
                log.exception("reconcile_failed", deployment=ref.key)
                self.enqueue(ref, delay=1.0)

    async def _pass(self, ref: ObjectRef, intents: list[IntentRow] | None = None) -> None:
        if intents is None:
            intents = [i for i in self._pending_intents if i.ref == ref]
        started = asyncio.get_running_loop().time()
        result = await self.executor.reconcile(ref, intents)
        for row in self.store.list_replicasets(ref):
            self._rs_owner[row.name] = ref
        if result.plan is None:
            self.services.route(ref, None)
            self.analysis.track(ref, None, {})
        else:
            self.services.route(ref, result.plan.traffic)
            self.analysis.track(ref, result.spec, result.plan.status)
            consumed = set(result.plan.consumed_intents)
            self._pending_intents = [i for i in self._pending_intents if i.id not in consumed]
        self.services.refresh()
        if result.acted:
            self.enqueue(ref)  # level-triggered: look again at once, the world changed
        elif result.requeue_after is not None:
            self.enqueue(ref, delay=max(result.requeue_after, 0.01))
        elapsed = asyncio.get_running_loop().time() - started
        for observe in self.pass_observers:
            try:
                observe(ref, result, elapsed)
            except Exception:
                log.exception("pass_observer_failed", deployment=ref.key)

    # -- intents ----------------------------------------------------------------------------

    async def _poll_intents(self) -> None:
        for intent in self.store.pending_intents():
            if intent.id in self._seen_intents:
                continue
            await self._take_intent(intent)
            self._seen_intents.add(intent.id)

    async def _take_intent(self, intent: IntentRow) -> None:
        now = self.clock.now()
        log.info("intent_received", action=intent.action, object=intent.ref.key, id=intent.id)
        if intent.action == DELETE_POD:
            names = {p.name for p in self.runtime.pods()}
            if intent.ref.name in names:
                await self.executor.stop_pod(intent.ref.name)
                self.store.finish_intent(intent.id, result="deleted", now=now)
            else:
                self.store.finish_intent(intent.id, result="not found", now=now)
        elif intent.action == PRUNE:
            await self._on_folder_change(confirm_prune=True)
            self.store.finish_intent(intent.id, result="pruned", now=now)
        elif intent.action == RESYNC:  # reconciler create secret / delete secret
            await self._on_folder_change()
            self.store.finish_intent(intent.id, result="synced", now=now)
        else:
            self._pending_intents.append(intent)
            self.enqueue(intent.ref)


def install_signal_handlers(stop: asyncio.Event) -> Callable[[], None]:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def remove() -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)

    return remove
