"""The composition root: every part of a daemon is built here, from options, and only here.

``assemble`` wires the parts around a store, a runtime, a proxy and a clock it is given (the
real ones, or the in-memory fakes of the unit tests); ``open_store`` and ``build`` make the real
ones for ``reconciler run``: the SQLite store (locked: one daemon per state directory), the
process and podman runtimes side by side (``runtimeClassName``), and the data plane, started
when the first Service is bound (``daemon.dataplane``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from reconciler.clock import Clock, SystemClock
from reconciler.daemon.dataplane import OnDemandDataPlane
from reconciler.daemon.events import DaemonEvents
from reconciler.daemon.loop import Daemon
from reconciler.daemon.options import DaemonOptions, RunOptions
from reconciler.daemon.parts import DaemonParts
from reconciler.daemon.queue import WorkQueue
from reconciler.engine.executor import Executor
from reconciler.folder.sync import FolderSync
from reconciler.objects import Kind, ObjectRef
from reconciler.proxy import Proxy
from reconciler.runtime import Runtime
from reconciler.runtime.select import SelectingRuntime
from reconciler.services.analysis import CanaryAnalysis
from reconciler.services.router import ServiceRouter
from reconciler.store import FaultFile, Store


def assemble(
    options: DaemonOptions,
    *,
    store: Store,
    runtime: Runtime,
    proxy: Proxy,
    clock: Clock | None = None,
    queue_clock: Callable[[], float] = time.monotonic,
) -> Daemon:
    """A daemon around the given store, runtime and proxy (started by the caller).

    ``clock`` is what the engine plans with (wall-clock seconds); ``queue_clock`` times the
    work queue's delays (monotonic; a unit test passes its manual clock to both)."""
    clock = clock or SystemClock()
    queue: WorkQueue[ObjectRef] = WorkQueue(now=queue_clock)
    events = DaemonEvents(store, clock.now)
    services = ServiceRouter(
        proxy=proxy, runtime=runtime, bind=options.bind, on_listen_failed=events.failed_to_listen
    )
    analysis = CanaryAnalysis(
        runtime=runtime, proxy=proxy, on_failure=queue.add, store=store, now=clock.now
    )
    executor = Executor(
        store=store,
        runtime=runtime,
        now=clock.now,
        on_pod_leaving=services.leaving,
        analysis_failures=analysis.failures,
        analysis_message=analysis.verdict,
    )
    parts = DaemonParts(
        store=store,
        runtime=runtime,
        proxy=proxy,
        clock=clock,
        queue=queue,
        events=events,
        sync=FolderSync(store, options.manifests),
        services=services,
        analysis=analysis,
        executor=executor,
    )
    return Daemon(options, parts)


def open_store(options: RunOptions) -> Store:
    """The state directory's store, locked for this daemon (a second one is refused)."""
    faults = FaultFile(options.fault_file) if options.fault_file is not None else None
    store = Store.open(options.state_dir, faults=faults)
    try:
        store.lock_daemon()
    except BaseException:
        store.close()
        raise
    return store


async def build(options: RunOptions, store: Store) -> tuple[Daemon, OnDemandDataPlane]:
    """The real daemon, and its data plane (for ``abandon`` if the daemon fails to start).

    A data plane that outlived the previous daemon is connected to first (it keeps serving
    what it served until the daemon has its whole configuration: ``proxy.configured()``); none
    is started until a Service is bound. Then the runtimes start, adopting pods."""
    proxy = OnDemandDataPlane(options.state_dir)
    await proxy.prepare()
    try:
        runtime = runtimes(options, store=store)
        await runtime.start()
    except BaseException:
        await proxy.close()
        raise
    return assemble(options.daemon, store=store, runtime=runtime, proxy=proxy), proxy


def runtimes(options: RunOptions, *, store: Store) -> SelectingRuntime:
    """Process and podman pods side by side (``runtimeClassName``), podman only if needed."""
    from reconciler.runtime.podman import PodmanRuntime
    from reconciler.runtime.podman.adopt import has_pods
    from reconciler.runtime.process import ProcessRuntime

    state: Path = options.state_dir

    def pod_event(namespace: str, pod: str, kind: str, reason: str, message: str) -> None:
        store.add_event(
            ObjectRef(Kind.POD, namespace, pod),
            type=kind,
            reason=reason,
            message=message,
            now=time.time(),
            source="kubelet",
        )

    return SelectingRuntime(
        options.default_runtime,
        {
            "process": lambda: ProcessRuntime(
                state,
                backoff_initial=options.backoff_initial,
                backoff_max=options.backoff_max,
                bind_host="127.0.0.1",
            ),
            "podman": lambda: PodmanRuntime(
                state,
                backoff_initial=options.backoff_initial,
                backoff_max=options.backoff_max,
                bind_host="127.0.0.1",
                on_event=pod_event,
            ),
        },
        adopt=("podman",) if has_pods(state) else (),
    )


__all__ = ["assemble", "build", "open_store", "runtimes"]
