"""``paraphina rl eval``: the gate's rule, the report, the model card and the exit codes, at tiny settings."""

from __future__ import annotations

import json
import shutil

from rltools import ROOT, bc_run, needs_rl, run_cli  # noqa: F401 - fixtures

pytestmark = needs_rl

STRICT = "alpha: 0.05\nstrict:\n  max_kill_ucb: 1.0\n  max_dd_cvar: 100000\n  min_pnl_lcb_usd: 1000000\n"


def _row(mean, dd, within=True):
    return {"mean_pnl": mean, "dd_cvar": dd, "risk_adjusted": mean - 0.5 * dd, "within_budget": within}


def test_gate_needs_budget_better_score_and_no_new_stress_failure():
    from paraphina.rl.evaluate import gate

    better = {"heuristic": _row(1.0, 4.0), "model": _row(2.0, 2.0)}
    assert all(gate(better, []).values())
    assert gate({"heuristic": _row(1.0, 4.0), "model": _row(1.0, 4.0)}, [])["beats_heuristic"] is False  # a tie fails
    assert gate({"heuristic": _row(1.0, 4.0), "model": _row(2.0, 2.0, within=False)}, [])["within_budget"] is False
    stress = [{"new_failures": [{"scenario": "vol_high", "seed": 1, "failures": ["max_drawdown_usd: 1 > 0"]}]}]
    assert gate(better, stress)["no_new_stress_failures"] is False
    nan = {"heuristic": _row(1.0, 4.0), "model": _row(float("nan"), 2.0)}
    assert gate(nan, [])["beats_heuristic"] is False


def test_eval_cli_reports_fails_with_exit_1_and_updates_the_card(bc_run, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(bc_run.dir, model_dir)
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(STRICT)
    out = tmp_path / "eval"
    args = ["rl", "eval", str(model_dir / "model.onnx"), "--tier", "strict", "--budgets", str(budgets), "-o", str(out),
            "--seeds", "2", "--ticks", "20", "--suite", str(ROOT / "scenarios/suites/adversarial_regression.yaml"),
            "--suite-ticks", "10"]
    r = run_cli(*args)
    assert r.returncode == 1, r.stderr
    assert "FAIL" in r.stdout and "PnL lower bound" in r.stdout
    rep = json.loads((out / "eval_report.json").read_text())
    assert rep["passed"] is False and rep["gates"]["within_budget"] is False
    assert set(rep["monte_carlo"]) == {"heuristic", "model"}
    assert rep["stress"][0]["suite_id"] == "adversarial_regression" and rep["stress"][0]["runs"] == 8
    sh = rep["shadow"]
    assert sh["baseline_actions"] > 0 and sh["candidate_actions"] > 0
    # The teacher's clone moves the knobs: its stream differs from the heuristic's.
    assert sh["identical"] is False and sum(sh["only_in_candidate"].values()) > 0
    assert (out / "eval_report.md").read_text().startswith("## Evaluation gate: tier `strict` (FAIL)")
    card = json.loads((model_dir / "model_card.json").read_text())
    assert card["evaluations"]["strict"]["passed"] is False and card["evaluations"]["strict"]["failure_modes"]
    md = (model_dir / "model_card.md").read_text()
    assert md.count("# Evaluation gates") == 1 and "tier `strict`: FAIL" in md and "# Model card" in md
    # Same inputs again: the directory is reused, the card section is replaced, not repeated.
    assert run_cli(*args).returncode == 1
    assert (model_dir / "model_card.md").read_text().count("# Evaluation gates") == 1
    # Other inputs into the same directory are refused, naming the difference.
    r = run_cli(*[a if a != "2" else "3" for a in args])
    assert r.returncode == 2 and "runs" in r.stderr and "Traceback" not in r.stderr


def test_eval_cli_bad_input_is_one_line(bc_run, tmp_path):
    r = run_cli("rl", "eval", bc_run.model, "--tier", "nope", "-o", str(tmp_path / "e"), "--no-suites", "--no-shadow",
                "--seeds", "2", "--ticks", "10")
    assert r.returncode == 2 and "--tier nope: not a tier" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    r = run_cli("rl", "eval", str(bad), "--tier", "research", "-o", str(tmp_path / "e2"), "--no-suites")
    assert r.returncode == 2 and "not a usable ONNX model" in r.stderr
