"""`paraphina run`, `backtest` and `suite` as a user runs them."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from conftest import run_cli  # noqa: E402
from batch_runs.metrics import parse_daily_summary  # noqa: E402

SHA = re.compile(r"action_stream_sha256: ([0-9a-f]{64})")


@pytest.mark.parametrize("scenario", ["synth_baseline", "funding_flip", "venue_outage"])
def test_run_then_replay_gives_the_same_hash_and_runs_are_identical(tmp_path, scenario):
    a, b = tmp_path / "a.arrow", tmp_path / "b.arrow"
    ra = run_cli("run", "--scenario", f"scenarios/{scenario}.yaml", "--ticks", "200", "--log", str(a))
    rb = run_cli("run", "--scenario", f"scenarios/{scenario}.yaml", "--ticks", "200", "--log", str(b),
                 env={"PYTHONHASHSEED": "77"})
    assert ra.returncode == 0, ra.stderr
    assert a.read_bytes() == b.read_bytes()
    replay = run_cli("replay", str(a))
    assert replay.returncode == 0, replay.stderr
    assert SHA.search(ra.stdout).group(1) == SHA.search(replay.stdout).group(1)
    assert "config: from the log" in replay.stdout


def test_run_output_keeps_the_research_contract(tmp_path):
    r = run_cli("run", "--ticks", "150", "--seed", "7")
    assert r.returncode == 0, r.stderr
    assert "effective_risk_profile=balanced source=default" in r.stderr
    lines = r.stdout.splitlines()
    assert re.match(r"paraphina \| cfg=\S+ \| cfg_hash=0x[0-9a-f]{16} \| profile=Balanced \| ticks=\d+ \| seed=7$", lines[0])
    parsed = parse_daily_summary(r.stdout)
    assert parsed is not None and set(parsed) >= {"pnl_realised", "pnl_unrealised", "pnl_total", "kill_switch"}
    assert "=== Daily Summary ===" in r.stdout and lines[-1].startswith("Risk regime: ")


def test_profile_from_env_and_cli(tmp_path):
    r = run_cli("run", "--ticks", "50", env={"PARAPHINA_RISK_PROFILE": "cons"})
    assert "effective_risk_profile=conservative source=env" in r.stderr and "profile=Conservative" in r.stdout
    r = run_cli("run", "--ticks", "50", "--profile", "aggressive", env={"PARAPHINA_RISK_PROFILE": "cons"})
    assert "effective_risk_profile=aggressive source=cli" in r.stderr


def test_telemetry_jsonl_has_the_v1_fields_and_replays(tmp_path):
    t = tmp_path / "telemetry.jsonl"
    log = tmp_path / "run.arrow"
    r = run_cli("run", "--ticks", "80", "--log", str(log),
                env={"PARAPHINA_TELEMETRY_MODE": "jsonl", "PARAPHINA_TELEMETRY_PATH": str(t)})
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in t.read_text().splitlines()]
    assert len(rows) >= 79
    required = {"schema_version", "t", "pnl_realised", "pnl_unrealised", "pnl_total", "risk_regime", "kill_switch",
                "kill_reason", "q_global_tao", "dollar_delta_usd", "basis_usd"}
    assert all(required <= set(row) and row["schema_version"] == 1 for row in rows)
    t2 = tmp_path / "replay.jsonl"
    run_cli("replay", str(log), env={"PARAPHINA_TELEMETRY_MODE": "jsonl", "PARAPHINA_TELEMETRY_PATH": str(t2)})


def test_a_kill_is_reported_with_its_reason(tmp_path):
    # 300 ticks of jumps cost the heuristic a few dollars: a 1 USD daily loss limit binds.
    r = run_cli("run", "--ticks", "300", "--scenario", str(ROOT / "scenarios" / "synth_jump.yaml"),
                env={"PARAPHINA_DAILY_LOSS_LIMIT": "1"})
    assert r.returncode == 0, r.stderr
    assert "Kill switch: true" in r.stdout and "Kill reason: PnlHardBreach" in r.stdout
    assert "stopping simulation early (reason: PnlHardBreach)" in r.stdout


def test_backtest_of_a_simulated_log_replays_byte_for_byte(tmp_path):
    src, out = tmp_path / "src.arrow", tmp_path / "bt.arrow"
    assert run_cli("run", "--ticks", "120", "--log", str(src), "--policy", "fixed-spread").returncode == 0
    r = run_cli("backtest", str(src), "--policy", "heuristic", "--config", "btc", "-o", str(out))
    assert r.returncode == 0, r.stderr
    replay = run_cli("replay", str(out))
    assert SHA.search(r.stdout).group(1) == SHA.search(replay.stdout).group(1)


def test_suite_smoke_runs_and_checks_invariants(tmp_path):
    r = run_cli("suite", "scenarios/suites/smoke.yaml", "--output-dir", str(tmp_path / "out"))
    assert r.returncode in (0, 1), r.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["runs"] == 3 and len(summary["results"]) == 3
    assert ("passed their invariants" in r.stdout) and (r.returncode == 1) == (summary["failed"] > 0)


def test_a_failing_invariant_fails_the_suite(tmp_path):
    suite = tmp_path / "strict.yaml"
    suite.write_text(f"suite_id: strict\nticks: 60\ninvariants: {{max_drawdown_usd: 0.0, min_pnl_usd: 1000000}}\n"
                     f"scenarios:\n  - path: {ROOT}/scenarios/synth_baseline.yaml\n    seeds: [1]\n")
    r = run_cli("suite", str(suite), "--output-dir", str(tmp_path / "o"))
    assert r.returncode == 1 and "FAIL" in r.stdout and "min_pnl_usd" in r.stdout


def test_bad_scenario_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenario_id: x\nmarket: {vol_daly: 0.1}\n")
    r = run_cli("run", "--scenario", str(bad))
    assert r.returncode == 2 and "vol_daly" in r.stderr and "Traceback" not in r.stderr
