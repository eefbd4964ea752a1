"""The simulator moves columns: the generator's chunks, the exchange's compiled fold and the
joined per-tick columns give exactly what the event-by-event path gives."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from simtools import SCENARIOS

from paraphina import events as ev
from paraphina.actions import CancelOrder, PlaceOrder
from paraphina.columns import EventColumns, concat, from_events, take
from paraphina.config import load_config
from paraphina.sim.exchange import SimExchange, VenueParams
from paraphina.sim.market import MarketGenerator
from paraphina.sim.runner import policy_engine_factory, run_backtest, run_simulation, with_scenario_fees
from paraphina.sim.scenario import load_scenario
from paraphina.sim.tick_columns import join

FIELDS = ("ts_ns", "kind", "venue", "venue_seq", "prev_venue_seq", "price", "size", "side", "flags", "bid_off",
          "bid_px", "bid_sz", "ask_off", "ask_px", "ask_sz")


def same_columns(a: EventColumns, b: EventColumns, seq: bool = True) -> None:
    for name in FIELDS + (("seq",) if seq else ()):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y), name
    assert list(a.payload) == list(b.payload)
    assert list(a.text) == list(b.text)


@pytest.mark.parametrize("name", ["venue_outage", "funding_flip", "vol_regimes_markov"])
def test_generator_chunks_are_the_columns_of_its_events(name):
    sc = load_scenario(SCENARIOS / f"{name}.yaml")
    events = list(MarketGenerator(sc, 4, timer_ms=300, steps=300).events())
    chunks = list(MarketGenerator(sc, 4, timer_ms=300, steps=300).chunks())
    assert len(chunks) > 1
    same_columns(concat(chunks), from_events(events), seq=False)
    kinds = {type(e) for e in events}
    assert {ev.BookSnapshot, ev.BookDelta, ev.Trade, ev.Timer, ev.FundingRate, ev.MarkPrice} <= kinds


def test_steps_through_is_the_step_that_releases_an_event():
    sc = load_scenario(SCENARIOS / "venue_outage.yaml")
    gen = MarketGenerator(sc, 2, timer_ms=300, steps=120)
    probe = MarketGenerator(sc, 2, timer_ms=300, steps=120)
    while gen.step_index < gen.steps:
        for e in gen.step():
            assert probe.steps_through(e.ts_ns) == gen.step_index
    for e in gen.drain():
        assert probe.steps_through(e.ts_ns) == gen.steps


def test_take_gathers_rows_and_their_levels():
    events = [ev.BookSnapshot(ts_ns=1, venue=0, venue_seq=1, bid_px=[9, 8], bid_sz=[1, 2], ask_px=[11], ask_sz=[3]),
              ev.Trade(ts_ns=2, venue=0, price=9, size=1, side=-1, trade_id="a"),
              ev.Timer(ts_ns=3),
              ev.BookDelta(ts_ns=4, venue=0, venue_seq=2, prev_venue_seq=1, bid_px=[7], bid_sz=[5])]
    cols = from_events(events)
    order = [3, 2, 0, 1]
    same_columns(take(cols, np.array(order)), from_events([events[i] for i in order]), seq=False)


def test_joined_tick_columns_equal_those_of_the_events():
    sc = load_scenario(SCENARIOS / "synth_baseline.yaml")
    chunk = next(MarketGenerator(sc, 1, timer_ms=250, steps=64).chunks())
    acks = [ev.OrderAccepted(ts_ns=int(chunk.ts_ns[3]), venue=1, client_order_id="a", exchange_order_id="x1"),
            ev.OrderCanceled(ts_ns=int(chunk.ts_ns[3]), venue=2, client_order_id="b", reason="canceled")]
    fill = [ev.Fill(ts_ns=int(chunk.ts_ns[9]), venue=0, client_order_id="c", side=1, price=5, size=1)]
    cases = [
        [(chunk, 2, 4), acks, (chunk, 4, 9), fill],        # events between and after market rows
        [acks, (chunk, 0, 5)],                               # before
        [(chunk, 5, 12)],                                    # market rows alone
    ]
    arena = [None]
    for parts in cases:
        events = [e for p in parts for e in (p if isinstance(p, list) else p[0].slice(p[1], p[2]).events())]
        same_columns(join(parts, 17, arena), from_events(events, 17))
    # rows of two chunks (a block boundary) are joined too
    other = from_events(acks)
    same_columns(join([(chunk, 0, 2), (other, 0, 2)], 0, [None]), from_events([*chunk.slice(0, 2).events(), *acks]))


class PerEvent:
    """The engine without its columnar entry: the runner steps it one event at a time."""

    def __init__(self, engine):
        self.engine = engine

    def step(self, e):
        return self.engine.step(e)

    def summary(self):
        return self.engine.summary()


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize("policy", ["fixed-spread", "heuristic"])
def test_columnar_run_equals_the_event_by_event_run(tmp_path, policy):
    sc = load_scenario(SCENARIOS / "venue_outage.yaml")
    cfg = with_scenario_fees(load_config(), sc)
    make = policy_engine_factory(policy)
    a = run_simulation(sc, cfg, policy, 3, 400, str(tmp_path / "cols.arrow"), make)
    b = run_simulation(sc, cfg, policy, 3, 400, str(tmp_path / "events.arrow"), lambda c, i: PerEvent(make(c, i)))
    assert (a.sha256, a.events, a.ticks, a.steps, a.fills) == (b.sha256, b.events, b.ticks, b.steps, b.fills)
    assert _sha(tmp_path / "cols.arrow") == _sha(tmp_path / "events.arrow")
    if policy == "fixed-spread":
        assert a.fills > 0
    # a backtest with jittered latency over that log, both ways
    params = [VenueParams(latency_ms=7, latency_jitter_ms=13) for _ in sc.venues]
    c = run_backtest(str(tmp_path / "cols.arrow"), cfg, policy, str(tmp_path / "bt1.arrow"), make, params=params)
    d = run_backtest(str(tmp_path / "cols.arrow"), cfg, policy, str(tmp_path / "bt2.arrow"),
                     lambda c_, i: PerEvent(make(c_, i)), params=params)
    assert (c.sha256, c.events, c.fills) == (d.sha256, d.events, d.fills)


def test_exchange_books_and_orders_grow_past_their_first_arrays():
    ins = [ev.Instrument(venue="v", symbol="X", tick_size="1", lot_size="1", min_notional="0")]
    x = SimExchange(ins, [VenueParams(latency_ms=0)])
    bids = {1000 - i: 1 + i % 7 for i in range(150)}
    asks = {1002 + i: 2 + i % 5 for i in range(150)}
    x.on_market(ev.BookSnapshot(ts_ns=1, venue=0, bid_px=list(bids), bid_sz=list(bids.values()),
                                ask_px=list(asks), ask_sz=list(asks.values())))
    more = {700 - i: 3 for i in range(100)}
    x.on_market(ev.BookDelta(ts_ns=2, venue=0, bid_px=[*more, 999, 998], bid_sz=[*more.values(), 0, 9]))
    bids.update(more)
    del bids[999]
    bids[998] = 9
    assert x.book(0) == (bids, asks)
    assert (x.best_bid(0), x.best_ask(0)) == (1000, 1002)
    placed = [PlaceOrder(seq=i, venue=0, client_order_id=f"o{i}", side=1, price=990 - i, size=2, post_only=True)
              for i in range(20)]
    x.on_actions(placed, 3)
    x.on_actions([CancelOrder(seq=30, venue=0, client_order_id="o3")], 4)
    assert [o.cid for o in x.open_orders(0)] == [f"o{i}" for i in range(20) if i != 3]
    assert [o.ahead for o in x.open_orders(0)][:3] == [bids[990], bids[989], bids[988]]
    # a sell through the best three of our bids: price-time priority, queue ahead first
    out = x.on_market(ev.Trade(ts_ns=5, venue=0, price=988, size=bids[990] + 2 + bids[989] + 2 + 50, side=-1))
    fills = [e for e in out if isinstance(e, ev.Fill)]
    assert [(f.client_order_id, f.price, f.size) for f in fills] == [("o0", 990, 2), ("o1", 989, 2), ("o2", 988, 2)]
    assert x.position(0) == 6
