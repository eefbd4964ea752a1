"""Transitions from the project's own logs: (observation, knob action, reward, next observation, done).

A log holds market events, fills and the session metadata, not the knobs its policy turned. The
knobs are recovered by replaying the log (:func:`paraphina.replay.replay_log`, which reproduces
the run's actions byte for byte) with the policy that wrote it, wrapped to record each main
tick's observation, its shielded knob action and a reward record:

- ``heuristic``: the identity action with the heuristic's hedge shares (its knobs never move);
- ``rl-teacher``: the teacher's knobs (:mod:`paraphina.rl.teacher`);
- ``onnx``: the model's knobs, given the model file whose SHA-256 the log's session names
  (``--behaviour-model``); a tick where it fell back records the identity action.

Any other policy is refused (one line naming the log): its orders are not knob settings.

Reward: the environment's reward v1 (:func:`paraphina.rl.env.reward_components`) recomputed
from the tick model of consecutive main ticks (daily PnL, drawdown from the running peak, basis,
delta, toxicity, kill) with the turnover term at 0, since the tick model does not carry traded
notional. The last main tick of a log ends its episode: its transition is terminal only when the
kill switch latched there (else it is dropped: nothing says what came after).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from paraphina.errors import UserError
from paraphina.rl.env import RewardWeights, reward_components
from paraphina.rl.knobs import heuristic_hedge_weights
from paraphina.rl.policy import KnobPolicy, OnnxPolicy
from paraphina.rl.schema import KnobAction, identity_action, observation_list
from paraphina.rl.teacher import teacher_action
from paraphina.strategy import model as strategy

BEHAVIOURS = ("heuristic", "rl-teacher", "onnx")


def tick_record(ctx, peak: float) -> dict:
    """What reward v1 needs from one main tick (``traded_notional_usd`` 0: see the module docstring)."""
    m, risk = ctx.model, ctx.config.risk
    tox = list(m.toxicity)
    return {"pnl_total": m.pnl_daily, "pnl_peak": max(peak, m.pnl_daily), "kill_switch": m.kill_switch,
            "daily_loss_limit": risk.daily_loss_limit, "basis_usd": m.basis_usd,
            "basis_hard_limit_usd": risk.basis_hard_limit_usd, "dollar_delta_usd": m.delta_usd,
            "delta_limit_usd": m.delta_limit_usd, "toxicity_mean": math.fsum(tox) / len(tox) if tox else 0.0,
            "traded_notional_usd": 0.0}


class RecordingBehaviour(KnobPolicy):
    """The log's own policy, recording (observation, action, reward record) on every main tick."""

    name = "offline-recorder"

    def __init__(self, behaviour: str, model_path: str | None = None) -> None:
        super().__init__()
        self.behaviour = behaviour
        self.model = OnnxPolicy(model_path) if behaviour == "onnx" else None
        self.obs: list[list[float]] = []
        self.actions: list[list[float]] = []
        self.records: list[dict] = []

    def knobs(self, ctx) -> KnobAction | None:
        n = len(ctx.venue_inputs)
        obs = observation_list(ctx.model, ctx.venue_inputs, ctx.config)
        applied: KnobAction | None
        if self.behaviour == "rl-teacher":
            _, applied = teacher_action(ctx)
        elif self.behaviour == "onnx":
            applied = self.model.knobs(ctx)
        else:
            applied = None
        label = applied if applied is not None else identity_action(
            n, heuristic_hedge_weights(strategy.hedge(ctx.model, ctx.config, ctx.venue_inputs), n))
        peak = self.records[-1]["pnl_peak"] if self.records else -math.inf
        self.obs.append(obs)
        self.actions.append(label.to_list())
        self.records.append(tick_record(ctx, peak))
        return applied


@dataclass
class Transitions:
    obs: np.ndarray          # [N, obs_dim] float32
    actions: np.ndarray      # [N, action_dim] float32, raw units
    rewards: np.ndarray      # [N] float32
    next_obs: np.ndarray     # [N, obs_dim] float32
    dones: np.ndarray        # [N] float32 (1: the episode ended in a kill)
    episode: np.ndarray      # [N] int64, index into ``sources``
    sources: list[dict]      # per log: path, sha256, policy, seed, transitions

    def __len__(self) -> int:
        return len(self.obs)


def behaviour_of(path: str, session: dict, models: dict[str, str]) -> tuple[str, str | None]:
    """(behaviour policy, model path or None) for a log, from its session metadata."""
    policy = session.get("policy")
    if policy in ("heuristic", "rl-teacher"):
        return policy, None
    if policy == "onnx":
        version = str((session.get("policy_plugin") or {}).get("onnx", ""))
        for sha, model in models.items():
            if f"sha256.{sha}." in version:
                return "onnx", model
        raise UserError(f"{path}: written by an ONNX model (plugin {version or 'unknown'}); pass that model with "
                        "--behaviour-model FILE")
    raise UserError(f"{path}: written by policy {policy!r}, whose orders are not knob settings "
                    f"(offline RL learns from {', '.join(BEHAVIOURS)} logs)")


def log_transitions(paths: Sequence[str], config_for, models: dict[str, str],
                    weights: RewardWeights | None = None, progress=None) -> Transitions:
    """Replay each log with its recording behaviour and build transitions (module docstring).
    ``config_for(path)`` is the config a log replays with; ``models`` maps sha256 to model files."""
    from paraphina.digest import sha256_file
    from paraphina.eventlog import read_info
    from paraphina.replay import replay_log

    w = weights or RewardWeights()
    cols: dict[str, list] = {k: [] for k in ("obs", "actions", "rewards", "next_obs", "dones", "episode")}
    sources = []
    n_venues = None
    for i, path in enumerate(paths):
        if progress:
            progress(f"replaying {path}")
        info = read_info(path)
        if n_venues is None:
            n_venues = len(info.instruments)
        elif len(info.instruments) != n_venues:
            raise UserError(f"{path}: {len(info.instruments)} venues, the first log has {n_venues}; "
                            "one model serves one venue count")
        behaviour, model = behaviour_of(path, info.session, models)
        rec = RecordingBehaviour(behaviour, model)
        replay_log(path, rec, config_for(path))
        count = 0
        for t in range(len(rec.obs) - 1):
            killed = bool(rec.records[t + 1]["kill_switch"])
            cols["obs"].append(rec.obs[t])
            cols["actions"].append(rec.actions[t])
            cols["rewards"].append(math.fsum(reward_components(rec.records[t], rec.records[t + 1], w).values()))
            cols["next_obs"].append(rec.obs[t + 1])
            cols["dones"].append(1.0 if killed else 0.0)
            cols["episode"].append(i)
            count += 1
            if killed:
                break
        sources.append({"path": path, "sha256": sha256_file(path), "policy": behaviour,
                        "seed": info.session.get("seed"), "transitions": count})
    if not cols["obs"]:
        raise UserError("the logs hold no main-tick transitions to learn from (each needs at least two main ticks)")
    f32 = np.float32
    return Transitions(obs=np.asarray(cols["obs"], f32), actions=np.asarray(cols["actions"], f32),
                       rewards=np.asarray(cols["rewards"], f32), next_obs=np.asarray(cols["next_obs"], f32),
                       dones=np.asarray(cols["dones"], f32), episode=np.asarray(cols["episode"], np.int64),
                       sources=sources)
