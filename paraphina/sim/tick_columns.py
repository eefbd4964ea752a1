"""The columns of one engine step in a simulated run: market rows and the exchange's events.

Between two acting events the engine is given one :class:`~paraphina.columns.EventColumns`:
the generator's rows since the last one, with the events the exchange made (acks, fills,
account events; all of them kinds that travel as payloads) stepped in between. :func:`join`
builds it with one compiled copy of the market rows rather than a column-by-column concatenation
of small pieces; the bytes are those :func:`paraphina.columns.from_events` gives for the same
events.
"""

from __future__ import annotations

import numba
import numpy as np

from paraphina.columns import EventColumns, concat, encode_payload, from_events
from paraphina.sim.exchange_kernel import (
    N_ROW_FIELDS, R_A0, R_A1, R_B0, R_B1, R_FLAGS, R_KIND, R_PRICE, R_PVSEQ, R_SIDE, R_SIZE, R_TS, R_VENUE, R_VSEQ,
)

class ChunkPacker:
    """A chunk's columns packed for the kernels that read them: ``packer(cols)`` is (rows, bid
    levels, ask levels), the scalar columns as one int64 array ``rows[field, row]`` (fields
    ``R_*`` of :mod:`paraphina.sim.exchange_kernel`) and the levels as (price, size) pairs, for
    kernels that take few arguments (numba's call cost is per argument).

    The exchange's fold and the join of a tick's columns read the same generator chunk many
    times: one packer per run (the exchange's) packs each chunk once. It keeps the last chunk
    only, so a run holds one packed chunk at a time."""

    def __init__(self) -> None:
        self._last: tuple | None = None   # (columns, their packed form)

    def __call__(self, cols: EventColumns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        last = self._last
        if last is not None and last[0] is cols:
            return last[1]
        rows = np.empty((N_ROW_FIELDS, len(cols)), np.int64)
        rows[R_TS], rows[R_KIND], rows[R_VENUE] = cols.ts_ns, cols.kind, cols.venue
        rows[R_PRICE], rows[R_SIZE], rows[R_SIDE] = cols.price, cols.size, cols.side
        rows[R_B0], rows[R_B1] = cols.bid_off[:-1], cols.bid_off[1:]
        rows[R_A0], rows[R_A1] = cols.ask_off[:-1], cols.ask_off[1:]
        rows[R_VSEQ], rows[R_PVSEQ], rows[R_FLAGS] = cols.venue_seq, cols.prev_venue_seq, cols.flags
        out = (rows, np.stack((cols.bid_px, cols.bid_sz)).astype(np.int64, copy=False),
               np.stack((cols.ask_px, cols.ask_sz)).astype(np.int64, copy=False))
        self._last = (cols, out)
        return out


@numba.njit(cache=True, nogil=True)
def join_rows(rows, a, c, evs, first_seq, w0, seq, ts, kind, venue, vseq, pvseq, price, size, side, flags, boff, aoff):
    """Write market rows ``a .. c - 1`` (packed) with event ``x`` (``evs[:, x]``: place, time,
    kind, venue) placed before market row ``a + place`` (places non-decreasing; ``c - a`` places
    it last) into the arena arrays from slot ``w0`` on, numbered from ``first_seq``; events have
    no levels and no trade columns. Level offsets count from the first market row's levels.
    Returns the number of rows written."""
    n_e = evs.shape[1]
    n = c - a + n_e
    boff[w0] = 0
    aoff[w0] = 0
    b0 = rows[R_B0, a]
    a0 = rows[R_A0, a]
    m = 0
    x = 0
    for k in range(n):
        w = w0 + k
        seq[w] = first_seq + k
        if x < n_e and evs[0, x] <= m:
            ts[w] = evs[1, x]
            kind[w] = evs[2, x]
            venue[w] = evs[3, x]
            vseq[w] = -1
            pvseq[w] = -1
            price[w] = 0
            size[w] = 0
            side[w] = 0
            flags[w] = 0
            boff[w + 1] = boff[w]
            aoff[w + 1] = aoff[w]
            x += 1
        else:
            r = a + m
            ts[w] = rows[R_TS, r]
            kind[w] = rows[R_KIND, r]
            venue[w] = rows[R_VENUE, r]
            vseq[w] = rows[R_VSEQ, r]
            pvseq[w] = rows[R_PVSEQ, r]
            price[w] = rows[R_PRICE, r]
            size[w] = rows[R_SIZE, r]
            side[w] = rows[R_SIDE, r]
            flags[w] = rows[R_FLAGS, r]
            boff[w + 1] = rows[R_B1, r] - b0
            aoff[w + 1] = rows[R_A1, r] - a0
            m += 1
    return n


class _Arena:
    """Fresh arrays the joined columns of many steps are carved from (one allocation per
    :data:`ARENA_ROWS` rows instead of a dozen per step). A region is written once and never
    reused, so columns the log writer still holds stay intact."""

    __slots__ = ("arrays", "used")

    def __init__(self, rows: int) -> None:
        z = np.empty
        self.arrays = (z(rows, np.int64), z(rows, np.int64), z(rows, np.uint8), z(rows, np.int16), z(rows, np.int64),
                       z(rows, np.int64), z(rows, np.int64), z(rows, np.int64), z(rows, np.int8), z(rows, np.uint8),
                       z(rows + 1, np.int32), z(rows + 1, np.int32))
        self.used = 0


ARENA_ROWS = 1 << 14


def join(parts: list, first_seq: int, arena: list, packer: ChunkPacker | None = None) -> EventColumns:
    """One run of columns numbered from ``first_seq``, from ``parts`` in order: market rows
    ``(cols, start, stop)`` and lists of events. ``arena`` is the caller's ``[_Arena | None]``
    and ``packer`` its :class:`ChunkPacker` (one each per run; a fresh packer when None)."""
    ranges = [p for p in parts if type(p) is tuple]
    cols = ranges[0][0] if ranges else None
    contiguous = cols is not None and all(r[0] is cols and r[1] == q[2] for q, r in zip(ranges, ranges[1:]))
    if not contiguous:
        out = _concat(parts)
        out.seq = np.arange(first_seq, first_seq + len(out), dtype=np.int64)
        return out
    return _join_one(cols, parts, ranges[0][1], ranges[-1][2], first_seq, arena, packer or ChunkPacker())


def _concat(parts: list) -> EventColumns:
    cols = [p[0].slice(p[1], p[2]) if type(p) is tuple else from_events(p) for p in parts]
    return concat(cols) if len(cols) > 1 else cols[0]


def _join_one(cols: EventColumns, parts: list, a: int, c: int, first_seq: int, arena: list,
              packer: ChunkPacker) -> EventColumns:
    places: list[int] = []
    times: list[int] = []
    kinds: list[int] = []
    venues: list[int] = []
    payload: list = []
    text: list = []
    m = 0
    for p in parts:
        if type(p) is tuple:
            payload.extend(cols.payload[p[1]:p[2]])
            text.extend(cols.text[p[1]:p[2]])
            m += p[2] - p[1]
            continue
        for e in p:
            places.append(m)
            times.append(e.ts_ns)
            kinds.append(e.KIND)
            venues.append(getattr(e, "venue", -1))
            payload.append(encode_payload(e))
        text.extend([None] * len(p))
    n = c - a + len(places)
    ar = arena[0]
    if ar is None or ar.used + n + 1 > len(ar.arrays[0]):
        ar = arena[0] = _Arena(max(ARENA_ROWS, n + 1))
    w0 = ar.used
    evs = np.array((places, times, kinds, venues), np.int64).reshape(4, len(places))   # C order, always
    join_rows(packer(cols)[0], a, c, evs, first_seq, w0, *ar.arrays)
    ar.used = w0 + n + 1   # the next region starts past this one's last offset
    w1 = w0 + n
    seq, ts, kind, venue, vseq, pvseq, price, size, side, flags, boff, aoff = ar.arrays
    b0, b1, a0, a1 = int(cols.bid_off[a]), int(cols.bid_off[c]), int(cols.ask_off[a]), int(cols.ask_off[c])
    return EventColumns(seq=seq[w0:w1], ts_ns=ts[w0:w1], kind=kind[w0:w1], venue=venue[w0:w1],
                        venue_seq=vseq[w0:w1], prev_venue_seq=pvseq[w0:w1], price=price[w0:w1], size=size[w0:w1],
                        side=side[w0:w1], flags=flags[w0:w1], bid_off=boff[w0 : w1 + 1], bid_px=cols.bid_px[b0:b1],
                        bid_sz=cols.bid_sz[b0:b1], ask_off=aoff[w0 : w1 + 1], ask_px=cols.ask_px[a0:a1],
                        ask_sz=cols.ask_sz[a0:a1], payload=payload, text=text)
