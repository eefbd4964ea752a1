"""Shadow sessions replay both streams; the BC model runs deterministically in replay,
backtest and shadow across processes; bad CLI input is a one-line error."""

from __future__ import annotations

import json
import re

from rltools import bc_run, needs_rl, run_cli, sim_log  # noqa: F401 - fixtures

pytestmark = needs_rl


class FakeClock:
    """Every timed policy hook call "takes" 1 ms, except every seventh, which takes 50 ms."""

    def __init__(self) -> None:
        self.t = 0.0
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        if self.calls % 2 == 0:  # the end of a measurement
            self.t += 0.05 if (self.calls // 2) % 7 == 0 else 0.001
        return self.t


def test_shadow_replays_both_streams_and_records_timeouts(sim_log, bc_run, tmp_path):
    from paraphina import events as ev
    from paraphina.eventlog import LogReader
    from paraphina.replay import replay_log
    from paraphina.rl.policy import OnnxPolicy, onnx_factory
    from paraphina.shadow import LogFeed, run_shadow

    session = str(tmp_path / "s.arrow")
    r = run_shadow(LogFeed(sim_log.path), sim_log.config, session, baseline="heuristic",
                   candidate=onnx_factory(bc_run.model), timeout_ms=10.0, clock=FakeClock(), input_log=sim_log.path)
    # Both policies are timed; each fault names its policy, and only the learned one falls back.
    faults = r.candidate["faults"]
    assert 0 < faults < sim_log.result.ticks and r.faults == faults + r.baseline["faults"]
    assert r.candidate["fallbacks"] == {"policy_fault": faults}
    base = replay_log(session, "heuristic", sim_log.config)
    cand = replay_log(session, OnnxPolicy(bc_run.model), sim_log.config)
    assert base.sha256 == r.baseline["sha256"]
    assert cand.sha256 == r.candidate["sha256"] and cand.policy_counters == {"policy_fault": faults}
    with open(r.candidate["actions_file"], "rb") as f:
        import hashlib

        assert hashlib.sha256(f.read()).hexdigest() == r.candidate["sha256"]
    side = json.loads(open(session + ".shadow.json").read())
    assert side["candidate"]["sha256"] == r.candidate["sha256"] and side["policy_faults"] == r.faults
    logged = [e for _, e in LogReader(session).events() if isinstance(e, ev.PolicyFault)]
    assert len(logged) == r.faults and {e.policy for e in logged} <= {"heuristic", "onnx"}
    assert "pnl_total" in side["counterfactual"]


def test_paced_feed_waits_on_the_injected_clock(sim_log):
    from paraphina.shadow import LogFeed

    now = [0.0]
    slept = []

    def sleep(dt):
        slept.append(dt)
        now[0] += dt

    fast = list(LogFeed(sim_log.path))
    paced = list(LogFeed(sim_log.path, speed=2.0, clock=lambda: now[0], sleep=sleep))
    assert paced == fast and slept
    span = (fast[-1].ts_ns - fast[0].ts_ns) / 1e9 / 2.0
    assert abs(now[0] - span) < 1e-6


def _hashes(out: str) -> list[str]:
    return re.findall(r"sha256 ([0-9a-f]{64})|action_stream_sha256: ([0-9a-f]{64})", out)


def test_bc_model_is_deterministic_across_processes(sim_log, bc_run, tmp_path):
    runs = []
    for seed in ("1", "2"):
        env = {"PYTHONHASHSEED": seed}
        d = tmp_path / seed
        d.mkdir()
        rp = run_cli("replay", sim_log.path, "--policy", "onnx", "--model", bc_run.model, env=env)
        bt = run_cli("backtest", sim_log.path, "--policy", "onnx", "--model", bc_run.model, "-o", str(d / "bt.arrow"), env=env)
        sh = run_cli("shadow", sim_log.path, "--candidate", "onnx", "--model", bc_run.model, "-o", str(d / "s.arrow"), env=env)
        for p in (rp, bt, sh):
            assert p.returncode == 0, p.stderr
        assert (d / "s.arrow.candidate.actions").exists()
        runs.append((_hashes(rp.stdout), _hashes(bt.stdout), _hashes(sh.stdout),
                     (d / "s.arrow.candidate.actions").read_bytes(), (d / "bt.arrow").stat().st_size))
        assert "model.sha256." + bc_run.card["model"]["sha256"] in rp.stdout
    assert runs[0] == runs[1]
    assert all(runs[0][:3])


def test_cli_errors_are_one_line(sim_log, tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    for args in (["replay", sim_log.path, "--policy", "onnx"],
                 ["replay", sim_log.path, "--policy", "onnx", "--model", str(junk)],
                 ["replay", sim_log.path, "--policy", "heuristic", "--model", str(junk)],
                 ["shadow", sim_log.path, "--model", str(tmp_path / "missing.onnx"), "-o", str(tmp_path / "x.arrow")]):
        p = run_cli(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
