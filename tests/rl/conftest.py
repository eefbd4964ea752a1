"""Shared fixtures for the RL tests: a short simulated heuristic log and a tiny BC model.

RL tests need the ``rl`` extra (onnxruntime, onnx, gymnasium); without it they skip with that
reason. The Makefile installs the extra, so CI runs them.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rltools import RL_MISSING, RL_SKIP_REASON, SIM_TICKS



@pytest.fixture(scope="session")
def sim_log(tmp_path_factory):
    """A 5-venue heuristic run of SIM_TICKS main ticks (its log and result)."""
    if RL_MISSING:
        pytest.skip(RL_SKIP_REASON)
    from paraphina.commands.sim import engine_factory
    from paraphina.rl.env import scenario_env_config
    from paraphina.sim.runner import run_simulation
    from paraphina.sim.scenario import Scenario

    sc = Scenario(scenario_id="default")
    cfg = scenario_env_config(sc)
    path = tmp_path_factory.mktemp("rl") / "heuristic.arrow"
    r = run_simulation(sc, cfg, "heuristic", 7, SIM_TICKS, str(path), engine_factory("heuristic"))
    return SimpleNamespace(path=str(path), result=r, config=cfg)


@pytest.fixture(scope="session")
def bc_run(tmp_path_factory):
    """The behaviour-cloning path at tiny settings (model, card)."""
    if RL_MISSING:
        pytest.skip(RL_SKIP_REASON)
    from paraphina.rl.bc import behaviour_clone

    out = tmp_path_factory.mktemp("bc")
    card = behaviour_clone(str(out), seeds=2, holdout=2, ticks=120, epochs=150, hidden=16)
    return SimpleNamespace(dir=out, model=str(out / "model.onnx"), card=card)

