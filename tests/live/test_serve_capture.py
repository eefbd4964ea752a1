"""`paraphina serve-capture` for hand testing, and `record` with any symbol (--tick-size/--lot-size)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from paraphina.errors import UserError
from paraphina.live.feeds import instrument_for, parse_venue

from conftest import ROOT, run_cli


def test_record_takes_any_symbol_with_tick_and_lot():
    with pytest.raises(UserError, match="pass --tick-size and --lot-size"):
        instrument_for(parse_venue("bybit:DOGEUSDT"))
    ins = instrument_for(parse_venue("bybit:DOGEUSDT"), "0.00001", "1")
    assert (ins.venue, ins.symbol, ins.tick_size, ins.lot_size, ins.kind) == ("bybit", "DOGEUSDT", "0.00001", "1", "perp")
    assert instrument_for(parse_venue("binance-usdm:BTCUSDT"), "0.01").tick_size == "0.01"
    with pytest.raises(UserError, match="--tick-size 'x'"):
        instrument_for(parse_venue("bybit:DOGEUSDT"), "x", "1")
    from paraphina.commands.record import venue_grids

    specs = [parse_venue("bybit:DOGEUSDT"), parse_venue("hyperliquid:BTC")]
    assert venue_grids(specs, ["bybit=0.00001"], ["1"]) == {"bybit": ("0.00001", "1"), "hyperliquid": (None, "1")}
    with pytest.raises(UserError, match="'okx' is not a --venue"):
        venue_grids(specs, ["okx=0.1"], [])


def test_record_of_an_unknown_symbol_without_a_grid_is_one_line(tmp_path):
    p = run_cli("record", "--venue", "bybit:DOGEUSDT", "-o", str(tmp_path / "s.arrow"), "--duration", "1s")
    assert p.returncode == 2 and "pass --tick-size and --lot-size" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_serve_capture_then_record_against_it(real_data_dir, tmp_path):
    cap = real_data_dir / "bybit" / "xrpusdt-ob500.data.zip"
    server = subprocess.Popen([sys.executable, "-m", "paraphina", "serve-capture", str(cap), "--speed", "50"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=dict(os.environ))
    try:
        first = server.stdout.readline()
        command = server.stdout.readline()
        url = re.search(r"ws://127\.0\.0\.1:\d+", first).group(0)
        assert first.startswith("bybit XRPUSDT: ") and "(50 frames)" in first
        assert f"--endpoint bybit={url}" in command and "--tick-size bybit=0.0001 --lot-size bybit=1" in command
        out = tmp_path / "s.arrow"
        rec = run_cli("record", "--venue", "bybit:XRPUSDT", "--endpoint", f"bybit={url}", "--tick-size", "bybit=0.0001",
                      "--lot-size", "bybit=1", "-o", str(out), "--duration", "3s", "--status", "off")
        assert rec.returncode == 0, rec.stderr[-2000:]
        assert "bybit:XRPUSDT: frames " in rec.stdout and "snapshots 1" in rec.stdout
    finally:
        server.send_signal(signal.SIGINT)
        stdout, stderr = server.communicate(timeout=20)
    assert server.returncode == 0, stderr
    assert "bybit: connections 1 | frames sent 50 | REST 0 | refused 0" in stdout
