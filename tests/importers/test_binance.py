"""Binance captures: sync, continuity, the bookTicker cross-check, gaps and recovery."""

from __future__ import annotations

import gzip
import json
from fractions import Fraction

import pytest

from paraphina import events as ev
from paraphina.decimals import Grid
from paraphina.importers import import_events
from paraphina.importers.common import ImportOptions

from helpers import RefBook, book_tickers, raw_lines

CAPTURES = {
    "usdm": "usdm_btcusdt_20240808.gz",
    "coinm": "cm_btcusd_perp_20240808.gz",
    "spot": "spot_btcusdt_20240808.gz",
}
# bookTickers whose u equals a diff's u (all compared) / those arriving while the book is at u.
EXPECTED_TICKERS = {"usdm": (629, 126), "coinm": (1124, 0), "spot": (564, 0)}


@pytest.fixture(scope="module")
def imported(real_data_dir):
    out = {}
    for market, name in CAPTURES.items():
        path = real_data_dir / "binance" / name
        out[market] = (path, *import_events("binance", [str(path)]))
    return out


@pytest.mark.parametrize("market", list(CAPTURES))
def test_zero_gaps_and_every_book_ticker_matches(imported, market):
    _path, ins, events, summary = imported[market]
    checked, at_arrival = EXPECTED_TICKERS[market]
    assert summary.gaps == 0 and summary.bad_lines == 0
    assert summary.checks["crossed_books"] == 0
    assert summary.checks["book_ticker_checked"] == checked
    assert summary.checks["book_ticker_matched"] == checked
    assert summary.checks["book_ticker_at_arrival_checked"] == at_arrival
    assert summary.checks["book_ticker_at_arrival_matched"] == at_arrival
    kinds = [type(e) for e in events]
    assert kinds.count(ev.BookSnapshot) == 1 and ev.GapDetected not in kinds


@pytest.mark.parametrize("market", list(CAPTURES))
def test_reference_book_agrees_with_book_ticker(imported, market):
    """An independent SortedDict book fed with the emitted events, checked against the raw tickers."""
    path, ins, events, summary = imported[market]
    ref = RefBook()
    tops: dict[int, tuple] = {}
    ts_prev = 0
    for e in events:
        assert e.ts_ns >= ts_prev
        ts_prev = e.ts_ns
        if isinstance(e, ev.BookSnapshot):
            ref.snapshot(e)
        elif isinstance(e, ev.BookDelta):
            ref.delta(e)  # asserts continuity
            assert not ref.crossed(), f"crossed book after u={e.venue_seq}"
            tops[e.venue_seq] = ref.top()
    tickers = [(u, t) for u, t in book_tickers(path, ins) if u in tops]
    assert len(tickers) == EXPECTED_TICKERS[market][0]
    assert all(tops[u] == t for u, t in tickers)
    n_diffs = sum(1 for l in raw_lines(path) if b"depthUpdate" in l)
    assert summary.checks["diffs"] == n_diffs
    assert summary.events["book_delta"] == n_diffs - summary.checks["diffs_dropped_before_sync"]


def test_instruments_and_units(imported):
    assert imported["usdm"][1].tick_size == "0.1" and imported["usdm"][1].lot_size == "0.001"
    assert imported["coinm"][1].lot_size == "1" and imported["coinm"][1].contract_size == "100"
    assert imported["spot"][1].tick_size == "0.01" and imported["spot"][1].lot_size == "0.000001"
    # First USD-M trade of the capture: 61800.30 x 0.006, buyer not maker -> buy.
    t = next(e for e in imported["usdm"][2] if isinstance(e, ev.Trade))
    assert (t.price, t.size, t.side, t.trade_id) == (618003, 6, ev.BUY, "5266583935")


def test_coinm_contracts_to_base(real_data_dir):
    path = real_data_dir / "binance" / CAPTURES["coinm"]
    ins, events, summary = import_events("binance", [str(path)], ImportOptions(contract_size_to_base=True))
    assert ins.lot_size == "0.00000001" and ins.contract_size == ""
    assert summary.checks["book_ticker_matched"] == summary.checks["book_ticker_checked"] == 1124
    snap = next(e for e in events if isinstance(e, ev.BookSnapshot))
    # Hand check: 35 contracts of 100 USD at 61804.7 = 0.056629998... BTC -> 5663000 satoshi.
    raw = json.loads(next(l for l in raw_lines(path) if b"lastUpdateId" in l).split(b" ", 1)[1])
    p0, q0 = raw["bids"][0]
    assert (p0, q0) == ("61804.7", "35")
    i = snap.bid_px.index(618047)
    assert snap.bid_sz[i] == round(Fraction(35 * 100) / Fraction("61804.7") / Fraction("0.00000001")) == 5663000


def _write_gz(path, lines):
    with gzip.open(path, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")


def test_injected_gap_is_detected_and_recovers_at_next_snapshot(imported, tmp_path):
    path, ins, clean_events, _ = imported["usdm"]
    lines = raw_lines(path)
    diff_idx = [i for i, l in enumerate(lines) if b"depthUpdate" in l]
    snap_idx = next(i for i, l in enumerate(lines) if b"lastUpdateId" in l)
    after = [i for i in diff_idx if i > snap_idx]
    drop = after[100]           # removed diff: the gap
    resync = after[2000]        # a fresh REST snapshot is inserted right after this diff
    dropped = json.loads(lines[drop].split(b" ", 1)[1])["data"]
    before = json.loads(lines[after[99]].split(b" ", 1)[1])["data"]
    resync_u = json.loads(lines[resync].split(b" ", 1)[1])["data"]["u"]

    # The book at resync_u, from the clean import through the reference book.
    ref = RefBook()
    for e in clean_events:
        if isinstance(e, ev.BookSnapshot):
            ref.snapshot(e)
        elif isinstance(e, ev.BookDelta):
            ref.delta(e)
            if e.venue_seq == resync_u:
                break
    px, sz = Grid(ins.tick_size), Grid(ins.lot_size)
    snap = {"lastUpdateId": resync_u,
            "bids": [[px.to_string(p), sz.to_string(s)] for p, s in reversed(ref.bids.items())],
            "asks": [[px.to_string(p), sz.to_string(s)] for p, s in ref.asks.items()]}
    ts_resync = int(lines[resync].split(b" ", 1)[0]) + 1
    new = list(lines)
    new.insert(resync + 1, f"{ts_resync} {json.dumps(snap)}".encode())
    del new[drop]
    copy = tmp_path / "gap.gz"
    _write_gz(copy, new)

    _ins, events, summary = import_events("binance", [str(copy)])
    gaps = [e for e in events if isinstance(e, ev.GapDetected)]
    assert summary.gaps == len(gaps) == 1
    g = gaps[0]
    assert (g.expected, g.received) == (before["u"], dropped["u"])
    gi = events.index(g)
    # No book events between the gap and the new snapshot; the snapshot carries resync_u.
    between = [e for e in events[gi + 1:] if isinstance(e, (ev.BookDelta, ev.BookSnapshot))]
    assert isinstance(between[0], ev.BookSnapshot) and between[0].venue_seq == resync_u
    assert summary.checks["book_ticker_matched"] == summary.checks["book_ticker_checked"] > 0
    # After recovery the book follows the clean one to the end.
    def final_top(evts):
        r = RefBook()
        for e in evts:
            if isinstance(e, ev.BookSnapshot):
                r.snapshot(e)
            elif isinstance(e, ev.BookDelta):
                r.delta(e)
        return r.seq, r.top()
    assert final_top(events[gi + 1:]) == final_top(clean_events)


def test_gap_without_later_snapshot_stops_the_book(imported, tmp_path):
    path, ins, clean_events, _ = imported["spot"]
    lines = raw_lines(path)
    snap_idx = next(i for i, l in enumerate(lines) if b"lastUpdateId" in l)
    after = [i for i, l in enumerate(lines) if b"depthUpdate" in l and i > snap_idx]
    new = list(lines)
    del new[after[50]]
    copy = tmp_path / "gap_spot.gz"
    _write_gz(copy, new)
    _ins, events, summary = import_events("binance", [str(copy)])
    assert summary.gaps == 1
    g = next(e for e in events if isinstance(e, ev.GapDetected))
    prev_u = json.loads(lines[after[49]].split(b" ", 1)[1])["data"]["u"]
    got_u = json.loads(lines[after[51]].split(b" ", 1)[1])["data"]["U"]
    assert (g.expected, g.received) == (prev_u + 1, got_u)
    assert not [e for e in events[events.index(g):] if isinstance(e, ev.BookDelta)]
    assert summary.checks["diffs_unapplied"] > 0
    assert summary.events["trade"] == sum(1 for e in clean_events if isinstance(e, ev.Trade))
