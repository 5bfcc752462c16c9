"""Watching the manifests folder: watchdog events in, one coalesced change set out.

Editors save in many ways (write in place; write a temporary file and rename it over the
original; delete and re-create), and each way fires several events. The watcher keeps only the
*paths* that were touched, waits for a short quiet period (the debounce) and then hands the set
to the daemon's loop once. Hidden and temporary files are ignored. Because an event can be
missed (an overflowing inotify queue, a folder replaced by a mount), a periodic full resync
repairs whatever the events did not say; the daemon's sync is idempotent, so a resync that finds
nothing changed costs only a directory scan.

Writes settle before they apply (issue 18): a sync acts on *complete* writes only.

- Complete: a close after writing (inotify ``IN_CLOSE_WRITE``, watchdog's ``FileClosedEvent``),
  a rename or move onto the path, a deletion: the sync follows after the debounce.
- In progress: a file modified (or created) and not yet closed, e.g. ``cp`` or an editor
  half-way through writing in place. The sync waits for its close, or for ``settle`` seconds
  without a further write (a writer that never closes), at most ``max_defer`` seconds in all.
- A file written in place recently (within ``settle``) is *unsettled* (``unsettled()``): the
  sync does not delete objects that vanished from it, since a writer may be about to write
  them again (``reconciler.folder.sync``); it looks again once the file has settled.

Close events come from inotify; where watchdog falls back to polling (no inotify) there are
none, and a file written in place takes effect ``settle`` seconds after its last write.

The observer runs in watchdog's thread; the only thing it does is call
``loop.call_soon_threadsafe`` (DESIGN decision 7: one event loop).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from reconciler.folder.files import is_manifest_path
from reconciler.log import get_logger

SYNC_RETRY_SECONDS = 1.0  # after a failed sync
SETTLE_SECONDS = 1.0  # quiet time after an in-place write without a close
MAX_DEFER_SECONDS = 10.0  # a file written to without end is synced anyway after this
MAX_DEBOUNCE_SECONDS = 0.5  # a folder that never goes quiet is still synced this often
_IN_PROGRESS = frozenset({"modified", "created"})  # a write that has not been closed yet
_COMPLETE_WRITE = "closed"  # closed after writing

log = get_logger(component="watch")


class _Handler(FileSystemEventHandler):
    def __init__(self, notify: Callable[[str, str], None]) -> None:
        self._notify = notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type in ("modified", "closed"):
            return  # a folder's mtime changes with every file in it; the file events say more
        kind = "directory" if event.is_directory else event.event_type
        self._notify(kind, os.fsdecode(event.src_path))
        dest = getattr(event, "dest_path", "")
        if dest:
            self._notify(kind, os.fsdecode(dest))


class FolderWatcher:
    """Calls ``on_change()`` in the loop once the folder has been quiet for ``debounce`` seconds.

    The daemon's sync looks at the whole folder (re-reading only files whose size or mtime
    changed), so the watcher only needs to say *that* something changed, never *what*.
    """

    def __init__(
        self,
        root: Path,
        on_change: Callable[[], Awaitable[None]],
        *,
        debounce: float = 0.05,
        resync: float = 30.0,
        settle: float = SETTLE_SECONDS,
        max_defer: float = MAX_DEFER_SECONDS,
    ) -> None:
        self.root = root.resolve()
        self._on_change = on_change
        self._debounce = debounce
        self._resync = resync
        self._settle = settle
        self._max_defer = max_defer
        # paths written to and not closed yet: (first, last) write event, in loop time
        self._writing: dict[Path, tuple[float, float]] = {}
        # paths written in place: their last write event (for unsettled())
        self._written: dict[Path, float] = {}
        self._stopped = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._observer: Any = None
        self._resync_task: asyncio.Task[None] | None = None
        self._running: asyncio.Task[None] | None = None
        self._pending_since: float | None = None  # the first change not yet synced
        # events from the observer thread, handed to the loop in batches (see _from_thread)
        self._inbox: list[tuple[str, str]] = []
        self._inbox_lock = threading.Lock()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        observer = Observer()
        observer.schedule(_Handler(self._from_thread), os.fspath(self.root), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._resync_task = asyncio.create_task(self._periodic_resync())

    async def stop(self) -> None:
        self._stopped = True  # no timer set before now (a retry, a settle) may sync any more
        if self._resync_task:
            self._resync_task.cancel()
        if self._timer:
            self._timer.cancel()
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
        if self._observer is not None:
            observer = self._observer
            self._observer = None
            observer.stop()
            await asyncio.to_thread(observer.join, 5)

    def _from_thread(self, kind: str, path: str) -> None:
        """Queue an event for the loop, waking it once per batch, not once per event.

        ``call_soon_threadsafe`` writes a byte to the loop's self-pipe, which is also the
        signal wakeup fd: a writer replacing a file in a loop while a sync keeps the loop busy
        filled that pipe, and the SIGTERM that came next was lost ("Exception ignored when
        trying to write to the signal wakeup fd"): the daemon did not stop.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with self._inbox_lock:
            self._inbox.append((kind, path))
            wake = len(self._inbox) == 1
        if wake:
            loop.call_soon_threadsafe(self._drain_inbox)

    def _drain_inbox(self) -> None:
        with self._inbox_lock:
            events, self._inbox = self._inbox, []
        for kind, path in events:
            self._touched(kind, Path(path))

    def _touched(self, kind: str, path: Path) -> None:
        # A manifest, or anything that may be a folder (created, moved, deleted): a folder event
        # can stand for many files at once.
        if not (is_manifest_path(path, self.root) or path.suffix == "" or path.is_dir()):
            return
        assert self._loop is not None
        now = self._loop.time()
        if kind in _IN_PROGRESS:
            first, _ = self._writing.get(path, (now, now))
            self._writing[path] = (first, now)
            self._written[path] = now
        else:
            self._writing.pop(path, None)
            if kind == _COMPLETE_WRITE:
                self._written[path] = now
        self.request_sync()

    def unsettled(self) -> frozenset[Path]:
        """Files written in place within the last ``settle`` seconds (or still being written)."""
        if self._loop is None:
            return frozenset()
        now = self._loop.time()
        for path, at in list(self._written.items()):
            if now - at >= self._settle and path not in self._writing:
                del self._written[path]
        return frozenset(self._written)

    def resync_when_settled(self) -> None:
        """Sync again once every unsettled file has settled (for deletions held meanwhile)."""
        if self._loop is None or not self.unsettled():
            return
        now = self._loop.time()
        due = max(self._written.values()) + self._settle - now
        self._loop.call_later(max(due, 0.0) + 0.01, self.request_sync)

    def request_sync(self) -> None:
        """Sync after the debounce (coalescing with any sync already asked for).

        Each change pushes the sync back by the debounce, but never past ``MAX_DEBOUNCE_SECONDS``
        after the first change still unsynced: a writer that replaces a file in a loop would
        otherwise starve every sync (and with it every other file's change) for as long as it
        runs.
        """
        if self._loop is None:
            return
        now = self._loop.time()
        if self._pending_since is None:
            self._pending_since = now
        if self._timer is not None and self._timer.when() <= now:
            # The timer is due and about to run: keep it. Rescheduling a due timer livelocks
            # once a change arrives in every turn of the loop (the observer thread queues them
            # while a sync runs): cancelled each time before it could run, it never fires.
            return
        left = self._pending_since + MAX_DEBOUNCE_SECONDS - now
        self._sync_in(max(0.0, min(self._debounce, left)))

    def _sync_in(self, delay: float) -> None:
        if self._loop is None or self._stopped:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(delay, self._fire)

    def _write_pending(self) -> float | None:
        """Seconds to wait for a write in progress to complete or settle (None: none is)."""
        assert self._loop is not None
        now = self._loop.time()
        wait: float | None = None
        for path, (first, last) in list(self._writing.items()):
            if now - last >= self._settle or now - first >= self._max_defer:
                del self._writing[path]  # quiet long enough without a close: take it as it is
                continue
            left = min(last + self._settle, first + self._max_defer) - now
            wait = left if wait is None else max(wait, left)
        return wait

    def _fire(self) -> None:
        self._timer = None
        if self._stopped:
            return
        pending = self._write_pending()
        if pending is not None:
            self._sync_in(pending)  # half a file must never be applied: wait for the rest
            return
        if self._running is not None and not self._running.done():
            # a sync is running; run again after it so its result includes the latest change
            self._sync_in(self._debounce)
            return
        self._pending_since = None  # this sync reads the folder as it is now
        self._running = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            await self._on_change()
        except Exception:
            # e.g. a full disk under the state database: the change is not lost, only not yet
            # recorded; try again soon rather than at the next event or periodic resync
            log.exception("sync_failed", retry_in=SYNC_RETRY_SECONDS)
            if self._loop is not None:
                self._loop.call_later(SYNC_RETRY_SECONDS, self.request_sync)

    async def _periodic_resync(self) -> None:
        while True:
            await asyncio.sleep(self._resync)
            self.request_sync()
