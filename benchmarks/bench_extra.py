"""Extra `make bench` rows (printed as `name<TAB>value`): the simulator with the engine in the loop."""

from __future__ import annotations

import os
import tempfile
import time

from paraphina.commands.sim import engine_factory, scenario_config
from paraphina.sim.runner import run_simulation
from paraphina.sim.scenario import load_scenario

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    scenario = load_scenario(os.path.join(HERE, "..", "scenarios", "synth_baseline.yaml"))
    cfg = scenario_config(scenario, None, None)
    ticks = 2000
    with tempfile.TemporaryDirectory() as tmp:
        run_simulation(scenario, cfg, "heuristic", 1, 50, os.path.join(tmp, "warm.arrow"), engine_factory("heuristic"))
        t0 = time.perf_counter()
        r = run_simulation(scenario, cfg, "heuristic", 1, ticks, os.path.join(tmp, "run.arrow"), engine_factory("heuristic"))
        dt = time.perf_counter() - t0
    print(f"simulate 5 venues, heuristic, {r.ticks} ticks\t{r.ticks / dt:,.0f} ticks/s ({r.events / dt:,.0f} events/s, "
          f"{r.fills} fills, {r.actions} actions)")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print("onnx inference per tick	skipped (onnxruntime not installed: pip install 'paraphina[rl]')")
    else:
        import sys

        sys.path.insert(0, HERE)
        import bench_rl

        bench_rl.main()


if __name__ == "__main__":
    main()
