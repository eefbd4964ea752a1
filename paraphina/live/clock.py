"""The recorder's local receive clock: the one place paraphina reads wall time.

Events are stamped with it when their frame arrives (``ts_ns``, the log's time); the engine
never reads it. Tests inject their own clock to make stamps predictable.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...


class WallClock:
    """``time.time_ns``: nanoseconds since the epoch, as venues' recorders stamp captures."""

    def now_ns(self) -> int:
        return time.time_ns()


class MonotonicStamps:
    """Wraps a clock so the stamps it hands out never step backwards (an NTP step on the host
    would otherwise put a later event before an earlier one in time)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.last = 0
        self.clamped = 0

    def now_ns(self) -> int:
        t = self.clock.now_ns()
        if t < self.last:
            self.clamped += 1
            return self.last
        self.last = t
        return t
