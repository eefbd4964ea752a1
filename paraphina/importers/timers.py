"""The timer grid that imported and merged logs carry so the engine's loops run.

Captures hold market events only; the engine runs its main and hedge loops on ``Timer`` events
(time comes only from events). An import or merge therefore lays a ``Timer`` at every multiple
of ``timer_ms`` of event time from the first event to the last; a timer at ``t`` sorts after the
market events stamped ``t``. There is never a timer after the last market event.

A grid that would hold more than :data:`MAX_TIMERS` timers (``merge --timer-ms 1`` over logs
13 days apart asks for a billion) is refused before it is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from paraphina import events as ev
from paraphina.errors import UserError

DEFAULT_TIMER_MS = 250  # the default main-loop interval (config ``loops.main_loop_interval_ms``)
MAX_TIMERS = 20_000_000  # 58 days at the default 250 ms


def check_timer_ms(timer_ms: int) -> None:
    if timer_ms < 0:
        raise UserError(f"--timer-ms {timer_ms}: must be >= 0 (0: no timers)")


def check_timer_count(timer_ms: int, count: int, until_ts_ns: int) -> None:
    """Refuse a grid that reaches ``count`` timers (at event time ``until_ts_ns``)."""
    if count > MAX_TIMERS:
        from datetime import datetime, timezone

        when = datetime.fromtimestamp(until_ts_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        raise UserError(f"--timer-ms {timer_ms}: the grid would hold more than {MAX_TIMERS:,} timers "
                        f"({count:,} by {when}); use a larger --timer-ms, or 0 for none")


def grid_start(first_ts_ns: int, step_ns: int) -> int:
    """The first grid point at or after the first event."""
    return -(-first_ts_ns // step_ns) * step_ns


class TimerGrid:
    """The grid laid incrementally: :meth:`due` gives the timer times before an event's time."""

    def __init__(self, timer_ms: int) -> None:
        check_timer_ms(timer_ms)
        self.timer_ms = timer_ms
        self.step = timer_ms * 1_000_000
        self.next: int | None = None
        self.count = 0

    def due(self, ts_ns: int) -> range:
        """Timer times strictly before ``ts_ns`` not handed out yet (the grid starts at the first
        event: a timer at ``t`` comes after the events stamped ``t``)."""
        if not self.step:
            return range(0)
        if self.next is None:
            self.next = grid_start(ts_ns, self.step)
            return range(0)
        if self.next >= ts_ns:
            return range(0)
        n = (ts_ns - 1 - self.next) // self.step + 1
        check_timer_count(self.timer_ms, self.count + n, ts_ns)
        out = range(self.next, self.next + n * self.step, self.step)
        self.next += n * self.step
        self.count += n
        return out


def with_timers(events: Iterable[ev.Event], timer_ms: int) -> Iterator[ev.Event]:
    """``events`` (non-decreasing ``ts_ns``) with the timer grid woven in; unchanged when 0."""
    grid = TimerGrid(timer_ms)
    if timer_ms == 0:
        yield from events
        return
    for e in events:
        for t in grid.due(e.ts_ns):
            yield ev.Timer(ts_ns=t)
        yield e
