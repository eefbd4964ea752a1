"""The simulated exchange: post-only, queue position, book moves, IOC walks, fees, latency, funding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paraphina import events as ev
from paraphina.actions import CancelAll, CancelOrder, PlaceOrder, SetKillSwitch
from paraphina.sim.exchange import SimExchange, VenueParams

TICK, LOT = 0.1, 0.001
MS = 1_000_000
T = 1_000_000_000


def make(latency_ms=0, maker=2.0, taker=5.0, **kw) -> SimExchange:
    ins = [ev.Instrument(venue="v", symbol="BTC-PERP", tick_size="0.1", lot_size="0.001")]
    x = SimExchange(ins, [VenueParams(maker_fee_bps=maker, taker_fee_bps=taker, latency_ms=latency_ms, **kw)], seed=1)
    x.on_market(ev.BookSnapshot(ts_ns=T, venue=0, bid_px=[1000, 999], bid_sz=[5, 7], ask_px=[1002, 1003],
                                ask_sz=[4, 6]))
    return x


def place(cid, side, price, size, tif="GTC", post_only=True, reduce_only=False, venue=0):
    return PlaceOrder(seq=0, venue=venue, client_order_id=cid, side=side, price=price, size=size,
                      time_in_force=tif, post_only=post_only, reduce_only=reduce_only)


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_post_only_that_would_cross_is_rejected_and_one_that_does_not_rests():
    x = make()
    out = x.on_actions([place("b1", 1, 1002, 3), place("a1", -1, 1000, 3), place("b2", 1, 1001, 3)], T)
    assert [(type(e).__name__, e.client_order_id) for e in out] == [
        ("OrderRejected", "b1"), ("OrderRejected", "a1"), ("OrderAccepted", "b2")]
    assert out[0].reason == "post_only_would_cross"
    assert [o.cid for o in x.open_orders(0)] == ["b2"]
    assert x.open_orders(0)[0].ahead == 0   # a new level: nobody ahead


def test_queue_position_fills_only_after_the_size_ahead_traded():
    x = make()
    x.on_actions([place("b", 1, 1000, 3)], T)          # joins 5 lots displayed at 1000
    assert x.open_orders(0)[0].ahead == 5
    assert x.on_market(ev.Trade(ts_ns=T + 1, venue=0, price=1000, size=4, side=-1)) == []
    assert x.open_orders(0)[0].ahead == 1
    out = x.on_market(ev.Trade(ts_ns=T + 2, venue=0, price=1000, size=2, side=-1))
    (fill,) = of(out, ev.Fill)
    assert (fill.size, fill.price, fill.side, fill.liquidity) == (1, 1000, 1, "maker")
    out = x.on_market(ev.Trade(ts_ns=T + 3, venue=0, price=1000, size=10, side=-1))
    assert [f.size for f in of(out, ev.Fill)] == [2]
    assert x.position(0) == 3 and x.open_orders(0) == []
    # buy-side aggressors never touch a resting bid
    x.on_actions([place("b2", 1, 999, 2)], T + 4)
    assert x.on_market(ev.Trade(ts_ns=T + 5, venue=0, price=1002, size=50, side=1)) == []


def test_canceled_size_ahead_moves_the_order_up_the_queue():
    x = make()
    x.on_actions([place("b", 1, 1000, 3)], T)
    x.on_market(ev.BookDelta(ts_ns=T + 1, venue=0, bid_px=[1000], bid_sz=[2]))
    assert x.open_orders(0)[0].ahead == 2
    out = x.on_market(ev.Trade(ts_ns=T + 2, venue=0, price=1000, size=3, side=-1))
    assert [f.size for f in of(out, ev.Fill)] == [1]


def test_trade_through_the_price_fills_first_and_in_price_time_priority():
    x = make()
    x.on_actions([place("a1", -1, 1004, 2), place("a2", -1, 1003, 2), place("a3", -1, 1003, 2)], T)
    out = x.on_market(ev.Trade(ts_ns=T + 1, venue=0, price=1005, size=5, side=1))
    assert [(f.client_order_id, f.size, f.price) for f in of(out, ev.Fill)] == [
        ("a2", 2, 1003), ("a3", 2, 1003), ("a1", 1, 1004)]
    assert x.position(0) == -5


def test_book_moving_through_a_resting_order_fills_it_at_its_price():
    x = make()
    x.on_actions([place("b", 1, 1001, 4)], T)
    out = x.on_market(ev.BookDelta(ts_ns=T + 1, venue=0, ask_px=[1002, 1001], ask_sz=[0, 3], bid_px=[1000],
                                   bid_sz=[0]))
    (fill,) = of(out, ev.Fill)
    assert (fill.price, fill.size, fill.liquidity, fill.ts_ns) == (1001, 4, "maker", T + 1)
    snap = of(out, ev.PositionSnapshot)[-1]
    assert snap.position == 4 and snap.avg_entry_price == pytest.approx(100.1)


def test_ioc_walks_the_book_partially_and_cancels_the_rest():
    x = make()
    out = x.on_actions([place("h", 1, 1003, 15, tif="IOC", post_only=False)], T)
    assert [type(e).__name__ for e in out][:4] == ["OrderAccepted", "Fill", "Fill", "OrderCanceled"]
    fills = of(out, ev.Fill)
    assert [(f.price, f.size, f.liquidity) for f in fills] == [(1002, 4, "taker"), (1003, 6, "taker")]
    assert of(out, ev.OrderCanceled)[0].reason == "ioc_remainder"
    assert x.position(0) == 10 and x.open_orders(0) == []
    # the liquidity it took is gone until the feed says otherwise
    out = x.on_actions([place("h2", 1, 1003, 1, tif="IOC", post_only=False)], T)
    assert of(out, ev.Fill) == [] and of(out, ev.OrderCanceled)[0].client_order_id == "h2"


def test_ioc_limit_stops_the_walk():
    x = make()
    out = x.on_actions([place("s", -1, 1000, 9, tif="IOC", post_only=False)], T)
    assert [(f.price, f.size) for f in of(out, ev.Fill)] == [(1000, 5)]


def test_fees_follow_maker_and_taker_rates():
    x = make(maker=-0.5, taker=4.0)
    out = x.on_actions([place("t", 1, 1002, 4, tif="IOC", post_only=False)], T)
    (taker,) = of(out, ev.Fill)
    assert taker.fee == pytest.approx(4.0 / 1e4 * 100.2 * 4 * LOT)
    x.on_actions([place("m", -1, 1005, 2)], T)
    (maker,) = of(x.on_market(ev.Trade(ts_ns=T + 1, venue=0, price=1005, size=9, side=1)), ev.Fill)
    assert maker.fee == pytest.approx(-0.5 / 1e4 * 100.5 * 2 * LOT) and maker.fee < 0
    bal = of(x.on_market(ev.Trade(ts_ns=T + 2, venue=0, price=1005, size=1, side=1)), ev.BalanceUpdate)
    assert bal == []  # nothing left resting


def test_latency_delays_effect_and_event_times():
    x = make(latency_ms=10)
    now = T + 5 * MS
    assert x.on_actions([place("b", 1, 1000, 3)], now) == []
    # a trade before the order is live does not fill it, and does not consume its queue
    assert x.on_market(ev.Trade(ts_ns=now + 9 * MS, venue=0, price=1000, size=50, side=-1)) == []
    out = x.advance(now + 10 * MS)
    assert [type(e).__name__ for e in out] == ["OrderAccepted"] and out[0].ts_ns == now + 10 * MS
    out = x.on_market(ev.Trade(ts_ns=now + 11 * MS, venue=0, price=1000, size=6, side=-1))
    assert [f.size for f in of(out, ev.Fill)] == [1] and all(e.ts_ns == now + 11 * MS for e in out)
    # a cancel also waits; actions keep their order per venue
    assert x.on_actions([CancelOrder(seq=1, venue=0, client_order_id="b")], now + 12 * MS) == []
    out = x.on_market(ev.Timer(ts_ns=now + 30 * MS))
    assert [(type(e).__name__, e.ts_ns) for e in out] == [("OrderCanceled", now + 22 * MS)]


def test_actions_sent_in_the_past_take_effect_by_the_exchange_clock():
    x = make(latency_ms=10)
    x.advance(T + 50 * MS)                      # the exchange has seen time T + 50 ms
    out = x.on_actions([place("b", 1, 1000, 3)], T + 30 * MS)   # reacting to an ack stamped T + 30 ms
    assert [(type(e).__name__, e.ts_ns) for e in out] == [("OrderAccepted", T + 40 * MS)]
    assert x.on_actions([place("c", 1, 999, 3)], T + 45 * MS) == []   # due at T + 55 ms


def test_latency_jitter_is_seeded():
    def acks(seed):
        ins = [ev.Instrument(venue="v", symbol="B", tick_size="0.1", lot_size="0.001")]
        x = SimExchange(ins, [VenueParams(latency_ms=5, latency_jitter_ms=20)], seed=seed)
        x.on_market(ev.BookSnapshot(ts_ns=T, venue=0, bid_px=[1000], bid_sz=[5], ask_px=[1002], ask_sz=[4]))
        x.on_actions([place(f"b{i}", 1, 990 - i, 1) for i in range(10)], T)
        return [e.ts_ns for e in x.advance(T + 100 * MS)]
    a = acks(3)
    assert a == acks(3) and a != acks(4)
    assert all(T + 5 * MS <= t <= T + 25 * MS for t in a) and len(set(a)) > 1


def test_cancels_cancel_all_and_unknown_cancels():
    x = make()
    x.on_actions([place("b", 1, 1000, 3), place("a", -1, 1003, 3), place("a2", -1, 1004, 3)], T)
    out = x.on_actions([CancelOrder(seq=1, venue=0, client_order_id="b"),
                        CancelOrder(seq=1, venue=0, client_order_id="zz"), SetKillSwitch(seq=1, venue=-1, active=True,
                                                                                         reason="x"),
                        CancelAll(seq=1, venue=-1)], T)
    assert [(type(e).__name__, e.client_order_id, e.reason) for e in out] == [
        ("OrderCanceled", "b", "canceled"), ("OrderRejected", "zz", "cancel_unknown_order"),
        ("OrderCanceled", "a", "cancel_all"), ("OrderCanceled", "a2", "cancel_all")]
    assert x.open_orders(0) == []


def test_reduce_only_and_duplicate_and_outage_rejects():
    x = make()
    assert of(x.on_actions([place("r", 1, 1003, 3, tif="IOC", post_only=False, reduce_only=True)], T),
              ev.OrderRejected)[0].reason == "reduce_only_would_increase"
    x.on_actions([place("b", 1, 1000, 3)], T)
    assert of(x.on_actions([place("b", 1, 999, 3)], T), ev.OrderRejected)[0].reason == "duplicate_client_order_id"
    x.on_market(ev.BookReset(ts_ns=T + 1, venue=0, reason="venue_outage"))
    assert of(x.on_actions([place("c", 1, 998, 3)], T + 2), ev.OrderRejected)[0].reason == "venue_unavailable"
    x.on_market(ev.BookSnapshot(ts_ns=T + 3, venue=0, bid_px=[1000], bid_sz=[5], ask_px=[1002], ask_sz=[4]))
    assert of(x.on_actions([place("c", 1, 998, 3)], T + 4), ev.OrderAccepted)


def test_reduce_only_is_capped_at_the_position():
    x = make()
    x.on_actions([place("t", 1, 1002, 2, tif="IOC", post_only=False)], T)
    out = x.on_actions([place("r", -1, 999, 5, tif="IOC", post_only=False, reduce_only=True)], T)
    assert sum(f.size for f in of(out, ev.Fill)) == 2 and x.position(0) == 0


@pytest.mark.parametrize("lots, rate, sign", [(10, 0.001, -1), (10, -0.001, 1), (-10, 0.001, 1), (-10, -0.001, -1)])
def test_funding_payment_sign_and_amount(lots, rate, sign):
    x = make()
    x.set_position(0, lots, 100.0, T)
    x.on_market(ev.MarkPrice(ts_ns=T, venue=0, mark_price=1001))
    x.on_market(ev.FundingRate(ts_ns=T, venue=0, rate=rate, interval_ms=1000, next_funding_ts_ns=T + 500 * MS))
    assert x.on_market(ev.Timer(ts_ns=T + 499 * MS)) == []
    out = x.on_market(ev.Timer(ts_ns=T + 500 * MS))
    (pay,) = of(out, ev.FundingPayment)
    assert pay.amount == pytest.approx(-lots * LOT * 100.1 * rate)
    assert (pay.amount > 0) == (sign > 0)
    assert of(out, ev.BalanceUpdate)[0].balance == pytest.approx(10_000.0 + pay.amount)
    # next settlement one interval later, not before
    assert of(x.on_market(ev.Timer(ts_ns=T + 1400 * MS)), ev.FundingPayment) == []
    assert len(of(x.on_market(ev.Timer(ts_ns=T + 1500 * MS)), ev.FundingPayment)) == 1


def test_liquidation_price_estimates():
    x = make(maintenance_margin=0.01, initial_balance=1000.0)
    out = x.set_position(0, 100_000, 100.0, T)       # 100 base long at 100 with 1000 collateral
    liq = of(out, ev.PositionSnapshot)[0].liquidation_price * TICK
    # balance + q (P - E) = m q P  ->  P = (E - B/q) / (1 - m)
    assert liq == pytest.approx((100.0 - 10.0) / 0.99, abs=TICK)
    x.set_position(0, -100_000, 100.0, T)
    assert x.liquidation_price(0) == pytest.approx((100.0 + 10.0) / 1.01)
    x.set_position(0, 0, 0.0, T)
    assert x.liquidation_price(0) is None


actions_st = st.lists(st.tuples(
    st.sampled_from(["post", "ioc", "gtc_cross", "cancel_all", "trade", "move"]),
    st.integers(-1, 1).filter(bool), st.integers(995, 1007), st.integers(1, 12)), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(actions_st)
def test_fills_sum_to_position_changes_and_post_only_never_takes(ops):
    x = make(latency_ms=0)
    t = T
    post_only_ids = set()
    running = 0
    n = 0
    for op, side, price, size in ops:
        t += MS
        n += 1
        if op == "post":
            cid = f"p{n}"
            post_only_ids.add(cid)
            out = x.on_actions([place(cid, side, price, size)], t)
        elif op == "ioc":
            out = x.on_actions([place(f"i{n}", side, price, size, tif="IOC", post_only=False)], t)
        elif op == "gtc_cross":
            out = x.on_actions([place(f"g{n}", side, price, size, post_only=False)], t)
        elif op == "cancel_all":
            out = x.on_actions([CancelAll(seq=0, venue=0)], t)
        elif op == "trade":
            out = x.on_market(ev.Trade(ts_ns=t, venue=0, price=price, size=size, side=side))
        else:
            bid = price - 1
            out = x.on_market(ev.BookSnapshot(ts_ns=t, venue=0, bid_px=[bid, bid - 1], bid_sz=[size, 5],
                                              ask_px=[bid + 2, bid + 3], ask_sz=[size, 5]))
        for e in out:
            assert e.ts_ns >= t
            if isinstance(e, ev.Fill):
                running += e.side * e.size
                if e.client_order_id in post_only_ids:
                    assert e.liquidity == "maker"
            if isinstance(e, ev.PositionSnapshot):
                assert e.position == running
        assert x.position(0) == running
        for o in x.open_orders(0):
            assert o.remaining > 0
            if o.cid in post_only_ids:
                opp = x.best_ask(0) if o.side > 0 else x.best_bid(0)
                assert opp is None or (o.price < opp if o.side > 0 else o.price > opp)


def test_a_book_delta_is_folded_level_by_level_in_order():
    # A size above zero sets a level, any other removes it; a price written twice keeps its last write.
    x = make()
    x.on_market(ev.BookDelta(ts_ns=T + 1, venue=0, bid_px=[999, 998, 998, 997, 997], bid_sz=[0, 3, 0, 0, 2],
                             ask_px=[1002, 1004, 1003], ask_sz=[-1, 9, 6]))
    assert x.book(0) == ({1000: 5, 997: 2}, {1003: 6, 1004: 9})


def test_a_market_event_first_executes_what_fell_due_even_if_it_folds_nothing():
    x = make(latency_ms=10)
    assert x.on_actions([place("b1", 1, 1001, 3)], T) == []
    assert x.on_market(ev.GapDetected(ts_ns=T + 9 * MS, venue=0)) == []
    out = x.on_market(ev.GapDetected(ts_ns=T + 10 * MS, venue=0))
    assert [(type(e).__name__, e.ts_ns) for e in out] == [("OrderAccepted", T + 10 * MS)]
    assert x.now_ns == T + 10 * MS
