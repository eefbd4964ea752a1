"""Orchestrator and the exp03 template, with a fake engine command (a python -c script)."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import pytest

from batch_runs import exp03_stress_search as exp03
from batch_runs.metrics import parse_daily_summary
from batch_runs.orchestrator import (
    EngineRunConfig,
    results_to_dataframe,
    run_engine,
    run_many,
    summarise_runs,
    write_csv,
)

parse = parse_daily_summary  # the contract parser (batch_runs/metrics.py)


# Fake engine: PnL = init_q_tao + seed, killed when init_q_tao < -30. Prints the contract block.
FAKE = r"""
import os, sys
q = float(os.environ["PARAPHINA_INIT_Q_TAO"]); seed = int(sys.argv[sys.argv.index("--seed") + 1])
total = q + seed
print("paraphina | cfg=test | profile=" + os.environ["PARAPHINA_RISK_PROFILE"])
print()
print("=== Daily Summary ===")
print(f"Daily PnL (realised / unrealised / total): {total/2:+.2f} / {total/2:+.2f} / {total:+.2f}")
print("Kill switch: " + ("true" if q < -30 else "false"))
"""
FAKE_CMD = [sys.executable, "-c", FAKE]


def test_run_engine_parses_and_passes_env():
    cfg = EngineRunConfig(cmd=[*FAKE_CMD, "--seed", "2"], env={"PARAPHINA_INIT_Q_TAO": 5, "PARAPHINA_RISK_PROFILE": "b"},
                          label={"x": 1})
    r = run_engine(cfg, parse)
    assert r.returncode == 0 and r.run_id == ""
    assert r.metrics == {"pnl_realised": 3.5, "pnl_unrealised": 3.5, "pnl_total": 7.0, "kill_switch": False}


def test_timeout_recorded_not_raised():
    r = run_engine(EngineRunConfig(cmd=[sys.executable, "-c", "import time; print('hi', flush=True); time.sleep(30)"]),
                   parse, timeout_sec=0.5)
    assert r.timed_out and r.returncode == -1 and r.metrics == {"timeout": True} and r.duration_sec == 0.5


def test_parse_error_and_nonzero_rc_recorded():
    def bad(_):
        raise ValueError("nope")

    r = run_engine(EngineRunConfig(cmd=[sys.executable, "-c", "import sys; print('x'); sys.exit(4)"]), bad)
    assert r.returncode == 4 and r.metrics == {"metrics_parse_error": "nope"}
    r = run_engine(EngineRunConfig(cmd=["/nonexistent/engine"]), parse)
    assert r.returncode == -1 and "launch_error" in r.metrics


def test_run_many_orders_and_ids():
    cfgs = [EngineRunConfig(cmd=[sys.executable, "-c", f"import time; time.sleep({0.3 - 0.1 * i}); print('{i}')"],
                            label={"i": i}) for i in range(3)]
    res = run_many(cfgs, lambda out: {"out": out.strip()}, jobs=3)
    assert [r.run_id for r in res] == ["run_0", "run_1", "run_2"]
    assert [r.metrics["out"] for r in res] == ["0", "1", "2"]
    assert cfgs[0].run_id is None  # not mutated


def test_rows_metrics_win_and_csv(tmp_path):
    from batch_runs.orchestrator import RunResult

    rows = results_to_dataframe([RunResult(run_id="a", label={"k": 1, "pnl": "label"}, metrics={"pnl": 2.5},
                                           duration_sec=0.1, returncode=0, stdout="", stderr="")])
    assert rows == [{"run_id": "a", "duration_sec": 0.1, "returncode": 0, "k": 1, "pnl": 2.5}]
    assert results_to_dataframe([]) == []
    p = write_csv(rows + [{"run_id": "b", "extra": True}], tmp_path / "x.csv")
    assert p.read_text().splitlines() == ["run_id,duration_sec,returncode,k,pnl,extra", "a,0.1,0,1,2.5,",
                                          "b,,,,,true"]


def test_summarise_runs():
    rows = [{"g": "a", "m": 1.0, "kill_switch": True}, {"g": "a", "m": 3.0, "kill_switch": False},
            {"g": "b", "m": math.nan, "kill_switch": False}]
    out = summarise_runs(rows, ["g"], ["m"])
    assert out[0] == {"g": "a", "m_mean": 2.0, "m_std": math.sqrt(2.0), "kill_switch_frac": 0.5, "num_runs": 2}
    assert math.isnan(out[1]["m_mean"]) and out[1]["num_runs"] == 1


def test_exp03_grid():
    cfgs = exp03.build_grid(["eng"])
    assert len(cfgs) == 3 * 5 * 4
    c = cfgs[0]
    assert c.cmd == ["eng", "--seed", "0"]
    assert c.env == {"PARAPHINA_RISK_PROFILE": "conservative", "PARAPHINA_INIT_Q_TAO": -1.0}
    assert c.label["experiment"] == "exp03_stress_search" and c.label["init_q_tao"] == -1.0
    assert len({x.run_id for x in cfgs}) == 60


def test_exp03_end_to_end_with_fake_engine(tmp_path):
    runs_csv, summary_csv = exp03.run_experiment(tmp_path / "exp03", FAKE_CMD, parse, profiles=("balanced",),
                                                 init_q_grid=(-40.0, 0.0), repeats=3, jobs=2)
    assert runs_csv.name == "exp03_stress_runs.csv" and summary_csv.name == "exp03_stress_summary.csv"
    runs = list(csv.DictReader(runs_csv.open()))
    assert len(runs) == 6 and runs[0]["pnl_total"] == "-40.0" and runs[0]["kill_switch"] == "true"
    summary = list(csv.DictReader(summary_csv.open()))
    assert [(s["profile"], s["init_q_tao"]) for s in summary] == [("balanced", "-40.0"), ("balanced", "0.0")]
    assert float(summary[0]["pnl_total_mean"]) == -39.0  # seeds 0, 1, 2
    assert float(summary[0]["pnl_total_std"]) == 1.0
    assert summary[0]["kill_switch_frac"] == "1.0" and summary[1]["kill_switch_frac"] == "0.0"
    assert summary[0]["num_runs"] == "3"


def _paraphina_run_available() -> bool:
    r = subprocess.run([sys.executable, "-m", "paraphina", "run", "--help"], capture_output=True, text=True)
    return r.returncode == 0


@pytest.mark.slow
def test_exp03_with_real_engine(tmp_path):
    if not _paraphina_run_available():
        pytest.skip("`paraphina run` does not exist on this branch yet")
    runs_csv, summary_csv = exp03.run_experiment(tmp_path, exp03.default_command(300), parse_daily_summary,
                                                 init_q_grid=(0.0, 0.5), repeats=2, jobs=2)
    rows = list(csv.DictReader(runs_csv.open()))
    assert [r["returncode"] for r in rows] == ["0"] * 12, rows
    assert all(r["pnl_total"] not in ("", "nan") for r in rows)
    assert next(csv.DictReader(summary_csv.open()))["num_runs"] == "2"
    # Every cell of the grid does something different: profiles and starting inventory act.
    cells = {(r["profile"], r["init_q_tao"]): r["pnl_total"] for r in rows if r["repeat"] == "0"}
    assert len(cells) == 6 and len(set(cells.values())) == 6, cells
