"""A gymnasium environment over the simulator: one ``step`` is one main-loop tick.

``reset(seed)`` builds a run of a scenario (the seeded :class:`~paraphina.sim.market.MarketGenerator`,
the :class:`~paraphina.sim.exchange.SimExchange` and an :class:`~paraphina.engine.Engine` whose
policy is :class:`~paraphina.rl.policy.ExternalKnobPolicy`) and advances it to its first main
tick. With ``randomisation`` the scenario is the base one randomised for that seed
(:mod:`paraphina.rl.randomise`), so every episode runs another market. ``step(action)`` shields the action (:func:`~paraphina.rl.schema.clip_action`; an invalid
one runs the plain heuristic for that tick and is counted in ``info["fallback"]``), hands it to
the policy and advances the loop through the next main tick, with the exchange answering in the
same order as :func:`paraphina.sim.runner.closed_loop` (no log is written). The observation is
the one of the tick just run (:func:`~paraphina.rl.schema.observation`): action ``t`` acts on
main tick ``t + 1``.

Reward (``REWARD_VERSION``), per tick, from two consecutive telemetry records alone
(:func:`reward_components`; ``info["telemetry"]`` is the record, ``info["reward_components"]``
the parts, so any reward can be recomputed offline)::

    pnl        = (total_t - total_{t-1}) / pnl_scale_usd     daily PnL, net of fees and funding
    drawdown   = -w_drawdown * (peak_t - total_t) / daily_loss_limit
    basis      = -w_basis * |basis_usd| / basis_hard_limit_usd
    delta      = -w_delta * |dollar_delta_usd| / delta_limit_usd
    toxicity   = -w_toxicity * mean venue toxicity
    turnover   = -w_turnover * (notional_t - notional_{t-1}) / pnl_scale_usd / 100
    kill       = -kill_penalty on the tick the kill switch latches (the episode terminates)

The episode is truncated after ``max_ticks`` main ticks or when the generator runs out.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import gymnasium as gym
import msgspec
import numpy as np

from paraphina import events as ev
from paraphina.actions import StreamHasher
from paraphina.config import Config
from paraphina.engine import Engine
from paraphina.host import PolicyHost
from paraphina.rl.policy import ExternalKnobPolicy
from paraphina.rl.randomise import Randomisation, randomised_scenario, regime_of
from paraphina.rl.schema import OBS_CLIP, action_bounds, action_dim, clip_action, obs_dim, observation
from paraphina.sim.exchange import SimExchange
from paraphina.sim.market import T0_NS, MarketGenerator
from paraphina.sim.runner import exchange_seed, loop, starting_inventory, steps_for_ticks, venue_params
from paraphina.sim.scenario import Scenario

REWARD_VERSION = 1


def steps_for(scenario: Scenario, config: Config, ticks: int) -> int:
    """Generator steps that cover ``ticks`` main ticks, with two ticks of slack (an episode must
    not run out of market before its last step)."""
    return steps_for_ticks(scenario, config, ticks + 2)


class RewardWeights(msgspec.Struct, frozen=True, kw_only=True):
    pnl_scale_usd: float = 100.0
    w_drawdown: float = 1.0
    w_basis: float = 0.5
    w_delta: float = 0.5
    w_toxicity: float = 0.1
    w_turnover: float = 0.01
    kill_penalty: float = 20.0


def scenario_env_config(scenario: Scenario, profile: str = "balanced", config_path: str | None = None) -> Config:
    """The engine config for a scenario, free of the process environment: the ``btc`` preset (or
    the config file or preset ``config_path``) with the given profile, plus each scenario venue it
    does not list (with the scenario's fees), as ``paraphina run`` does."""
    from paraphina.presets import build_config

    cfg, _ = build_config(config_path, {}, profile)
    listed = {v.name for v in cfg.venues}
    extra = [msgspec.structs.replace(cfg.venue(v.name), maker_fee_bps=v.maker_fee_bps, taker_fee_bps=v.taker_fee_bps)
             for v in scenario.venues if v.name not in listed]
    return msgspec.structs.replace(cfg, venues=[*cfg.venues, *extra])


def reward_components(prev: dict, cur: dict, w: RewardWeights) -> dict[str, float]:
    """The reward's parts from two consecutive telemetry records (see the module docstring)."""
    killed_now = bool(cur["kill_switch"]) and not bool(prev["kill_switch"])
    parts = {
        "pnl": (cur["pnl_total"] - prev["pnl_total"]) / w.pnl_scale_usd,
        "drawdown": -w.w_drawdown * (cur["pnl_peak"] - cur["pnl_total"]) / cur["daily_loss_limit"],
        "basis": -w.w_basis * abs(cur["basis_usd"]) / cur["basis_hard_limit_usd"],
        "delta": -w.w_delta * abs(cur["dollar_delta_usd"]) / cur["delta_limit_usd"] if cur["delta_limit_usd"] > 0 else 0.0,
        "toxicity": -w.w_toxicity * cur["toxicity_mean"],
        "turnover": -w.w_turnover * (cur["traded_notional_usd"] - prev["traded_notional_usd"]) / w.pnl_scale_usd / 100.0,
        "kill": -w.kill_penalty if killed_now else 0.0,
    }
    return {k: float(v) for k, v in parts.items()}


class SimRun:
    """One closed-loop run, advanced one main tick at a time (closed_loop's order, no log).
    ``policy`` defaults to an :class:`ExternalKnobPolicy`; with ``hash_actions`` the engine's
    action stream is hashed as it goes (``hasher``, the stream hash ``paraphina run`` reports)."""

    def __init__(self, scenario: Scenario, config: Config, seed: int, steps: int, policy: object | None = None,
                 *, hash_actions: bool = False) -> None:
        self.hasher = StreamHasher() if hash_actions else None
        self.instruments = scenario.instruments()
        self.gen = MarketGenerator(scenario, seed, timer_ms=config.loops.main_loop_interval_ms, steps=steps)
        self.exchange = SimExchange(self.instruments, [venue_params(v) for v in scenario.venues], seed=exchange_seed(seed))
        self.policy = policy if policy is not None else ExternalKnobPolicy(len(self.instruments))
        self.engine = Engine(config, self.instruments, PolicyHost(self.policy))
        self.notional = 0.0
        self.ticks = [float(i.tick_size) for i in self.instruments]
        self.lots = [float(i.lot_size) for i in self.instruments]
        inventory, venue = starting_inventory(scenario, config)
        lots = round(inventory / self.gen.lots[venue])
        self.opening = (self.exchange.set_position(venue, lots, scenario.market.initial_price, T0_NS)
                        if lots else [])
        self._loop = self._ticks()

    def _ticks(self) -> Iterator[None]:
        engine = self.engine

        def step(e: ev.Event):
            if isinstance(e, ev.Fill):
                self.notional += e.price * self.ticks[e.venue] * e.size * self.lots[e.venue]
            actions = engine.step(e)
            if self.hasher is not None:
                self.hasher.add(actions)
            return actions

        def opening(ts_ns: int) -> list[ev.Event]:
            return [ev.SessionStart(ts_ns=min(ts_ns, T0_NS), source="paraphina.rl.env"), *self.opening]

        before = engine.state.core.tick_index
        for _ in loop(self.gen.chunks(), self.exchange, step, opening):
            if engine.state.core.tick_index != before:
                before = engine.state.core.tick_index
                yield None

    def next_tick(self) -> bool:
        """Run through the next main tick; False when the market is exhausted."""
        return next(self._loop, False) is None


class ParaphinaEnv(gym.Env):
    """The simulator as a gymnasium environment (see the module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: Scenario | None = None, config: Config | None = None, *, max_ticks: int = 200,
                 weights: RewardWeights | None = None, profile: str = "balanced",
                 randomisation: Randomisation | None = None) -> None:
        self.scenario = scenario or Scenario(scenario_id="default")
        self.randomisation = randomisation
        self.config = config or scenario_env_config(self.scenario, profile)
        self.n_venues = len(self.scenario.venues)
        self.max_ticks = max_ticks
        self.weights = weights or RewardWeights()
        lo, hi = action_bounds(self.n_venues)
        self.action_space = gym.spaces.Box(np.asarray(lo, np.float32), np.asarray(hi, np.float32),
                                           shape=(action_dim(self.n_venues),), dtype=np.float32)
        self.observation_space = gym.spaces.Box(-OBS_CLIP, OBS_CLIP, shape=(obs_dim(self.n_venues),), dtype=np.float32)
        self._run: SimRun | None = None
        self._tel: dict | None = None
        self._t = 0
        self._steps = steps_for(self.scenario, self.config, max_ticks)

    def _telemetry(self) -> dict:
        eng = self._run.engine
        t = eng.telemetry()
        model = eng.tick_model
        tox = list(model.toxicity) if model is not None else []
        prev_peak = self._tel["pnl_peak"] if self._tel is not None else -math.inf
        risk = self.config.risk
        t.update({
            "pnl_peak": max(prev_peak, t["pnl_total"]),
            "traded_notional_usd": self._run.notional,
            "toxicity_mean": math.fsum(tox) / len(tox) if tox else 0.0,
            "delta_limit_usd": model.delta_limit_usd if model is not None else 0.0,
            "daily_loss_limit": risk.daily_loss_limit,
            "basis_hard_limit_usd": risk.basis_hard_limit_usd,
            "fees_usd": math.fsum(a.fees for a in eng.state.core.venues),
            "reward_version": REWARD_VERSION,
        })
        return t

    def _obs(self) -> np.ndarray:
        eng = self._run.engine
        return observation(eng.tick_model, eng.venue_inputs, self.config)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        run_seed = int(seed) if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        scenario = self.episode_scenario(run_seed)
        self._run = SimRun(scenario, self.config, run_seed, self._steps)
        self._tel = None
        self._t = 0
        if not self._run.next_tick():
            raise RuntimeError("the scenario produced no main tick")
        self._tel = self._telemetry()
        return self._obs(), {"seed": run_seed, "telemetry": dict(self._tel), "scenario_id": scenario.scenario_id,
                             "regime": regime_of(scenario)}

    def episode_scenario(self, seed: int) -> Scenario:
        """The scenario episode ``seed`` runs: the base one, or its randomisation for that seed."""
        if self.randomisation is None:
            return self.scenario
        return randomised_scenario(self.scenario, seed, self._steps, self.randomisation)

    def step(self, action):
        if self._run is None:
            raise RuntimeError("call reset() first")
        a = clip_action(np.asarray(action, dtype=np.float64), self.n_venues)
        self._run.policy.set_action(a)
        more = self._run.next_tick()
        self._t += 1
        prev = self._tel
        cur = self._telemetry() if more else dict(prev)
        parts = reward_components(prev, cur, self.weights)
        self._tel = cur
        terminated = bool(cur["kill_switch"])
        truncated = (not more or self._t >= self.max_ticks) and not terminated
        info = {"telemetry": dict(cur), "reward_components": parts, "fallback": a is None,
                "action_applied": a.to_list() if a is not None else None}
        return self._obs(), float(math.fsum(parts.values())), terminated, truncated, info


def make_vector_env(n: int, **kwargs) -> gym.vector.SyncVectorEnv:
    """``n`` environments stepped together (``reset(seed=s)`` seeds them ``s, s+1, ...``)."""
    return gym.vector.SyncVectorEnv([lambda: ParaphinaEnv(**kwargs) for _ in range(n)])
