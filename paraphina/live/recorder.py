"""A recording session: feeds -> one event log, timer events, a shadow engine, an operator view.

Order is the whole contract. Every event (a feed's market event, a ``BookReset``/``GapDetected``,
a ``Timer``, a ``PolicyFault``) goes through :meth:`Recorder.emit`, which appends it to the log
and, with a policy, steps the engines on it right away, in one thread (the asyncio loop). So the
log's ``seq`` order is exactly the order the live engines saw, and ``paraphina replay SESSION.arrow``
(which reads the session's policy and config from the log) reproduces ``SESSION.arrow.actions``
byte for byte. Actions are recorded, never sent: there is no order entry here.

Policies (:mod:`paraphina.live.shadow`): ``--policy`` alone, or with ``--candidate`` the shadow
runner's pair of engines, both streams and the divergence report at the end. A policy main tick
over the inference budget becomes a ``PolicyFault`` event, appended right after the event that
caused the tick, so replay reproduces the fallback without a clock.

Time: every event is stamped by the recorder's clock (``time.time_ns`` unless injected), made
non-decreasing across venues (:class:`~paraphina.live.clock.MonotonicStamps`). ``Timer`` events
come every ``loops.main_loop_interval_ms`` of the config, stamped by the same clock, so replay runs
the engine's loops where the live session ran them.

Durability: the writer flushes a record batch every ``flush_interval_s`` (and at the end), so a
kill -9 loses at most that much; the Arrow stream has no footer, and the intact prefix verifies
and replays. SIGINT/SIGTERM (wired by the CLI to :meth:`Recorder.request_stop`) end the session
cleanly: feeds are cancelled, the log is flushed and closed with its end-of-stream marker.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

import paraphina
from paraphina import events as ev
from paraphina.config import Config, config_hash
from paraphina.errors import UserError
from paraphina.eventlog import LogWriter
from paraphina.importers.timers import TimerGrid
from paraphina.live.clock import Clock, MonotonicStamps, WallClock
from paraphina.live.feeds import Feed, FeedSettings, VenueSpec, instrument_for, make_feed
from paraphina.live.shadow import LiveShadow
from paraphina.shadow.budget import DEFAULT_INFERENCE_TIMEOUT_MS
from paraphina.shadow.pair import PolicySpec
from paraphina.shadow.report import ShadowReport

RECORDER_VERSION = "1"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()   # the hash of an empty action stream


@dataclass
class RecordSettings:
    out: str
    venues: list[VenueSpec]
    config: Config
    policy: PolicySpec | None = None       # a name, or a plugin factory (onnx with its model)
    candidate: PolicySpec | None = None    # a second policy beside ``policy`` (needs it)
    inference_timeout_ms: float | None = DEFAULT_INFERENCE_TIMEOUT_MS   # None or 0: untimed
    duration_s: float | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    flush_interval_s: float = 1.0
    feed: FeedSettings = FeedSettings()
    grids: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # venue -> (tick, lot) overrides
    status: str = "auto"            # auto: a status line on a terminal, structured logs otherwise; off
    status_interval_s: float = 1.0
    log_interval_s: float = 10.0
    overwrite: bool = False
    observers: list = field(default_factory=list)   # engine observers (telemetry) on the baseline policy


@dataclass
class RecordResult:
    out: str
    actions_path: str | None
    events: int
    timers: int
    actions: int
    sha256: str
    seconds: float
    venues: list[dict]
    max_timer_lag_s: float
    clock_clamped: int
    faults: int = 0                          # PolicyFault events recorded (inference timeouts)
    fallbacks: dict = field(default_factory=dict)   # the baseline's fallbacks by cause (learned policies)
    shadow: ShadowReport | None = None       # with a candidate: both streams and their divergence


class Recorder:
    """One recording session (see the module docstring). ``clock`` stamps events;
    ``inference_clock`` (seconds) times policies against the inference budget.

    ``timers_from_stamps``: lay the ``Timer`` grid over the stamps events get (as ``import``
    does) instead of waking on the loop's clock. Tests drive the clock (one step per stamp), so
    what they record follows from the served data, not from how busy the machine is."""

    def __init__(self, settings: RecordSettings, *, clock: Clock | None = None,
                 inference_clock: Callable[[], float] = time.perf_counter, log=None,
                 timers_from_stamps: bool = False) -> None:
        if not settings.venues:
            raise UserError("record: give at least one --venue VENUE:SYMBOL")
        seen = set()
        for v in settings.venues:
            if str(v) in seen:
                raise UserError(f"--venue {v}: given twice")
            seen.add(str(v))
        if settings.candidate is not None and settings.policy is None:
            raise UserError("--candidate needs --policy (the baseline it is compared with)")
        if os.path.exists(settings.out) and not settings.overwrite:
            raise UserError(f"{settings.out}: already exists (use --force to replace it)")
        parent = os.path.dirname(os.path.abspath(settings.out))
        if not os.path.isdir(parent):
            raise UserError(f"{settings.out}: directory {parent} does not exist")
        self.settings = settings
        self.config = settings.config
        self.log = log
        self.clock = MonotonicStamps(clock or WallClock())
        self.instruments = [instrument_for(v, *settings.grids.get(v.venue, (None, None))) for v in settings.venues]
        self.feeds: list[Feed] = [
            make_feed(i, spec, ins, settings.endpoints, clock=self.clock, sink=self.emit, settings=settings.feed, log=log)
            for i, (spec, ins) in enumerate(zip(settings.venues, self.instruments))
        ]
        self.shadow = (LiveShadow(settings.out, settings.policy, settings.candidate, n_venues=len(self.instruments),
                                  timeout_ms=settings.inference_timeout_ms, clock=inference_clock,
                                  observers=settings.observers)
                       if settings.policy is not None else None)
        self.actions_path = self.shadow.baseline_path if self.shadow is not None else None
        self.events = 0
        self.timers = 0
        self.engine = None
        self.writer: LogWriter | None = None
        self._stop = asyncio.Event()
        self.max_timer_lag_s = 0.0
        self._grid = TimerGrid(self.config.loops.main_loop_interval_ms) if timers_from_stamps else None

    # --- the one path every event takes ----------------------------------------------------

    def emit(self, e: ev.Event) -> None:
        if self._grid is not None and e.KIND != ev.Timer.KIND:
            for t in self._grid.due(e.ts_ns):
                self.timers += 1
                self._append(ev.Timer(ts_ns=t))
        self._append(e)

    def _append(self, e: ev.Event) -> None:
        self.writer.append(e)
        self.events += 1
        shadow = self.shadow
        if shadow is not None:
            shadow.step(e)
            if shadow.owes_fault:
                # A fault never starts a main tick, so this recursion is shallow.
                for fault in shadow.take_faults(self.clock.now_ns()):
                    self.emit(fault)

    def request_stop(self) -> None:
        self._stop.set()

    # --- the session -----------------------------------------------------------------------

    async def run(self) -> RecordResult:
        s = self.settings
        cfg = self.config
        chash = config_hash(cfg)
        session = {"source": "paraphina.record", "recorder_version": RECORDER_VERSION,
                   "venues": [str(v) for v in s.venues], "config_hash": chash,
                   "config": msgspec.to_builtins(cfg), "versions": _versions()}
        if self.shadow is not None:
            session |= self.shadow.session_metadata()
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            self.writer = LogWriter.create(s.out, self.instruments, session, flush_interval_s=s.flush_interval_s,
                                           overwrite=s.overwrite)
        except OSError as exc:
            raise UserError(f"{s.out}: cannot write ({exc.strerror})") from None
        tasks: list[asyncio.Task] = []
        try:
            if self.shadow is not None:
                self.shadow.start(cfg, self.instruments)
                self.engine = self.shadow.engine
            self.emit(ev.SessionStart(ts_ns=self.clock.now_ns(), source="paraphina.record", config_hash=chash,
                                      versions=_versions(), note=" ".join(str(v) for v in s.venues)))
            tasks = [asyncio.create_task(f.run(), name=f"feed:{f.name}") for f in self.feeds]
            if self._grid is None:
                tasks.append(asyncio.create_task(self._timer()))
            tasks.append(asyncio.create_task(self._flusher()))
            view = StatusView(self, s) if s.status != "off" else None
            if view is not None:
                tasks.append(asyncio.create_task(view.run()))
            waiters = [asyncio.ensure_future(self._stop.wait())]
            if s.duration_s is not None:
                waiters.append(asyncio.ensure_future(asyncio.sleep(s.duration_s)))
            done, pending = await asyncio.wait(waiters + tasks, return_when=asyncio.FIRST_COMPLETED)
            for p in pending:
                if p in waiters:
                    p.cancel()
            for t in done:
                if t in tasks and t.exception() is not None:
                    raise t.exception()
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                try:
                    await t
                except asyncio.CancelledError:
                    pass
                except Exception:  # noqa: BLE001 - the first failure was raised above
                    pass
            self.writer.close()
            if self.shadow is not None:
                self.shadow.close()
            if s.status != "off":
                StatusView.finish()
        shadow = self.shadow
        baseline = shadow.baseline_stream if shadow is not None else None
        return RecordResult(
            out=s.out, actions_path=self.actions_path, events=self.events, timers=self.timers,
            actions=baseline.count if baseline else 0, sha256=baseline.sha256 if baseline else _EMPTY_SHA256,
            seconds=loop.time() - started,
            venues=[dict(venue=str(spec), frames=f.stats.frames, events=f.stats.events, gaps=f.stats.gaps,
                         resets=f.stats.resets, reset_reasons=dict(f.stats.reasons), malformed=f.stats.malformed,
                         connects=f.stats.connects, snapshots=f.stats.snapshots)
                    for spec, f in zip(s.venues, self.feeds)],
            max_timer_lag_s=self.max_timer_lag_s, clock_clamped=self.clock.clamped,
            faults=shadow.faults if shadow is not None else 0,
            fallbacks=shadow.baseline.fallbacks() if shadow is not None else {},
            shadow=shadow.report("live: " + " ".join(str(v) for v in s.venues)) if shadow is not None else None,
        )

    async def _timer(self) -> None:
        """``Timer`` events at the main-loop cadence, in the recorder's clock. A late wake-up
        (a busy loop) is measured as lag; missed ticks are not made up (one timer, then on)."""
        loop = asyncio.get_running_loop()
        interval = self.config.loops.main_loop_interval_ms / 1000.0
        due = loop.time() + interval
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            now = loop.time()
            self.max_timer_lag_s = max(self.max_timer_lag_s, now - due)
            self.timers += 1
            self.emit(ev.Timer(ts_ns=self.clock.now_ns()))
            due += interval
            if due < now:
                due = now + interval

    async def _flusher(self) -> None:
        """A batch every ``flush_interval_s`` even when no event comes to trigger one."""
        while True:
            await asyncio.sleep(self.settings.flush_interval_s)
            self.writer.flush()
            if self.shadow is not None:
                self.shadow.flush()


class StatusView:
    """The operator view: a status line on stderr when it is a terminal, else structured log
    lines every ``log_interval_s``: events/s per venue, book age, gaps, resets, regime, position."""

    def __init__(self, rec: Recorder, s: RecordSettings) -> None:
        self.rec = rec
        self.s = s
        self.tty = sys.stderr.isatty()
        self._prev = [0] * len(rec.feeds)

    def snapshot(self, dt: float) -> dict:
        rec = self.rec
        now = rec.clock.now_ns()
        venues = []
        for i, f in enumerate(rec.feeds):
            st = f.stats
            rate = (st.events - self._prev[i]) / dt if dt > 0 else 0.0
            self._prev[i] = st.events
            age = (now - st.last_book_ns) / 1e9 if st.last_book_ns else None
            venues.append(dict(venue=f.name, eps=rate, book_age_s=age, gaps=st.gaps, resets=st.resets,
                               malformed=st.malformed))
        eng = rec.engine
        return dict(events=rec.events, venues=venues,
                    regime=eng.state.core.risk_regime if eng is not None else "-",
                    position=eng.position_base() if eng is not None else 0.0,
                    faults=rec.shadow.faults if rec.shadow is not None else 0)

    @staticmethod
    def line(snap: dict) -> str:
        parts = []
        for v in snap["venues"]:
            age = "-" if v["book_age_s"] is None else f"{v['book_age_s']:.1f}s"
            parts.append(f"{v['venue']} {v['eps']:.0f}/s book {age} gaps {v['gaps']} resets {v['resets']}")
        faults = f" | faults {snap['faults']}" if snap.get("faults") else ""
        return (f"rec {snap['events']} ev | " + " | ".join(parts) + f" | {snap['regime']} pos {snap['position']:+.4g}"
                + faults)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.s.status_interval_s if self.tty else self.s.log_interval_s
        last = loop.time()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            snap = self.snapshot(now - last)
            last = now
            if self.tty:
                width = shutil.get_terminal_size((120, 20)).columns
                sys.stderr.write("\r" + self.line(snap)[: width - 1] + "\x1b[K")
                sys.stderr.flush()
            elif self.rec.log is not None:
                for v in snap["venues"]:
                    self.rec.log.info("record_status", venue=v["venue"], events_per_s=round(v["eps"], 1),
                                      book_age_s=None if v["book_age_s"] is None else round(v["book_age_s"], 3),
                                      gaps=v["gaps"], resets=v["resets"], malformed=v["malformed"])
                self.rec.log.info("record_status", events=snap["events"], regime=snap["regime"],
                                  position=round(snap["position"], 8), policy_faults=snap["faults"])

    @staticmethod
    def finish() -> None:
        if sys.stderr.isatty():
            sys.stderr.write("\n")
            sys.stderr.flush()


def _versions() -> dict[str, str]:
    import numpy
    import websockets

    return {"paraphina": paraphina.__version__, "numpy": numpy.__version__, "msgspec": msgspec.__version__,
            "websockets": websockets.__version__}


def result_lines(r: RecordResult) -> list[str]:
    out = [f"log: {r.out}", f"seconds: {r.seconds:.1f} | events: {r.events} | timers: {r.timers}"]
    for v in r.venues:
        reasons = ", ".join(f"{k}={n}" for k, n in sorted(v["reset_reasons"].items()))
        out.append(f"{v['venue']}: frames {v['frames']} events {v['events']} snapshots {v['snapshots']} gaps {v['gaps']} "
                   f"resets {v['resets']}{f' ({reasons})' if reasons else ''} malformed {v['malformed']} connects {v['connects']}")
    out.append(f"max timer lag: {r.max_timer_lag_s * 1000:.1f} ms")
    if r.actions_path:
        out.append(f"actions: {r.actions} -> {r.actions_path}")
        out.append(f"action_stream_sha256: {r.sha256}")
        if r.shadow is None:  # with a candidate, the shadow report says both
            out.append(f"policy faults recorded: {r.faults}")
            if r.fallbacks:
                out.append("policy fallbacks: " + ", ".join(f"{k}={v}" for k, v in r.fallbacks.items()))
    if r.shadow is not None:
        from paraphina.shadow.report import report_lines

        out += report_lines(r.shadow)
    return out
