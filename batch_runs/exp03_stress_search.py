"""Experiment 03, the template experiment: risk profiles x starting inventory x repeats.

grid -> EngineRunConfig per cell -> run_many -> rows -> ``exp03_stress_runs.csv`` -> ``aggregate_basic``
per (profile, init_q_tao) -> ``exp03_stress_summary.csv``, both under ``runs/exp03_stress_search/``.

Each cell runs ``paraphina run --ticks T --seed S`` with ``PARAPHINA_RISK_PROFILE`` and
``PARAPHINA_INIT_Q_TAO`` (BTC) as env. Repeat ``r`` uses seed ``base_seed + r`` (the reference repeats identical
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
# Starting inventory in base units of the simulator's BTC market (the reference's -40..40 were TAO:
# 40 BTC is ~2.4 M USD, a kill on the first tick). About -2 to +2 hedge bands of the btc preset.
INIT_Q_TAO_GRID = (-1.0, -0.5, 0.0, 0.5, 1.0)
NUM_REPEATS = 4
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
        for q in init_q_grid:
            for r in range(repeats):
                seed = base_seed + r
                # The profile sets the risk appetite on top of the btc preset (band, size eta, delta
                # and loss limits: docs/strategy.md "Presets and profiles"); only it and the starting
                # inventory vary. (The reference also pinned TAO knob centres here, identical for every
                # profile, which made its profiles act on nothing but the loss limit.)
                env = {"PARAPHINA_RISK_PROFILE": profile, "PARAPHINA_INIT_Q_TAO": q}
                label = {"experiment": EXPERIMENT, "profile": profile, "init_q_tao": q, "repeat": r, "seed": seed}
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
