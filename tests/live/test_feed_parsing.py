"""Per-frame parsing shared by importers and feeds, on hand-made frames (no network)."""

from __future__ import annotations

import json

import pytest

from paraphina import events as ev
from paraphina.importers.common import BadRecord, ImportContext, ImportOptions
from paraphina.importers.hyperliquid import HyperliquidReader
from paraphina.live.feeds import instrument_for, make_feed, parse_venue


def ctx_frame(funding="0.0000125", mark="105055.0", oracle="105061.37", coin="BTC"):
    return {"channel": "activeAssetCtx", "data": {"coin": coin, "ctx": {"funding": funding, "markPx": mark,
                                                                        "oraclePx": oracle, "openInterest": "1.0"}}}


def test_hyperliquid_asset_context_gives_funding_and_mark_on_change():
    ins = instrument_for(parse_venue("hyperliquid:BTC"))
    r = HyperliquidReader(ins, ImportContext("t", ImportOptions(skip_bad=True)))
    out = r.on_frame(10, ctx_frame())
    assert out == [ev.FundingRate(ts_ns=10, venue=0, rate=0.0000125, interval_ms=3_600_000),
                   ev.MarkPrice(ts_ns=10, venue=0, mark_price=10_505_500, index_price=10_506_137, sub_tick_digits=1)]  # exact, 0.01
    assert r.on_frame(11, ctx_frame()) == []                      # nothing changed
    out = r.on_frame(12, ctx_frame(mark="105056.0"))
    assert out == [ev.MarkPrice(ts_ns=12, venue=0, mark_price=10_505_600, index_price=10_506_137, sub_tick_digits=1)]
    assert r.on_frame(13, ctx_frame(coin="ETH")) == []
    with pytest.raises(BadRecord):
        r.on_frame(14, {"channel": "activeAssetCtx", "data": {"coin": "BTC", "ctx": {"funding": "x", "markPx": "1"}}})


def test_feed_counts_malformed_frames_and_maps_the_venue_index():
    got = []
    spec = parse_venue("hyperliquid:BTC")

    class Clock:
        def now_ns(self):
            return 5

    logged = []

    class Log:
        def warning(self, what, **kw):
            logged.append((what, kw))

        info = warning

    f = make_feed(2, spec, instrument_for(spec), {}, clock=Clock(), sink=got.append, log=Log())
    f.reader = f.new_reader()
    assert f.on_frame(1, "{not json") is False
    assert f.on_frame(2, json.dumps({"channel": "l2Book", "data": {"coin": "BTC"}})) is False   # reader rejects it
    assert f.stats.malformed == 2 and got == []
    assert [w for w, _ in logged] == ["feed_malformed_frame"] * 2
    assert logged[0][1]["frame"] == "{not json" and logged[0][1]["venue"] == "hyperliquid"
    assert "l2Book frame without coin" in logged[1][1]["error"]
    book = {"channel": "l2Book", "data": {"coin": "BTC", "time": 1, "levels": [[{"px": "100.0", "sz": "1.0", "n": 1}],
                                                                               [{"px": "100.1", "sz": "2.0", "n": 1}]]}}
    assert f.on_frame(3, json.dumps(book)) is False
    assert got == [ev.BookSnapshot(ts_ns=3, venue=2, bid_px=[1000], bid_sz=[100000], ask_px=[1001], ask_sz=[200000])]
    assert f.stats.snapshots == 1 and f.stats.last_book_ns == 3
    f.reset("stale")
    assert got[-1] == ev.BookReset(ts_ns=5, venue=2, reason="stale") and f.stats.last_book_ns == 0


def test_binance_mark_price_gives_funding_and_mark_on_change():
    from paraphina.importers.binance import BinanceReader

    ins = instrument_for(parse_venue("binance-usdm:BTCUSDT"))
    r = BinanceReader(ins, ImportOptions(), ImportContext("t", ImportOptions(skip_bad=True)), cross_check=False)

    def frame(p="61800.12345678", i="61790.00000000", rate="0.00010000", t=1723190400000):
        return {"stream": "btcusdt@markPrice@1s", "data": {"e": "markPriceUpdate", "E": 1, "s": "BTCUSDT", "p": p,
                                                           "i": i, "P": "61801.0", "r": rate, "T": t}}

    out = list(r.on_line(10, "x", frame()))
    assert out == [ev.FundingRate(ts_ns=10, venue=0, rate=0.0001, next_funding_ts_ns=1723190400000 * 1_000_000),
                   ev.MarkPrice(ts_ns=10, venue=0, mark_price=6_180_012_345_678, index_price=6_179_000_000_000,
                               sub_tick_digits=7)]  # exact: 1e-8 = 0.1 / 10**7
    assert list(r.on_line(11, "x", frame())) == []
    assert list(r.on_line(12, "x", frame(rate="0.00012000"))) == [
        ev.FundingRate(ts_ns=12, venue=0, rate=0.00012, next_funding_ts_ns=1723190400000 * 1_000_000)]
    with pytest.raises(BadRecord):
        list(r.on_line(13, "x", frame(p="n/a")))
