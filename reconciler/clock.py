"""Time as a seam: the engine never reads the clock itself; it is handed ``now``.

``Clock`` is what the daemon injects; tests inject ``ManualClock`` and move time by hand.
Times are wall-clock seconds since the epoch (floats), because they are stored and shown.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
