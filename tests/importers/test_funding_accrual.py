"""Hyperliquid's funding history becomes funding payments the engine accrues: a backtest holding
a position pays or receives ``-q * mark * rate`` at each settlement record, checked by hand."""

from __future__ import annotations

import math
from pathlib import Path

from paraphina import events as ev
from paraphina.config import load_config
from paraphina.engine import Engine
from paraphina.importers import import_events
from paraphina.policies import load_policy
from paraphina.sim.exchange import SimExchange, VenueParams


def _funding_backtest(real_data_dir: Path, records: int, q_lots: int):
    ins, events, _ = import_events("hyperliquid", [str(real_data_dir / "hyperliquid" / "funding_history_btc.yaml")])
    funding = events[:records]
    t0 = funding[0].ts_ns - 1_000_000_000
    # One resting level each side, 27000.0 / 27000.1 (tick 0.1): mid 27000.05 is the funding mark.
    book = ev.BookSnapshot(ts_ns=t0, venue=0, bid_px=[270000], bid_sz=[100_000], ask_px=[270001], ask_sz=[100_000])
    engine = Engine(load_config(), [ins], load_policy("fixed-spread"))  # no Timer: the policy never runs
    exchange = SimExchange([ins], [VenueParams()], seed=1)
    payments: list[ev.FundingPayment] = []
    exchange.on_market(book)
    engine.step(book)
    for e in exchange.set_position(0, q_lots, 27000.0, t0):
        engine.step(e)
    for e in funding:
        engine.step(e)
        for out in exchange.on_market(e):
            engine.step(out)
            if isinstance(out, ev.FundingPayment):
                payments.append(out)
    return ins, funding, payments, engine


def test_each_settlement_record_is_paid_once_as_hand_computed(real_data_dir):
    ins, funding, payments, engine = _funding_backtest(real_data_dir, records=4, q_lots=50_000)  # 0.5 BTC long
    assert ins.lot_size == "0.00001" and ins.tick_size == "0.1"
    assert [p.ts_ns for p in payments] == [f.ts_ns for f in funding]
    # First record of the cassette: 2023-05-12 00:00 UTC, rate -0.00061334 (shorts paid longs).
    # A long of 0.5 BTC at mark 27000.05 receives 0.5 * 27000.05 * 0.00061334 = 8.2801053335 USD.
    assert funding[0].rate == -0.00061334
    assert math.isclose(payments[0].amount, 8.2801053335, rel_tol=1e-12)
    for p, f in zip(payments, funding):
        assert p.rate == f.rate and p.position == 50_000 and p.mark_price == 270000  # round(270000.5) half-even
        assert math.isclose(p.amount, -0.5 * 27000.05 * f.rate, rel_tol=1e-12)
    total = sum(p.amount for p in payments)
    core = engine.state.core
    assert math.isclose(core.venues[0].funding, total, rel_tol=1e-12)
    assert math.isclose(core.venues[0].realised, total, rel_tol=1e-12)  # no fills: realised is funding only


def test_a_short_pays_what_a_long_receives(real_data_dir):
    _, _, long_pays, _ = _funding_backtest(real_data_dir, records=3, q_lots=50_000)
    _, _, short_pays, _ = _funding_backtest(real_data_dir, records=3, q_lots=-50_000)
    assert [s.amount for s in short_pays] == [-x.amount for x in long_pays]


def test_no_position_no_payment(real_data_dir):
    _, _, payments, engine = _funding_backtest(real_data_dir, records=3, q_lots=0)
    assert payments == [] and engine.state.core.venues[0].funding == 0.0
