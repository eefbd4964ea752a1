"""Monte Carlo throughput: runs/s of the local backend with 1 and 2 jobs, and the scaling.

Three run functions: the toy random walk (paraphina.research.toy) at two costs per run, which
shows the driver's overhead (cheap runs) and the scaling once runs cost something, and the real
thing, ``paraphina mc``'s simulator run (heuristic, 5 venues, synth_jump, 300 ticks). Best of 2
(the machine is shared).

Then Phase A at 2 jobs (runs/s over the whole study, suites off): the toy evaluate (driver and
per-candidate overhead) and the simulator (candidate_run, synth_baseline, 100 ticks). The runs go
to the workers in chunks (paraphina.research.workers), one pool serving the whole study.

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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def simulator_run_fn(ticks: int):
    from paraphina.commands.sim import scenario_config
    from paraphina.research.simrun import ScenarioRun
    from paraphina.sim.scenario import load_scenario

    sc = load_scenario(os.path.join(ROOT, "scenarios", "synth_jump.yaml"))
    return ScenarioRun(scenario=sc, config=scenario_config(sc, None, "balanced"), ticks=ticks)


def measure(fn, runs: int, jobs: int) -> float:
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


def measure_phase_a(evaluate: str, candidates: int, runs: int, extra: list[str]) -> float:
    import sys

    if ROOT not in sys.path:
        sys.path.append(ROOT)  # after PYTHONPATH: a tree named there wins
    from batch_runs.phase_a.__main__ import main as phase_a_main

    best = float("inf")
    for _ in range(2):
        d = tempfile.mkdtemp(prefix="bench_pa_")
        try:
            t0 = time.perf_counter()
            code = phase_a_main(["-o", d, "--seed", "5", "--candidates", str(candidates), "--runs", str(runs),
                                 "--evaluate", evaluate, "--no-report", "--quiet", "--jobs", "2", *extra])
            best = min(best, time.perf_counter() - t0)
            if code != 0:
                raise SystemExit(f"phase A benchmark failed (exit {code})")
        finally:
            shutil.rmtree(d)
    return candidates * runs / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--sim-runs", type=int, default=16)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = []
    print(f"Monte Carlo, local backend, {os.cpu_count()} CPUs, {args.runs} / {args.runs // 10} / {args.sim_runs} runs")
    print(f"{'run cost':>28} {'jobs=1 runs/s':>14} {'jobs=2 runs/s':>14} {'scaling':>8}")
    toy = functools.partial(toy_run, drift=0.0, vol=1.0, loss_limit=1e9)
    cases = (("toy, cheap (200 ticks)", functools.partial(toy, ticks=200), args.runs),
             ("toy, costly (200k ticks)", functools.partial(toy, ticks=200_000), args.runs // 10),
             ("simulator (300 ticks)", simulator_run_fn(300), args.sim_runs))
    for label, fn, runs in cases:
        r1 = measure(fn, runs, 1)
        r2 = measure(fn, runs, 2)
        rows.append({"run_cost": label, "runs": runs, "jobs1_runs_per_s": r1, "jobs2_runs_per_s": r2,
                     "scaling": r2 / r1})
        print(f"{label:>28} {r1:14.1f} {r2:14.1f} {r2 / r1:7.2f}x")
    import contextlib
    import io

    print(f"{'Phase A, 2 jobs':>28} {'runs/s':>14}")
    for label, evaluate, cands, runs, extra in (
            ("toy, 8 candidates x 100", "paraphina.research.toy:toy_candidate_run", 8, 100, []),
            ("simulator, 4 x 8 x 100 ticks", "paraphina.research.simrun:candidate_run", 4, 8,
             ["--evaluate-arg", f"scenario={os.path.join(ROOT, 'scenarios', 'synth_baseline.yaml')}",
              "--evaluate-arg", "ticks=100"])):
        with contextlib.redirect_stdout(io.StringIO()):
            r = measure_phase_a(evaluate, cands, runs, extra)
        rows.append({"run_cost": f"phase A {label}", "runs": cands * runs, "jobs2_runs_per_s": r})
        print(f"{label:>28} {r:14.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
