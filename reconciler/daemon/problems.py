"""Trouble the daemon reports rather than dies of: invalid manifests and an unwritable store.

An invalid file gets one ``InvalidManifest`` event per distinct set of problems (not one per
sync: the watcher resyncs every 30 s) and an ``invalid`` mark in the object's status that every
view shows; the mark goes when the file is fixed, also when a previous daemon set it. A store
that cannot be written (a full disk, a locked database) is logged once when it starts failing,
and when it can be written again every Deployment gets a ``StateStoreUnwritable`` event saying
how long, so ``describe`` explains the gap.
"""

from __future__ import annotations

from reconciler.daemon.events import DaemonEvents
from reconciler.errors import Problem
from reconciler.folder.broken import mark_invalid, mark_valid
from reconciler.folder.sync import SyncResult
from reconciler.log import get_logger
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store

log = get_logger(component="daemon")


class ProblemReporter:
    """Turns a sync's problems into events and status marks, once per change."""

    def __init__(self, store: Store, events: DaemonEvents) -> None:
        self.store = store
        self.events = events
        self._invalid: dict[ObjectRef, list[Problem]] = {}

    def report(self, result: SyncResult) -> None:
        for ref, problems in result.invalid.items():
            rendered = [p.render() for p in problems if p.severity == "error"]
            if self._invalid.get(ref) == problems:
                continue
            self._invalid[ref] = problems
            self.events.invalid_manifest(ref, rendered)
            obj = self.store.get_object(ref)
            if obj is not None:
                self.store.set_status(
                    ref, mark_invalid(obj.status, rendered, now=self.events.now())
                )
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


class StoreFaultWatch:
    """Remembers since when the store could not be written, and says when it can again."""

    def __init__(self, store: Store, events: DaemonEvents) -> None:
        self.store = store
        self.events = events
        self._fault: tuple[str, float] | None = None  # (error, since)

    @property
    def failing(self) -> bool:
        return self._fault is not None

    def failed(self, error: str) -> None:
        if self._fault is None:
            self._fault = (error, self.events.now())
            log.error("store_unwritable", error=error)

    def succeeded(self) -> None:
        if self._fault is None:
            return
        error, since = self._fault
        self._fault = None
        log.warning("store_writable_again", error=error)
        refs = [obj.ref for obj in self.store.list_objects(Kind.DEPLOYMENT)]
        self.events.store_writable_again(refs, error=error, since=since)


__all__ = ["ProblemReporter", "StoreFaultWatch"]
