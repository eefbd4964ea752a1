"""Online RL on the control surface: PPO and PPO with Lagrangian budget penalties (Stable-Baselines3).

The agent acts on the bounded knob schema (:mod:`paraphina.rl.schema`) through
:class:`~paraphina.rl.env.ParaphinaEnv` with domain randomisation (:mod:`paraphina.rl.randomise`):
each episode is a fresh randomised market drawn from the episode seed. Layers, outermost last::

    ParaphinaEnv (raw knob units) -> RescaleAction to [-1, 1] -> DummyVecEnv (n envs per call)
      -> BudgetTracker (episode costs; with a tier, reward minus lambda-weighted costs)
      -> VecNormalize (running observation and reward normalisation) -> SB3 PPO (MlpPolicy, tanh)

**Constrained PPO** (``tier``): four episode costs, each with a target from the tier's budget and
the config's risk limits:

* ``kill``: 1 when the kill switch latched in the episode; target the tier's ``max_kill_ucb``;
* ``drawdown``: the episode's max drawdown of daily PnL / the tier's ``max_dd_cvar``; target 1;
* ``delta``: mean |dollar delta| / delta limit over the episode; target ``risk.delta_warn_frac``;
* ``basis``: mean |basis| / basis hard limit; target ``risk.basis_warn_frac``.

The per-step reward becomes ``r - sum_k lambda_k * c_k(t)`` where ``c_k(t)`` is the step's share
of the episode cost (the kill on the latching tick, the drawdown's increments, the usage /
episode length). After every rollout, with the episodes that ended in it, each multiplier moves by
dual ascent, ``lambda_k <- max(0, lambda_k + lr * (J_k - target_k) / target_k)``: it grows while
the estimated cost is above its target and decays back to 0 below it. The multipliers and the
cost estimates of every rollout are in the model card's training curve.

**Export**: the deterministic policy (the Gaussian's mean, clipped to [-1, 1] as SB3 clips its
actions, mapped affinely back to raw units) with the same observation normalisation (VecNormalize's
final running mean and variance, clip) folded into the ONNX graph
(:func:`paraphina.rl.export.gaussian_policy_model`), so :class:`~paraphina.rl.policy.OnnxPolicy`
runs it on raw observations.

**Determinism**: torch with one thread, ``torch.use_deterministic_algorithms(True)``, SB3's seed
(python, numpy, torch, the action space) and the environments seeded ``seed, seed + 1, ...`` (later
episodes draw their seeds from each environment's generator): the same seed and settings give the
same model bytes on the same machine and library versions. Not promised across CPUs or torch
builds (float32 kernels may differ in the last bits, and training amplifies them); a replay of a
given model file is byte for byte everywhere the ONNX policy is (one thread, shield rounding).
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np

from paraphina.digest import sha256_file
from paraphina.research.evidence import canonical_json, write_atomic
from paraphina.research.stats import Budget, drawdown_tail_risk, normal_lcb, wilson_ucb
from paraphina.rl.env import REWARD_VERSION, ParaphinaEnv, RewardWeights, SimRun, steps_for
from paraphina.rl.randomise import Randomisation, randomised_scenario, regime_of
from paraphina.rl.schema import ACTION_VERSION, OBS_VERSION, action_bounds, identity_action
from paraphina.sim.scenario import Scenario

ALGOS = ("ppo",)
# Held-out evaluation seeds start here: training never draws them (the environments draw episode
# seeds below 2**31 - 1, and `--seed` is limited to 2**30).
HOLDOUT_SEED_BASE = 2**31
MAX_TRAIN_SEED = 2**30
COSTS = ("kill", "drawdown", "delta", "basis")
LIBRARIES = ("stable_baselines3", "torch", "gymnasium", "numpy", "onnx", "onnxruntime")


class PPOSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything besides the seed and step count that determines a trained model's bytes."""

    n_envs: int = 4
    episode_ticks: int = 300
    n_steps: int = 128                # per environment per rollout
    batch_size: int = 128
    n_epochs: int = 5
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    hidden: tuple[int, ...] = (64, 64)
    log_std_init: float = -1.0
    lagrange_lr: float = 0.5


def need_sb3() -> None:
    """A one-line error naming what is missing when Stable-Baselines3 / torch are absent."""
    from paraphina.errors import UserError

    try:
        import stable_baselines3  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise UserError(f"rl train needs the rl extra ({exc.name} missing): pip install 'paraphina[rl]'") from None


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    import paraphina

    out["paraphina"] = paraphina.__version__
    out["python"] = platform.python_version()
    return out


def cost_targets(budget: Budget | None, config) -> dict[str, float] | None:
    if budget is None:
        return None
    return {"kill": budget.max_kill_ucb, "drawdown": 1.0, "delta": config.risk.delta_warn_frac,
            "basis": config.risk.basis_warn_frac}


@dataclass
class EpisodeCosts:
    """Cost accumulators of one environment's running episode."""

    ticks: int = 0
    killed: bool = False
    max_dd: float = 0.0
    delta: float = 0.0
    basis: float = 0.0
    pnl: float = 0.0


def step_costs(ep: EpisodeCosts, tel: dict, dd_budget_usd: float, max_ticks: int) -> dict[str, float]:
    """This tick's share of each episode cost, and ``ep`` advanced by the tick (see the module
    docstring): the sum over an episode's ticks is its episode cost."""
    killed_now = bool(tel["kill_switch"]) and not ep.killed
    dd = max(0.0, tel["pnl_peak"] - tel["pnl_total"])
    dd_inc = max(0.0, dd - ep.max_dd)
    delta = abs(tel["dollar_delta_usd"]) / tel["delta_limit_usd"] if tel["delta_limit_usd"] > 0 else 0.0
    basis = abs(tel["basis_usd"]) / tel["basis_hard_limit_usd"]
    ep.ticks += 1
    ep.killed = ep.killed or killed_now
    ep.max_dd += dd_inc
    ep.delta += delta / max_ticks
    ep.basis += basis / max_ticks
    ep.pnl = float(tel["pnl_total"])
    return {"kill": 1.0 if killed_now else 0.0, "drawdown": dd_inc / dd_budget_usd, "delta": delta / max_ticks,
            "basis": basis / max_ticks}


def episode_cost(ep: EpisodeCosts, dd_budget_usd: float) -> dict[str, float]:
    return {"kill": 1.0 if ep.killed else 0.0, "drawdown": ep.max_dd / dd_budget_usd, "delta": ep.delta, "basis": ep.basis}


def dual_ascent(lambdas: dict[str, float], estimates: dict[str, float], targets: dict[str, float],
                lr: float) -> dict[str, float]:
    """One step of the multipliers: ``max(0, lambda + lr * (J - target) / target)`` per cost."""
    return {k: max(0.0, lambdas[k] + lr * (estimates[k] - targets[k]) / max(targets[k], 1e-6)) for k in COSTS}


def _tracker_class():
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class BudgetTracker(VecEnvWrapper):
        """Episode costs of every environment; with ``targets``, the Lagrangian reward shaping and
        the multipliers' dual ascent (:meth:`update`, called after each rollout)."""

        def __init__(self, venv, *, targets: dict[str, float] | None, dd_budget_usd: float, max_ticks: int,
                     lr: float) -> None:
            super().__init__(venv)
            self.targets = targets
            self.dd_budget_usd = dd_budget_usd
            self.max_ticks = max_ticks
            self.lr = lr
            self.lambdas = {k: 0.0 for k in COSTS}
            self.finished: list[EpisodeCosts] = []
            self._eps = [EpisodeCosts() for _ in range(venv.num_envs)]

        def reset(self):
            self._eps = [EpisodeCosts() for _ in range(self.num_envs)]
            return self.venv.reset()

        def step_wait(self):
            obs, rewards, dones, infos = self.venv.step_wait()
            rewards = np.asarray(rewards, np.float64).copy()
            for i, info in enumerate(infos):
                costs = step_costs(self._eps[i], info["telemetry"], self.dd_budget_usd, self.max_ticks)
                if self.targets is not None:
                    rewards[i] -= math.fsum(self.lambdas[k] * costs[k] for k in COSTS)
                if dones[i]:
                    self.finished.append(self._eps[i])
                    self._eps[i] = EpisodeCosts()
            return obs, rewards.astype(np.float32), dones, infos

        def update(self) -> dict:
            """Close a rollout: the estimates from the episodes that ended in it, the multipliers
            moved when constrained; returns the curve row (without the step count)."""
            eps, self.finished = self.finished, []
            row: dict = {"episodes": len(eps)}
            if eps:
                costs = [episode_cost(e, self.dd_budget_usd) for e in eps]
                est = {k: math.fsum(c[k] for c in costs) / len(costs) for k in COSTS}
                row.update({"mean_pnl": math.fsum(e.pnl for e in eps) / len(eps),
                            "kill_rate": est["kill"], "mean_max_drawdown_usd": math.fsum(e.max_dd for e in eps) / len(eps),
                            "cost": est})
                if self.targets is not None:
                    self.lambdas = dual_ascent(self.lambdas, est, self.targets, self.lr)
            row["lambdas"] = dict(self.lambdas)
            return row

    return BudgetTracker


def _setup_torch() -> None:
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


@dataclass
class TrainResult:
    model_onnx: bytes
    curve: list[dict]
    lambdas: dict[str, float]
    steps_done: int
    train_seconds: float
    env_steps_per_second: float


def make_env_fns(scenario: Scenario, config, settings: PPOSettings, randomisation: Randomisation | None,
                 weights: RewardWeights) -> list[Callable]:
    from gymnasium.wrappers import RescaleAction

    def make():
        env = ParaphinaEnv(scenario, config, max_ticks=settings.episode_ticks, weights=weights, randomisation=randomisation)
        ones = np.ones(env.action_space.shape, np.float32)
        return RescaleAction(env, -ones, ones)

    return [make for _ in range(settings.n_envs)]


def identity_normalised(n_venues: int) -> np.ndarray:
    """The identity action (uniform hedge weights) in the policy's [-1, 1] units."""
    lo, hi = (np.asarray(b, np.float64) for b in action_bounds(n_venues))
    a = np.asarray(identity_action(n_venues).to_list(), np.float64)
    return 2.0 * (a - lo) / (hi - lo) - 1.0


def train_ppo(scenario: Scenario, config, *, steps: int, seed: int, settings: PPOSettings = PPOSettings(),
              budget: Budget | None = None, randomisation: Randomisation | None = Randomisation(),
              weights: RewardWeights = RewardWeights(), progress: Callable[[int], None] | None = None) -> TrainResult:
    """Train PPO (constrained when ``budget`` is given) and return the exported ONNX policy."""
    _setup_torch()
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from paraphina.rl.export import gaussian_policy_model

    n_venues = len(scenario.venues)
    targets = cost_targets(budget, config)
    dd_budget = budget.max_dd_cvar if budget is not None else config.risk.daily_loss_limit
    venv = DummyVecEnv(make_env_fns(scenario, config, settings, randomisation, weights))
    tracker = _tracker_class()(venv, targets=targets, dd_budget_usd=dd_budget, max_ticks=settings.episode_ticks,
                               lr=settings.lagrange_lr)
    norm = VecNormalize(tracker, norm_obs=True, norm_reward=True, clip_obs=10.0, clip_reward=10.0, gamma=settings.gamma)
    model = PPO("MlpPolicy", norm, n_steps=settings.n_steps, batch_size=settings.batch_size, n_epochs=settings.n_epochs,
                learning_rate=settings.learning_rate, gamma=settings.gamma, gae_lambda=settings.gae_lambda,
                clip_range=settings.clip_range, ent_coef=settings.ent_coef, seed=seed, device="cpu", verbose=0,
                policy_kwargs={"net_arch": {"pi": list(settings.hidden), "vf": list(settings.hidden)},
                               "activation_fn": torch.nn.Tanh, "log_std_init": settings.log_std_init})
    # Start at the heuristic: the mean action is the identity knobs (the action layer's weights are
    # initialised near zero by SB3, so its bias is the initial mean).
    with torch.no_grad():
        model.policy.action_net.bias.copy_(torch.as_tensor(identity_normalised(n_venues), dtype=torch.float32))
    curve: list[dict] = []

    class Curve(BaseCallback):
        def _on_step(self) -> bool:
            if progress is not None:
                progress(settings.n_envs)
            return True

        def _on_rollout_end(self) -> None:
            curve.append({"steps": int(self.num_timesteps), **tracker.update()})

    t0 = time.perf_counter()
    model.learn(total_timesteps=steps, callback=Curve())
    seconds = time.perf_counter() - t0
    policy = model.policy
    layers = [(m.weight.detach().numpy().T.astype(np.float64), m.bias.detach().numpy().astype(np.float64))
              for m in policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)]
    head = policy.action_net
    layers.append((head.weight.detach().numpy().T.astype(np.float64), head.bias.detach().numpy().astype(np.float64)))
    lo, hi = action_bounds(n_venues)
    rms = norm.obs_rms
    std = np.sqrt(rms.var + norm.epsilon)
    doc = f"paraphina PPO policy mean (seed {seed}, {model.num_timesteps} steps, tier {budget.tier if budget else 'none'})"
    onnx_bytes = gaussian_policy_model(rms.mean, std, norm.clip_obs, layers, lo, hi, doc=doc)
    return TrainResult(model_onnx=onnx_bytes, curve=curve, lambdas=dict(tracker.lambdas), steps_done=int(model.num_timesteps),
                       train_seconds=seconds, env_steps_per_second=model.num_timesteps / seconds if seconds > 0 else 0.0)


# --- held-out evaluation ---------------------------------------------------------------------


@dataclass
class EvalRun:
    seed: int
    regime: str
    pnl: float
    max_drawdown: float
    killed: bool
    ticks: int
    actions_sha256: str


def eval_run(scenario: Scenario, config, seed: int, ticks: int, policy) -> EvalRun:
    """One run of ``ticks`` main ticks with ``policy`` (stops at a kill): PnL, max drawdown, kill,
    and the hash of its action stream."""
    run = SimRun(scenario, config, seed, steps_for(scenario, config, ticks), policy=policy, hash_actions=True)
    peak, dd, n = -math.inf, 0.0, 0
    while n < ticks and run.next_tick():
        n += 1
        total = run.engine.state.core.daily_total
        peak = max(peak, total)
        dd = max(dd, peak - total)
        if run.engine.state.core.kill_switch:
            break
    s = run.engine.summary()
    return EvalRun(seed=seed, regime=regime_of(scenario), pnl=float(s["total"]), max_drawdown=dd,
                   killed=bool(s["kill_switch"]), ticks=n, actions_sha256=run.hasher.hexdigest())


def summarise(runs: Sequence[EvalRun], alpha: float = 0.05) -> dict:
    pnl = [r.pnl for r in runs]
    n = len(runs)
    mean = math.fsum(pnl) / n
    sd = float(np.std(pnl, ddof=1)) if n > 1 else 0.0
    kills = sum(r.killed for r in runs)
    dds = [r.max_drawdown for r in runs]
    return {"runs": n, "mean_pnl": mean, "pnl_lcb": normal_lcb(mean, sd, n, alpha), "mean_max_drawdown": math.fsum(dds) / n,
            "dd_cvar": drawdown_tail_risk(dds, 1.0 - alpha).cvar, "kills": kills, "kill_rate": kills / n,
            "kill_ucb": wilson_ucb(kills, n, alpha)}


def within(s: dict, b: Budget) -> bool:
    return s["kill_ucb"] <= b.max_kill_ucb and s["dd_cvar"] <= b.max_dd_cvar and s["pnl_lcb"] >= b.min_pnl_lcb_usd


def evaluate(model_path: str, scenario: Scenario, config, *, seeds: Sequence[int], ticks: int,
             randomisation: Randomisation | None, budgets: dict[str, Budget], alpha: float,
             progress: Callable[[int], None] | None = None) -> dict:
    """The learned model against the heuristic on held-out seeds (same randomised markets)."""
    from paraphina.rl.policy import ExternalKnobPolicy, OnnxPolicy

    n_venues = len(scenario.venues)
    heur, learned = [], []
    for s in seeds:
        sc = randomised_scenario(scenario, s, steps_for(scenario, config, ticks), randomisation) if randomisation else scenario
        heur.append(eval_run(sc, config, s, ticks, ExternalKnobPolicy(n_venues)))
        learned.append(eval_run(sc, config, s, ticks, OnnxPolicy(model_path)))
        if progress is not None:
            progress(1)
    h, lr = summarise(heur, alpha), summarise(learned, alpha)
    differ = sum(a.actions_sha256 != b.actions_sha256 for a, b in zip(heur, learned))
    return {
        "seeds": list(seeds), "ticks": ticks, "alpha": alpha, "heuristic": h, "learned": lr,
        "runs_with_different_actions": differ,
        "beats_heuristic": bool(lr["mean_pnl"] > h["mean_pnl"] and lr["kill_rate"] <= h["kill_rate"]),
        "within_budget": {t: {"heuristic": within(h, b), "learned": within(lr, b)} for t, b in budgets.items()},
        "per_seed": [{"seed": a.seed, "regime": a.regime, "heuristic_pnl": a.pnl, "learned_pnl": b.pnl,
                      "heuristic_killed": a.killed, "learned_killed": b.killed,
                      "heuristic_max_drawdown": a.max_drawdown, "learned_max_drawdown": b.max_drawdown}
                     for a, b in zip(heur, learned)],
    }


# --- the command's work: train, export, evaluate, card ----------------------------------------


def write_model(out_dir: str | Path, result: TrainResult) -> str:
    """``DIR/model.onnx``; returns its sha256."""
    path = Path(out_dir) / "model.onnx"
    write_atomic(path, result.model_onnx)
    return sha256_file(str(path))


def write_card(out_dir: str | Path, card: dict) -> None:
    out = Path(out_dir)
    write_atomic(out / "model_card.json", canonical_json(card))
    write_atomic(out / "model_card.md", render_card(card))


def build_card(*, algo: str, tier: str | None, budget: Budget | None, steps: int, seed: int, settings: PPOSettings,
               scenario_name: str, randomisation: Randomisation | None, weights: RewardWeights, config,
               result: TrainResult, n_venues: int, model_sha256: str, evaluation: dict) -> dict:
    return {
        "schema_version": 1,
        "evaluation": evaluation,
        "model": {"file": "model.onnx", "sha256": model_sha256, "obs_version": OBS_VERSION, "action_version": ACTION_VERSION,
                  "n_venues": n_venues, "exported": "deterministic policy mean, clipped to [-1, 1], mapped to raw "
                  "knob units; observation normalisation (VecNormalize mean/var/clip) folded in",
                  "architecture": {"hidden": list(settings.hidden), "activation": "tanh"}},
        "training": {"algo": algo, "constrained": tier, "steps_requested": steps, "steps_done": result.steps_done,
                     "seed": seed, "settings": msgspec.to_builtins(settings), "scenario": scenario_name,
                     "randomisation": msgspec.to_builtins(randomisation) if randomisation else None,
                     "reward": {"version": REWARD_VERSION, "weights": msgspec.to_builtins(weights)},
                     "profile_config_hash": _config_hash(config)},
        "budgets_targeted": ({"tier": tier, **msgspec.to_builtins(budget), "cost_targets": cost_targets(budget, config)}
                             if budget is not None else None),
        "final_lambdas": result.lambdas,
        "training_curve": result.curve,
        "libraries": library_versions(),
        "determinism": "same seed, settings and library versions on one machine give the same model bytes "
                       "(torch: 1 thread, deterministic algorithms); not promised across CPUs or torch builds",
    }


def _config_hash(config) -> str:
    from paraphina.config import config_hash

    return config_hash(config)


def render_card(card: dict) -> str:
    t, m = card["training"], card["model"]
    lines = [f"# Model card: {t['algo'].upper()}{' constrained (' + t['constrained'] + ')' if t['constrained'] else ''}",
             "", f"- model: `{m['file']}` sha256 `{m['sha256']}`",
             f"- schemas: obs v{m['obs_version']}, action v{m['action_version']}, {m['n_venues']} venues",
             f"- exported: {m['exported']}",
             f"- training: {t['steps_done']} steps (requested {t['steps_requested']}), seed {t['seed']}, "
             f"{t['settings']['n_envs']} environments, episodes of {t['settings']['episode_ticks']} ticks, "
             f"scenario {t['scenario']}, domain randomisation {'on' if t['randomisation'] else 'off'}",
             f"- reward v{t['reward']['version']}: {json.dumps(t['reward']['weights'], sort_keys=True)}",
             f"- libraries: {', '.join(f'{k} {v}' for k, v in card['libraries'].items())}",
             f"- determinism: {card['determinism']}"]
    b = card["budgets_targeted"]
    if b:
        lines += ["", f"## Budgets targeted (tier {b['tier']})", "",
                  f"- kill UCB <= {b['max_kill_ucb']}, drawdown CVaR <= {b['max_dd_cvar']} USD, PnL LCB >= {b['min_pnl_lcb_usd']} USD",
                  f"- training cost targets: {json.dumps(b['cost_targets'], sort_keys=True)}",
                  f"- final multipliers: {json.dumps(card['final_lambdas'], sort_keys=True)}"]
    lines += ["", "## Training curve", "", "Rollouts in which episodes ended (every rollout is in `model_card.json`).", "",
              "| steps | episodes | mean PnL | kill rate | mean max DD | lambdas (kill, dd, delta, basis) |",
              "|---|---|---|---|---|---|"]
    for r in card["training_curve"]:
        if r["episodes"]:
            lam = ", ".join(f"{r['lambdas'][k]:.3g}" for k in COSTS)
            lines.append(f"| {r['steps']} | {r['episodes']} | {r['mean_pnl']:+.2f} | {r['kill_rate']:.2f} | "
                         f"{r['mean_max_drawdown_usd']:.2f} | {lam} |")
    e = card.get("evaluation")
    if e:
        lines += ["", f"## Held-out evaluation ({len(e['seeds'])} seeds from {e['seeds'][0]}, {e['ticks']} ticks)", "",
                  "| policy | runs | mean PnL | PnL LCB | mean max DD | DD CVaR | kill rate | kill UCB |",
                  "|---|---|---|---|---|---|---|---|"]
        for name in ("heuristic", "learned"):
            s = e[name]
            lines.append(f"| {name} | {s['runs']} | {s['mean_pnl']:+.2f} | {s['pnl_lcb']:+.2f} | {s['mean_max_drawdown']:.2f} | "
                         f"{s['dd_cvar']:.2f} | {s['kill_rate']:.2f} | {s['kill_ucb']:.3f} |")
        lines += ["", f"- runs whose action stream differs from the heuristic's: {e['runs_with_different_actions']} of {len(e['seeds'])}",
                  f"- beats the heuristic (higher mean PnL, kill rate not higher): {'yes' if e['beats_heuristic'] else 'no'}"]
        for tier, v in e["within_budget"].items():
            lines.append(f"- within the {tier} budget: heuristic {'yes' if v['heuristic'] else 'no'}, "
                         f"learned {'yes' if v['learned'] else 'no'}")
    return "\n".join(lines) + "\n"
