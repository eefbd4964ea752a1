"""Experiment 06: the calibration suite, exp02-exp05, as one run over one baseline.

Runs, each into its own subdirectory of the output directory and with the same ticks, repeats and
base seed: exp02 (hedge band x starting inventory), exp03 (profiles x starting inventory, through
``paraphina run`` as its own script does), exp04 (risk-regime thresholds) and exp05 (the
baseline across scenarios). Then writes ``exp06_suite_index.csv``: every file the suite wrote, with
its size and SHA-256, so two suite runs compare with one ``diff``.

Usage: ``python -m batch_runs.exp06_full_suite [--smoke] [-o runs/exp06_full_suite] [--ticks 600]
[--repeats 4] [--profile balanced] [--seed 0] [--jobs 1] [--force]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from batch_runs import exp02_hedge_band, exp03_stress_search, exp04_risk_regimes, exp05_calibration_report, expkit
from batch_runs.metrics import parse_daily_summary
from paraphina.digest import sha256_file

EXPERIMENT = "exp06_full_suite"
INDEX_CSV = "exp06_suite_index.csv"
SMOKE_EXP03_INIT_Q = (0.5,)


def parser():
    ap = expkit.common_parser(EXPERIMENT, __doc__, ticks=600)
    ap.add_argument("--repeats", type=int, default=None, help="seeds per cell (default 4, smoke 1)")
    ap.add_argument("--profile", default="balanced", choices=expkit.PROFILES)
    return ap


def run(out: str | Path, *, ticks: int, repeats: int, smoke: bool, profile: str = "balanced", seed: int = 0,
        budgets: str = str(expkit.DEFAULT_BUDGETS), jobs: int = 1, quiet: bool = False,
        force: bool = False) -> list[Path]:
    inputs = {"ticks": ticks, "repeats": repeats, "smoke": smoke, "profile": profile, "seed": seed,
              "budgets": expkit.file_hash(budgets)}
    outdir = expkit.open_output(out, EXPERIMENT, inputs, force=force)
    common = {"ticks": ticks, "repeats": repeats, "profile": profile, "seed": seed, "budgets": budgets, "jobs": jobs,
              "quiet": quiet, "force": force}
    written: list[tuple[str, Path]] = []
    for p in exp02_hedge_band.run(outdir / exp02_hedge_band.EXPERIMENT,
                                  bands=exp02_hedge_band.SMOKE_BANDS if smoke else expkit.knob_choices(exp02_hedge_band.BAND),
                                  init_qs=exp02_hedge_band.SMOKE_INIT_Q if smoke else expkit.knob_choices(exp02_hedge_band.INIT_Q),
                                  **common):
        written.append(("exp02", p))
    exp03_dir = outdir / exp03_stress_search.EXPERIMENT
    for p in exp03_stress_search.run_experiment(
            exp03_dir, exp03_stress_search.default_command(ticks), parse_daily_summary,
            init_q_grid=SMOKE_EXP03_INIT_Q if smoke else exp03_stress_search.INIT_Q_TAO_GRID, repeats=repeats,
            base_seed=seed, jobs=jobs, verbose=not quiet):
        written.append(("exp03", p))
    for p in exp04_risk_regimes.run(
            outdir / exp04_risk_regimes.EXPERIMENT,
            hard_limits=exp04_risk_regimes.SMOKE_DELTA_HARD_LIMITS if smoke else exp04_risk_regimes.DELTA_HARD_LIMITS,
            warn_fracs=exp04_risk_regimes.SMOKE_DELTA_WARN_FRACS if smoke else exp04_risk_regimes.DELTA_WARN_FRACS,
            **common):
        written.append(("exp04", p))
    for p in exp05_calibration_report.run(
            outdir / exp05_calibration_report.EXPERIMENT,
            scenarios=exp05_calibration_report.SMOKE_SCENARIOS if smoke else exp05_calibration_report.SCENARIOS,
            **common):
        written.append(("exp05", p))
    index = [{"experiment": exp, "file": p.relative_to(outdir).as_posix(), "bytes": p.stat().st_size,
              "sha256": sha256_file(str(p))} for exp, p in written]
    return [*(p for _, p in written), expkit.write_rows(outdir, INDEX_CSV, index)]


def main(argv: list[str] | None = None) -> int:
    args = expkit.resolve_smoke(parser().parse_args(argv))
    repeats = args.repeats or (1 if args.smoke else 4)
    return expkit.finish(run(args.out, ticks=args.ticks, repeats=repeats, smoke=args.smoke, profile=args.profile,
                             seed=args.seed, budgets=args.budgets, jobs=args.jobs, quiet=args.quiet, force=args.force))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(expkit.main_guard(main))
