"""Provenance of research directories: a resume with any determining input changed is refused in
one line naming the first difference and leaves the directory byte-identical; the same inputs
resume; --force starts over. Starting inventory (PARAPHINA_INIT_Q_TAO) changes the runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from paraphina.research.provenance import ProvenanceError, claim, first_difference

SCENARIO = "scenarios/synth_baseline.yaml"
BASE = ("mc", "--ticks", "30", "--runs", "2", "--seed", "5", "--quiet")


def snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_first_difference_names_the_path_and_both_values():
    assert first_difference({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2]}) is None
    assert first_difference({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 3}}) == "b.c: 2 in the directory, 3 now"
    assert first_difference({"x": [1, 2]}, {"x": [1, 2, 3]}) == "x: 2 items in the directory, 3 now"
    assert first_difference({"x": 1}, {"x": 1, "y": None}) == "y: absent in the directory, null now"
    assert first_difference({"n": 1}, {"n": 1.0}) == "n: 1 in the directory, 1.0 now"


def test_claim_resumes_refuses_and_force_starts_over(tmp_path):
    assert claim(tmp_path, "rec.json", {"ticks": 30}) is False
    (tmp_path / "result.txt").write_text("old")
    assert claim(tmp_path, "rec.json", {"ticks": 30}) is True
    before = snapshot(tmp_path)
    with pytest.raises(ProvenanceError, match=r"ticks: 30 in the directory, 40 now"):
        claim(tmp_path, "rec.json", {"ticks": 40})
    assert snapshot(tmp_path) == before
    assert claim(tmp_path, "rec.json", {"ticks": 40}, force=True) is False
    assert sorted(snapshot(tmp_path)) == ["rec.json"]


@pytest.fixture(scope="module")
def first_mc(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("prov")
    scenario = root / "scenario.yaml"
    shutil.copy(ROOT / SCENARIO, scenario)
    out = root / "mc"
    r = run_cli(*BASE, "--scenario", str(scenario), "--output-dir", str(out))
    assert r.returncode == 0, r.stderr
    return out, scenario


@pytest.mark.parametrize("change, extra, env, field", [
    ("ticks", ("--ticks", "40"), {}, "ticks"),
    ("runs", ("--runs", "3"), {}, "count"),
    ("seed", ("--seed", "6"), {}, "base_seed"),
    ("profile", ("--profile", "aggressive"), {}, "config_hash"),
    ("policy", ("--policy", "fixed-spread"), {}, "config_hash|policy"),
    ("config knob", (), {"PARAPHINA_HEDGE_BAND_BASE": "0.123"}, "config_hash"),
    ("starting inventory", (), {"PARAPHINA_INIT_Q_TAO": "0.5"}, "config_hash"),
])
def test_mc_resume_with_a_changed_input_is_refused_untouched(first_mc, change, extra, env, field):
    out, scenario = first_mc
    before = snapshot(out)
    r = run_cli(*BASE, "--scenario", str(scenario), "--output-dir", str(out), *extra, env=env)
    assert r.returncode == 2, (change, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "holds a Monte Carlo with other inputs" in lines[0], r.stderr
    assert any(f in lines[0] for f in field.split("|")), lines[0]
    assert "--force" in lines[0]
    assert snapshot(out) == before, change


def test_mc_resume_with_changed_scenario_content_is_refused(first_mc, tmp_path):
    out, scenario = first_mc
    copy = tmp_path / "mc"
    shutil.copytree(out, copy)
    before = snapshot(copy)
    rec = json.loads((copy / "mc_config.json").read_text())
    assert rec["scenario_sha256"].startswith("sha256:")
    saved = scenario.read_bytes()
    try:
        # same path, other content: the content hash is what decides
        scenario.write_text(saved.decode().replace("vol_daily: 0.02", "vol_daily: 0.03"))
        r = run_cli(*BASE, "--scenario", str(scenario), "--output-dir", str(copy))
    finally:
        scenario.write_bytes(saved)
    assert r.returncode == 2 and "scenario_sha256" in r.stderr, r.stderr
    assert snapshot(copy) == before


def test_mc_same_inputs_resume_and_force_starts_over(first_mc, tmp_path):
    out, scenario = first_mc
    copy = tmp_path / "mc"
    shutil.copytree(out, copy)
    r = run_cli(*BASE[:-1], "--scenario", str(scenario), "--output-dir", str(copy))
    assert r.returncode == 0 and "resumed: 2 runs already present, 0 run now" in r.stdout, r.stderr
    assert (copy / "mc_runs.jsonl").read_bytes() == (out / "mc_runs.jsonl").read_bytes()
    r = run_cli(*BASE, "--scenario", str(scenario), "--output-dir", str(copy), "--ticks", "40", "--force")
    assert r.returncode == 0, r.stderr
    assert json.loads((copy / "mc_config.json").read_text())["ticks"] == 40
    assert (copy / "mc_runs.jsonl").read_bytes() != (out / "mc_runs.jsonl").read_bytes()
    assert run_cli("verify-evidence", str(copy)).returncode == 0


def test_starting_inventory_changes_the_action_stream_in_run_and_mc(first_mc, tmp_path):
    out, scenario = first_mc
    flat = run_cli("run", "--scenario", SCENARIO, "--ticks", "30", "--seed", "5")
    long = run_cli("run", "--scenario", SCENARIO, "--ticks", "30", "--seed", "5", env={"PARAPHINA_INIT_Q_TAO": "0.5"})
    assert flat.returncode == 0 and long.returncode == 0, long.stderr
    sha = [next(x for x in r.stdout.splitlines() if x.startswith("action_stream_sha256")) for r in (flat, long)]
    assert sha[0] != sha[1]
    r = run_cli(*BASE, "--scenario", str(scenario), "--output-dir", str(tmp_path / "q"),
                env={"PARAPHINA_INIT_Q_TAO": "0.5"})
    assert r.returncode == 0, r.stderr
    runs = [json.loads(x) for x in (tmp_path / "q" / "mc_runs.jsonl").read_text().splitlines()]
    base = [json.loads(x) for x in (out / "mc_runs.jsonl").read_text().splitlines()]
    assert [x["action_stream_sha256"] for x in runs] != [x["action_stream_sha256"] for x in base]
    assert all(abs(x["max_abs_q"]) >= 0.5 - 1e-9 for x in runs)
    # the run reproduces one Monte Carlo run of the same inventory byte for byte
    one = run_cli("run", "--scenario", str(scenario), "--ticks", "30", "--seed", str(runs[1]["seed"]),
                  env={"PARAPHINA_INIT_Q_TAO": "0.5"})
    assert f"action_stream_sha256: {runs[1]['action_stream_sha256']}" in one.stdout
