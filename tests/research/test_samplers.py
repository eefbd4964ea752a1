"""Phase A samplers: random (baseline), pareto-mutation, tpe, cmaes.

The evaluate function is ``paraphina.research.toy:toy_bowl_run``, a test double with a known
optimum (not the simulator), so whole studies take seconds.
"""

from __future__ import annotations

import filecmp
import json
import math
import shutil
from pathlib import Path

import pytest

from batch_runs.phase_a.pipeline import run_study
from batch_runs.phase_a.promote_pipeline import main as promote_main
from batch_runs.phase_a.sampler_study import compare_seed, run_compare
from batch_runs.phase_a.samplers import (
    MUTATION_MAX_STEP,
    SAMPLERS,
    Outcome,
    budget_violation,
    choice_index,
    make_sampler,
)
from batch_runs.phase_a.spec import (
    DEFAULT_BUDGETS,
    SpecError,
    generate_candidates,
    knob_spec_from_dict,
    load_budgets,
    load_knob_spec,
)
from conftest import ROOT
from paraphina.research import stats
from paraphina.research.toy import BOWL, toy_bowl_run

pytest.importorskip("optuna", reason="Optuna not installed (extra paraphina[tune])")

BOWL_KNOBS = str(ROOT / "batch_runs" / "phase_a" / "knobs_bowl.yaml")
BUDGETS = str(DEFAULT_BUDGETS)
EVALUATE = "paraphina.research.toy:toy_bowl_run"
MIXED = knob_spec_from_dict({"profiles": ["conservative", "balanced", "aggressive"], "knobs": {
    "PARAPHINA_HEDGE_BAND_BASE": {"low": 0.02, "high": 0.15},
    "PARAPHINA_MM_SIZE_ETA": [0.5, 0.75, 1.0, 1.25, 1.5, 2.0],
    "PARAPHINA_VOL_REF": {"low": 0.05, "high": 0.15},
    "PARAPHINA_DAILY_LOSS_LIMIT": [500, 1000, 2000, 3000],
}})


def bowl_outcome(cid: str, env, budgets) -> Outcome:
    """A candidate's outcome without the pipeline: the bowl over three runs."""
    runs = [toy_bowl_run(env, i, 100 + i) for i in range(3)]
    pnl = sum(r["pnl"] for r in runs) / 3
    score = stats.CandidateScore(key=cid, mean_pnl=pnl, kill_ucb=0.1, dd_cvar=max(r["max_drawdown"] for r in runs),
                                 pnl_lcb=pnl - 5)
    return Outcome(score=score, valid=True, violation=budget_violation(score, budgets))


def drive(name: str, spec, seed: int, total: int, batch: int = 4) -> list[dict]:
    """Ask and tell a sampler over the bowl outside the pipeline; its history."""
    _, budgets = load_budgets(BUDGETS)
    sampler = make_sampler(name, spec, seed, total, batch, budgets)
    while len(sampler.seen) < total:
        asked = sampler.ask(min(batch, total - len(sampler.seen)))
        assert asked
        outcomes = [bowl_outcome(p.candidate.candidate_id, p.candidate.env, budgets) for p in asked]
        for p, o in zip(asked, outcomes):
            sampler.tell(p, o)
    return sampler.history()


def study(tmp: Path, sampler: str, seed: int = 7, trials: int = 12, runs: int = 3, **kw) -> Path:
    out = tmp / f"{sampler}_{seed}"
    argv = ["--study-dir", str(out), "--trials", str(trials), "--mc-runs", str(runs), "--seed", str(seed),
            "--evaluate", EVALUATE, "--knobs", BOWL_KNOBS, "--no-suites", "--no-report", "-q", "--sampler", sampler,
            *[a for k, v in kw.items() for a in (f"--{k}", str(v))]]
    assert promote_main(argv) == 0
    return out


def tree(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", ["tpe", "cmaes", "pareto-mutation"])
def test_adaptive_sampler_reproducible_for_a_seed(tmp_path, name):
    a, b = study(tmp_path / "a", name), study(tmp_path / "b", name)
    files = tree(a)
    assert files == tree(b)
    assert "sampler/history.jsonl" in files and "sampler/state.json" in files
    _, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert mismatch == [] and errors == []
    state = json.loads((a / "sampler" / "state.json").read_text())
    assert state["sampler"] == name and state["seed"] == 7 and state["told"] == 12
    recorded = json.loads((a / "study.json").read_text())["sampler"]
    assert recorded["sampler"] == name and recorded["seed"] == 7
    history = [json.loads(line) for line in (a / "sampler" / "history.jsonl").read_text().splitlines()]
    assert len(history) == 12 and len({h["candidate_id"] for h in history}) == 12
    # The first candidates are random's with the same seed (a common start); the rest are the model's.
    init = generate_candidates(load_knob_spec(BOWL_KNOBS), state["init"], 7)
    assert [h["candidate_id"] for h in history[:state["init"]]] == [c.candidate_id for c in init]
    assert {h["origin"] for h in history[state["init"]:]} == {"mutation" if name == "pareto-mutation" else name}
    # Another seed: other candidates.
    c = study(tmp_path / "c", name, seed=8)
    other = [json.loads(line)["candidate_id"] for line in (c / "sampler" / "history.jsonl").read_text().splitlines()]
    assert other != [h["candidate_id"] for h in history]


def test_random_sampler_is_todays_phase_a(tmp_path):
    out = study(tmp_path, "random", trials=6)
    rows = [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]
    spec = load_knob_spec(BOWL_KNOBS)
    assert [r["candidate_id"] for r in rows] == [c.candidate_id for c in generate_candidates(spec, 6, 7)]


@pytest.mark.parametrize("name", SAMPLERS)
def test_samplers_respect_knob_bounds(name):
    history = drive(name, MIXED, seed=3, total=40)
    assert len({h["candidate_id"] for h in history}) == 40
    for h in history:
        env = h["env"]
        assert env["PARAPHINA_RISK_PROFILE"] in MIXED.profiles
        for k in MIXED.knobs:
            if k.choices is not None:
                choice_index(k, env[k.name])  # raises when not one of the choices
            else:
                assert k.low <= float(env[k.name]) <= k.high


def test_pareto_mutation_stays_near_its_parents():
    history = drive("pareto-mutation", MIXED, seed=5, total=40)
    by_id = {h["candidate_id"]: h for h in history}
    mutated = [h for h in history if h["origin"] == "mutation"]
    assert len(mutated) >= 20
    for h in mutated:
        parent = by_id[h["parent"]]
        assert parent["index"] < h["index"] and parent["env"] != h["env"]
        for k in MIXED.knobs:
            child_v, parent_v = h["env"][k.name], parent["env"][k.name]
            if k.choices is not None:
                assert abs(choice_index(k, child_v) - choice_index(k, parent_v)) <= 1
            else:
                assert abs(float(child_v) - float(parent_v)) <= MUTATION_MAX_STEP * (k.high - k.low) + 1e-6


def test_budget_violation_signs():
    _, budgets = load_budgets(BUDGETS)
    ok = stats.CandidateScore(key="a", mean_pnl=50, kill_ucb=0.0, dd_cvar=100, pnl_lcb=40)
    bad = stats.CandidateScore(key="b", mean_pnl=-50, kill_ucb=0.5, dd_cvar=5000, pnl_lcb=-60)
    assert budget_violation(ok, budgets) <= 0 < budget_violation(bad, budgets)
    # A kill bound out of reach at the run count is raised to the zero-kill bound.
    floor = stats.wilson_ucb(0, 4, 0.05)
    at_floor = stats.CandidateScore(key="c", mean_pnl=50, kill_ucb=floor, dd_cvar=100, pnl_lcb=40)
    assert budget_violation(at_floor, budgets) > 0
    assert budget_violation(at_floor, budgets, kill_floor=floor) <= 0


def test_resume_and_refusal(tmp_path):
    out = study(tmp_path, "tpe")
    before = (out / "sampler" / "history.jsonl").read_bytes()
    assert study(tmp_path, "tpe") == out  # same inputs: a resume, the same candidates
    assert (out / "sampler" / "history.jsonl").read_bytes() == before
    # Interrupted: the last trials' Monte Carlo and the sampler files lost; the rerun redoes them alike.
    trials_before = (out / "trials.jsonl").read_bytes()
    for d in sorted((out / "trials").iterdir())[-3:]:
        shutil.rmtree(d)
    shutil.rmtree(out / "sampler")
    (out / "trials.jsonl").unlink()
    study(tmp_path, "tpe")
    assert (out / "sampler" / "history.jsonl").read_bytes() == before
    assert (out / "trials.jsonl").read_bytes() == trials_before
    argv = ["--study-dir", str(out), "--trials", "12", "--mc-runs", "3", "--seed", "7", "--evaluate", EVALUATE,
            "--knobs", BOWL_KNOBS, "--no-suites", "--no-report", "-q", "--sampler", "cmaes"]
    assert promote_main(argv) == 2  # another sampler: refused, one line


def test_cli_sampler_choices_are_the_samplers(capsys, tmp_path):
    from paraphina.cli import _register, cli, main

    _register()  # commands load lazily: import them all

    cmd = cli.commands["phase-a"]
    assert tuple(next(p for p in cmd.params if p.name == "sampler").type.choices) == SAMPLERS
    cmp = cli.commands["phase-a-compare"]
    assert set(next(p for p in cmp.params if p.name == "sampler").type.choices) == set(SAMPLERS)
    with pytest.raises(SystemExit) as exc:
        main(["phase-a-compare", "-o", str(tmp_path / "x"), "--sampler", "random"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "two different samplers" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
    with pytest.raises(SystemExit) as exc:
        main(["phase-a-compare", "-o", str(tmp_path / "x"), "--knobs", str(tmp_path / "missing.yaml")])
    assert exc.value.code == 2 and "missing.yaml" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # refused before the directory is claimed


def test_compare_seed_counts():
    a = stats.CandidateScore(key="a", mean_pnl=10, kill_ucb=0.1, dd_cvar=5, pnl_lcb=0)
    b = stats.CandidateScore(key="b", mean_pnl=5, kill_ucb=0.1, dd_cvar=6, pnl_lcb=0)  # dominated by a
    figures = compare_seed({"x": [a], "y": [b]})
    assert figures["x"]["dominated_by_others"] == 0 and figures["y"]["dominated_by_others"] == 1
    assert figures["x"]["hypervolume"] > figures["y"]["hypervolume"]
    assert figures["x"]["joint_frontier_share"] == 1 and figures["y"]["joint_frontier_share"] == 0


def test_model_based_sampler_beats_random_on_the_bowl(tmp_path):
    """At equal budget on the same seeds, TPE's frontier has more hypervolume than random draws'
    on every seed, and its best candidate is nearer the bowl's known optimum (mean PnL 100)."""
    result = run_compare(tmp_path / "cmp", samplers=["random", "tpe"], seeds=[1, 2], trials=40, runs=3, ticks=1,
                         evaluate=EVALUATE, knobs=BOWL_KNOBS, budgets=BUDGETS, quiet=True)
    rows = {(r["sampler"], r["seed"]): r for r in result["per_seed"]}
    for seed in (1, 2):
        assert rows[("tpe", seed)]["hypervolume"] > rows[("random", seed)]["hypervolume"]
        assert 100 - rows[("tpe", seed)]["best_mean_pnl"] < 100 - rows[("random", seed)]["best_mean_pnl"]
    assert result["mean"]["tpe"]["hypervolume"] > result["mean"]["random"]["hypervolume"]
    for f in ("comparison.csv", "frontiers.csv", "comparison.json", "frontiers.png", "compare.json"):
        assert (tmp_path / "cmp" / f).is_file()
    assert (tmp_path / "cmp" / "frontiers.png").read_bytes()[:4] == b"\x89PNG"
    assert "tpe vs random" in result["verdict"][0]


def test_bowl_optimum_is_known():
    best = {k: str(v[2]) for k, v in BOWL.items()}
    assert math.isclose(toy_bowl_run(best, 0, 1, noise=0.0)["pnl"], 100.0)
    worse = {**best, "PARAPHINA_VOL_REF": "0.15"}
    assert toy_bowl_run(worse, 0, 1, noise=0.0)["pnl"] < 100.0


def test_bad_sampler_input_is_one_line():
    _, budgets = load_budgets(BUDGETS)
    with pytest.raises(SpecError, match="--sampler 'bogus'"):
        make_sampler("bogus", MIXED, 1, 4, 4, budgets)
    with pytest.raises(SpecError, match="--batch must be >= 1"):
        make_sampler("tpe", MIXED, 1, 4, 0, budgets)
