"""Synthetic multi-venue market logs for samples, golden tests and benchmarks.

Columnar and vectorised (numpy, seeded ``Generator``): it writes millions of events per second,
so benchmarks measure the engine, not the generator. The market: each venue's mid is a random
walk of one tick per book message; a message sets the best bid and ask around the mid plus one
deeper level on each side, and deletes the level that the move would leave crossed, so books
never cross. About 10 % of events are trades; a timer every ``timer_ms`` of event time.

This is the project's own generator for ``event_logs/``; the research simulator with scenarios,
shocks and a simulated exchange lives in :mod:`paraphina.sim`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from paraphina import events as ev
from paraphina.columns import FLAG_LAST_IN_BATCH, K_DELTA, K_SNAPSHOT, K_TIMER, K_TRADE, EventColumns

T0_NS = 1_722_000_000 * 1_000_000_000  # 2024-07-26 13:20:00 UTC


def instruments(n_venues: int) -> list[ev.Instrument]:
    return [ev.Instrument(venue=f"venue{v}", symbol="BTC-PERP", tick_size="0.1", lot_size="0.001",
                          min_notional="5", base="BTC", quote="USD") for v in range(n_venues)]


def generate(n_events: int, n_venues: int = 5, seed: int = 0, *, event_ms: float = 1.0, timer_ms: int = 250,
             trade_frac: float = 0.10, chunk: int = 65_536, mid_ticks: int = 600_000) -> Iterator[EventColumns]:
    """Yield ``n_events`` events in chunks; the first ``n_venues`` are snapshots."""
    rng = np.random.default_rng(seed)
    mids = np.full(n_venues, mid_ticks, np.int64) + rng.integers(-20, 21, n_venues)
    dt_ns = int(event_ms * 1_000_000)
    timer_every = max(1, int(round(timer_ms / event_ms)))
    produced = 0
    if n_events > 0:
        first = _snapshots(mids, min(n_venues, n_events), rng)
        produced = len(first)
        yield first
    while produced < n_events:
        n = min(chunk, n_events - produced)
        idx = np.arange(produced, produced + n, dtype=np.int64)
        ts = T0_NS + idx * dt_ns
        is_timer = idx % timer_every == 0
        u = rng.random(n)
        is_trade = ~is_timer & (u < trade_frac)
        is_delta = ~is_timer & ~is_trade
        venue = rng.integers(0, n_venues, n).astype(np.int16)
        venue[is_timer] = -1
        kind = np.where(is_timer, K_TIMER, np.where(is_trade, K_TRADE, K_DELTA)).astype(np.uint8)
        step = rng.choice(np.array([-1, 0, 1], np.int64), n, p=[0.3, 0.4, 0.3])
        step[~is_delta] = 0
        mid_at = np.zeros(n, np.int64)
        for v in range(n_venues):
            m = (venue == v)
            walk = np.cumsum(step[m]) + mids[v]
            mid_at[m] = walk
            if walk.size:
                mids[v] = walk[-1]
        depth_j = rng.integers(1, 5, n)
        size_a = rng.integers(1, 2000, n)
        size_b = rng.integers(1, 5000, n)
        d = np.flatnonzero(is_delta)
        nd = d.size
        bid_px = np.empty(3 * nd, np.int64)
        bid_sz = np.empty(3 * nd, np.int64)
        ask_px = np.empty(3 * nd, np.int64)
        ask_sz = np.empty(3 * nd, np.int64)
        m = mid_at[d]
        bid_px[0::3], bid_px[1::3], bid_px[2::3] = m + 1, m - 1, m - 1 - depth_j[d]
        ask_px[0::3], ask_px[1::3], ask_px[2::3] = m - 1, m + 1, m + 1 + depth_j[d]
        bid_sz[0::3], bid_sz[1::3], bid_sz[2::3] = 0, size_a[d], size_b[d]
        ask_sz[0::3], ask_sz[1::3], ask_sz[2::3] = 0, size_b[d], size_a[d]
        per = np.where(is_delta, 3, 0).astype(np.int32)
        off = np.zeros(n + 1, np.int32)
        np.cumsum(per, out=off[1:])
        vseq = np.full(n, -1, np.int64)
        price = np.zeros(n, np.int64)
        size = np.zeros(n, np.int64)
        side = np.zeros(n, np.int8)
        t = np.flatnonzero(is_trade)
        side[t] = np.where(rng.random(t.size) < 0.5, 1, -1)
        # A trade prints one tick off its venue's current mid (the walk holds still on trades).
        price[t] = mid_at[t] + side[t]
        size[t] = rng.integers(1, 500, t.size)
        yield EventColumns(
            seq=idx, ts_ns=ts, kind=kind, venue=venue, venue_seq=vseq, prev_venue_seq=vseq.copy(),
            price=price, size=size, side=side, flags=np.full(n, FLAG_LAST_IN_BATCH, np.uint8),
            bid_off=off, bid_px=bid_px, bid_sz=bid_sz, ask_off=off.copy(), ask_px=ask_px, ask_sz=ask_sz,
            payload=[None] * n, text=[None] * n,
        )
        produced += n


def _snapshots(mids: np.ndarray, n: int, rng: np.random.Generator) -> EventColumns:
    levels = 10
    bid_px, bid_sz, ask_px, ask_sz = [], [], [], []
    for v in range(n):
        bid_px.append(mids[v] - 1 - np.arange(levels))
        ask_px.append(mids[v] + 1 + np.arange(levels))
        bid_sz.append(rng.integers(100, 5000, levels))
        ask_sz.append(rng.integers(100, 5000, levels))
    off = np.arange(0, levels * (n + 1), levels, dtype=np.int32)
    seq = np.arange(n, dtype=np.int64)
    return EventColumns(
        seq=seq, ts_ns=np.full(n, T0_NS - 1_000_000, np.int64), kind=np.full(n, K_SNAPSHOT, np.uint8),
        venue=np.arange(n, dtype=np.int16), venue_seq=np.full(n, -1, np.int64), prev_venue_seq=np.full(n, -1, np.int64),
        price=np.zeros(n, np.int64), size=np.zeros(n, np.int64), side=np.zeros(n, np.int8),
        flags=np.full(n, FLAG_LAST_IN_BATCH, np.uint8), bid_off=off, bid_px=np.concatenate(bid_px).astype(np.int64),
        bid_sz=np.concatenate(bid_sz).astype(np.int64), ask_off=off.copy(), ask_px=np.concatenate(ask_px).astype(np.int64),
        ask_sz=np.concatenate(ask_sz).astype(np.int64), payload=[None] * n, text=[None] * n,
    )
