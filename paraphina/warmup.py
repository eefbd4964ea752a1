"""Compile every cached numba kernel once, so that no command run pays for compilation.

``make install`` runs ``python -m paraphina.warmup`` (also ``paraphina warmup``). Kernels are
declared ``@numba.njit(cache=True)``: numba writes the machine code beside the module, in
``__pycache__/*.nbi``/``*.nbc`` (git ignores ``__pycache__/``), or under ``NUMBA_CACHE_DIR`` when
that is set or the source tree is read-only. A cache entry is keyed on the source file's path,
size and modification time and on the argument types, so the warm-up drives the code paths the
commands use (a sample log replayed with each built-in policy, a short simulation) rather than
calling kernels on made-up arrays: the signatures compiled are the ones the commands need.

To warm more code (a new compiled module), add a function to :data:`WARMUPS` with
:func:`warmup`; :func:`cache_misses` tells a test whether anything was left to compile.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable

# (what it warms, the function; called with a scratch directory), run in this order.
WARMUPS: list[tuple[str, Callable[[str], None]]] = []


def warmup(what: str) -> Callable[[Callable[[str], None]], Callable[[str], None]]:
    """Register a warm-up function (it gets a scratch directory it may write into)."""

    def register(fn: Callable[[str], None]) -> Callable[[str], None]:
        WARMUPS.append((what, fn))
        return fn

    return register


@warmup("book kernels and engine: a 3-venue sample log replayed with fixed-spread and heuristic")
def replay_sample(scratch: str) -> None:
    from paraphina import samplegen
    from paraphina.eventlog import LogWriter
    from paraphina.presets import build_config
    from paraphina.replay import replay_log

    log = os.path.join(scratch, "sample.arrow")
    with LogWriter.create(log, samplegen.instruments(3), {"source": "paraphina warmup"}) as w:
        for cols in samplegen.generate(3_000, 3, 0):
            w.append_columns(cols)
    config = build_config(None, {})[0]
    for policy in ("fixed-spread", "heuristic"):
        replay_log(log, policy, config)


@warmup("simulator: a short 5-venue run with the heuristic")
def simulate(scratch: str) -> None:
    from paraphina.presets import build_config
    from paraphina.sim.runner import policy_engine_factory, run_simulation, with_scenario_fees
    from paraphina.sim.scenario import Scenario

    scenario = Scenario(scenario_id="warmup")
    config = with_scenario_fees(build_config(None, {})[0], scenario)
    run_simulation(scenario, config, "heuristic", 0, 20, os.path.join(scratch, "sim.arrow"),
                   policy_engine_factory("heuristic"))


@warmup("decision-path kernels: every strategy kernel, Python-facing ones included (paraphina.kernels_warmup)")
def decision_path(scratch: str) -> None:
    from paraphina.kernels_warmup import warm

    warm()


def kernels() -> list[tuple[str, object]]:
    """Every numba dispatcher defined in an imported paraphina module, as (qualified name, it)."""
    from numba.core.dispatcher import Dispatcher

    found = []
    for name in sorted(sys.modules):
        module = sys.modules[name]
        if name != "paraphina" and not name.startswith("paraphina."):
            continue
        for attr, value in sorted(vars(module).items()):
            if isinstance(value, Dispatcher) and value.py_func.__module__ == name:
                found.append((f"{name}.{attr}", value))
    return found


def cache_misses() -> dict[str, int]:
    """Kernels that compiled in this process rather than loading from the cache (a kernel
    without ``cache=True`` always does), with how many signatures each compiled; empty after
    a complete warm-up."""
    missed = {}
    for name, kernel in kernels():
        n = sum(kernel.stats.cache_misses.values())
        if n:
            missed[name] = n
    return missed


def run(echo: Callable[[str], None] = print) -> int:
    """Run every warm-up; returns how many signatures were compiled (0: all were cached)."""
    with tempfile.TemporaryDirectory(prefix="paraphina-warmup-") as scratch:
        for what, fn in WARMUPS:
            start = time.perf_counter()
            fn(scratch)
            echo(f"warmed {what} ({time.perf_counter() - start:.1f} s)")
    compiled = sum(cache_misses().values())
    where = os.environ.get("NUMBA_CACHE_DIR") or "__pycache__ beside each module"
    echo(f"{len(kernels())} kernels ready; {compiled} signatures compiled now, the rest loaded "
         f"from the cache ({where})")
    return compiled


if __name__ == "__main__":
    run()
