"""The constrained-PPO study (batch_runs/rl/constrained_study.py) and ``rl train --config``.

The smoke run trains two tiny models (256 steps each, 20-tick episodes, 2 held-out seeds) through
the CLI: it checks the plumbing (config applied, same held-out markets, table and multiplier
trajectory written), not the study's result, which docs/rl.md reports.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from rltools import ROOT, RL_MISSING, RL_SKIP_REASON, run_cli

SB3_MISSING = [m for m in ("stable_baselines3", "torch") if importlib.util.find_spec(m) is None]
needs_sb3 = pytest.mark.skipif(bool(RL_MISSING or SB3_MISSING),
                               reason=RL_SKIP_REASON if RL_MISSING else
                               f"PPO tests need the rl extra ({', '.join(SB3_MISSING)} missing): pip install 'paraphina[rl]'")
CONFIG = ROOT / "batch_runs" / "rl" / "kill_prone.toml"


def test_the_kill_prone_config_sets_a_small_daily_loss_limit():
    from paraphina.rl.env import scenario_env_config
    from paraphina.sim.scenario import Scenario

    sc = Scenario(scenario_id="default")
    assert scenario_env_config(sc, config_path=str(CONFIG)).risk.daily_loss_limit == 5.0
    assert scenario_env_config(sc).risk.daily_loss_limit > 5.0


@needs_sb3
def test_a_missing_config_file_is_a_one_line_error(tmp_path):
    p = run_cli("rl", "train", "--config", str(tmp_path / "nope.toml"), "--steps", "10", "-o", str(tmp_path / "m"))
    assert p.returncode == 2 and "nope.toml" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


@needs_sb3
@pytest.mark.slow
def test_smoke_study_trains_both_on_the_config_and_writes_the_table(tmp_path):
    from batch_runs.rl import constrained_study
    from paraphina.config import config_hash
    from paraphina.research.provenance import file_hash
    from paraphina.rl.env import scenario_env_config
    from paraphina.sim.scenario import Scenario

    out = tmp_path / "study"
    assert constrained_study.main(["--smoke", "-o", str(out)]) == 0
    s = json.loads((out / "study.json").read_text())
    assert set(s["table"]) == {"heuristic", "ppo", "ppo_constrained"}
    assert all(r["runs"] == 2 for r in s["table"].values())
    assert s["setting"]["steps"] >= 256 and s["setting"]["episode_ticks"] == 20
    assert set(s["final_lambdas"]) == {"kill", "drawdown", "delta", "basis"}
    assert s["lambda_trajectory"] and all("lambda_kill" in r for r in s["lambda_trajectory"])
    assert "lambda_kill" in (out / "study.md").read_text()
    want = config_hash(scenario_env_config(Scenario(scenario_id="default"), config_path=str(CONFIG)))
    for name in ("plain", "constrained"):
        card = json.loads((out / name / "model_card.json").read_text())
        assert card["training"]["profile_config_hash"] == want          # the config reached the environments
        assert json.loads((out / name / "provenance.json").read_text())["config"] == file_hash(CONFIG)
    assert json.loads((out / "constrained" / "model_card.json").read_text())["training"]["constrained"] == "killtight"
