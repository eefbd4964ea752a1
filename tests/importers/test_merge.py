"""Merging single-venue logs: order, venue remapping, determinism (also on the real captures)."""

from __future__ import annotations

import numpy as np
import pytest

from paraphina import events as ev
from paraphina.eventlog import LogReader, write_events
from paraphina.importers import run_import
from paraphina.importers.common import BadInput
from paraphina.importers.merge import merge_logs

from helpers import RefBook


def ins(name):
    return ev.Instrument(venue=name, symbol="X", tick_size="0.1", lot_size="1")


def test_order_ties_and_payload_remap(tmp_path):
    a = tmp_path / "a.arrow"
    b = tmp_path / "b.arrow"
    write_events(a, [ins("a")], [
        ev.Trade(ts_ns=10, venue=0, price=1, size=1, side=1, trade_id="a1"),
        ev.Trade(ts_ns=20, venue=0, price=2, size=1, side=1, trade_id="a2"),
        ev.Trade(ts_ns=20, venue=0, price=3, size=1, side=1, trade_id="a3"),
    ])
    write_events(b, [ins("b0"), ins("b1")], [
        ev.Trade(ts_ns=5, venue=1, price=4, size=1, side=-1, trade_id="b1"),
        ev.GapDetected(ts_ns=20, venue=1, expected=3, received=5),
        ev.FundingRate(ts_ns=30, venue=0, rate=0.001),
    ])
    out = tmp_path / "m.arrow"
    lines = merge_logs([str(a), str(b)], str(out), timer_ms=0)
    assert lines[0].startswith("inputs: 2 | venues: 3 | events: 6")
    r = LogReader(out)
    evs = [e for _, e in r.events()]
    assert [i.venue for i in r.info.instruments] == ["a", "b0", "b1"]
    assert [getattr(e, "trade_id", type(e).__name__) for e in evs] == ["b1", "a1", "a2", "a3", "GapDetected", "FundingRate"]
    assert [e.venue for e in evs] == [2, 0, 0, 0, 2, 1]


def test_timer_grid(tmp_path):
    a = tmp_path / "a.arrow"
    write_events(a, [ins("a")], [ev.Trade(ts_ns=t * 1_000_000, venue=0, price=1, size=1, side=1) for t in (1, 250, 251, 600)])
    out = tmp_path / "m.arrow"
    merge_logs([str(a)], str(out), timer_ms=250)
    evs = [e for _, e in LogReader(out).events()]
    assert [(type(e).__name__, e.ts_ns // 1_000_000) for e in evs] == [
        ("Trade", 1), ("Trade", 250), ("Timer", 250), ("Trade", 251), ("Timer", 500), ("Trade", 600)]


def test_unsorted_input_is_an_error(tmp_path):
    a = tmp_path / "a.arrow"
    write_events(a, [ins("a")], [ev.Trade(ts_ns=t, venue=0, price=1, size=1, side=1) for t in (5, 3)])
    with pytest.raises(BadInput, match="ts_ns decreases at seq 1"):
        merge_logs([str(a)], str(tmp_path / "m.arrow"))


@pytest.fixture(scope="module")
def binance_logs(real_data_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("binance_logs")
    out = []
    for name, f in (("usdm", "usdm_btcusdt_20240808.gz"), ("coinm", "cm_btcusd_perp_20240808.gz"),
                    ("spot", "spot_btcusdt_20240808.gz")):
        p = d / f"{name}.arrow"
        run_import("binance", [str(real_data_dir / "binance" / f)], str(p))
        out.append(str(p))
    return d, out


def test_merge_three_binance_venues(binance_logs):
    d, logs = binance_logs
    m1, m2 = d / "m1.arrow", d / "m2.arrow"
    merge_logs(logs, str(m1), timer_ms=250)
    merge_logs(logs, str(m2), timer_ms=250)
    assert m1.read_bytes() == m2.read_bytes()
    r = LogReader(m1)
    assert [i.venue for i in r.info.instruments] == ["binance-usdm", "binance-coinm", "binance-spot"]
    ts = np.concatenate([c.ts_ns for c in r.iter_columns()])
    assert np.all(np.diff(ts) >= 0)
    books = {v: RefBook() for v in range(3)}
    counts = {v: 0 for v in range(3)}
    timers = 0
    for _, e in LogReader(m1).events():
        if isinstance(e, ev.BookSnapshot):
            books[e.venue].snapshot(e)
        elif isinstance(e, ev.BookDelta):
            books[e.venue].delta(e)  # continuity survives the merge
            counts[e.venue] += 1
        elif isinstance(e, ev.Timer):
            timers += 1
    assert counts == {0: 6547, 1: 26824, 2: 3449}
    assert timers > 1300


def test_build_real_manifest(real_data_dir, tmp_path):
    from pathlib import Path

    from paraphina.importers.manifest import build, load_manifest

    manifest = Path(__file__).resolve().parents[2] / "event_logs" / "real_manifest.toml"
    assert [l["name"] for l in load_manifest(manifest)] == ["binance_btc_3venue"]
    out = build(manifest, real_data_dir, tmp_path, echo=lambda s: None)
    r = LogReader(out[0])
    assert [i.venue for i in r.info.instruments] == ["binance-usdm", "binance-coinm", "binance-spot"]
    assert r.info.instruments[1].lot_size == "0.00000001"
    assert sum(len(c) for c in r.iter_columns()) == 71562


def test_build_real_rejects_a_changed_source(real_data_dir, tmp_path):
    from pathlib import Path

    from paraphina.importers.manifest import build

    src = Path(__file__).resolve().parents[2] / "event_logs" / "real_manifest.toml"
    text = src.read_text().replace("0ad7b3a0f5", "1ad7b3a0f5")
    m = tmp_path / "m.toml"
    m.write_text(text)
    with pytest.raises(BadInput, match="usdm_btcusdt_20240808.gz: sha256 0ad7b3a0f5"):
        build(m, real_data_dir, tmp_path / "out", echo=lambda s: None)
