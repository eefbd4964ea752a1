"""Experiment 02: how does PnL depend on the hedge band (and on the inventory it has to hedge)?

Grid: ``PARAPHINA_HEDGE_BAND_BASE`` x starting inventory ``PARAPHINA_INIT_Q_TAO`` (BTC), both from
``batch_runs/phase_a/knobs_btc.yaml`` (the ranges where the knobs act on the simulator), x repeats,
one risk profile, one scenario. A band only acts on inventory beyond it, so the starting inventory is
the second axis of the heatmap: with no inventory to hedge every band gives the same run.

Writes under ``runs/exp02_hedge_band/``: ``exp02_hedge_band_runs.csv`` (one row per run),
``exp02_hedge_band_summary.csv`` (per band and inventory: PnL mean / lower bound, drawdown mean /
CVaR, kill rate and bound, fills, hedge activity) and ``exp02_hedge_band_heatmap.svg`` (mean PnL,
band x inventory).

Usage: ``python -m batch_runs.exp02_hedge_band [--smoke] [-o DIR] [--ticks 600] [--repeats 4]
[--profile balanced] [--scenario scenarios/synth_baseline.yaml] [--seed 0] [--jobs 1] [--force]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from batch_runs import expkit

EXPERIMENT = "exp02_hedge_band"
RUNS_CSV = "exp02_hedge_band_runs.csv"
SUMMARY_CSV = "exp02_hedge_band_summary.csv"
HEATMAP_SVG = "exp02_hedge_band_heatmap.svg"
BAND = "PARAPHINA_HEDGE_BAND_BASE"
INIT_Q = "PARAPHINA_INIT_Q_TAO"
SMOKE_BANDS = (0.2, 0.5, 1.0)
SMOKE_INIT_Q = (-1.0, 1.0)


def parser():
    ap = expkit.common_parser(EXPERIMENT, __doc__, ticks=600)
    ap.add_argument("--repeats", type=int, default=None, help="seeds per cell (default 4, smoke 2)")
    ap.add_argument("--profile", default="balanced", choices=expkit.PROFILES)
    ap.add_argument("--scenario", default=expkit.DEFAULT_SCENARIO)
    return ap


def run(out: str | Path, *, ticks: int, repeats: int, bands, init_qs, profile: str = "balanced",
        scenario: str = expkit.DEFAULT_SCENARIO, seed: int = 0, budgets: str = str(expkit.DEFAULT_BUDGETS),
        jobs: int = 1, quiet: bool = False, force: bool = False) -> list[Path]:
    alpha, _ = expkit.risk_tiers(budgets)
    inputs = {"ticks": ticks, "repeats": repeats, "bands": list(bands), "init_q": list(init_qs), "profile": profile,
              "scenarios": expkit.scenario_inputs(scenario), "seed": seed, "alpha": alpha}
    outdir = expkit.open_output(out, EXPERIMENT, inputs, force=force)
    cells = [expkit.Cell(label={"hedge_band_base": b, "init_q_tao": q, "repeat": r},
                         env={"PARAPHINA_RISK_PROFILE": profile, BAND: repr(float(b)), INIT_Q: repr(float(q))},
                         seed=s, scenario=scenario)
             for b in bands for q in init_qs for r, s in enumerate(expkit.seeds(seed, repeats))]
    rows = expkit.run_cells(cells, ticks, label="exp02", jobs=jobs, quiet=quiet)
    summary = expkit.summarise(rows, ("hedge_band_base", "init_q_tao"), alpha,
                               means=("fills", "fees_usd", "max_abs_q", "final_q"))
    by_cell = {(r["hedge_band_base"], r["init_q_tao"]): r["pnl_mean"] for r in summary}
    grid = [[by_cell[(b, q)] for b in bands] for q in init_qs]
    return [expkit.write_rows(outdir, RUNS_CSV, rows), expkit.write_rows(outdir, SUMMARY_CSV, summary),
            expkit.heatmap_svg(outdir / HEATMAP_SVG, grid, list(bands), list(init_qs), xlabel="hedge band base (BTC)",
                               ylabel="starting inventory (BTC)", cbar="mean PnL (USD)",
                               title=f"exp02: mean PnL, {profile}, {ticks} ticks x {repeats} seeds")]


def main(argv: list[str] | None = None) -> int:
    args = expkit.resolve_smoke(parser().parse_args(argv))
    repeats = args.repeats or (2 if args.smoke else 4)
    bands = SMOKE_BANDS if args.smoke else expkit.knob_choices(BAND)
    init_qs = SMOKE_INIT_Q if args.smoke else expkit.knob_choices(INIT_Q)
    return expkit.finish(run(args.out, ticks=args.ticks, repeats=repeats, bands=bands, init_qs=init_qs,
                             profile=args.profile, scenario=args.scenario, seed=args.seed, budgets=args.budgets,
                             jobs=args.jobs, quiet=args.quiet, force=args.force))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(expkit.main_guard(main))
