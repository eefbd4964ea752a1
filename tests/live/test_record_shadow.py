"""`paraphina record --policy B --candidate C`: both streams recorded as `paraphina shadow` records
them, the divergence reported at the end, and each stream replayed byte for byte from the log;
inference timeouts become PolicyFault events, so replay reproduces the fallbacks without a clock."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from paraphina import events as ev
from paraphina.cli import main
from paraphina.eventlog import LogReader
from paraphina.live.capture_server import ServerThread
from paraphina.live.feeds import instrument_for
from paraphina.live.recorder import result_lines
from paraphina.replay import replay_log

from conftest import ROOT, run_cli
from livetools import SPOT, USDM, btc_config, capture, record_session, recorded

needs_onnx = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
                                reason="needs the rl extra (onnxruntime, onnx): pip install 'paraphina[rl]'")

USDM_FRAMES, SPOT_FRAMES, SPEED = 4000, 3000, 40.0


@pytest.fixture(scope="module")
def feeds(real_data_dir):
    """USD-M and spot (the heuristic's fair value wants two healthy books)."""
    return [(capture(str(real_data_dir), USDM, USDM_FRAMES), USDM[2]), (capture(str(real_data_dir), SPOT, SPOT_FRAMES), SPOT[2])]


@pytest.fixture(scope="module")
def knob_model(tmp_path_factory):
    """A constant ONNX model for two venues: wider spreads and a skewed reservation, so its
    stream differs from the heuristic's wherever it does not fall back."""
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        pytest.skip("needs the rl extra (onnxruntime, onnx)")
    from paraphina.rl.export import constant_model
    from paraphina.rl.schema import obs_dim

    path = tmp_path_factory.mktemp("model") / "knobs.onnx"
    path.write_bytes(constant_model([1.6, 1.6, 1.0, 1.0, 3.0, -3.0, 1.0, 0.5, 0.5], obs_dim(2)))
    return str(path)


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _faults(path) -> list[tuple[ev.Event, ev.PolicyFault]]:
    """Every PolicyFault in the log with the event just before it."""
    events = recorded(path)
    return [(events[i - 1], e) for i, e in enumerate(events) if isinstance(e, ev.PolicyFault)]


def test_candidate_session_records_both_streams_and_each_replays(feeds, tmp_path):
    out = tmp_path / "pair.arrow"
    result, _ = asyncio.run(record_session(feeds, out=out, policy="heuristic", candidate="fixed-spread", speed=SPEED))
    r = result.shadow
    base, cand = tmp_path / "pair.arrow.baseline.actions", tmp_path / "pair.arrow.candidate.actions"
    assert not (tmp_path / "pair.arrow.actions").exists()
    assert r.baseline["actions_file"] == str(base) and r.candidate["actions_file"] == str(cand)
    assert r.baseline["actions"] > 0 and r.candidate["actions"] > 0
    assert (r.baseline["sha256"], r.candidate["sha256"]) == (_sha(base), _sha(cand))
    assert result.sha256 == r.baseline["sha256"] and result.actions_path == str(base)
    # Two different policies: the report names the first divergence and its causing event.
    assert not r.report["identical"] and r.report_text[0].startswith("different:")
    assert any(line.startswith("  cause: ") for line in r.report_text)
    side = json.loads((tmp_path / "pair.arrow.shadow.json").read_text())
    assert side["baseline"]["sha256"] == r.baseline["sha256"] and side["candidate"]["sha256"] == r.candidate["sha256"]
    assert side["divergence"] == r.report and side["feed"] == "live: binance-usdm:BTCUSDT binance-spot:BTCUSDT"
    meta = LogReader(str(out)).info.session
    assert meta["policy"] == "heuristic" and meta["baseline"]["policy"] == "heuristic"
    assert meta["candidate"] == {"policy": "fixed-spread", "version": "1.0"}
    lines = result_lines(result)
    assert "=== Divergence ===" in lines and f"report: {tmp_path / 'pair.arrow.shadow.json'}" in lines
    # Each stream replays from the log alone, byte for byte.
    for policy, stream in (("heuristic", base), ("fixed-spread", cand)):
        replayed = tmp_path / f"{policy}.actions"
        replay_log(str(out), policy, btc_config(), out=str(replayed))
        assert replayed.read_bytes() == stream.read_bytes(), policy


class FakeClock:
    """An inference clock (seconds) that moves only when the slow model below says so."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def slow_onnx(model: str, clock: FakeClock):
    """The onnx policy (same name, version and knobs, so `--policy onnx --model` replays it)
    whose inference "takes" 30 ms on every third main tick and 1 ms otherwise."""
    from paraphina.rl.policy import OnnxPolicy

    class SlowOnnx(OnnxPolicy):
        def knobs(self, ctx):
            clock.t += 0.030 if ctx.tick_index % 3 == 0 else 0.001
            return super().knobs(ctx)

    return lambda: SlowOnnx(model)


@needs_onnx
def test_inference_timeouts_are_recorded_and_replay_in_another_process(feeds, knob_model, tmp_path):
    out = tmp_path / "slow.arrow"
    clock = FakeClock()
    result, _ = asyncio.run(record_session(feeds, out=out, policy="heuristic", candidate=slow_onnx(knob_model, clock),
                                           speed=SPEED, inference_timeout_ms=10.0, inference_clock=clock))
    r = result.shadow
    faults = _faults(out)
    # One fault per slow tick, right after the timer that ran it; the heuristic took no (fake) time.
    assert faults and all(isinstance(before, ev.Timer) for before, _ in faults)
    ticks = [int(f.detail.split("main tick ")[1].split()[0]) for _, f in faults]
    assert all(f.policy == "onnx" and f.fault == "timeout" and "took 30.000 ms" in f.detail for _, f in faults)
    assert all(t % 3 == 0 for t in ticks) and ticks == sorted(set(ticks))
    assert (r.faults, r.baseline["faults"], r.candidate["faults"]) == (len(faults), 0, len(faults))
    # The tick after each fault fell back (a fault after the last main tick has none left).
    fallbacks = r.candidate["fallbacks"]["policy_fault"]
    assert len(faults) - 1 <= fallbacks <= len(faults)
    assert r.report["identical"] is False
    # Replays in fresh processes with other hash seeds: the decision "timed out" comes from the log.
    base = run_cli("replay", str(out), "--out", str(tmp_path / "b.actions"), env={"PYTHONHASHSEED": "3"})
    cand = run_cli("replay", str(out), "--policy", "onnx", "--model", knob_model, "--out", str(tmp_path / "c.actions"),
                   env={"PYTHONHASHSEED": "4"})
    assert base.returncode == 0 and cand.returncode == 0, base.stderr + cand.stderr
    assert (tmp_path / "b.actions").read_bytes() == (tmp_path / "slow.arrow.baseline.actions").read_bytes()
    assert (tmp_path / "c.actions").read_bytes() == (tmp_path / "slow.arrow.candidate.actions").read_bytes()
    assert f"policy fallbacks: policy_fault={fallbacks}" in cand.stdout


def _record_cli(feeds, out, *args: str, hashseed: str = "1"):
    """``paraphina record`` in a subprocess against loopback servers of both captures, stopped
    with SIGINT once both servers sent everything (and a grace for the last frames in flight):
    what is recorded follows from the served data, however slowly a loaded machine serves it."""
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    with ServerThread(feeds[0][0], instrument_for(USDM[2]), speed=SPEED, hold_for_rest=True) as usdm, \
            ServerThread(feeds[1][0], instrument_for(SPOT[2]), speed=SPEED, hold_for_rest=True) as spot:
        proc = subprocess.Popen(
            [sys.executable, "-m", "paraphina", "record", "--venue", "binance-usdm:BTCUSDT", "--venue",
             "binance-spot:BTCUSDT", "-o", str(out), "--endpoint", f"binance-usdm={usdm.url}", "--endpoint",
             f"binance-spot={spot.url}", "--config", "btc", "--status", "off", "--backoff", "0.05s",
             "--duration", "120s", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None and not (usdm.finished() and spot.finished()):
                time.sleep(0.05)
            time.sleep(2.0)
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@needs_onnx
def test_record_cli_with_an_onnx_candidate_prints_the_divergence_and_replays(feeds, knob_model, tmp_path):
    out = tmp_path / "cli.arrow"
    p = _record_cli(feeds, out, "--policy", "heuristic", "--candidate", "onnx", "--model", knob_model)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = p.stdout.splitlines()
    assert any(ln.startswith("baseline: heuristic==1.0 | actions ") for ln in lines)
    assert any(ln.startswith("candidate: onnx==1.0+model.sha256.") for ln in lines)
    assert "=== Divergence ===" in lines and lines[-1] == f"report: {out}.shadow.json"
    div = lines[lines.index("=== Divergence ===") + 1]
    assert div.startswith("different: baseline has ")
    side = json.loads(open(f"{out}.shadow.json").read())
    assert side["inference_timeout_ms"] == 50.0
    assert side["candidate"]["version"].startswith("1.0+model.sha256.")
    # `paraphina replay SESSION.arrow` needs no flags for the baseline; the candidate by name and model.
    base = run_cli("replay", str(out), "--out", str(tmp_path / "b.actions"), env={"PYTHONHASHSEED": "2"})
    cand = run_cli("replay", str(out), "--policy", "onnx", "--model", knob_model, "--out", str(tmp_path / "c.actions"),
                   env={"PYTHONHASHSEED": "5"})
    assert base.returncode == 0 and cand.returncode == 0, base.stderr + cand.stderr
    assert (tmp_path / "b.actions").read_bytes() == open(f"{out}.baseline.actions", "rb").read()
    assert (tmp_path / "c.actions").read_bytes() == open(f"{out}.candidate.actions", "rb").read()
    assert f"action_stream_sha256: {side['baseline']['sha256']}" in base.stdout
    assert f"action_stream_sha256: {side['candidate']['sha256']}" in cand.stdout


@needs_onnx
def test_a_tiny_inference_budget_makes_every_later_tick_fall_back(feeds, knob_model, tmp_path):
    """--policy onnx alone, --inference-timeout-ms far below any real inference: every main tick
    overruns, so every tick after the first runs the heuristic, live and in replay alike."""
    out = tmp_path / "tiny.arrow"
    p = _record_cli(feeds, out, "--policy", "onnx", "--model", knob_model, "--inference-timeout-ms", "0.0001")
    assert p.returncode == 0, p.stderr[-3000:]
    replayed = replay_log(str(out), _onnx(knob_model), btc_config(), out=str(tmp_path / "r.actions"))
    assert (tmp_path / "r.actions").read_bytes() == (tmp_path / "tiny.arrow.actions").read_bytes()
    ticks = replayed.summary["ticks"]  # main ticks (a timer stamped early runs none)
    faults = _faults(out)
    assert ticks > 2 and len(faults) == ticks and {f.policy for _, f in faults} == {"onnx"}
    assert replayed.policy_counters == {"policy_fault": ticks - 1}
    assert f"policy faults recorded: {ticks}" in p.stdout and f"policy fallbacks: policy_fault={ticks - 1}" in p.stdout
    assert LogReader(str(out)).info.session["inference_timeout_ms"] == 0.0001


def _onnx(model: str):
    from paraphina.rl.policy import OnnxPolicy

    return OnnxPolicy(model)


@needs_onnx
def test_a_model_that_does_not_fit_the_venues_is_refused_before_connecting(knob_model, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["record", "--venue", "hyperliquid:BTC", "-o", str(tmp_path / "s.arrow"), "--policy", "heuristic",
              "--candidate", "onnx", "--model", knob_model])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "the model takes 35 inputs" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s.arrow").exists()

