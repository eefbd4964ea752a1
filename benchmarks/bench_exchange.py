"""The simulated exchange alone, in CPU time per simulated tick (rows printed as ``name<TAB>value``).

Runs ``synth_baseline.yaml`` (5 venues, the heuristic, seed 1) once with a recording exchange
that notes every call the runner makes (``advance``, ``on_market``, ``on_actions`` and, since
the runner hands the exchange columns, ``fold_rows``; not the ones they make of each other),
then makes the same calls on fresh exchanges and times them in process CPU time
(``time.process_time``), best of five. The engine, the generator and the log are not in the
figure. The digest of every event the calls made, in order, lets two versions of the exchange
be compared (however the runner calls them): it must not change.

Usage: python benchmarks/bench_exchange.py [--ticks N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time

import msgspec

HERE = os.path.dirname(os.path.abspath(__file__))


def record(ticks: int) -> tuple[tuple, list[tuple]]:
    """The exchange's constructor arguments and the runner's calls in one simulated run."""
    from paraphina.commands.sim import engine_factory, scenario_config
    from paraphina.sim import runner
    from paraphina.sim.exchange import SimExchange
    from paraphina.sim.scenario import load_scenario

    made: list[tuple] = []
    calls: list[tuple] = []
    depth = [0]

    class Recording(SimExchange):
        def __init__(self, *args, **kw) -> None:
            super().__init__(*args, **kw)
            made.append((args, kw))

        def _note(self, call: tuple, fn, *args):
            if depth[0] == 0:
                calls.append(call)
            depth[0] += 1
            try:
                return fn(self, *args)
            finally:
                depth[0] -= 1

        def advance(self, now_ns):
            return self._note(("advance", now_ns), SimExchange.advance, now_ns)

        def on_market(self, e):
            return self._note(("on_market", e), SimExchange.on_market, e)

        def on_actions(self, actions, now_ns):
            return self._note(("on_actions", list(actions), now_ns), SimExchange.on_actions, actions, now_ns)

        def fold_rows(self, cols, i, n, out):
            return self._note(("fold_rows", cols, i, n), SimExchange.fold_rows, cols, i, n, out)

    scenario = load_scenario(os.path.join(HERE, "..", "scenarios", "synth_baseline.yaml"))
    config = scenario_config(scenario, None, None)
    real, runner.SimExchange = runner.SimExchange, Recording
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runner.run_simulation(scenario, config, "heuristic", 1, ticks, os.path.join(tmp, "run.arrow"),
                                  engine_factory("heuristic"))
    finally:
        runner.SimExchange = real
    return made[0], calls


def replay(made: tuple, calls: list[tuple]) -> list:
    """Every event the calls made, in order."""
    from paraphina.sim.exchange import SimExchange

    args, kw = made
    x = SimExchange(*args, **kw)
    out: list = []
    for c in calls:
        if c[0] == "advance":
            out.extend(x.advance(c[1]))
        elif c[0] == "on_market":
            out.extend(x.on_market(c[1]))
        elif c[0] == "fold_rows":
            x.fold_rows(c[1], c[2], c[3], out)
        else:
            out.extend(x.on_actions(c[1], c[2]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=2000)
    ticks = ap.parse_args().ticks
    made, calls = record(ticks)
    digest = hashlib.sha256(b"".join(msgspec.msgpack.encode(o) for o in replay(made, calls))).hexdigest()
    best = float("inf")
    for _ in range(5):
        t0 = time.process_time()
        replay(made, calls)
        best = min(best, time.process_time() - t0)
    print(f"simulated exchange, 5 venues, {ticks} ticks, {len(calls)} calls\t{best * 1e6 / ticks:.1f} us/tick CPU")
    print(f"digest of the exchange's output\t{digest[:16]}")


if __name__ == "__main__":
    main()
