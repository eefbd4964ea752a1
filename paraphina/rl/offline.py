"""Offline RL from logs: TD3+BC (Fujimoto & Gu, 2021) in torch, exported to ONNX with a model card.

Why TD3+BC, written here: d3rlpy, the well-kept offline RL library, pins ``gymnasium==1.0.0``
(paraphina pins 1.4.0) and pulls gym, scikit-learn, scipy and h5py; TD3+BC is TD3 plus one
behaviour-cloning term and fits in this module. It is conservative by construction: the actor
maximises ``lambda * Q(s, pi(s)) - ||pi(s) - a||^2`` with ``lambda = alpha / mean|Q|``, so it
cannot drift far from the actions in the logs (``alpha`` trades return for closeness; 0 is pure BC).
The behaviour term is the MSE in ``[-1, 1]`` action units, as in the paper. The paper's
``alpha = 2.5`` lets the actor leave the data here (logged behaviours are deterministic, so the
critic extrapolates off the logged actions and the actor chases it: on teacher + heuristic logs
the behaviour MSE rose from 0.37 to 1.4 in those units); the default is 0.25.

Spaces: observations standardised with the dataset's mean and standard deviation (floored at
``SD_FLOOR``, folded into the exported first layer); actions in units of each bound's span,
``u = (a - low) / (high - low)`` in [0, 1]. The actor is ``obs -> hidden -> hidden -> sigmoid``
(so the exported model is the same MatMul/Add/Relu/Sigmoid graph as behaviour cloning, mapping
``u`` back onto the bounds); the twin critics are ``(obs, u) -> hidden -> hidden -> 1``.
TD3's pieces: target networks with Polyak ``tau``, clipped double Q, target policy smoothing
(Gaussian noise ``policy_noise`` clipped at ``noise_clip``, in ``u`` units), actor updates every
``policy_delay`` critic updates.

Determinism: one torch thread, ``torch.use_deterministic_algorithms``, network initialisation
from ``torch.manual_seed(seed)``, minibatch indices and smoothing noise from numpy Generators
seeded with ``seed``: same logs and settings, same model bytes (on one machine and torch build).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass

import numpy as np

from paraphina.errors import UserError
from paraphina.outputs import write_file
from paraphina.rl.env import REWARD_VERSION, RewardWeights
from paraphina.rl.export import mlp_model
from paraphina.rl.logdata import Transitions
from paraphina.rl.schema import ACTION_VERSION, OBS_VERSION, action_bounds, action_dim, action_names, obs_dim

SD_FLOOR = 0.1
ALGO = "td3+bc"


@dataclass(frozen=True)
class TD3BCSettings:
    steps: int = 2000
    batch: int = 256
    hidden: int = 64
    gamma: float = 0.99
    tau: float = 0.005
    alpha: float = 0.25
    lr: float = 3e-4
    policy_noise: float = 0.1
    noise_clip: float = 0.25
    policy_delay: int = 2
    seed: int = 0


def require_torch():
    try:
        import torch
    except ImportError:
        raise UserError("offline RL needs torch: pip install 'paraphina[rl]' (torch==2.13.0)") from None
    return torch


def train_td3bc(data: Transitions, n_venues: int, s: TD3BCSettings):
    """Train; returns (actor layers as numpy (W, b) with the standardisation folded in, history)."""
    torch = require_torch()
    nn = torch.nn
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(s.seed)
    lo, hi = (np.asarray(b, np.float64) for b in action_bounds(n_venues))
    x = data.obs.astype(np.float64)
    mu, sd = x.mean(axis=0), np.maximum(x.std(axis=0), SD_FLOOR)

    def t(a):
        return torch.as_tensor(np.asarray(a, np.float32))

    obs, nxt = t((x - mu) / sd), t((data.next_obs - mu) / sd)
    act = t(np.clip((data.actions - lo) / (hi - lo), 0.0, 1.0))
    rew, done = t(data.rewards).unsqueeze(1), t(data.dones).unsqueeze(1)
    od, ad = obs.shape[1], act.shape[1]

    def mlp(i, o, out_act=None):
        layers = [nn.Linear(i, s.hidden), nn.ReLU(), nn.Linear(s.hidden, s.hidden), nn.ReLU(), nn.Linear(s.hidden, o)]
        return nn.Sequential(*layers, *([out_act] if out_act is not None else []))

    actor = mlp(od, ad, nn.Sigmoid())
    q1, q2 = mlp(od + ad, 1), mlp(od + ad, 1)
    actor_t, q1_t, q2_t = (mlp(od, ad, nn.Sigmoid()), mlp(od + ad, 1), mlp(od + ad, 1))
    for tgt, src in ((actor_t, actor), (q1_t, q1), (q2_t, q2)):
        tgt.load_state_dict(src.state_dict())
    opt_a = torch.optim.Adam(actor.parameters(), lr=s.lr)
    opt_q = torch.optim.Adam([*q1.parameters(), *q2.parameters()], lr=s.lr)
    rng = np.random.Generator(np.random.PCG64(s.seed))
    n = len(obs)
    hist = {"critic_loss": [], "actor_loss": [], "bc_mse": [], "q_mean": []}
    for step in range(1, s.steps + 1):
        idx = torch.as_tensor(rng.integers(0, n, size=min(s.batch, n)))
        o, a, r, o2, d = obs[idx], act[idx], rew[idx], nxt[idx], done[idx]
        noise = t(np.clip(rng.normal(0.0, s.policy_noise, size=a.shape), -s.noise_clip, s.noise_clip))
        with torch.no_grad():
            a2 = (actor_t(o2) + noise).clamp(0.0, 1.0)
            oa2 = torch.cat([o2, a2], 1)
            target = r + s.gamma * (1.0 - d) * torch.min(q1_t(oa2), q2_t(oa2))
        oa = torch.cat([o, a], 1)
        critic_loss = ((q1(oa) - target) ** 2).mean() + ((q2(oa) - target) ** 2).mean()
        opt_q.zero_grad()
        critic_loss.backward()
        opt_q.step()
        if step % s.policy_delay == 0:
            pi = actor(o)
            q = q1(torch.cat([o, pi], 1))
            lam = s.alpha / q.abs().mean().detach().clamp_min(1e-6)
            bc = 4.0 * ((pi - a) ** 2).mean()   # the MSE in [-1, 1] units, as the paper's alpha assumes
            actor_loss = -lam * q.mean() + bc
            opt_a.zero_grad()
            actor_loss.backward()
            opt_a.step()
            with torch.no_grad():
                for tgt, src in ((actor_t, actor), (q1_t, q1), (q2_t, q2)):
                    for pt, ps in zip(tgt.parameters(), src.parameters()):
                        pt.mul_(1.0 - s.tau).add_(s.tau * ps)
            hist["actor_loss"].append(float(actor_loss.detach()))
            hist["bc_mse"].append(float(bc.detach()))
            hist["q_mean"].append(float(q.mean().detach()))
        hist["critic_loss"].append(float(critic_loss.detach()))
    lins = [m for m in actor if isinstance(m, nn.Linear)]
    layers = [(m.weight.detach().numpy().T.astype(np.float64), m.bias.detach().numpy().astype(np.float64)) for m in lins]
    w1, b1 = layers[0]
    layers[0] = (w1 / sd[:, None], b1 - (mu / sd) @ w1)   # ((x - mu) / sd) @ W1 + b1
    with torch.no_grad():
        pa = actor(obs)
        qd = q1(torch.cat([obs, act], 1)).mean()
        qp = q1(torch.cat([obs, pa], 1)).mean()
    hist["q_data_mean"] = float(qd)
    hist["q_policy_mean"] = float(qp)
    return layers, hist


def offline_rl(out_dir: str, data: Transitions, settings: TD3BCSettings, *, progress=None) -> dict:
    """Train, export ``model.onnx``, write ``dataset.npz`` and the model card; returns the card."""
    say = progress or (lambda msg: None)
    n_venues = (data.actions.shape[1] - 1) // 4
    if data.obs.shape[1] != obs_dim(n_venues):
        raise UserError(f"observations have {data.obs.shape[1]} values, schema v{OBS_VERSION} with {n_venues} venues "
                        f"has {obs_dim(n_venues)}")
    os.makedirs(out_dir, exist_ok=True)
    np.savez(os.path.join(out_dir, "dataset.npz"), observations=data.obs, actions=data.actions, rewards=data.rewards,
             next_observations=data.next_obs, dones=data.dones, episode_index=data.episode)
    say(f"training {ALGO} on {len(data)} transitions, {settings.steps} steps")
    layers, hist = train_td3bc(data, n_venues, settings)
    lo, hi = action_bounds(n_venues)
    blob = mlp_model(layers, lo, hi, doc=f"paraphina offline RL ({ALGO}); obs v{OBS_VERSION}, action v{ACTION_VERSION}")
    model_path = os.path.join(out_dir, "model.onnx")
    write_file(model_path, blob)
    from paraphina.rl.bc import action_error, shielded_predictions
    from paraphina.rl.policy import OnnxPolicy

    pred = shielded_predictions(OnnxPolicy(model_path), data.obs.astype(np.float64), n_venues)
    labels = data.actions.astype(np.float64)
    fallbacks = int(np.isnan(pred).any(axis=1).sum())
    per_policy = {}
    for src_i, src in enumerate(data.sources):
        mask = data.episode == src_i
        if mask.any():
            per_policy.setdefault(src["policy"], []).append(float(data.rewards[mask].sum()))
    card = {
        "kind": "offline-rl",
        "model": {"file": "model.onnx", "sha256": hashlib.sha256(blob).hexdigest(), "format": "onnx",
                  "architecture": f"MLP {obs_dim(n_venues)}-{settings.hidden}-{settings.hidden}-{action_dim(n_venues)} "
                                  "relu/sigmoid (TD3+BC actor)",
                  "obs_version": OBS_VERSION, "action_version": ACTION_VERSION, "n_venues": n_venues,
                  "action_names": action_names(n_venues)},
        "data": {"file": "dataset.npz", "logs": data.sources, "transitions": len(data),
                 "train_seeds": sorted({s["seed"] for s in data.sources if isinstance(s.get("seed"), int)}),
                 "behaviour_policies": sorted({s["policy"] for s in data.sources}),
                 "return_per_log_by_policy": {k: v for k, v in sorted(per_policy.items())},
                 "reward": "reward v1 from the tick model, turnover term 0 (paraphina.rl.logdata)"},
        "training": {"algo": ALGO, **asdict(settings), "torch": require_torch().__version__,
                     "final_critic_loss": hist["critic_loss"][-1],
                     "final_bc_mse": hist["bc_mse"][-1] if hist["bc_mse"] else None,
                     "q_data_mean": hist["q_data_mean"], "q_policy_mean": hist["q_policy_mean"]},
        "reward": {"reward_version": REWARD_VERSION, "weights": _weights()},
        "evaluation": {"action_error_vs_data": action_error(np.nan_to_num(pred, nan=0.0), labels, n_venues),
                       "invalid_outputs": fallbacks,
                       "note": "gate with paraphina rl eval MODEL --tier T (held-out Monte Carlo, stress suites, shadow)"},
    }
    write_file(os.path.join(out_dir, "model_card.json"), json.dumps(card, indent=2, sort_keys=True))
    write_file(os.path.join(out_dir, "model_card.md"), render_card(card))
    return card


def _weights() -> dict:
    import msgspec

    return msgspec.to_builtins(RewardWeights())


def render_card(card: dict) -> str:
    m, d, t, e = card["model"], card["data"], card["training"], card["evaluation"]
    lines = [
        "# Model card: offline RL (TD3+BC) from logs", "",
        f"- model: `{m['file']}` sha256 `{m['sha256']}` ({m['architecture']})",
        f"- schemas: observation v{m['obs_version']}, action v{m['action_version']}, {m['n_venues']} venues",
        "", "## Data", "",
        f"- {len(d['logs'])} logs, {d['transitions']} transitions; behaviour policies {', '.join(d['behaviour_policies'])}",
        *[f"  - `{s['path']}` ({s['policy']}, seed {s['seed']}, {s['transitions']} transitions, sha256 {s['sha256'][:16]})"
          for s in d["logs"]],
        f"- reward: {d['reward']}",
        "", "## Training", "",
        f"- {t['algo']}: {t['steps']} steps, batch {t['batch']}, hidden {t['hidden']}, alpha {t['alpha']}, gamma "
        f"{t['gamma']}, lr {t['lr']}, seed {t['seed']}, torch {t['torch']}",
        f"- final critic loss {t['final_critic_loss']:.6f}, behaviour MSE (span units) {t['final_bc_mse']}; mean Q "
        f"on logged actions {t['q_data_mean']:.4f}, on the policy's {t['q_policy_mean']:.4f}",
        "", "## Evaluation", "",
        f"- action error against the logged actions: {e['action_error_vs_data']:.4f} (span units); invalid outputs "
        f"{e['invalid_outputs']}",
        f"- {e['note']}", "",
    ]
    return "\n".join(lines)


def settings_record(settings: TD3BCSettings) -> dict:
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in asdict(settings).items()}
