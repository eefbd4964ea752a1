"""`paraphina report LOG`: one run's HTML page, from replaying its log with the trace observer."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from paraphina.cli import main
from paraphina.commands.common import resolve_config
from paraphina.research.run_report import NAMES, render_run_report
from paraphina.research.run_trace import attribution, trace_run

from conftest import run_cli


def figures(page: str) -> list[str]:
    return re.findall(r'<figure id="plot-([^"]+)">\s*<svg', page)


def check_page(page: str) -> None:
    assert figures(page) == list(NAMES)  # each named plot, in order
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        ET.fromstring(svg)  # well-formed
    for section in ("PnL attribution", "Fills", "Kill and regime changes", "Provenance"):
        assert f"<h2>{section}</h2>" in page
    assert "log sha256" in page and "config hash" in page and "versions" in page


def cli(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture(scope="module")
def sim_log(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sim")
    r = run_cli("run", "--ticks", "240", "--seed", "7", "-o", str(d / "run.arrow"))
    assert r.returncode == 0, r.stderr
    return d / "run.arrow"


def test_simulated_run_report(sim_log, tmp_path):
    assert cli("report", str(sim_log), "-o", str(tmp_path / "a.html")) == 0
    page = (tmp_path / "a.html").read_text()
    check_page(page)
    assert page.startswith("<!DOCTYPE html>") and "Simulated run of run.arrow | policy heuristic" in page
    assert "scenario default seed 7" in page
    # The same inputs give the same bytes, in another process with another hash seed too.
    r = run_cli("report", str(sim_log), "-o", str(tmp_path / "b.html"), env={"PYTHONHASHSEED": "123"})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b.html").read_bytes() == (tmp_path / "a.html").read_bytes()


def test_attribution_adds_up_to_the_engines_total(sim_log):
    cfg, _ = resolve_config(None, None, log=str(sim_log))
    t = trace_run(str(sim_log), "heuristic", cfg)
    assert t.fills and {f.purpose for f in t.fills} <= {"mm", "hedge", "exit"}
    rows = attribution(t)
    assert rows[-1][0] == "total (engine)"
    assert math.isclose(sum(v for _, v in rows[:-1]), rows[-1][1], abs_tol=1e-6)
    assert math.isclose(rows[-1][1], t.ticks.total[-1], abs_tol=1e-6)
    fees = dict(rows)["fees (rebates +)"]
    assert math.isclose(-fees, sum(f.fee for f in t.fills))
    # one row per main tick, every venue series as long as the clock
    n = len(t.ticks.ts_ns)
    assert n == t.summary["ticks"] and all(len(v) == n for v in t.ticks.venue_mid)


def test_latent_price_from_telemetry_is_drawn(sim_log, tmp_path):
    cfg, _ = resolve_config(None, None, log=str(sim_log))
    t = trace_run(str(sim_log), "heuristic", cfg)
    tel = tmp_path / "tel.jsonl"
    tel.write_text("".join(json.dumps({"t": i + 1, "latent_price": fv + 1.0}) + "\n"
                           for i, fv in enumerate(t.ticks.fair_value)))
    assert cli("report", str(sim_log), "--telemetry", str(tel), "-o", str(tmp_path / "r.html")) == 0
    page = (tmp_path / "r.html").read_text()
    assert "latent price (simulator)" in page and "against the latent price" in page
    # without it the page says nothing about a latent price
    assert "latent price (simulator)" not in render_run_report(t)


def test_recorded_actions_are_checked(sim_log, tmp_path):
    acts = tmp_path / "run.actions"
    assert cli("replay", str(sim_log), "--out", str(acts)) == 0
    assert cli("report", str(sim_log), "--actions", str(acts), "-o", str(tmp_path / "r.html")) == 0
    assert "matches the replay" in (tmp_path / "r.html").read_text()
    acts.write_text(acts.read_text().splitlines()[0] + "\n")
    assert cli("report", str(sim_log), "--actions", str(acts), "-o", str(tmp_path / "r.html")) == 2  # exists
    assert cli("report", str(sim_log), "--actions", str(acts), "-o", str(tmp_path / "r.html"), "--force") == 0
    assert "DIFFERS from the replay" in (tmp_path / "r.html").read_text()


def test_report_of_missing_input_is_one_line(tmp_path, capsys):
    assert cli("report", str(tmp_path / "nope.arrow")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file or directory" in err[0]
    assert cli("report", str(tmp_path), "--policy", "heuristic") == 2
    assert "are for a log, not a directory" in capsys.readouterr().err
    text = tmp_path / "notes.txt"
    text.write_text("not a log\n")
    assert cli("report", str(text)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "notes.txt" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "notes.report.html").exists()


@pytest.mark.real_data
def test_backtest_of_a_real_capture(real_data_dir, tmp_path):
    binance = real_data_dir / "binance"
    for name, src in (("usdm", "usdm_btcusdt_20240808.gz"), ("spot", "spot_btcusdt_20240808.gz")):
        assert cli("import", "binance", str(binance / src), "-o", str(tmp_path / f"{name}.arrow")) == 0
    assert cli("merge", str(tmp_path / "usdm.arrow"), str(tmp_path / "spot.arrow"), "--timer-ms", "250",
               "-o", str(tmp_path / "m.arrow")) == 0
    assert cli("backtest", str(tmp_path / "m.arrow"), "--config", "btc", "-o", str(tmp_path / "bt.arrow")) == 0
    assert cli("report", str(tmp_path / "bt.arrow")) == 0
    page = (tmp_path / "bt.report.html").read_text()
    check_page(page)
    assert "Backtest of bt.arrow | policy heuristic | market m.arrow" in page
    assert "binance-usdm: mid, our quotes and fills" in page and "mm buy" in page
    assert cli("report", str(tmp_path / "bt.arrow"), "-o", str(tmp_path / "again.html")) == 0
    assert (tmp_path / "again.html").read_bytes() == page.encode()
