"""Phase A: spec parsing, seeded candidates, and a whole smoke study run twice (identical artefacts).

The evaluate function is paraphina.research.toy.toy_candidate_run: a test double (seeded random
walk), not the simulator.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
from pathlib import Path

import pytest

from batch_runs.phase_a.__main__ import main as phase_a_main
from conftest import ROOT
from batch_runs.phase_a.spec import (
    DEFAULT_BUDGETS,
    DEFAULT_KNOBS,
    SpecError,
    candidate_id,
    generate_candidates,
    knob_spec_from_dict,
    load_budgets,
    load_knob_spec,
)
from paraphina.research import stats
from paraphina.research.evidence import verify_evidence

SMOKE = ["--seed", "7", "--candidates", "6", "--runs", "60", "--evaluate",
         "paraphina.research.toy:toy_candidate_run", "--no-report"]


def test_default_budgets_file_matches_reference_defaults():
    alpha, tiers = load_budgets(DEFAULT_BUDGETS)
    assert alpha == 0.05
    assert tiers == load_budgets(None)[1]
    assert list(tiers) == ["conservative", "balanced", "aggressive", "research"]


def test_budgets_legacy_keys_and_errors(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text("alpha: 0.1\nt:\n  max_kill_prob: 0.2\n  max_drawdown_cvar: 9\n  min_mean_pnl: 1\n")
    alpha, tiers = load_budgets(p)
    assert alpha == 0.1 and tiers["t"] == stats.Budget(tier="t", max_kill_ucb=0.2, max_dd_cvar=9, min_pnl_lcb_usd=1)
    p.write_text("t:\n  max_kill_ucb: 0.2\n  max_dd_cvar: 9\n  min_pnl: 1\n")
    with pytest.raises(SpecError, match=r"b.yaml: t.min_pnl: unknown key"):
        load_budgets(p)
    p.write_text("t:\n  max_kill_ucb: 0.2\n  max_dd_cvar: 9\n")
    with pytest.raises(SpecError, match="missing min_pnl_lcb_usd"):
        load_budgets(p)


def test_knob_spec_errors():
    with pytest.raises(SpecError, match="knobs.FOO"):
        knob_spec_from_dict({"knobs": {"FOO": [1]}})
    with pytest.raises(SpecError, match="low: a, high: b"):
        knob_spec_from_dict({"knobs": {"PARAPHINA_X": {"low": 2, "high": 1}}})
    with pytest.raises(SpecError, match="unknown risk profile"):
        knob_spec_from_dict({"profiles": ["reckless"], "knobs": {"PARAPHINA_X": [1]}})


def test_candidates_seeded_distinct_and_order_free():
    spec = load_knob_spec(DEFAULT_KNOBS)
    a = generate_candidates(spec, 20, 3)
    assert a == generate_candidates(spec, 20, 3)
    assert a != generate_candidates(spec, 20, 4)
    assert len({c.candidate_id for c in a}) == 20
    c = a[0]
    expected = hashlib.sha256("_".join(f"{k}={v}" for k, v in sorted(c.env.items())).encode()).hexdigest()[:12]
    assert c.candidate_id == candidate_id(c.env) == expected
    # the order of knobs in the file does not change the draw
    raw = {"profiles": list(spec.profiles), "knobs": {k.name: list(k.choices) for k in reversed(spec.knobs)}}
    assert generate_candidates(knob_spec_from_dict(raw), 20, 3) == a
    with pytest.raises(SpecError, match="only allow 2"):
        generate_candidates(knob_spec_from_dict({"profiles": ["balanced"], "knobs": {"PARAPHINA_X": [1, 2]}}), 3, 0)


def test_uniform_ranges():
    spec = knob_spec_from_dict({"profiles": ["balanced"], "knobs": {"PARAPHINA_X": {"low": 0.1, "high": 0.2}}})
    vals = [float(c.env["PARAPHINA_X"]) for c in generate_candidates(spec, 5, 1)]
    assert all(0.1 <= v <= 0.2 for v in vals) and all(round(v, 6) == v for v in vals)


def tree_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_smoke_study_end_to_end_and_deterministic(tmp_path, capsys):
    a, b2 = tmp_path / "a", tmp_path / "b2"
    assert phase_a_main(["--study-dir", str(a), *SMOKE]) == 0
    out = capsys.readouterr().out
    assert "evidence: verified" in out
    # Same command twice (different directories): every artefact is byte-identical.
    assert phase_a_main(["--study-dir", str(b2), *SMOKE]) == 0
    files = tree_files(a)
    assert files == tree_files(b2)
    mismatch = filecmp.cmpfiles(a, b2, files, shallow=False)[1:]
    assert mismatch == ([], [])
    # Every artefact is there.
    for f in ("study.json", "trials.jsonl", "pareto.json", "pareto.csv", "promotion.json",
              "evidence_pack/SHA256SUMS", "evidence_pack/manifest.json"):
        assert (a / f).is_file(), f
    assert verify_evidence(a, recursive=True).code == 0
    assert len(verify_evidence(a, recursive=True).packs) == 7  # root + 6 trials
    # Winners: each passes its budget and is the best passing candidate by the tie-break order.
    alpha, budgets = load_budgets(DEFAULT_BUDGETS)
    trials = [json.loads(x) for x in (a / "trials.jsonl").read_text().splitlines()]
    assert [t["trial_id"] for t in trials] == sorted(t["trial_id"] for t in trials)
    scores = [stats.CandidateScore(key=t["candidate_id"], mean_pnl=t["metrics"]["pnl_mean"],
                                   kill_ucb=t["metrics"]["kill_ucb"], dd_cvar=t["metrics"]["dd_cvar"],
                                   pnl_lcb=t["metrics"]["pnl_lcb"]) for t in trials]
    promotion = json.loads((a / "promotion.json").read_text())["tiers"]
    promoted = 0
    for tier, b_ in budgets.items():
        w = stats.pick_winner(scores, b_)
        assert promotion[tier]["winner"] == (w.key if w else None)
        if w:
            promoted += 1
            rec = json.loads((a / "promoted" / tier / "PROMOTION_RECORD.json").read_text())
            env_bytes = (a / rec["preset_file"]).read_bytes()
            assert rec["candidate_hash"] == hashlib.sha256(env_bytes).hexdigest()
            assert rec["metrics"]["kill_ucb"] <= b_.max_kill_ucb and rec["evidence_verified"] is True
            assert b"export PARAPHINA_RISK_PROFILE=" in env_bytes
    assert promoted >= 2  # the smoke study promotes in several tiers, so the check has teeth
    pareto = json.loads((a / "pareto.json").read_text())
    assert [c["candidate_id"] for c in pareto["candidates"]] == [s.key for s in stats.pareto_frontier(scores)]


def test_tampered_study_fails_verification(tmp_path):
    a = tmp_path / "a"
    assert phase_a_main(["--study-dir", str(a), "--seed", "3", "--candidates", "2", "--runs", "10", "--evaluate",
                         "paraphina.research.toy:toy_candidate_run"]) == 0
    target = next((a / "trials").glob("*/mc/mc_runs.jsonl"))
    target.write_text(target.read_text().replace('"kill_switch":false', '"kill_switch":true', 1))
    rep = verify_evidence(a, recursive=True)
    assert rep.code == 3 and any(str(target) in p for p in rep.problems)


def test_bad_inputs_exit_2(tmp_path, capsys):
    assert phase_a_main(["--study-dir", str(tmp_path / "x"), "--seed", "1", "--evaluate", "nomodule:f"]) == 2
    assert "cannot import nomodule" in capsys.readouterr().err
    bad = tmp_path / "b.yaml"
    bad.write_text("t: [1, 2]\n")
    assert phase_a_main(["--study-dir", str(tmp_path / "y"), "--seed", "1", "--budgets", str(bad), "--evaluate",
                         "paraphina.research.toy:toy_candidate_run"]) == 2


def _sim_study(tmp_path: Path, name: str, suite_invariants: str, monkeypatch) -> tuple[Path, int]:
    """A two-candidate study on the simulator, run in ``tmp_path`` with relative input paths (so
    two studies in different directories record the same commands)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "budgets.yaml").write_text(
        "alpha: 0.05\nlenient: {max_kill_ucb: 1.0, max_dd_cvar: 1000000, min_pnl_lcb_usd: -1000000}\n"
        "strict: {max_kill_ucb: 0.0, max_dd_cvar: 0, min_pnl_lcb_usd: 1000000}\n")
    suite = f"{name}_suite.yaml"
    Path(suite).write_text(f"suite_id: tiny\nticks: 80\ninvariants: {suite_invariants}\n"
                     f"scenarios:\n  - path: {ROOT / 'scenarios' / 'synth_baseline.yaml'}\n    seeds: [1000]\n")
    study = tmp_path / name
    code = phase_a_main(["--study-dir", name, "--seed", "5", "--candidates", "2", "--runs", "3",
                         "--knobs", str(ROOT / "batch_runs" / "phase_a" / "knobs_btc.yaml"),
                         "--budgets", "budgets.yaml",
                         "--evaluate", "paraphina.research.simrun:candidate_run",
                         "--evaluate-arg", f"scenario={ROOT / 'scenarios' / 'synth_baseline.yaml'}",
                         "--evaluate-arg", "ticks=80", "--suite", suite, "--jobs", "2", "--no-report"])
    return study, code


def test_simulator_study_runs_suites_promotes_and_repeats_byte_for_byte(tmp_path, monkeypatch):
    a, code = _sim_study(tmp_path / "1", "study", "{pnl_finite: true}", monkeypatch)
    assert code == 0
    b, code = _sim_study(tmp_path / "2", "study", "{pnl_finite: true}", monkeypatch)
    assert code == 0
    files = tree_files(a)
    assert files == tree_files(b) and filecmp.cmpfiles(a, b, files, shallow=False)[1:] == ([], [])
    trials = [json.loads(x) for x in (a / "trials.jsonl").read_text().splitlines()]
    assert all(t["suites_passed"] == {"tiny": True} and t["valid"] for t in trials)
    runs = [json.loads(x) for t in trials for x in (a / "trials" / t["trial_id"] / "mc" / "mc_runs.jsonl").read_text().splitlines()]
    assert len(runs) == 6 and all(r["ticks_executed"] <= 80 and r["action_stream_sha256"] for r in runs)
    # Candidates differ only in knobs and meet the same market paths (common random numbers).
    assert [r["seed"] for r in runs[:3]] == [r["seed"] for r in runs[3:]]
    promotion = json.loads((a / "promotion.json").read_text())["tiers"]
    assert promotion["lenient"]["winner"] in {t["candidate_id"] for t in trials}
    assert promotion["strict"]["winner"] is None
    rec = json.loads((a / "promoted" / "lenient" / "PROMOTION_RECORD.json").read_text())
    assert rec["suites_passed"] == {"tiny": True} and rec["evaluate"] == "paraphina.research.simrun:candidate_run"
    assert verify_evidence(a, recursive=True).code == 0


def test_a_failed_suite_disqualifies_the_candidate(tmp_path, monkeypatch):
    study, code = _sim_study(tmp_path, "failing", "{min_pnl_usd: 1000000}", monkeypatch)
    assert code == 0
    trials = [json.loads(x) for x in (study / "trials.jsonl").read_text().splitlines()]
    assert all(t["suites_passed"] == {"tiny": False} and not t["valid"] for t in trials)
    suite = json.loads((study / "trials" / trials[0]["trial_id"] / "oos" / "tiny_v1" / "summary.json").read_text())
    assert suite["failed"] == 1 and "min_pnl_usd" in suite["results"][0]["failures"][0]
    assert json.loads((study / "promotion.json").read_text())["tiers"]["lenient"]["winner"] is None
