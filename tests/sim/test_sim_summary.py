"""The stdout contract (RESEARCH_CONTRACTS.md section 7) and batch_runs.metrics parsing it."""

from __future__ import annotations

import math
import re

import pytest

from batch_runs.metrics import aggregate_basic, parse_daily_summary
from paraphina.sim.summary import format_run_output, header_line, signed

HASH = "ab" * 32


def output(**summary):
    s = {"realised": 6.549, "unrealised": 30.651, "total": 37.2, "kill_switch": False, "kill_reason": "",
         "risk_regime": "Normal", **summary}
    return format_run_output(cfg_version="v0.1.0", cfg_hash="0123456789abcdef" * 4, profile="balanced", ticks=300,
                             seed=42, events=1234, actions=56, sha256=HASH, summary=s,
                             killed_at_tick=summary.get("_killed_at"))


def test_the_whole_output_matches_the_contract():
    assert output().splitlines() == [
        "paraphina | cfg=v0.1.0 | cfg_hash=0x0123456789abcdef | profile=Balanced | ticks=300 | seed=42",
        "events: 1234",
        "actions: 56",
        f"action_stream_sha256: {HASH}",
        "",
        "=== Daily Summary ===",
        "Daily PnL (realised / unrealised / total): +6.55 / +30.65 / +37.20",
        "Kill switch: false",
        "Risk regime: Normal",
    ]


def test_header_shape():
    line = header_line("v1", "0x" + "F" * 64, "conservative", 2000, None)
    assert re.fullmatch(r"paraphina \| cfg=\S+ \| cfg_hash=0x[0-9a-f]{16} \| profile=Conservative \| ticks=2000 \| "
                        r"seed=none", line)


@pytest.mark.parametrize("x, s", [(0.0, "+0.00"), (-0.004, "+0.00"), (-0.005, "-0.01"), (1.005, "+1.00"),
                                  (-12.3456, "-12.35"), (1234567.891, "+1234567.89")])
def test_signed(x, s):
    assert signed(x) == s


def test_kill_reason_only_when_killed_and_the_early_stop_line():
    out = output(realised=-4000.0, unrealised=-1000.5, total=-5000.5, kill_switch=True, kill_reason="PnlHardBreach",
                 risk_regime="HardLimit", _killed_at=117)
    lines = out.splitlines()
    assert "Kill switch: true" in lines and "Kill reason: PnlHardBreach" in lines
    assert lines.index("Kill reason: PnlHardBreach") == lines.index("Kill switch: true") + 1
    assert "Kill switch active at tick 117 - stopping simulation early (reason: PnlHardBreach)." in lines
    assert "Daily PnL (realised / unrealised / total): -4000.00 / -1000.50 / -5000.50" in lines
    assert "Kill reason" not in output()


def test_metrics_parse_the_formatter_output():
    assert parse_daily_summary(output()) == {"pnl_realised": 6.55, "pnl_unrealised": 30.65, "pnl_total": 37.2,
                                             "kill_switch": False}
    killed = parse_daily_summary(output(realised=-1.0, unrealised=0.0, total=-1.0, kill_switch=True,
                                        kill_reason="DeltaHardBreach", _killed_at=3))
    assert killed == {"pnl_realised": -1.0, "pnl_unrealised": 0.0, "pnl_total": -1.0, "kill_switch": True}


@pytest.mark.parametrize("text, kill", [
    ("Daily PnL (realised / unrealised / total): +1.00 / -2.00 / -1.00\nKill switch active: true\n", True),
    ("daily pnl (REALISED/UNREALISED/TOTAL):1.5/2/3.5\nKill switch = false\n", False),
    ("Daily PnL (realised / unrealised / total): 1.00 / 2.00 / 3.00\nKillswitch: TRUE\n", True),
])
def test_metrics_parse_older_formats(text, kill):
    m = parse_daily_summary(text)
    assert m["kill_switch"] is kill and not math.isnan(m["pnl_total"])


def test_metrics_last_match_wins_and_defaults():
    text = ("Daily PnL (realised / unrealised / total): +1.00 / +1.00 / +2.00\nKill switch: true\n"
            "Kill switch active at tick 9 - stopping simulation early (reason: X).\n"
            "Daily PnL (realised / unrealised / total): -3.00 / +0.00 / -3.00\nKill switch: false\n")
    assert parse_daily_summary(text) == {"pnl_realised": -3.0, "pnl_unrealised": 0.0, "pnl_total": -3.0,
                                         "kill_switch": False}
    empty = parse_daily_summary("nothing here\nKill switch active at tick 3 - stopping simulation early.")
    assert math.isnan(empty["pnl_total"]) and empty["kill_switch"] is False


def test_aggregate_basic():
    rows = [
        {"profile": "b", "x": 1, "pnl_realised": 1.0, "pnl_unrealised": 0.0, "pnl_total": 1.0, "kill_switch": False},
        {"profile": "b", "x": 1, "pnl_realised": 3.0, "pnl_unrealised": 2.0, "pnl_total": 5.0, "kill_switch": True},
        {"profile": "a", "x": 1, "pnl_realised": math.nan, "pnl_unrealised": math.nan, "pnl_total": math.nan,
         "kill_switch": False},
    ]
    out = aggregate_basic(rows, ["profile", "x"])
    assert [r["profile"] for r in out] == ["a", "b"]
    b = out[1]
    assert b == {"profile": "b", "x": 1, "pnl_realised_mean": 2.0, "pnl_unrealised_mean": 1.0, "pnl_total_mean": 3.0,
                 "pnl_total_std": pytest.approx(2.8284271247), "kill_switch_frac": 0.5, "num_runs": 2}
    a = out[0]
    assert math.isnan(a["pnl_total_mean"]) and math.isnan(a["pnl_total_std"]) and a["num_runs"] == 1
