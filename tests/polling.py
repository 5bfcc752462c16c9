"""The one way tests wait for a condition: poll it until it holds, fail clearly at a deadline.

Never sleep-and-hope: a test awaits the condition it needs and fails, naming it and the last
value seen, when it does not come within ``timeout``. ``wait_for`` blocks (subprocess daemons,
threads); ``wait_until`` is the same loop for a test already inside an event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["wait_for", "wait_until"]


def _timed_out(timeout: float, what: str, predicate: object, last: object) -> AssertionError:
    return AssertionError(
        f"timed out after {timeout}s waiting for {what or predicate}: last={last!r}"
    )


def wait_for(
    predicate: Callable[[], T | None],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "",
) -> T:
    """Poll until ``predicate()`` is truthy and return it; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        last: Any = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what, predicate, last)
        time.sleep(interval)


async def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float = 5.0,
    interval: float = 0.01,
    what: str = "",
) -> T:
    """``wait_for`` inside an event loop: the loop runs between polls."""
    deadline = time.monotonic() + timeout
    while True:
        last: Any = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what, predicate, last)
        await asyncio.sleep(interval)
