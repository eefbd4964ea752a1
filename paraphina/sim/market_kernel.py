"""The compiled part of the synthetic market: a block of generator steps at once.

:class:`paraphina.sim.market.MarketGenerator` owns the scenario logic that draws no random
numbers (shock windows, outages, funding, timers, event ordering) and turns what this kernel
writes into events. The kernel does everything that draws from the run's generator, in the
order the generator's design fixes per step: the fair value's move (regime switch, diffusion,
jumps), then for each venue that is up its quotes (a refresh draw then a fresh size factor per
level) and its trades (a Poisson count, then sides, then sizes).

Determinism: the kernel draws from the very ``numpy.random.Generator`` the generator holds
(numba's ``Generator`` support calls the same bit generator and ports numpy's distributions,
so the numbers and the state left behind are numpy's), compiles without fast-math, and does
the price arithmetic in the same order as the scalar code it replaced, so a run's events are
byte-identical to the one-event-at-a-time generator's.

Levels are written as flat arrays: per (step, venue) the bid and ask changes (a snapshot's
full book, or a delta's removed levels with size 0 then new or resized ones) between offsets,
and the trades (price, lots, side) likewise.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from paraphina import events as ev

# per-venue parameter rows (float64): what the scenario says about each venue's book and trades
P_TICK, P_LOT, P_SPREAD_BPS, P_SPACING_BPS, P_LEVEL_SIZE, P_REFRESH_PROB, P_TRADES_PER_STEP, P_TRADE_SIZE = range(8)
N_VENUE_PARAMS = 8


@numba.njit(cache=True, nogil=True)
def _grow(a: np.ndarray, need: int) -> np.ndarray:
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), a.dtype)
    b[: a.shape[0]] = a
    return b


@numba.njit(cache=True, nogil=True)
def generate_block(
    rng, k0, n_steps,
    # fair value: state [log_fair], [regime]; per step vol (schedule) and vol-spike multipliers
    log_fair, regime, markov, switch_prob, markov_vol, vol_sched, spike_mult, drift_daily, dt_day, sqrt_dt_day,
    jumps, jump_lam, jump_mean, jump_std,
    # venues: params rows, depth per venue, per (step, venue) up/snapshot flags and shock-adjusted inputs
    vparams, depth, up, snapshot, basis_bps, spread_mult, depth_mult,
    # book state per venue (prices in ticks, sizes in lots, size factors), updated in place
    st_bpx, st_bsz, st_bf, st_apx, st_asz, st_af,
):
    """Generate steps ``k0 .. k0 + n_steps - 1``; returns the per-step fair, regime and per
    (step, venue) mid, best bid/ask, level changes and trades (see module docstring)."""
    n_venues = vparams.shape[0]
    nmax = st_bpx.shape[1]
    fair_out = np.empty(n_steps)
    regime_out = np.empty(n_steps, np.int64)
    mid_out = np.zeros((n_steps, n_venues))
    rows = n_steps * n_venues
    bid_off = np.zeros(rows + 1, np.int64)
    ask_off = np.zeros(rows + 1, np.int64)
    trade_off = np.zeros(rows + 1, np.int64)
    bid_px = np.empty(rows * 2 * nmax, np.int64)
    bid_sz = np.empty(rows * 2 * nmax, np.int64)
    ask_px = np.empty(rows * 2 * nmax, np.int64)
    ask_sz = np.empty(rows * 2 * nmax, np.int64)
    tr_px = np.empty(rows * 4 + 16, np.int64)
    tr_sz = np.empty(rows * 4 + 16, np.int64)
    tr_side = np.empty(rows * 4 + 16, np.int8)
    nb = 0
    na = 0
    nt = 0
    new_px = np.empty(nmax, np.int64)
    new_sz = np.empty(nmax, np.int64)
    new_bpx = np.empty(nmax, np.int64)
    new_bsz = np.empty(nmax, np.int64)
    new_bf = np.empty(nmax)
    new_apx = np.empty(nmax, np.int64)
    new_asz = np.empty(nmax, np.int64)
    new_af = np.empty(nmax)
    for s in range(n_steps):
        k = k0 + s
        if k > 0:
            if markov:
                u = rng.random()
                acc = 0.0
                for j in range(switch_prob.shape[1]):
                    acc += switch_prob[regime[0], j]
                    if u < acc:
                        regime[0] = j
                        break
                vol = markov_vol[regime[0]]
            else:
                vol = vol_sched[s]
            sigma = vol * sqrt_dt_day
            for j in range(spike_mult.shape[1]):
                sigma *= spike_mult[s, j]
            z = rng.standard_normal()
            log_fair[0] += (drift_daily * dt_day - 0.5 * sigma * sigma) + sigma * z
            if jumps:
                n_jumps = rng.poisson(jump_lam)
                for _ in range(n_jumps):
                    log_fair[0] += jump_mean + jump_std * rng.standard_normal()
        fair = math.exp(log_fair[0])
        fair_out[s] = fair
        regime_out[s] = regime[0]
        for v in range(n_venues):
            row = s * n_venues + v
            if up[s, v]:
                p = vparams[v]
                tick = p[P_TICK]
                lot = p[P_LOT]
                n = depth[v]
                mid = fair * (1.0 + basis_bps[s, v] / 1e4)
                mid_out[s, v] = mid
                half = mid * p[P_SPREAD_BPS] * spread_mult[s, v] / 2e4
                best_bid = np.int64(math.floor((mid - half) / tick))
                best_ask = np.int64(math.ceil((mid + half) / tick))
                if best_ask <= best_bid:
                    best_ask = best_bid + 1
                spacing = max(1, round(mid * p[P_SPACING_BPS] / 1e4 / tick))
                snap = snapshot[s, v]
                refresh = np.empty(2 * n)
                for i in range(2 * n):
                    refresh[i] = rng.random()
                fresh = np.empty(2 * n)
                for i in range(2 * n):
                    fresh[i] = rng.uniform(0.5, 1.5)
                size_scale = p[P_LEVEL_SIZE]
                dm = depth_mult[s, v]
                _side_levels(best_bid, -spacing, 0, n, snap, refresh, fresh, p[P_REFRESH_PROB], st_bpx[v], st_bf[v],
                             size_scale, dm, lot, new_bpx, new_bf, new_bsz)
                _side_levels(best_ask, spacing, n, n, snap, refresh, fresh, p[P_REFRESH_PROB], st_apx[v], st_af[v],
                             size_scale, dm, lot, new_apx, new_af, new_asz)
                nb = _levels_out(snap, st_bpx[v], st_bsz[v], new_bpx, new_bsz, n, bid_px, bid_sz, nb)
                na = _levels_out(snap, st_apx[v], st_asz[v], new_apx, new_asz, n, ask_px, ask_sz, na)
                for i in range(n):
                    st_bpx[v, i] = new_bpx[i]
                    st_bsz[v, i] = new_bsz[i]
                    st_bf[v, i] = new_bf[i]
                    st_apx[v, i] = new_apx[i]
                    st_asz[v, i] = new_asz[i]
                    st_af[v, i] = new_af[i]
                n_trades = rng.poisson(p[P_TRADES_PER_STEP])
                if n_trades > 0:
                    sides = np.empty(n_trades)
                    for i in range(n_trades):
                        sides[i] = rng.random()
                    sizes = np.empty(n_trades)
                    for i in range(n_trades):
                        sizes[i] = rng.exponential(p[P_TRADE_SIZE])
                    tr_px = _grow(tr_px, nt + n_trades)
                    tr_sz = _grow(tr_sz, nt + n_trades)
                    tr_side = _grow(tr_side, nt + n_trades)
                    for i in range(n_trades):
                        buy = sides[i] < 0.5
                        tr_side[nt] = 1 if buy else -1
                        tr_px[nt] = best_ask if buy else best_bid
                        tr_sz[nt] = max(1, round(sizes[i] / lot))
                        nt += 1
            bid_off[row + 1] = nb
            ask_off[row + 1] = na
            trade_off[row + 1] = nt
    return (fair_out, regime_out, mid_out, bid_off, bid_px[:nb], bid_sz[:nb], ask_off, ask_px[:na], ask_sz[:na],
            trade_off, tr_px[:nt], tr_sz[:nt], tr_side[:nt])


@numba.njit(cache=True, nogil=True)
def _side_levels(best, step, off, n, snap, refresh, fresh, refresh_prob, st_px, st_f, size_scale, dm, lot,
                 new_px, new_f, new_sz):
    """One side's ``n`` levels from its best price, ``step`` ticks apart (bids step down, asks
    up): a level at a price the side already had keeps its size factor unless redrawn
    (``refresh`` below ``refresh_prob``, or a snapshot); ``off`` is the side's offset into the
    step's draws."""
    for i in range(n):
        px = best + i * step
        f = fresh[off + i]
        if not snap and refresh[off + i] >= refresh_prob:
            for j in range(n):
                if st_px[j] == px:
                    f = st_f[j]
                    break
        new_px[i] = px
        new_f[i] = f
        new_sz[i] = max(1, round(size_scale * f * dm / lot))


@numba.njit(cache=True, nogil=True)
def _levels_out(snap, old_px, old_sz, new_px, new_sz, n, out_px, out_sz, w):
    """Append one side's message: the whole new side for a snapshot, else the levels that left
    (size 0, in the old order) then those new or resized (in the new order)."""
    if snap:
        for i in range(n):
            out_px[w] = new_px[i]
            out_sz[w] = new_sz[i]
            w += 1
        return w
    for i in range(n):
        p = old_px[i]
        kept = False
        for j in range(n):
            if new_px[j] == p:
                kept = True
                break
        if not kept:
            out_px[w] = p
            out_sz[w] = 0
            w += 1
    for i in range(n):
        p = new_px[i]
        same = False
        for j in range(n):
            if old_px[j] == p:
                same = old_sz[j] == new_sz[i]
                break
        if not same:
            out_px[w] = p
            out_sz[w] = new_sz[i]
            w += 1
    return w


K_SNAPSHOT = ev.BookSnapshot.KIND
K_DELTA = ev.BookDelta.KIND
K_TRADE = ev.Trade.KIND
K_TIMER = ev.Timer.KIND
K_RESET = ev.BookReset.KIND
K_FUNDING = ev.FundingRate.KIND
K_MARK = ev.MarkPrice.KIND


@numba.njit(cache=True, nogil=True)
def assemble_block(k0, n_steps, t0_ns, dt_ns, feed_ns, up, reset, snapshot, publish_ns, next_publish, venue_seq,
                   next_timer, timer_ns, bid_off, ask_off, trade_off, tr_px, tr_sz, tr_side):
    """The rows of steps ``k0 .. k0 + n_steps - 1`` in the order the generator creates them (per
    step, per venue: its reset, or its book message, trades and, when its publish time has come,
    funding rate and mark price; then the step's timers), as the columns of
    :class:`paraphina.columns.EventColumns` (levels are :func:`generate_block`'s, in place).
    ``next_publish``, ``venue_seq`` and ``next_timer`` are the generator's state, updated.
    Returns the columns, then ``(step, venue, row)`` of each publish (its funding rate's row; the
    mark price follows) and the row of each reset, for Python to fill in their payloads."""
    n_venues = up.shape[1]
    cap = n_steps * n_venues * 3 + tr_px.shape[0] + n_steps * (dt_ns // timer_ns + 2) + 1
    ts = np.empty(cap, np.int64)
    kind = np.empty(cap, np.uint8)
    venue = np.full(cap, -1, np.int16)
    vseq = np.full(cap, -1, np.int64)
    pvseq = np.full(cap, -1, np.int64)
    price = np.zeros(cap, np.int64)
    size = np.zeros(cap, np.int64)
    side = np.zeros(cap, np.int8)
    flags = np.zeros(cap, np.uint8)
    rb = np.zeros(cap + 1, np.int32)
    ra = np.zeros(cap + 1, np.int32)
    pub = np.empty((n_steps * n_venues, 3), np.int64)
    resets = np.empty(n_steps * n_venues, np.int64)
    npub = 0
    nres = 0
    w = 0
    for s in range(n_steps):
        t = t0_ns + (k0 + s) * dt_ns
        for v in range(n_venues):
            r = s * n_venues + v
            tv = t + feed_ns[v]
            if not up[s, v]:
                if reset[s, v]:
                    ts[w] = tv
                    kind[w] = K_RESET
                    venue[w] = v
                    rb[w + 1] = rb[w]
                    ra[w + 1] = ra[w]
                    resets[nres] = w
                    nres += 1
                    w += 1
                continue
            prev = venue_seq[v]
            venue_seq[v] = prev + 1
            ts[w] = tv
            venue[w] = v
            vseq[w] = prev + 1
            flags[w] = 1
            if snapshot[s, v]:
                kind[w] = K_SNAPSHOT
            else:
                kind[w] = K_DELTA
                pvseq[w] = prev
            rb[w + 1] = bid_off[r + 1]
            ra[w + 1] = ask_off[r + 1]
            w += 1
            for x in range(trade_off[r], trade_off[r + 1]):
                ts[w] = tv
                kind[w] = K_TRADE
                venue[w] = v
                price[w] = tr_px[x]
                size[w] = tr_sz[x]
                side[w] = tr_side[x]
                rb[w + 1] = rb[w]
                ra[w + 1] = ra[w]
                w += 1
            if t >= next_publish[v]:
                while next_publish[v] <= t:
                    next_publish[v] += publish_ns[v]
                pub[npub, 0] = s
                pub[npub, 1] = v
                pub[npub, 2] = w
                npub += 1
                for kd in (K_FUNDING, K_MARK):
                    ts[w] = tv
                    kind[w] = kd
                    venue[w] = v
                    rb[w + 1] = rb[w]
                    ra[w + 1] = ra[w]
                    w += 1
        while next_timer[0] < t + dt_ns:
            ts[w] = next_timer[0]
            kind[w] = K_TIMER
            rb[w + 1] = rb[w]
            ra[w + 1] = ra[w]
            w += 1
            next_timer[0] += timer_ns
    return (ts[:w], kind[:w], venue[:w], vseq[:w], pvseq[:w], price[:w], size[:w], side[:w], flags[:w],
            rb[: w + 1], ra[: w + 1], pub[:npub], resets[:nres])
