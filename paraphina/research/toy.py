"""A toy stand-in for one simulated run: a seeded random-walk PnL with a loss-limit kill.

This is NOT the market simulator. It exists so the Monte Carlo driver, the promotion pipeline,
the benchmarks and the tests can run before (and independently of) ``paraphina run``; its numbers
mean nothing about the strategy. It has exactly the plug-in signatures the real simulator will
provide:

* ``toy_run(run_index, seed, *, ticks, drift, vol, loss_limit) -> dict`` (bind the keywords with
  :func:`functools.partial` to get a ``run_fn``);
* ``toy_candidate_run(env, run_index, seed, *, ticks) -> dict``: an ``evaluate`` function for the
  promotion pipeline, mapping a few ``PARAPHINA_*`` knobs onto drift, volatility and loss limit.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def toy_run(run_index: int, seed: int, *, ticks: int = 200, drift: float = 0.05, vol: float = 1.0,
            loss_limit: float = 25.0) -> dict:
    """One toy run: PnL steps ~ N(drift, vol); killed (and stopped) when PnL <= -loss_limit."""
    rng = np.random.default_rng(seed)
    path = np.cumsum(rng.normal(drift, vol, size=ticks))
    below = np.flatnonzero(path <= -loss_limit)
    kill = below.size > 0
    executed = int(below[0]) + 1 if kill else ticks
    path = path[:executed]
    peak = np.maximum.accumulate(np.concatenate(([0.0], path)))
    dd = float(np.max(peak[1:] - path)) if executed else 0.0
    return {
        "pnl": float(path[-1]) if executed else 0.0,
        "max_drawdown": max(dd, 0.0),
        "kill": bool(kill),
        "kill_reason": "PnlHardBreach" if kill else None,
        "ticks": executed,
        "kill_tick": int(below[0]) if kill else None,
    }


def toy_candidate_run(env: Mapping[str, str], run_index: int, seed: int, *, ticks: int = 200) -> dict:
    """Toy evaluation of a candidate's env overlay (a test double for the simulator).

    Wider hedge band and bigger size raise both drift and volatility; the daily loss limit is the
    kill level (scaled down by 50 so that kills happen in a few hundred ticks).
    """
    band = float(env.get("PARAPHINA_HEDGE_BAND_BASE", "0.05"))
    eta = float(env.get("PARAPHINA_MM_SIZE_ETA", "1.0"))
    vol_ref = float(env.get("PARAPHINA_VOL_REF", "0.10"))
    limit = float(env.get("PARAPHINA_DAILY_LOSS_LIMIT", "1000")) / 50.0
    drift = 0.2 * eta + 2.0 * band
    vol = 1.5 * eta * (1.0 + 4.0 * band) * (vol_ref / 0.10)
    return toy_run(run_index, seed, ticks=ticks, drift=drift, vol=vol, loss_limit=limit)


# The bowl's knobs: (low, high, optimum) per knob; a study's knob spec uses the same ranges
# (tests/research/test_samplers.py, docs/research.md).
BOWL = {
    "PARAPHINA_HEDGE_BAND_BASE": (0.02, 0.15, 0.11),
    "PARAPHINA_MM_SIZE_ETA": (0.5, 2.0, 0.95),
    "PARAPHINA_VOL_REF": (0.05, 0.15, 0.07),
    "PARAPHINA_DAILY_LOSS_LIMIT": (500.0, 3000.0, 2500.0),
}


def toy_bowl_run(env: Mapping[str, str], run_index: int, seed: int, *, noise: float = 5.0) -> dict:
    """A toy objective with a known optimum, for testing samplers (an ``evaluate`` function).

    With ``u`` each :data:`BOWL` knob scaled to [0, 1] by its range (a missing knob sits at its
    optimum), a run's PnL is ``100 - 200 * |u - u*|^2`` plus N(0, ``noise``) noise, so the best
    mean PnL is 100 at the :data:`BOWL` optimum; its max drawdown is ``10 + 40 * u_size`` plus
    the absolute value of the same noise, so size trades PnL against drawdown: the Pareto set runs
    from size at its low bound to size at its optimum, every other knob at its optimum. No kills.
    """
    dist2 = 0.0
    u_size = 0.0
    for name, (lo, hi, best) in BOWL.items():
        v = float(env.get(name, best))
        u, u_best = (v - lo) / (hi - lo), (best - lo) / (hi - lo)
        dist2 += (u - u_best) ** 2
        if name == "PARAPHINA_MM_SIZE_ETA":
            u_size = u
    eps = float(np.random.default_rng(seed).normal(0.0, noise))
    return {"pnl": 100.0 - 200.0 * dist2 + eps, "max_drawdown": 10.0 + 40.0 * u_size + abs(eps), "kill": False,
            "kill_reason": None, "ticks": 1, "kill_tick": None}
