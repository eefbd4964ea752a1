"""The daily research loop in one command: exp13 (profiles x runs, telemetry, condensed into the
versioned research dataset), exp11 on the whole dataset, exp12 on exp11's table.

Its answer is exp12's table: do the conservative / balanced / aggressive profiles still behave
according to their risk budgets (``pnl_ok, dd_ok, kill_ok``, margins), and what safer preset each
needs. Every day appends its runs (labelled ``<label-prefix>_<profile>_rNNN``) to the same dataset,
so exp11 and exp12 judge all the evidence gathered so far.

Writes under ``--out`` (default ``runs/daily/<label-prefix>``, the label prefix defaulting to
``daily_s<seed>``): ``exp13_auto/`` (telemetry, run rows, dataset summaries,
``exp11_research_alignment/exp11_alignment.csv``) and ``exp12_profile_safety/`` (the tuning
report, tuned presets, ``.env`` files); appends to ``--dataset`` (default
``runs/research_dataset_v004.jsonl``).

Usage: ``python -m batch_runs.daily [--smoke] [--seed S] [--runs-per-profile 2] [--ticks 2000]
[--label-prefix P] [--dataset F] [-o DIR] [--safety-margin 0.2] [--validate-runs N] [--jobs 1]
[--force]`` (``--validate-runs``: exp12 also simulates each profile's current and proposed preset).
A new day is a new ``--seed`` (new runs); rerunning a day changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from batch_runs import exp11_research_alignment, exp12_profile_safety, exp13_auto_research, expkit

EXPERIMENT = "daily"


def parser():
    ap = expkit.common_parser(EXPERIMENT, __doc__, ticks=2000, smoke_ticks=80)
    ap.set_defaults(out=None)
    ap.add_argument("--runs-per-profile", type=int, default=None, help="default 2 (smoke 2)")
    ap.add_argument("--profile", dest="profiles", action="append", default=None, choices=expkit.PROFILES)
    ap.add_argument("--scenario", default=expkit.DEFAULT_SCENARIO)
    ap.add_argument("--dataset", default=exp13_auto_research.DEFAULT_DATASET)
    ap.add_argument("--label-prefix", default=None, help="default daily_s<seed>")
    ap.add_argument("--safety-margin", type=float, default=0.2)
    ap.add_argument("--validate-runs", type=int, default=0,
                    help="exp12: simulate current and proposed presets this many times each (default 0)")
    return ap


def run(out: str | Path, *, ticks: int, runs_per_profile: int = 2, profiles=expkit.PROFILES,
        scenario: str = expkit.DEFAULT_SCENARIO, dataset: str = exp13_auto_research.DEFAULT_DATASET,
        label_prefix: str = "daily", seed: int = 0, safety_margin: float = 0.2, validate_runs: int = 0,
        budgets: str = str(expkit.DEFAULT_BUDGETS), jobs: int = 1, quiet: bool = False,
        force: bool = False) -> list[Path]:
    outdir = Path(out)
    written = exp13_auto_research.run(outdir / exp13_auto_research.EXPERIMENT, ticks=ticks,
                                      runs_per_profile=runs_per_profile, profiles=profiles, scenario=scenario,
                                      dataset=dataset, label_prefix=label_prefix, seed=seed, budgets=budgets,
                                      jobs=jobs, quiet=quiet, force=force, report=False)
    alignment = outdir / exp13_auto_research.EXPERIMENT / exp11_research_alignment.EXPERIMENT / \
        exp11_research_alignment.ALIGNMENT_CSV
    # exp12 is derived from today's exp11 table: rewritten every time.
    written += exp12_profile_safety.run(outdir / exp12_profile_safety.EXPERIMENT, alignment=str(alignment),
                                        safety_margin=safety_margin, budgets=budgets, validate_runs=validate_runs,
                                        ticks=ticks, scenario=scenario, jobs=jobs, quiet=quiet, force=True)
    return written


def main(argv: list[str] | None = None) -> int:
    args = expkit.resolve_smoke(parser().parse_args(argv))
    prefix = args.label_prefix or f"daily_s{args.seed}"
    return expkit.finish(run(args.out or f"runs/daily/{prefix}", ticks=args.ticks,
                             runs_per_profile=args.runs_per_profile or 2,
                             profiles=tuple(args.profiles or expkit.PROFILES), scenario=args.scenario,
                             dataset=args.dataset, label_prefix=prefix, seed=args.seed,
                             safety_margin=args.safety_margin, validate_runs=args.validate_runs,
                             budgets=args.budgets, jobs=args.jobs,
                             quiet=args.quiet, force=args.force))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(expkit.main_guard(main))
