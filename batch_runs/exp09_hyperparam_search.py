"""Experiment 09 (optional): hyperparameter search by successive halving.

Candidates are seeded draws from ``knobs_btc.yaml`` (as in exp07 and Phase A). Rung 0 simulates
every candidate ``--runs`` times; each next rung keeps the best half (by utility) and doubles its
runs (the new seeds extend the old ones, so a rung only simulates what is new), until one
candidate is left or ``--rungs`` are done. Utility, in USD, larger is better::

    utility = pnl_lcb - risk_aversion * dd_cvar - kill_penalty_usd * kill_frac

(``--risk-aversion`` 0.5, ``--kill-penalty`` 1000). Every rung's seeds are common to its candidates.

Writes under ``runs/exp09_hyperparam_search/``: ``exp09_trials.csv`` (one row per candidate and
rung: knobs, metrics, utility, ``promoted``), ``exp09_runs.csv`` (every run) and
``exp09_best.env`` (the winner's overlay, ``export`` lines: ``. exp09_best.env`` before
``paraphina run``/``mc`` reproduces its config).

Usage: ``python -m batch_runs.exp09_hyperparam_search [--smoke] [-o DIR] [--candidates 16]
[--runs 4] [--rungs 3] [--ticks 600] [--risk-aversion 0.5] [--kill-penalty 1000] [--seed 0]``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from batch_runs import expkit
from batch_runs.phase_a.spec import env_file_text, generate_candidates, load_knob_spec

EXPERIMENT = "exp09_hyperparam_search"
TRIALS_CSV = "exp09_trials.csv"
RUNS_CSV = "exp09_runs.csv"
BEST_ENV = "exp09_best.env"


def parser():
    ap = expkit.common_parser(EXPERIMENT, __doc__, ticks=600)
    ap.add_argument("--candidates", type=int, default=None, help="rung-0 candidates (default 16, smoke 4)")
    ap.add_argument("--runs", type=int, default=None, help="rung-0 runs per candidate (default 4, smoke 2)")
    ap.add_argument("--rungs", type=int, default=3)
    ap.add_argument("--risk-aversion", type=float, default=0.5)
    ap.add_argument("--kill-penalty", type=float, default=1000.0, help="USD per unit of kill frequency")
    ap.add_argument("--knobs", default=str(expkit.KNOBS_BTC))
    ap.add_argument("--scenario", default=expkit.DEFAULT_SCENARIO)
    return ap


def utility(s: dict, risk_aversion: float, kill_penalty: float) -> float:
    return expkit.run_utility(s["pnl_lcb"], s["dd_cvar"], s["kill_frac"], risk_aversion, kill_penalty)


def run(out: str | Path, *, ticks: int, candidates: int, runs: int, rungs: int = 3, risk_aversion: float = 0.5,
        kill_penalty: float = 1000.0, knobs: str = str(expkit.KNOBS_BTC), scenario: str = expkit.DEFAULT_SCENARIO,
        seed: int = 0, budgets: str = str(expkit.DEFAULT_BUDGETS), jobs: int = 1, quiet: bool = False,
        force: bool = False) -> list[Path]:
    alpha, _ = expkit.risk_tiers(budgets)
    inputs = {"ticks": ticks, "candidates": candidates, "runs": runs, "rungs": rungs, "risk_aversion": risk_aversion,
              "kill_penalty": kill_penalty, "knobs": expkit.file_hash(knobs), "alpha": alpha,
              "scenarios": expkit.scenario_inputs(scenario), "seed": seed}
    outdir = expkit.open_output(out, EXPERIMENT, inputs, force=force)
    drawn = generate_candidates(load_knob_spec(knobs), candidates, seed)
    knob_names = sorted({k for c in drawn for k in c.env})
    alive = list(drawn)
    all_rows: list[dict] = []
    done: dict[str, int] = {}  # candidate id -> runs simulated so far
    trials = []
    for rung in range(max(1, rungs)):
        want = runs * 2 ** rung
        seeds = expkit.seeds(seed, want)
        cells = [expkit.Cell(label={"candidate_id": c.candidate_id, "run_index": i}, env=c.env, seed=seeds[i],
                             scenario=scenario)
                 for c in alive for i in range(done.get(c.candidate_id, 0), want)]
        all_rows.extend(expkit.run_cells(cells, ticks, label=f"exp09 rung {rung}", jobs=jobs, quiet=quiet))
        for c in alive:
            done[c.candidate_id] = want
        ids = {c.candidate_id for c in alive}
        summary = expkit.summarise([r for r in all_rows if r["candidate_id"] in ids], ("candidate_id",), alpha)
        scored = sorted(summary, key=lambda s: (-utility(s, risk_aversion, kill_penalty), s["candidate_id"]))
        keep = max(1, math.ceil(len(scored) / 2)) if rung + 1 < rungs and len(scored) > 1 else 0
        envs = {c.candidate_id: c.env for c in alive}
        for rank, s in enumerate(scored):
            trials.append({"rung": rung, "rank": rank, "candidate_id": s["candidate_id"],
                           **{k: envs[s["candidate_id"]].get(k, "") for k in knob_names},
                           **{k: s[k] for k in expkit.SUMMARY_COLUMNS},
                           "utility": utility(s, risk_aversion, kill_penalty), "promoted": rank < keep})
        if keep == 0:
            break
        survivors = {s["candidate_id"] for s in scored[:keep]}
        alive = [c for c in alive if c.candidate_id in survivors]
    best = next(t for t in reversed(trials) if t["rank"] == 0)  # the last rung's first
    best_env = next(c.env for c in drawn if c.candidate_id == best["candidate_id"])
    env_path = outdir / BEST_ENV
    env_path.write_text(env_file_text(best_env, [f"exp09 best candidate {best['candidate_id']} (rung {best['rung']}, "
                                                 f"{best['runs']} runs, utility {best['utility']:.6g} USD)"]),
                        encoding="utf-8")
    if not quiet:
        print(f"exp09: best {best['candidate_id']} utility={best['utility']:.2f} pnl_lcb={best['pnl_lcb']:.2f} "
              f"dd_cvar={best['dd_cvar']:.2f} kill_frac={best['kill_frac']:.3f} after {best['rung'] + 1} rungs")
    return [expkit.write_rows(outdir, TRIALS_CSV, trials), expkit.write_rows(outdir, RUNS_CSV, all_rows), env_path]


def main(argv: list[str] | None = None) -> int:
    args = expkit.resolve_smoke(parser().parse_args(argv))
    return expkit.finish(run(args.out, ticks=args.ticks, candidates=args.candidates or (4 if args.smoke else 16),
                             runs=args.runs or (2 if args.smoke else 4), rungs=args.rungs,
                             risk_aversion=args.risk_aversion, kill_penalty=args.kill_penalty, knobs=args.knobs,
                             scenario=args.scenario, seed=args.seed, budgets=args.budgets, jobs=args.jobs,
                             quiet=args.quiet, force=args.force))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(expkit.main_guard(main))
