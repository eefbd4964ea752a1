"""`paraphina import` on bad input: one line naming file (and line), exit 2, never a traceback."""

from __future__ import annotations

import gzip

import pytest

from paraphina.cli import main
from paraphina.eventlog import LogReader

GOOD = (b'1000 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT",'
        b'"U":5,"u":9,"pu":4,"b":[["100.0","1.000"]],"a":[["100.2","2.000"]]}}')
SNAP = b'1001 {"lastUpdateId":7,"E":1,"T":1,"bids":[["100.0","1.500"]],"asks":[["100.1","1.000"]]}'
NEXT = (b'1002 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT",'
        b'"U":10,"u":12,"pu":9,"b":[],"a":[["100.1","0.000"]]}}')
TRADE = b'1003 {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":1,"p":"100.1","q":"0.002","X":"MARKET","m":true}}'


def run(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def assert_one_line_error(code, err, *needles):
    assert code == 2, err
    assert "Traceback" not in err
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], lines[0]


def write_capture(path, lines):
    with gzip.open(path, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    return str(path)


def test_tiny_capture_imports(tmp_path, capsys):
    f = write_capture(tmp_path / "c.gz", [GOOD, SNAP, NEXT, TRADE])
    code, out, err = run(capsys, "import", "binance", f, "-o", str(tmp_path / "o.arrow"), "--venue", "bn")
    assert code == 0, err
    assert "gaps: 0" in out and "book_delta=2" in out and "book_snapshot=1" in out and "trade=1" in out
    r = LogReader(tmp_path / "o.arrow")
    evs = [e for _, e in r.events()]
    assert r.info.instruments[0].venue == "bn"
    assert [type(e).__name__ for e in evs] == ["BookSnapshot", "BookDelta", "BookDelta", "Trade"]
    assert evs[1].ts_ns == 1001  # buffered diff stamped with the snapshot's arrival
    assert (evs[1].prev_venue_seq, evs[1].venue_seq, evs[2].prev_venue_seq) == (7, 9, 9)


def test_missing_file(tmp_path, capsys):
    code, _, err = run(capsys, "import", "binance", str(tmp_path / "nope.gz"), "-o", str(tmp_path / "o.arrow"))
    assert_one_line_error(code, err, "nope.gz", "no such file")


def test_not_gzip(tmp_path, capsys):
    p = tmp_path / "plain.gz"
    p.write_bytes(GOOD + b"\n")
    code, _, err = run(capsys, "import", "binance", str(p), "-o", str(tmp_path / "o.arrow"))
    assert_one_line_error(code, err, "plain.gz", "not a gzip file")
    assert not (tmp_path / "o.arrow").exists()


def test_malformed_json_line_fails_then_skip_bad_counts(tmp_path, capsys):
    f = write_capture(tmp_path / "c.gz", [GOOD, SNAP, b'1001 {"stream": "oops', NEXT, TRADE])
    out_path = tmp_path / "o.arrow"
    code, _, err = run(capsys, "import", "binance", f, "-o", str(out_path))
    assert_one_line_error(code, err, "c.gz:3", "malformed JSON", "--skip-bad")
    assert not out_path.exists() and not (tmp_path / "o.arrow.partial").exists()
    code, out, err = run(capsys, "import", "binance", f, "-o", str(out_path), "--skip-bad")
    assert code == 0, err
    assert "bad lines: 1" in out and "c.gz:3: malformed JSON" in out and "trade=1" in out


def test_unknown_source(tmp_path, capsys):
    f = write_capture(tmp_path / "c.gz", [GOOD])
    code, _, err = run(capsys, "import", "kraken", f, "-o", str(tmp_path / "o.arrow"))
    assert_one_line_error(code, err, "unknown source 'kraken'", "binance")


def test_price_off_the_tick_grid(tmp_path, capsys):
    bad = NEXT.replace(b'"100.1","0.000"', b'"100.15","0.000"')
    f = write_capture(tmp_path / "c.gz", [GOOD, SNAP, bad])
    code, _, err = run(capsys, "import", "binance", f, "-o", str(tmp_path / "o.arrow"), "--tick-size", "0.1")
    assert_one_line_error(code, err, "c.gz:3", "'100.15' is not a multiple of 0.1")


def test_bad_tick_size_option(tmp_path, capsys):
    f = write_capture(tmp_path / "c.gz", [GOOD, SNAP])
    code, _, err = run(capsys, "import", "binance", f, "-o", str(tmp_path / "o.arrow"), "--tick-size", "0.1.0")
    assert_one_line_error(code, err, "--tick-size", "not a decimal number")


def test_output_exists(tmp_path, capsys):
    f = write_capture(tmp_path / "c.gz", [GOOD, SNAP])
    (tmp_path / "o.arrow").write_bytes(b"x")
    code, _, err = run(capsys, "import", "binance", f, "-o", str(tmp_path / "o.arrow"))
    assert_one_line_error(code, err, "o.arrow", "already exists")


def test_truncated_gzip(tmp_path, capsys):
    f = write_capture(tmp_path / "c.gz", [GOOD, SNAP, NEXT, TRADE] * 50)
    data = (tmp_path / "c.gz").read_bytes()
    (tmp_path / "c.gz").write_bytes(data[: len(data) // 2])
    code, _, err = run(capsys, "import", "binance", f, "-o", str(tmp_path / "o.arrow"))
    assert_one_line_error(code, err, "c.gz", "corrupt or truncated")
