"""The reducer: events in, state changed, policies consulted through the shield, actions out.

``Engine.apply_columns`` is the one way events enter. Market events are folded by the compiled
book kernel in runs; the kernel stops at every other event, which is applied here:
timers run the loops, the rest go through their mutator (:mod:`paraphina.mutators`).
``Engine.step(event)`` is the same path for one event.

Loops (STRATEGY.md section 5, decision 1), all in event time:

* main loop every ``main_loop_interval_ms``: model update (fair value, PnL), risk (regime,
  kill) on every main tick, then quotes through the shield and order management, then exits
  after fills (at most once per ``fill_agg_interval_ms``), then the hedge when due;
* hedge loop every ``hedge_loop_interval_ms`` (checked on main ticks).

Kill behaviour (4.14): on the tick the kill switch latches, cancel all on every venue and emit
the kill-switch action; afterwards nothing is placed again.

Time comes only from event ``ts_ns`` (the largest seen so far); nothing here reads a clock,
draws a random number or iterates an unordered container.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np

from paraphina import events as ev
from paraphina.actions import Action, CancelAll, KillVenue, PlaceOrder, SetKillSwitch
from paraphina.book import F_VAR_LONG, F_VAR_SHORT, I_LAST_BOOK_TS, I_LAST_MID_TS, STATUS_GAP
from paraphina.columns import K_TIMER, EventColumns, decode_payload, from_events
from paraphina.config import Config, adapt_to_instruments, config_hash
from paraphina.context import TickContext, VenueView
from paraphina.events import Instrument
from paraphina.intents import OrderIntent
from paraphina.mutators import MUTATORS, Units
from paraphina.orders import manage_venue_quotes
from paraphina.host import PolicyHost
from paraphina.shield import Shield
from paraphina.state import MAX_GAP_REPORTS, EngineState, GapReport
from paraphina.strategy.common import (
    C_AVG_ENTRY,
    C_BEST_ASK,
    C_BEST_BID,
    C_DEPTH,
    C_FUND_MS,
    C_FUNDING_8H,
    C_HAS_FUND_MS,
    C_HAS_MID,
    C_HAS_MID_MS,
    C_HAS_NEXT_FUND,
    C_MARGIN,
    C_MID,
    C_MID_MS,
    C_NEXT_FUND_MS,
    C_POSITION,
    C_PRICE_LIQ,
    C_SPREAD,
    C_VOL_SHORT,
    N_FLOAT_COLUMNS,
    N_INT_COLUMNS,
    BookLevels,
    VenueInput,
    VenueInputs,
    venue_columns,
)
from paraphina.strategy.model import main_tick, record_fill, venue_input_from_config
from paraphina.strategy.tick import TickModel
from paraphina.tick_inputs import fill_venue_columns

NS_PER_MS = 1_000_000
PURPOSE_CODE = {"mm": "m", "exit": "x", "hedge": "h"}


class Engine:
    def __init__(self, config: Config, instruments: Sequence[Instrument], policy: PolicyHost | object, *,
                 observers: Sequence[object] = (), state: EngineState | None = None) -> None:
        """``policy`` is a :class:`PolicyHost` or a plugin object (``paraphina.policies.load_policy``
        resolves names)."""
        if not instruments:
            raise ValueError("the engine needs at least one instrument")
        config = adapt_to_instruments(config, instruments)  # e.g. one venue: no hedging
        self.config = config
        self.config_hash = config_hash(config)
        self.instruments = list(instruments)
        self.venue_configs = [config.venue(i.venue) for i in self.instruments]
        ticks = [i.tick for i in self.instruments]
        lots = [i.lot for i in self.instruments]
        self.units = Units(ticks, lots)
        self._lots_array = np.asarray(lots, np.float64)  # for the level kernel, once
        self.host: PolicyHost = policy if isinstance(policy, PolicyHost) else PolicyHost(policy, observers)
        self.state = state or EngineState.new(len(self.instruments), config.book.capacity_levels, ticks)
        if self.state.books.n_venues != len(self.instruments):
            raise ValueError("state and instruments disagree on the number of venues")
        self.shield = Shield(config, self.venue_configs, ticks, lots)
        loops = config.loops
        self._main_ns = loops.main_loop_interval_ms * NS_PER_MS
        self._hedge_ns = loops.hedge_loop_interval_ms * NS_PER_MS
        self._fill_agg_ns = loops.fill_agg_interval_ms * NS_PER_MS
        self._clock = _np_clock(self.state.core.now_ns)
        self._alpha_s = config.volatility.fv_vol_alpha_short
        self._alpha_l = config.volatility.fv_vol_alpha_long
        self._depth = config.book.depth_levels
        self.tick_model: TickModel | None = None
        self.venue_inputs: Sequence[VenueInput] = VenueInputs()
        # The constant part of each venue's strategy input (config and instrument units).
        self._venue_templates = [
            venue_input_from_config(vc, venue=v, tick_size=t, lot_size=l, size_step=l)
            for v, (vc, t, l) in enumerate(zip(self.venue_configs, ticks, lots))
        ]
        # venue_columns() of the templates: the constant columns every tick starts from.
        self._template_columns = venue_columns(self._venue_templates)
        self._tick_rows: tuple[np.ndarray, np.ndarray] | None = None

    # --- input ------------------------------------------------------------------------------

    # The kinds of event whose step can return actions: the main loop's Timer (_on_timer) and an
    # operator's kill (_on_event). Every other kind only folds into state, so a caller may hand
    # a run of them and the acting event after them to ``apply_columns`` at once and get the
    # same actions (the simulator does: paraphina.sim.runner).
    ACTING_KINDS = frozenset({ev.Timer.KIND, ev.OperatorKill.KIND})

    def step(self, event: ev.Event) -> list[Action]:
        """Apply one event (numbered ``state.core.next_seq``); returns the actions it caused."""
        return self.apply_columns(from_events([event], self.state.core.next_seq))

    def apply_columns(self, cols: EventColumns) -> list[Action]:
        """Apply a run of consecutive events; returns the actions they caused, in order."""
        n = len(cols)
        if n == 0:
            return []
        core = self.state.core
        if int(cols.seq[0]) != core.next_seq:
            raise ValueError(f"expected seq {core.next_seq}, got {int(cols.seq[0])}")
        b = self.state.books
        clock = self._clock
        out: list[Action] = []
        kind = cols.kind
        i = 0
        while i < n:
            j, status = b.fold(cols, i, n, self._alpha_s, self._alpha_l, clock)
            core.now_ns = int(clock[0])
            if status == STATUS_GAP:
                g = j - 1
                core.gaps_total += 1
                if len(core.gap_reports) < MAX_GAP_REPORTS:
                    core.gap_reports.append(GapReport(seq=int(cols.seq[g]), venue=int(cols.venue[g]), ts_ns=int(cols.ts_ns[g])))
                i = j
                continue
            if j >= n:
                break
            seq = int(cols.seq[j])
            ts = int(cols.ts_ns[j])
            if ts > core.now_ns:
                core.now_ns = ts
                clock[0] = ts
            if kind[j] == K_TIMER:
                out.extend(self._on_timer(seq))
            else:
                out.extend(self._on_event(decode_payload(cols.payload[j], seq), seq))
            i = j + 1
        core.next_seq = int(cols.seq[n - 1]) + 1
        return out

    def _on_event(self, e: ev.Event, seq: int) -> list[Action]:
        core = self.state.core
        MUTATORS[type(e)](core, e, self.units, seq)
        if isinstance(e, ev.Fill):
            top = self.state.books.tops()[e.venue]
            tick = self.units.ticks[e.venue]
            record_fill(core.model, self.config, venue=e.venue, side=e.side, price=e.price * tick,
                        size=e.size * self.units.lots[e.venue], t_fill_ms=e.ts_ns // NS_PER_MS,
                        mid=0.5 * (top[0] + top[2]) * tick if top else None,
                        fair_value=core.fair_value if core.fv_available else None)
        elif isinstance(e, (ev.GapDetected, ev.BookReset)):
            self._invalidate_book(e.venue)
        elif isinstance(e, ev.OperatorKill):
            return self._kill_transition(seq)
        elif isinstance(e, ev.PolicyFault) and e.policy == self.host.name:
            core.policy_fault_seq = seq
        return []

    def _invalidate_book(self, v: int) -> None:
        self.state.books.invalidate(v)

    # --- loops ------------------------------------------------------------------------------

    def _on_timer(self, seq: int) -> list[Action]:
        core = self.state.core
        now = core.now_ns
        if core.next_main_ns < 0:
            core.next_main_ns = now
            core.next_hedge_ns = now
        if now < core.next_main_ns:
            return []
        core.next_main_ns = now + self._main_ns
        return self._main_tick(seq, now)

    def _main_tick(self, seq: int, now: int) -> list[Action]:
        core = self.state.core
        core.tick_index += 1
        tops = self.state.books.tops()
        self._update_model(now, tops)
        host = self.host
        hook = host.hook
        if core.kill_switch:
            actions = self._kill_transition(seq)
            if self.host.observes_ticks:
                # Telemetry goes on after a kill: the kill tick is the one research most wants.
                hook.paraphina_on_tick(ctx=self._context(seq, now, tops), telemetry=self.telemetry())
            return actions
        ctx = self._context(seq, now, tops)
        core.last_main_seq = seq
        actions: list[Action] = []
        exit_orders: list[PlaceOrder] = []
        if core.risk_regime != "HardLimit":
            actions.extend(self._manage_quotes(host.quotes(ctx) or [], seq, now, tops))
            if core.fills_pending and (core.last_fill_flush_ns < 0 or now - core.last_fill_flush_ns >= self._fill_agg_ns):
                core.fills_pending = False
                core.last_fill_flush_ns = now
                exit_orders = self._place_ioc(host.exits(ctx) or [], seq, tops)
                actions.extend(exit_orders)
        else:
            actions.extend(self._manage_quotes([], seq, now, tops))
        if now >= core.next_hedge_ns:
            core.next_hedge_ns = now + self._hedge_ns
            # Decision 4: the hedge sees the position net of this tick's exit orders, as if they
            # filled, so exits and hedge never sell the same inventory twice.
            hctx = self._net_of_orders(ctx, exit_orders, seq, now, tops) if exit_orders else ctx
            actions.extend(self._place_ioc(host.hedges(hctx) or [], seq, tops))
        if self.host.observes_ticks:
            hook.paraphina_on_tick(ctx=ctx, telemetry=self.telemetry())
        if actions and self.host.observes_actions:
            hook.paraphina_on_actions(ctx=ctx, actions=actions)
        return actions

    def _net_of_orders(self, ctx: TickContext, orders: list[PlaceOrder], seq: int, now: int, tops: list) -> TickContext:
        """``ctx`` with every venue's position (and the global one) as if ``orders`` had filled."""
        moved = [0.0] * len(self.instruments)
        for o in orders:
            moved[o.venue] += o.side * o.size * self.units.lots[o.venue]
        tick = self.tick_model
        inputs = [msgspec.structs.replace(vi, position=vi.position + d) if d else vi
                  for vi, d in zip(self.venue_inputs, moved)]
        q = tick.q + sum(moved) if tick is not None else 0.0
        model = (msgspec.structs.replace(tick, q=q, delta_usd=q * tick.fair_value)
                 if tick is not None and tick.fair_value is not None else tick)
        hctx = self._context(seq, now, tops)
        hctx.model, hctx.venue_inputs, hctx.position = model, inputs, hctx.position + sum(moved)
        return hctx

    def _kill_transition(self, seq: int) -> list[Action]:
        """Spec 4.14: cancel everything, optionally one best-effort flatten, then the kill event
        with the state that caused it."""
        core = self.state.core
        if core.kill_handled:
            return []
        core.kill_handled = True
        core.risk_regime = "HardLimit"
        out: list[Action] = [CancelAll(seq=seq, venue=v) for v in range(len(self.instruments))]
        for acct in core.venues:
            acct.open_orders.clear()
            acct.mm_bid = None
            acct.mm_ask = None
        tops = self.state.books.tops()
        if self.config.risk.kill_best_effort_flatten:
            out.extend(self._kill_flatten(seq, tops))
        out.append(self._kill_report(seq))
        return out

    def _kill_report(self, seq: int) -> SetKillSwitch:
        core = self.state.core
        mems = core.model.venues
        venues = []
        for v, acct in enumerate(core.venues):
            dist = core.dist_liq[v] if v < len(core.dist_liq) else math.inf
            venues.append(KillVenue(venue=v, position=acct.position, dist_liq=dist if math.isfinite(dist) else None,
                                    status=mems[v].status if v < len(mems) else ""))
        return SetKillSwitch(
            seq=seq, venue=-1, active=True, reason=core.kill_reason, tick=core.tick_index, regime=core.risk_regime,
            delta_usd=core.delta_usd, basis_usd=core.basis_usd, pnl_usd=core.daily_total, venues=venues,
            config_id=self.config_hash,
        )

    def _kill_flatten(self, seq: int, tops: list) -> list[Action]:
        """One IOC closing the position of the venue most at risk (smallest liquidation distance,
        then largest position, then lowest index) among venues with a book, at the mid plus or
        minus half the spread (the touch); the only order ever placed once killed."""
        core = self.state.core
        best = None
        for v, acct in enumerate(core.venues):
            top = tops[v]
            if acct.position == 0 or top is None:
                continue
            dist = core.dist_liq[v] if v < len(core.dist_liq) else math.inf
            key = (dist, -abs(acct.position * self.units.lots[v]), v)
            if best is None or key < best[0]:
                best = (key, v, acct.position, top)
        if best is None:
            return []
        _, v, pos, top = best
        side = -1 if pos > 0 else 1
        price = top[0] if side < 0 else top[2]     # mid -/+ half the spread: the touch
        order = PlaceOrder(seq=seq, venue=v, client_order_id=f"k{v}-{core.tick_index}", side=side, price=price,
                           size=abs(pos), purpose="exit", time_in_force="IOC", post_only=False, reduce_only=True)
        return [order]

    # --- model and risk (core, never a policy) ------------------------------------------------

    def _update_model(self, now: int, tops: list) -> None:
        """Fair value, volatility, inventory, PnL, toxicity and risk for this tick (the core's
        model, :func:`paraphina.strategy.model.main_tick`); latches the kill switch."""
        core = self.state.core
        self.venue_inputs = inputs = self._venue_inputs(tops)
        realised = sum(a.realised for a in core.venues)
        tick = main_tick(core.model, self.config, now // NS_PER_MS, inputs, realised)
        self.tick_model = tick
        core.fv_available = tick.fv_available
        if tick.fair_value is not None:
            core.fair_value = tick.fair_value
        core.daily_realised = tick.realised_daily
        core.daily_unrealised = tick.unrealised_daily
        core.daily_total = tick.pnl_daily
        core.delta_usd, core.basis_usd, core.dist_liq = tick.delta_usd, tick.basis_usd, list(tick.dist_liq)
        if tick.kill_switch and not core.kill_switch:
            core.kill_switch = True
            core.kill_reason = tick.kill_reason or "Kill"
        core.risk_regime = "HardLimit" if core.kill_switch else tick.regime

    def _venue_inputs(self, tops: list) -> VenueInputs:
        """This tick's :class:`VenueInput` per venue. The kernels read only their
        :func:`venue_columns`, filled in by one compiled call (:func:`fill_venue_columns`) from
        the constant columns of each venue, the book and the accounts; each struct is built
        from those columns when something first reads it (most ticks, nothing does)."""
        core = self.state.core
        b = self.state.books
        n = len(tops)
        af: list = []
        ai: list = []
        for a in core.venues:   # flat lists: numpy reads them faster than rows of tuples
            af += (a.margin_available, a.funding_rate, a.avg_entry)
            ai += (a.position, a.liquidation_price, a.funding_interval_ms, a.funding_received_ns, a.next_funding_ns)
        levels, counts = b.float_levels(self._depth, self._lots_array)
        book_f, book_i = b.floats.copy(), b.ints.copy()   # as of this tick (views read them later)
        self._tick_rows = (book_i, book_f)
        f = np.empty((n, N_FLOAT_COLUMNS), np.float64)
        ints = np.empty((n, N_INT_COLUMNS), np.int64)
        vol_long = np.empty(n, np.float64)
        tmpl_f, tmpl_i = self._template_columns
        # b.tops_rows: the rows behind ``tops`` (the main tick read them just before)
        fill_venue_columns(tmpl_f, tmpl_i, b.tops_rows, levels, book_f, book_i, np.array(af, np.float64).reshape(n, 3),
                           np.array(ai, np.int64).reshape(n, 5), f, ints, vol_long)
        templates = self._venue_templates

        def make(v: int) -> VenueInput:
            fr, ir = f[v].tolist(), ints[v].tolist()
            if ir[C_HAS_MID]:
                (nb, na), side = counts[v].tolist(), levels[v, :, 1, 0].tolist()
                book = dict(mid=fr[C_MID], spread=fr[C_SPREAD], best_bid=fr[C_BEST_BID], best_ask=fr[C_BEST_ASK],
                            bid_size=side[0], ask_size=side[1], bids=BookLevels(levels, v, 0, nb),
                            asks=BookLevels(levels, v, 1, na), depth_usd=fr[C_DEPTH])
            else:
                book = {}
            return msgspec.structs.replace(
                templates[v], last_mid_update_ms=ir[C_MID_MS] if ir[C_HAS_MID_MS] else None,
                local_vol_short=fr[C_VOL_SHORT], local_vol_long=float(vol_long[v]), position=fr[C_POSITION],
                avg_entry=fr[C_AVG_ENTRY], funding_8h=fr[C_FUNDING_8H],
                funding_received_ms=ir[C_FUND_MS] if ir[C_HAS_FUND_MS] else None,
                next_funding_ms=ir[C_NEXT_FUND_MS] if ir[C_HAS_NEXT_FUND] else None,
                price_liq=None if math.isnan(fr[C_PRICE_LIQ]) else fr[C_PRICE_LIQ],
                margin_available_usd=fr[C_MARGIN], **book,
            )

        return VenueInputs(make=make, n=n, columns=(f, ints))

    # --- policy outputs through the shield ------------------------------------------------

    def _next_id(self, order: PlaceOrder) -> str:
        core = self.state.core
        core.order_counter += 1
        return f"{PURPOSE_CODE.get(order.purpose, 'o')}{order.venue}-{core.order_counter}"

    def _manage_quotes(self, intents: list[OrderIntent], seq: int, now: int, tops: list) -> list[Action]:
        core = self.state.core
        n = len(self.instruments)
        want: list[list[PlaceOrder | None]] = [[None, None] for _ in range(n)]
        for it in intents:
            if it.purpose != "mm" or it.time_in_force != "GTC":
                self.shield._count("not_a_quote")
                continue
            order = self.shield.check(it, core, tops, seq, "")
            if order is None:
                continue
            slot = 0 if order.side > 0 else 1
            if want[order.venue][slot] is None:
                want[order.venue][slot] = order
            else:
                self.shield._count("duplicate_quote")
        out: list[Action] = []
        for v in range(n):
            acct = core.venues[v]
            if want[v][0] is None and want[v][1] is None and acct.mm_bid is None and acct.mm_ask is None:
                continue
            out.extend(manage_venue_quotes(v, acct, want[v][0], want[v][1], tops[v], now, seq,
                                           self.config.orders, self._next_id))
        return out

    def _place_ioc(self, intents: list[OrderIntent], seq: int, tops: list) -> list[Action]:
        out: list[Action] = []
        core = self.state.core
        for it in intents:
            if it.time_in_force != "IOC":
                self.shield._count("not_ioc")
                continue
            order = self.shield.check(it, core, tops, seq, "")
            if order is not None:
                out.append(PlaceOrder(
                    seq=order.seq, venue=order.venue, client_order_id=self._next_id(order), side=order.side,
                    price=order.price, size=order.size, purpose=order.purpose, time_in_force="IOC",
                    post_only=False, reduce_only=order.reduce_only,
                ))
        return out

    # --- views ------------------------------------------------------------------------------

    def position_base(self) -> float:
        return sum(a.position * self.units.lots[v] for v, a in enumerate(self.state.core.venues))

    def _context(self, seq: int, now: int, tops: list) -> TickContext:
        core = self.state.core
        return TickContext(
            now_ns=now, seq=seq, tick_index=core.tick_index, config=self.config, instruments=self.instruments,
            venues=lambda rows=self._tick_rows: self._venue_views(tops, rows), fair_value=core.fair_value if core.fv_available else None,
            fv_available=core.fv_available, position=self.position_base(), risk_regime=core.risk_regime, state=core,
            books=self.state.books, memory=core.memory, model=self.tick_model, venue_inputs=self.venue_inputs,
            policy_fault=core.policy_fault_seq > core.last_main_seq,
        )

    def _venue_views(self, tops: list, rows: tuple[np.ndarray, np.ndarray] | None = None) -> list[VenueView]:
        """``rows``: the book's integer and float rows as :meth:`_venue_inputs` read them on
        this tick (read afresh when None)."""
        core = self.state.core
        b = self.state.books
        book_i, book_f = rows if rows is not None else (b.ints, b.floats)
        ints = book_i.tolist()
        vols = [(math.sqrt(r[F_VAR_SHORT]), math.sqrt(r[F_VAR_LONG])) for r in book_f.tolist()]
        views = []
        for v, ins in enumerate(self.instruments):
            tick, lot = self.units.ticks[v], self.units.lots[v]
            acct = core.venues[v]
            top = tops[v]
            valid = top is not None
            vs, vl = vols[v]
            bid_o = acct.open_orders.get(acct.mm_bid) if acct.mm_bid else None
            ask_o = acct.open_orders.get(acct.mm_ask) if acct.mm_ask else None
            views.append(VenueView(
                index=v, name=ins.venue, tick=tick, lot=lot, config=self.venue_configs[v], book_valid=valid,
                best_bid=top[0] * tick if top else None, best_ask=top[2] * tick if top else None,
                bid_size=top[1] * lot if top else 0.0, ask_size=top[3] * lot if top else 0.0,
                mid=0.5 * (top[0] + top[2]) * tick if top else None,
                spread=(top[2] - top[0]) * tick if top else None,
                last_book_ns=ints[v][I_LAST_BOOK_TS], last_mid_ns=ints[v][I_LAST_MID_TS],
                local_vol_short=vs, local_vol_long=vl, position=acct.position * lot, avg_entry=acct.avg_entry,
                margin_available=acct.margin_available,
                liquidation_price=acct.liquidation_price * tick if acct.liquidation_price >= 0 else None,
                funding_rate=acct.funding_rate,
                mm_bid_price=bid_o.price * tick if bid_o else None, mm_ask_price=ask_o.price * tick if ask_o else None,
            ))
        return views

    def telemetry(self) -> dict:
        """The research contract's per-tick telemetry (schema_version 1)."""
        core = self.state.core
        t = self.tick_model
        return {
            "schema_version": 1, "t": core.tick_index, "pnl_realised": core.daily_realised,
            "pnl_unrealised": core.daily_unrealised, "pnl_total": core.daily_total,
            "risk_regime": core.risk_regime, "kill_switch": core.kill_switch,
            "kill_reason": core.kill_reason or None, "q_global_tao": self.position_base(),
            "dollar_delta_usd": t.delta_usd if t else 0.0, "basis_usd": t.basis_usd if t else 0.0,
            "fv_available": core.fv_available, "fair_value": core.fair_value if core.fv_available else None,
            "fv_reseeded": t.reseeded if t else False,
            "sigma_eff": t.vol.sigma_eff if t else None,
            "healthy_venues_used_count": len(t.venues_used) if t else 0,
            "healthy_venues_used": list(t.venues_used) if t else [],
        }

    def summary(self) -> dict:
        core = self.state.core
        return {
            "events": core.next_seq, "realised": core.daily_realised, "unrealised": core.daily_unrealised,
            "total": core.daily_total, "kill_switch": core.kill_switch, "kill_reason": core.kill_reason,
            "risk_regime": core.risk_regime, "gaps": core.gaps_total, "ticks": core.tick_index,
            "position": self.position_base(), "shield": dict(sorted(self.shield.counters.items())),
        }


def _np_clock(now: int) -> np.ndarray:
    return np.array([now], dtype=np.int64)


