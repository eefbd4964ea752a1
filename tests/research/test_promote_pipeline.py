"""Phase A as the guide runs it (batch_runs.phase_a.promote_pipeline, `paraphina phase-a`):
provenance and refused resumes, the simulated config hash, reproducing a promoted candidate with a
starting inventory from its .env byte for byte, two ordered suites, unreachable budgets, progress
on a pipe, and the --smoke study with its evidence tree."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from batch_runs.phase_a.promote_pipeline import main as promote_main
from conftest import ROOT, run_cli
from paraphina.research.evidence import verify_evidence

LENIENT = "alpha: 0.05\nlenient: {max_kill_ucb: 1.0, max_dd_cvar: 1000000, min_pnl_lcb_usd: -1000000}\n"
TOY = ["--evaluate", "paraphina.research.toy:toy_candidate_run", "--no-report", "--quiet"]


def snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    """Run from the repository root (the guide's cwd); knobs with a nonzero starting inventory."""
    monkeypatch.chdir(ROOT)
    (tmp_path / "budgets.yaml").write_text(LENIENT)
    (tmp_path / "knobs.yaml").write_text(
        "profiles: [balanced]\nknobs:\n  PARAPHINA_INIT_Q_TAO: [0.5]\n  PARAPHINA_HEDGE_BAND_BASE: [0.05, 0.1]\n")
    (tmp_path / "suite.yaml").write_text(
        "suite_id: tiny\nticks: 30\ninvariants: {pnl_finite: true}\n"
        f"scenarios:\n  - path: {ROOT / 'scenarios' / 'synth_baseline.yaml'}\n    seeds: [1000]\n")
    return tmp_path


def sim_args(t: Path, *extra: str) -> list[str]:
    return ["--study-dir", str(t / "study"), "--trials", "1", "--mc-runs", "3", "--mc-ticks", "40",
            "--knobs", str(t / "knobs.yaml"), "--budgets", str(t / "budgets.yaml"), "--no-report", *extra]


def test_promoted_candidate_with_starting_inventory_reproduces_from_its_env(inputs):
    t = inputs
    assert promote_main(sim_args(t, "--no-suites", "--quiet")) == 0
    study = t / "study"
    rec = json.loads((study / "promoted" / "lenient" / "PROMOTION_RECORD.json").read_text())
    assert rec["env_overlay"]["PARAPHINA_INIT_Q_TAO"] == "0.5"
    trial = study / rec["trial_dir"]
    mc_cfg = json.loads((trial / "mc" / "mc_config.json").read_text())
    assert mc_cfg["config_hash"] == rec["config_hash"]
    # The guide's flow: source the .env, run the recorded Monte Carlo command.
    cmd = rec["reproduce"].replace("STUDY_DIR", str(study)).replace(
        "paraphina mc", f"{shlex.quote(sys.executable)} -m paraphina mc --quiet")
    out_dir = t / "repro"
    cmd = cmd.replace(f"runs/reproduce_{rec['candidate_id']}", str(out_dir))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARAPHINA_")}
    r = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (out_dir / "mc_runs.jsonl").read_bytes() == (trial / "mc" / "mc_runs.jsonl").read_bytes()
    assert json.loads((out_dir / "mc_config.json").read_text())["config_hash"] == rec["config_hash"]
    # and the inventory really is in the runs: a flat candidate differs
    flat = run_cli("mc", "--scenario", "scenarios/synth_baseline.yaml", "--ticks", "40", "--runs", "3", "--seed", "42",
                   "--quiet", "--output-dir", str(t / "flat"), env={"PARAPHINA_RISK_PROFILE": "balanced",
                   "PARAPHINA_HEDGE_BAND_BASE": rec["env_overlay"]["PARAPHINA_HEDGE_BAND_BASE"]})
    assert flat.returncode == 0, flat.stderr
    assert (t / "flat" / "mc_runs.jsonl").read_bytes() != (out_dir / "mc_runs.jsonl").read_bytes()


def test_study_resume_refuses_changed_evaluator_args_and_suites_untouched(inputs, capsys):
    t = inputs
    suite = str(t / "suite.yaml")
    assert promote_main(sim_args(t, "--suite", suite, "--quiet")) == 0
    study = t / "study"
    trials = [json.loads(x) for x in (study / "trials.jsonl").read_text().splitlines()]
    assert trials[0]["suites_passed"] == {"tiny": True}
    assert (study / "trials" / trials[0]["trial_id"] / "oos" / "tiny_v1" / "summary.json").is_file()
    capsys.readouterr()
    before = snapshot(study)
    for change, args, field in [
        ("ticks", sim_args(t, "--suite", suite, "--mc-ticks", "50"), "evaluate_args.ticks"),
        ("scenario", sim_args(t, "--suite", suite, "--scenario", "scenarios/synth_jump.yaml"), "evaluate_args.scenario"),
        ("second suite", sim_args(t, "--suite", suite, "--suite", "scenarios/suites/smoke.yaml"), "suites"),
        ("suite ticks", sim_args(t, "--suite", suite, "--suite-ticks", "20"), "suites[0].ticks"),
        ("runs", sim_args(t, "--suite", suite, "--mc-runs", "4"), "runs"),
    ]:
        assert promote_main(args) == 2, change
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "holds a Phase A study with other inputs" in err[0] and field in err[0], (change, err)
        assert snapshot(study) == before, change
    Path(suite).write_text(Path(suite).read_text().replace("pnl_finite: true", "pnl_finite: true, min_pnl_usd: -9999"))
    assert promote_main(sim_args(t, "--suite", suite)) == 2
    assert "suites[0].sha256" in capsys.readouterr().err
    assert snapshot(study) == before
    # --force starts over with the new inputs
    assert promote_main(sim_args(t, "--suite", suite, "--force")) == 0
    assert verify_evidence(study, recursive=True).code == 0


def test_same_inputs_resume_byte_identical(tmp_path, capsys):
    args = ["--study-dir", str(tmp_path / "s"), "--trials", "2", "--mc-runs", "20", *TOY]
    assert promote_main(args) == 0
    before = snapshot(tmp_path / "s")
    assert promote_main(args) == 0
    assert snapshot(tmp_path / "s") == before


def test_unreachable_kill_budgets_reported_up_front_and_recorded(tmp_path, capsys):
    assert promote_main(["--study-dir", str(tmp_path / "s"), "--trials", "2", "--mc-runs", "50",
                         "--evaluate", "paraphina.research.toy:toy_candidate_run", "--no-report"]) == 0
    cap = capsys.readouterr()
    warn = [x for x in cap.err.splitlines() if "out of reach" in x]
    assert len(warn) == 1 and "tier conservative" in warn[0] and "at least 52 runs" in warn[0], cap.err
    assert cap.err.index("out of reach") < cap.err.index("[phase-a]")  # before anything runs
    promo = json.loads((tmp_path / "s" / "promotion.json").read_text())
    assert "conservative" in promo["kill_budget_unreachable"] and "balanced" not in promo["kill_budget_unreachable"]
    assert promo["tiers"]["conservative"]["kill_budget_reachable"] is False
    assert "at least 52 runs" in promo["tiers"]["conservative"]["reason"]


def test_progress_lines_on_a_pipe_for_phase_a_mc_and_suite(tmp_path):
    env = {**os.environ, "PARAPHINA_PROGRESS_INTERVAL": "0"}
    r = subprocess.run([sys.executable, "-m", "batch_runs.phase_a.promote_pipeline", "--study-dir",
                        str(tmp_path / "s"), "--trials", "2", "--mc-runs", "3", "--evaluate",
                        "paraphina.research.toy:toy_candidate_run", "--no-report"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("[phase-a] ")]
    assert any("3/6 runs" in x and "trial 1 of 2" in x for x in lines), r.stderr  # the toy runs no suite
    assert any("6/6 runs (100%)" in x and "trial 2 of 2" in x for x in lines), r.stderr
    q = subprocess.run([sys.executable, "-m", "batch_runs.phase_a.promote_pipeline", "--study-dir",
                        str(tmp_path / "q"), "--trials", "1", "--mc-runs", "3", *TOY],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert q.returncode == 0 and q.stderr == "", q.stderr
    m = run_cli("mc", "--scenario", "scenarios/synth_baseline.yaml", "--ticks", "20", "--runs", "2",
                "--output-dir", str(tmp_path / "mc"), env={"PARAPHINA_PROGRESS_INTERVAL": "0"})
    assert m.returncode == 0, m.stderr
    assert [x for x in m.stderr.splitlines() if x.startswith("[mc] ")][-1].startswith("[mc] 2/2 runs (100%)")
    (tmp_path / "suite.yaml").write_text(
        "suite_id: tiny\nticks: 20\nscenarios:\n  - path: scenarios/synth_baseline.yaml\n    seeds: [1, 2]\n")
    s = run_cli("suite", str(tmp_path / "suite.yaml"), "--output-dir", str(tmp_path / "suite"),
                env={"PARAPHINA_PROGRESS_INTERVAL": "0"})
    assert s.returncode == 0, s.stderr
    assert any(x.startswith("[suite] 2/2 runs (100%)") for x in s.stderr.splitlines()), s.stderr


@pytest.mark.slow
def test_smoke_study_as_the_guide_runs_it(tmp_path):
    """`--smoke --study-dir D`: 3 trials x 10 runs x 100 ticks on the simulator, both suites per
    candidate in the guide's layout; `paraphina verify-evidence D --recursive` exits 0."""
    d = tmp_path / "smoke"
    r = subprocess.run([sys.executable, "-m", "batch_runs.phase_a.promote_pipeline", "--smoke", "--study-dir", str(d),
                        "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    for f in ("study.json", "trials.jsonl", "pareto.json", "pareto.csv", "promotion.json", "report.html"):
        assert (d / f).is_file(), f
    trials = [json.loads(x) for x in (d / "trials.jsonl").read_text().splitlines()]
    assert len(trials) == 3 and all(t["runs"] == 10 for t in trials)
    for t in trials:
        tdir = d / "trials" / t["trial_id"]
        assert (tdir / "candidate.env").is_file() and (tdir / "mc" / "mc_summary.json").is_file()
        assert sorted(t["suites_passed"]) == ["adversarial_regression", "research"]
        for name in ("research_v1", "adversarial_regression_v1"):
            assert (tdir / "oos" / name / "evidence_pack" / "SHA256SUMS").is_file()
        runs = [json.loads(x) for x in (tdir / "mc" / "mc_runs.jsonl").read_text().splitlines()]
        assert all(x["ticks_executed"] <= 100 for x in runs)
    study = json.loads((d / "study.json").read_text())
    assert study["seed"] == 42 and [s["dir"] for s in study["suites"]] == ["research_v1", "adversarial_regression_v1"]
    v = run_cli("verify-evidence", str(d), "--recursive")
    assert v.returncode == 0, v.stderr


def test_paraphina_phase_a_subcommand_same_pipeline(tmp_path):
    r = run_cli("phase-a", "--study-dir", str(tmp_path / "s"), "--trials", "2", "--runs", "20", "--quiet",
                "--evaluate", "paraphina.research.toy:toy_candidate_run", "--no-report")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    study = json.loads((tmp_path / "s" / "study.json").read_text())
    assert (study["seed"], study["candidates"], study["runs"], study["study_name"]) == (42, 2, 20, "s")
    assert "evidence: verified" in r.stdout
    again = run_cli("phase-a", "--study-dir", str(tmp_path / "s"), "--trials", "3", "--runs", "20",
                    "--evaluate", "paraphina.research.toy:toy_candidate_run", "--no-report")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "candidates: 2 in the directory, 3 now" in again.stderr


def test_suite_directory_has_provenance_and_an_evidence_pack(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text("suite_id: tiny\nticks: 20\nscenarios:\n  - path: scenarios/synth_baseline.yaml\n    seeds: [1]\n")
    out = tmp_path / "out"
    r = run_cli("suite", str(suite), "--output-dir", str(out), "--quiet")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert run_cli("verify-evidence", str(out)).returncode == 0
    rec = json.loads((out / "suite_config.json").read_text())
    assert rec["suite_sha256"].startswith("sha256:") and rec["scenarios"][0]["config_hash"]
    before = snapshot(out)
    other = run_cli("suite", str(suite), "--output-dir", str(out), "--policy", "fixed-spread")
    assert other.returncode == 2 and "policy" in other.stderr and other.stderr.count("\n") == 1, other.stderr
    assert snapshot(out) == before
    assert run_cli("suite", str(suite), "--output-dir", str(out), "--policy", "fixed-spread", "--force",
                   "--quiet").returncode == 0
    assert json.loads((out / "suite_config.json").read_text())["policy"] == "fixed-spread"
    assert run_cli("verify-evidence", str(out)).returncode == 0


def test_study_resume_refuses_a_changed_config_file(inputs, capsys):
    t = inputs
    cfg = t / "preset.toml"
    cfg.write_text((ROOT / "paraphina" / "presets" / "btc.toml").read_text())
    args = ["--study-dir", str(t / "c"), "--trials", "1", "--mc-runs", "2", "--mc-ticks", "20", "--no-suites",
            "--knobs", str(t / "knobs.yaml"), "--budgets", str(t / "budgets.yaml"), "--no-report", "--quiet",
            "--evaluate-arg", f"config={cfg}"]
    assert promote_main(args) == 0
    before = snapshot(t / "c")
    capsys.readouterr()
    text = cfg.read_text()
    assert "daily_loss_limit = 2000.0" in text
    cfg.write_text(text.replace("daily_loss_limit = 2000.0", "daily_loss_limit = 1234.0"))
    assert promote_main(args) == 2
    err = capsys.readouterr().err
    assert "config_hashes." in err, err
    assert snapshot(t / "c") == before
    cfg.write_text("[risk\n")  # a broken config file: one line, exit 2, no traceback
    assert promote_main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "preset.toml" in err and "not valid TOML" in err, err


@pytest.mark.parametrize("flag", ["--trials", "--mc-runs", "--mc-ticks", "--suite-ticks"])
def test_zero_counts_are_one_line_errors(tmp_path, capsys, flag):
    assert promote_main(["--study-dir", str(tmp_path / "z"), flag, "0", *TOY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "must be >= 1" in err, err
    assert not (tmp_path / "z").exists()
