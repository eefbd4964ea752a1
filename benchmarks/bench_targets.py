"""The "Research-scale speed" targets (issue 14), each beside the figure it replaces.

Prints one row per target: what is measured, the figure measured now, the target, and the
pure-Python figure of 2026-11-23 (docs/benchmarks.md). Each measurement runs in a fresh child
process and, the machine being shared, is the best of a few runs. Nothing here asserts: speed is
measured, never tested.

* simulator, 5 venues, heuristic: ticks/s of one ``run_simulation`` (synth_baseline), warm;
* replay with the heuristic: the replay time of a simulated 5-venue log over its main ticks
  (per-event work included, as the 2026-11-23 figure was measured);
* real Binance USD-M capture (250 ms timers), fixed-spread, replayed in-process, warm;
* Monte Carlo of 1,000 runs x 1,200 ticks on 2 jobs: a smaller count measured on started
  workers and extrapolated linearly, plus the workers' start-up once (the row says so);
* ``paraphina --version`` and ``paraphina --help``: wall time of the installed script;
* ``paraphina replay`` of the real 3-venue log as a whole process, after a first run.

The real-data rows need the logs ``make real-logs`` builds (``build/real``, from ../shared); where
they are absent the row says so and the rest goes on.

Usage: python benchmarks/bench_targets.py [--real-dir DIR] [--mc-runs N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
USDM_LOG = "binance_usdm_btcusdt.arrow"
THREE_VENUE_LOG = "binance_btc_3venue.arrow"

# (key, what, target, the pure-Python figure of 2026-11-23 and where it comes from)
TARGETS = [
    ("sim", "simulator, 5 venues, heuristic", ">= 50,000 ticks/s", "701 ticks/s"),
    ("replay_tick", "replay, heuristic, per main tick", "<= 10 us", "368 us"),
    ("usdm", "real USD-M capture, 250 ms timers, fixed-spread, in-process replay", "<= 0.12 s (hftbacktest)",
     "about 0.30 s (2.5x hftbacktest, issue 14)"),
    ("mc", "Monte Carlo 1,000 runs x 1,200 ticks, 2 jobs", "< 60 s", "about 740 s (5.4 runs/s of 300 ticks)"),
    ("version", "paraphina --version", "< 0.3 s", "about 1 s"),
    ("help", "paraphina --help", "< 0.3 s", "about 1 s"),
    ("real3", "paraphina replay of the real 3-venue log, whole process, after a first run", "< 1 s",
     "not recorded"),
]


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def child(what: str, args: list[str]) -> dict:
    """Runs inside the measured process; returns what the parent prints."""
    if what == "sim":
        from paraphina.research.simrun import simulate
        from paraphina.commands.sim import scenario_config
        from paraphina.sim.scenario import load_scenario

        scenario = load_scenario(os.path.join(ROOT, "scenarios", "synth_baseline.yaml"))
        cfg = scenario_config(scenario, None, None)
        ticks = int(args[0])
        simulate(scenario, cfg, "heuristic", 1, 50)  # warm: kernels, plugin discovery
        runs = []
        for _ in range(2):
            t0 = time.perf_counter()
            r = simulate(scenario, cfg, "heuristic", 1, ticks)
            runs.append((time.perf_counter() - t0, r.ticks))
        dt, n = min(runs)
        return {"value": n / dt, "text": f"{n / dt:,.0f} ticks/s ({n} ticks)"}
    if what == "replay_tick":
        from paraphina.replay import replay_log
        from paraphina.sim.runner import policy_engine_factory, run_simulation
        from paraphina.rl.env import scenario_env_config
        from paraphina.sim.scenario import Scenario

        sc = Scenario(scenario_id="default")
        cfg = scenario_env_config(sc)
        ticks = int(args[0])
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, "run.arrow")
            run_simulation(sc, cfg, "heuristic", 1, ticks, log, policy_engine_factory("heuristic"))
            r = replay_log(log, "heuristic", cfg)  # warm
            dt = _best(lambda: replay_log(log, "heuristic", cfg), 3)
        n = r.summary["ticks"]
        return {"value": dt / n * 1e6, "text": f"{dt / n * 1e6:,.1f} us ({n} main ticks, {r.events:,} events)"}
    if what == "usdm":
        from paraphina.presets import build_config
        from paraphina.replay import replay_log

        log = args[0]
        cfg = build_config(None, {})[0]
        r = replay_log(log, "fixed-spread", cfg)  # warm
        dt = _best(lambda: replay_log(log, "fixed-spread", cfg), 3)
        return {"value": dt, "text": f"{dt:.3f} s ({r.summary['ticks']} main ticks, {r.events:,} events)"}
    if what == "mc":
        from paraphina.commands.sim import scenario_config
        from paraphina.research.montecarlo import run_mc
        from paraphina.research.simrun import ScenarioRun
        from paraphina.research.workers import WorkerPool
        from paraphina.sim.scenario import load_scenario

        runs, ticks, jobs = int(args[0]), 1200, 2
        sc = load_scenario(os.path.join(ROOT, "scenarios", "synth_baseline.yaml"))
        cfg = scenario_config(sc, None, None)
        out = tempfile.mkdtemp(prefix="bench-mc-")
        try:
            with WorkerPool(jobs) as pool:
                # The workers' start-up (imports, kernels from the cache) is paid once per Monte
                # Carlo whatever its size: timed apart, then the runs, extrapolated.
                t0 = time.perf_counter()
                run_mc(ScenarioRun(scenario=sc, config=cfg, ticks=10), jobs, 1, jobs=jobs, pool=pool,
                       output_dir=os.path.join(out, "warm"), progress=False)
                startup = time.perf_counter() - t0
                t0 = time.perf_counter()
                run_mc(ScenarioRun(scenario=sc, config=cfg, ticks=ticks), runs, 1, jobs=jobs, pool=pool,
                       output_dir=os.path.join(out, "runs"), progress=False)
                dt = time.perf_counter() - t0
        finally:
            shutil.rmtree(out)
        total = startup + dt / runs * 1000
        return {"value": total, "text": f"{total:,.0f} s extrapolated: {runs} runs in {dt:.1f} s "
                                        f"({runs / dt:.2f} runs/s) + {startup:.1f} s worker start-up"}
    raise SystemExit(f"unknown measurement {what}")


def run_child(what: str, *args: str) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", what, *args], capture_output=True, text=True)
    if r.returncode != 0:
        tail = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"
        return {"value": None, "text": f"failed: {tail}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def paraphina_script() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "paraphina")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "paraphina"]


def wall(argv: list[str], repeat: int) -> float:
    def once():
        subprocess.run(argv, capture_output=True, check=True, cwd=ROOT)

    return _best(once, repeat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real-dir", default=os.path.join(ROOT, "build", "real"),
                    help="Where make real-logs put the real logs (default: build/real).")
    ap.add_argument("--sim-ticks", type=int, default=3000)
    ap.add_argument("--replay-ticks", type=int, default=1500)
    ap.add_argument("--mc-runs", type=int, default=8, help="Runs measured for the Monte Carlo extrapolation.")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    usdm = os.path.join(args.real_dir, USDM_LOG)
    three = os.path.join(args.real_dir, THREE_VENUE_LOG)
    missing = f"skipped: {{}} absent (make real-logs builds it from ../shared/data/real)"
    got: dict[str, dict] = {}
    print("measuring the issue-14 targets ...", file=sys.stderr)
    got["sim"] = run_child("sim", str(args.sim_ticks))
    got["replay_tick"] = run_child("replay_tick", str(args.replay_ticks))
    cli = paraphina_script()
    if os.path.exists(usdm):
        with tempfile.TemporaryDirectory(prefix="paraphina-bench-") as tmp:
            # The imported capture carries no timers: lay the 250 ms grid the target names.
            timed = os.path.join(tmp, "usdm_250ms.arrow")
            subprocess.run([*cli, "merge", usdm, "-o", timed, "--timer-ms", "250"], capture_output=True, check=True)
            got["usdm"] = run_child("usdm", timed)
    else:
        got["usdm"] = {"value": None, "text": missing.format(usdm)}
    got["mc"] = run_child("mc", str(args.mc_runs))
    for key, flag in (("version", "--version"), ("help", "--help")):
        dt = wall([*cli, flag], 5)
        got[key] = {"value": dt, "text": f"{dt:.3f} s"}
    if os.path.exists(three):
        with tempfile.TemporaryDirectory() as tmp:
            argv = [*cli, "replay", three, "--policy", "fixed-spread", "-o", os.path.join(tmp, "a.actions"), "--force"]
            first = wall(argv, 1)
            dt = wall(argv, 3)
        got["real3"] = {"value": dt, "text": f"{dt:.2f} s (first run {first:.2f} s)"}
    else:
        got["real3"] = {"value": None, "text": missing.format(three)}
    rows = [("measurement", "measured now", "target", "2026-11-23 (pure Python)")]
    rows += [(what, got[key]["text"], target, before) for key, what, target, before in TARGETS]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"\nissue 14 targets ({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    for r in rows:
        print("  " + "  ".join(f"{c:<{w}}" for c, w in zip(r[:3], widths)) + "  " + r[3])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: v["value"] for k, v in got.items()}, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3:])))
    else:
        main()
