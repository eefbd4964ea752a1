"""Telemetry (PARAPHINA_TELEMETRY_MODE=jsonl) from every command that runs the engine: the same
fields as `run`, from one implementation (paraphina.commands.common.telemetry_observers), and
the same bytes when a log is replayed."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli, write_sample


def telemetry_env(path: Path) -> dict:
    return {"PARAPHINA_TELEMETRY_MODE": "jsonl", "PARAPHINA_TELEMETRY_PATH": str(path)}


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_replay_backtest_and_shadow_write_the_same_fields(tmp_path):
    r = run_cli("run", "--ticks", "150", "--seed", "3", "-o", str(tmp_path / "run.arrow"),
                env=telemetry_env(tmp_path / "run.jsonl"))
    assert r.returncode == 0, r.stderr
    run = records(tmp_path / "run.jsonl")
    assert [x["t"] for x in run] == list(range(1, 151))
    # `run` adds what only the simulator knows (the latent price); the engine's fields are the rest
    assert all("latent_price" in x for x in run)
    fields = [k for k in run[0] if k != "latent_price"]

    # replay of the run's log: the run's own telemetry without the simulator's field, record for
    # record (time only from events)
    r = run_cli("replay", str(tmp_path / "run.arrow"), env={**telemetry_env(tmp_path / "replay.jsonl"),
                                                          "PYTHONHASHSEED": "7"})
    assert r.returncode == 0, r.stderr
    assert [{k: v for k, v in x.items() if k != "latent_price"} for x in run] == records(tmp_path / "replay.jsonl")

    market = write_sample(tmp_path / "market.arrow", n=4000, venues=3)
    r = run_cli("backtest", str(market), "-o", str(tmp_path / "bt.arrow"), env=telemetry_env(tmp_path / "bt.jsonl"))
    assert r.returncode == 0, r.stderr
    r = run_cli("shadow", str(market), "--baseline", "heuristic", "--candidate", "fixed-spread",
                "-o", str(tmp_path / "sh.arrow"), env=telemetry_env(tmp_path / "sh.jsonl"))
    assert r.returncode == 0, r.stderr
    for name in ("bt", "sh"):
        recs = records(tmp_path / f"{name}.jsonl")
        assert recs, name
        assert all(list(x) == fields for x in recs), name
        assert [x["t"] for x in recs] == list(range(1, len(recs) + 1))
    # the run's report draws the latent price from the run's telemetry
    r = run_cli("report", str(tmp_path / "run.arrow"), "--telemetry", str(tmp_path / "run.jsonl"))
    assert r.returncode == 0, r.stderr
    assert "latent price (simulator)" in (tmp_path / "run.report.html").read_text()
    # the backtest's telemetry is that of its log replayed
    r = run_cli("replay", str(tmp_path / "bt.arrow"), env=telemetry_env(tmp_path / "bt_replay.jsonl"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "bt_replay.jsonl").read_bytes() == (tmp_path / "bt.jsonl").read_bytes()


def test_telemetry_setting_errors_are_one_line(tmp_path):
    market = write_sample(tmp_path / "market.arrow", n=500, venues=2)
    r = run_cli("replay", str(market), env={"PARAPHINA_TELEMETRY_MODE": "csv"})
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert "PARAPHINA_TELEMETRY_MODE='csv'" in r.stderr
    r = run_cli("backtest", str(market), "-o", str(tmp_path / "bt.arrow"), env={"PARAPHINA_TELEMETRY_MODE": "jsonl",
                                                                             "PARAPHINA_TELEMETRY_PATH": ""})
    assert r.returncode == 2 and "needs PARAPHINA_TELEMETRY_PATH" in r.stderr
