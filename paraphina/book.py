"""L2 order books for every venue, folded by a compiled kernel over columnar market events.

Why compiled: a real Binance futures diff carries ~68 level changes; applying levels one at a
time in Python caps replay far below a million events per second. The kernel (numba, integer
arithmetic only for the books) folds every book snapshot, book delta and trade of a batch up to
the next event that needs Python (a timer, a fill, a control event), so Python runs once per
loop tick rather than once per level.

Layout. Each venue side is a sorted array of (price ticks, size lots) with the best level
*last*, so the busy end of the book is cheap to insert into. Asks are stored with negated
prices, so one ascending-order routine serves both sides. Capacity is fixed
(``BookConfig.capacity_levels``); when full, the level furthest from the touch is dropped.

Gaps. A delta with ``prev_venue_seq >= 0`` that does not continue the book's ``venue_seq`` is a
gap: the book is cleared and marked invalid, later deltas are ignored (and counted) until the
next snapshot; the kernel stops right after the gap so the engine can report it.

Local volatility (STRATEGY.md 3.1) is updated per complete venue message (``last_in_batch``)
when both sides exist: EWMA of squared log-mid returns, short and long.

All state lives in numpy arrays on :class:`Books`, so a checkpoint is a copy of them.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from paraphina.columns import FLAG_LAST_IN_BATCH, K_DELTA, K_SNAPSHOT, K_TRADE

STATUS_BARRIER = 0
STATUS_GAP = 1

# Per-venue scalar slots in Books.ints / Books.floats (one row per venue).
I_VALID, I_VSEQ, I_LAST_BOOK_TS, I_LAST_MID_TS, I_GAPS, I_IGNORED, I_CROSSED, I_TRADES, I_TRADE_VOL, \
    I_LAST_TRADE_PX, I_UPDATES, I_HAS_MID = range(12)
N_INTS = 12
F_PREV_LN_MID, F_VAR_SHORT, F_VAR_LONG = range(3)
N_FLOATS = 3


@numba.njit(cache=True, nogil=True)
def _find(px, n, p):
    """Index of price ``p`` in ascending ``px[:n]``, or the insertion point (as -(pos+1))."""
    lo = 0
    hi = n
    # The busy end is the top (last index): check it first.
    if n > 0 and px[n - 1] == p:
        return n - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if px[mid] < p:
            lo = mid + 1
        else:
            hi = mid
    if lo < n and px[lo] == p:
        return lo
    return -(lo + 1)


@numba.njit(cache=True, nogil=True)
def _set_level(px, sz, n, p, s):
    """Set level ``p`` to size ``s`` (0 deletes) in one side; returns the new level count."""
    cap = px.shape[0]
    i = _find(px, n, p)
    if i >= 0:
        if s == 0:
            for k in range(i, n - 1):
                px[k] = px[k + 1]
                sz[k] = sz[k + 1]
            return n - 1
        sz[i] = s
        return n
    if s == 0:
        return n
    pos = -i - 1
    if n < cap:
        for k in range(n, pos, -1):
            px[k] = px[k - 1]
            sz[k] = sz[k - 1]
        px[pos] = p
        sz[pos] = s
        return n + 1
    # Full: drop the level furthest from the touch (index 0) if the new one is better.
    if pos == 0:
        return n
    for k in range(0, pos - 1):
        px[k] = px[k + 1]
        sz[k] = sz[k + 1]
    px[pos - 1] = p
    sz[pos - 1] = s
    return n


@numba.njit(cache=True, nogil=True)
def fold_market(kind, venue, ts, vseq, pvseq, price, size, flags,
                bid_off, bid_px, bid_sz, ask_off, ask_px, ask_sz, start, end,
                bpx, bsz, bn, apx, asz, an, ints, floats, tick, alpha_s, alpha_l, clock):
    """Fold market events ``start..end`` into the books; stop at the first other event.

    Returns ``(next_index, status)``: ``status`` is STATUS_GAP when the event at
    ``next_index - 1`` was a gap, else STATUS_BARRIER (``next_index`` is the barrier or ``end``).
    ``clock[0]`` keeps the largest ``ts`` seen (event time never goes backwards).
    """
    for i in range(start, end):
        k = kind[i]
        if k != K_DELTA and k != K_SNAPSHOT and k != K_TRADE:
            return i, 0
        v = venue[i]
        t = ts[i]
        if t > clock[0]:
            clock[0] = t
        if k == K_TRADE:
            ints[v, I_TRADES] += 1
            ints[v, I_TRADE_VOL] += size[i]
            ints[v, I_LAST_TRADE_PX] = price[i]
            continue
        if k == K_SNAPSHOT:
            bn[v] = 0
            an[v] = 0
            ints[v, I_VALID] = 1
        else:
            if ints[v, I_VALID] == 0:
                ints[v, I_IGNORED] += 1
                continue
            if pvseq[i] >= 0 and ints[v, I_VSEQ] >= 0 and pvseq[i] != ints[v, I_VSEQ]:
                ints[v, I_VALID] = 0
                ints[v, I_GAPS] += 1
                ints[v, I_HAS_MID] = 0
                bn[v] = 0
                an[v] = 0
                return i + 1, 1
        n = bn[v]
        for j in range(bid_off[i], bid_off[i + 1]):
            n = _set_level(bpx[v], bsz[v], n, bid_px[j], bid_sz[j])
        bn[v] = n
        n = an[v]
        for j in range(ask_off[i], ask_off[i + 1]):
            n = _set_level(apx[v], asz[v], n, -ask_px[j], ask_sz[j])
        an[v] = n
        ints[v, I_VSEQ] = vseq[i]
        ints[v, I_LAST_BOOK_TS] = t
        ints[v, I_UPDATES] += 1
        if (flags[i] & FLAG_LAST_IN_BATCH) == 0:
            continue
        if bn[v] > 0 and an[v] > 0:
            bb = bpx[v, bn[v] - 1]
            ba = -apx[v, an[v] - 1]
            if bb >= ba:
                ints[v, I_CROSSED] += 1
            mid = 0.5 * (bb + ba) * tick[v]
            ln_mid = math.log(max(mid, 1e-6))
            if ints[v, I_HAS_MID] == 1:
                r = ln_mid - floats[v, F_PREV_LN_MID]
                floats[v, F_VAR_SHORT] = (1.0 - alpha_s) * floats[v, F_VAR_SHORT] + alpha_s * r * r
                floats[v, F_VAR_LONG] = (1.0 - alpha_l) * floats[v, F_VAR_LONG] + alpha_l * r * r
            floats[v, F_PREV_LN_MID] = ln_mid
            ints[v, I_HAS_MID] = 1
            ints[v, I_LAST_MID_TS] = t
    return end, 0


@numba.njit(cache=True, nogil=True)
def _tops(bpx, bsz, bn, apx, asz, an, ints, out):
    for v in range(bn.shape[0]):
        nb = bn[v]
        na = an[v]
        ok = ints[v, I_VALID] == 1 and nb > 0 and na > 0
        out[v, 0] = 1 if ok else 0
        out[v, 1] = bpx[v, nb - 1] if nb > 0 else 0
        out[v, 2] = bsz[v, nb - 1] if nb > 0 else 0
        out[v, 3] = -apx[v, na - 1] if na > 0 else 0
        out[v, 4] = asz[v, na - 1] if na > 0 else 0
        out[v, 5] = ints[v, I_LAST_BOOK_TS]
        out[v, 6] = ints[v, I_LAST_MID_TS]


@numba.njit(cache=True, nogil=True)
def _levels(bpx, bsz, bn, apx, asz, an, tick, lot, depth, out, counts):
    """Top ``depth`` levels of every venue as floats, best first: out[v, 0] bids, out[v, 1] asks,
    each as a row of prices and a row of sizes."""
    for v in range(bn.shape[0]):
        nb = min(bn[v], depth)
        na = min(an[v], depth)
        counts[v, 0] = nb
        counts[v, 1] = na
        for k in range(nb):
            out[v, 0, 0, k] = bpx[v, bn[v] - 1 - k] * tick[v]
            out[v, 0, 1, k] = bsz[v, bn[v] - 1 - k] * lot[v]
        for k in range(na):
            out[v, 1, 0, k] = -apx[v, an[v] - 1 - k] * tick[v]
            out[v, 1, 1, k] = asz[v, an[v] - 1 - k] * lot[v]


class Books:
    """Every venue's book and market counters, as numpy arrays (checkpointable by copy)."""

    ARRAYS = ("bpx", "bsz", "bn", "apx", "asz", "an", "ints", "floats")

    def __init__(self, n_venues: int, capacity: int, ticks: list[float]) -> None:
        self.n_venues = n_venues
        self.capacity = capacity
        self.bpx = np.zeros((n_venues, capacity), np.int64)
        self.bsz = np.zeros((n_venues, capacity), np.int64)
        self.bn = np.zeros(n_venues, np.int64)
        self.apx = np.zeros((n_venues, capacity), np.int64)
        self.asz = np.zeros((n_venues, capacity), np.int64)
        self.an = np.zeros(n_venues, np.int64)
        self.ints = np.zeros((n_venues, N_INTS), np.int64)
        self.ints[:, I_VSEQ] = -1
        self.ints[:, I_LAST_BOOK_TS] = -1
        self.ints[:, I_LAST_MID_TS] = -1
        self.floats = np.zeros((n_venues, N_FLOATS), np.float64)
        self.tick = np.asarray(ticks, np.float64)
        self._tops_buf = np.zeros((n_venues, 7), np.int64)

    # -- queries (Python side, scalars only) -----------------------------------------------

    def tops(self) -> list[tuple[int, int, int, int] | None]:
        """Per venue: (bid ticks, bid lots, ask ticks, ask lots) of a valid two-sided book, else
        None. One compiled call for all venues: the main tick reads this once."""
        out = self._tops_buf
        _tops(self.bpx, self.bsz, self.bn, self.apx, self.asz, self.an, self.ints, out)
        return [tuple(r[1:5]) if r[0] else None for r in out.tolist()]

    def valid(self, v: int) -> bool:
        return bool(self.ints[v, I_VALID])

    def best_bid(self, v: int) -> tuple[int, int] | None:
        n = int(self.bn[v])
        if n == 0:
            return None
        return int(self.bpx[v, n - 1]), int(self.bsz[v, n - 1])

    def best_ask(self, v: int) -> tuple[int, int] | None:
        n = int(self.an[v])
        if n == 0:
            return None
        return -int(self.apx[v, n - 1]), int(self.asz[v, n - 1])

    def top(self, v: int) -> tuple[int, int, int, int] | None:
        """(bid ticks, bid lots, ask ticks, ask lots) when both sides exist, else None."""
        nb = int(self.bn[v])
        na = int(self.an[v])
        if nb == 0 or na == 0:
            return None
        return int(self.bpx[v, nb - 1]), int(self.bsz[v, nb - 1]), -int(self.apx[v, na - 1]), int(self.asz[v, na - 1])

    def float_levels(self, depth: int, lots: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """Every venue's top ``depth`` levels as floats (one compiled call for all venues):
        ``out[v, side, 0 or 1, k]`` is the price or size of level ``k`` (best first; side 0 bids,
        1 asks) and ``counts[v, side]`` how many levels there are."""
        n = self.n_venues
        out = np.zeros((n, 2, 2, depth), np.float64)
        counts = np.zeros((n, 2), np.int64)
        _levels(self.bpx, self.bsz, self.bn, self.apx, self.asz, self.an, self.tick,
                np.asarray(lots, np.float64), depth, out, counts)
        return out, counts

    def levels(self, v: int, side: int, depth: int) -> list[tuple[int, int]]:
        """Up to ``depth`` levels from the touch: bids descending, asks ascending (ticks, lots)."""
        if side > 0:
            n = int(self.bn[v])
            return [(int(self.bpx[v, k]), int(self.bsz[v, k])) for k in range(n - 1, max(-1, n - 1 - depth), -1)]
        n = int(self.an[v])
        return [(-int(self.apx[v, k]), int(self.asz[v, k])) for k in range(n - 1, max(-1, n - 1 - depth), -1)]

    def local_vols(self, v: int) -> tuple[float, float]:
        return math.sqrt(float(self.floats[v, F_VAR_SHORT])), math.sqrt(float(self.floats[v, F_VAR_LONG]))

    def counter(self, v: int, slot: int) -> int:
        return int(self.ints[v, slot])

    # -- checkpointing ---------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {name: getattr(self, name).tobytes() for name in self.ARRAYS} | {
            "n_venues": self.n_venues, "capacity": self.capacity, "tick": self.tick.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Books":
        b = cls(d["n_venues"], d["capacity"], d["tick"])
        for name in cls.ARRAYS:
            arr = getattr(b, name)
            arr[...] = np.frombuffer(d[name], dtype=arr.dtype).reshape(arr.shape)
        return b
