"""Watching the manifests folder: watchdog events in, one coalesced change set out.

Editors save in many ways (write in place; write a temporary file and rename it over the
original; delete and re-create), and each way fires several events. The watcher keeps only the
*paths* that were touched, waits for a short quiet period (the debounce) and then hands the set
to the daemon's loop once. Hidden and temporary files are ignored. Because an event can be
missed (an overflowing inotify queue, a folder replaced by a mount), a periodic full resync
repairs whatever the events did not say; the daemon's sync is idempotent, so a resync that finds
nothing changed costs only a directory scan.

The observer runs in watchdog's thread; the only thing it does is call
``loop.call_soon_threadsafe`` (DESIGN decision 7: one event loop).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from reconciler.log import get_logger

MANIFEST_SUFFIXES = (".yaml", ".yml")
SYNC_RETRY_SECONDS = 1.0  # after a failed sync
_TEMP_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".tmp", ".bak", ".part", ".orig", ".rej")

log = get_logger(component="watch")


def is_manifest_path(path: Path, root: Path) -> bool:
    """True for ``*.yaml``/``*.yml`` files under ``root`` that are not hidden or temporary."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    if not parts or any(part.startswith((".", "#")) for part in parts):
        return False
    name = parts[-1]
    if name.endswith(_TEMP_SUFFIXES) or name.startswith("~"):
        return False
    return name.endswith(MANIFEST_SUFFIXES)


def scan(root: Path) -> Iterator[Path]:
    """Every manifest file under ``root``, sorted, not following symlinked folders (no loops)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = Path(folder) / name
            if is_manifest_path(path, root):
                found.append(path)
    return iter(sorted(found))


class _Handler(FileSystemEventHandler):
    def __init__(self, notify: Callable[[str], None]) -> None:
        self._notify = notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type in ("modified", "closed"):
            return  # a folder's mtime changes with every file in it; the file events say more
        self._notify(os.fsdecode(event.src_path))
        dest = getattr(event, "dest_path", "")
        if dest:
            self._notify(os.fsdecode(dest))


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
    ) -> None:
        self.root = root.resolve()
        self._on_change = on_change
        self._debounce = debounce
        self._resync = resync
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._observer: Any = None
        self._resync_task: asyncio.Task[None] | None = None
        self._running: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        observer = Observer()
        observer.schedule(_Handler(self._from_thread), os.fspath(self.root), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._resync_task = asyncio.create_task(self._periodic_resync())

    async def stop(self) -> None:
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

    def _from_thread(self, path: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._touched, Path(path))

    def _touched(self, path: Path) -> None:
        # A manifest, or anything that may be a folder (created, moved, deleted): a folder event
        # can stand for many files at once.
        if is_manifest_path(path, self.root) or path.suffix == "" or path.is_dir():
            self.request_sync()

    def request_sync(self) -> None:
        """Sync after the debounce (coalescing with any sync already asked for)."""
        if self._loop is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(self._debounce, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._running is not None and not self._running.done():
            # a sync is running; run again after it so its result includes the latest change
            self.request_sync()
            return
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
