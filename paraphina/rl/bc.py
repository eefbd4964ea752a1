"""Behaviour cloning of a teacher whose knobs vary: dataset, a tiny numpy MLP, ONNX export, model card.

The teacher (:mod:`paraphina.rl.teacher`) turns the heuristic's knobs with volatility, toxicity
and inventory as a function of the observation vector (the heuristic itself would be the
identity action: a constant, nothing to learn). The dataset pairs each main tick's observation
with the teacher's shielded action, over simulated runs of the teacher on the scenarios with
training seeds; the evaluation runs held-out seeds with the heuristic, the teacher and the
exported model behind :class:`OnnxPolicy`.

The MLP (``obs -> hidden -> hidden -> action``, Relu, Sigmoid output mapped onto each action
bound widened by ``MARGIN`` of its span, so the bounds themselves are reachable; the shield clips
the rest) is trained in float64 numpy with a seeded Generator and full-batch Adam on the MSE of
bound-normalised actions; input standardisation is folded into the first layer. Everything is
deterministic: same settings, same model bytes.

Action error: the mean absolute error, in units of each dimension's bound span (so every
dimension weighs the same, 0 = exact, 1 = opposite bounds), between the shielded model action and
the label, on the held-out seeds. The pass rule (:func:`bc_verdict`) requires the model's
held-out error to be at most ``CONSTANT_MARGIN`` times a constant predictor's (the training
labels' mean), so a model that learned constant knobs fails, and a held-out kill rate not above
the heuristic's.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from paraphina.outputs import write_file
from paraphina.rl.env import REWARD_VERSION, RewardWeights, SimRun, scenario_env_config, steps_for
from paraphina.rl.export import mlp_model
from paraphina.rl.knobs import heuristic_hedge_weights
from paraphina.rl.policy import KnobPolicy, OnnxPolicy
from paraphina.rl.teacher import TEACHER_VERSION, TeacherPolicy
from paraphina.rl.schema import (
    ACTION_VERSION,
    OBS_VERSION,
    action_bounds,
    action_dim,
    action_names,
    clip_action,
    identity_action,
    obs_dim,
    observation,
)
from paraphina.sim.scenario import Scenario
from paraphina.strategy import model as strategy

DATASET_VERSION = 2
# A model must cut the constant predictor's held-out action error at least in half.
CONSTANT_MARGIN = 0.5
MARGIN = 0.05
SD_FLOOR = 0.1


class RecordingPolicy(KnobPolicy):
    """The plain heuristic that records (observation, identity label) on every main tick."""

    name = "bc-recorder"

    def __init__(self) -> None:
        super().__init__()
        self.obs: list[np.ndarray] = []
        self.labels: list[list[float]] = []

    def knobs(self, ctx):
        n = len(ctx.venue_inputs)
        self.obs.append(observation(ctx.model, ctx.venue_inputs, ctx.config))
        hedges = strategy.hedge(ctx.model, ctx.config, ctx.venue_inputs)
        self.labels.append(identity_action(n, heuristic_hedge_weights(hedges, n)).to_list())
        return None  # the heuristic itself


@dataclass
class RunStats:
    seed: int
    pnl: float
    killed: bool
    ticks: int


def run_policy(scenario: Scenario, config, seed: int, ticks: int, policy) -> RunStats:
    """One simulated run of ``ticks`` main ticks with ``policy``; stops at a kill."""
    run = SimRun(scenario, config, seed, steps_for(scenario, config, ticks), policy=policy)
    n = 0
    while n < ticks and run.next_tick():
        n += 1
        if run.engine.state.core.kill_switch:
            break
    s = run.engine.summary()
    return RunStats(seed=seed, pnl=float(s["total"]), killed=bool(s["kill_switch"]), ticks=n)


def collect(scenarios: Sequence[Scenario], configs: Sequence, seeds: Sequence[int], ticks: int):
    """Teacher runs: (observations [N, obs_dim], teacher actions [N, action_dim], episode index [N], stats)."""
    obs, labels, episode, stats = [], [], [], []
    for sc, cfg in zip(scenarios, configs):
        for seed in seeds:
            rec = TeacherPolicy(record=True)
            stats.append(run_policy(sc, cfg, seed, ticks, rec))
            obs += rec.obs
            labels += rec.labels
            episode += [len(stats) - 1] * len(rec.obs)
    return (np.asarray(obs, np.float64), np.asarray(labels, np.float64), np.asarray(episode, np.int64), stats)


def widened_bounds(n_venues: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = (np.asarray(b, np.float64) for b in action_bounds(n_venues))
    span = hi - lo
    return lo - MARGIN * span, hi + MARGIN * span


def train_mlp(x: np.ndarray, y: np.ndarray, n_venues: int, *, hidden: int = 32, epochs: int = 400, lr: float = 0.01,
              seed: int = 0, weight_decay: float = 1e-5) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[float]]:
    """Train; returns the layers (standardisation folded into the first) and the loss curve."""
    lo, hi = widened_bounds(n_venues)
    t = np.clip((y - lo) / (hi - lo), 1e-4, 1 - 1e-4)
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    # Observations are already scaled to O(1) (schema): a floor on the spread keeps a feature
    # that barely moved in training from exploding on held-out data.
    sd = np.maximum(sd, SD_FLOOR)
    xs = (x - mu) / sd
    rng = np.random.Generator(np.random.PCG64(seed))
    dims = [x.shape[1], hidden, hidden, y.shape[1]]
    params = []
    for a, b in zip(dims[:-1], dims[1:]):
        params += [rng.normal(0.0, math.sqrt(2.0 / a), (a, b)), np.zeros(b)]
    # Output bias starts at the labels' mean (as logits), so constant knobs are learned at once.
    tm = t.mean(axis=0)
    params[-1] = np.log(tm / (1.0 - tm))
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    losses = []
    n = len(xs)
    for ep in range(1, epochs + 1):
        w1, b1, w2, b2, w3, b3 = params
        z1 = xs @ w1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ w2 + b2
        h2 = np.maximum(z2, 0)
        z3 = h2 @ w3 + b3
        out = 1.0 / (1.0 + np.exp(-z3))
        err = out - t
        losses.append(float(np.mean(err ** 2)))
        g3 = 2.0 * err * out * (1 - out) / (n * y.shape[1])
        gw3, gb3 = h2.T @ g3, g3.sum(0)
        g2 = (g3 @ w3.T) * (z2 > 0)
        gw2, gb2 = h1.T @ g2, g2.sum(0)
        g1 = (g2 @ w2.T) * (z1 > 0)
        gw1, gb1 = xs.T @ g1, g1.sum(0)
        for i, g in enumerate([gw1, gb1, gw2, gb2, gw3, gb3]):
            if i % 2 == 0:
                g = g + weight_decay * params[i]
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            params[i] = params[i] - lr * (m[i] / (1 - 0.9 ** ep)) / (np.sqrt(v[i] / (1 - 0.999 ** ep)) + 1e-8)
    w1, b1, w2, b2, w3, b3 = params
    # Fold the standardisation into the first layer: ((x - mu) / sd) @ w1 + b1.
    w1f = w1 / sd[:, None]
    b1f = b1 - (mu / sd) @ w1
    return [(w1f, b1f), (w2, b2), (w3, b3)], losses


def action_error(pred: np.ndarray, labels: np.ndarray, n_venues: int) -> float:
    """Mean absolute error in units of each dimension's bound span (module docstring)."""
    lo, hi = (np.asarray(b, np.float64) for b in action_bounds(n_venues))
    return float(np.mean(np.abs(pred - labels) / (hi - lo)))


def constant_error(train_labels: np.ndarray, labels: np.ndarray, n_venues: int) -> float:
    """The action error of predicting the training labels' mean everywhere."""
    return action_error(np.broadcast_to(train_labels.mean(axis=0), labels.shape), labels, n_venues)


def bc_verdict(heldout_error: float, constant_error: float, kill_rate: float, heuristic_kill_rate: float) -> dict:
    """The pass rule: held-out error <= CONSTANT_MARGIN x the constant predictor's (so constant
    knobs fail; a NaN error fails) and a kill rate not above the heuristic's. The reasons name
    each failed check."""
    reasons = []
    bar = CONSTANT_MARGIN * constant_error
    if not (heldout_error <= bar):
        reasons.append(f"held-out action error {heldout_error:.4f} > {CONSTANT_MARGIN} x constant predictor's "
                       f"{constant_error:.4f} = {bar:.4f}")
    if not (kill_rate <= heuristic_kill_rate):
        reasons.append(f"kill rate {kill_rate:.2f} above the heuristic's {heuristic_kill_rate:.2f}")
    return {"passed": not reasons, "reasons": reasons, "error_bar": bar}


def shielded_predictions(policy: OnnxPolicy, obs: np.ndarray, n_venues: int) -> np.ndarray:
    out = []
    for o in obs:
        a = clip_action(policy.infer(o.astype(np.float32)), n_venues)
        out.append(a.to_list() if a is not None else [math.nan] * action_dim(n_venues))
    return np.asarray(out, np.float64)


def behaviour_clone(out_dir: str, *, seeds: int = 8, holdout: int = 4, ticks: int = 300, hidden: int = 32,
                    epochs: int = 400, scenarios: Sequence[Scenario] | None = None, scenario_names: Sequence[str] = (),
                    train_seed: int = 0, progress=None) -> dict:
    """The whole path: dataset, training, ONNX export, evaluation, model card. Returns the card."""
    say = progress or (lambda msg: None)
    scenarios = list(scenarios) if scenarios else [Scenario(scenario_id="default")]
    configs = [scenario_env_config(sc) for sc in scenarios]
    n_venues = len(scenarios[0].venues)
    if any(len(sc.venues) != n_venues for sc in scenarios):
        from paraphina.errors import UserError

        raise UserError("behaviour cloning needs scenarios with the same number of venues")
    os.makedirs(out_dir, exist_ok=True)
    train_seeds = list(range(1, seeds + 1))
    test_seeds = list(range(1001, 1001 + holdout))
    say(f"dataset: {len(scenarios)} scenario(s) x {len(train_seeds)} seeds x {ticks} ticks")
    x, y, episode, train_stats = collect(scenarios, configs, train_seeds, ticks)
    np.savez(os.path.join(out_dir, "dataset.npz"), observations=x.astype(np.float32), actions=y.astype(np.float32),
             episode_index=episode)
    say(f"training on {len(x)} transitions")
    layers, losses = train_mlp(x, y, n_venues, hidden=hidden, epochs=epochs, seed=train_seed)
    lo, hi = widened_bounds(n_venues)
    model_path = os.path.join(out_dir, "model.onnx")
    blob = mlp_model(layers, lo.tolist(), hi.tolist(),
                     doc=f"paraphina behaviour clone of the rl-teacher v{TEACHER_VERSION}; obs v{OBS_VERSION}, action v{ACTION_VERSION}")
    write_file(model_path, blob)
    say("evaluating on held-out seeds")
    policy = OnnxPolicy(model_path)
    train_err = action_error(shielded_predictions(policy, x, n_venues), y, n_venues)
    xt, yt, _, _ = collect(scenarios, configs, test_seeds, ticks)
    test_err = action_error(shielded_predictions(policy, xt, n_venues), yt, n_venues)
    # What predicting the training labels' mean everywhere scores: the bar a model must beat to
    # have learned anything beyond the constant knobs.
    const_err = constant_error(y, yt, n_venues)
    heur, teacher, learned = [], [], []
    fallbacks: dict[str, int] = {}
    for sc, cfg in zip(scenarios, configs):
        for s in test_seeds:
            heur.append(run_policy(sc, cfg, s, ticks, RecordingPolicy()))
            teacher.append(run_policy(sc, cfg, s, ticks, TeacherPolicy()))
            onnx_policy = OnnxPolicy(model_path)
            learned.append(run_policy(sc, cfg, s, ticks, onnx_policy))
            for k, c in onnx_policy.counters.items():
                fallbacks[k] = fallbacks.get(k, 0) + c

    def agg(rs: list[RunStats]) -> dict:
        return {"mean_pnl": math.fsum(r.pnl for r in rs) / len(rs), "kill_rate": sum(r.killed for r in rs) / len(rs),
                "runs": len(rs)}

    verdict = bc_verdict(test_err, const_err, agg(learned)["kill_rate"], agg(heur)["kill_rate"])
    card = {
        "kind": "bc",
        "model": {"file": "model.onnx", "sha256": hashlib.sha256(blob).hexdigest(), "format": "onnx",
                  "architecture": f"MLP {obs_dim(n_venues)}-{hidden}-{hidden}-{action_dim(n_venues)} relu/sigmoid",
                  "obs_version": OBS_VERSION, "action_version": ACTION_VERSION, "n_venues": n_venues,
                  "action_names": action_names(n_venues)},
        "data": {"dataset_version": DATASET_VERSION, "file": "dataset.npz", "scenarios": list(scenario_names) or
                 [sc.scenario_id for sc in scenarios], "train_seeds": train_seeds, "transitions": int(len(x)),
                 "ticks_per_run": ticks, "teacher": f"rl-teacher v{TEACHER_VERSION}",
                 "label": "the teacher's shielded knobs (paraphina.rl.teacher); hedge weights = heuristic allocation shares",
                 "label_dims_varying": int(np.sum(y.std(axis=0) > 1e-9)),
                 "label_dims": int(y.shape[1])},
        "training": {"epochs": epochs, "hidden": hidden, "optimizer": "adam lr 0.01 full batch", "seed": train_seed,
                     "final_loss": losses[-1] if losses else None},
        "reward": {"reward_version": REWARD_VERSION, "weights": _struct_dict(RewardWeights())},
        "evaluation": {"heldout_seeds": test_seeds, "action_error_train": train_err, "action_error_heldout": test_err,
                       "action_error_heldout_constant_baseline": const_err,
                       "constant_margin": CONSTANT_MARGIN,
                       "heuristic": agg(heur), "teacher": agg(teacher), "learned": agg(learned),
                       "fallbacks_learned": dict(sorted(fallbacks.items())),
                       **verdict},
    }
    write_file(os.path.join(out_dir, "model_card.json"), json.dumps(card, indent=2, sort_keys=True))
    write_file(os.path.join(out_dir, "model_card.md"), render_card(card))
    return card


def _struct_dict(s) -> dict:
    import msgspec

    return msgspec.to_builtins(s)


def render_card(card: dict) -> str:
    m, d, t, e = card["model"], card["data"], card["training"], card["evaluation"]
    rows = [(name, e[name]) for name in ("heuristic", "teacher", "learned")]
    lines = [
        "# Model card: behaviour clone of the rl-teacher", "",
        f"- model: `{m['file']}` sha256 `{m['sha256']}` ({m['architecture']})",
        f"- schemas: observation v{m['obs_version']}, action v{m['action_version']}, {m['n_venues']} venues",
        "", "## Data", "",
        f"- scenarios: {', '.join(d['scenarios'])}; training seeds {d['train_seeds'][0]}..{d['train_seeds'][-1]}; "
        f"{d['ticks_per_run']} main ticks per run; {d['transitions']} transitions (dataset v{d['dataset_version']})",
        f"- label: {d['label']}; {d['label_dims_varying']} of {d['label_dims']} label dimensions vary",
        "", "## Training", "",
        f"- {t['optimizer']}, {t['epochs']} epochs, seed {t['seed']}, final loss {t['final_loss']:.6f}",
        "", "## Reward (used by the environment; behaviour cloning does not optimise it)", "",
        f"- reward v{card['reward']['reward_version']}: " + ", ".join(f"{k}={v}" for k, v in card["reward"]["weights"].items()),
        "", "## Evaluation (held-out seeds " + ", ".join(str(s) for s in e["heldout_seeds"]) + ")", "",
        f"- action error (mean |error| / bound span): train {e['action_error_train']:.4f}, held-out "
        f"{e['action_error_heldout']:.4f}; a constant predictor (the training labels' mean) scores "
        f"{e['action_error_heldout_constant_baseline']:.4f} held-out; the bar is {e['constant_margin']} x that = "
        f"{e['error_bar']:.4f}",
        f"- learned-policy fallbacks on held-out runs: {e['fallbacks_learned'] or 'none'}",
        "", "| policy | runs | mean PnL (USD) | kill rate |", "|---|---|---|---|",
        *[f"| {name} | {r['runs']} | {r['mean_pnl']:+.2f} | {r['kill_rate']:.2f} |" for name, r in rows],
        "", f"- passed (error at most {e['constant_margin']} x the constant predictor's, kill rate not above the "
        f"heuristic's): {'yes' if e['passed'] else 'no'}",
        *[f"  - {r}" for r in e["reasons"]], "",
    ]
    return "\n".join(lines)
