"""Experiment 04: how often does the engine visit Normal / Warning / HardLimit as the risk-regime
thresholds move?

Grid: the dollar-delta hard limit's base (``risk.delta_hard_limit_usd_base``) x its Warning fraction
(``risk.delta_warn_frac``) x repeats, on a run that starts holding ``--init-q`` BTC (default 0.5,
about 30,000 USD of delta at the simulator's price), so the delta thresholds are crossed for some
cells and not for others. Every run's telemetry gives the fraction of main ticks in each regime.

Writes under ``runs/exp04_risk_regimes/``: ``exp04_risk_regimes_runs.csv`` (one row per run) and
``exp04_risk_regimes_summary.csv`` (per threshold pair: regime fractions, kill rate, PnL, drawdown).

Usage: ``python -m batch_runs.exp04_risk_regimes [--smoke] [-o DIR] [--ticks 600] [--repeats 4]
[--init-q 0.5] [--profile balanced] [--scenario F] [--seed 0] [--jobs 1] [--force]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from batch_runs import expkit

EXPERIMENT = "exp04_risk_regimes"
RUNS_CSV = "exp04_risk_regimes_runs.csv"
SUMMARY_CSV = "exp04_risk_regimes_summary.csv"
# USD bases. The engine's limit is the base over the clipped volatility ratio (larger than the base
# in a calm market), so ~30 kUSD of delta crosses bases of about 10-20 kUSD: 5k is a kill on the
# first tick, 200k (the btc preset) never binds; the steps between move Warning and HardLimit time.
DELTA_HARD_LIMITS = (5_000.0, 10_000.0, 15_000.0, 20_000.0, 40_000.0, 200_000.0)
DELTA_WARN_FRACS = (0.3, 0.5, 0.7, 0.9)
SMOKE_DELTA_HARD_LIMITS = (10_000.0, 20_000.0, 200_000.0)
SMOKE_DELTA_WARN_FRACS = (0.5, 0.9)
KEYS = ("delta_hard_limit_usd", "delta_warn_frac")


def parser():
    ap = expkit.common_parser(EXPERIMENT, __doc__, ticks=600)
    ap.add_argument("--repeats", type=int, default=None, help="seeds per cell (default 4, smoke 2)")
    ap.add_argument("--init-q", type=float, default=0.5, help="starting inventory, BTC (default 0.5)")
    ap.add_argument("--profile", default="balanced", choices=expkit.PROFILES)
    ap.add_argument("--scenario", default=expkit.DEFAULT_SCENARIO)
    return ap


def run(out: str | Path, *, ticks: int, repeats: int, hard_limits, warn_fracs, init_q: float = 0.5,
        profile: str = "balanced", scenario: str = expkit.DEFAULT_SCENARIO, seed: int = 0,
        budgets: str = str(expkit.DEFAULT_BUDGETS), jobs: int = 1, quiet: bool = False,
        force: bool = False) -> list[Path]:
    alpha, _ = expkit.risk_tiers(budgets)
    inputs = {"ticks": ticks, "repeats": repeats, "delta_hard_limits": list(hard_limits),
              "delta_warn_fracs": list(warn_fracs), "init_q": init_q, "profile": profile,
              "scenarios": expkit.scenario_inputs(scenario), "seed": seed, "alpha": alpha}
    outdir = expkit.open_output(out, EXPERIMENT, inputs, force=force)
    env = {"PARAPHINA_RISK_PROFILE": profile, "PARAPHINA_INIT_Q_TAO": repr(float(init_q))}
    cells = [expkit.Cell(label={"delta_hard_limit_usd": h, "delta_warn_frac": w, "repeat": r}, env=env, seed=s,
                         scenario=scenario,
                         overrides={"risk.delta_hard_limit_usd_base": float(h), "risk.delta_warn_frac": float(w)})
             for h in hard_limits for w in warn_fracs for r, s in enumerate(expkit.seeds(seed, repeats))]
    rows = expkit.run_cells(cells, ticks, label="exp04", jobs=jobs, quiet=quiet)
    summary = expkit.summarise(rows, KEYS, alpha, means=("regime_frac_normal", "regime_frac_warning",
                                                         "regime_frac_hard", "max_abs_delta_usd", "fills"))
    return [expkit.write_rows(outdir, RUNS_CSV, rows), expkit.write_rows(outdir, SUMMARY_CSV, summary)]


def main(argv: list[str] | None = None) -> int:
    args = expkit.resolve_smoke(parser().parse_args(argv))
    repeats = args.repeats or (2 if args.smoke else 4)
    return expkit.finish(run(args.out, ticks=args.ticks, repeats=repeats,
                             hard_limits=SMOKE_DELTA_HARD_LIMITS if args.smoke else DELTA_HARD_LIMITS,
                             warn_fracs=SMOKE_DELTA_WARN_FRACS if args.smoke else DELTA_WARN_FRACS,
                             init_q=args.init_q, profile=args.profile, scenario=args.scenario, seed=args.seed,
                             budgets=args.budgets, jobs=args.jobs, quiet=args.quiet, force=args.force))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(expkit.main_guard(main))
