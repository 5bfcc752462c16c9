"""The daemon: one event loop that keeps the host equal to the folder.

Wiring, and nothing else (the decisions live in the engine, the effects in the runtime, the
proxy and the executor; the parts are built by ``daemon.compose``):

- the folder watcher asks for a sync; the sync applies changes to the store and says which
  objects changed; changed Deployments are queued, changed Services re-bound;
- a work queue of Deployments (``daemon.queue``), one pass at a time per Deployment
  (level-triggered: a pass that acted queues another; pod changes queue their Deployment;
  plans ask for timers);
- pod changes also refresh Service endpoints and, a little later, the pods the CLI reads
  (``daemon.pods``);
- intents written by the CLI are polled from the store and routed (``daemon.intents``);
- SIGTERM/SIGINT stop the daemon and leave the pods running (as the kubelet does): the runtime
  lets go of them and the next daemon adopts them; ``reconciler down`` stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable
from typing import Any

from reconciler.cli.liveness import OBSERVED_META
from reconciler.daemon.intents import IntentRouter
from reconciler.daemon.options import DaemonOptions
from reconciler.daemon.parts import DaemonParts
from reconciler.daemon.pods import PodLedger, longest_grace_period
from reconciler.daemon.problems import ProblemReporter, StoreFaultWatch
from reconciler.daemon.queue import QueueClosed
from reconciler.daemon.tasks import every, shutdown_within
from reconciler.engine.executor import PassResult
from reconciler.folder.sync import Change, SyncResult
from reconciler.folder.watch import FolderWatcher
from reconciler.log import get_logger
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import PodStatus

log = get_logger(component="daemon")


class ForcedStop(Exception):
    """The graceful shutdown did not finish; the caller kills what is left."""


class Daemon:
    def __init__(self, options: DaemonOptions, parts: DaemonParts) -> None:
        self.options = options
        self.store, self.runtime, self.proxy = parts.store, parts.runtime, parts.proxy
        self.clock, self.queue, self.events = parts.clock, parts.queue, parts.events
        self.sync, self.services, self.analysis = parts.sync, parts.services, parts.analysis
        self.executor = parts.executor
        self.pods = PodLedger(self.store, self.runtime, events=self.events)
        self.problems = ProblemReporter(self.store, self.events)
        self.store_fault = StoreFaultWatch(self.store, self.events)
        self.intents = IntentRouter(
            self.store,
            now=self.clock.now,
            pod_names=lambda: [p.name for p in self.runtime.pods()],
            stop_pod=self.executor.stop_pod,
            sync_folder=lambda confirm: self._on_folder_change(confirm_prune=confirm),
            to_engine=self.enqueue,
        )
        self.watcher = FolderWatcher(
            options.manifests, self._sync_folder, debounce=options.debounce, resync=options.resync
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopping = False
        self.synced = asyncio.Event()
        # called after every pass with its result and duration (the web server: metrics, live
        # pages, webhooks); must be quick, and its failures never reach the engine
        self.pass_observers: list[Callable[[ObjectRef, PassResult, float], None]] = []

    # -- life cycle -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        await stop.wait()
        o = self.options
        budget = longest_grace_period(self.store, o.min_grace) + o.shutdown_slack
        if not await shutdown_within(self.shutdown, stop, budget=budget):
            raise ForcedStop

    async def start(self) -> None:
        """Adopt, sync, bind, and start the background work; ``synced`` is set at the end."""
        self.store.set_meta("manifests_dir", os.fspath(self.options.manifests.resolve()))
        self.store.set_meta("bind", self.options.bind)  # `get services` shows it as CLUSTER-IP
        await self._heartbeat()
        # the pods the runtime adopted from a previous daemon are ours now, under their owners
        self.pods.learn_owners()
        self.pods.flush()
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
        for ref in self.pods.orphaned_deployments():  # e.g. a crash mid-delete: wound down
            self.enqueue(ref)
        for pod in self.pods.ownerless():
            await self.executor.stop_pod(pod)
        self.services.refresh()
        await self.watcher.start()
        o = self.options
        self._tasks = [
            asyncio.create_task(self._worker(), name="worker"),
            asyncio.create_task(every(o.intent_poll, self.intents.poll), name="intents"),
            asyncio.create_task(every(o.pods_flush, self.pods.flush_if_dirty), name="pods"),
            asyncio.create_task(every(o.analysis_check, self.analysis.check_due), name="analysis"),
            asyncio.create_task(every(o.heartbeat, self._heartbeat), name="heartbeat"),
        ]
        log.info("daemon_started", manifests=os.fspath(self.options.manifests), pid=os.getpid())
        self.synced.set()

    async def shutdown(self) -> None:
        self._stopping = True
        log.info("daemon_stopping")
        await self.watcher.stop()
        self.queue.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # the pods keep running (the next daemon adopts them); the store shows them as they were
        await self.runtime.detach()
        await self.proxy.close()
        with contextlib.suppress(sqlite3.Error):
            self.pods.flush()
        log.info("daemon_stopped", pods_left_running=len(self.runtime.pods()))

    # -- the folder -------------------------------------------------------------------------

    async def _sync_folder(self) -> None:
        try:
            await self._on_folder_change()
        except sqlite3.Error as exc:
            self.store_fault.failed(str(exc))  # the watcher retries; say so once
            raise
        self.store_fault.succeeded()

    async def _on_folder_change(self, *, confirm_prune: bool = False) -> SyncResult:
        result = self.sync.sync(
            now=self.clock.now(), confirm_prune=confirm_prune, unsettled=self.watcher.unsettled()
        )
        self.problems.report(result)
        if result.settling:
            log.info("deletion_settling", objects=[r.key for r in result.settling])
            self.watcher.resync_when_settled()
        config_namespaces: set[str] = set()
        for ref, change in sorted(result.changes.items()):
            log.info("object_" + str(change), object=ref.key)
            if change is Change.DELETED:
                self.store.delete_object(ref)  # its pods are wound down by the next pass
                self.events.deleted(ref)
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
            self.events.prune_held(result.held)
            log.warning("prune_held", objects=[r.key for r in result.held])
        if result.changes:
            self.services.refresh()
        return result

    def _refresh_deployments_of(self, namespace: str) -> None:
        for obj in self.store.list_objects(Kind.DEPLOYMENT, namespace):
            self.enqueue(obj.ref)

    # -- pods -------------------------------------------------------------------------------

    def _on_pod_change(self, pod: PodStatus) -> None:
        if self._stopping:
            return
        try:
            self.services.pod_changed(pod)
            owner = self.pods.changed(pod)
            if owner is not None:
                self.enqueue(owner)
        except Exception:  # called by the runtime: never let the store's trouble reach it
            log.exception("pod_change_failed", pod=pod.name)

    async def _heartbeat(self) -> None:
        """Note when the daemon last looked: read commands show it once no daemon runs."""
        self.store.set_meta(OBSERVED_META, repr(self.clock.now()))

    # -- the work queue ---------------------------------------------------------------------

    def enqueue(self, ref: ObjectRef, *, delay: float = 0.0) -> None:
        if not self._stopping:
            self.queue.add(ref, delay=delay)

    async def _worker(self) -> None:
        while True:
            try:
                ref = await self.queue.get()
            except QueueClosed:
                return
            try:
                await self.reconcile(ref)
            except Exception:
                log.exception("reconcile_failed", deployment=ref.key)
                self.enqueue(ref, delay=self.options.retry_failed_pass)

    async def reconcile(self, ref: ObjectRef) -> PassResult:
        """One pass over ``ref``: plan, act, route its traffic, and queue what comes next."""
        started = asyncio.get_running_loop().time()
        result = await self.executor.reconcile(ref, self.intents.for_engine(ref))
        self.pods.learn_owners(ref)
        if result.plan is None:
            self.services.route(ref, None)
            self.analysis.track(ref, None, {})
        else:
            self.services.route(ref, result.plan.traffic)
            self.analysis.track(ref, result.spec, result.plan.status)
            self.intents.consumed(result.plan.consumed_intents)
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
        return result


__all__ = ["Daemon", "DaemonParts", "ForcedStop"]
