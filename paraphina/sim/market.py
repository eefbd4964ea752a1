"""The seeded synthetic market: a scenario in, paraphina market and clock events out.

One fair value (the index) follows GBM, optionally with Poisson jumps and volatility regimes.
Each venue quotes an L2 book around its own mid ``fair * (1 + basis)``: ``depth_levels`` levels
a side, the touch ``spread_bps`` apart, levels ``level_spacing_bps`` apart, each level's size a
persistent random draw (redrawn with ``size_refresh_prob`` per step) times ``level_size``.
Per step and venue it emits a :class:`~paraphina.events.BookDelta` with the levels that changed
(``venue_seq`` continuous), a Poisson number of :class:`~paraphina.events.Trade` prints at the
touch, and on the venue's publish schedule a :class:`~paraphina.events.FundingRate` and a
:class:`~paraphina.events.MarkPrice`. A :class:`~paraphina.events.BookSnapshot` opens every venue
and follows the end of every outage. :class:`~paraphina.events.Timer` events tick every
``timer_ms`` (the engine's main-loop interval).

Shocks (:mod:`paraphina.sim.scenario`) change the process while they are active; an outage
stops the venue's feed (``outage`` also emits a :class:`~paraphina.events.BookReset` so the
engine and the simulated exchange know the venue is down).

Determinism: every random number comes from one ``numpy.random.Generator`` (PCG64 seeded with
the run's seed) held in :attr:`MarketGenerator.rng`; the draws per step are made in a fixed
order; events leave in ``(ts_ns, market before timer, creation order)`` order. The drawing and
the price arithmetic run compiled, a block of steps per call (:mod:`paraphina.sim.market_kernel`:
scalar ``math``, no fast-math, so the integers do not depend on SIMD paths); the per-step
inputs computed here with numpy for a block (basis, spread and depth multipliers) are
element-wise additions and products in the order a step at a time would make them, so exact.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterator
from decimal import Decimal

import numpy as np

from paraphina import events as ev
from paraphina.columns import K_TIMER, K_TRADE, EventColumns, concat, encode_payload, from_events, take
from paraphina.sim.market_kernel import N_VENUE_PARAMS, assemble_block, generate_block
from paraphina.sim.scenario import (
    BasisSpike, FundingDrift, FundingFlip, LiquidityDrain, Scenario, VenueOutage, VenueSpec, VolSpike,
)

T0_NS = 1_722_000_000 * 1_000_000_000  # 2024-07-26 13:20:00 UTC: the start of every simulated session
NS_PER_MS = 1_000_000
MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000

_LATENT_MEMORY = 256  # steps: far more than feed and order latency
# Steps generated per call of the compiled kernel: enough to amortise the call, few enough that
# a run stopped early (kill switch) wastes little.
BLOCK_STEPS = 64


class _Block:
    """What the kernel generated for steps ``start .. start + len - 1`` (see
    :mod:`paraphina.sim.market_kernel`), with the per (step, venue) feed flags it was given."""

    __slots__ = ("start", "end", "up", "reset", "snapshot", "fair", "regime", "mid", "bid_off", "bid_px", "bid_sz",
                 "ask_off", "ask_px", "ask_sz", "trade_off", "trade_px", "trade_sz", "trade_side")


_EMPTY = from_events([])


class MarketGenerator:
    """Generates one run of a scenario. Iterate :meth:`events`, or call :meth:`step` per step.

    ``steps`` overrides the scenario's horizon; ``timer_ms`` is the clock interval. The random
    part of each step and the rows of its events run compiled, :data:`BLOCK_STEPS` steps at a
    time, into :class:`~paraphina.columns.EventColumns` (:meth:`chunks`); event objects are made
    only for :meth:`step` and :meth:`events`.

    Delivery order is ``(ts_ns, market before timer, creation order)`` over the whole run: an
    event made at step ``k`` is stamped at or after the step's time, so the events due before
    step ``k + 1`` are exactly those stamped before it, and releasing them step by step (or a
    block at a time) gives one sorted stream.
    """

    def __init__(self, scenario: Scenario, seed: int, *, timer_ms: int = 250, steps: int | None = None) -> None:
        self.scenario = scenario
        self.seed = seed
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.instruments = scenario.instruments()
        self.ticks = [float(Decimal(v.tick_size)) for v in scenario.venues]
        self.lots = [float(Decimal(v.lot_size)) for v in scenario.venues]
        self.steps = scenario.horizon.steps if steps is None else steps
        self.dt_ms = scenario.horizon.dt_ms
        self.dt_ns = self.dt_ms * NS_PER_MS
        self.timer_ns = timer_ms * NS_PER_MS
        m = scenario.market
        venues = scenario.venues
        self.regime = m.vol_markov.initial if m.vol_markov is not None else 0
        self._fair = math.exp(math.log(m.initial_price))
        self.step_index = 0
        self._next_timer = np.array([T0_NS], np.int64)
        self._pending: EventColumns = _EMPTY   # made, sorted in delivery order, not yet released
        self._trade_no = 0
        # (step time, latent fair) of the last steps: the truth a run can be measured against.
        self._latent: deque[tuple[int, float]] = deque(maxlen=_LATENT_MEMORY)
        # The kernel's state: the fair value's, and each venue's book (levels and size factors).
        self._log_fair = np.array([math.log(m.initial_price)])
        self._regime = np.array([self.regime], np.int64)
        nmax = max(v.depth_levels for v in venues)
        self._book = [np.zeros((len(venues), nmax), dt) for dt in (np.int64, np.int64, np.float64) * 2]
        self._depth = np.array([v.depth_levels for v in venues], np.int64)
        self._vparams = np.array([[self.ticks[i], self.lots[i], v.spread_bps, v.level_spacing_bps, v.level_size,
                                   v.size_refresh_prob, v.trades_per_step, v.trade_size]
                                  for i, v in enumerate(venues)], np.float64).reshape(len(venues), N_VENUE_PARAMS)
        self._down = [False] * len(venues)     # feed stopped (outage or stale); a snapshot ends it
        self._venue_seq = np.zeros(len(venues), np.int64)
        self._next_publish_ns = np.full(len(venues), T0_NS, np.int64)
        self._feed_ns = np.array([v.feed_latency_ms * NS_PER_MS for v in venues], np.int64)
        self._publish_ns = np.array([v.funding.publish_ms * NS_PER_MS for v in venues], np.int64)
        self._block: _Block | None = None

    # --- public -------------------------------------------------------------------------------

    @property
    def fair(self) -> float:
        """The latent fair value of the last step taken (the initial price before the first)."""
        return self._fair

    def latent_at(self, ts_ns: int) -> float:
        """The latent fair price in force at ``ts_ns`` (that of the last step at or before it);
        NaN before the first step or further back than the generator remembers."""
        lat = self._latent
        i = bisect.bisect_right(lat, ts_ns, key=lambda x: x[0]) - 1
        return lat[i][1] if i >= 0 and (i > 0 or len(lat) < _LATENT_MEMORY) else math.nan

    def step_ts(self, k: int) -> int:
        return T0_NS + k * self.dt_ns

    def events(self) -> Iterator[ev.Event]:
        """Every event of the run, in delivery order."""
        while self.step_index < self.steps:
            yield from self.step()
        yield from self.drain()

    def chunks(self) -> Iterator[EventColumns]:
        """Every event of the run as columns, in delivery order: a block of steps per chunk
        (``seq`` is not numbered). :attr:`step_index` is the end of the block released."""
        while self.step_index < self.steps:
            b = self._block_at(self.step_index)
            self._take_step(b, b.end - 1)
            cols = self._release(self.step_ts(b.end) if b.end < self.steps else None)
            if len(cols):
                yield cols
        cols = self._release(None)
        if len(cols):
            yield cols

    def steps_through(self, ts_ns: int) -> int:
        """:attr:`step_index` when the event stamped ``ts_ns`` is released (the steps taken)."""
        return min(self.steps, (ts_ns - T0_NS) // self.dt_ns + 1)

    def step(self) -> list[ev.Event]:
        """Generate the next step; return the events now due (``ts_ns`` before the next step)."""
        k = self.step_index
        self._take_step(self._block_at(k), k)
        return list(self._release(self.step_ts(k) + self.dt_ns).events())

    def drain(self) -> list[ev.Event]:
        """Events still held back by feed latency after the last step."""
        return list(self._release(None).events())

    def _block_at(self, k: int) -> _Block:
        b = self._block
        if b is None or k >= b.end:
            b = self._block = self._generate(k, max(1, min(BLOCK_STEPS, self.steps - k)))
        return b

    def _take_step(self, b: _Block, k: int) -> None:
        """Steps up to ``k`` (of block ``b``) are taken."""
        s = k - b.start
        self._fair = float(b.fair[s])
        self.regime = int(b.regime[s])
        self.step_index = k + 1

    # --- shocks -------------------------------------------------------------------------------

    def _windows(self, kind: type, k0: int, n: int, per_venue: bool):
        """``(shock, row slice, venue columns)`` of each ``kind`` shock overlapping steps
        ``k0 .. k0 + n - 1``, in scenario order; a market-wide kind (``per_venue`` false) only
        counts shocks given without a venue."""
        n_venues = len(self.scenario.venues)
        for s in self.scenario.shocks:
            if not isinstance(s, kind):
                continue
            lo, hi = max(s.start_step, k0) - k0, min(s.end_step, k0 + n) - k0
            if lo >= hi:
                continue
            if s.venue is None:
                cols = list(range(n_venues))
            elif per_venue and s.venue < n_venues:
                cols = [s.venue]
            else:
                continue
            yield s, slice(lo, hi), cols

    # --- generation -------------------------------------------------------------------------------

    def _generate(self, k0: int, n: int) -> _Block:
        """Steps ``k0 .. k0 + n - 1``: the shock-adjusted inputs per step and venue (the same
        arithmetic, in the same order, as a step at a time), then the compiled kernel."""
        sc = self.scenario
        m = sc.market
        venues = sc.venues
        n_venues = len(venues)
        ks = np.arange(k0, k0 + n, dtype=np.int64)
        outage = np.zeros((n, n_venues), bool)
        hard = np.zeros((n, n_venues), bool)
        for s, rows, cols in self._windows(VenueOutage, k0, n, True):
            outage[rows, cols] = True
            if s.mode == "outage":
                hard[rows, cols] = True
        b = _Block()
        b.start, b.end = k0, k0 + n
        b.up = ~outage
        b.reset = np.zeros((n, n_venues), bool)
        b.snapshot = np.zeros((n, n_venues), bool)
        for v in range(n_venues):
            down = self._down[v]
            if not outage[:, v].any():   # the common case, at once: up throughout
                b.snapshot[0, v] = k0 == 0 or down
                self._down[v] = False
                continue
            for s in range(n):
                if outage[s, v]:
                    if not down:
                        down = True
                        b.reset[s, v] = hard[s, v]
                else:
                    b.snapshot[s, v] = k0 + s == 0 or down
                    down = False
            self._down[v] = down
        basis = np.empty((n, n_venues))
        for v, spec in enumerate(venues):
            basis[:, v] = spec.basis_bps + spec.basis_drift_bps_per_step * ks
        for s, rows, cols in self._windows(BasisSpike, k0, n, True):
            basis[rows, cols] += s.add_bps
        spread_mult = np.ones((n, n_venues))
        depth_mult = np.ones((n, n_venues))
        for s, rows, cols in self._windows(LiquidityDrain, k0, n, True):
            spread_mult[rows, cols] *= s.spread_mult
            depth_mult[rows, cols] *= s.depth_mult
        vol = np.full(n, float(m.vol_daily))
        for r in m.vol_schedule:
            vol[ks >= r.start_step] = r.vol_daily
        spikes = list(self._windows(VolSpike, k0, n, False))
        spike_mult = np.ones((n, len(spikes)))
        for j, (s, rows, _) in enumerate(spikes):
            spike_mult[rows, j] = s.mult
        mk = m.vol_markov
        switch_prob = np.array(mk.switch_prob if mk is not None else [[1.0]], np.float64)
        markov_vol = np.array(mk.vol_daily if mk is not None else [0.0], np.float64)
        dt_day = self.dt_ms / MS_PER_DAY
        (b.fair, b.regime, b.mid, b.bid_off, b.bid_px, b.bid_sz, b.ask_off, b.ask_px, b.ask_sz,
         b.trade_off, b.trade_px, b.trade_sz, b.trade_side) = generate_block(
            self.rng, k0, n, self._log_fair, self._regime, mk is not None, switch_prob, markov_vol, vol, spike_mult,
            float(m.drift_daily), dt_day, math.sqrt(dt_day), m.process == "jump_diffusion",
            m.jumps_per_hour * self.dt_ms / MS_PER_HOUR, float(m.jump_mean), float(m.jump_std),
            self._vparams, self._depth, b.up, b.snapshot, basis, spread_mult, depth_mult, *self._book)
        for s, fair in enumerate(b.fair.tolist()):
            self._latent.append((self.step_ts(k0 + s), fair))
        self._add_rows(b)
        return b

    # --- events ---------------------------------------------------------------------------------

    def _add_rows(self, b: _Block) -> None:
        """The block's events as rows (compiled), their payloads and trade ids, merged into the
        pending rows in delivery order."""
        n = b.end - b.start
        (ts, kind, venue, vseq, pvseq, price, size, side, flags, bid_off, ask_off, pubs, resets) = assemble_block(
            b.start, n, T0_NS, self.dt_ns, self._feed_ns, b.up, b.reset, b.snapshot, self._publish_ns,
            self._next_publish_ns, self._venue_seq, self._next_timer, self.timer_ns, b.bid_off, b.ask_off,
            b.trade_off, b.trade_px, b.trade_sz, b.trade_side)
        rows = len(ts)
        payload: list[bytes | None] = [None] * rows
        text: list[str | None] = [None] * rows
        for r in resets.tolist():
            payload[r] = encode_payload(ev.BookReset(ts_ns=int(ts[r]), venue=int(venue[r]), reason="venue_outage"))
        venues = self.scenario.venues
        for s, v, r in pubs.tolist():
            k = b.start + s
            funding, mark = self._publish(k, self.step_ts(k), int(ts[r]), v, venues[v], float(b.mid[s, v]),
                                          float(b.fair[s]))
            payload[r] = encode_payload(funding)
            payload[r + 1] = encode_payload(mark)
        trades = np.flatnonzero(kind == K_TRADE).tolist()
        for no, r in enumerate(trades, self._trade_no + 1):
            text[r] = f"sim-{no}"
        self._trade_no += len(trades)
        new = EventColumns(seq=np.zeros(rows, np.int64), ts_ns=ts, kind=kind, venue=venue, venue_seq=vseq,
                           prev_venue_seq=pvseq, price=price, size=size, side=side, flags=flags, bid_off=bid_off,
                           bid_px=b.bid_px, bid_sz=b.bid_sz, ask_off=ask_off, ask_px=b.ask_px, ask_sz=b.ask_sz,
                           payload=payload, text=text)
        # The pending rows were made earlier: a stable sort on (time, market before timer) keeps
        # them ahead of new rows with the same key, and the new rows in creation order.
        rows_all = concat([self._pending, new]) if len(self._pending) else new
        self._pending = take(rows_all, np.lexsort((rows_all.kind == K_TIMER, rows_all.ts_ns)))

    def _publish(self, k: int, t: int, ts: int, v: int, spec: VenueSpec, mid: float,
                 fair: float) -> tuple[ev.FundingRate, ev.MarkPrice]:
        f = spec.funding
        rate = f.rate + f.drift_per_step * k
        for s in self._active(FundingDrift, k, v):
            rate += s.per_step * (k - s.start_step + 1)
        for s in self._active(FundingFlip, k, v):
            rate *= s.mult
        interval_ns = f.interval_ms * NS_PER_MS
        next_funding = T0_NS + ((t - T0_NS) // interval_ns + 1) * interval_ns
        tick = self.ticks[v]
        return (ev.FundingRate(ts_ns=ts, venue=v, rate=rate, interval_ms=f.interval_ms, next_funding_ts_ns=next_funding),
                ev.MarkPrice(ts_ns=ts, venue=v, mark_price=round(mid / tick), index_price=round(fair / tick)))

    def _active(self, kind: type, k: int, v: int) -> list:
        return [s for s in self.scenario.shocks
                if isinstance(s, kind) and s.start_step <= k < s.end_step and (s.venue is None or s.venue == v)]

    # --- ordering -------------------------------------------------------------------------------

    def _release(self, before_ns: int | None) -> EventColumns:
        """The pending rows stamped before ``before_ns`` (all of them for ``None``)."""
        p = self._pending
        n = len(p)
        cut = n if before_ns is None else int(np.searchsorted(p.ts_ns, before_ns, "left"))
        if cut == 0:
            return _EMPTY
        self._pending = p.slice(cut, n) if cut < n else _EMPTY
        return p.slice(0, cut) if cut < n else p
