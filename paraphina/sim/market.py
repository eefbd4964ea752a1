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
order; events leave in ``(ts_ns, market before timer, creation order)`` order. Scalar price
arithmetic uses ``math`` so the generated integers do not depend on numpy's SIMD paths.
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


class _VenueBook:
    """The generator's own book for one venue: price (ticks) -> size (lots), and each level's
    persistent random size factor."""

    __slots__ = ("bids", "asks", "factor", "venue_seq", "best_bid", "best_ask", "down", "next_publish_ns")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.factor: dict[int, float] = {}  # keyed by signed price: +p bid level, -p ask level
        self.venue_seq = 0
        self.best_bid = 0
        self.best_ask = 0
        self.down = False          # feed stopped (outage or stale); a snapshot ends it
        self.next_publish_ns = T0_NS


class MarketGenerator:
    """Generates one run of a scenario. Iterate :meth:`events`, or call :meth:`step` per step.

    ``steps`` overrides the scenario's horizon; ``timer_ms`` is the clock interval.
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
        self.log_fair = math.log(m.initial_price)
        self.regime = m.vol_markov.initial if m.vol_markov is not None else 0
        self.books = [_VenueBook() for _ in scenario.venues]
        self.step_index = 0
        self.next_timer_ns = T0_NS
        self._pending: list[tuple[int, int, int, ev.Event]] = []
        self._counter = 0
        self._trade_no = 0
        # (step time, latent fair) of the last steps: the truth a run can be measured against.
        self._latent: deque[tuple[int, float]] = deque(maxlen=_LATENT_MEMORY)

    # --- public -------------------------------------------------------------------------------

    @property
    def fair(self) -> float:
        return math.exp(self.log_fair)

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
        if k > 0:
            self._move_fair(k)
        fair = self.fair
        self._latent.append((t, fair))
        for v, spec in enumerate(self.scenario.venues):
            self._venue_step(k, t, v, spec, fair)
        while self.next_timer_ns < t + self.dt_ns:
            self._push(self.next_timer_ns, _PRIO_TIMER, ev.Timer(ts_ns=self.next_timer_ns))
            self.next_timer_ns += self.timer_ns
        self.step_index = k + 1
        return self._release(t + self.dt_ns)

    def drain(self) -> list[ev.Event]:
        """Events still held back by feed latency after the last step."""
        return self._release(None)

    # --- shocks -------------------------------------------------------------------------------

    def _active(self, kind: type, k: int, v: int | None) -> list:
        return [s for s in self.scenario.shocks
                if isinstance(s, kind) and s.start_step <= k < s.end_step and (s.venue is None or s.venue == v)]

    def _vol_daily(self, k: int) -> float:
        m = self.scenario.market
        if m.vol_markov is not None:
            return m.vol_markov.vol_daily[self.regime]
        vol = m.vol_daily
        for r in m.vol_schedule:
            if r.start_step <= k:
                vol = r.vol_daily
        return vol

    # --- the fair value -------------------------------------------------------------------------

    def _move_fair(self, k: int) -> None:
        m = self.scenario.market
        rng = self.rng
        if m.vol_markov is not None:
            row = m.vol_markov.switch_prob[self.regime]
            u = float(rng.random())
            acc = 0.0
            for j, p in enumerate(row):
                acc += p
                if u < acc:
                    self.regime = j
                    break
        dt_day = self.dt_ms / MS_PER_DAY
        sigma = self._vol_daily(k) * math.sqrt(dt_day)
        for s in self._active(VolSpike, k, None):
            sigma *= s.mult
        z = float(rng.standard_normal())
        self.log_fair += (m.drift_daily * dt_day - 0.5 * sigma * sigma) + sigma * z
        if m.process == "jump_diffusion":
            n = int(rng.poisson(m.jumps_per_hour * self.dt_ms / MS_PER_HOUR))
            for _ in range(n):
                self.log_fair += m.jump_mean + m.jump_std * float(rng.standard_normal())

    # --- venues -------------------------------------------------------------------------------

    def _venue_step(self, k: int, t: int, v: int, spec: VenueSpec, fair: float) -> None:
        book = self.books[v]
        ts = t + spec.feed_latency_ms * NS_PER_MS
        outages = self._active(VenueOutage, k, v)
        if outages:
            if not book.down:
                book.down = True
                if any(o.mode == "outage" for o in outages):
                    self._push(ts, _PRIO_MARKET, ev.BookReset(ts_ns=ts, venue=v, reason="venue_outage"))
            return
        basis_bps = spec.basis_bps + spec.basis_drift_bps_per_step * k
        for s in self._active(BasisSpike, k, v):
            basis_bps += s.add_bps
        spread_mult = 1.0
        depth_mult = 1.0
        for s in self._active(LiquidityDrain, k, v):
            spread_mult *= s.spread_mult
            depth_mult *= s.depth_mult
        mid = fair * (1.0 + basis_bps / 1e4)
        snapshot = k == 0 or book.down
        book.down = False
        self._quote(book, v, spec, mid, spread_mult, depth_mult, ts, snapshot)
        self._trades(book, v, spec, ts)
        if t >= book.next_publish_ns:
            while book.next_publish_ns <= t:
                book.next_publish_ns += spec.funding.publish_ms * NS_PER_MS
            self._publish(k, t, ts, v, spec, mid, fair)

    def _quote(self, book: _VenueBook, v: int, spec: VenueSpec, mid: float, spread_mult: float,
               depth_mult: float, ts: int, snapshot: bool) -> None:
        tick, lot = self.ticks[v], self.lots[v]
        half = mid * spec.spread_bps * spread_mult / 2e4
        best_bid = math.floor((mid - half) / tick)
        best_ask = math.ceil((mid + half) / tick)
        if best_ask <= best_bid:
            best_ask = best_bid + 1
        spacing = max(1, round(mid * spec.level_spacing_bps / 1e4 / tick))
        n = spec.depth_levels
        keys = [best_bid - i * spacing for i in range(n)] + [-(best_ask + i * spacing) for i in range(n)]
        refresh = self.rng.random(2 * n)
        fresh = self.rng.uniform(0.5, 1.5, 2 * n)
        factor: dict[int, float] = {}
        for i, key in enumerate(keys):
            old = book.factor.get(key)
            factor[key] = float(fresh[i]) if snapshot or old is None or refresh[i] < spec.size_refresh_prob else old
        book.factor = factor
        new_bids: dict[int, int] = {}
        new_asks: dict[int, int] = {}
        for key, f in factor.items():
            size = max(1, round(spec.level_size * f * depth_mult / lot))
            if key > 0:
                new_bids[key] = size
            else:
                new_asks[-key] = size
        book.best_bid, book.best_ask = best_bid, best_ask
        prev_seq = book.venue_seq
        book.venue_seq += 1
        if snapshot:
            book.bids, book.asks = new_bids, new_asks
            self._push(ts, _PRIO_MARKET, ev.BookSnapshot(
                ts_ns=ts, venue=v, venue_seq=book.venue_seq, bid_px=list(new_bids), bid_sz=list(new_bids.values()),
                ask_px=list(new_asks), ask_sz=list(new_asks.values())))
            return
        bid_px, bid_sz = _diff(book.bids, new_bids)
        ask_px, ask_sz = _diff(book.asks, new_asks)
        book.bids, book.asks = new_bids, new_asks
        self._push(ts, _PRIO_MARKET, ev.BookDelta(
            ts_ns=ts, venue=v, venue_seq=book.venue_seq, prev_venue_seq=prev_seq,
            bid_px=bid_px, bid_sz=bid_sz, ask_px=ask_px, ask_sz=ask_sz))

    def _trades(self, book: _VenueBook, v: int, spec: VenueSpec, ts: int) -> None:
        rng = self.rng
        n = int(rng.poisson(spec.trades_per_step))
        if n == 0:
            return
        sides = rng.random(n)
        sizes = rng.exponential(spec.trade_size, n)
        lot = self.lots[v]
        for i in range(n):
            side = ev.BUY if sides[i] < 0.5 else ev.SELL
            price = book.best_ask if side == ev.BUY else book.best_bid
            self._trade_no += 1
            self._push(ts, _PRIO_MARKET, ev.Trade(
                ts_ns=ts, venue=v, price=price, size=max(1, round(float(sizes[i]) / lot)), side=side,
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


def _diff(old: dict[int, int], new: dict[int, int]) -> tuple[list[int], list[int]]:
    """Level changes from ``old`` to ``new``: removed levels with size 0, then new or resized ones."""
    px: list[int] = []
    sz: list[int] = []
    for p in old:
        if p not in new:
            px.append(p)
            sz.append(0)
    for p, s in new.items():
        if old.get(p) != s:
            px.append(p)
            sz.append(s)
    return px, sz
