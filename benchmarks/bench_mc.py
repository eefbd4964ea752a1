"""Monte Carlo throughput: runs/s of the local backend with 1 and 2 jobs, and the scaling.

The run function is the toy random walk (paraphina.research.toy), at two costs per run, so the
figures show the driver's overhead (cheap runs) and the scaling once runs cost something. The
simulator's runs will be far more expensive than either, so its scaling will be at least as good
as the costly row. Best of 2 (the machine is shared).

Usage: python benchmarks/bench_mc.py [--runs N] [--json OUT]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import tempfile
import time

from paraphina.research.montecarlo import run_mc
from paraphina.research.toy import toy_run


def measure(ticks: int, runs: int, jobs: int) -> float:
    fn = functools.partial(toy_run, ticks=ticks, drift=0.0, vol=1.0, loss_limit=1e9)
    best = float("inf")
    for _ in range(2):
        d = tempfile.mkdtemp(prefix="bench_mc_")
        try:
            t0 = time.perf_counter()
            run_mc(fn, runs, 1, jobs=jobs, output_dir=d, progress=False)
            best = min(best, time.perf_counter() - t0)
        finally:
            shutil.rmtree(d)
    return runs / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = []
    print(f"Monte Carlo, local backend, {os.cpu_count()} CPUs, {args.runs} runs (cheap) / {args.runs // 10} (costly)")
    print(f"{'run cost':>26} {'jobs=1 runs/s':>14} {'jobs=2 runs/s':>14} {'scaling':>8}")
    for label, ticks, runs in (("cheap (200 ticks)", 200, args.runs), ("costly (200k ticks)", 200_000, args.runs // 10)):
        r1 = measure(ticks, runs, 1)
        r2 = measure(ticks, runs, 2)
        rows.append({"run_cost": label, "runs": runs, "jobs1_runs_per_s": r1, "jobs2_runs_per_s": r2,
                     "scaling": r2 / r1})
        print(f"{label:>26} {r1:14.1f} {r2:14.1f} {r2 / r1:7.2f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
