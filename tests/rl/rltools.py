"""Helpers and fixtures for the RL tests: a short simulated heuristic log and a tiny BC model.

Test modules import the fixtures by name (a ``tests/rl/conftest.py`` would shadow the top-level
``conftest`` module other tests import from); results are cached per session here.

RL tests need the ``rl`` extra (onnxruntime, onnx, gymnasium); without it they skip with that
reason. The Makefile installs the extra, so CI runs them.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
RL_MISSING = [m for m in ("onnxruntime", "onnx", "gymnasium") if importlib.util.find_spec(m) is None]
RL_SKIP_REASON = f"RL tests need the rl extra ({', '.join(RL_MISSING)} missing): pip install 'paraphina[rl]'"
needs_rl = pytest.mark.skipif(bool(RL_MISSING), reason=RL_SKIP_REASON)

N_VENUES = 5
SIM_TICKS = 160
_CACHE: dict = {}


def write_model(path, values, n_venues: int = N_VENUES) -> str:
    from paraphina.rl.export import constant_model
    from paraphina.rl.schema import obs_dim

    with open(path, "wb") as f:
        f.write(constant_model(values, obs_dim(n_venues)))
    return str(path)


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``paraphina ARGS`` in a separate process (as tests/conftest.py's run_cli)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "paraphina", *args], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=300)



@pytest.fixture(scope="session")
def sim_log(tmp_path_factory):
    """A 5-venue heuristic run of SIM_TICKS main ticks (its log and result)."""
    if RL_MISSING:
        pytest.skip(RL_SKIP_REASON)
    if "sim_log" in _CACHE:
        return _CACHE["sim_log"]
    from paraphina.commands.sim import engine_factory
    from paraphina.rl.env import scenario_env_config
    from paraphina.sim.runner import run_simulation
    from paraphina.sim.scenario import Scenario

    sc = Scenario(scenario_id="default")
    cfg = scenario_env_config(sc)
    path = tmp_path_factory.mktemp("rl") / "heuristic.arrow"
    r = run_simulation(sc, cfg, "heuristic", 7, SIM_TICKS, str(path), engine_factory("heuristic"))
    _CACHE["sim_log"] = SimpleNamespace(path=str(path), result=r, config=cfg)
    return _CACHE["sim_log"]


@pytest.fixture(scope="session")
def bc_run(tmp_path_factory):
    """The behaviour-cloning path at tiny settings (model, card)."""
    if RL_MISSING:
        pytest.skip(RL_SKIP_REASON)
    if "bc_run" in _CACHE:
        return _CACHE["bc_run"]
    from paraphina.rl.bc import behaviour_clone

    out = tmp_path_factory.mktemp("bc")
    card = behaviour_clone(str(out), seeds=2, holdout=2, ticks=120, epochs=150, hidden=16)
    _CACHE["bc_run"] = SimpleNamespace(dir=out, model=str(out / "model.onnx"), card=card)
    return _CACHE["bc_run"]

