"""Offline RL from logs: transitions recovered by replay, TD3+BC training, ONNX export, CLI errors."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from rltools import N_VENUES, needs_rl, run_cli  # noqa: F401

pytestmark = [needs_rl, pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                           reason="offline RL tests need torch: pip install 'paraphina[rl]'")]
TICKS = 40


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    from paraphina.rl.env import scenario_env_config
    from paraphina.sim.runner import policy_engine_factory, run_simulation
    from paraphina.sim.scenario import Scenario

    d = tmp_path_factory.mktemp("offline")
    sc = Scenario(scenario_id="default")
    cfg = scenario_env_config(sc)
    out = {}
    for policy, seed in (("rl-teacher", 11), ("heuristic", 12), ("fixed-spread", 13)):
        path = str(d / f"{policy}.arrow")
        run_simulation(sc, cfg, policy, seed, TICKS, path, policy_engine_factory(policy))
        out[policy] = path
    return out


def _transitions(paths):
    from paraphina.commands.common import resolve_config
    from paraphina.rl.logdata import log_transitions

    return log_transitions(paths, lambda log: resolve_config(None, None, log=log)[0], {})


def test_replay_recovers_the_behaviours_knobs(logs):
    from paraphina.rl.schema import action_dim, obs_dim

    data = _transitions([logs["rl-teacher"], logs["heuristic"]])
    assert data.obs.shape[1] == obs_dim(N_VENUES) and data.actions.shape[1] == action_dim(N_VENUES)
    assert len(data) == len(data.rewards) == len(data.next_obs) and np.isfinite(data.rewards).all()
    teacher = data.actions[data.episode == 0]
    heuristic = data.actions[data.episode == 1]
    assert teacher[:, :3 * N_VENUES + 1].std(axis=0).max() > 0.0          # the teacher's knobs move
    assert np.all(heuristic[:, :N_VENUES] == 1.0) and np.all(heuristic[:, 2 * N_VENUES:3 * N_VENUES] == 0.0)
    # next_obs of one transition is obs of the next one within a log
    assert np.array_equal(data.next_obs[0], data.obs[1])
    assert [s["seed"] for s in data.sources] == [11, 12]


def test_td3bc_is_deterministic_and_exports_a_usable_model(logs, tmp_path):
    from paraphina.rl.offline import TD3BCSettings, offline_rl
    from paraphina.rl.policy import OnnxPolicy

    data = _transitions([logs["rl-teacher"], logs["heuristic"]])
    s = TD3BCSettings(steps=60, batch=32, hidden=8, seed=3)
    a = offline_rl(str(tmp_path / "a"), data, s)
    b = offline_rl(str(tmp_path / "b"), data, s)
    assert a["model"]["sha256"] == b["model"]["sha256"]
    c = offline_rl(str(tmp_path / "c"), data, TD3BCSettings(steps=60, batch=32, hidden=8, seed=4))
    assert c["model"]["sha256"] != a["model"]["sha256"]
    assert a["evaluation"]["invalid_outputs"] == 0 and a["data"]["train_seeds"] == [11, 12]
    assert OnnxPolicy(str(tmp_path / "a" / "model.onnx")).model_sha256 == a["model"]["sha256"]
    card = json.loads((tmp_path / "a" / "model_card.json").read_text())
    assert card["kind"] == "offline-rl" and card["model"]["obs_version"] == 1
    assert card["model"]["sha256"] in (tmp_path / "a" / "model_card.md").read_text()


def test_offline_cli_and_its_errors(logs, tmp_path):
    out = tmp_path / "m"
    r = run_cli("rl", "offline", logs["rl-teacher"], "-o", str(out), "--seed", "1", "--steps", "20", "--batch", "16",
                "--hidden", "8")
    assert r.returncode == 0, r.stderr
    assert (out / "model.onnx").exists() and "transitions" in r.stdout
    replay = run_cli("replay", logs["heuristic"], "--policy", "onnx", "--model", str(out / "model.onnx"))
    assert replay.returncode == 0, replay.stderr
    r = run_cli("rl", "offline", logs["fixed-spread"], "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and "policy 'fixed-spread'" in r.stderr and "Traceback" not in r.stderr
    onnx_log = tmp_path / "onnx.arrow"
    assert run_cli("run", "--policy", "onnx", "--model", str(out / "model.onnx"), "--ticks", "20", "--seed", "5",
                   "-o", str(onnx_log)).returncode == 0
    r = run_cli("rl", "offline", str(onnx_log), "-o", str(tmp_path / "y"), "--steps", "5")
    assert r.returncode == 2 and "--behaviour-model" in r.stderr
    r = run_cli("rl", "offline", str(onnx_log), "-o", str(tmp_path / "y"), "--steps", "5", "--batch", "8", "--hidden", "4",
                "--behaviour-model", str(out / "model.onnx"))
    assert r.returncode == 0, r.stderr
