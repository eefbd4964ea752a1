"""Hyperliquid, Bybit and Tardis importers: real samples plus small synthetic edge cases."""

from __future__ import annotations

import json

import pytest

from paraphina import events as ev
from paraphina.importers import import_events

from helpers import RefBook


def test_hyperliquid_ws_capture(real_data_dir):
    ins, events, s = import_events("hyperliquid", [str(real_data_dir / "hyperliquid" / "hyperliquid_btcusd_20250126.gz")])
    assert (ins.venue, ins.symbol, ins.tick_size, ins.lot_size) == ("hyperliquid", "BTC", "0.1", "0.00001")
    snaps = [e for e in events if isinstance(e, ev.BookSnapshot)]
    trades = [e for e in events if isinstance(e, ev.Trade)]
    assert len(snaps) == 46 and all(len(e.bid_px) == 20 == len(e.ask_px) for e in snaps)
    # 64 trades in 9 frames; the first frame back-fills 30 older ones.
    assert len(trades) == 34 and s.checks["trades_skipped_backfill"] == 30
    assert s.checks["crossed_books"] == 0 and s.gaps == 0
    first = snaps[0]
    assert (first.bid_px[0], first.bid_sz[0]) == (1050550, 303622)  # "105055.0" x "3.03622"
    t = trades[0]
    assert (t.price, t.size, t.side) == (1050560, 2222, ev.BUY)  # px "105056.0", sz "0.02222", side "B"


def test_hyperliquid_funding_history(real_data_dir):
    ins, events, s = import_events("hyperliquid", [str(real_data_dir / "hyperliquid" / "funding_history_btc.yaml")])
    assert ins.symbol == "BTC" and len(events) == 1038
    assert all(isinstance(e, ev.FundingRate) for e in events)
    by_ts = {e.ts_ns: e for e in events}
    # Hand-checked records of the cassette.
    e0 = by_ts[1683849600048 * 10**6]
    assert (e0.rate, e0.interval_ms) == (-0.00061334, 8 * 3_600_000)
    e81 = by_ts[1686182400254 * 10**6]
    assert (e81.rate, e81.interval_ms) == (0.0001, 8 * 3_600_000)
    e82 = by_ts[1686186000054 * 10**6]  # first hourly settlement
    assert (e82.rate, e82.interval_ms) == (0.0000125, 3_600_000)
    last = events[-1]
    assert (last.ts_ns, last.rate, last.interval_ms) == (1689627600065 * 10**6, 0.0000125, 3_600_000)
    assert [e.ts_ns for e in events] == sorted(e.ts_ns for e in events)


def test_bybit_orderbook_sample(real_data_dir):
    ins, events, s = import_events("bybit", [str(real_data_dir / "bybit" / "xrpusdt-ob500.data.zip")])
    assert (ins.symbol, ins.tick_size, ins.lot_size) == ("XRPUSDT", "0.0001", "1")
    assert s.events["book_snapshot"] == 1 and s.events["book_delta"] == 49 and s.gaps == 0
    ref = RefBook()
    for e in events:
        (ref.snapshot if isinstance(e, ev.BookSnapshot) else ref.delta)(e)
        assert not ref.crossed()
    assert events[0].ts_ns == 1733011200691 * 10**6  # no local time: the frame's ts
    assert events[0].bid_px[0] == 19531 and events[0].bid_sz[0] == 6203


def _bybit_frames(tmp_path, frames, name="f.data"):
    p = tmp_path / name
    p.write_text("\n".join(json.dumps(f) for f in frames) + "\n")
    return str(p)


def _ob(typ, u, b=(), a=(), ts=1000):
    return {"topic": "orderbook.50.XRPUSDT", "type": typ, "ts": ts, "data": {"s": "XRPUSDT", "b": list(b), "a": list(a), "u": u, "seq": 7}}


def test_bybit_gap_and_resnapshot(tmp_path):
    frames = [
        _ob("snapshot", 10, [["1.0000", "5"]], [["1.0002", "5"]], ts=1),
        _ob("delta", 11, [["1.0001", "3"]], [], ts=2),
        _ob("delta", 13, [["1.0000", "0"]], [], ts=3),   # 12 is missing
        _ob("delta", 14, [], [["1.0003", "1"]], ts=4),   # dropped: book invalid
        _ob("snapshot", 1, [["1.0000", "2"]], [["1.0001", "2"]], ts=5),  # u == 1: service restart
        _ob("delta", 2, [], [["1.0001", "0"]], ts=6),
    ]
    _ins, events, s = import_events("bybit", [_bybit_frames(tmp_path, frames)])
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["BookSnapshot", "BookDelta", "GapDetected", "BookSnapshot", "BookDelta"]
    g = events[2]
    assert (g.expected, g.received, g.ts_ns) == (12, 13, 3_000_000)
    assert s.checks["deltas_dropped_unsynced"] == 1
    assert (events[4].prev_venue_seq, events[4].venue_seq) == (1, 2)


def test_bybit_tickers_merge_partial_deltas(tmp_path):
    frames = [
        _ob("snapshot", 1, [["1.0000", "5"]], [["1.0002", "5"]], ts=1),
        {"topic": "tickers.XRPUSDT", "type": "snapshot", "ts": 10, "data": {
            "symbol": "XRPUSDT", "markPrice": "1.0001", "indexPrice": "1.0000", "fundingRate": "0.0001",
            "nextFundingTime": "1733040000000", "fundingIntervalHour": "8"}},
        {"topic": "tickers.XRPUSDT", "type": "delta", "ts": 20, "data": {"symbol": "XRPUSDT", "markPrice": "1.0003"}},
        {"topic": "tickers.XRPUSDT", "type": "delta", "ts": 30, "data": {"symbol": "XRPUSDT", "fundingRate": "-0.00005"}},
    ]
    _ins, events, _s = import_events("bybit", [_bybit_frames(tmp_path, frames)])
    fr = [e for e in events if isinstance(e, ev.FundingRate)]
    mp = [e for e in events if isinstance(e, ev.MarkPrice)]
    assert [(e.rate, e.interval_ms, e.next_funding_ts_ns) for e in fr] == [
        (0.0001, 8 * 3_600_000, 1733040000000 * 10**6), (-0.00005, 8 * 3_600_000, 1733040000000 * 10**6)]
    assert [(e.ts_ns, e.mark_price, e.index_price) for e in mp] == [(10_000_000, 10001, 10000), (20_000_000, 10003, 10000)]


def test_tardis_samples(real_data_dir):
    d = real_data_dir / "tardis"
    ins, events, _ = import_events("tardis", [str(d / "deribit_incremental_book_L2_BTC-PERPETUAL.csv")])
    assert (ins.tick_size, ins.lot_size) == ("0.5", "10")
    assert len(events) == 1 and isinstance(events[0], ev.BookSnapshot)
    assert events[0].ask_px[0] == 12843 and events[0].ask_sz[0] == 1864  # 6421.5 x 18640 USD
    assert events[0].ts_ns == 1585699200355684 * 1000
    _ins, trades, _ = import_events("tardis", [str(d / "bitmex_trades_XBTUSD.csv")])
    assert len(trades) == 10 and trades[0].side == ev.SELL and trades[0].size == 2152
    _ins, snaps, _ = import_events("tardis", [str(d / "binance-futures_book_snapshot_25_BTCUSDT.csv")])
    assert len(snaps) == 10 and all(len(e.bid_px) == 25 == len(e.ask_px) for e in snaps)
    assert snaps[0].ask_px[0] == 1165708 and snaps[0].bid_px[0] == 1165707


def test_tardis_incremental_runs(tmp_path):
    hdr = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
    rows = [
        "x,S,1,100,true,bid,10.0,1", "x,S,1,100,true,ask,11.0,2",
        "x,S,2,200,false,bid,10.5,3", "x,S,2,200,false,ask,11.0,0",
        "x,S,3,300,false,ask,11.5,4",
        "x,S,4,400,true,bid,9.0,1", "x,S,4,400,true,ask,9.5,1",
    ]
    book = tmp_path / "book.csv"
    book.write_text("\n".join([hdr, *rows]) + "\n")
    trades = tmp_path / "trades.csv"
    trades.write_text("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
                      "x,S,2,200,t1,buy,10.5,1\nx,S,3,250,t2,unknown,10.5,1\n")
    _ins, events, s = import_events("tardis", [str(book), str(trades)])
    assert [type(e).__name__ for e in events] == ["BookSnapshot", "BookDelta", "Trade", "BookDelta", "BookSnapshot"]
    assert [e.ts_ns for e in events] == [100_000, 200_000, 200_000, 300_000, 400_000]
    d = events[1]
    assert (d.bid_px, d.bid_sz, d.ask_px, d.ask_sz, d.prev_venue_seq) == ([105], [3], [110], [0], -1)
    assert s.checks["trades_skipped_unknown_side"] == 1
