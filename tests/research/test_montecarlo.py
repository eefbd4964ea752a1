"""Monte Carlo driver: seeds, byte-identical output across jobs/backends, resume, shards, errors."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from paraphina.research import stats
from paraphina.research.evidence import verify_evidence
from paraphina.research.montecarlo import MCError, merge_shards, run_mc, run_seed
from paraphina.research.toy import toy_run

# The toy random walk is a test double for the simulator's run function.
RUN_FN = functools.partial(toy_run, ticks=60, drift=0.0, vol=1.0, loss_limit=8.0)


def mc(tmp_path, name, **kw):
    kw.setdefault("runs", 40)
    kw.setdefault("seed", 11)
    return run_mc(RUN_FN, output_dir=tmp_path / name, progress=False, **kw)


def runs_bytes(tmp_path, name):
    return (tmp_path / name / "mc_runs.jsonl").read_bytes()


def test_seed_rule_is_seedsequence_child():
    children = np.random.SeedSequence(42).spawn(5)
    assert [run_seed(42, i) for i in range(5)] == [int(c.generate_state(1, np.uint64)[0]) for c in children]
    assert run_seed(42, 1) != run_seed(43, 0)  # unlike base + index
    with pytest.raises(MCError):
        run_seed(-1, 0)


def test_records_sorted_canonical_and_summary_matches_stats(tmp_path):
    res = mc(tmp_path, "a")
    lines = runs_bytes(tmp_path, "a").decode().splitlines()
    recs = [json.loads(x) for x in lines]
    assert [r["run_index"] for r in recs] == list(range(40))
    assert all(r["seed"] == run_seed(11, r["run_index"]) for r in recs)
    assert lines[0] == json.dumps(recs[0], sort_keys=True, separators=(",", ":"))
    s = res.summary
    pnl = [r["pnl_total"] for r in recs]
    dd = [r["max_drawdown"] for r in recs]
    kills = sum(r["kill_switch"] for r in recs)
    assert s["pnl"]["mean"] == stats.describe(pnl).mean
    assert s["pnl"]["cvar"] == stats.pnl_tail_risk(pnl).cvar
    assert s["max_drawdown"]["cvar"] == stats.drawdown_tail_risk(dd).cvar
    assert (s["kill"]["count"], s["kill"]["ucb"]) == (kills, stats.wilson_ucb(kills, 40))
    assert 0 < kills < 40  # the double produces both outcomes, so the test means something
    assert s["complete"] is True
    assert verify_evidence(tmp_path / "a").code == 0


def test_jobs_do_not_change_bytes(tmp_path):
    mc(tmp_path, "j1", jobs=1)
    mc(tmp_path, "j2", jobs=2)
    assert runs_bytes(tmp_path, "j1") == runs_bytes(tmp_path, "j2")
    for f in ("mc_summary.json", "mc_config.json"):
        assert (tmp_path / "j1" / f).read_bytes() == (tmp_path / "j2" / f).read_bytes()


def test_resume_skips_present_runs_and_drops_torn_tail(tmp_path):
    mc(tmp_path, "full")
    full = runs_bytes(tmp_path, "full")
    mc(tmp_path, "part", runs=40, start_index=0, count=40)
    # Simulate an interrupted run: shuffled partial lines plus half a line.
    lines = full.decode().splitlines(keepends=True)
    keep = [lines[i] for i in (5, 0, 17, 3)]
    (tmp_path / "part" / "mc_runs.jsonl").write_text("".join(keep) + lines[9][:30])
    res = mc(tmp_path, "part")
    assert (res.runs_skipped, res.runs_executed) == (4, 36)
    assert runs_bytes(tmp_path, "part") == full
    res = mc(tmp_path, "part")
    assert res.runs_executed == 0


def test_resume_refuses_a_different_mc(tmp_path):
    mc(tmp_path, "a")
    with pytest.raises(MCError, match="base_seed"):
        mc(tmp_path, "a", seed=12)


def test_shards_merge_identical_to_unsharded(tmp_path):
    mc(tmp_path, "whole")
    mc(tmp_path, "s0", start_index=0, count=15)
    mc(tmp_path, "s1", start_index=15, count=25, jobs=2)
    merge_shards([tmp_path / "s1", tmp_path / "s0"], tmp_path / "merged")
    for f in ("mc_runs.jsonl", "mc_summary.json", "mc_config.json"):
        assert (tmp_path / "merged" / f).read_bytes() == (tmp_path / "whole" / f).read_bytes(), f
    assert verify_evidence(tmp_path / "merged").code == 0


def test_merge_rejects_gaps_and_duplicates(tmp_path):
    mc(tmp_path, "s0", start_index=0, count=15)
    mc(tmp_path, "s2", start_index=20, count=20)
    mc(tmp_path, "s0b", start_index=10, count=10)
    with pytest.raises(MCError, match=r"gap: 5 of 40 run indices missing .*15, 16, 17, 18, 19"):
        merge_shards([tmp_path / "s0", tmp_path / "s2"], tmp_path / "m1")
    with pytest.raises(MCError, match=r"duplicate run index 10: in .*s0 and .*s0b"):
        merge_shards([tmp_path / "s0", tmp_path / "s0b", tmp_path / "s2"], tmp_path / "m2")
    mc(tmp_path, "other", seed=99, start_index=15, count=5)
    with pytest.raises(MCError, match="base_seed"):
        merge_shards([tmp_path / "s0", tmp_path / "other", tmp_path / "s2"], tmp_path / "m3")


def test_bad_results_are_one_line_errors(tmp_path):
    def missing(i, s):
        return {"pnl": 1.0, "kill": False, "ticks": 3}

    def nan_pnl(i, s):
        return {"pnl": float("nan"), "max_drawdown": 0.0, "kill": False, "ticks": 3}

    def crash(i, s):
        raise RuntimeError("boom")

    with pytest.raises(MCError, match=r"run 0 \(seed \d+\): field 'max_drawdown' missing"):
        run_mc(missing, 2, 1, output_dir=tmp_path / "a", progress=False)
    with pytest.raises(MCError, match="field 'pnl'"):
        run_mc(nan_pnl, 2, 1, output_dir=tmp_path / "b", progress=False)
    with pytest.raises(MCError, match="run 0 .* failed: RuntimeError: boom"):
        run_mc(crash, 2, 1, output_dir=tmp_path / "c", progress=False)
    with pytest.raises(MCError, match="range"):
        run_mc(RUN_FN, 10, 1, output_dir=tmp_path / "d", start_index=5, count=6, progress=False)
    with pytest.raises(MCError, match="backend"):
        run_mc(RUN_FN, 10, 1, output_dir=tmp_path / "e", backend="slurm", progress=False)


def test_pnl_path_gives_max_drawdown_and_extras_kept(tmp_path):
    def with_path(i, s):
        return {"pnl": 1.0, "pnl_path": [0.0, 3.0, -1.0, 1.0], "kill": True, "kill_reason": "PnlHardBreach",
                "ticks": 4, "max_abs_q_tao": np.float64(2.5)}

    run_mc(with_path, 1, 1, output_dir=tmp_path / "p", progress=False)
    rec = json.loads((tmp_path / "p" / "mc_runs.jsonl").read_text())
    assert rec["max_drawdown"] == 4.0 and rec["max_abs_q_tao"] == 2.5 and "pnl_path" not in rec
    assert rec["kill_reason"] == "PnlHardBreach"


def test_ray_backend_byte_identical(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray not installed (optional extra paraphina[ray])")
    mc(tmp_path, "local", jobs=1)
    mc(tmp_path, "ray", jobs=2, backend="ray")
    assert runs_bytes(tmp_path, "local") == runs_bytes(tmp_path, "ray")
    assert not ray.is_initialized()  # the driver shuts down the Ray it started
