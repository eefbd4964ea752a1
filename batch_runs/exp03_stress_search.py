"""Experiment 03, the template experiment: risk profiles x starting inventory x repeats.

grid -> EngineRunConfig per cell -> run_many -> rows -> ``exp03_stress_runs.csv`` -> ``aggregate_basic``
per (profile, init_q_tao) -> ``exp03_stress_summary.csv``, both under ``runs/exp03_stress_search/``.

Each cell runs ``paraphina run --ticks T --seed S`` with the profile's knob centres as
``PARAPHINA_*`` env. Repeat ``r`` uses seed ``base_seed + r`` (the reference repeats identical
runs; a deterministic engine makes that pointless, see docs/drift-register.md).

Usage: ``python -m batch_runs.exp03_stress_search [--ticks 2000] [--repeats 4] [--jobs 2]
[--out runs/exp03_stress_search]``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from batch_runs.metrics import aggregate_basic, parse_daily_summary
from batch_runs.orchestrator import EngineRunConfig, results_to_dataframe, run_many, write_csv

EXPERIMENT = "exp03_stress_search"
PROFILES = ("conservative", "balanced", "aggressive")
INIT_Q_TAO_GRID = (-40.0, -20.0, 0.0, 20.0, 40.0)
NUM_REPEATS = 4
# Profile centres (reference profile_centres.py).
CENTRES: dict[str, dict[str, float]] = {
    p: {"band_base": 5.625, "mm_size_eta": 0.10, "vol_ref": 0.028125} for p in PROFILES
}
DAILY_LOSS_LIMIT = {"aggressive": 2000.0, "balanced": 5000.0, "conservative": 750.0}
GROUP_KEYS = ("profile", "init_q_tao")
RUNS_CSV = "exp03_stress_runs.csv"
SUMMARY_CSV = "exp03_stress_summary.csv"


def default_command(ticks: int) -> list[str]:
    return [sys.executable, "-m", "paraphina", "run", "--ticks", str(ticks)]


def build_grid(base_cmd: Sequence[str], profiles: Sequence[str] = PROFILES,
               init_q_grid: Sequence[float] = INIT_Q_TAO_GRID, repeats: int = NUM_REPEATS,
               base_seed: int = 0, workdir: str | None = None) -> list[EngineRunConfig]:
    """One config per (profile, init_q_tao, repeat), in that nesting order."""
    cfgs = []
    for profile in profiles:
        c = CENTRES[profile]
        loss = DAILY_LOSS_LIMIT[profile]
        for q in init_q_grid:
            for r in range(repeats):
                seed = base_seed + r
                env = {
                    "PARAPHINA_RISK_PROFILE": profile,
                    "PARAPHINA_INIT_Q_TAO": q,
                    "PARAPHINA_HEDGE_BAND_BASE": c["band_base"],
                    "PARAPHINA_MM_SIZE_ETA": c["mm_size_eta"],
                    "PARAPHINA_VOL_REF": c["vol_ref"],
                    "PARAPHINA_DAILY_LOSS_LIMIT": loss,
                }
                label = {"experiment": EXPERIMENT, "profile": profile, "init_q_tao": q,
                         "band_base": c["band_base"], "mm_size_eta": c["mm_size_eta"], "vol_ref": c["vol_ref"],
                         "daily_loss_limit": loss, "repeat": r, "seed": seed}
                cfgs.append(EngineRunConfig(cmd=[*base_cmd, "--seed", str(seed)], env=env, label=label,
                                            run_id=f"{profile}_q{q:g}_r{r}", workdir=workdir))
    return cfgs


def run_experiment(out_dir: str | Path, base_cmd: Sequence[str], parse_metrics: Callable[[str], Mapping[str, Any]],
                   *, profiles: Sequence[str] = PROFILES, init_q_grid: Sequence[float] = INIT_Q_TAO_GRID,
                   repeats: int = NUM_REPEATS, base_seed: int = 0, jobs: int = 1,
                   timeout_sec: float | None = None, verbose: bool = False,
                   workdir: str | None = None) -> tuple[Path, Path]:
    """Run the grid and write the two CSVs; returns (runs_csv, summary_csv)."""
    out = Path(out_dir)
    cfgs = build_grid(base_cmd, profiles, init_q_grid, repeats, base_seed, workdir)
    rows = results_to_dataframe(run_many(cfgs, parse_metrics, timeout_sec=timeout_sec, jobs=jobs, verbose=verbose))
    runs_csv = write_csv(rows, out / RUNS_CSV)
    summary = aggregate_basic(rows, GROUP_KEYS)
    summary_csv = write_csv(summary, out / SUMMARY_CSV)
    return runs_csv, summary_csv


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m batch_runs.exp03_stress_search", description=__doc__.split("\n")[0])
    ap.add_argument("--ticks", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=NUM_REPEATS)
    ap.add_argument("--base-seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=None, help="seconds per run (recorded, not raised)")
    ap.add_argument("--out", default=f"runs/{EXPERIMENT}")
    args = ap.parse_args(argv)
    runs_csv, summary_csv = run_experiment(args.out, default_command(args.ticks), parse_daily_summary,
                                           repeats=args.repeats, base_seed=args.base_seed, jobs=args.jobs,
                                           timeout_sec=args.timeout, verbose=True)
    print(f"Wrote: {runs_csv}")
    print(f"Wrote: {summary_csv}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
