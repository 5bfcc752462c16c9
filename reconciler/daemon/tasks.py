"""The daemon's background steps and signals: periodic work that never kills the daemon.

A periodic step (poll intents, flush pods, heartbeat, analysis) that fails — a full disk, a
locked database — is logged once per streak and tried again next tick; a stuck shutdown says
where each task waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from reconciler.log import get_logger

log = get_logger(component="daemon")


async def every(interval: float, step: Callable[[], Awaitable[None]]) -> None:
    """Run ``step`` every ``interval`` seconds for the daemon's life; a failing step is logged
    (the first failure of a streak, not one per tick) and tried again next time, never fatal."""
    failing = False
    while True:
        await asyncio.sleep(interval)
        try:
            await step()
        except Exception as exc:
            if not failing:
                log.exception("background_step_failed", step=step.__name__, error=str(exc))
            failing = True
        else:
            if failing:
                log.info("background_step_recovered", step=step.__name__)
            failing = False


def task_summary() -> list[str]:
    """Where each pending task waits: what a stuck shutdown is stuck on."""
    out = []
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=1)
        where = (
            f"{frames[0].f_code.co_filename}:{frames[0].f_lineno}" if frames else "<not started>"
        )
        out.append(f"{task.get_name()} at {where}")
    return sorted(out)


async def shutdown_within(
    shutdown: Callable[[], Coroutine[Any, Any, None]], stop: asyncio.Event, *, budget: float
) -> bool:
    """Graceful shutdown, but never a daemon that will not die: False (after saying what it
    was waiting on) when a second signal comes, or the shutdown outlasts ``budget``."""
    stop.clear()
    task = asyncio.create_task(shutdown(), name="shutdown")
    again = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, again}, timeout=budget, return_when=asyncio.FIRST_COMPLETED)
    again.cancel()
    if task in done:
        task.result()
        return True
    log.error(
        "shutdown_forced",
        why="second signal" if stop.is_set() else f"still stopping after {budget:.0f}s",
        waiting_on=task_summary(),
    )
    task.cancel()
    return False


def install_signal_handlers(stop: asyncio.Event) -> Callable[[], None]:
    """SIGTERM and SIGINT set ``stop``; the returned function removes the handlers."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def remove() -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)

    return remove


__all__ = ["every", "install_signal_handlers", "shutdown_within", "task_summary"]
