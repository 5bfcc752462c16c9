"""The parts the daemon wires together, as one value: what ``compose`` builds and tests fake.

A real daemon gets them from ``daemon.compose.open_parts`` (a SQLite store, the process and
podman runtimes, the data plane); a unit test from ``daemon.compose.assemble`` with in-memory
fakes (``runtime.fake``, ``proxy.fake``) and a manual clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.clock import Clock
from reconciler.daemon.events import DaemonEvents
from reconciler.daemon.queue import WorkQueue
from reconciler.engine.executor import Executor
from reconciler.folder.sync import FolderSync
from reconciler.objects import ObjectRef
from reconciler.proxy import Proxy
from reconciler.runtime import Runtime
from reconciler.services.analysis import CanaryAnalysis
from reconciler.services.router import ServiceRouter
from reconciler.store import Store


@dataclass(frozen=True, slots=True)
class DaemonParts:
    """What the daemon wires together (``daemon.compose.assemble`` builds them)."""

    store: Store
    runtime: Runtime
    proxy: Proxy
    clock: Clock
    queue: WorkQueue[ObjectRef]
    events: DaemonEvents
    sync: FolderSync
    services: ServiceRouter
    analysis: CanaryAnalysis
    executor: Executor


__all__ = ["DaemonParts"]
