"""Config that acts: every profile moves the action stream of a 300-tick synth_jump run, and
every command uses one default config (the log's own, else the btc preset)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import run_cli, write_sample  # noqa: E402

SHA = re.compile(r"action_stream_sha256: ([0-9a-f]{64})")
ACTIONS = re.compile(r"^actions: (\d+)$", re.M)


def jump_run(profile: str) -> str:
    r = run_cli("run", "--scenario", "scenarios/synth_jump.yaml", "--ticks", "300", "--profile", profile)
    assert r.returncode == 0, r.stderr
    assert f"effective_risk_profile={profile} source=cli" in r.stderr
    return SHA.search(r.stdout).group(1)


@pytest.fixture(scope="module")
def balanced_hash() -> str:
    return jump_run("balanced")


@pytest.mark.parametrize("profile", ["conservative", "aggressive"])
def test_each_profile_changes_the_action_stream_against_balanced(balanced_hash, profile):
    assert jump_run(profile) != balanced_hash


def test_replay_of_the_demo_log_without_config_quotes_with_the_btc_preset():
    r = run_cli("replay", "event_logs/demo_5venue.arrow", "--policy", "heuristic")
    assert r.returncode == 0, r.stderr
    assert "config: preset btc" in r.stdout
    assert int(ACTIONS.search(r.stdout).group(1)) > 0
    assert "no quotes" not in r.stdout


def test_backtest_without_config_uses_the_same_default_and_its_log_carries_it(tmp_path):
    log = write_sample(tmp_path / "market.arrow", n=3000)
    out = tmp_path / "bt.arrow"
    bt = run_cli("backtest", str(log), "-o", str(out))
    assert bt.returncode == 0, bt.stderr
    assert "config: preset btc" in bt.stdout
    rp = run_cli("replay", str(out))
    assert rp.returncode == 0, rp.stderr
    assert "config: from the log" in rp.stdout
    assert SHA.search(rp.stdout).group(1) == SHA.search(bt.stdout).group(1)
    # --profile means "build it again": the default preset with that profile, said so.
    rp2 = run_cli("replay", str(out), "--profile", "aggressive")
    assert "config: preset btc" in rp2.stdout and "profile: aggressive" in rp2.stdout


def test_a_log_with_its_config_says_which_environment_knobs_it_did_not_apply(tmp_path):
    log = tmp_path / "run.arrow"
    r = run_cli("run", "--ticks", "40", "--log", str(log))
    assert r.returncode == 0, r.stderr
    plain = run_cli("replay", str(log))
    knobbed = run_cli("replay", str(log), env={"PARAPHINA_MM_SIZE_ETA": "7"})
    assert "config: from the log" in plain.stdout and "not applied" not in plain.stdout
    assert "config: from the log (PARAPHINA_MM_SIZE_ETA not applied: pass --config to rebuild)" in knobbed.stdout
    assert SHA.search(plain.stdout).group(1) == SHA.search(knobbed.stdout).group(1) == SHA.search(r.stdout).group(1)
