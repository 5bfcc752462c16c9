"""The daemon's work queue: per-key dedup, the earliest delay per key, bounded memory."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.clock import ManualClock
from reconciler.daemon.queue import QueueClosed, WorkQueue


def test_a_key_asked_for_many_times_is_queued_once() -> None:
    """A thousand requests for one key while it waits: one pass, and nothing else remembered."""

    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue()
        for _ in range(1000):
            queue.add("web")
        queue.add("api")
        assert len(queue) == 2
        assert [await queue.get(), await queue.get()] == ["web", "api"]
        assert len(queue) == 0
        queue.add("web")  # taken off the line: it may be queued again (a pass acted)
        assert await queue.get() == "web"

    asyncio.run(scenario())


def test_a_delayed_key_keeps_only_its_earliest_due_time() -> None:
    """Delays 30, 10, 20 for one key: one entry, due in 10; it comes out when the clock says."""

    async def scenario() -> None:
        clock = ManualClock(start=100.0)
        queue: WorkQueue[str] = WorkQueue(now=clock.now)
        for delay in (30.0, 10.0, 20.0):
            queue.add("web", delay=delay)
        assert queue.delayed == {"web": 110.0}
        waiting = asyncio.create_task(queue.get())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        clock.advance(9.0)
        queue.wake()
        await asyncio.sleep(0.01)
        assert not waiting.done()  # 1 s early
        clock.advance(1.0)
        queue.wake()
        assert await asyncio.wait_for(waiting, 1.0) == "web"
        assert queue.delayed == {}

    asyncio.run(scenario())


def test_a_key_asked_for_now_keeps_its_delayed_look_too() -> None:
    """Now and in 5 s: the pass now, and the later look the plan asked for."""

    async def scenario() -> None:
        clock = ManualClock(start=0.0)
        queue: WorkQueue[str] = WorkQueue(now=clock.now)
        queue.add("web", delay=5.0)
        queue.add("web")
        assert await queue.get() == "web"
        assert queue.delayed == {"web": 5.0}

    asyncio.run(scenario())


def test_a_real_clock_delay_is_honoured_without_a_wake() -> None:
    """On the monotonic clock a delayed key comes out on its own, not before its time."""

    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue()
        loop = asyncio.get_running_loop()
        started = loop.time()
        queue.add("web", delay=0.05)
        assert await asyncio.wait_for(queue.get(), 2.0) == "web"
        assert loop.time() - started >= 0.05

    asyncio.run(scenario())


def test_close_ends_a_waiting_get_and_drops_everything() -> None:
    """Closing: the worker's get() raises QueueClosed; later adds are ignored."""

    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("x", delay=60.0)
        waiting = asyncio.create_task(queue.get())
        await asyncio.sleep(0.01)
        queue.close()
        with pytest.raises(QueueClosed):
            await asyncio.wait_for(waiting, 1.0)
        queue.add("y")
        assert len(queue) == 0 and queue.delayed == {}

    asyncio.run(scenario())
