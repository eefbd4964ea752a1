"""The compiled part of the simulated exchange: its view of the books and our resting orders,
folded over a run of market rows (:class:`paraphina.columns.EventColumns`) in one call.

:class:`paraphina.sim.exchange.SimExchange` owns everything that makes events (acks, fills,
account events, funding) and the rare kinds; this kernel folds book snapshots, book deltas and
trades row after row, updating every resting order's queue position, and stops where Python
must take over: at a row of another kind, at the first row stamped at or after the next queued
action (``until``), or just after a row that filled orders (the fills are in the buffers).

The exchange's book is not the engine's (:mod:`paraphina.book`): it keeps the venue's levels
as the venue sends them, with no sequence checks (a gap changes nothing here), a snapshot's
levels verbatim (a zero size or a repeated price too; the later one wins) and a delta's size of
zero or less removing its level. A side is kept sorted best-last (bids ascending, asks
descending: a venue's changes are mostly near the touch, so inserting shifts few levels; real
books hold thousands of levels) and searched by bisection. Our orders on a venue are ``o*[v, :ocount[v]]`` in the order
they were placed (their order numbers increase), which is the order the rules visit them in.

Integers only: nothing here depends on floating-point evaluation.
"""

from __future__ import annotations

import numba
import numpy as np

from paraphina import events as ev

K_SNAPSHOT = ev.BookSnapshot.KIND
K_DELTA = ev.BookDelta.KIND
K_TRADE = ev.Trade.KIND

# fold_rows statuses
DONE = 0    # every row folded
STOP = 1    # the returned row needs Python (another kind, or at/after ``until``); not folded
FILLS = 2   # the row before the returned one filled orders: ``nfills`` of them in the buffers
GROW = 3    # the returned row does not fit the book arrays; not folded: grow them and call again

NO_BID = -(2**63)
NO_ASK = 2**63 - 1

# The packed arrays the kernel works on (few arguments: numba's call overhead is per argument).
# book[side, v, level]: bid prices, bid sizes, ask prices, ask sizes
B_BPX, B_BSZ, B_APX, B_ASZ = range(4)
# vstate[field, v]: bid level count, ask level count, has had a snapshot, up, resting orders
V_BN, V_AN, V_HAS_BOOK, V_UP, V_OCOUNT = range(5)
# orders[field, v, q]: side, price, remaining, queue ahead, order number (q in order placed)
O_SIDE, O_PRICE, O_REM, O_AHEAD, O_NO = range(5)
# fills[field, x]: order number, side, price, lots, order done
F_NO, F_SIDE, F_PRICE, F_QTY, F_DONE = range(5)
# rows[field, r]: a chunk's scalar columns, packed (paraphina.sim.tick_columns.ChunkPacker)
R_TS, R_KIND, R_VENUE, R_PRICE, R_SIZE, R_SIDE, R_B0, R_B1, R_A0, R_A1, R_VSEQ, R_PVSEQ, R_FLAGS = range(13)
N_ROW_FIELDS = 13


@numba.njit(cache=True, nogil=True)
def _locate(px, n, p, bid):
    """Where ``p`` is or would go in a side kept best-last (bids ascending, asks descending)."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if (px[mid] < p) if bid else (px[mid] > p):
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, nogil=True)
def _find(px, n, p, bid):
    i = _locate(px, n, p, bid)
    return i if i < n and px[i] == p else -1


@numba.njit(cache=True, nogil=True)
def _put(px, sz, n, p, s, bid):
    """Set level ``p`` to ``s``; returns the side's new level count."""
    i = _locate(px, n, p, bid)
    if i < n and px[i] == p:
        sz[i] = s
        return n
    for k in range(n, i, -1):
        px[k] = px[k - 1]
        sz[k] = sz[k - 1]
    px[i] = p
    sz[i] = s
    return n + 1


@numba.njit(cache=True, nogil=True)
def _drop(px, sz, n, p, bid):
    """Remove level ``p`` if present; returns the new count."""
    i = _find(px, n, p, bid)
    if i < 0:
        return n
    for k in range(i, n - 1):
        px[k] = px[k + 1]
        sz[k] = sz[k + 1]
    return n - 1


@numba.njit(cache=True, nogil=True)
def best_price(px, n, bid):
    """The best price of a side (its last level); NO_BID / NO_ASK when it is empty."""
    if n == 0:
        return NO_BID if bid else NO_ASK
    return px[n - 1]


@numba.njit(cache=True, nogil=True)
def level_size(book, v, bid, p, n):
    """The size shown at price ``p`` on a side of venue ``v`` (0 when there is no such level)."""
    side = B_BPX if bid else B_APX
    i = _find(book[side, v], n, p, bid)
    return book[side + 1, v, i] if i >= 0 else 0


@numba.njit(cache=True, nogil=True)
def rest_order(book, vstate, orders, v, side, price, remaining, order_no):
    """Append a resting order to venue ``v``'s (room checked by the caller): it joins the back
    of its level, so the size shown there now is ahead of it."""
    bid = side > 0
    q = vstate[V_OCOUNT, v]
    orders[O_SIDE, v, q] = side
    orders[O_PRICE, v, q] = price
    orders[O_REM, v, q] = remaining
    orders[O_AHEAD, v, q] = level_size(book, v, bid, price, vstate[V_BN, v] if bid else vstate[V_AN, v])
    orders[O_NO, v, q] = order_no
    vstate[V_OCOUNT, v] = q + 1


@numba.njit(cache=True, nogil=True)
def _compact(v, vstate, orders):
    """Drop the orders of venue ``v`` with nothing remaining, keeping the others' order."""
    w = 0
    for q in range(vstate[V_OCOUNT, v]):
        if orders[O_REM, v, q] > 0:
            if w != q:
                for f in range(5):
                    orders[f, v, w] = orders[f, v, q]
            w += 1
    vstate[V_OCOUNT, v] = w


@numba.njit(cache=True, nogil=True)
def _record(fills, nf, orders, v, q, qty):
    fills[F_NO, nf] = orders[O_NO, v, q]
    fills[F_SIDE, nf] = orders[O_SIDE, v, q]
    fills[F_PRICE, nf] = orders[O_PRICE, v, q]
    fills[F_QTY, nf] = qty
    orders[O_REM, v, q] -= qty
    fills[F_DONE, nf] = orders[O_REM, v, q] == 0


@numba.njit(cache=True, nogil=True)
def _book_through(v, book, vstate, orders, fills):
    """After a book message on ``v``: orders the opposite side moved through fill completely at
    their own price; the others' queue ahead shrinks to what their level shows. Returns the
    number of fills written."""
    best_bid = best_price(book[B_BPX, v], vstate[V_BN, v], True)
    best_ask = best_price(book[B_APX, v], vstate[V_AN, v], False)
    nf = 0
    for q in range(vstate[V_OCOUNT, v]):
        p = orders[O_PRICE, v, q]
        bid = orders[O_SIDE, v, q] > 0
        if (best_ask <= p) if bid else (best_bid >= p):
            _record(fills, nf, orders, v, q, orders[O_REM, v, q])
            nf += 1
        else:
            shown = level_size(book, v, bid, p, vstate[V_BN, v] if bid else vstate[V_AN, v])
            if shown < orders[O_AHEAD, v, q]:
                orders[O_AHEAD, v, q] = shown
    if nf:
        _compact(v, vstate, orders)
    return nf


@numba.njit(cache=True, nogil=True)
def _trade_fills(v, price, size, side, vstate, orders, fills):
    """A public trade fills our resting orders on its passive side in price-time priority (best
    price for the aggressor first, then order number): at the trade's price the queue ahead is
    consumed first. Returns the number of fills written."""
    passive = -side
    cnt = vstate[V_OCOUNT, v]
    elig = np.empty(cnt, np.int64)
    ne = 0
    for q in range(cnt):
        op = orders[O_PRICE, v, q]
        if orders[O_SIDE, v, q] == passive and (op <= price if passive < 0 else op >= price):
            # insertion sort on (price * -passive, order number), stable
            key = op * -passive
            j = ne
            while j > 0:
                r = elig[j - 1]
                rk = orders[O_PRICE, v, r] * -passive
                if rk > key or (rk == key and orders[O_NO, v, r] > orders[O_NO, v, q]):
                    elig[j] = r
                    j -= 1
                else:
                    break
            elig[j] = q
            ne += 1
    budget = size
    nf = 0
    for e in range(ne):
        if budget <= 0:
            break
        q = elig[e]
        if orders[O_PRICE, v, q] == price:
            used = min(orders[O_AHEAD, v, q], budget)
            orders[O_AHEAD, v, q] -= used
            budget -= used
        take = min(orders[O_REM, v, q], budget)
        if take <= 0:
            continue
        budget -= take
        _record(fills, nf, orders, v, q, take)
        nf += 1
    if nf:
        _compact(v, vstate, orders)
    return nf


@numba.njit(cache=True, nogil=True)
def fold_rows(rows, blv, alv, i, n, until, book, vstate, orders, fills):
    """Fold rows ``i .. n - 1`` (see the module docstring); returns ``(row, status, nfills,
    latest)``, ``latest`` the latest time of a row folded (-1 when none was)."""
    cap = book.shape[2]
    latest = -1
    for r in range(i, n):
        k = rows[R_KIND, r]
        t = rows[R_TS, r]
        if (k != K_SNAPSHOT and k != K_DELTA and k != K_TRADE) or t >= until:
            return r, STOP, 0, latest
        v = rows[R_VENUE, r]
        if k == K_TRADE:
            latest = max(latest, t)
            if vstate[V_OCOUNT, v] > 0:
                nf = _trade_fills(v, rows[R_PRICE, r], rows[R_SIZE, r], rows[R_SIDE, r], vstate, orders, fills)
                if nf:
                    return r + 1, FILLS, nf, latest
            continue
        b0, b1, a0, a1 = rows[R_B0, r], rows[R_B1, r], rows[R_A0, r], rows[R_A1, r]
        if k == K_SNAPSHOT:
            if b1 - b0 > cap or a1 - a0 > cap:
                return r, GROW, 0, latest
        elif vstate[V_BN, v] + (b1 - b0) > cap or vstate[V_AN, v] + (a1 - a0) > cap:
            return r, GROW, 0, latest
        latest = max(latest, t)
        bpx, bsz, apx, asz = book[B_BPX, v], book[B_BSZ, v], book[B_APX, v], book[B_ASZ, v]
        if k == K_SNAPSHOT:
            m = 0
            for x in range(b0, b1):
                m = _put(bpx, bsz, m, blv[0, x], blv[1, x], True)
            vstate[V_BN, v] = m
            m = 0
            for x in range(a0, a1):
                m = _put(apx, asz, m, alv[0, x], alv[1, x], False)
            vstate[V_AN, v] = m
            vstate[V_HAS_BOOK, v] = 1
            vstate[V_UP, v] = 1
        else:
            m = vstate[V_BN, v]
            for x in range(b0, b1):
                if blv[1, x] > 0:
                    m = _put(bpx, bsz, m, blv[0, x], blv[1, x], True)
                else:
                    m = _drop(bpx, bsz, m, blv[0, x], True)
            vstate[V_BN, v] = m
            m = vstate[V_AN, v]
            for x in range(a0, a1):
                if alv[1, x] > 0:
                    m = _put(apx, asz, m, alv[0, x], alv[1, x], False)
                else:
                    m = _drop(apx, asz, m, alv[0, x], False)
            vstate[V_AN, v] = m
        if vstate[V_OCOUNT, v] > 0:
            nf = _book_through(v, book, vstate, orders, fills)
            if nf:
                return r + 1, FILLS, nf, latest
    return n, DONE, 0, latest
