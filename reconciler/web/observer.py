"""The web side's view of the daemon: every pass, every event, read without slowing it down.

Two sources, both cheap for the daemon:

- ``on_pass`` is called by the daemon after each reconcile pass (its only hook for us): the
  pass's duration goes into ``rollout_reconcile``, its status and events into the transition
  tracker (webhooks), and the deployment is marked changed for the live pages.
- the events table is polled (an indexed query every 0.2 s, on the reader thread): new events
  and repeats count into ``rollout_events_total``, reach the live pages, and an
  ``InvalidManifest`` is a webhook of its own. A scrape polls it too before it renders, so
  ``/metrics`` counts every event the store held when the scrape began.

Everything that reads the store for a page or a scrape runs on one reader thread with its own
SQLite connection (WAL: readers never block the daemon's writes), never on the daemon's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from reconciler.engine.executor import PassResult
from reconciler.engine.serialize import rollout_of
from reconciler.log import get_logger
from reconciler.objects import Kind, ObjectRef
from reconciler.store import EventRow, Store
from reconciler.web.events import Hub
from reconciler.web.metrics import Live
from reconciler.web.transitions import Notice, Tracked, Transition, next_transitions, tracked_from
from reconciler.web.webhooks import Notifier

__all__ = ["Observer"]

T = TypeVar("T")
log = get_logger(component="web")

_EventKey = tuple[str, str, str, str, str, str]  # kind, namespace, name, type, reason, message


def _event_key(e: EventRow) -> _EventKey:
    return (str(e.ref.kind), e.ref.namespace, e.ref.name, e.type, e.reason, e.message)


def _events_since(store: Store, *, since: float) -> list[EventRow]:
    return store.list_events(since=since)


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Observer:
    def __init__(
        self,
        *,
        state_dir: Path,
        daemon_store: Store,
        hub: Hub,
        notifier: Notifier | None,
        live: Live,
        poll_interval: float = 0.2,
        push_delay: float = 0.12,
    ) -> None:
        self.state_dir = state_dir
        self.daemon_store = daemon_store  # on the loop, only to enrich a webhook's payload
        self.hub = hub
        self.notifier = notifier
        self.live = live
        self.poll_interval = poll_interval
        self.push_delay = push_delay
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-reader")
        self._store: Store | None = None
        self._tracked: dict[ObjectRef, Tracked] = {}
        self._counts: dict[_EventKey, int] = {}
        self._since = 0.0
        self._dirty: set[ObjectRef] = set()
        self._push: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.on_changed: Callable[[set[ObjectRef]], None] | None = None

    # -- the reader thread -------------------------------------------------------------------

    def _reader_store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.state_dir)
        return self._store

    async def read(self, fn: Callable[[Store], T]) -> T:
        """Run ``fn(store)`` on the reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self._reader_store()))

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        def seed(store: Store) -> dict[ObjectRef, Tracked]:
            tracked = {o.ref: tracked_from(o.status) for o in store.list_objects(Kind.DEPLOYMENT)}
            for event in store.list_events():  # counted already: only what comes next is news
                self._counts[_event_key(event)] = event.count
                self._since = max(self._since, event.last_seen)
            return tracked

        tracked = await self.read(seed)
        for ref, state in tracked.items():
            self._tracked.setdefault(ref, state)  # a pass may already have run
        self._tasks.append(asyncio.create_task(self._poll_events(), name="web events"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._push is not None:
            self._push.cancel()

        def close_store() -> None:
            if self._store is not None:
                self._store.close()

        with contextlib.suppress(Exception):
            await asyncio.get_running_loop().run_in_executor(self._pool, close_store)
        self._pool.shutdown(wait=False)

    # -- passes ------------------------------------------------------------------------------

    def on_pass(self, ref: ObjectRef, result: PassResult, seconds: float) -> None:
        """The daemon's hook: called on its loop after each pass; must stay cheap."""
        self.live.reconciled(ref, seconds)
        self._changed(ref)
        if result.plan is None:
            self._tracked.pop(ref, None)
            return
        state, notices = next_transitions(
            self._tracked.get(ref), result.plan.status, result.plan.events
        )
        self._tracked[ref] = state
        if notices and self.notifier is not None:
            self._notify(ref, notices, result.plan.status)

    def _notify(self, ref: ObjectRef, notices: list[Notice], status: Mapping[str, Any]) -> None:
        assert self.notifier is not None
        obj = self.daemon_store.get_object(ref)  # None: a first manifest that is invalid
        spec = obj.spec if obj is not None else {}
        annotations = (spec.get("metadata") or {}).get("annotations") or {}
        targets = self.notifier.targets(annotations)
        if not targets:
            return
        rollout = rollout_of(status)
        rows = self.daemon_store.list_replicasets(ref) if obj is not None else []
        current = next((r for r in rows if r.hash == rollout.current_pod_hash), None)
        template = current.template if current else spec.get("spec", {}).get("template", {})
        images = [
            f"{c.get('name', '')}={c.get('image', '')}"
            for c in (template.get("spec") or {}).get("containers") or []
        ]
        now = time.time()
        for notice in notices:
            payload = {
                "event": str(notice.transition),
                "namespace": ref.namespace,
                "deployment": ref.name,
                "revision": current.revision if current else None,
                "images": images,
                "reason": notice.reason,
                "message": notice.message,
                "phase": str(rollout.phase or ""),
                "strategy": str(spec.get("spec", {}).get("strategy", {}).get("type", "")),
                "time": _rfc3339(now),
            }
            log.info("rollout_transition", deployment=ref.key, transition=payload["event"])
            self.notifier.notify(ref, payload, targets)

    def _changed(self, ref: ObjectRef) -> None:
        self._dirty.add(ref)
        if self._push is None:
            # a short delay: the pods the store shows are flushed ~0.1 s after a pass
            loop = asyncio.get_running_loop()
            self._push = loop.call_later(self.push_delay, self._flush_changed)

    def _flush_changed(self) -> None:
        self._push = None
        dirty, self._dirty = self._dirty, set()
        if self.on_changed is not None and dirty:
            self.on_changed(dirty)

    # -- events ------------------------------------------------------------------------------

    async def _poll_events(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                self.announce(await self.read(self.catch_up))
            except Exception:
                if not failing:
                    log.exception("web_events_poll_failed")
                failing = True
            else:
                failing = False

    def catch_up(self, store: Store) -> list[EventRow]:
        """On the reader thread: the events (and repeats) the store has that were not counted
        yet, counted now into ``rollout_events_total``. The poll calls it, and so does every
        scrape before it renders, so a scrape never misses an event the store already held;
        what it returns goes to ``announce`` on the loop. (Only the reader thread touches
        ``_counts`` and ``_since``.)"""
        fresh = []
        for event in _events_since(store, since=self._since):
            key = _event_key(event)
            delta = event.count - self._counts.get(key, 0)
            self._since = max(self._since, event.last_seen)
            if delta <= 0:
                continue
            self._counts[key] = event.count
            fresh.append(event)
            if event.ref.kind is Kind.DEPLOYMENT:
                self.live.event(event.ref, type=event.type, reason=event.reason, count=delta)
        if len(self._counts) > 40_000:  # the store keeps 20,000: forget what it dropped
            self._counts = dict(list(self._counts.items())[-20_000:])
        return fresh

    def announce(self, fresh: list[EventRow]) -> None:
        """On the loop: events ``catch_up`` found reach the live pages, and an
        ``InvalidManifest`` of a Deployment is a webhook of its own."""
        for event in fresh:
            invalid = event.reason == "InvalidManifest" and event.ref.kind is Kind.DEPLOYMENT
            if invalid and self.notifier is not None:
                self._notify_invalid(event)
        if fresh:
            self.hub.broadcast("event", [event_json(e) for e in fresh])

    def _notify_invalid(self, event: EventRow) -> None:
        ref = ObjectRef(Kind.DEPLOYMENT, event.ref.namespace, event.ref.name)
        notice = Notice(Transition.INVALID_MANIFEST, "InvalidManifest", event.message)
        obj = self.daemon_store.get_object(ref)
        status = obj.status if obj is not None else {}
        self._notify(ref, [notice], status)


def event_json(e: EventRow) -> dict[str, Any]:
    """An event as the API and the stream give it (kubectl's fields)."""
    return {
        "involvedObject": {
            "kind": str(e.ref.kind),
            "namespace": e.ref.namespace,
            "name": e.ref.name,
        },
        "type": e.type,
        "reason": e.reason,
        "message": e.message,
        "count": e.count,
        "firstTimestamp": _rfc3339(e.first_seen),
        "lastTimestamp": _rfc3339(e.last_seen),
        "lastSeen": e.last_seen,
        "source": {"component": e.source},
    }
