"""`paraphina adversarial`: the search finds a planted weakness, is deterministic and resumable,
and the regression suite it writes gates the weak preset but not a safe one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from paraphina.cli import main
from paraphina.research.adversarial import ScoreScales, failure_score

BASE = ROOT / "scenarios" / "synth_baseline.yaml"
# The planted weakness: the btc preset with a 5 USD daily loss limit. At 2 % daily volatility it
# survives 30 ticks; a volatile market trips its kill switch within a few ticks.
WEAK = 'preset = "btc"\n[risk]\ndaily_loss_limit = 5.0\n'
# A small search space: calm by default, the weakness found only where volatility is high.
BOUNDS = """\
bounds_id: test
population: 6
elite_fraction: 0.34
failure: {no_kill: true}
params:
  vol_daily: {low: 0.005, high: 1.5, log: true}
  spread_mult: {low: 1.0, high: 5.0}
  drain_venue: {choices: [0, 1]}
set:
  market.vol_daily: $vol_daily
shocks:
  - {type: liquidity_drain, venue: $drain_venue, at: 0.2, length: 0.5, spread_mult: $spread_mult}
"""
ARGS = ["--scenario", "base.yaml", "--bounds", "bounds.yaml", "--budget", "12", "--seed", "7", "--ticks", "30",
        "--config", "weak.toml", "--suite-out", "suites/regression.yaml", "--quiet"]


def adversarial(*args: str, capsys) -> tuple[int, str, str]:
    try:
        main(["adversarial", *args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def suite(*args: str, capsys) -> tuple[int, str]:
    try:
        main(["suite", *args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, _ = capsys.readouterr()
    return code, out


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A fresh directory holding the base scenario, the bounds, the weak config and a suites/ dir."""
    d = tmp_path / "w"
    d.mkdir()
    shutil.copy(BASE, d / "base.yaml")
    (d / "bounds.yaml").write_text(BOUNDS)
    (d / "weak.toml").write_text(WEAK)
    (d / "suites").mkdir()
    monkeypatch.chdir(d)
    monkeypatch.setenv("PARAPHINA_PROGRESS_INTERVAL", "0")
    monkeypatch.delenv("PARAPHINA_RISK_PROFILE", raising=False)
    return d


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_finds_the_planted_weakness_and_the_suite_gates_it(work, capsys):
    code, _, err = adversarial(*ARGS, "-o", "search", capsys=capsys)
    assert code == 0, err
    fails = json.loads((work / "search" / "failures.json").read_text())["failures"]
    assert fails, "no failing scenario within 12 evaluations"
    assert all(f["failures"] == [f["failures"][0]] and "no_kill" in f["failures"][0] for f in fails)
    evals = [json.loads(line) for line in (work / "search" / "evaluations.jsonl").read_text().splitlines()]
    assert [e["index"] for e in evals] == list(range(12))
    assert any(not e["failed"] for e in evals)  # calm candidates survive: the search had to look
    # The search learned: the second generation fails at least as often as the first.
    assert sum(e["failed"] for e in evals[6:]) >= sum(e["failed"] for e in evals[:6])
    assert (work / "search" / "report.html").read_text().count("<svg") == 2
    assert (work / "search" / "evaluations.csv").read_text().splitlines()[0].endswith("vol_daily,spread_mult,drain_venue,failures")

    reg = yaml.safe_load((work / "suites" / "regression.yaml").read_text())
    entries = reg["scenarios"]
    assert 1 <= len(entries) <= 3
    best = entries[0]
    assert best["provenance"]["search_seed"] == 7 and best["provenance"]["config_id"]
    assert best["provenance"]["base_scenario_sha256"].startswith("sha256:")
    assert best["invariants"]["no_kill"] is True and best["invariants"]["max_drawdown_usd"] is None

    code, out = suite("suites/regression.yaml", "-o", "weak-run", "--config", "weak.toml", "--quiet", capsys=capsys)
    assert code == 1 and "0 of" in out and "no_kill" in out
    # The suite replays exactly the failing evaluation (same scenario bytes, seed, config).
    by_id = {e["scenario_id"]: e for e in evals}
    for row in json.loads((work / "weak-run" / "summary.json").read_text())["results"]:
        assert row["sha256"] == by_id[row["scenario"]]["action_stream_sha256"]
    code, out = suite("suites/regression.yaml", "-o", "safe-run", "--quiet", capsys=capsys)
    assert code == 0, out


def test_same_seed_same_files_whatever_the_jobs(work, capsys):
    assert adversarial(*ARGS, "--no-suite", "-o", "a", capsys=capsys)[0] == 0
    assert adversarial(*ARGS, "--no-suite", "-o", "b", "--jobs", "2", capsys=capsys)[0] == 0
    a, b = files(work / "a"), files(work / "b")
    assert [k for k in a if not k.startswith("evidence_pack")] == [k for k in b if not k.startswith("evidence_pack")]
    for k in a:
        if not k.startswith("evidence_pack"):  # the manifest names the command line (--jobs 2)
            assert a[k] == b[k], k
    # Another seed searches elsewhere.
    assert adversarial(*[x if x != "7" else "8" for x in ARGS], "--no-suite", "-o", "c", capsys=capsys)[0] == 0
    assert files(work / "c")["evaluations.jsonl"] != a["evaluations.jsonl"]


def test_killed_midway_resumes_to_the_same_files(work, capsys):
    assert adversarial(*ARGS, "--no-suite", "-o", "full", capsys=capsys)[0] == 0
    want = files(work / "full")
    # A search killed during its second generation: 8 evaluations done, a torn ninth line.
    part = work / "part"
    shutil.copytree(work / "full", part)
    lines = (part / "evaluations.jsonl").read_text().splitlines(keepends=True)
    (part / "evaluations.jsonl").write_text("".join(lines[:8]) + lines[8][:40])
    for name in ("generations.jsonl", "failures.json", "evaluations.csv", "report.html"):
        (part / name).unlink()
    shutil.rmtree(part / "failures")
    shutil.rmtree(part / "evidence_pack")
    code, out, err = adversarial(*[a for a in ARGS if a != "--quiet"], "--no-suite", "-o", "part", capsys=capsys)
    assert code == 0, err
    assert "resumed: 8 evaluations already present, 4 run now" in out
    got = files(part)
    for k in want:
        if not k.startswith("evidence_pack"):
            assert got[k] == want[k], k
    # Other inputs into the same directory are refused, naming the difference, nothing touched.
    code, _, err = adversarial(*[x if x != "12" else "18" for x in ARGS], "--no-suite", "-o", "part", capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and "budget: 12 in the directory, 18 now" in err
    assert files(part) == got


def test_appending_is_idempotent_and_keeps_the_suite_text(work, capsys):
    reg = work / "suites" / "adversarial_regression.yaml"
    shutil.copy(ROOT / "scenarios" / "suites" / "adversarial_regression.yaml", reg)
    before = reg.read_text()
    args = [a if a != "suites/regression.yaml" else str(reg) for a in ARGS]
    assert adversarial(*args, "-o", "s", "--promote", "2", capsys=capsys)[0] == 0
    after = reg.read_text()
    assert after.startswith(before) and after.count("- path:") == before.count("- path:") + 2
    assert len(list((work / "suites" / "adversarial_regression").glob("*.yaml"))) == 2
    code, out, _ = adversarial(*[a for a in args if a != "--quiet"], "-o", "s", "--promote", "2", capsys=capsys)
    assert code == 0 and "0 appended" in out and "2 already there" in out
    assert reg.read_text() == after
    # The same failures found by another search directory are not added again either.
    assert adversarial(*args, "-o", "s2", "--promote", "2", capsys=capsys)[0] == 0
    assert reg.read_text() == after


@pytest.mark.parametrize("text, message", [
    ("bounds_id: x\nparams: {v: {low: 1, high: 0}}\nset: {market.vol_daily: $v}\n", "`params.v`: `low` must be below `high`"),
    ("bounds_id: x\nparams: {v: {low: 0.1, high: 1}}\nset: {market.vol_daily: $w}\n", "`$w` is used but not declared"),
    ("bounds_id: x\nparams: {v: {low: 0.1, high: 1}}\nset: {market.vol_dayly: $v}\n", "no field 'vol_dayly'"),
    ("bounds_id: x\nparams: {v: {low: 0.1, high: 1}}\nset: {market.vol_daily: $v}\nbogus: 1\n", "bogus"),
    ("bounds_id: x\nparams: {v: {low: 0, high: 1, log: true}}\nset: {market.vol_daily: $v}\n", "`log: true` needs `low` > 0"),
    ("bounds_id: x\nparams: {v: {choices: []}}\nset: {market.vol_daily: $v}\n", "`choices` must not be empty"),
    ("bounds_id: x\nparams: {v: {low: 20, high: 30}}\nset: {market.vol_daily: $v}\n", "vol_daily"),
    ("bounds_id: x\nfailure: {no_kil: true}\nparams: {v: {low: 0.1, high: 1}}\nset: {market.vol_daily: $v}\n",
     "`failure.no_kil`: not an invariant"),
    ("bounds_id: [\n", "not valid YAML"),
])
def test_a_bad_bounds_file_is_one_line_and_exit_2(work, capsys, text, message):
    (work / "bounds.yaml").write_text(text)
    code, _, err = adversarial(*ARGS, "-o", "x", capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and "bounds.yaml" in err and message in err, err
    assert not (work / "x").exists()


def test_the_failure_score_is_monotone_in_badness():
    s = ScoreScales(drawdown_usd=100.0, loss_usd=100.0)
    calm = {"kill": False, "kill_tick": None, "ticks": 100, "pnl": 5.0, "max_drawdown": 10.0}
    worse = [
        {**calm, "max_drawdown": 50.0},
        {**calm, "pnl": -50.0},
        {**calm, "kill": True, "kill_tick": 90},
    ]
    base = failure_score(calm, 0, 100, s)
    assert all(failure_score(w, 0, 100, s) > base for w in worse)
    late = failure_score({**calm, "kill": True, "kill_tick": 90}, 0, 100, s)
    early = failure_score({**calm, "kill": True, "kill_tick": 5}, 0, 100, s)
    assert early > late
    assert failure_score(calm, 1, 100, s) > failure_score(calm, 0, 100, s)
    assert failure_score({**calm, "pnl": 500.0}, 0, 100, s) == base  # gains do not lower it below no loss


def test_the_shipped_bounds_file_makes_valid_scenarios(work):
    from paraphina.research import adversarial as adv
    from paraphina.sim.scenario import load_scenario

    bounds = adv.load_bounds(ROOT / "batch_runs" / "adversarial" / "bounds_btc.yaml")
    base = load_scenario(BASE)
    dist = adv.Distribution.initial(bounds)
    for coords, cats in dist.sample(bounds, 1, 0, 8) + [([0.0] * len(dist.mean), [0] * len(dist.probs)),
                                                         ([1.0] * len(dist.mean), [-1] * len(dist.probs))]:
        sc = adv.build_candidate(base, bounds, adv.candidate_values(bounds, coords, cats), 5, 40)
        kinds = [s.__class__.__name__ for s in sc.shocks]
        assert kinds == ["LiquidityDrain", "VenueOutage", "FundingFlip", "BasisSpike"]
        assert all(0 <= s.start_step < s.end_step <= 40 for s in sc.shocks)
        path = work / f"{sc.scenario_id}.yaml"
        path.write_text(adv.scenario_yaml(sc))
        assert load_scenario(path) == sc


def test_a_suite_in_a_missing_directory_is_refused_before_any_run(work, capsys):
    args = [a if a != "suites/regression.yaml" else "nowhere/regression.yaml" for a in ARGS]
    code, _, err = adversarial(*args, "-o", "x", capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and "nowhere does not exist" in err and "--no-suite" in err
    assert not (work / "x").exists()
