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

_last_packed: list = [None, None]   # [columns, their packed form]: a chunk is packed once


def packed(cols: EventColumns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, bid levels, ask levels): a chunk's scalar columns as one int64 array ``rows[field,
    row]`` (fields ``R_*`` of :mod:`paraphina.sim.exchange_kernel`) and its levels as (price,
    size) pairs, for kernels that take few arguments (numba's call cost is per argument)."""
    if _last_packed[0] is cols:
        return _last_packed[1]
    rows = np.empty((N_ROW_FIELDS, len(cols)), np.int64)
    rows[R_TS], rows[R_KIND], rows[R_VENUE] = cols.ts_ns, cols.kind, cols.venue
    rows[R_PRICE], rows[R_SIZE], rows[R_SIDE] = cols.price, cols.size, cols.side
    rows[R_B0], rows[R_B1] = cols.bid_off[:-1], cols.bid_off[1:]
    rows[R_A0], rows[R_A1] = cols.ask_off[:-1], cols.ask_off[1:]
    rows[R_VSEQ], rows[R_PVSEQ], rows[R_FLAGS] = cols.venue_seq, cols.prev_venue_seq, cols.flags
    out = (rows, np.stack((cols.bid_px, cols.bid_sz)).astype(np.int64, copy=False),
           np.stack((cols.ask_px, cols.ask_sz)).astype(np.int64, copy=False))
    _last_packed[0], _last_packed[1] = cols, out
    return out


@numba.njit(cache=True, nogil=True)
def join_rows(rows, a, c, evs):
    """Market rows ``a .. c - 1`` (packed) with event ``x`` (``evs[:, x]``: place, time, kind,
    venue) placed before market row ``a + place`` (places non-decreasing; ``c - a`` places it
    last); events have no levels and no trade columns."""
    n_m = c - a
    n_e = evs.shape[1]
    n = n_m + n_e
    o_ts = np.empty(n, np.int64)
    o_kind = np.empty(n, np.uint8)
    o_venue = np.empty(n, np.int16)
    o_vseq = np.empty(n, np.int64)
    o_pvseq = np.empty(n, np.int64)
    o_price = np.empty(n, np.int64)
    o_size = np.empty(n, np.int64)
    o_side = np.empty(n, np.int8)
    o_flags = np.empty(n, np.uint8)
    o_boff = np.empty(n + 1, np.int32)
    o_aoff = np.empty(n + 1, np.int32)
    o_boff[0] = 0
    o_aoff[0] = 0
    b0 = rows[R_B0, a]
    a0 = rows[R_A0, a]
    m = 0
    x = 0
    for w in range(n):
        if x < n_e and evs[0, x] <= m:
            o_ts[w] = evs[1, x]
            o_kind[w] = evs[2, x]
            o_venue[w] = evs[3, x]
            o_vseq[w] = -1
            o_pvseq[w] = -1
            o_price[w] = 0
            o_size[w] = 0
            o_side[w] = 0
            o_flags[w] = 0
            o_boff[w + 1] = o_boff[w]
            o_aoff[w + 1] = o_aoff[w]
            x += 1
        else:
            r = a + m
            o_ts[w] = rows[R_TS, r]
            o_kind[w] = rows[R_KIND, r]
            o_venue[w] = rows[R_VENUE, r]
            o_vseq[w] = rows[R_VSEQ, r]
            o_pvseq[w] = rows[R_PVSEQ, r]
            o_price[w] = rows[R_PRICE, r]
            o_size[w] = rows[R_SIZE, r]
            o_side[w] = rows[R_SIDE, r]
            o_flags[w] = rows[R_FLAGS, r]
            o_boff[w + 1] = rows[R_B1, r] - b0
            o_aoff[w + 1] = rows[R_A1, r] - a0
            m += 1
    return o_ts, o_kind, o_venue, o_vseq, o_pvseq, o_price, o_size, o_side, o_flags, o_boff, o_aoff


def join(parts: list, first_seq: int) -> EventColumns:
    """One run of columns numbered from ``first_seq``, from ``parts`` in order: market rows
    ``(cols, start, stop)`` and lists of events."""
    ranges = [p for p in parts if type(p) is tuple]
    cols = ranges[0][0] if ranges else None
    contiguous = cols is not None and all(r[0] is cols and r[1] == q[2] for q, r in zip(ranges, ranges[1:]))
    if not contiguous:
        out = _concat(parts)
    elif len(parts) == 1:
        out = cols.slice(ranges[0][1], ranges[0][2])
    else:
        out = _join_one(cols, parts, ranges[0][1], ranges[-1][2])
    out.seq = np.arange(first_seq, first_seq + len(out), dtype=np.int64)
    return out


def _concat(parts: list) -> EventColumns:
    cols = [p[0].slice(p[1], p[2]) if type(p) is tuple else from_events(p) for p in parts]
    return concat(cols) if len(cols) > 1 else cols[0]


def _join_one(cols: EventColumns, parts: list, a: int, c: int) -> EventColumns:
    evs: list[tuple[int, int, int, int]] = []
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
            evs.append((m, e.ts_ns, e.KIND, getattr(e, "venue", -1)))
            payload.append(encode_payload(e))
        text.extend([None] * len(p))
    (ts, kind, venue, vseq, pvseq, price, size, side, flags, bid_off, ask_off) = join_rows(
        packed(cols)[0], a, c, np.array(evs, np.int64).T.copy())
    b0, b1, a0, a1 = int(cols.bid_off[a]), int(cols.bid_off[c]), int(cols.ask_off[a]), int(cols.ask_off[c])
    return EventColumns(seq=ts, ts_ns=ts, kind=kind, venue=venue, venue_seq=vseq, prev_venue_seq=pvseq, price=price,
                        size=size, side=side, flags=flags, bid_off=bid_off, bid_px=cols.bid_px[b0:b1],
                        bid_sz=cols.bid_sz[b0:b1], ask_off=ask_off, ask_px=cols.ask_px[a0:a1],
                        ask_sz=cols.ask_sz[a0:a1], payload=payload, text=text)
