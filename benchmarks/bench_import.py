"""Import speed: messages/s for the Binance USD-M capture (../shared/data/real), best of N runs.

Usage: python benchmarks/bench_import.py [--repeat 3]
Prints one line per stage: parse+sync+book only (no log), and the full import into an Arrow log.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT.parent / "shared" / "data" / "real" / "binance" / "usdm_btcusdt_20240808.gz"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--capture", default=str(CAPTURE))
    args = ap.parse_args()
    if not os.path.exists(args.capture):
        print(f"bench_import: {args.capture} not found (real data lives in ../shared beside the repo)", file=sys.stderr)
        return 0 if os.environ.get("PARAPHINA_REQUIRE_REAL_DATA") != "1" else 2
    from paraphina.importers import import_events, run_import

    best_read = best_write = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        _ins, events, summary = import_events("binance", [args.capture])
        best_read = min(best_read, time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            run_import("binance", [args.capture], os.path.join(d, "usdm.arrow"))
            best_write = min(best_write, time.perf_counter() - t)
    n = summary.messages
    print(f"import binance usdm (no log): {n} messages, {len(events)} events in {best_read:.3f} s: "
          f"{n / best_read:,.0f} messages/s")
    print(f"import binance usdm -> arrow: {n} messages in {best_write:.3f} s: {n / best_write:,.0f} messages/s "
          f"({summary.checks['book_ticker_matched']}/{summary.checks['book_ticker_checked']} bookTicker matches)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
