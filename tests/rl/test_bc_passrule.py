"""Behaviour cloning's pass rule: the teacher's labels vary, a constant predictor fails, a trained model passes."""

from __future__ import annotations

import numpy as np

from rltools import N_VENUES, bc_run, needs_rl, write_model  # noqa: F401 - fixtures

pytestmark = needs_rl


def test_teacher_labels_vary(bc_run):
    data = np.load(bc_run.dir / "dataset.npz")
    varying = int(np.sum(data["actions"].std(axis=0) > 1e-6))
    # Spread scale, size scale (on venues that see toxicity or hold inventory), offsets and the
    # hedge scale move; the identity teacher of the old dataset moved at most the hedge weights.
    assert varying >= 2 * N_VENUES + 1, varying
    assert bc_run.card["data"]["label_dims_varying"] == varying


def test_constant_predictor_fails_and_trained_model_passes(bc_run, tmp_path):
    from paraphina.rl.bc import bc_verdict, collect, shielded_predictions, action_error
    from paraphina.rl.env import scenario_env_config
    from paraphina.rl.policy import OnnxPolicy
    from paraphina.sim.scenario import Scenario

    data = np.load(bc_run.dir / "dataset.npz")
    train_mean = data["actions"].astype(np.float64).mean(axis=0)
    sc = Scenario(scenario_id="default")
    xt, yt, _, _ = collect([sc], [scenario_env_config(sc)], [1001], 120)
    const_err = action_error(np.broadcast_to(train_mean, yt.shape), yt, N_VENUES)
    # The constant predictor as a real ONNX model, through the same shielded path as the clone.
    constant = OnnxPolicy(write_model(tmp_path / "constant.onnx", train_mean.tolist()))
    constant_err = action_error(shielded_predictions(constant, xt, N_VENUES), yt, N_VENUES)
    verdict = bc_verdict(constant_err, const_err, 0.0, 0.0)
    assert verdict["passed"] is False and "constant predictor" in verdict["reasons"][0]
    trained_err = action_error(shielded_predictions(OnnxPolicy(bc_run.model), xt, N_VENUES), yt, N_VENUES)
    assert bc_verdict(trained_err, const_err, 0.0, 0.0)["passed"] is True


def test_pass_rule_checks_kill_rate_and_nan():
    from paraphina.rl.bc import bc_verdict

    assert bc_verdict(0.001, 0.05, 0.5, 0.25)["passed"] is False
    assert bc_verdict(float("nan"), 0.05, 0.0, 0.0)["passed"] is False
    assert bc_verdict(0.025, 0.05, 0.0, 0.0)["passed"] is True      # exactly at the bar passes
    assert bc_verdict(0.0251, 0.05, 0.0, 0.0)["passed"] is False


def test_teacher_is_a_function_of_the_observation():
    from paraphina.rl.schema import GLOBAL_FIELDS, VENUE_FIELDS, obs_dim
    from paraphina.rl.teacher import teacher_knobs

    obs = [0.0] * obs_dim(2)
    calm = teacher_knobs(obs, 2, [0.5, 0.5])
    g = [n for n, _ in GLOBAL_FIELDS]
    obs[g.index("delta_use")] = 0.05
    obs[len(GLOBAL_FIELDS) + [n for n, _ in VENUE_FIELDS].index("toxicity")] = 0.3
    loaded = teacher_knobs(obs, 2, [0.5, 0.5])
    assert loaded[0] > calm[0] and loaded[1] == calm[1]        # venue 0's spread widens with its toxicity
    assert loaded[2] < calm[2]                                  # and its size shrinks
    assert loaded[4] < 0 and loaded[5] < 0                      # long: lean offsets down
    assert loaded[6] > calm[6]                                  # hedge harder
