"""`make bench`: throughput and memory of the log and the replay engine, as a table.

Every measurement runs in a fresh child process so its peak RSS is its own. Figures:

* log write, columnar (generators, importers): events/s appending EventColumns chunks;
* log write, per event (recorders): events/s appending msgspec Structs one by one;
* replay: events/s for the full path (read + verify hash chain + decode + book kernel + engine +
  policy + shield + action encoding + SHA-256) once the process is warm, and peak RSS; the
  once-per-process start-up (numba kernels from the cache, plugin discovery) is timed apart
  and also folded in, for a cold figure;
* replay of a 10x longer log: peak RSS, to show memory is flat in log length.

Throughput figures are the best of 2-3 runs (the machine is shared; the best run is the one least
disturbed).

Usage: python benchmarks/bench.py [--events N] [--long-factor K] [--policies a,b] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def child(argv: list[str]) -> None:
    """Runs inside the measured process; prints one JSON line."""
    from paraphina import samplegen
    from paraphina.config import load_config
    from paraphina.eventlog import LogWriter
    from paraphina.replay import replay_log

    what = argv[0]
    t0 = time.perf_counter()
    out: dict = {}
    if what == "write-columns":
        path, n = argv[1], int(argv[2])
        chunks = list(samplegen.generate(n, 5, seed=1))  # generate first: time the writer alone
        t0 = time.perf_counter()
        with LogWriter.create(path, samplegen.instruments(5), {"source": "bench"}, overwrite=True) as w:
            for c in chunks:
                w.append_columns(c)
        out = {"events": n, "bytes": os.path.getsize(path)}
    elif what == "write-events":
        path, n = argv[1], int(argv[2])
        events = [e for c in samplegen.generate(n, 5, seed=2) for e in c.events()]
        t0 = time.perf_counter()
        with LogWriter.create(path, samplegen.instruments(5), {"source": "bench"}, overwrite=True) as w:
            for e in events:
                w.append(e)
        out = {"events": n}
    elif what == "generate":
        path, n = argv[1], int(argv[2])
        with LogWriter.create(path, samplegen.instruments(5), {"source": "bench"}, overwrite=True) as w:
            for c in samplegen.generate(n, 5, seed=1):
                w.append_columns(c)
        out = {"events": n}
    elif what == "replay":
        path, policy, config_path = argv[1], argv[2], argv[3]
        from paraphina.config import parse_config_text

        with open(config_path, encoding="utf-8") as f:
            cfg = load_config(parse_config_text(f.read(), config_path))
        if len(argv) > 4:
            # A tiny replay first: the once-per-process start-up (numba kernels loaded from the
            # cache, plugin discovery, strategy imports) is timed apart from the throughput.
            t0 = time.perf_counter()
            replay_log(argv[4], policy, cfg, out=os.devnull)
            out["startup_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = replay_log(path, policy, cfg, out=os.devnull)
        out.update({"events": r.events, "actions": r.actions, "sha256": r.sha256, "ticks": r.summary["ticks"]})
    out["seconds"] = time.perf_counter() - t0
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run_child(*args: str) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"benchmark step {args[0]} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--long-factor", type=int, default=10)
    ap.add_argument("--policies", default="fixed-spread,heuristic")
    ap.add_argument("--config", default=os.path.join(HERE, "..", "paraphina", "presets", "btc.toml"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    n = args.events
    rows: list[tuple[str, str]] = []
    results: dict = {"events": n}
    with tempfile.TemporaryDirectory(prefix="paraphina-bench-") as tmp:
        log = os.path.join(tmp, "bench.arrow")
        warm = os.path.join(tmp, "warm.arrow")
        run_child("generate", warm, "2000")
        run_child("replay", warm, "heuristic", args.config)  # fills the numba cache
        print(f"generating and writing a {n:,}-event 5-venue log ...", file=sys.stderr)
        w = min((run_child("write-columns", log, str(n)) for _ in range(3)), key=lambda r: r["seconds"])
        results["write_columns_eps"] = n / w["seconds"]
        rows.append(("log write, columnar chunks", f"{n / w['seconds'] / 1e6:.2f} M events/s ({w['bytes'] / n:.0f} B/event)"))
        m = min(n, 200_000)
        we = min((run_child("write-events", os.path.join(tmp, "ev.arrow"), str(m)) for _ in range(2)), key=lambda r: r["seconds"])
        results["write_events_eps"] = m / we["seconds"]
        rows.append(("log write, one Struct at a time", f"{m / we['seconds'] / 1e6:.2f} M events/s"))
        for policy in args.policies.split(","):
            best = None
            for _ in range(3):
                r = run_child("replay", log, policy, args.config, warm)
                best = r if best is None or r["seconds"] < best["seconds"] else best
            eps = n / best["seconds"]
            cold = n / (best["seconds"] + best["startup_seconds"])
            results[f"replay_{policy}_eps"] = eps
            results[f"replay_{policy}_eps_with_startup"] = cold
            results[f"replay_{policy}_startup_s"] = best["startup_seconds"]
            results[f"replay_{policy}_rss_mb"] = best["rss_mb"]
            rows.append((f"replay {n:,} events, {policy}", f"{eps / 1e6:.2f} M events/s ({1e9 / eps:.0f} ns/event), "
                         f"{best['ticks']} ticks, {best['actions']} actions, peak RSS {best['rss_mb']:.0f} MB"))
            rows.append((f"  same, counting the process's start-up ({best['startup_seconds']:.2f} s)",
                         f"{cold / 1e6:.2f} M events/s"))
        if "replay_heuristic_eps" in results and "replay_fixed-spread_eps" in results:
            cost = results["replay_fixed-spread_eps"] / results["replay_heuristic_eps"]
            results["heuristic_cost_ratio"] = cost
            rows.append(("heuristic cost per event vs fixed-spread", f"{cost:.2f}x"))
        long_n = n * args.long_factor
        if args.long_factor > 1:
            os.remove(log)
            print(f"generating a {long_n:,}-event log for the memory check ...", file=sys.stderr)
            run_child("generate", log, str(long_n))
            r = run_child("replay", log, "fixed-spread", args.config, warm)
            results["replay_long_rss_mb"] = r["rss_mb"]
            results["replay_long_eps"] = long_n / r["seconds"]
            ratio = r["rss_mb"] / results["replay_fixed-spread_rss_mb"] if "replay_fixed-spread_rss_mb" in results else float("nan")
            results["rss_ratio_long_over_short"] = ratio
            rows.append((f"replay {long_n:,} events, fixed-spread", f"{long_n / r['seconds'] / 1e6:.2f} M events/s, "
                         f"peak RSS {r['rss_mb']:.0f} MB ({ratio:.2f}x the {n:,}-event replay)"))
    extra = os.path.join(HERE, "bench_extra.py")
    if os.path.exists(extra):
        r = subprocess.run([sys.executable, extra], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            if "\t" in line:
                k, v = line.split("\t", 1)
                rows.append((k, v))
        if r.returncode != 0:
            rows.append(("extra benchmarks", f"failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}"))
    width = max(len(k) for k, _ in rows)
    print(f"\nparaphina benchmarks ({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
