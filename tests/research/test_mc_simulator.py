"""`paraphina mc` on the simulator: same per-run bytes whatever the backend and job count; every
run reproducible with `paraphina run`; resumable; sealed by an evidence pack; bad input is one line."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

SCENARIO = "scenarios/synth_jump.yaml"
ARGS = ("mc", "--scenario", SCENARIO, "--ticks", "120", "--runs", "6", "--seed", "11", "--quiet")


def mc(out: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    r = run_cli(*ARGS, "--output-dir", str(out), *extra, env=env)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def jobs1(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mc") / "jobs1"
    mc(out, "--jobs", "1", env={"PYTHONHASHSEED": "1"})
    return out


def test_jobs_and_processes_give_identical_per_run_bytes(jobs1, tmp_path):
    mc(tmp_path / "jobs2", "--jobs", "2", env={"PYTHONHASHSEED": "77"})
    assert (jobs1 / "mc_runs.jsonl").read_bytes() == (tmp_path / "jobs2" / "mc_runs.jsonl").read_bytes()
    assert (jobs1 / "mc_summary.json").read_bytes() == (tmp_path / "jobs2" / "mc_summary.json").read_bytes()
    runs = [json.loads(x) for x in (jobs1 / "mc_runs.jsonl").read_text().splitlines()]
    assert [r["run_index"] for r in runs] == list(range(6))
    assert len({r["seed"] for r in runs}) == 6 and len({r["action_stream_sha256"] for r in runs}) == 6
    assert all(r["ticks_executed"] <= 120 and r["events"] > 0 for r in runs)


def test_a_run_is_reproduced_by_paraphina_run(jobs1):
    rec = json.loads((jobs1 / "mc_runs.jsonl").read_text().splitlines()[3])
    r = run_cli("run", "--scenario", SCENARIO, "--ticks", "120", "--seed", str(rec["seed"]))
    assert r.returncode == 0, r.stderr
    assert f"action_stream_sha256: {rec['action_stream_sha256']}" in r.stdout
    total = float(re.search(r"Daily PnL \(realised / unrealised / total\): \S+ / \S+ / (\S+)", r.stdout).group(1))
    assert total == pytest.approx(rec["pnl_total"], abs=0.005)


def test_evidence_verifies_and_a_tampered_run_file_is_named(jobs1, tmp_path):
    assert run_cli("verify-evidence", str(jobs1)).returncode == 0
    copy = tmp_path / "copy"
    shutil.copytree(jobs1, copy)
    runs = copy / "mc_runs.jsonl"
    runs.write_text(runs.read_text().replace('"kill_switch":false', '"kill_switch":true', 1))
    r = run_cli("verify-evidence", str(copy))
    assert r.returncode == 3 and "mc_runs.jsonl" in r.stderr


def test_shards_resume_and_merge_to_the_same_bytes(jobs1, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(jobs1, a)
    runs = a / "mc_runs.jsonl"
    runs.write_text("".join(runs.read_text().splitlines(keepends=True)[:2]))  # as if stopped after two runs
    r = run_cli(*ARGS[:-1], "--output-dir", str(a))
    assert r.returncode == 0 and "resumed: 2 runs already present, 4 run now" in r.stdout, r.stderr
    assert runs.read_bytes() == (jobs1 / "mc_runs.jsonl").read_bytes()
    assert run_cli("verify-evidence", str(a)).returncode == 0
    mc(b, "--run-start-index", "0", "--run-count", "3")
    c = run_cli(*ARGS[:-1], "--output-dir", str(tmp_path / "c"), "--run-start-index", "3", "--print-every", "1")
    assert c.returncode == 0, c.stderr
    lines = [x for x in c.stdout.splitlines() if x.startswith("run ")]
    assert [x.split(" seed=")[0] for x in lines] == ["run 1/3 (global=3)", "run 2/3 (global=4)", "run 3/3 (global=5)"]
    assert all(re.fullmatch(r"run \d+/3 \(global=\d\) seed=\d+ pnl=-?\d+\.\d\d maxDD=\d+\.\d\d kill=(true|false) ticks=\d+", x)
               for x in lines)
    merged = run_cli("mc-merge", str(b), str(tmp_path / "c"), "-o", str(tmp_path / "m"))
    assert merged.returncode == 0, merged.stderr
    assert (tmp_path / "m" / "mc_runs.jsonl").read_bytes() == (jobs1 / "mc_runs.jsonl").read_bytes()


@pytest.mark.parametrize("args, message", [
    (("--scenario", "nope.yaml"), "nope.yaml"),
    (("--scenario", SCENARIO, "--policy", "no-such-policy"), "no-such-policy"),
    (("--scenario", SCENARIO, "--config", "no-such-preset"), "no-such-preset"),
    (("--scenario", SCENARIO, "--runs", "3", "--run-start-index", "5"), "range"),
    (("--scenario", SCENARIO, "--runs", "-3"), "--runs"),
    (("--scenario", SCENARIO, "--jobs", "0"), "--jobs"),
    (("--scenario", SCENARIO, "--backend", "slurm"), "--backend"),
    (("--runs", "3",), "--scenario"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    r = run_cli("mc", *args, "--output-dir", str(tmp_path / "x"), "--quiet")
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ray_cluster_on_loopback_gives_identical_per_run_bytes(jobs1, tmp_path):
    pytest.importorskip("ray", reason="Ray not installed (optional extra paraphina[ray])")
    ray = Path(os.environ.get("VIRTUAL_ENV", Path(__import__("sys").executable).parent.parent)) / "bin" / "ray"
    if not ray.exists():
        ray = Path(shutil.which("ray") or "ray")
    # A short temp dir: Ray's unix socket paths must fit in 107 bytes. Token auth is for shared
    # clusters; this one is private to the test and bound to loopback.
    env = {**os.environ, "RAY_TMPDIR": tempfile.mkdtemp(prefix="ray", dir="/tmp"), "RAY_AUTH_MODE": "disabled"}
    port = _free_port()
    start = subprocess.run([str(ray), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                            "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        mc(tmp_path / "ray", "--backend", "ray", "--jobs", "2", "--ray-address", f"127.0.0.1:{port}", env=env)
    finally:
        subprocess.run([str(ray), "stop", "--force"], capture_output=True, env=env, timeout=120)
        shutil.rmtree(env["RAY_TMPDIR"], ignore_errors=True)
    assert (tmp_path / "ray" / "mc_runs.jsonl").read_bytes() == (jobs1 / "mc_runs.jsonl").read_bytes()
