"""Cost of one main tick with the heuristic, split by stage (rows printed as ``name<TAB>value``).

Replays a generated 5-venue log (``paraphina sample``'s market, a Timer every 250 ms) with the
btc preset and the heuristic, and times each stage of ``Engine._main_tick`` in process CPU time
(``time.process_time``: on a shared machine, time spent waiting for a core is not counted). The
first replay warms the numba cache and is not counted; figures are the best of three replays.

Usage: python benchmarks/bench_tick.py [--events N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
STAGES = (  # (object path, attribute, label)
    ("engine.Engine", "_on_timer", "main tick, all stages"),
    ("engine.Engine", "_update_model", "  model update (venue inputs + model)"),
    ("engine.Engine", "_venue_inputs", "    venue inputs"),
    ("engine", "main_tick", "    model: fair value, vol, toxicity, risk"),
    ("strategy.model", "quote", "  heuristic quotes"),
    ("engine.Engine", "_manage_quotes", "  shield + order management"),
    ("strategy.model", "risk_result", "    risk limits (within model)"),
    ("strategy.model", "exits", "  exits"),
    ("strategy.model", "hedge", "  hedge"),
)


def main() -> None:
    import importlib

    from paraphina import samplegen
    from paraphina.config import load_config, parse_config_text
    from paraphina.eventlog import LogWriter
    from paraphina.replay import replay_log

    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    args = ap.parse_args()
    cfg_path = os.path.join(HERE, "..", "paraphina", "presets", "btc.toml")
    with open(cfg_path, encoding="utf-8") as f:
        cfg = load_config(parse_config_text(f.read(), cfg_path))
    spent: dict[str, float] = defaultdict(float)

    def timed(fn, label):
        def wrapper(*a, **kw):
            t0 = time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                spent[label] += time.process_time() - t0
        return wrapper

    for path, attr, label in STAGES:
        mod_name, _, cls = path.partition(".") if path.startswith("engine.") else (path, "", "")
        mod = importlib.import_module(f"paraphina.{mod_name}")
        owner = getattr(mod, cls) if cls else mod
        setattr(owner, attr, timed(getattr(owner, attr), label))
    with tempfile.TemporaryDirectory(prefix="paraphina-bench-") as tmp:
        log = os.path.join(tmp, "ticks.arrow")
        with LogWriter.create(log, samplegen.instruments(5), {"source": "bench"}, overwrite=True) as w:
            for c in samplegen.generate(args.events, 5, seed=1):
                w.append_columns(c)
        replay_log(log, "heuristic", cfg, out=os.devnull)
        best: dict[str, float] | None = None
        for _ in range(3):
            spent.clear()
            r = replay_log(log, "heuristic", cfg, out=os.devnull)
            if best is None or spent["main tick, all stages"] < best["main tick, all stages"]:
                best = dict(spent)
    ticks = r.summary["ticks"]
    for _, _, label in STAGES:
        # exits and the hedge run only with a position: a replay without fills never calls them
        shown = f"{best[label] / ticks * 1e6:,.1f} us" if label in best else "not called"
        print(f"{label}, per main tick ({ticks} ticks)\t{shown}")


if __name__ == "__main__":
    main()
