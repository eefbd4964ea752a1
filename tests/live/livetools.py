"""Helpers for the recorder tests: captures served on loopback, a recording session in-process,
books folded from events, the importer's view of the same frames."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from paraphina import events as ev
from paraphina.commands.common import load_cli_config
from paraphina.eventlog import LogReader
from paraphina.importers import import_events
from paraphina.live.capture_server import Capture, CaptureServer, load_capture
from paraphina.live.feeds import FeedSettings, VenueSpec, instrument_for
from paraphina.live.recorder import Recorder, RecordSettings
from paraphina.presets import preset_path

USDM = ("binance", "usdm_btcusdt_20240808.gz", VenueSpec("binance-usdm", "BTCUSDT"))
SPOT = ("binance", "spot_btcusdt_20240808.gz", VenueSpec("binance-spot", "BTCUSDT"))
BYBIT = ("bybit", "xrpusdt-ob500.data.zip", VenueSpec("bybit", "XRPUSDT"))
HYPERLIQUID = ("hyperliquid", "hyperliquid_btcusd_20250126.gz", VenueSpec("hyperliquid", "BTC"))

FAST = FeedSettings(stale_after_s=5.0, backoff_initial_s=0.05, backoff_max_s=0.2, open_timeout_s=2.0,
                    heartbeat_s=1.0, snapshot_timeout_s=2.0)


class StepClock:
    """A recorder clock that moves one ``step_ns`` per stamp: with the recorder's timers laid over
    the stamps (``timers_from_stamps``), how many timers run, and where, follows from the frames
    served, not from how fast a loaded machine delivers them."""

    def __init__(self, start_ns: int = 1_723_161_256_000_000_000, step_ns: int = 1_000_000) -> None:
        self.t = start_ns
        self.step = step_ns

    def now_ns(self) -> int:
        self.t += self.step
        return self.t


@functools.lru_cache(maxsize=8)
def capture(real: str, which: tuple, max_frames: int | None) -> Capture:
    kind, name, _spec = which
    return load_capture(str(Path(real) / kind / name), kind, max_frames=max_frames)


def btc_config():
    return load_cli_config(str(preset_path("btc")))


async def record_session(cap: Capture | list, spec: VenueSpec | None = None, out: Path | None = None, *,
                         policy=None, candidate=None, speed: float | None = None, faults=None, feed: FeedSettings = FAST,
                         quiet_s: float = 0.4, timeout_s: float = 30.0, config=None, clock=None,
                         inference_timeout_ms: float | None = None, inference_clock=None):
    """Serve each capture on its own loopback server, record them all into ``out`` until every
    server sent everything and the recorder received it (or has been quiet for ``quiet_s``). ``cap`` is one
    capture (with ``spec``) or a list of ``(capture, spec)``. ``policy`` and ``candidate`` are
    policy names or plugin factories; policies are untimed unless ``inference_timeout_ms`` is given
    (timed by ``inference_clock``, default ``time.perf_counter``). Returns ``(RecordResult, stats)``
    (server stats: one, or a list)."""
    from paraphina.live.capture_server import Faults

    pairs = cap if isinstance(cap, list) else [(cap, spec)]
    # The REST snapshot answered before more diffs: the same sequence on a loaded machine as on an idle one.
    servers = [await CaptureServer(c, instrument_for(sp), speed=speed, faults=faults or Faults(), hold_for_rest=True).start()
               for c, sp in pairs]
    settings = RecordSettings(out=str(out), venues=[sp for _, sp in pairs], config=config or btc_config(), policy=policy,
                              candidate=candidate, inference_timeout_ms=inference_timeout_ms,
                              endpoints={sp.venue: s.url for (_, sp), s in zip(pairs, servers)}, flush_interval_s=0.2,
                              feed=feed, status="off")
    # Time follows the served data unless a test brings its own clock (then timers are the wall's).
    rec = Recorder(settings, clock=clock or StepClock(), timers_from_stamps=clock is None,
                   **({"inference_clock": inference_clock} if inference_clock else {}))
    task = asyncio.create_task(rec.run())
    try:
        async with asyncio.timeout(timeout_s):
            for s in servers:
                await s.finished.wait()
            # Done when every frame sent arrived, or (frames lost in flight to a fault) when
            # nothing arrived for quiet_s.
            loop = asyncio.get_running_loop()
            last, quiet_until = -1, 0.0
            while True:
                got = sum(f.stats.frames for f in rec.feeds)
                if got >= sum(s.stats.sent for s in servers):
                    break
                if got != last:
                    last, quiet_until = got, loop.time() + quiet_s
                elif loop.time() >= quiet_until:
                    break
                await asyncio.sleep(0.02)
        rec.request_stop()
        result = await asyncio.wait_for(task, 10)
    finally:
        if not task.done():
            task.cancel()
        for s in servers:
            await s.close()
    stats = [s.stats for s in servers]
    return result, (stats if isinstance(cap, list) else stats[0])


def serve_as_file(cap: Capture, path: Path) -> Path:
    """The served frames as a ``<ts> <json>`` capture file (snapshot first) for the importer."""
    with open(path, "w") as f:
        if cap.snapshot:
            f.write(f"{cap.frames[0][0]} {cap.snapshot}\n")
        for ts, text in cap.frames:
            f.write(f"{ts} {text}\n")
    return path


def imported(cap: Capture, tmp: Path) -> list[ev.Event]:
    _ins, events, _s = import_events(cap.kind, [str(serve_as_file(cap, tmp / "served.capture"))])
    return events


def recorded(path: Path) -> list[ev.Event]:
    return [e for _, e in LogReader(str(path)).events()]


def book_events(events) -> list[tuple]:
    """Book events as comparable tuples (time stamps excluded: the clocks differ)."""
    out = []
    for e in events:
        if isinstance(e, (ev.BookSnapshot, ev.BookDelta)):
            out.append((type(e).__name__, e.venue_seq, getattr(e, "prev_venue_seq", None),
                        list(e.bid_px), list(e.bid_sz), list(e.ask_px), list(e.ask_sz)))
    return out


def trades(events) -> list[tuple]:
    return [(e.price, e.size, e.side, e.trade_id) for e in events if isinstance(e, ev.Trade)]


class Books:
    """Per-venue dict books folded from events; a reset or gap empties the venue's book."""

    def __init__(self) -> None:
        self.bids: dict[int, dict[int, int]] = {}
        self.asks: dict[int, dict[int, int]] = {}

    def fold(self, events) -> "Books":
        for e in events:
            v = getattr(e, "venue", -1)
            if isinstance(e, ev.BookSnapshot):
                self.bids[v] = {p: s for p, s in zip(e.bid_px, e.bid_sz) if s}
                self.asks[v] = {p: s for p, s in zip(e.ask_px, e.ask_sz) if s}
            elif isinstance(e, ev.BookDelta):
                for book, pxs, szs in ((self.bids[v], e.bid_px, e.bid_sz), (self.asks[v], e.ask_px, e.ask_sz)):
                    for p, s in zip(pxs, szs):
                        if s:
                            book[p] = s
                        else:
                            book.pop(p, None)
            elif isinstance(e, (ev.BookReset, ev.GapDetected)):
                self.bids[v] = {}
                self.asks[v] = {}
        return self

    def top(self, v: int = 0):
        b, a = self.bids.get(v, {}), self.asks.get(v, {})
        return (max(b), b[max(b)], min(a), a[min(a)]) if b and a else None
