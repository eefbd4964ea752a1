"""Monte Carlo runs and promotion candidates on the market simulator.

The research drivers (:mod:`paraphina.research.montecarlo`, ``batch_runs.phase_a``) take plain
functions ``run_fn(run_index, seed) -> dict`` and ``evaluate(env, run_index, seed) -> dict``;
this module provides the real ones, over :func:`paraphina.sim.runner.run_simulation`:

* :class:`ScenarioRun`: one scenario, one resolved config, one policy. Built by the driver,
  pickled to the workers (process pool or Ray), so every worker runs exactly the config the
  driver resolved (its environment is not consulted again).
* :func:`candidate_run`: a Phase A candidate's ``PARAPHINA_*`` overlay on a config file (default
  the ``btc`` preset), resolved *in the worker* from the overlay alone, never ``os.environ``, so
  a candidate means the same thing on any machine. ``PARAPHINA_INIT_Q_TAO`` is the config's
  ``initial_q_tao``, the run's starting inventory (``paraphina.sim.runner.starting_inventory``),
  exactly as in ``paraphina run``/``mc`` with the same variable exported.
* :func:`candidate_suite`: the same candidate over a scenario suite with its invariants.

Each run's log goes to a temporary directory and is deleted; the per-run record keeps its
action-stream SHA-256, so ``paraphina run --scenario F --seed S`` reproduces any run exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import attrs

from paraphina.config import Config, config_hash
from paraphina.presets import build_config
from paraphina.sim.runner import SimResult, policy_engine_factory, run_simulation, with_scenario_fees
from paraphina.sim.scenario import Scenario, load_scenario
from paraphina.sim.suite import SuiteReport, load_suite, run_suite

DEFAULT_SCENARIO = "scenarios/synth_baseline.yaml"


def run_record(r: SimResult) -> dict[str, Any]:
    """A simulated run as a Monte Carlo record (the ``run_fn`` contract)."""
    s = r.summary
    return {
        "pnl": float(s["total"]),
        "max_drawdown": float(r.max_drawdown_usd),
        "kill": bool(s["kill_switch"]),
        "kill_reason": s["kill_reason"] if s["kill_switch"] else None,
        "kill_tick": r.killed_at_tick,
        "ticks": int(r.ticks),
        "pnl_realised": float(s["realised"]),
        "pnl_unrealised": float(s["unrealised"]),
        "max_abs_q": float(r.max_abs_position),
        "final_q": float(sum(r.positions)),
        "fills": int(r.fills),
        "fees_usd": float(r.fees),
        "funding_usd": float(r.funding),
        "events": int(r.events),
        "actions": int(r.actions),
        "action_stream_sha256": r.sha256,
    }


def simulate(scenario: Scenario, config: Config, policy: str, seed: int, ticks: int | None) -> SimResult:
    """One run kept as its result only (no log: a Monte Carlo record needs the summary and the
    action stream's hash, which do not depend on whether the events were also written)."""
    return run_simulation(scenario, config, policy, seed, ticks, None, policy_engine_factory(policy))


@attrs.frozen
class ScenarioRun:
    """``run_fn`` for ``paraphina mc``: ``scenario`` with ``config`` and ``policy`` for ``ticks``
    main-loop ticks (``None``: the scenario's horizon). Picklable."""

    scenario: Scenario
    config: Config
    policy: str = "heuristic"
    ticks: int | None = None

    def __call__(self, run_index: int, seed: int) -> dict[str, Any]:
        return run_record(simulate(self.scenario, self.config, self.policy, seed, self.ticks))


def _stamp(path: str) -> tuple[str, int, int]:
    """A cache key that changes when the file does (a long-lived process sees edits)."""
    st = os.stat(path)
    return path, st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=8)
def _scenario_at(key: tuple[str, int, int]) -> Scenario:
    return load_scenario(key[0])


def _scenario(path: str) -> Scenario:
    return _scenario_at(_stamp(path))


def candidate_config(env: Mapping[str, str], scenario: Scenario, config_path: str | None = None) -> Config:
    """The engine config a candidate overlay means: ``config_path`` (default the ``btc`` preset)
    under the overlay's ``PARAPHINA_*`` knobs (profile included), with the scenario's fees."""
    return with_scenario_fees(build_config(config_path, dict(env), None)[0], scenario)


def candidate_config_hash(env: Mapping[str, str], *, scenario: str = DEFAULT_SCENARIO, config: str | None = None,
                          **_run_args: Any) -> str:
    """The hash of the config :func:`candidate_run` simulates for ``env`` (preset + overlay +
    scenario fees): what ``paraphina mc`` prints for the same candidate. Takes the same keyword
    arguments as :func:`candidate_run` (the ones that do not change the config are ignored)."""
    return config_hash(candidate_config(env, _scenario(scenario), config))


def candidate_run(env: Mapping[str, str], run_index: int, seed: int, *, scenario: str = DEFAULT_SCENARIO,
                  ticks: int | None = None, policy: str = "heuristic", config: str | None = None) -> dict[str, Any]:
    """Phase A ``evaluate``: one seeded run of ``scenario`` with the candidate's overlay."""
    base = _scenario(scenario)
    return run_record(simulate(base, candidate_config(env, base, config), policy, seed,
                               None if ticks is None else int(ticks)))


def candidate_suite(env: Mapping[str, str], suite: str, *, policy: str = "heuristic",
                    config: str | None = None, ticks: int | None = None, on_run=None) -> SuiteReport:
    """The candidate's config over every scenario and seed of ``suite``, invariants checked.

    A candidate that sets a starting inventory starts every suite run with it (as ``paraphina
    suite`` does with ``PARAPHINA_INIT_Q_TAO`` exported). ``on_run(done, total, row)`` is told
    of each finished run (progress).
    """
    s = load_suite(suite)
    if ticks is not None:  # a shorter horizon for quick studies (recorded in study.json)
        s = dataclasses.replace(s, ticks=int(ticks))
    with tempfile.TemporaryDirectory(prefix="paraphina-suite-") as tmp:
        return run_suite(s, lambda sc: candidate_config(env, sc, config), policy, policy_engine_factory(policy), tmp,
                         on_run=on_run)
