"""Behaviour cloning at tiny settings: tolerance, kill rate, determinism, model card."""

from __future__ import annotations

import json

import numpy as np

from rltools import bc_run, needs_rl, sim_log  # noqa: F401 - fixtures

pytestmark = needs_rl


def test_bc_beats_the_constant_predictor_without_raising_kills(bc_run):
    from paraphina.rl.bc import CONSTANT_MARGIN

    e = bc_run.card["evaluation"]
    assert e["action_error_heldout"] <= CONSTANT_MARGIN * e["action_error_heldout_constant_baseline"]
    assert e["learned"]["kill_rate"] <= e["heuristic"]["kill_rate"]
    assert e["passed"] is True and e["reasons"] == []
    assert e["fallbacks_learned"] == {}


def test_model_card_and_dataset_are_written(bc_run):
    card = json.loads((bc_run.dir / "model_card.json").read_text())
    assert card["model"]["obs_version"] == 1 and card["model"]["action_version"] == 1
    md = (bc_run.dir / "model_card.md").read_text()
    assert card["model"]["sha256"] in md and "held-out" in md
    data = np.load(bc_run.dir / "dataset.npz")
    assert data["observations"].shape[0] == data["actions"].shape[0] == card["data"]["transitions"]


def test_training_is_deterministic_and_learns():
    from paraphina.rl.bc import train_mlp

    rng = np.random.Generator(np.random.PCG64(1))
    x = rng.normal(size=(200, 6))
    y = np.tile([1.0, 1.0, 0.0, 1.0, 0.5], (200, 1))
    y[:, 4] = np.where(x[:, 0] > 0, 0.9, 0.1)     # a weight that depends on the observation
    la, loss_a = train_mlp(x, y, 1, hidden=8, epochs=300)
    lb, loss_b = train_mlp(x, y, 1, hidden=8, epochs=300)
    assert all(np.array_equal(wa, wb) and np.array_equal(ba, bb) for (wa, ba), (wb, bb) in zip(la, lb))
    assert loss_a == loss_b and loss_a[-1] < loss_a[0] / 5
