"""Constrained PPO against plain PPO under a tight kill budget, in a setting where kills happen.

Runs ``paraphina rl train`` twice with the same seed, step budget and settings, on the kill-prone
config ``batch_runs/rl/kill_prone.toml`` (the btc preset with a 5 USD daily loss limit): once plain,
once ``--constrained killtight`` (``batch_runs/rl/kill_budget.yaml``: kill UCB <= 0.05, drawdown
and PnL bounds that do not bind). Each run's held-out evaluation runs the heuristic and the model
on the same held-out seeds (``2**31 + k``, each its randomised market), so the table compares the
three on the same markets. Writes ``OUT/study.json`` and ``OUT/study.md`` (the table and the kill
multiplier's trajectory); the two models are in ``OUT/plain`` and ``OUT/constrained``.

    python -m batch_runs.rl.constrained_study [-o runs/rl/constrained_study] [--steps 40000] [--seed 1]
        [--holdout 200] [--tier killtight|killreach] [--smoke] [--force]

``--smoke``: a tiny run of the same path (a few hundred steps, short episodes, 2 held-out seeds)
that checks the plumbing, not the result. Docs: docs/rl.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "kill_prone.toml"
BUDGETS = HERE / "kill_budget.yaml"
TIER = "killtight"
FULL = {"steps": 40_000, "envs": 8, "ticks": 150, "holdout": 200, "n_steps": 128}
SMOKE = {"steps": 256, "envs": 2, "ticks": 20, "holdout": 2, "n_steps": 64}


def train_args(out: Path, name: str, p: dict, seed: int, force: bool, tier: str = TIER) -> list[str]:
    args = ["rl", "train", "--algo", "ppo", "--steps", str(p["steps"]), "--seed", str(seed), "--envs", str(p["envs"]),
            "--ticks", str(p["ticks"]), "--n-steps", str(p["n_steps"]), "--holdout", str(p["holdout"]),
            "--config", str(CONFIG), "--budgets", str(BUDGETS), "-q", "-o", str(out / name)]
    if name == "constrained":
        args += ["--constrained", tier]
    return args + (["--force"] if force else [])


def run_cli(args: list[str]) -> None:
    """One ``paraphina`` command in its own process (the CLI's own checks and provenance apply)."""
    cmd = [sys.executable, "-m", "paraphina", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"constrained_study: `paraphina {' '.join(args)}` failed (exit {done.returncode}): "
                         f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}")


def row(s: dict) -> dict:
    keys = ("runs", "mean_pnl", "pnl_lcb", "mean_max_drawdown", "dd_cvar", "kill_rate", "kill_ucb")
    return {k: s[k] for k in keys}


def summarise(out: Path, tier: str = TIER) -> dict:
    cards = {n: json.loads((out / n / "model_card.json").read_text()) for n in ("plain", "constrained")}
    timing = {n: json.loads((out / n / "timing.json").read_text()) for n in cards}
    ev = {n: c["evaluation"] for n, c in cards.items()}
    # Both runs evaluate the heuristic on the same held-out markets: the same numbers, or the study is broken.
    if row(ev["plain"]["heuristic"]) != row(ev["constrained"]["heuristic"]):
        raise SystemExit("constrained_study: the two runs' heuristic evaluations differ (not the same held-out markets)")
    curve = [{"steps": r["steps"], "episodes": r["episodes"], "kill_rate": r["kill_rate"], "lambda_kill": r["lambdas"]["kill"]}
             for r in cards["constrained"]["training_curve"] if r["episodes"]]
    plain_curve = [{"steps": r["steps"], "episodes": r["episodes"], "kill_rate": r["kill_rate"]}
                   for r in cards["plain"]["training_curve"] if r["episodes"]]
    return {
        "setting": {"config": CONFIG.name, "budgets": BUDGETS.name, "tier": tier,
                    "max_kill_ucb": cards["constrained"]["budgets_targeted"]["max_kill_ucb"], **cards["plain"]["training"]["settings"],
                    "steps": cards["plain"]["training"]["steps_done"], "seed": cards["plain"]["training"]["seed"],
                    "holdout_seeds": [ev["plain"]["seeds"][0], ev["plain"]["seeds"][-1]]},
        "table": {"heuristic": row(ev["plain"]["heuristic"]), "ppo": row(ev["plain"]["learned"]),
                  "ppo_constrained": row(ev["constrained"]["learned"])},
        "within_budget": {"heuristic": ev["plain"]["within_budget"][tier]["heuristic"],
                          "ppo": ev["plain"]["within_budget"][tier]["learned"],
                          "ppo_constrained": ev["constrained"]["within_budget"][tier]["learned"]},
        "final_lambdas": cards["constrained"]["final_lambdas"],
        "lambda_trajectory": curve,
        "plain_training_kill_rate": plain_curve,
        "timing": timing,
    }


def render(s: dict) -> str:
    st = s["setting"]
    lines = [f"# Constrained PPO vs plain PPO under a kill budget ({st['tier']}: kill UCB <= {st['max_kill_ucb']})", "",
             f"{st['steps']} steps, seed {st['seed']}, {st['n_envs']} environments, {st['episode_ticks']}-tick episodes, "
             f"config {st['config']}; held-out seeds {st['holdout_seeds'][0]} .. {st['holdout_seeds'][1]}", "",
             "| policy | runs | mean PnL | PnL LCB | mean max DD | DD CVaR | kill rate | kill UCB | within budget |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in s["table"].items():
        lines.append(f"| {name} | {r['runs']} | {r['mean_pnl']:+.2f} | {r['pnl_lcb']:+.2f} | {r['mean_max_drawdown']:.2f} | "
                     f"{r['dd_cvar']:.2f} | {r['kill_rate']:.3f} | {r['kill_ucb']:.3f} | "
                     f"{'yes' if s['within_budget'][name] else 'no'} |")
    lines += ["", "Kill multiplier (constrained run), per rollout in which episodes ended:", "",
              "| steps | episodes | training kill rate | lambda_kill |", "|---|---|---|---|"]
    lines += [f"| {r['steps']} | {r['episodes']} | {r['kill_rate']:.2f} | {r['lambda_kill']:.3g} |" for r in s["lambda_trajectory"]]
    t = s["timing"]
    lines += ["", f"Training seconds: plain {t['plain']['train_seconds']:.0f}, constrained {t['constrained']['train_seconds']:.0f}; "
              f"evaluation seconds: {t['plain']['eval_seconds']:.0f}, {t['constrained']['eval_seconds']:.0f}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", default="runs/rl/constrained_study")
    ap.add_argument("--steps", type=int, default=None, help=f"Training steps per run (default {FULL['steps']}).")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tier", default=TIER, help=f"Tier of {BUDGETS.name} the constrained run targets (default {TIER}).")
    ap.add_argument("--holdout", type=int, default=None, help=f"Held-out seeds (default {FULL['holdout']}).")
    ap.add_argument("--smoke", action="store_true", help="A tiny run of the same path (plumbing only).")
    ap.add_argument("--force", action="store_true", help="Retrain into directories holding other runs.")
    a = ap.parse_args(argv)
    p = dict(SMOKE if a.smoke else FULL)
    if a.steps is not None:
        p["steps"] = a.steps
    if a.holdout is not None:
        p["holdout"] = a.holdout
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("plain", "constrained"):
        run_cli(train_args(out, name, p, a.seed, a.force, a.tier))
    s = summarise(out, a.tier)
    (out / "study.json").write_text(json.dumps(s, indent=2, sort_keys=True) + "\n")
    (out / "study.md").write_text(render(s))
    print(render(s), end="")
    print(f"study: {os.path.join(out, 'study.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
