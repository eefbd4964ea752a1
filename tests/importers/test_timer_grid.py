"""Imported and merged logs carry the main loop's timer grid, so the engine's loops run."""

from __future__ import annotations

import gzip
import os

import pytest

from paraphina import events as ev
from paraphina.cli import main
from paraphina.config import adapt_to_instruments, load_config
from paraphina.errors import UserError
from paraphina.eventlog import LogReader, write_events
from paraphina.importers.merge import merge_logs
from paraphina.importers.timers import MAX_TIMERS, with_timers

MS = 1_000_000
DAY_NS = 86_400 * 10**9

LINES = [
    b'1000000 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT",'
    b'"U":5,"u":9,"pu":4,"b":[["100.0","1.000"]],"a":[["100.2","2.000"]]}}',
    b'1000001 {"lastUpdateId":7,"E":1,"T":1,"bids":[["100.0","1.500"]],"asks":[["100.1","1.000"]]}',
]
for k in range(1, 9):  # a trade every 150 ms
    LINES.append(b'%d {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":%d,'
                 b'"p":"100.1","q":"0.002","X":"MARKET","m":true}}' % (1_000_001 + k * 150 * MS, k))


def ins(name):
    return ev.Instrument(venue=name, symbol="X", tick_size="0.1", lot_size="1")


def trades(*ms):
    return [ev.Trade(ts_ns=t * MS, venue=0, price=1, size=1, side=1) for t in ms]


def run(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def kinds(path):
    return [(type(e).__name__, e.ts_ns) for _, e in LogReader(path).events()]


def test_with_timers_lays_the_same_grid_as_merge(tmp_path):
    evs = trades(1, 250, 251, 600, 600, 1100)
    woven = [(type(e).__name__, e.ts_ns // MS) for e in with_timers(evs, 250)]
    assert woven == [("Trade", 1), ("Trade", 250), ("Timer", 250), ("Trade", 251), ("Timer", 500),
                     ("Trade", 600), ("Trade", 600), ("Timer", 750), ("Timer", 1000), ("Trade", 1100)]
    a = tmp_path / "a.arrow"
    write_events(a, [ins("a")], evs)
    merge_logs([str(a)], str(tmp_path / "m.arrow"), timer_ms=250)
    assert [(k, t // MS) for k, t in kinds(tmp_path / "m.arrow")] == woven
    assert list(with_timers(evs, 0)) == evs


def test_import_adds_timers_by_default_and_replay_quotes(tmp_path, capsys):
    cap = tmp_path / "c.gz"
    with gzip.open(cap, "wb") as f:
        f.write(b"\n".join(LINES) + b"\n")
    out = tmp_path / "a.arrow"
    code, text, err = run(capsys, "import", "binance", str(cap), "-o", str(out))
    assert code in (0, None), err
    assert "timer=4" in text  # grid points 250..1000 ms + 1 ms offset -> 250, 500, 750, 1000 ms before the last trade
    timers = [t for k, t in kinds(out) if k == "Timer"]
    assert timers == [250 * MS, 500 * MS, 750 * MS, 1000 * MS]
    assert LogReader(out).info.session["timer_ms"] == 250
    code, text, err = run(capsys, "replay", str(out), "--policy", "fixed-spread")
    assert code in (0, None), err
    assert "ticks: 4" in text and "actions: 0" not in text

    none = tmp_path / "none.arrow"
    code, text, err = run(capsys, "import", "binance", str(cap), "-o", str(none), "--timer-ms", "0")
    assert code in (0, None), err
    assert not [k for k, _ in kinds(none) if k == "Timer"]


def test_merge_replaces_the_inputs_grids_with_one(tmp_path):
    a, b = tmp_path / "a.arrow", tmp_path / "b.arrow"
    write_events(a, [ins("a")], list(with_timers(trades(1, 300, 700), 250)))
    write_events(b, [ins("b")], list(with_timers(trades(2, 260, 900), 250)))
    out = tmp_path / "m.arrow"
    lines = merge_logs([str(a), str(b)], str(out))  # default: 250 ms
    assert "the inputs' own timers dropped: 5" in lines[0]
    timers = [t // MS for k, t in kinds(out) if k == "Timer"]
    assert timers == [250, 500, 750]
    kept = tmp_path / "k.arrow"
    lines = merge_logs([str(a), str(b)], str(kept), timer_ms=0)
    assert "no timers added" in lines[0]
    assert len([k for k, _ in kinds(kept) if k == "Timer"]) == 5


def test_an_absurd_timer_grid_is_refused_before_it_is_written(tmp_path):
    a, b = tmp_path / "a.arrow", tmp_path / "b.arrow"
    write_events(a, [ins("a")], trades(1))
    write_events(b, [ins("b")], [ev.Trade(ts_ns=13 * DAY_NS, venue=0, price=1, size=1, side=1)])
    out = tmp_path / "m.arrow"
    with pytest.raises(UserError, match=r"--timer-ms 1: .* timers"):
        merge_logs([str(a), str(b)], str(out), timer_ms=1)
    assert not out.exists() and not os.path.exists(f"{out}.partial")
    with pytest.raises(UserError, match=r"--timer-ms 1: the grid would hold more than 20,000,000 timers"):
        list(with_timers([*trades(1), ev.Trade(ts_ns=13 * DAY_NS, venue=0, price=1, size=1, side=1)], 1))
    assert MAX_TIMERS * 250 * MS > 50 * DAY_NS  # the default grid covers weeks of capture


def test_merge_timer_ms_must_not_be_negative(tmp_path, capsys):
    a = tmp_path / "a.arrow"
    write_events(a, [ins("a")], trades(1))
    code, _, err = run(capsys, "merge", str(a), "-o", str(tmp_path / "m.arrow"), "--timer-ms", "-5")
    assert code == 2 and "--timer-ms" in err and "-5" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_one_venue_config_takes_fair_value_from_it_and_does_not_hedge():
    cfg = load_config()
    one = adapt_to_instruments(cfg, [ins("solo")])
    assert cfg.book.min_healthy_for_kf == 2
    assert one.book.min_healthy_for_kf == 1
    assert one.venue("solo").is_hedge_allowed is False
    assert adapt_to_instruments(one, [ins("solo")]) == one  # idempotent
    listed = load_config({"venues": [{"name": "solo"}, {"name": "other"}]})
    one_listed = adapt_to_instruments(listed, [ins("solo")])
    assert one_listed.venue("solo").is_hedge_allowed is False and one_listed.venue("other").is_hedge_allowed
    assert adapt_to_instruments(cfg, [ins("a"), ins("b")]) is cfg
    three = load_config({"book": {"min_healthy_for_kf": 3}})
    assert adapt_to_instruments(three, [ins("a"), ins("b")]).book.min_healthy_for_kf == 2
