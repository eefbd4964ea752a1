"""L2 order books for every venue, folded by a compiled kernel over columnar market events.

Why compiled: a real Binance futures diff carries ~68 level changes; applying levels one at a
time in Python caps replay far below a million events per second. The kernel (numba, integer
arithmetic only for the books) folds every book snapshot, book delta and trade of a batch up to
the next event that needs Python (a timer, a fill, a control event), so Python runs once per
loop tick rather than once per level.

Layout: a blocked sorted array (a one-level B+tree). Each venue side holds its levels (price
ticks, size lots) in ascending price order, asks with negated prices so that one ascending-order
routine serves both sides and the best level is always the *last* one. The levels are cut into
blocks of ``block`` slots, each a sorted run; ``order`` lists the side's block ids in price
order (the first ``head[H_BLOCKS]`` entries; the rest are the free ids, so ``order`` is always a
permutation of the pool) and ``first`` the first price of each listed block. A level change
finds its block (the busy top block first, else by counting the first prices not above it) and
its slot (by counting), then shifts within that one block: the cost of a change does not grow
with the book's depth, where one sorted array of 2,048 levels shifted ~1,000 entries per insert
or delete. A full block splits in two (or, for a level past either end of it, a new block starts
beside it); an empty block leaves the directory; when a split finds no free block the side is
repacked 3/4 full (rare: the pool holds twice what the capacity fills). Capacity is fixed
(``BookConfig.capacity_levels``) and counted over the whole side (``head[H_LEVELS]``): when full,
the level furthest from the touch is dropped, and a new level worse than every held level is
ignored.

Gaps. A delta with ``prev_venue_seq >= 0`` that does not continue the book's ``venue_seq`` is a
gap: the book is cleared and marked invalid, later deltas are ignored (and counted) until the
next snapshot; the kernel stops right after the gap so the engine can report it.

Local volatility (STRATEGY.md 3.1) is updated per complete venue message (``last_in_batch``)
when both sides exist: EWMA of squared log-mid returns, short and long.

All state lives in numpy arrays on :class:`Books` (allocated zeroed; slots beyond a block's
count hold whatever the deterministic history left there), so a checkpoint is a copy of them.
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

# Per venue side, Books.head[v, side]: blocks in the directory, levels held.
H_BLOCKS, H_LEVELS = range(2)
BIDS, ASKS = 0, 1  # the side axis of the level arrays

# Slots per block: 32 and 64 measured fastest on the real Binance captures (16 and 128 slower).
BLOCK_LEVELS = 64
MIN_BLOCK_LEVELS = 4  # a split leaves two halves and a repack fills 3/4: both need a few slots


def pool_blocks(capacity: int, block: int) -> int:
    """Blocks a side's pool holds: twice what the capacity fills, plus two, so that a repack 3/4
    full always leaves free blocks."""
    return 2 * -(-capacity // block) + 2


# The kernels below index the whole [venue, side, block, slot] arrays rather than taking views:
# numba reference-counts every array a compiled function receives (two atomic operations per
# array per call), which cost more than the level change itself when paid per level. The hot
# path of a level change is therefore written out in fold_market's loop, with the lookups inlined
# by numba (inline="always"); only rare steps (a block leaving the directory, a split, a repack)
# are calls.


@numba.njit(cache=True, nogil=True, inline="always")
def _locate(first, v, side, nb, p):
    """Directory position of the block that holds or would take price ``p``: the last block whose
    first price is <= ``p``, else the first block (``nb`` > 0). A count rather than a binary
    search: no branch to mispredict over a few dozen contiguous prices."""
    if first[v, side, nb - 1] <= p:  # the busy end is the top block: check it first
        return nb - 1
    k = 0
    for j in range(1, nb - 1):
        k += first[v, side, j] <= p
    return k


@numba.njit(cache=True, nogil=True, inline="always")
def _slot(px, v, side, b, c, p):
    """First slot of block ``b`` (``c`` levels, ascending) whose price is >= ``p`` (``c`` if none),
    counted without branches."""
    q = 0
    for r in range(c):
        q += px[v, side, b, r] < p
    return q


@numba.njit(cache=True, nogil=True)
def _drop_block(order, first, head, v, side, k):
    """The (empty) block at directory position ``k`` leaves the directory; its id becomes the
    first free one."""
    nb = head[v, side, H_BLOCKS]
    b = order[v, side, k]
    for j in range(k, nb - 1):
        order[v, side, j] = order[v, side, j + 1]
        first[v, side, j] = first[v, side, j + 1]
    order[v, side, nb - 1] = b
    head[v, side, H_BLOCKS] = nb - 1


@numba.njit(cache=True, nogil=True)
def _repack(px, sz, cnt, order, first, head, v, side):
    """Rewrite one side into blocks 0, 1, ... filled 3/4 each, in price order (when a split finds
    the pool used up by sparse blocks)."""
    n = head[v, side, H_LEVELS]
    fill = (3 * px.shape[3]) // 4
    tp = np.empty(n, np.int64)
    ts = np.empty(n, np.int64)
    m = 0
    for k in range(head[v, side, H_BLOCKS]):
        b = order[v, side, k]
        for j in range(cnt[v, side, b]):
            tp[m] = px[v, side, b, j]
            ts[m] = sz[v, side, b, j]
            m += 1
    nb = 0
    j = 0
    while j < n:
        take = min(fill, n - j)
        for q in range(take):
            px[v, side, nb, q] = tp[j + q]
            sz[v, side, nb, q] = ts[j + q]
        cnt[v, side, nb] = take
        first[v, side, nb] = tp[j]
        nb += 1
        j += take
    for q in range(order.shape[2]):
        order[v, side, q] = q
    head[v, side, H_BLOCKS] = nb


@numba.njit(cache=True, nogil=True)
def _make_room(px, sz, cnt, order, first, head, v, side, k, q, p):
    """The block at directory position ``k`` is full and price ``p`` goes in at its slot ``q``:
    take the first free block, or repack the side when none is free. A level going past either
    end of the block starts the new block on its own (the full block stays full: a snapshot or
    a run of new levels then fills blocks instead of leaving them half empty); otherwise the
    upper half moves to the new block. Returns the (directory position, block, slot) ``p`` now
    goes to, which has room."""
    width = px.shape[3]
    nb = head[v, side, H_BLOCKS]
    if nb == order.shape[2]:
        _repack(px, sz, cnt, order, first, head, v, side)
        k = _locate(first, v, side, head[v, side, H_BLOCKS], p)
        b = order[v, side, k]
        return k, b, _slot(px, v, side, b, cnt[v, side, b], p)
    b = order[v, side, k]
    nw = order[v, side, nb]
    at = k if q == 0 else k + 1  # the new block's directory position
    for j in range(nb, at, -1):
        order[v, side, j] = order[v, side, j - 1]
        first[v, side, j] = first[v, side, j - 1]
    order[v, side, at] = nw
    head[v, side, H_BLOCKS] = nb + 1
    if q == 0 or q == width:
        cnt[v, side, nw] = 0
        first[v, side, at] = p
        return at, nw, 0
    h = width >> 1
    for j in range(h, width):
        px[v, side, nw, j - h] = px[v, side, b, j]
        sz[v, side, nw, j - h] = sz[v, side, b, j]
    cnt[v, side, b] = h
    cnt[v, side, nw] = width - h
    first[v, side, at] = px[v, side, nw, 0]
    if q > h:
        return at, nw, q - h
    return k, b, q


@numba.njit(cache=True, nogil=True, inline="always")
def _best(px, sz, cnt, order, head, v, side):
    """(held, price, size) of the best level of one side (price as stored: asks negated)."""
    nb = head[v, side, H_BLOCKS]
    if nb == 0:
        return False, 0, 0
    b = order[v, side, nb - 1]
    c = cnt[v, side, b]
    return True, px[v, side, b, c - 1], sz[v, side, b, c - 1]


@numba.njit(cache=True, nogil=True)
def fold_market(kind, venue, ts, vseq, pvseq, price, size, flags,
                bid_off, bid_px, bid_sz, ask_off, ask_px, ask_sz, start, end,
                px, sz, cnt, order, first, head, cap, ints, floats, tick, alpha_s, alpha_l, clock):
    """Fold market events ``start..end`` into the books; stop at the first other event.

    Returns ``(next_index, status)``: ``status`` is STATUS_GAP when the event at
    ``next_index - 1`` was a gap, else STATUS_BARRIER (``next_index`` is the barrier or ``end``).
    ``clock[0]`` keeps the largest ``ts`` seen (event time never goes backwards).
    """
    width = px.shape[3]
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
            head[v, :, :] = 0
            ints[v, I_VALID] = 1
        else:
            if ints[v, I_VALID] == 0:
                ints[v, I_IGNORED] += 1
                continue
            if pvseq[i] >= 0 and ints[v, I_VSEQ] >= 0 and pvseq[i] != ints[v, I_VSEQ]:
                ints[v, I_VALID] = 0
                ints[v, I_GAPS] += 1
                ints[v, I_HAS_MID] = 0
                head[v, :, :] = 0
                return i + 1, 1
        for side in range(2):
            j0 = bid_off[i] if side == BIDS else ask_off[i]
            j1 = bid_off[i + 1] if side == BIDS else ask_off[i + 1]
            for j in range(j0, j1):
                # Set level p to size s (0 deletes).
                if side == BIDS:
                    p = bid_px[j]
                    s = bid_sz[j]
                else:
                    p = -ask_px[j]
                    s = ask_sz[j]
                nb = head[v, side, H_BLOCKS]
                if nb == 0:
                    if s != 0:
                        b = order[v, side, 0]
                        px[v, side, b, 0] = p
                        sz[v, side, b, 0] = s
                        cnt[v, side, b] = 1
                        first[v, side, 0] = p
                        head[v, side, H_BLOCKS] = 1
                        head[v, side, H_LEVELS] = 1
                    continue
                kb = _locate(first, v, side, nb, p)
                b = order[v, side, kb]
                c = cnt[v, side, b]
                q = _slot(px, v, side, b, c, p)
                if q < c and px[v, side, b, q] == p:
                    if s != 0:
                        sz[v, side, b, q] = s
                        continue
                    for r in range(q, c - 1):
                        px[v, side, b, r] = px[v, side, b, r + 1]
                        sz[v, side, b, r] = sz[v, side, b, r + 1]
                    cnt[v, side, b] = c - 1
                    head[v, side, H_LEVELS] -= 1
                    if c == 1:
                        _drop_block(order, first, head, v, side, kb)
                    elif q == 0:
                        first[v, side, kb] = px[v, side, b, 0]
                    continue
                if s == 0:
                    continue
                if head[v, side, H_LEVELS] >= cap:
                    # Full: the level furthest from the touch (slot 0 of the first block) goes if
                    # the new one is better; a new level worse than every held one is not kept.
                    if kb == 0:
                        if q == 0:
                            continue
                        for r in range(0, q - 1):
                            px[v, side, b, r] = px[v, side, b, r + 1]
                            sz[v, side, b, r] = sz[v, side, b, r + 1]
                        px[v, side, b, q - 1] = p
                        sz[v, side, b, q - 1] = s
                        first[v, side, 0] = px[v, side, b, 0]
                        continue
                    b0 = order[v, side, 0]
                    c0 = cnt[v, side, b0]
                    for r in range(0, c0 - 1):
                        px[v, side, b0, r] = px[v, side, b0, r + 1]
                        sz[v, side, b0, r] = sz[v, side, b0, r + 1]
                    cnt[v, side, b0] = c0 - 1
                    head[v, side, H_LEVELS] -= 1
                    if c0 == 1:
                        _drop_block(order, first, head, v, side, 0)
                        kb -= 1
                    else:
                        first[v, side, 0] = px[v, side, b0, 0]
                if c == width:
                    kb, b, q = _make_room(px, sz, cnt, order, first, head, v, side, kb, q, p)
                    c = cnt[v, side, b]
                for r in range(c, q, -1):
                    px[v, side, b, r] = px[v, side, b, r - 1]
                    sz[v, side, b, r] = sz[v, side, b, r - 1]
                px[v, side, b, q] = p
                sz[v, side, b, q] = s
                if q == 0:
                    first[v, side, kb] = p
                cnt[v, side, b] = c + 1
                head[v, side, H_LEVELS] += 1
        ints[v, I_VSEQ] = vseq[i]
        ints[v, I_LAST_BOOK_TS] = t
        ints[v, I_UPDATES] += 1
        if (flags[i] & FLAG_LAST_IN_BATCH) == 0:
            continue
        has_b, bb, _ = _best(px, sz, cnt, order, head, v, BIDS)
        has_a, na, _ = _best(px, sz, cnt, order, head, v, ASKS)
        if has_b and has_a:
            ba = -na
            if bb >= ba:
                ints[v, I_CROSSED] += 1
            mid = 0.5 * (bb + ba) * tick[v]
            ln_mid = math.log(max(mid, 1e-6))
            if ints[v, I_HAS_MID] == 1:
                ret = ln_mid - floats[v, F_PREV_LN_MID]
                floats[v, F_VAR_SHORT] = (1.0 - alpha_s) * floats[v, F_VAR_SHORT] + alpha_s * ret * ret
                floats[v, F_VAR_LONG] = (1.0 - alpha_l) * floats[v, F_VAR_LONG] + alpha_l * ret * ret
            floats[v, F_PREV_LN_MID] = ln_mid
            ints[v, I_HAS_MID] = 1
            ints[v, I_LAST_MID_TS] = t
    return end, 0


@numba.njit(cache=True, nogil=True)
def _tops(px, sz, cnt, order, head, ints, out):
    for v in range(head.shape[0]):
        has_b, bp, bs = _best(px, sz, cnt, order, head, v, BIDS)
        has_a, ap, az = _best(px, sz, cnt, order, head, v, ASKS)
        out[v, 0] = 1 if ints[v, I_VALID] == 1 and has_b and has_a else 0
        out[v, 1] = bp
        out[v, 2] = bs
        out[v, 3] = -ap
        out[v, 4] = az
        out[v, 5] = ints[v, I_LAST_BOOK_TS]
        out[v, 6] = ints[v, I_LAST_MID_TS]


@numba.njit(cache=True, nogil=True)
def _levels(px, sz, cnt, order, head, tick, lot, depth, out, counts):
    """Top ``depth`` levels of every venue as floats, best first: out[v, 0] bids, out[v, 1] asks,
    each as a row of prices and a row of sizes."""
    for v in range(head.shape[0]):
        for side in range(2):
            sign = 1 if side == BIDS else -1
            n = 0
            k = head[v, side, H_BLOCKS] - 1
            while k >= 0 and n < depth:
                b = order[v, side, k]
                q = cnt[v, side, b] - 1
                while q >= 0 and n < depth:
                    out[v, side, 0, n] = sign * px[v, side, b, q] * tick[v]
                    out[v, side, 1, n] = sz[v, side, b, q] * lot[v]
                    n += 1
                    q -= 1
                k -= 1
            counts[v, side] = n


class Books:
    """Every venue's book and market counters, as numpy arrays (checkpointable by copy).

    ``px``/``sz`` are ``[venue, side, block, slot]`` (side 0 bids, 1 asks with negated prices),
    ``cnt`` the levels in each block, ``order`` and ``first`` each side's directory (block ids
    and their first prices), ``head`` each side's block and level counts (see the module
    docstring)."""

    ARRAYS = ("px", "sz", "cnt", "order", "first", "head", "ints", "floats")

    def __init__(self, n_venues: int, capacity: int, ticks: list[float], block: int = BLOCK_LEVELS) -> None:
        if block < MIN_BLOCK_LEVELS:
            raise ValueError(f"book block of {block} levels: at least {MIN_BLOCK_LEVELS}")
        self.n_venues = n_venues
        self.capacity = capacity
        self.block = block
        pool = pool_blocks(capacity, block)
        self.px = np.zeros((n_venues, 2, pool, block), np.int64)
        self.sz = np.zeros((n_venues, 2, pool, block), np.int64)
        self.cnt = np.zeros((n_venues, 2, pool), np.int64)
        self.order = np.zeros((n_venues, 2, pool), np.int64)
        self.order[...] = np.arange(pool, dtype=np.int64)
        self.first = np.zeros((n_venues, 2, pool), np.int64)
        self.head = np.zeros((n_venues, 2, 2), np.int64)
        self.ints = np.zeros((n_venues, N_INTS), np.int64)
        self.ints[:, I_VSEQ] = -1
        self.ints[:, I_LAST_BOOK_TS] = -1
        self.ints[:, I_LAST_MID_TS] = -1
        self.floats = np.zeros((n_venues, N_FLOATS), np.float64)
        self.tick = np.asarray(ticks, np.float64)
        self._tops_buf = np.zeros((n_venues, 7), np.int64)

    # -- updates -----------------------------------------------------------------------------

    def fold(self, cols, start: int, end: int, alpha_s: float, alpha_l: float, clock: np.ndarray) -> tuple[int, int]:
        """Fold the market events ``start..end`` of ``cols`` (an ``EventColumns``) up to the
        first other event; see :func:`fold_market` for the result."""
        return fold_market(
            cols.kind, cols.venue, cols.ts_ns, cols.venue_seq, cols.prev_venue_seq, cols.price, cols.size,
            cols.flags, cols.bid_off, cols.bid_px, cols.bid_sz, cols.ask_off, cols.ask_px, cols.ask_sz,
            start, end, self.px, self.sz, self.cnt, self.order, self.first, self.head, self.capacity, self.ints,
            self.floats,
            self.tick, alpha_s, alpha_l, clock,
        )

    def invalidate(self, v: int) -> None:
        """Empty venue ``v``'s book and mark it invalid until its next snapshot (a gap or a reset
        reported by an event rather than found by the kernel)."""
        self.head[v] = 0
        self.ints[v, I_VALID] = 0

    # -- queries (Python side, scalars only) -----------------------------------------------

    def tops(self) -> list[tuple[int, int, int, int] | None]:
        """Per venue: (bid ticks, bid lots, ask ticks, ask lots) of a valid two-sided book, else
        None. One compiled call for all venues: the main tick reads this once."""
        out = self._tops_buf
        _tops(self.px, self.sz, self.cnt, self.order, self.head, self.ints, out)
        return [tuple(r[1:5]) if r[0] else None for r in out.tolist()]

    @property
    def tops_rows(self) -> np.ndarray:
        """The rows behind the last :meth:`tops` (one per venue: valid 0/1, bid ticks, bid lots,
        ask ticks, ask lots, last book and last mid times); the next call overwrites them."""
        return self._tops_buf

    def valid(self, v: int) -> bool:
        return bool(self.ints[v, I_VALID])

    def _touch(self, v: int, side: int) -> tuple[int, int] | None:
        nb = int(self.head[v, side, H_BLOCKS])
        if nb == 0:
            return None
        b = int(self.order[v, side, nb - 1])
        q = int(self.cnt[v, side, b]) - 1
        return int(self.px[v, side, b, q]), int(self.sz[v, side, b, q])

    def best_bid(self, v: int) -> tuple[int, int] | None:
        return self._touch(v, BIDS)

    def best_ask(self, v: int) -> tuple[int, int] | None:
        t = self._touch(v, ASKS)
        return None if t is None else (-t[0], t[1])

    def top(self, v: int) -> tuple[int, int, int, int] | None:
        """(bid ticks, bid lots, ask ticks, ask lots) when both sides exist, else None."""
        bid = self.best_bid(v)
        ask = self.best_ask(v)
        if bid is None or ask is None:
            return None
        return bid[0], bid[1], ask[0], ask[1]

    def float_levels(self, depth: int, lots: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """Every venue's top ``depth`` levels as floats (one compiled call for all venues):
        ``out[v, side, 0 or 1, k]`` is the price or size of level ``k`` (best first; side 0 bids,
        1 asks) and ``counts[v, side]`` how many levels there are."""
        n = self.n_venues
        out = np.zeros((n, 2, 2, depth), np.float64)
        counts = np.zeros((n, 2), np.int64)
        _levels(self.px, self.sz, self.cnt, self.order, self.head, self.tick,
                np.asarray(lots, np.float64), depth, out, counts)
        return out, counts

    def levels(self, v: int, side: int, depth: int) -> list[tuple[int, int]]:
        """Up to ``depth`` levels from the touch: bids (``side`` > 0) descending, asks ascending
        (ticks, lots)."""
        s, sign = (BIDS, 1) if side > 0 else (ASKS, -1)
        out: list[tuple[int, int]] = []
        px, sz, cnt, order = self.px[v, s], self.sz[v, s], self.cnt[v, s], self.order[v, s]
        for k in range(int(self.head[v, s, H_BLOCKS]) - 1, -1, -1):
            b = int(order[k])
            for q in range(int(cnt[b]) - 1, -1, -1):
                if len(out) >= depth:
                    return out
                out.append((sign * int(px[b, q]), int(sz[b, q])))
        return out

    def n_levels(self, v: int, side: int) -> int:
        """Levels held on one side (``side`` > 0 bids, else asks)."""
        return int(self.head[v, BIDS if side > 0 else ASKS, H_LEVELS])

    def local_vols(self, v: int) -> tuple[float, float]:
        return math.sqrt(float(self.floats[v, F_VAR_SHORT])), math.sqrt(float(self.floats[v, F_VAR_LONG]))

    def counter(self, v: int, slot: int) -> int:
        return int(self.ints[v, slot])

    # -- checkpointing ---------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {name: getattr(self, name).tobytes() for name in self.ARRAYS} | {
            "n_venues": self.n_venues, "capacity": self.capacity, "block": self.block, "tick": self.tick.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Books":
        if "block" not in d:  # one sorted array a side, before the blocked layout
            raise ValueError("one made by an older paraphina, whose books had another layout: make it again with "
                             "--checkpoint-at")
        b = cls(d["n_venues"], d["capacity"], d["tick"], d["block"])
        for name in cls.ARRAYS:
            arr = getattr(b, name)
            arr[...] = np.frombuffer(d[name], dtype=arr.dtype).reshape(arr.shape)
        return b
