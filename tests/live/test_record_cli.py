"""`paraphina record` options and input checks, the injectable clock, and the operator view."""

from __future__ import annotations

import asyncio

import pytest

from paraphina import events as ev
from paraphina.cli import main
from paraphina.commands.record import parse_duration
from paraphina.errors import UserError
from paraphina.live.feeds import VenueSpec, make_feed, parse_endpoints, parse_venue, instrument_for
from paraphina.live.recorder import Recorder, RecordSettings, StatusView

from livetools import USDM, btc_config, capture, record_session, recorded


def run(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.mark.parametrize("args, needle", [
    (["--venue", "kraken:BTC"], "unknown venue 'kraken'"),
    (["--venue", "binance-usdm"], "expected VENUE:SYMBOL"),
    (["--venue", "binance-usdm:DOGEUSDT"], "no tick/lot defaults for 'DOGEUSDT'"),
    (["--venue", "hyperliquid:BTC", "--endpoint", "hyperliquid"], "expected VENUE=URL"),
    (["--venue", "hyperliquid:BTC", "--endpoint", "okx=ws://127.0.0.1:1"], "unknown venue 'okx'"),
    (["--venue", "hyperliquid:BTC", "--endpoint", "hyperliquid=ftp://x"], "must start with ws://"),
    (["--venue", "hyperliquid:BTC", "--duration", "soon"], "--duration 'soon'"),
    (["--venue", "hyperliquid:BTC", "--venue", "hyperliquid:BTC"], "given twice"),
    (["--venue", "hyperliquid:BTC", "--policy", "nope"], "unknown policy 'nope'"),
    (["--venue", "hyperliquid:BTC", "--candidate", "fixed-spread"], "--candidate needs --policy"),
    (["--venue", "hyperliquid:BTC", "--policy", "heuristic", "--candidate", "nope"], "unknown policy 'nope'"),
    (["--venue", "hyperliquid:BTC", "--policy", "heuristic", "--candidate", "onnx"], "policy 'onnx' needs --model FILE"),
    (["--venue", "hyperliquid:BTC", "--policy", "heuristic", "--model", "m.onnx"], "--model is for an onnx --policy"),
    (["--venue", "hyperliquid:BTC", "--policy", "onnx", "--model", "/nonexistent/m.onnx"], "cannot read model"),
])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, args, needle):
    code, _out, err = run(capsys, "record", "-o", str(tmp_path / "s.arrow"), *args)
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err, err
    assert not (tmp_path / "s.arrow").exists()


def test_existing_output_is_refused_without_force(capsys, tmp_path):
    (tmp_path / "s.arrow").write_bytes(b"keep")
    code, _out, err = run(capsys, "record", "-o", str(tmp_path / "s.arrow"), "--venue", "hyperliquid:BTC")
    assert code == 2 and "already exists" in err
    assert (tmp_path / "s.arrow").read_bytes() == b"keep"


def test_output_in_a_missing_directory_is_one_line(capsys, tmp_path):
    code, _out, err = run(capsys, "record", "-o", str(tmp_path / "nope" / "s.arrow"), "--venue", "hyperliquid:BTC")
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1


def test_durations_and_endpoints():
    assert parse_duration("10m") == 600.0 and parse_duration("1.5h") == 5400.0
    assert parse_duration("500ms") == 0.5 and parse_duration("90") == 90.0
    with pytest.raises(UserError):
        parse_duration("0s")
    spec = parse_venue("binance-usdm:BTCUSDT")
    ins = instrument_for(spec)
    assert (ins.tick_size, ins.lot_size) == ("0.1", "0.001")
    assert instrument_for(parse_venue("binance-coinm:BTCUSD_PERP")).contract_size == "100"
    kw = dict(clock=None, sink=lambda e: None)
    f = make_feed(0, spec, ins, parse_endpoints(["binance-usdm=ws://127.0.0.1:9/"]), **kw)
    assert f.connect_url() == "ws://127.0.0.1:9/public/stream?streams=btcusdt@depth@100ms/btcusdt@trade"
    assert [m.connect_url() for m in f.market_streams] == ["ws://127.0.0.1:9/market/stream?streams=btcusdt@markPrice@1s"]
    assert f.rest_url == "http://127.0.0.1:9"
    f = make_feed(0, spec, ins, parse_endpoints(["binance-usdm=ws://a:1", "binance-usdm-rest=http://b:2"]), **kw)
    assert f.rest_url == "http://b:2"
    f = make_feed(0, spec, ins, {}, **kw)
    assert f.connect_url().startswith("wss://fstream.binance.com/public/stream?") and f.rest_url == "https://fapi.binance.com"


class StepClock:
    """1 ms per reading, from a fixed origin: every stamp is predictable."""

    def __init__(self) -> None:
        self.t = 1_700_000_000_000_000_000

    def now_ns(self) -> int:
        self.t += 1_000_000
        return self.t


def test_events_are_stamped_by_the_injected_clock(real_data_dir, tmp_path):
    cap = capture(str(real_data_dir), USDM, 400)
    clock = StepClock()
    asyncio.run(record_session(cap, USDM[2], tmp_path / "c.arrow", clock=clock))
    got = recorded(tmp_path / "c.arrow")
    ts = [e.ts_ns for e in got]
    origin = 1_700_000_000_000_000_000
    assert all(origin < t <= clock.t and (t - origin) % 1_000_000 == 0 for t in ts)
    assert ts == sorted(ts)
    # Diffs buffered before the REST snapshot carry the snapshot's stamp (importer trap 1).
    snap = next(i for i, e in enumerate(got) if isinstance(e, ev.BookSnapshot))
    assert isinstance(got[snap + 1], ev.BookDelta) and got[snap + 1].ts_ns == got[snap].ts_ns


class ListLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict]] = []

    def info(self, what, **kw):
        self.lines.append((what, kw))

    warning = info


def test_status_view_line_and_structured_logs(tmp_path):
    log = ListLog()
    settings = RecordSettings(out=str(tmp_path / "v.arrow"), venues=[VenueSpec("binance-usdm", "BTCUSDT"),
                              VenueSpec("hyperliquid", "BTC")], config=btc_config(), log_interval_s=0.05)
    rec = Recorder(settings, clock=StepClock(), log=log)
    rec.feeds[0].stats.events = 500
    rec.feeds[0].stats.gaps = 2
    rec.feeds[0].stats.last_book_ns = rec.clock.now_ns()
    view = StatusView(rec, settings)
    snap = view.snapshot(2.0)
    assert snap["venues"][0]["eps"] == 250.0 and snap["venues"][1]["book_age_s"] is None
    line = view.line(snap)
    assert "binance-usdm 250/s" in line and "gaps 2" in line and "hyperliquid 0/s book -" in line
    view.tty = False

    async def briefly():
        try:
            await asyncio.wait_for(view.run(), 0.2)
        except asyncio.TimeoutError:
            pass

    asyncio.run(briefly())
    status = [kw for what, kw in log.lines if what == "record_status"]
    assert any(kw.get("venue") == "binance-usdm" for kw in status)
    assert any("regime" in kw for kw in status)
