"""The calibration and alignment experiments (batch_runs/exp02-exp13 and the daily loop) in smoke mode.

Each chain runs once per module (module-scoped fixtures) on the real simulator at a short horizon;
the tests read its files: the guide's artefact names, the expected columns, sweeps whose cells
differ (a sweep of identical rows is a bug), the three profiles in the exp11/exp12 table.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from batch_runs import (
    daily,
    exp04_risk_regimes,
    exp06_full_suite,
    exp07_presets,
    exp08_profile_validation,
    exp09_hyperparam_search,
    exp10_alignment,
    exp11_research_alignment,
    exp12_profile_safety,
    exp13_auto_research,
    expkit,
)
from conftest import ROOT, run_cli
from paraphina.errors import UserError
from paraphina.research.provenance import ProvenanceError
from paraphina.research.telemetry_dataset import dataset_csv

TICKS = 60
PROFILES = ["conservative", "balanced", "aggressive"]


def rows(path: Path) -> list[dict]:
    assert path.is_file(), path
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def distinct(rs: list[dict], col: str) -> set[str]:
    return {r[col] for r in rs}


@pytest.fixture(scope="module", autouse=True)
def at_root():
    """Scenario paths in the experiments' defaults are relative to the repository root."""
    old = os.getcwd()
    os.chdir(ROOT)
    yield
    os.chdir(old)


@pytest.fixture(scope="module")
def suite(tmp_path_factory, at_root) -> Path:
    out = tmp_path_factory.mktemp("exp06") / "suite"
    exp06_full_suite.run(out, ticks=TICKS, repeats=1, smoke=True, quiet=True)
    return out


@pytest.fixture(scope="module")
def design(tmp_path_factory, at_root) -> Path:
    base = tmp_path_factory.mktemp("exp07")
    exp07_presets.run(base / "exp07", ticks=TICKS, candidates=4, runs=3, quiet=True)
    exp08_profile_validation.run(base / "exp08", presets=str(base / "exp07" / exp07_presets.PRESETS_CSV),
                                 ticks=TICKS, runs=3, quiet=True)
    exp10_alignment.run(base / "exp10", design=str(base / "exp07" / exp07_presets.PRESETS_CSV),
                        validation=str(base / "exp08" / exp08_profile_validation.SUMMARY_CSV), quiet=True)
    return base


@pytest.fixture(scope="module")
def loop(tmp_path_factory, at_root) -> Path:
    base = tmp_path_factory.mktemp("daily")
    daily.run(base / "day", ticks=80, runs_per_profile=2, dataset=str(base / "dataset_v004.jsonl"),
              label_prefix="t", seed=3, quiet=True)
    return base


# --- exp02-exp06 ------------------------------------------------------------------------------


def test_exp02_hedge_band_heatmap_and_a_sweep_that_differs(suite):
    d = suite / "exp02_hedge_band"
    runs = rows(d / "exp02_hedge_band_runs.csv")
    summary = rows(d / "exp02_hedge_band_summary.csv")
    assert len(runs) == 6 and len(summary) == 6
    for col in ("hedge_band_base", "init_q_tao", "seed", "pnl", "max_drawdown", "kill", "fills", "regime_frac_normal"):
        assert col in runs[0]
    for col in ("pnl_mean", "pnl_lcb", "dd_cvar", "kill_frac", "kill_ucb", "fills_mean"):
        assert col in summary[0]
    assert len(distinct(summary, "pnl_mean")) > 1
    # At one starting inventory the band alone changes the run.
    assert len(distinct([r for r in summary if float(r["init_q_tao"]) == 1.0], "pnl_mean")) > 1
    svg = (d / "exp02_hedge_band_heatmap.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "hedge band base" in svg


def test_exp03_runs_inside_the_suite(suite):
    summary = rows(suite / "exp03_stress_search" / "exp03_stress_summary.csv")
    assert sorted(distinct(summary, "profile")) == sorted(PROFILES)
    assert len(distinct(summary, "pnl_total_mean")) > 1


def test_exp04_regime_fractions_move_with_the_thresholds(suite):
    summary = rows(suite / "exp04_risk_regimes" / "exp04_risk_regimes_summary.csv")
    assert len(summary) == 6
    for col in ("delta_hard_limit_usd", "delta_warn_frac", "regime_frac_normal_mean", "regime_frac_warning_mean",
                "regime_frac_hard_mean", "kill_frac"):
        assert col in summary[0]
    assert len(distinct(summary, "regime_frac_normal_mean")) > 1
    assert any(float(r["regime_frac_warning_mean"]) > 0 for r in summary)
    assert any(float(r["regime_frac_normal_mean"]) == 1.0 for r in summary)  # the preset's 200k never binds


def test_exp05_calibration_report(suite):
    d = suite / "exp05_calibration_report"
    summary = rows(d / "exp05_calibration_summary.csv")
    assert [r["scenario"] for r in summary] == ["synth_baseline", "vol_high", "synth_jump", "ALL"]
    assert len(distinct(summary[:-1], "pnl_mean")) == 3
    report = json.loads((d / "exp05_calibration_report.json").read_text(encoding="utf-8"))
    assert report["baseline"]["knobs"]["hedge_band_base"] == 0.5  # the btc preset, balanced
    assert set(report["tiers"]) >= set(PROFILES)
    assert set(report["tiers"]["balanced"]) >= {"pnl_ok", "dd_ok", "kill_ok", "all_ok", "dd_margin"}


def test_exp06_index_names_every_file_with_its_hash(suite):
    index = rows(suite / "exp06_suite_index.csv")
    assert {r["experiment"] for r in index} == {"exp02", "exp03", "exp04", "exp05"}
    for r in index:
        assert (suite / r["file"]).stat().st_size == int(r["bytes"])
        assert len(r["sha256"]) == 64


# --- exp07, exp08, exp10 ---------------------------------------------------------------------------


def test_exp07_risk_tiers_candidates_and_presets(design):
    d = design / "exp07"
    tiers = rows(d / "exp07_risk_tiers.csv")
    assert [t["tier"] for t in tiers][:3] == PROFILES
    assert set(tiers[0]) >= {"max_kill_prob", "max_drawdown_abs", "min_final_pnl_mean"}
    cands = rows(d / "exp07_candidates.csv")
    assert len(cands) == 4 and len(distinct(cands, "pnl_mean")) == 4
    presets = rows(d / "exp07_presets.csv")
    assert [p["tier"] for p in presets] == [t["tier"] for t in tiers]
    for p in presets:
        assert p["candidate_id"] in distinct(cands, "candidate_id")
        assert p["PARAPHINA_RISK_PROFILE"] in PROFILES
        assert p["meets_budget"] in ("true", "false") and p["all_ok"] == p["meets_budget"]


def test_exp08_validates_on_other_seeds(design):
    summary = rows(design / "exp08" / "exp08_profile_summary.csv")
    presets = {p["tier"]: p for p in rows(design / "exp07" / "exp07_presets.csv")}
    assert [s["tier"] for s in summary] == list(presets)
    for s in summary:
        assert s["candidate_id"] == presets[s["tier"]]["candidate_id"]
        assert set(s) >= {"pnl_ok", "dd_ok", "kill_ok", "pnl_margin", "dd_margin", "kill_margin"}
    design_seeds = distinct(rows(design / "exp07" / "exp07_candidate_runs.csv"), "seed")
    assert not design_seeds & distinct(rows(design / "exp08" / "exp08_profile_runs.csv"), "seed")


def test_exp10_alignment_columns(design):
    table = rows(design / "exp10" / "exp10_alignment.csv")
    assert [r["tier"] for r in table][:3] == PROFILES
    for col in ("design_pnl_ok", "design_dd_ok", "design_kill_ok", "val_pnl_ok", "val_dd_ok", "val_kill_ok",
                "val_pnl_margin", "val_dd_margin", "val_kill_margin", "agree", "alignment_score", "aligned"):
        assert col in table[0]
    for r in table:
        assert (r["aligned"] == "true") == (r["agree"] == "3" and r["val_all_ok"] == "true")


def test_exp10_rerun_with_other_inputs_is_refused_and_same_inputs_rewrite_the_same_bytes(design, tmp_path):
    out = design / "exp10"
    before = (out / "exp10_alignment.csv").read_bytes()
    exp10_alignment.run(out, design=str(design / "exp07" / "exp07_presets.csv"),
                        validation=str(design / "exp08" / "exp08_profile_summary.csv"), quiet=True)
    assert (out / "exp10_alignment.csv").read_bytes() == before
    other = tmp_path / "budgets.yaml"
    other.write_text("alpha: 0.05\nconservative: {max_kill_ucb: 1, max_dd_cvar: 1000000000, min_pnl_lcb_usd: -1000000000}\n")
    with pytest.raises(ProvenanceError, match="other inputs"):
        exp10_alignment.run(out, design=str(design / "exp07" / "exp07_presets.csv"),
                            validation=str(design / "exp08" / "exp08_profile_summary.csv"), budgets=str(other),
                            quiet=True)
    assert (out / "exp10_alignment.csv").read_bytes() == before


def test_a_missing_input_is_one_line_and_exit_2(tmp_path, capsys):
    rc = expkit.main_guard(exp10_alignment.main, ["-o", str(tmp_path / "x"), "--design", str(tmp_path / "none.csv")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "none.csv" in err


# --- exp09 ---------------------------------------------------------------------------------------


def test_exp09_successive_halving(tmp_path):
    out = tmp_path / "exp09"
    exp09_hyperparam_search.run(out, ticks=TICKS, candidates=4, runs=2, rungs=2, quiet=True)
    trials = rows(out / "exp09_trials.csv")
    rung0 = [t for t in trials if t["rung"] == "0"]
    rung1 = [t for t in trials if t["rung"] == "1"]
    assert len(rung0) == 4 and len(rung1) == 2
    assert len(distinct(rung0, "utility")) == 4
    assert {t["candidate_id"] for t in rung1} == {t["candidate_id"] for t in rung0 if t["promoted"] == "true"}
    assert all(t["runs"] == "4" for t in rung1)
    assert len(rows(out / "exp09_runs.csv")) == 4 * 2 + 2 * 2  # rung 1 only simulates the new seeds
    env = (out / "exp09_best.env").read_text()
    assert f"best candidate {rung1[0]['candidate_id']}" in env and "export PARAPHINA_RISK_PROFILE=" in env


# --- exp13, exp11, exp12 through the daily loop -------------------------------------------------


def test_exp13_writes_telemetry_and_a_versioned_dataset(loop):
    d = loop / "day" / "exp13_auto"
    for p in PROFILES:
        for i in range(2):
            assert (d / f"{p}_r{i}.jsonl").is_file()
    lines = (loop / "dataset_v004.jsonl").read_text(encoding="utf-8").splitlines()
    data = [json.loads(x) for x in lines]
    assert [r["label"] for r in data] == [f"t_{p}_r{i:03d}" for p in PROFILES for i in range(2)]
    assert all(r["schema"] == exp13_auto_research.DATASET_SCHEMA and r["ticks"] == 80 for r in data)
    assert len({r["pnl_total_end"] for r in data}) == 6
    assert len({r["config_hash"] for r in data}) == 3  # one per profile
    record = json.loads((d / "exp13_dataset.json").read_text())
    assert record["rows"] == 6 and record["sha256"] == expkit.file_hash(loop / "dataset_v004.jsonl")
    for name in ("exp13_runs.csv", "exp13_summary_global.csv", "exp13_summary_by_profile.csv", "exp13_top_runs.csv"):
        assert rows(d / name), name
    by_profile = rows(d / "exp13_summary_by_profile.csv")
    assert distinct(by_profile, "profile") == set(PROFILES)
    for r in by_profile:
        if r["column"] == "pnl_total_end":
            mine = [x["pnl_total_end"] for x in data if x["profile"] == r["profile"]]
            assert float(r["mean"]) == pytest.approx(sum(mine) / len(mine))


def test_a_dataset_row_reproduces_with_paraphina_run(loop, tmp_path):
    row = exp11_research_alignment.load_rows(loop / "dataset_v004.jsonl")[3]
    r = run_cli("run", "--scenario", row["scenario"], "--ticks", str(row["ticks"]), "--seed", str(row["seed"]),
                "-o", str(tmp_path / "run.arrow"), env={"PARAPHINA_RISK_PROFILE": row["profile"]})
    assert r.returncode == 0, r.stderr
    assert f"action_stream_sha256: {row['action_stream_sha256']}" in r.stdout


def test_exp13_dataset_append_is_idempotent_and_never_rewrites_a_label(loop):
    ds = loop / "dataset_v004.jsonl"
    before = ds.read_bytes()
    data = exp11_research_alignment.load_rows(ds)
    _, added = exp13_auto_research.append_rows(ds, data[:2])
    assert added == 0 and ds.read_bytes() == before
    with pytest.raises(UserError, match="t_conservative_r000"):
        exp13_auto_research.append_rows(ds, [{**data[0], "pnl_total_end": 1e6}])
    assert ds.read_bytes() == before


def test_exp11_one_row_per_profile_with_the_checks(loop):
    table = rows(loop / "day" / "exp13_auto" / "exp11_research_alignment" / "exp11_alignment.csv")
    assert [r["profile"] for r in table] == PROFILES
    for col in ("runs", "pnl_ok", "dd_ok", "kill_ok", "pnl_margin", "dd_margin", "kill_margin", "kill_runs_needed"):
        assert col in table[0]
    assert all(r["runs"] == "2" for r in table)
    assert len(distinct(table, "pnl_mean")) == 3


def test_exp11_reads_a_condensed_csv_the_same_way(loop, tmp_path):
    data = exp11_research_alignment.load_rows(loop / "dataset_v004.jsonl")
    csv_path = tmp_path / "dataset.csv"
    csv_path.write_text(dataset_csv(exp13_auto_research.as_dataset(data)), encoding="utf-8")
    exp11_research_alignment.run(tmp_path / "exp11", dataset=str(csv_path), quiet=True)
    via_csv = rows(tmp_path / "exp11" / "exp11_alignment.csv")
    via_jsonl = rows(loop / "day" / "exp13_auto" / "exp11_research_alignment" / "exp11_alignment.csv")
    assert via_csv == via_jsonl
    exp11_research_alignment.run(tmp_path / "only", dataset=str(csv_path), profiles=["balanced"],
                                 label_contains="_r001", quiet=True)
    only = rows(tmp_path / "only" / "exp11_alignment.csv")
    assert [(r["profile"], r["runs"]) for r in only] == [("balanced", "1")]


def test_exp12_one_table_answers_the_question_for_the_three_profiles(loop):
    d = loop / "day" / "exp12_profile_safety"
    report = rows(d / "exp12_tuning_report.csv")
    assert [r["profile"] for r in report] == PROFILES
    for col in ("pnl_ok", "dd_ok", "kill_ok", "behaves", "pnl_margin", "dd_margin", "kill_margin", "pnl_verdict",
                "dd_verdict", "kill_verdict", "action"):
        assert col in report[0]
    for r in report:
        assert (r["behaves"] == "true") == (r["pnl_ok"] == r["dd_ok"] == r["kill_ok"] == "true")
        # two runs without a kill cannot prove a kill bound: more runs, not a new preset
        if r["kills"] == "0":
            assert r["kill_verdict"] == "unproven" and "runs to prove" in r["action"]
    presets = {p["profile"]: p for p in rows(d / "exp12_tuned_presets.csv")}
    assert list(presets) == PROFILES
    for p in presets.values():
        # never looser than today
        assert float(p["PARAPHINA_DAILY_LOSS_LIMIT"]) <= float(p["current_PARAPHINA_DAILY_LOSS_LIMIT"])
        assert float(p["PARAPHINA_MM_SIZE_ETA"]) >= float(p["current_PARAPHINA_MM_SIZE_ETA"])
        assert float(p["PARAPHINA_HEDGE_BAND_BASE"]) <= float(p["current_PARAPHINA_HEDGE_BAND_BASE"])
    # the balanced profile's 2000 USD loss limit exceeds its 1000 USD drawdown budget: capped at 800
    assert float(presets["balanced"]["PARAPHINA_DAILY_LOSS_LIMIT"]) == 800.0
    env = (d / "exp12_balanced.env").read_text()
    assert "export PARAPHINA_DAILY_LOSS_LIMIT=800.0" in env


def test_exp12_tightens_size_and_band_on_a_drawdown_breach(tmp_path):
    _, tiers = expkit.risk_tiers()
    row = {"profile": "balanced", "runs": 60, "pnl_mean": 50.0, "pnl_lcb": 40.0, "dd_cvar": 2000.0, "kills": 0,
           "kill_frac": 0.0, "kill_ucb": 0.04, "kill_runs_needed": 25}
    report, preset = exp12_profile_safety.tune(row, tiers["balanced"], 0.05, 0.2)
    assert report["dd_verdict"] == "breach" and report["behaves"] is False
    # f = 1000 * 0.8 / 2000 = 0.4: size eta / 0.4, band * 0.4
    assert preset["PARAPHINA_MM_SIZE_ETA"] == pytest.approx(preset["current_PARAPHINA_MM_SIZE_ETA"] / 0.4)
    assert preset["PARAPHINA_HEDGE_BAND_BASE"] == pytest.approx(preset["current_PARAPHINA_HEDGE_BAND_BASE"] * 0.4)
    ok, same = exp12_profile_safety.tune({**row, "dd_cvar": 100.0}, tiers["balanced"], 0.05, 0.2)
    assert ok["behaves"] is True and ok["dd_verdict"] == "ok" and ok["kill_verdict"] == "ok"
    assert same["PARAPHINA_MM_SIZE_ETA"] == same["current_PARAPHINA_MM_SIZE_ETA"]


def test_exp12_validation_runs_current_and_proposed_presets_on_the_same_seeds(loop, tmp_path):
    alignment = loop / "day" / "exp13_auto" / "exp11_research_alignment" / "exp11_alignment.csv"
    exp12_profile_safety.run(tmp_path / "v", alignment=str(alignment), validate_runs=1, ticks=40, quiet=True)
    report = {r["profile"]: r for r in rows(tmp_path / "v" / "exp12_tuning_report.csv")}
    presets = {p["profile"]: p for p in rows(tmp_path / "v" / "exp12_tuned_presets.csv")}
    for p, r in report.items():
        assert r["current_runs"] == r["tuned_runs"] == "1"
        assert set(r) >= {"current_pnl_ok", "current_dd_ok", "current_kill_ok", "tuned_all_ok", "tuned_dd_cvar"}
        if presets[p]["changed"] == "false":  # the same preset on the same seed is the same run
            assert (r["current_pnl_mean"], r["current_dd_cvar"]) == (r["tuned_pnl_mean"], r["tuned_dd_cvar"])


def test_daily_prints_the_table(loop, capsys, tmp_path):
    # A rerun of the same day adds nothing to the dataset and prints the same one table.
    before = (loop / "dataset_v004.jsonl").read_bytes()
    rc = daily.main(["--smoke", "--seed", "3", "--label-prefix", "t", "-o", str(loop / "day"),
                     "--dataset", str(loop / "dataset_v004.jsonl")])
    out = capsys.readouterr().out
    assert rc == 0 and (loop / "dataset_v004.jsonl").read_bytes() == before
    assert "Do the profiles still behave according to their risk budgets?" in out
    table = out.split("risk budgets?\n", 1)[1].splitlines()
    assert table[0].split()[:8] == ["profile", "runs", "pnl_lcb", "dd_cvar", "kill_ucb", "pnl_ok", "dd_ok", "kill_ok"]
    assert [line.split()[0] for line in table[1:4]] == PROFILES


def test_jobs_do_not_change_a_byte(tmp_path):
    kw = {"ticks": 40, "repeats": 1, "hard_limits": (15_000.0,), "warn_fracs": (0.5, 0.9), "quiet": True}
    one = exp04_risk_regimes.run(tmp_path / "j1", jobs=1, **kw)
    two = exp04_risk_regimes.run(tmp_path / "j2", jobs=2, **kw)
    assert [p.read_bytes() for p in one] == [p.read_bytes() for p in two]
