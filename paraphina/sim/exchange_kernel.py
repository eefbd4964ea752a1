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
zero or less removing its level. Levels are unordered (best prices are scanned for): a side is
``px[v, :n[v]]``, ``sz[v, :n[v]]``. Our orders on a venue are ``o*[v, :ocount[v]]`` in the order
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

NO_BID = np.iinfo(np.int64).min
NO_ASK = np.iinfo(np.int64).max


@numba.njit(cache=True, nogil=True)
def _find(px, n, p):
    for i in range(n):
        if px[i] == p:
            return i
    return -1


@numba.njit(cache=True, nogil=True)
def _put(px, sz, n, p, s):
    """Set level ``p`` to ``s``; returns the side's new level count."""
    i = _find(px, n, p)
    if i >= 0:
        sz[i] = s
        return n
    px[n] = p
    sz[n] = s
    return n + 1


@numba.njit(cache=True, nogil=True)
def _drop(px, sz, n, p):
    """Remove level ``p`` if present (the last level takes its slot); returns the new count."""
    i = _find(px, n, p)
    if i < 0:
        return n
    n -= 1
    px[i] = px[n]
    sz[i] = sz[n]
    return n


@numba.njit(cache=True, nogil=True)
def best_price(px, n, bid):
    """The best price of a side (highest bid, lowest ask); NO_BID / NO_ASK when it is empty."""
    if bid:
        b = NO_BID
        for i in range(n):
            if px[i] > b:
                b = px[i]
        return b
    b = NO_ASK
    for i in range(n):
        if px[i] < b:
            b = px[i]
    return b


@numba.njit(cache=True, nogil=True)
def _shown(px, sz, n, p):
    i = _find(px, n, p)
    return sz[i] if i >= 0 else 0


@numba.njit(cache=True, nogil=True)
def _compact(v, ocount, oside, oprice, orem, oahead, ono):
    """Drop the orders of venue ``v`` with nothing remaining, keeping the others' order."""
    w = 0
    for q in range(ocount[v]):
        if orem[v, q] > 0:
            if w != q:
                oside[v, w] = oside[v, q]
                oprice[v, w] = oprice[v, q]
                orem[v, w] = orem[v, q]
                oahead[v, w] = oahead[v, q]
                ono[v, w] = ono[v, q]
            w += 1
    ocount[v] = w


@numba.njit(cache=True, nogil=True)
def _book_through(v, bpx, bsz, bn, apx, asz, an, ocount, oside, oprice, orem, oahead, ono, f_no, f_side, f_px, f_qty, f_done):
    """After a book message on ``v``: orders the opposite side moved through fill completely at
    their own price; the others' queue ahead shrinks to what their level shows. Returns the
    number of fills written."""
    best_bid = best_price(bpx[v], bn[v], True)
    best_ask = best_price(apx[v], an[v], False)
    nf = 0
    for q in range(ocount[v]):
        p = oprice[v, q]
        if oside[v, q] > 0:
            through = best_ask <= p
        else:
            through = best_bid >= p
        if through:
            f_no[nf] = ono[v, q]
            f_side[nf] = oside[v, q]
            f_px[nf] = p
            f_qty[nf] = orem[v, q]
            f_done[nf] = True
            nf += 1
            orem[v, q] = 0
        else:
            if oside[v, q] > 0:
                shown = _shown(bpx[v], bsz[v], bn[v], p)
            else:
                shown = _shown(apx[v], asz[v], an[v], p)
            if shown < oahead[v, q]:
                oahead[v, q] = shown
    if nf:
        _compact(v, ocount, oside, oprice, orem, oahead, ono)
    return nf


@numba.njit(cache=True, nogil=True)
def _trade_fills(v, price, size, side, ocount, oside, oprice, orem, oahead, ono, f_no, f_side, f_px, f_qty, f_done):
    """A public trade fills our resting orders on its passive side in price-time priority (best
    price for the aggressor first, then order number): at the trade's price the queue ahead is
    consumed first. Returns the number of fills written."""
    passive = -side
    cnt = ocount[v]
    elig = np.empty(cnt, np.int64)
    ne = 0
    for q in range(cnt):
        if oside[v, q] == passive and (oprice[v, q] <= price if passive < 0 else oprice[v, q] >= price):
            # insertion sort on (price * -passive, order number), stable
            key = oprice[v, q] * -passive
            j = ne
            while j > 0:
                r = elig[j - 1]
                rk = oprice[v, r] * -passive
                if rk > key or (rk == key and ono[v, r] > ono[v, q]):
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
        if oprice[v, q] == price:
            used = min(oahead[v, q], budget)
            oahead[v, q] -= used
            budget -= used
        take = min(orem[v, q], budget)
        if take <= 0:
            continue
        budget -= take
        orem[v, q] -= take
        f_no[nf] = ono[v, q]
        f_side[nf] = oside[v, q]
        f_px[nf] = oprice[v, q]
        f_qty[nf] = take
        f_done[nf] = orem[v, q] == 0
        nf += 1
    if nf:
        _compact(v, ocount, oside, oprice, orem, oahead, ono)
    return nf


@numba.njit(cache=True, nogil=True)
def fold_rows(kind, venue, ts, price, size, side, bid_off, bid_px, bid_sz, ask_off, ask_px, ask_sz, i, n, until,
              bpx, bsz, bn, apx, asz, an, has_book, up, ocount, oside, oprice, orem, oahead, ono,
              f_no, f_side, f_px, f_qty, f_done, clock):
    """Fold rows ``i .. n - 1`` (see the module docstring); returns ``(row, status, nfills)``.
    ``clock[0]`` (the exchange's time) becomes the latest row time folded."""
    cap = bpx.shape[1]
    for r in range(i, n):
        k = kind[r]
        if (k != K_SNAPSHOT and k != K_DELTA and k != K_TRADE) or ts[r] >= until:
            return r, STOP, 0
        v = venue[r]
        if k == K_TRADE:
            if ts[r] > clock[0]:
                clock[0] = ts[r]
            if ocount[v] > 0:
                nf = _trade_fills(v, price[r], size[r], side[r], ocount, oside, oprice, orem, oahead, ono,
                                  f_no, f_side, f_px, f_qty, f_done)
                if nf:
                    return r + 1, FILLS, nf
            continue
        b0, b1, a0, a1 = bid_off[r], bid_off[r + 1], ask_off[r], ask_off[r + 1]
        if k == K_SNAPSHOT:
            if b1 - b0 > cap or a1 - a0 > cap:
                return r, GROW, 0
        elif bn[v] + (b1 - b0) > cap or an[v] + (a1 - a0) > cap:
            return r, GROW, 0
        if ts[r] > clock[0]:
            clock[0] = ts[r]
        if k == K_SNAPSHOT:
            m = 0
            for x in range(b0, b1):
                m = _put(bpx[v], bsz[v], m, bid_px[x], bid_sz[x])
            bn[v] = m
            m = 0
            for x in range(a0, a1):
                m = _put(apx[v], asz[v], m, ask_px[x], ask_sz[x])
            an[v] = m
            has_book[v] = True
            up[v] = True
        else:
            m = bn[v]
            for x in range(b0, b1):
                m = _put(bpx[v], bsz[v], m, bid_px[x], bid_sz[x]) if bid_sz[x] > 0 else _drop(bpx[v], bsz[v], m, bid_px[x])
            bn[v] = m
            m = an[v]
            for x in range(a0, a1):
                m = _put(apx[v], asz[v], m, ask_px[x], ask_sz[x]) if ask_sz[x] > 0 else _drop(apx[v], asz[v], m, ask_px[x])
            an[v] = m
        if ocount[v] > 0:
            nf = _book_through(v, bpx, bsz, bn, apx, asz, an, ocount, oside, oprice, orem, oahead, ono,
                               f_no, f_side, f_px, f_qty, f_done)
            if nf:
                return r + 1, FILLS, nf
    return n, DONE, 0
