"""Soak check for `paraphina record`: real captures served on loopback at real-time pace, the
recorder (a separate process, with a policy in shadow) recording them for a while.

Usage: python benchmarks/bench_record.py [--duration 60] [--venues usdm,coinm,spot] [--speed 1]
       [--policy heuristic] [--sample 10]

Each venue's capture (../shared/data/real/binance, 345 s) is played by its own loopback server;
longer runs replay it again from the start (the server drops the connection at the end of the
capture and the next subscription starts a new lap with the capture's snapshot, so the recorder
sees one reconnect per venue every 345 s). Prints the recorder's RSS over time (flat memory is
the point), its peak, and the delivery lag of every trade (recorder receive stamp minus the
server's send time, same host clock), plus the recorder's own timer lag.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real" / "binance"
CAPTURES = {
    "usdm": ("usdm_btcusdt_20240808.gz", "binance-usdm", "BTCUSDT"),
    "coinm": ("cm_btcusd_perp_20240808.gz", "binance-coinm", "BTCUSD_PERP"),
    "spot": ("spot_btcusdt_20240808.gz", "binance-spot", "BTCUSDT"),
}


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of recording (default 60)")
    ap.add_argument("--venues", default="usdm,coinm,spot")
    ap.add_argument("--speed", type=float, default=1.0, help="x the recorded pace (default real time)")
    ap.add_argument("--policy", default="heuristic")
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    ap.add_argument("--keep", default=None, metavar="DIR", help="keep the session log here")
    args = ap.parse_args()
    if not REAL.is_dir():
        print(f"bench_record: {REAL} not found (real data lives in ../shared beside the repo)", file=sys.stderr)
        return 0 if os.environ.get("PARAPHINA_REQUIRE_REAL_DATA") != "1" else 2

    import msgspec

    from paraphina import events as ev
    from paraphina.eventlog import LogReader
    from paraphina.live.capture_server import ServerThread, load_capture
    from paraphina.live.feeds import VenueSpec, instrument_for

    names = [v.strip() for v in args.venues.split(",") if v.strip()]
    sent: dict[int, dict[str, deque]] = {i: defaultdict(deque) for i in range(len(names))}

    def hook_for(i: int):
        book = sent[i]
        decode = msgspec.json.decode

        def hook(_index: int, text: str) -> None:
            if '"e":"trade"' in text:
                book[str(decode(text)["data"]["t"])].append(time.time_ns())
        return hook

    servers = []
    specs = []
    t = time.perf_counter()
    for i, name in enumerate(names):
        fname, venue, symbol = CAPTURES[name]
        cap = load_capture(str(REAL / fname), "binance")
        spec = VenueSpec(venue, symbol)
        specs.append(spec)
        servers.append(ServerThread(cap, instrument_for(spec), speed=args.speed, repeat=True, send_hook=hook_for(i)))
    print(f"loaded {len(names)} captures in {time.perf_counter() - t:.1f} s", flush=True)

    tmp = tempfile.TemporaryDirectory(prefix="bench-record-")
    out_dir = Path(args.keep) if args.keep else Path(tmp.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "soak.arrow"
    for s in servers:
        s.__enter__()
    try:
        cmd = [sys.executable, "-m", "paraphina", "record", "-o", str(out), "--force", "--config", "btc",
               "--duration", f"{args.duration}s", "--status", "off", "--flush-interval", "1s"]
        if args.policy:
            cmd += ["--policy", args.policy]
        for spec, s in zip(specs, servers):
            cmd += ["--venue", str(spec), "--endpoint", f"{spec.venue}={s.url}"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        start = time.monotonic()
        samples: list[tuple[float, float]] = []
        while proc.poll() is None:
            r = rss_mb(proc.pid)
            if r:  # None or 0 while the process is still starting
                samples.append((time.monotonic() - start, r))
                print(f"t={samples[-1][0]:7.1f} s  rss={r:7.1f} MB", flush=True)
            deadline = time.monotonic() + args.sample
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
        stdout = proc.stdout.read()
    finally:
        for s in servers:
            s.__exit__(None, None, None)
    if proc.returncode != 0:
        print(f"recorder failed (exit {proc.returncode})", file=sys.stderr)
        return 1
    print(stdout.rstrip())

    lags = []
    n_events = 0
    for _seq, e in LogReader(str(out)).events():
        n_events += 1
        if isinstance(e, ev.Trade):
            q = sent[e.venue].get(e.trade_id)
            if q:
                lags.append((e.ts_ns - q.popleft()) / 1e6)
    lags.sort()
    after = [r for t_, r in samples if t_ >= min(30.0, args.duration / 4)]
    print(f"events recorded: {n_events} in {args.duration:.0f} s ({n_events / args.duration:.0f}/s)")
    if samples:
        print(f"rss: first {samples[0][1]:.1f} MB, after warm-up min {min(after or [0]):.1f} / max {max(after or [0]):.1f} MB, "
              f"peak {max(r for _, r in samples):.1f} MB")
    if lags:
        p = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]  # noqa: E731
        print(f"trade delivery lag (server send -> recorder stamp) over {len(lags)} trades: "
              f"mean {sum(lags) / len(lags):.2f} ms, p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, max {lags[-1]:.2f} ms")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
