"""The daemon's work queue: one pass at a time per key, now or after a delay.

As client-go's rate-limited work queue is for a Kubernetes controller: a key (a Deployment) is
queued at most once however often it is asked for, and a delayed request keeps only the
earliest due time per key, so memory is bounded by the number of keys, never by the number of
requests (a pod flapping a thousand times queues its Deployment once). A key asked for now
while a delayed request is pending keeps both: the pass now, and the look the plan asked for.

Time comes from ``now`` (monotonic by default). With a manual clock, a test moves the clock and
calls ``wake()``; ``get()`` never sleeps past a due key on a real clock.

>>> async def demo() -> list[str]:
...     queue: WorkQueue[str] = WorkQueue()
...     for key in ["a", "b", "a", "a"]:
...         queue.add(key)
...     return [await queue.get(), await queue.get(), str(len(queue))]
>>> asyncio.run(demo())
['a', 'b', '0']
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class QueueClosed(Exception):
    """``get()`` on a closed queue: the daemon is stopping."""


class WorkQueue(Generic[K]):
    """Keys to work on, each at most once in the ready line and once in the delayed set."""

    def __init__(self, *, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._ready: deque[K] = deque()
        self._queued: set[K] = set()
        self._delayed: dict[K, float] = {}  # key -> due time (the earliest asked for)
        self._wake = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        """Keys ready now (not counting delayed ones)."""
        return len(self._ready)

    @property
    def delayed(self) -> dict[K, float]:
        """A copy of the delayed keys and when each is due."""
        return dict(self._delayed)

    def add(self, key: K, *, delay: float = 0.0) -> None:
        """Work on ``key`` now (``delay`` 0), or no later than ``delay`` seconds from now."""
        if self._closed:
            return
        if delay <= 0:
            if key not in self._queued:
                self._queued.add(key)
                self._ready.append(key)
                self._wake.set()
            return
        due = self._now() + delay
        current = self._delayed.get(key)
        if current is not None and current <= due:
            return  # an earlier look is already due: it sees this too (level-triggered)
        self._delayed[key] = due
        self._wake.set()

    def wake(self) -> None:
        """Look at the delayed keys again (after a manual clock moved)."""
        self._wake.set()

    def _promote_due(self) -> float | None:
        """Move due keys to the ready line; the next due time left, if any."""
        now = self._now()
        for key, due in sorted(self._delayed.items(), key=lambda item: item[1]):
            if due <= now:
                del self._delayed[key]
                self.add(key)
        return min(self._delayed.values(), default=None)

    async def get(self) -> K:
        """The next key to work on, waiting for one (``QueueClosed`` once closed)."""
        while True:
            next_due = self._promote_due()
            if self._ready:
                key = self._ready.popleft()
                self._queued.discard(key)
                return key
            if self._closed:
                raise QueueClosed
            self._wake.clear()
            timeout = None if next_due is None else max(next_due - self._now(), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def close(self) -> None:
        """Take no more keys, drop the delayed ones, and let a waiting ``get()`` end."""
        self._closed = True
        self._delayed.clear()
        self._ready.clear()
        self._queued.clear()
        self._wake.set()


__all__ = ["QueueClosed", "WorkQueue"]
