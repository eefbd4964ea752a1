"""PPO on the control surface: a small run trains, exports ONNX, replays byte for byte in two
processes, and acts differently from the heuristic on held-out seeds; Lagrangian pieces; export.

The training run is small (512 steps, 2 environments, 80-tick episodes) so the module takes
about a minute and a half on a loaded 2-core machine; it is marked slow and still runs in ``make test``.
"""

from __future__ import annotations

import importlib.util
import json
import re

import numpy as np
import pytest

from rltools import RL_MISSING, RL_SKIP_REASON, run_cli

SB3_MISSING = [m for m in ("stable_baselines3", "torch") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(RL_MISSING or SB3_MISSING),
                                reason=RL_SKIP_REASON if RL_MISSING else
                                f"PPO tests need the rl extra ({', '.join(SB3_MISSING)} missing): pip install 'paraphina[rl]'")

HELD_OUT_SEED = 2**31 + 5
TRAIN_ARGS = ["--steps", "512", "--envs", "2", "--ticks", "80", "--n-steps", "64", "--holdout", "2", "--seed", "3", "-q"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("ppo") / "model"
    p = run_cli("rl", "train", "--algo", "ppo", *TRAIN_ARGS, "-o", str(out))
    assert p.returncode == 0, p.stderr
    return out, p.stdout


def _stream_hash(stdout: str) -> str:
    found = re.findall(r"action_stream_sha256: ([0-9a-f]{64})", stdout)
    assert found, stdout
    return found[-1]


@pytest.mark.slow
def test_train_writes_model_card_and_provenance(trained):
    out, stdout = trained
    card = json.loads((out / "model_card.json").read_text())
    assert card["training"]["algo"] == "ppo" and card["training"]["steps_done"] >= 512
    assert card["model"]["obs_version"] == 1 and card["model"]["action_version"] == 1
    assert card["libraries"]["stable_baselines3"] != "absent" and card["libraries"]["torch"].startswith("2.")
    assert len(card["training_curve"]) == 4 and all("lambdas" in r for r in card["training_curve"])
    e = card["evaluation"]
    assert e["heuristic"]["runs"] == e["learned"]["runs"] == 2
    assert card["model"]["sha256"] in (out / "model_card.md").read_text()
    assert card["model"]["sha256"] in stdout and "beats the heuristic:" in stdout
    assert json.loads((out / "provenance.json").read_text())["seed"] == 3


@pytest.mark.slow
def test_reusing_the_directory_with_other_inputs_is_refused(trained):
    out, _ = trained
    before = (out / "model.onnx").read_bytes()
    args = [a if a != "3" else "4" for a in TRAIN_ARGS]
    p = run_cli("rl", "train", *args, "-o", str(out))
    assert p.returncode == 2 and "seed" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert (out / "model.onnx").read_bytes() == before


@pytest.mark.slow
def test_model_replays_byte_for_byte_and_differs_from_the_heuristic(trained, tmp_path):
    out, _ = trained
    model = str(out / "model.onnx")
    log = tmp_path / "ppo.arrow"
    common = ["--seed", str(HELD_OUT_SEED), "--ticks", "150"]
    run = run_cli("run", "--policy", "onnx", "--model", model, *common, "-o", str(log))
    assert run.returncode == 0, run.stderr
    heuristic = run_cli("run", "--policy", "heuristic", *common, "-o", str(tmp_path / "h.arrow"))
    assert heuristic.returncode == 0, heuristic.stderr
    hashes = []
    for hashseed in ("1", "2"):
        p = run_cli("replay", str(log), "--policy", "onnx", "--model", model, env={"PYTHONHASHSEED": hashseed})
        assert p.returncode == 0, p.stderr
        hashes.append(_stream_hash(p.stdout))
    assert hashes[0] == hashes[1] == _stream_hash(run.stdout)
    assert _stream_hash(heuristic.stdout) != hashes[0]


@pytest.mark.slow
def test_training_is_deterministic_for_a_seed():
    from paraphina.rl.env import scenario_env_config
    from paraphina.rl.ppo import PPOSettings, train_ppo
    from paraphina.sim.scenario import Scenario

    sc = Scenario(scenario_id="default")
    cfg = scenario_env_config(sc)
    st = PPOSettings(n_envs=2, episode_ticks=40, n_steps=32, batch_size=64, n_epochs=2)
    a = train_ppo(sc, cfg, steps=128, seed=11, settings=st)
    b = train_ppo(sc, cfg, steps=128, seed=11, settings=st)
    c = train_ppo(sc, cfg, steps=128, seed=12, settings=st)
    assert a.model_onnx == b.model_onnx and a.curve == b.curve
    assert c.model_onnx != a.model_onnx


def test_exported_policy_matches_the_formula():
    import onnxruntime as ort

    from paraphina.rl.export import gaussian_policy_model

    rng = np.random.Generator(np.random.PCG64(5))
    layers = [(rng.normal(size=(6, 4)), rng.normal(size=4)), (rng.normal(size=(4, 3)), rng.normal(size=3))]
    mean, std = rng.normal(size=6), rng.uniform(0.5, 2.0, size=6)
    low, high = [0.5, 0.0, -10.0], [2.0, 1.0, 10.0]
    sess = ort.InferenceSession(gaussian_policy_model(mean, std, 3.0, layers, low, high), providers=["CPUExecutionProvider"])
    obs = rng.normal(scale=5.0, size=(1, 6)).astype(np.float32)
    x = np.clip((obs - mean) / std, -3.0, 3.0)
    m = np.tanh(x @ layers[0][0] + layers[0][1]) @ layers[1][0] + layers[1][1]
    want = np.asarray(low) + (np.clip(m, -1, 1) + 1) / 2 * (np.asarray(high) - np.asarray(low))
    got = sess.run(None, {"obs": obs})[0]
    assert np.allclose(got, want, atol=1e-4)


def test_lagrange_multipliers_rise_above_target_and_decay_to_zero_below():
    from paraphina.rl.ppo import COSTS, dual_ascent

    targets = {"kill": 0.05, "drawdown": 1.0, "delta": 0.5, "basis": 0.5}
    lam = {k: 0.0 for k in COSTS}
    over = {"kill": 0.25, "drawdown": 0.5, "delta": 0.5, "basis": 0.75}
    lam = dual_ascent(lam, over, targets, 0.5)
    assert lam["kill"] == pytest.approx(2.0) and lam["drawdown"] == 0.0 and lam["delta"] == 0.0
    assert lam["basis"] == pytest.approx(0.25)
    for _ in range(10):
        lam = dual_ascent(lam, {k: 0.0 for k in COSTS}, targets, 0.5)
    assert lam == {k: 0.0 for k in COSTS}


def test_step_costs_sum_to_the_episode_cost():
    from paraphina.rl.ppo import EpisodeCosts, episode_cost, step_costs

    ep = EpisodeCosts()
    totals = {"kill": 0.0, "drawdown": 0.0, "delta": 0.0, "basis": 0.0}
    pnl = [0.0, 5.0, 2.0, -4.0, 1.0]
    peak = -np.inf
    for i, p in enumerate(pnl):
        peak = max(peak, p)
        tel = {"kill_switch": i >= 3, "pnl_peak": peak, "pnl_total": p, "dollar_delta_usd": -100.0 * i,
               "delta_limit_usd": 1000.0, "basis_usd": 10.0, "basis_hard_limit_usd": 100.0}
        for k, v in step_costs(ep, tel, 50.0, len(pnl)).items():
            totals[k] += v
    want = episode_cost(ep, 50.0)
    assert want == pytest.approx(totals)
    assert want["kill"] == 1.0 and want["drawdown"] == pytest.approx(9.0 / 50.0)
    assert want["delta"] == pytest.approx((0 + 0.1 + 0.2 + 0.3 + 0.4) / 5) and want["basis"] == pytest.approx(0.1)


def test_unknown_tier_is_a_one_line_error(tmp_path):
    p = run_cli("rl", "train", "--constrained", "nope", "--steps", "10", "-o", str(tmp_path / "m"))
    assert p.returncode == 2 and "unknown tier 'nope'" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_tight_budget_raises_its_multiplier_and_shapes_training():
    from paraphina.research.stats import Budget
    from paraphina.rl.env import scenario_env_config
    from paraphina.rl.ppo import PPOSettings, train_ppo
    from paraphina.sim.scenario import Scenario

    sc = Scenario(scenario_id="default")
    cfg = scenario_env_config(sc)
    st = PPOSettings(n_envs=2, episode_ticks=30, n_steps=32, batch_size=64, n_epochs=2)
    tight = Budget(tier="tight", max_kill_ucb=0.01, max_dd_cvar=0.01, min_pnl_lcb_usd=0.0)
    plain = train_ppo(sc, cfg, steps=128, seed=5, settings=st)
    con = train_ppo(sc, cfg, steps=128, seed=5, settings=st, budget=tight)
    rows = [r for r in con.curve if r["episodes"]]
    assert rows and rows[0]["cost"]["drawdown"] > 1.0     # the episodes overdrew the 1-cent budget
    assert con.lambdas["drawdown"] > 0.0 and con.lambdas["kill"] == 0.0
    assert all(v == 0.0 for v in plain.lambdas.values())
    assert con.model_onnx != plain.model_onnx
