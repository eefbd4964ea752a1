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
import heapq
import math
from collections import deque
from collections.abc import Iterator
from decimal import Decimal

import numpy as np

from paraphina import events as ev
from paraphina.sim.market_kernel import N_VENUE_PARAMS, generate_block
from paraphina.sim.scenario import (
    BasisSpike, FundingDrift, FundingFlip, LiquidityDrain, Scenario, VenueOutage, VenueSpec, VolSpike,
)

T0_NS = 1_722_000_000 * 1_000_000_000  # 2024-07-26 13:20:00 UTC: the start of every simulated session
NS_PER_MS = 1_000_000
MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000

_LATENT_MEMORY = 256  # steps: far more than feed and order latency
_PRIO_MARKET = 0
_PRIO_TIMER = 1
# Steps generated per call of the compiled kernel: enough to amortise the call, few enough that
# a run stopped early (kill switch) wastes little.
BLOCK_STEPS = 64


class _Block:
    """What the kernel generated for steps ``start .. start + len - 1`` (see
    :mod:`paraphina.sim.market_kernel`), with the per (step, venue) feed flags it was given."""

    __slots__ = ("start", "end", "up", "reset", "snapshot", "fair", "regime", "mid", "bid_off", "bid_px", "bid_sz",
                 "ask_off", "ask_px", "ask_sz", "trade_off", "trade_px", "trade_sz", "trade_side")


class MarketGenerator:
    """Generates one run of a scenario. Iterate :meth:`events`, or call :meth:`step` per step.

    ``steps`` overrides the scenario's horizon; ``timer_ms`` is the clock interval. The random
    part of each step runs compiled, :data:`BLOCK_STEPS` steps at a time; the events of a step
    are made when the step is taken.
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
        self.next_timer_ns = T0_NS
        self._pending: list[tuple[int, int, int, ev.Event]] = []
        self._counter = 0
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
        self._venue_seq = [0] * len(venues)
        self._next_publish_ns = [T0_NS] * len(venues)
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

    def step(self) -> list[ev.Event]:
        """Generate the next step; return the events now due (``ts_ns`` before the next step)."""
        k = self.step_index
        t = self.step_ts(k)
        b = self._block
        if b is None or k >= b.end:
            b = self._block = self._generate(k, max(1, min(BLOCK_STEPS, self.steps - k)))
        s = k - b.start
        fair = b.fair[s]
        self._fair = fair
        self.regime = b.regime[s]
        self._latent.append((t, fair))
        n_venues = len(self.scenario.venues)
        for v, spec in enumerate(self.scenario.venues):
            ts = t + spec.feed_latency_ms * NS_PER_MS
            if not b.up[s][v]:
                if b.reset[s][v]:
                    self._push(ts, _PRIO_MARKET, ev.BookReset(ts_ns=ts, venue=v, reason="venue_outage"))
                continue
            self._book_event(b, s * n_venues + v, v, ts, b.snapshot[s][v])
            if t >= self._next_publish_ns[v]:
                while self._next_publish_ns[v] <= t:
                    self._next_publish_ns[v] += spec.funding.publish_ms * NS_PER_MS
                self._publish(k, t, ts, v, spec, b.mid[s][v], fair)
        while self.next_timer_ns < t + self.dt_ns:
            self._push(self.next_timer_ns, _PRIO_TIMER, ev.Timer(ts_ns=self.next_timer_ns))
            self.next_timer_ns += self.timer_ns
        self.step_index = k + 1
        return self._release(t + self.dt_ns)

    def drain(self) -> list[ev.Event]:
        """Events still held back by feed latency after the last step."""
        return self._release(None)

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
        # Events are made from Python lists: one conversion per block, not per level.
        for name in ("up", "reset", "snapshot", "fair", "regime", "mid", "bid_off", "bid_px", "bid_sz", "ask_off",
                     "ask_px", "ask_sz", "trade_off", "trade_px", "trade_sz", "trade_side"):
            setattr(b, name, getattr(b, name).tolist())
        return b

    # --- events ---------------------------------------------------------------------------------

    def _book_event(self, b: _Block, row: int, v: int, ts: int, snapshot: bool) -> None:
        """The venue's book message and trades of one step (``row`` of the block)."""
        b0, b1, a0, a1 = b.bid_off[row], b.bid_off[row + 1], b.ask_off[row], b.ask_off[row + 1]
        prev_seq = self._venue_seq[v]
        seq = self._venue_seq[v] = prev_seq + 1
        bid_px, bid_sz, ask_px, ask_sz = b.bid_px[b0:b1], b.bid_sz[b0:b1], b.ask_px[a0:a1], b.ask_sz[a0:a1]
        if snapshot:
            self._push(ts, _PRIO_MARKET, ev.BookSnapshot(ts_ns=ts, venue=v, venue_seq=seq, bid_px=bid_px, bid_sz=bid_sz,
                                                         ask_px=ask_px, ask_sz=ask_sz))
        else:
            self._push(ts, _PRIO_MARKET, ev.BookDelta(ts_ns=ts, venue=v, venue_seq=seq, prev_venue_seq=prev_seq,
                                                      bid_px=bid_px, bid_sz=bid_sz, ask_px=ask_px, ask_sz=ask_sz))
        t0, t1 = b.trade_off[row], b.trade_off[row + 1]
        for price, size, side in zip(b.trade_px[t0:t1], b.trade_sz[t0:t1], b.trade_side[t0:t1]):
            self._trade_no += 1
            self._push(ts, _PRIO_MARKET, ev.Trade(ts_ns=ts, venue=v, price=price, size=size, side=side,
                                                  trade_id=f"sim-{self._trade_no}"))

    def _publish(self, k: int, t: int, ts: int, v: int, spec: VenueSpec, mid: float, fair: float) -> None:
        f = spec.funding
        rate = f.rate + f.drift_per_step * k
        for s in self._active(FundingDrift, k, v):
            rate += s.per_step * (k - s.start_step + 1)
        for s in self._active(FundingFlip, k, v):
            rate *= s.mult
        interval_ns = f.interval_ms * NS_PER_MS
        next_funding = T0_NS + ((t - T0_NS) // interval_ns + 1) * interval_ns
        tick = self.ticks[v]
        self._push(ts, _PRIO_MARKET, ev.FundingRate(ts_ns=ts, venue=v, rate=rate, interval_ms=f.interval_ms,
                                                     next_funding_ts_ns=next_funding))
        self._push(ts, _PRIO_MARKET, ev.MarkPrice(ts_ns=ts, venue=v, mark_price=round(mid / tick),
                                                   index_price=round(fair / tick)))

    def _active(self, kind: type, k: int, v: int) -> list:
        return [s for s in self.scenario.shocks
                if isinstance(s, kind) and s.start_step <= k < s.end_step and (s.venue is None or s.venue == v)]

    # --- ordering -------------------------------------------------------------------------------

    def _push(self, ts: int, prio: int, event: ev.Event) -> None:
        self._counter += 1
        heapq.heappush(self._pending, (ts, prio, self._counter, event))

    def _release(self, before_ns: int | None) -> list[ev.Event]:
        out = []
        pending = self._pending
        while pending and (before_ns is None or pending[0][0] < before_ns):
            out.append(heapq.heappop(pending)[3])
        return out

