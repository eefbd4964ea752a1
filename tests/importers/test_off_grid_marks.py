"""Mark, index and oracle prices as venues publish them: off the tick grid, kept exactly.

Book and trade prices off the grid stay bad lines (``test_cli_bad_input.py``, the importers'
own tests); these fields never are. Each importer gets a ticker/mark frame whose prices are
finer than the tick and must keep their exact decimal value.
"""

from __future__ import annotations

import gzip
import json
from fractions import Fraction

import pytest

from paraphina import events as ev
from paraphina.decimals import to_fraction
from paraphina.importers import import_events
from paraphina.importers.common import BadRecord, ImportOptions, Units

def value(units: int, digits: int, tick: str) -> Fraction:
    return units * to_fraction(tick) / 10**digits


def write(tmp_path, name, lines):
    p = tmp_path / name
    with gzip.open(p, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    return str(p)


def test_bybit_documented_ticker_example_is_kept_exactly(tmp_path):
    # Bybit v5 docs, "Ticker" (linear): markPrice "17217.33" and indexPrice "17217.33" on BTCUSDT (tick 0.1).
    frame = {"topic": "tickers.BTCUSDT", "type": "snapshot", "cs": 24987956059, "ts": 1673272861686, "data": {
        "symbol": "BTCUSDT", "tickDirection": "PlusTick", "price24hPcnt": "0.017103", "lastPrice": "17216.00",
        "prevPrice24h": "16926.50", "highPrice24h": "17281.50", "lowPrice24h": "16915.00", "prevPrice1h": "17238.00",
        "markPrice": "17217.33", "indexPrice": "17227.36", "openInterest": "68744.761", "openInterestValue": "1183601235.91",
        "turnover24h": "1570383121.943499", "volume24h": "91705.276", "nextFundingTime": "1673280000000",
        "fundingRate": "-0.000212", "bid1Price": "17215.50", "bid1Size": "84.489", "ask1Price": "17216.00",
        "ask1Size": "83.020"}}
    delta = {"topic": "tickers.BTCUSDT", "type": "delta", "cs": 24987956060, "ts": 1673272861786,
             "data": {"symbol": "BTCUSDT", "markPrice": "17217.335", "fundingRate": "-0.0002125"}}
    path = write(tmp_path, "bybit.gz", [json.dumps(frame).encode(), json.dumps(delta).encode()])
    ins, events, summary = import_events("bybit", [path], ImportOptions(instrument="BTCUSDT", tick_size="0.1", lot_size="0.001"))
    assert summary.bad_lines == 0
    marks = [e for e in events if isinstance(e, ev.MarkPrice)]
    assert [(value(m.mark_price, m.sub_tick_digits, "0.1"), value(m.index_price, m.sub_tick_digits, "0.1"))
            for m in marks] == [(Fraction("17217.33"), Fraction("17227.36")), (Fraction("17217.335"), Fraction("17227.36"))]
    assert [m.sub_tick_digits for m in marks] == [1, 2]
    assert [m.mark_ticks() for m in marks] == [172173, 172173]  # 172173.3 and 172173.35 ticks, rounded
    rates = [e.rate for e in events if isinstance(e, ev.FundingRate)]
    assert rates == [-0.000212, -0.0002125]


def test_binance_mark_price_frame_is_kept_exactly(tmp_path):
    lines = [b'999 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT",'
             b'"U":5,"u":9,"pu":4,"b":[["61800.0","1.000"]],"a":[["61800.2","2.000"]]}}',
             b'1000 {"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1,"s":"BTCUSDT",'
             b'"p":"61800.12345678","i":"61790.05000000","P":"61801.0","r":"0.00010000","T":1723190400000}}',
             b'1001 {"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":2,"s":"BTCUSDT",'
             b'"p":"61800.10000000","i":"61790.00000000","P":"61801.0","r":"0.00010000","T":1723190400000}}']
    path = write(tmp_path, "usdm.gz", lines)
    ins, events, summary = import_events("binance", [path])
    assert ins.tick_size == "0.1" and summary.bad_lines == 0
    marks = [e for e in events if isinstance(e, ev.MarkPrice)]
    assert [(value(m.mark_price, m.sub_tick_digits, "0.1"), value(m.index_price, m.sub_tick_digits, "0.1"))
            for m in marks] == [(Fraction("61800.12345678"), Fraction("61790.05")), (Fraction("61800.1"), Fraction("61790"))]
    assert [m.sub_tick_digits for m in marks] == [7, 0]  # the second is on the grid: whole ticks
    assert [m.mark_ticks() for m in marks] == [618001, 618001]


def test_hyperliquid_asset_context_is_kept_exactly(tmp_path):
    frame = {"channel": "activeAssetCtx", "data": {"coin": "BTC", "ctx": {
        "funding": "0.0000125", "markPx": "105055.07", "oraclePx": "105061.375", "openInterest": "1.0"}}}
    path = write(tmp_path, "hl.gz", [b"1000 " + json.dumps(frame).encode()])
    ins, events, summary = import_events("hyperliquid", [path], ImportOptions(instrument="BTC", tick_size="0.1", lot_size="0.00001"))
    (m,) = [e for e in events if isinstance(e, ev.MarkPrice)]
    assert (m.mark_price, m.index_price, m.sub_tick_digits) == (105_055_070, 105_061_375, 2)
    assert value(m.index_price, m.sub_tick_digits, "0.1") == Fraction("105061.375")
    assert [e.rate for e in events if isinstance(e, ev.FundingRate)] == [0.0000125]


def test_book_prices_off_the_grid_remain_errors():
    u = Units.of(ev.Instrument(venue="x", symbol="X", tick_size="0.1", lot_size="1"))
    with pytest.raises(BadRecord, match="not a multiple of 0.1"):
        u.px("100.25")
    assert u.fine_px("100.25", None) == ([100_25, -1], 1)
    with pytest.raises(BadRecord, match="not a decimal"):
        u.fine_px("n/a")


def test_mark_ticks_rounds_half_to_even_and_keeps_unknown():
    assert [ev.ticks_of_fine(u, 1) for u in (15, 25, 26, 24)] == [2, 2, 3, 2]
    assert ev.ticks_of_fine(-1, 3) == -1
    assert ev.MarkPrice(ts_ns=0, venue=0, mark_price=1001).mark_ticks() == 1001
