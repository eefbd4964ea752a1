"""Progress of long work (Monte Carlo, suites, Phase A, backtests, replays, imports, ``rl bc``).

One implementation for every command:

* on a terminal, a real bar (``tqdm``: count, percentage, rate, ETA; the description says what
  is running, e.g. ``trial 3 of 10``). tqdm is small, dependency-free and the de-facto standard
  bar; ``rich`` would bring a whole rendering stack for the same line;
* otherwise (a pipe, a log file, CI) one plain line on stderr when the work starts, at least
  every ``interval`` seconds while it runs (a heartbeat thread writes the current state even when
  a single item takes longer), and when it ends::

      [mc] 37/200 runs (18%) 1.2 runs/s ETA 2m15s | trial 3 of 10

* ``enabled=False`` (``--quiet``) writes nothing.

The wall clock is read here for display only: nothing it measures reaches a result. Tests
inject ``clock`` and ``interval`` (``PARAPHINA_PROGRESS_INTERVAL`` in the environment sets the
interval of a whole command, e.g. ``0`` for a line per update) and turn the heartbeat off.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

DEFAULT_INTERVAL = 10.0
INTERVAL_ENV = "PARAPHINA_PROGRESS_INTERVAL"


def default_interval() -> float:
    raw = os.environ.get(INTERVAL_ENV)
    if raw is None:
        return DEFAULT_INTERVAL
    try:
        return max(0.0, float(raw))
    except ValueError:
        return DEFAULT_INTERVAL


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """Progress of ``total`` items of ``unit`` (``total=None``: unknown, count and rate only).

    Use as a context manager or call :meth:`close`; :meth:`update` adds finished items and
    :meth:`describe` sets what is running now (``trial 3 of 10``)."""

    def __init__(self, label: str, total: int | None, unit: str = "items", *, enabled: bool = True,
                 stream: TextIO | None = None, tty: bool | None = None, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic, heartbeat: bool = True, bytes_unit: bool = False,
                 only_if_long: bool = False):
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.detail = ""
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.interval = default_interval() if interval is None else interval
        self.clock = clock
        self.bytes_unit = bytes_unit
        # Work that is usually short (a replay, an import) stays silent off a terminal unless it
        # runs past one interval: no start line, and an end line only if a line was written.
        self.only_if_long = only_if_long
        self._wrote = False
        self._start = clock()
        self._last_line = self._start
        self._lock = threading.Lock()
        self._closed = False
        self._bar = None
        self._stop: threading.Event | None = None
        if not enabled:
            return
        is_tty = self._isatty() if tty is None else tty
        if is_tty:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=f"[{label}]", unit="B" if bytes_unit else f" {unit}",
                             unit_scale=bytes_unit, unit_divisor=1024, file=self.stream, leave=True,
                             dynamic_ncols=True, mininterval=0.2)
            return
        if not only_if_long:
            self._line()
        if heartbeat and self.interval > 0:
            self._stop = threading.Event()
            threading.Thread(target=self._beat, name=f"progress-{label}", daemon=True).start()

    def _isatty(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (AttributeError, ValueError):
            return False

    # --- updates -----------------------------------------------------------------------------

    def update(self, n: int = 1) -> None:
        if not self.enabled or self._closed:
            return
        with self._lock:
            self.done += n
            if self._bar is not None:
                self._bar.update(n)
            elif self.clock() - self._last_line >= self.interval or self.done == self.total:
                self._line()

    def advance_to(self, position: int) -> None:
        """For work measured by position (bytes read so far): update to ``position``."""
        if position > self.done:
            self.update(position - self.done)

    def describe(self, detail: str) -> None:
        """What is running now; shown on the bar and on every progress line."""
        if not self.enabled or self._closed:
            return
        with self._lock:
            self.detail = detail
            if self._bar is not None:
                self._bar.set_description(f"[{self.label}] {detail}")

    def close(self) -> None:
        if not self.enabled or self._closed:
            return
        with self._lock:
            self._closed = True
            if self._stop is not None:
                self._stop.set()
            if self._bar is not None:
                self._bar.close()
            elif (self._last_state != (self.done, self.detail)) and (self._wrote or not self.only_if_long):
                self._write(self.text())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the plain line ----------------------------------------------------------------------

    _last_state: tuple[int, str] | None = None

    def text(self) -> str:
        elapsed = max(0.0, self.clock() - self._start)
        amount = _bytes if self.bytes_unit else str
        unit = "" if self.bytes_unit else f" {self.unit}"
        parts = [f"[{self.label}] {amount(self.done)}"]
        if self.total is not None:
            parts[0] += f"/{amount(self.total)}"
        parts[0] += unit
        if self.total:
            parts.append(f"({100 * self.done // self.total}%)")
        if self.done and elapsed > 0:
            rate = self.done / elapsed
            parts.append(f"{_bytes(rate)}/s" if self.bytes_unit else f"{rate:.3g} {self.unit}/s")
            if self.total is not None and self.done < self.total:
                parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        parts.append(f"elapsed {_duration(elapsed)}")
        line = " ".join(parts)
        return f"{line} | {self.detail}" if self.detail else line

    def _line(self) -> None:
        self._write(self.text())

    def _write(self, text: str) -> None:
        self._wrote = True
        self._last_line = self.clock()
        self._last_state = (self.done, self.detail)
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe must not break the work itself
            pass

    def _beat(self) -> None:
        assert self._stop is not None
        while not self._stop.wait(self.interval):
            with self._lock:
                if self._closed:
                    return
                if self.clock() - self._last_line >= self.interval:
                    self._line()


def position_reporter(label: str, total: int, *, enabled: bool = True) -> tuple[Callable[[int], None], Callable[[], None]]:
    """``(update(position), close)`` for byte-position work (replay, import, merge): a bar on a
    terminal, lines off it only once the work runs past one interval."""
    bar = Progress(label, total or None, "bytes", bytes_unit=True, only_if_long=True, enabled=enabled)
    return bar.advance_to, bar.close


def progress_for(label: str, total: int | None, unit: str, progress: Progress | bool | None) -> Progress:
    """A command's progress: ``progress`` itself when the caller shares one (Phase A's trials),
    else a new one, silent when ``progress`` is False (``--quiet``)."""
    if isinstance(progress, Progress):
        return progress
    return Progress(label, total, unit, enabled=progress is not False)
