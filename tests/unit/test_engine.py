"""Engine loops, risk, kill behaviour and the shield's rules, on hand-made events."""

from __future__ import annotations

import pytest

from paraphina import events as ev
from paraphina.actions import CancelAll, CancelOrder, PlaceOrder, SetKillSwitch
from paraphina.config import load_config
from paraphina.engine import Engine
from paraphina.intents import OrderIntent
from paraphina.policies import load_policy
from paraphina.shield import to_lots, to_ticks

MS = 1_000_000


def engine(policy="fixed-spread", venues=2, **over):
    ins = [ev.Instrument(venue=f"v{i}", symbol="X", tick_size="0.1", lot_size="0.01") for i in range(venues)]
    return Engine(load_config(overrides=over), ins, load_policy(policy) if isinstance(policy, str) else policy)


def books(e, t=1, mids=(1000, 1010)):
    for v, m in enumerate(mids):
        e.step(ev.BookSnapshot(ts_ns=t, venue=v, bid_px=[m - 1, m - 2], bid_sz=[500, 500], ask_px=[m + 1, m + 2], ask_sz=[500, 500]))


def test_main_loop_runs_on_the_configured_cadence():
    e = engine(**{"loops.main_loop_interval_ms": 1000})
    books(e)
    ticks = []
    for k in range(9):
        e.step(ev.Timer(ts_ns=10 * MS + k * 250 * MS))
        ticks.append(e.state.core.tick_index)
    assert ticks == [1, 1, 1, 1, 2, 2, 2, 2, 3]


def test_quotes_are_placed_once_and_kept_within_tolerance():
    e = engine()
    books(e)
    first = e.step(ev.Timer(ts_ns=10 * MS))
    assert [type(a) for a in first] == [PlaceOrder] * 4
    assert all(a.post_only and a.time_in_force == "GTC" and not a.reduce_only for a in first)
    again = e.step(ev.Timer(ts_ns=300 * MS))
    assert again == []


def test_loss_at_exactly_the_daily_limit_kills_and_cancels_everything():
    e = engine(**{"risk.daily_loss_limit": 100.0})
    books(e, mids=(1000, 1000))
    e.step(ev.Timer(ts_ns=10 * MS))
    # A fee of exactly 100 makes daily PnL exactly -100 with a flat position.
    e.step(ev.Fill(ts_ns=11 * MS, venue=0, client_order_id="x", side=1, price=1000, size=100, fee=50.0))
    e.step(ev.Fill(ts_ns=11 * MS, venue=0, client_order_id="y", side=-1, price=1000, size=100, fee=50.0))
    out = e.step(ev.Timer(ts_ns=300 * MS))
    assert [type(a) for a in out] == [CancelAll, CancelAll, SetKillSwitch]
    assert out[-1].reason == "PnlHardBreach"
    assert e.state.core.risk_regime == "HardLimit"
    later = [a for k in range(2, 10) for a in e.step(ev.Timer(ts_ns=k * 300 * MS))]
    assert later == []


def test_a_loss_just_short_of_the_limit_is_a_warning_not_a_kill():
    e = engine(**{"risk.daily_loss_limit": 100.0})
    books(e, mids=(1000, 1000))
    e.step(ev.Fill(ts_ns=11 * MS, venue=0, client_order_id="x", side=1, price=1000, size=100, fee=99.99))
    e.step(ev.Fill(ts_ns=11 * MS, venue=0, client_order_id="y", side=-1, price=1000, size=100, fee=0.0))
    e.step(ev.Timer(ts_ns=300 * MS))
    assert not e.state.core.kill_switch and e.state.core.risk_regime == "Warning"


def test_operator_kill_latches_immediately():
    e = engine()
    books(e)
    e.step(ev.Timer(ts_ns=10 * MS))
    out = e.step(ev.OperatorKill(ts_ns=20 * MS, reason="desk"))
    assert isinstance(out[-1], SetKillSwitch) and out[-1].reason == "OperatorKill: desk"
    assert e.step(ev.Timer(ts_ns=400 * MS)) == []


def test_daily_pnl_resets_at_utc_midnight_in_event_time():
    day = 86_400 * 1_000_000_000
    e = engine()
    books(e, t=day - 10 * MS, mids=(1000, 1000))
    e.step(ev.Fill(ts_ns=day - 5 * MS, venue=0, client_order_id="x", side=1, price=1000, size=100, fee=3.0))
    e.step(ev.Timer(ts_ns=day - 1 * MS))
    assert e.state.core.daily_realised == -3.0
    books(e, t=day + 1, mids=(1000, 1000))
    e.step(ev.Timer(ts_ns=day + 300 * MS))
    assert e.state.core.daily_realised == 0.0


def test_a_gap_in_the_log_invalidates_the_venue_and_its_quotes_are_canceled():
    e = engine()
    books(e)
    e.step(ev.Timer(ts_ns=10 * MS))
    e.step(ev.GapDetected(ts_ns=20 * MS, venue=1, expected=5, received=9))
    out = e.step(ev.Timer(ts_ns=300 * MS))
    assert sorted((type(a).__name__, a.venue) for a in out) == [("CancelOrder", 1), ("CancelOrder", 1)]
    assert e.summary()["gaps"] == 1


class Scripted:
    name = "scripted"
    version = "1"

    def __init__(self, intents):
        self.intents = intents

    from paraphina.hookspecs import hookimpl

    @hookimpl
    def paraphina_quotes(self, ctx):
        return self.intents


@pytest.mark.parametrize("price, side, ticks", [(100.3, 1, 1003), (100.35, 1, 1003), (100.35, -1, 1004), (100.3, -1, 1003)])
def test_post_only_prices_round_passive(price, side, ticks):
    assert to_ticks(price, 0.1, up=side < 0) == ticks


def test_lots_round_down_with_float_noise_absorbed():
    assert to_lots(0.3, 0.1) == 3 and to_lots(0.29, 0.1) == 2


def test_shield_moves_crossing_post_only_quotes_inside_the_touch():
    e = engine(Scripted([OrderIntent(venue=0, side=1, price=200.0, size=1.0), OrderIntent(venue=0, side=-1, price=1.0, size=1.0)]))
    books(e)
    out = e.step(ev.Timer(ts_ns=10 * MS))
    bid = next(a for a in out if a.side == 1)
    ask = next(a for a in out if a.side == -1)
    assert bid.price == 1000 and ask.price == 1000 or (bid.price == 1000 and ask.price == 1000)
    assert bid.price < 1001 and ask.price > 999
    assert e.shield.counters["post_only_cross"] == 2


def test_shield_drops_nan_tiny_and_below_min_notional():
    e = engine(Scripted([
        OrderIntent(venue=0, side=1, price=float("nan"), size=1.0),
        OrderIntent(venue=0, side=-1, price=100.5, size=0.001),
        OrderIntent(venue=1, side=1, price=100.5, size=0.05),
    ]))
    books(e)
    assert e.step(ev.Timer(ts_ns=10 * MS)) == []
    assert e.shield.counters == {"bad_number": 1, "zero_size": 1, "min_notional": 1}


def test_reduce_only_only_when_it_really_reduces():
    e = engine(Scripted([]))
    books(e)
    e.step(ev.Fill(ts_ns=2, venue=0, client_order_id="x", side=1, price=1000, size=100))  # long 1.0
    from paraphina.hookspecs import hookimpl

    class Hedger:
        name, version = "h", "1"

        @hookimpl
        def paraphina_hedges(self, ctx):
            return [OrderIntent(venue=0, side=-1, price=99.0, size=0.5, purpose="hedge", time_in_force="IOC", post_only=False),
                    OrderIntent(venue=0, side=-1, price=99.0, size=2.0, purpose="hedge", time_in_force="IOC", post_only=False),
                    OrderIntent(venue=1, side=-1, price=99.0, size=0.5, purpose="hedge", time_in_force="IOC", post_only=False, reduce_only=True)]

    e2 = engine(Hedger())
    books(e2)
    e2.step(ev.Fill(ts_ns=2, venue=0, client_order_id="x", side=1, price=1000, size=100))
    out = e2.step(ev.Timer(ts_ns=10 * MS))
    assert [(a.venue, a.size, a.reduce_only, a.time_in_force) for a in out] == [(0, 50, True, "IOC"), (0, 200, False, "IOC"), (1, 50, False, "IOC")]


def test_order_management_replaces_only_beyond_tolerance():
    intents = [OrderIntent(venue=0, side=1, price=99.0, size=1.0)]
    pol = Scripted(intents)
    e = engine(pol, **{"orders.min_quote_lifetime_ms": 0})
    books(e)
    e.step(ev.Timer(ts_ns=10 * MS))
    pol.intents = [OrderIntent(venue=0, side=1, price=99.1, size=1.1)]  # 1 tick, 10 %: keep
    assert e.step(ev.Timer(ts_ns=300 * MS)) == []
    pol.intents = [OrderIntent(venue=0, side=1, price=99.2, size=1.0)]  # 2 ticks: replace
    out = e.step(ev.Timer(ts_ns=600 * MS))
    assert [type(a) for a in out] == [CancelOrder, PlaceOrder]
    pol.intents = [OrderIntent(venue=0, side=1, price=99.2, size=1.12)]  # 0.12/1.12 = 10.7 % of the desired: replace
    assert [type(a) for a in e.step(ev.Timer(ts_ns=900 * MS))] == [CancelOrder, PlaceOrder]
    pol.intents = []
    assert [type(a) for a in e.step(ev.Timer(ts_ns=1200 * MS))] == [CancelOrder]


def test_young_passive_orders_are_kept():
    pol = Scripted([OrderIntent(venue=0, side=1, price=99.0, size=1.0)])
    e = engine(pol)
    books(e)
    e.step(ev.Timer(ts_ns=10 * MS))
    pol.intents = [OrderIntent(venue=0, side=1, price=98.0, size=1.0)]
    assert e.step(ev.Timer(ts_ns=300 * MS)) == []  # 290 ms old < 500 ms
    assert len(e.step(ev.Timer(ts_ns=600 * MS))) == 2


def test_kill_event_carries_the_spec_report():
    """Spec 4.14 step 3: the kill event says what caused it (tick, regime, delta, basis, PnL, each
    venue's position, liquidation distance and status, config id)."""
    e = engine(**{"risk.daily_loss_limit": 100.0})
    books(e, mids=(1000, 1000))
    e.step(ev.Timer(ts_ns=10 * MS))
    e.step(ev.Fill(ts_ns=11 * MS, venue=0, client_order_id="x", side=1, price=1000, size=200, fee=101.0))  # long 2.0
    out = e.step(ev.Timer(ts_ns=300 * MS))
    kill = out[-1]
    assert isinstance(kill, SetKillSwitch) and kill.reason == "PnlHardBreach"
    assert kill.tick == 2 and kill.regime == "HardLimit" and kill.config_id == e.config_hash
    assert kill.pnl_usd == pytest.approx(-101.0, abs=0.5)
    assert kill.delta_usd == pytest.approx(2.0 * e.state.core.fair_value)
    assert [(k.venue, k.position, k.dist_liq) for k in kill.venues] == [(0, 200, None), (1, 0, None)]
    assert all(k.status == "Healthy" for k in kill.venues)


def test_kill_best_effort_flatten_is_opt_in():
    def killed(**over):
        e = engine(**{"risk.daily_loss_limit": 100.0, **over})
        books(e, mids=(1000, 1000))
        e.step(ev.Fill(ts_ns=11 * MS, venue=1, client_order_id="x", side=1, price=1000, size=200, fee=101.0))
        return e.step(ev.Timer(ts_ns=300 * MS))

    assert [type(a) for a in killed()] == [CancelAll, CancelAll, SetKillSwitch]
    out = killed(**{"risk.kill_best_effort_flatten": True})
    assert [type(a) for a in out] == [CancelAll, CancelAll, PlaceOrder, SetKillSwitch]
    flat = out[2]
    # sell venue 1's whole 2.0 long at the best bid (mid - spread/2), IOC, reduce-only
    assert (flat.venue, flat.side, flat.size, flat.price, flat.time_in_force, flat.reduce_only, flat.purpose) == (
        1, -1, 200, 999, "IOC", True, "exit")


class _ExitThenHedge:
    """Exits 0.6 of a 1.0 long on venue 0; hedges whatever position it is shown."""

    name, version = "exit-then-hedge", "1"

    def __init__(self):
        self.hedge_saw: list[float] = []

    from paraphina.hookspecs import hookimpl as _hookimpl

    @_hookimpl
    def paraphina_exits(self, ctx):
        return [OrderIntent(venue=0, side=-1, price=99.0, size=0.6, purpose="exit", time_in_force="IOC", post_only=False)]

    @_hookimpl
    def paraphina_hedges(self, ctx):
        self.hedge_saw.append(ctx.position)
        q = sum(v.position for v in ctx.venue_inputs)
        assert abs(q - ctx.model.q) < 1e-12 and abs(q - ctx.position) < 1e-12
        return [OrderIntent(venue=1, side=-1, price=100.0, size=q, purpose="hedge", time_in_force="IOC", post_only=False)] if q > 0 else []


def test_hedge_sees_the_position_net_of_same_tick_exits():
    """Decision 4: exits then hedge on one tick never sell the same inventory twice."""
    pol = _ExitThenHedge()
    e = Engine(load_config(), [ev.Instrument(venue=f"v{i}", symbol="X", tick_size="0.1", lot_size="0.01") for i in range(2)],
               load_policy(pol))
    books(e)
    e.step(ev.Fill(ts_ns=2, venue=0, client_order_id="x", side=1, price=1000, size=100))  # long 1.0, fills pending
    out = e.step(ev.Timer(ts_ns=10 * MS))
    assert pol.hedge_saw == [pytest.approx(0.4)]
    sells = [(a.venue, a.purpose, a.size) for a in out if isinstance(a, PlaceOrder)]
    assert sells == [(0, "exit", 60), (1, "hedge", 40)]


def test_warning_caps_quotes_but_not_risk_reducing_hedges():
    """Decision 17: in Warning q_warn_cap shrinks maker quotes and anything that grows |q|; a hedge
    that cuts |q| keeps its size."""
    intents = [OrderIntent(venue=1, side=1, price=100.0, size=3.0),
               OrderIntent(venue=1, side=-1, price=99.0, size=3.0, purpose="hedge", time_in_force="IOC", post_only=False),
               OrderIntent(venue=1, side=1, price=102.0, size=3.0, purpose="hedge", time_in_force="IOC", post_only=False)]

    class Both(Scripted):
        from paraphina.hookspecs import hookimpl as _h

        @_h
        def paraphina_hedges(self, ctx):
            return self.intents[1:]

    pol = Both(intents[:1])
    e = engine(pol, **{"risk.daily_loss_limit": 100.0, "risk.q_warn_cap": 1.0})
    books(e, mids=(1000, 1000))
    e.step(ev.Fill(ts_ns=11 * MS, venue=0, client_order_id="x", side=1, price=1000, size=500, fee=60.0))  # long 5, PnL -60
    pol.intents = intents
    out = e.step(ev.Timer(ts_ns=300 * MS))
    assert e.state.core.risk_regime == "Warning"
    sized = [(a.purpose, a.side, a.size) for a in out if isinstance(a, PlaceOrder)]
    assert sized == [("mm", 1, 100), ("hedge", -1, 300), ("hedge", 1, 100)]
