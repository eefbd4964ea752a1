"""Merge several logs (usually one venue each) into one multi-venue log.

Order: by ``ts_ns`` (the local receive time every importer stamps), ties broken by input order
(the order of the files on the command line), then by the input's own ``seq``. Each input's own
order is never changed, so a venue's snapshot/delta chain stays intact. This needs every input
ordered by ``ts_ns`` (the importers guarantee it); an input whose ``ts_ns`` steps backwards is an
error naming the file and seq.

Instruments: the output's table is the inputs' tables concatenated in input order; venue indices
are shifted accordingly, in the ``venue`` column and inside the payload of the rare kinds stored
as msgpack (gap, funding, mark price...), which are re-encoded.

Clock: the engine's loops run only on ``Timer`` events. ``timer_ms`` (default 250, the main
loop's interval) lays them on one fixed grid of event time over the merged span
(:mod:`paraphina.importers.timers`) and drops the inputs' own timers (each imported input has its
own grid; kept, they would tick the loops once per input). ``timer_ms = 0`` adds none and keeps
the inputs' timers as they are.

Streaming: one record batch per input is held at a time; whole runs of events from one input
are copied as column slices, so memory stays flat and the output is byte-for-byte deterministic.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable

import msgspec
import numpy as np

from paraphina import events as ev
from paraphina.columns import EventColumns, concat, decode_payload, encode_payload, from_events
from paraphina.eventlog import LogError, LogReader, LogWriter
from paraphina.outputs import replacing, same_file
from paraphina.importers.common import BadInput, _iso
from paraphina.importers.timers import DEFAULT_TIMER_MS, check_timer_count, check_timer_ms, grid_start

# A timer grid never needs this many timers between two events: that is logs of different
# sessions (days apart) or a grid far finer than the data (10 million: 2.8 h at 1 ms).
MAX_TIMERS_IN_A_GAP = 10_000_000
_HOT = np.array([ev.BookSnapshot.KIND, ev.BookDelta.KIND, ev.Trade.KIND, ev.Timer.KIND], dtype=np.uint8)


class _Input:
    def __init__(self, k: int, path: str, offset: int) -> None:
        self.k = k
        self.path = path
        self.offset = offset
        self.reader = LogReader(path)
        self.batches = self.reader.iter_columns()
        self.cols: EventColumns | None = None
        self.i = 0
        self.last_ts: int | None = None
        self.events = 0

    def load(self) -> bool:
        """Next non-empty batch; False at the end of the log."""
        for cols in self.batches:
            if not len(cols):
                continue
            ts = cols.ts_ns
            prev = self.last_ts
            bad = np.flatnonzero(np.diff(ts) < 0)
            if (prev is not None and int(ts[0]) < prev) or bad.size:
                at = 0 if (prev is not None and int(ts[0]) < prev) else int(bad[0]) + 1
                raise BadInput(f"{self.path}: ts_ns decreases at seq {int(cols.seq[at])}; merge needs every input ordered by ts_ns")
            self.cols, self.i, self.last_ts = cols, 0, int(ts[-1])
            return True
        if self.reader.info.damage is not None:
            raise BadInput(f"{self.path}: {self.reader.info.damage} (repair or truncate it before merging)")
        self.cols = None
        return False

    def head(self) -> int:
        return int(self.cols.ts_ns[self.i])


def _remap(chunk: EventColumns, offset: int) -> EventColumns:
    if offset == 0:
        return chunk
    venue = chunk.venue.astype(np.int16, copy=True)
    venue[venue >= 0] += offset
    chunk.venue = venue
    cold = np.flatnonzero(~np.isin(chunk.kind, _HOT))
    if cold.size:
        payload = list(chunk.payload)
        for i in cold:
            i = int(i)
            e = decode_payload(payload[i], int(chunk.seq[i]))
            v = getattr(e, "venue", -1)
            if v >= 0:
                payload[i] = encode_payload(msgspec.structs.replace(e, venue=v + offset))
        chunk.payload = payload
    return chunk


def _without_timers(chunk: EventColumns) -> tuple[EventColumns, int]:
    """``chunk`` without its ``Timer`` rows (the merge lays its own grid), and how many there were."""
    is_timer = chunk.kind == ev.Timer.KIND
    n = int(np.count_nonzero(is_timer))
    if not n:
        return chunk, 0
    runs, start = [], 0
    for t in np.flatnonzero(is_timer).tolist():
        if t > start:
            runs.append(chunk.slice(start, t))
        start = t + 1
    if start < len(chunk):
        runs.append(chunk.slice(start, len(chunk)))
    if not runs:
        return chunk.slice(0, 0), n
    return (runs[0] if len(runs) == 1 else concat(runs)), n


def merge_logs(paths: list[str], out: str, *, force: bool = False, timer_ms: int = DEFAULT_TIMER_MS,
               progress: Callable[[int], None] | None = None) -> list[str]:
    """Write the merge of ``paths`` to ``out``; returns the summary lines.

    ``timer_ms > 0`` adds a ``Timer`` event at every multiple of ``timer_ms`` from the first
    event to the last (placed after the market events of the same ``ts_ns``) and drops the
    inputs' timers; ``0`` adds none and keeps the inputs' timers (module docstring).
    """
    check_timer_ms(timer_ms)
    if not paths:
        raise BadInput("merge: no input logs")
    for p in paths:
        if not os.path.exists(p):
            raise BadInput(f"{p}: no such file")
    if os.path.exists(out) and not force:
        raise BadInput(f"{out}: already exists (use --force to replace it)")
    if any(same_file(p, out) for p in paths):
        raise BadInput(f"{out}: the output is also an input")
    inputs: list[_Input] = []
    instruments: list[ev.Instrument] = []
    try:
        for k, p in enumerate(paths):
            inp = _Input(k, p, len(instruments))
            ins = inp.reader.info.instruments
            if not ins:
                raise BadInput(f"{p}: the log declares no instruments")
            instruments.extend(ins)
            inputs.append(inp)
    except LogError as exc:
        raise BadInput(str(exc)) from None
    names = [i.venue for i in instruments]
    dupes = sorted({n for n in names if names.count(n) > 1})
    session = {"source": "merge", "timer_ms": timer_ms, "inputs": [
        {"file": os.path.basename(p), "venues": [i.venue for i in inp.reader.info.instruments],
         "session": inp.reader.info.session} for p, inp in zip(paths, inputs)]}
    total = 0
    first_ts = last_ts = None
    try:
        with replacing(out) as tmp, LogWriter.create(tmp, instruments, session) as w:
            heap: list[tuple[int, int]] = []
            for inp in inputs:
                if inp.load():
                    heap.append((inp.head(), inp.k))
            tk = len(inputs)  # the timer pseudo-input sorts after every real input at equal ts
            timers = 0
            dropped = 0
            if timer_ms and heap:
                step = timer_ms * 1_000_000
                first = min(t for t, _ in heap)
                heap.append((grid_start(first, step), tk))
            heapq.heapify(heap)
            while heap:
                ts, k = heapq.heappop(heap)
                if k == tk:
                    if not heap:  # every input is done: no timers after the last event
                        break
                    gap = (heap[0][0] - ts) // step
                    if gap > MAX_TIMERS_IN_A_GAP:
                        raise BadInput(f"--timer-ms {timer_ms}: the inputs have a {(heap[0][0] - ts) / 3.6e12:.1f} h "
                                       f"gap with no event at ts_ns {ts}; a timer every {timer_ms} ms would add "
                                       f"{gap:,} timers there (at most {MAX_TIMERS_IN_A_GAP:,}): merge logs of "
                                       "one session, or use a coarser --timer-ms")
                    # Timers due before the next input event: refuse an absurd grid before writing it.
                    check_timer_count(timer_ms, timers + 1 + max(0, (heap[0][0] - ts) // step), heap[0][0])
                    w.append_columns(from_events([ev.Timer(ts_ns=ts)]))
                    timers += 1
                    total += 1
                    heapq.heappush(heap, (ts + step, tk))
                    continue
                inp = inputs[k]
                arr = inp.cols.ts_ns
                n = len(arr)
                if heap:
                    ts2, k2 = heap[0]
                    # Take every event that sorts before the best other head: (ts, k) < (ts2, k2).
                    j = int(np.searchsorted(arr, ts2, side="right" if k < k2 else "left"))
                    j = max(j, inp.i + 1)
                else:
                    j = n
                chunk = _remap(inp.cols.slice(inp.i, j), inp.offset)
                if timer_ms:
                    chunk, n_dropped = _without_timers(chunk)
                    dropped += n_dropped
                if len(chunk):
                    w.append_columns(chunk)
                total += len(chunk)
                inp.events += len(chunk)
                first_ts = ts if first_ts is None else first_ts
                last_ts = int(arr[j - 1])
                if progress is not None:
                    progress(total)
                inp.i = j
                if inp.i >= n and not inp.load():
                    continue
                heapq.heappush(heap, (inp.head(), k))
    except LogError as exc:
        raise BadInput(str(exc)) from None
    lines = [f"inputs: {len(paths)} | venues: {len(instruments)} | events: {total}"
             + (f" (timers every {timer_ms} ms: {timers}; the inputs' own timers dropped: {dropped})" if timer_ms
                else " (--timer-ms 0: no timers added, the inputs' timers kept)")]
    for v, ins in enumerate(instruments):
        lines.append(f"venue {v}: {ins.venue} {ins.symbol} tick {ins.tick_size} lot {ins.lot_size}")
    for inp in inputs:
        lines.append(f"{inp.path}: {inp.events} events")
    if first_ts is not None:
        # ISO times, as `paraphina import` prints them (the same helper)
        lines.append(f"time span: {_iso(first_ts)} .. {_iso(last_ts)} ({(last_ts - first_ts) / 1e9:.3f} s)")
    if dupes:
        lines.append(f"warning: venue names repeat ({', '.join(dupes)}): the engine's per-venue config is looked up by name")
    return lines
