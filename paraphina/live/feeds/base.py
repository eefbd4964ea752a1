"""What every live feed shares: connect, subscribe, pump frames through the importer's parser,
and recover (reconnect with backoff, resync on a gap, detect a stalled feed).

A feed turns each WebSocket frame into events with the *same* per-frame reader the importer
uses for that venue (``paraphina.importers.<venue>``), so a recorded session and an imported
capture of the same frames hold the same book events. The reader stamps events with the frame's
local receive time, taken from the recorder's clock when ``recv`` returns.

Recovery, and what is recorded (each fact becomes an event, so replay sees it too):

* **Connection lost or refused** -> ``BookReset(reason="disconnect: ...")``, wait (exponential
  backoff from ``backoff_initial_s`` doubling to ``backoff_max_s``; back to the start once a
  connection produced a synchronised book), reconnect, resubscribe, fresh snapshot.
* **Sequence gap** (the reader emits ``GapDetected``) -> the feed drops the connection and
  resubscribes: ``GapDetected`` then ``BookReset(reason="gap")``, then a fresh snapshot.
* **Stalled feed**: no frame for ``stale_after_s`` seconds -> ``BookReset(reason="stale")``,
  reconnect.
* **Malformed frame** (undecodable JSON, or a frame the reader rejects): counted
  (``stats.malformed``), logged (the first few, then every 1000th), and otherwise ignored:
  nothing is recorded for it. It is not fatal.
* Protocol-level ping/pong is handled by ``websockets`` (``ping_interval``); venues that want
  an application-level heartbeat (Hyperliquid, Bybit) get one every ``heartbeat_s``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import websockets

from paraphina import events as ev
from paraphina.importers.common import BadRecord, ImportContext, ImportOptions
from paraphina.live.clock import Clock

Sink = Callable[[ev.Event], None]

_decode = msgspec.json.Decoder().decode
_PARSE_ERRORS = (msgspec.DecodeError, BadRecord, KeyError, TypeError, ValueError, AttributeError, IndexError)


@dataclass(frozen=True)
class FeedSettings:
    stale_after_s: float = 15.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    open_timeout_s: float = 10.0
    heartbeat_s: float = 20.0
    ping_interval_s: float | None = 20.0
    snapshot_timeout_s: float = 10.0
    snapshot_attempts: int = 3


@dataclass
class FeedStats:
    frames: int = 0
    events: int = 0
    malformed: int = 0
    gaps: int = 0
    resets: int = 0
    connects: int = 0
    snapshots: int = 0
    last_frame_ns: int = 0
    last_book_ns: int = 0
    reasons: Counter = field(default_factory=Counter)


class Feed:
    """One venue's feed. Subclasses say where to connect, what to send, how to parse."""

    name = ""
    heartbeat_message: str | None = None

    def __init__(self, index: int, instrument: ev.Instrument, url: str, *, clock: Clock, sink: Sink,
                 settings: FeedSettings = FeedSettings(), log=None) -> None:
        self.index = index
        self.instrument = instrument
        self.url = url
        self.clock = clock
        self.sink = sink
        self.settings = settings
        self.log = log
        self.stats = FeedStats()
        self.ctx = ImportContext(f"record:{self.name}", ImportOptions(skip_bad=True))
        self.reader = None
        self._resync_reason: str | None = None
        self._synced = False
        self._ws = None

    # --- what subclasses define ------------------------------------------------------------

    def connect_url(self) -> str:
        return self.url

    def subscribe_messages(self) -> list[str]:
        return []

    def new_reader(self):
        raise NotImplementedError

    def parse(self, ts: int, obj) -> list[ev.Event]:
        raise NotImplementedError

    def after_connect(self, ws) -> list[asyncio.Task]:
        """Tasks to run beside the frame pump for one connection (e.g. the REST snapshot)."""
        return []

    # --- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and pump until cancelled, recovering from every failure (see module doc)."""
        attempt = 0
        while True:
            reason = await self._connection()
            self.reset(reason)
            if self._synced:
                attempt = 0
            delay = min(self.settings.backoff_max_s, self.settings.backoff_initial_s * (2 ** attempt))
            attempt += 1
            self._warn("feed_reconnect", reason=reason, delay_s=round(delay, 3))
            await asyncio.sleep(delay)

    async def _connection(self) -> str:
        self._resync_reason = None
        self._synced = False
        s = self.settings
        tasks: list[asyncio.Task] = []
        try:
            async with websockets.connect(self.connect_url(), open_timeout=s.open_timeout_s,
                                          ping_interval=s.ping_interval_s, ping_timeout=s.ping_interval_s,
                                          close_timeout=1.0, max_size=1 << 24) as ws:
                self._ws = ws
                self.stats.connects += 1
                self.reader = self.new_reader()
                self._info("feed_connected", url=self.connect_url())
                for m in self.subscribe_messages():
                    await ws.send(m)
                if self.heartbeat_message is not None:
                    tasks.append(asyncio.create_task(self._heartbeat(ws)))
                for t in self.after_connect(ws):
                    t.add_done_callback(self._helper_done)
                    tasks.append(t)
                return await self._pump(ws)
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as exc:
            return self._resync_reason or f"disconnect: {_short(exc)}"
        finally:
            self._ws = None
            for t in tasks:
                t.cancel()
            for t in tasks:
                try:
                    await t
                except (asyncio.CancelledError, Exception):  # noqa: BLE001 - a helper task's end is not news
                    pass

    async def _pump(self, ws) -> str:
        stale = self.settings.stale_after_s
        recv = ws.recv
        while True:
            try:
                async with asyncio.timeout(stale):
                    raw = await recv()
            except TimeoutError:
                return self._resync_reason or "stale"
            except websockets.exceptions.ConnectionClosed as exc:
                return self._resync_reason or f"disconnect: {_short(exc)}"
            if self.on_frame(self.clock.now_ns(), raw):
                return "gap"
            if self._resync_reason is not None:
                return self._resync_reason

    async def _heartbeat(self, ws) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            await ws.send(self.heartbeat_message)

    def _helper_done(self, task: asyncio.Task) -> None:
        """A helper task (the REST snapshot) that died of a bug must not leave the book unsynced
        forever while frames keep coming: drop the connection and start again."""
        if not task.cancelled() and task.exception() is not None:
            self._warn("feed_helper_failed", error=_short(task.exception()))
            self.request_resync(f"snapshot failed: {_short(task.exception())}")

    def request_resync(self, reason: str) -> None:
        """Drop the connection (from a helper task): the pump returns ``reason``."""
        self._resync_reason = reason
        if self._ws is not None:
            asyncio.ensure_future(self._ws.close())

    # --- frames -> events ------------------------------------------------------------------

    def on_frame(self, ts: int, raw) -> bool:
        """Parse one frame and deliver its events; True when a gap asks for a resync."""
        st = self.stats
        st.frames += 1
        st.last_frame_ns = ts
        try:
            events = self.parse(ts, _decode(raw))
        except _PARSE_ERRORS as exc:
            self.malformed(raw, exc)
            return False
        return self.deliver(events)

    def deliver(self, events: list[ev.Event]) -> bool:
        gap = False
        st = self.stats
        replace = msgspec.structs.replace
        for e in events:
            if self.index:
                e = replace(e, venue=self.index)
            if isinstance(e, ev.GapDetected):
                e = replace(e, source=f"record:{self.name}")
                st.gaps += 1
                gap = True
                self._warn("feed_gap", expected=e.expected, received=e.received)
            elif isinstance(e, (ev.BookSnapshot, ev.BookDelta)):
                st.last_book_ns = e.ts_ns
                if isinstance(e, ev.BookSnapshot):
                    st.snapshots += 1
                    self._synced = True
            st.events += 1
            self.sink(e)
        return gap

    def malformed(self, raw, exc: BaseException) -> None:
        st = self.stats
        st.malformed += 1
        if st.malformed <= 5 or st.malformed % 1000 == 0:
            text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
            self._warn("feed_malformed_frame", count=st.malformed, error=_short(exc), frame=text[:120])

    def reset(self, reason: str) -> None:
        """Record that this venue's book is invalid until its next snapshot."""
        st = self.stats
        st.resets += 1
        st.reasons[reason.split(":")[0]] += 1
        st.last_book_ns = 0
        e = ev.BookReset(ts_ns=self.clock.now_ns(), venue=self.index, reason=reason)
        st.events += 1
        self.sink(e)

    # --- logs ------------------------------------------------------------------------------

    def _warn(self, what: str, **kw) -> None:
        if self.log is not None:
            self.log.warning(what, venue=self.name, symbol=self.instrument.symbol, **kw)

    def _info(self, what: str, **kw) -> None:
        if self.log is not None:
            self.log.info(what, venue=self.name, symbol=self.instrument.symbol, **kw)


def with_path(base: str, path: str) -> str:
    """``base`` + the venue's WebSocket ``path`` (unless ``base`` already ends with it)."""
    base = base.rstrip("/")
    return base if base.endswith(path) else base + path


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text and text[0] else type(exc).__name__
