"""A loopback server that plays a real capture the way the venue would: WebSocket frames plus
(Binance) the REST depth snapshot, on ``127.0.0.1`` only. For tests, the soak benchmark and dry
runs of ``paraphina record`` (``--endpoint VENUE=ws://127.0.0.1:PORT``).

* :func:`load_capture` reads a ``<ts_ns> <json>`` capture (gzip, zip or plain; Bybit's bare
  frames use their ``ts``) into the frames a subscriber gets: Binance ``depthUpdate``, ``trade``
  and ``markPriceUpdate`` (``bookTicker`` is not subscribed by the feed) and the REST snapshot
  apart; Hyperliquid ``l2Book``, ``trades`` and ``activeAssetCtx``; Bybit every frame.
* The server speaks each venue's protocol as :mod:`paraphina.live.venue_rules` states it, and
  refuses anything else: a WebSocket path or stream the venue does not serve (HTTP 400/404 at
  the upgrade), a malformed subscription or heartbeat (an error reply, then close 1008), REST
  depth with other parameters (HTTP 400). A connection gets only the frames it subscribed to,
  on the route that carries them (Binance USD-M: depth and trades on ``/public``, mark price on
  ``/market``), and Hyperliquid and Bybit frames start once every channel the capture holds is
  subscribed.
* :class:`CaptureServer` serves them at ``speed`` times the recorded pace (``None``: as fast as
  the client reads). One capture is one venue's stream: a new connection continues where the
  last one stopped, and the server keeps the venue's true book (the importer's reader fed with
  every frame it passed, sent or not), so a resubscribe gets a fresh snapshot of that book:
  Binance answers REST with it (and resends the diff the snapshot ends on, so the futures rule
  ``U <= lastUpdateId <= u`` holds), Bybit sends it as a ``snapshot`` frame.
* :class:`Faults` inject what real feeds do, on the first connection only: a dropped
  connection, skipped frames (a sequence gap), a stall, a malformed frame.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field

import msgspec
import websockets
from websockets.asyncio.server import serve

from paraphina import events as ev
from paraphina.decimals import Grid
from paraphina.importers import binance as bn
from paraphina.importers import bybit as bb
from paraphina.importers.common import ImportContext, ImportOptions, peek_objects
from paraphina.live import venue_rules as rules

_decode = msgspec.json.Decoder().decode


@dataclass
class Capture:
    kind: str                                  # binance | hyperliquid | bybit
    frames: list[tuple[int, str]]              # (recorded ts_ns, frame text), in order
    snapshot: str | None = None                # Binance REST depth answer
    symbol: str = ""
    instrument: ev.Instrument | None = None


def load_capture(path: str, kind: str, *, max_frames: int | None = None) -> Capture:
    frames: list[tuple[int, str]] = []
    snapshot = None
    symbol = ""
    for ts, js, obj in peek_objects([path], f"capture:{kind}"):
        if kind == "binance":
            if "lastUpdateId" in obj:
                if snapshot is None:
                    snapshot = js.decode()
                continue
            data = obj.get("data")
            if not isinstance(data, dict) or data.get("e") not in ("depthUpdate", "trade", "markPriceUpdate"):
                continue
            symbol = symbol or str(data.get("s", ""))
        elif kind == "hyperliquid":
            if obj.get("channel") not in ("l2Book", "trades", "activeAssetCtx"):
                continue
            if obj.get("channel") == "l2Book":
                symbol = symbol or str(obj["data"].get("coin", ""))
        elif kind == "bybit":
            symbol = symbol or str(obj.get("topic", "")).rpartition(".")[2]
            if ts is None:
                ts = int(obj.get("ts", 0)) * 1_000_000
        else:
            raise ValueError(f"unknown capture kind {kind!r}")
        frames.append((ts or 0, js.decode()))
        if max_frames is not None and len(frames) >= max_frames and (kind != "binance" or snapshot is not None):
            break
    return Capture(kind=kind, frames=frames, snapshot=snapshot, symbol=symbol)


@dataclass(frozen=True)
class Faults:
    drop_after: int | None = None          # abort the first connection after this many frames
    skip: frozenset[int] = frozenset()     # frame indexes the first connection never sends
    stall_at: int | None = None            # the first connection goes silent at this frame ...
    stall_s: float = 0.0                   # ... for this long (or until the client leaves)
    malformed_at: int | None = None        # a non-JSON frame before this frame index


@dataclass
class ServerStats:
    connections: int = 0           # on the book's route (the only route unless the venue splits streams)
    other_routes: dict[str, int] = field(default_factory=dict)  # connections on other routes (USD-M /market)
    sent: int = 0
    rest_requests: int = 0
    laps: int = 0


class CaptureServer:
    def __init__(self, capture: Capture, instrument: ev.Instrument, *, speed: float | None = None,
                 faults: Faults = Faults(), repeat: bool = False, send_hook=None, hold_for_rest: bool = False) -> None:
        """``repeat``: at the end of the capture drop the connection and play it again from the
        start to the next subscriber (a new session: the capture's own snapshot, its own update
        ids), for soak runs longer than the capture. ``send_hook(index, text)`` is called after
        each frame sent (the soak benchmark measures delivery lag with it). ``hold_for_rest``
        (Binance): after the first diff of a connection, send nothing more on the book's route
        until the REST depth was answered, as if the client were never slower than the venue:
        tests on a loaded machine then record the same sequence as on an idle one."""
        self.hold_for_rest = hold_for_rest
        self._rest_answered = asyncio.Event()
        self.capture = capture
        self.instrument = instrument
        self.venue = instrument.venue
        kinds = [rules.frame_kind(self.venue, _decode(text)) for _ts, text in capture.frames]
        self._frame_kinds = kinds
        self._frame_routes = [rules.frame_route(self.venue, k) for k in kinds]
        self._capture_kinds = set(kinds)
        # The route that carries the book (and the faults, which act on its first connection).
        self._book_route = rules.frame_route(self.venue, "depthUpdate")
        self._route_connections: dict[str, int] = {}
        self._sessions: dict[int, rules.Session] = {}
        self.refused: list[str] = []   # what the server refused, for tests and the operator
        self.speed = speed
        self.faults = faults
        self.stats = ServerStats()
        self.finished = asyncio.Event()
        self.port = 0
        self._server = None
        self.repeat = repeat
        self._send_hook = send_hook
        self._new_lap()

    def _new_lap(self) -> None:
        capture, instrument = self.capture, self.instrument
        routes = set(self._frame_routes) | {self._book_route}
        self.cursors = {r: 0 for r in routes}      # per route: next frame no connection has passed yet
        self._routes_started: set[str] = set()
        self._routes_done: set[str] = set()
        self._truth_ctx = ImportContext("capture-server", ImportOptions(skip_bad=True))
        self._last_diff = -1          # index of the last Binance diff passed
        self._rest_answer = capture.snapshot
        if capture.kind == "binance":
            self._truth = bn.BinanceReader(instrument, ImportOptions(), self._truth_ctx, cross_check=False)
            if capture.snapshot:
                list(self._truth.on_line(0, "snapshot", _decode(capture.snapshot)))
        elif capture.kind == "bybit":
            self._truth = bb.BybitReader(instrument, self._truth_ctx)
        else:
            self._truth = None
        self._px = Grid(self.instrument.tick_size)
        self._sz = Grid(self.instrument.lot_size)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> "CaptureServer":
        self._server = await serve(self._handler, "127.0.0.1", 0, process_request=self._http, max_size=1 << 24)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- REST ------------------------------------------------------------------------------

    @property
    def cursor(self) -> int:
        """Next frame of the book's route no connection has passed yet."""
        return self.cursors[self._book_route]

    def _refuse(self, connection, status: int, why: str):
        self.refused.append(why)
        resp = connection.respond(status, json.dumps({"code": -1100, "msg": why}))
        resp.headers["Content-Type"] = "application/json"
        return resp

    def _http(self, connection, request):
        """REST (Binance depth), or the check of a WebSocket upgrade's path and streams."""
        symbol = self.capture.symbol or self.instrument.symbol
        if request.headers.get("Upgrade", "").lower() != "websocket":
            try:
                rules.check_rest(self.venue, request.path, symbol)
            except rules.ProtocolError as exc:
                return self._refuse(connection, exc.status, str(exc))
            self.stats.rest_requests += 1
            self._rest_answered.set()
            resp = connection.respond(200, self._rest_answer or "{}")
            resp.headers["Content-Type"] = "application/json"
            return resp
        try:
            self._sessions[id(connection)] = rules.open_session(self.venue, request.path, symbol)
        except rules.ProtocolError as exc:
            return self._refuse(connection, exc.status, str(exc))
        return None

    # --- the venue's true book -------------------------------------------------------------

    def _pass(self, i: int, text: str) -> None:
        """Frame ``i`` happened on the venue (sent or not): advance its route and the true book."""
        route = self._frame_routes[i]
        if i < self.cursors[route]:
            return
        self.cursors[route] = i + 1
        if self._truth is None or route != self._book_route:
            return
        obj = _decode(text)
        try:
            if self.capture.kind == "binance":
                list(self._truth.on_line(0, f"frame {i}", obj))
                if obj["data"].get("e") == "depthUpdate":
                    self._last_diff = i
            else:
                self._truth.frame(0, obj)
        except Exception:  # noqa: BLE001 - a frame the truth cannot read is no book change
            pass

    def _levels(self, levels: dict[int, int], reverse: bool) -> list[list[str]]:
        return [[self._px.to_string(p), self._sz.to_string(levels[p])] for p in sorted(levels, reverse=reverse)]

    def _resume(self, route: str) -> tuple[int, list[str]]:
        """Where a new connection on ``route`` starts, and the frames it gets first (a Bybit snapshot)."""
        kind = self.capture.kind
        t = self._truth
        if route != self._book_route:
            return self.cursors[route], []
        if kind == "binance" and self._last_diff >= 0 and t.state == bn.SYNCED:
            self._rest_answer = json.dumps({"lastUpdateId": t.last_u, "bids": self._levels(t.bids.levels, True),
                                            "asks": self._levels(t.asks.levels, False)})
            return self._last_diff, []
        if kind == "bybit" and t.last_u is not None:
            sym = self.capture.symbol
            snap = {"topic": f"orderbook.50.{sym}", "type": "snapshot", "ts": 0,
                    "data": {"s": sym, "b": self._levels(t.bids, True), "a": self._levels(t.asks, False),
                             "u": t.last_u, "seq": 0}}
            return self.cursors[route], [json.dumps(snap)]
        return self.cursors[route], []

    # --- WebSocket -------------------------------------------------------------------------

    async def _handler(self, ws) -> None:
        st = self.stats
        session = self._sessions.pop(id(ws), None) or rules.Session(route="")
        route = session.route
        if route == self._book_route:
            st.connections += 1
        else:
            st.other_routes[route] = st.other_routes.get(route, 0) + 1
        self._route_connections[route] = n = self._route_connections.get(route, 0) + 1
        first = route == self._book_route and n == 1
        subscribed = asyncio.Event()
        listen = asyncio.create_task(self._listen(ws, session, subscribed))
        try:
            if self.venue.startswith("binance-"):
                subscribed.set()          # the streams are in the URL
            waiting = asyncio.ensure_future(subscribed.wait())
            await asyncio.wait({waiting, listen}, return_when=asyncio.FIRST_COMPLETED)
            if not subscribed.is_set():   # the client left (or was refused) before subscribing
                waiting.cancel()
                return
            if route in self._routes_started:
                start, prelude = self._resume(route)
            else:
                self._routes_started.add(route)
                start, prelude = 0, []
            for text in prelude:
                await ws.send(text)
            if not await self._stream(ws, session, start, first):
                return
            self._routes_done.add(route)
            if self.repeat and route == self._book_route:
                st.laps += 1
                self._new_lap()
                ws.transport.abort()
                return
            if set(self._frame_routes) <= self._routes_done:
                self.finished.set()
            await ws.wait_closed()
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            listen.cancel()

    async def _listen(self, ws, session: rules.Session, subscribed: asyncio.Event) -> None:
        """The client's messages: subscriptions and heartbeats answered as the venue does;
        anything else refused (an error reply, then close 1008). ``subscribed`` is set once
        every channel the capture holds is subscribed."""
        symbol = self.capture.symbol or self.instrument.symbol
        wanted = {k for k in self._capture_kinds if k}
        try:
            async for msg in ws:
                try:
                    replies = rules.on_message(self.venue, session, msg if isinstance(msg, str) else msg.decode(), symbol)
                except rules.ProtocolError as exc:
                    self.refused.append(str(exc))
                    await ws.send(json.dumps({"error": str(exc)}))
                    await ws.close(1008, str(exc)[:120])
                    return
                for r in replies:
                    await ws.send(r)
                if wanted <= session.kinds:
                    subscribed.set()
        except websockets.exceptions.ConnectionClosed:
            pass

    async def _stream(self, ws, session: rules.Session, start: int, first: bool) -> bool:
        """Send the frames of the session's route from ``start`` (those it did not subscribe to
        pass unsent); True when the capture's end was reached."""
        frames = self.capture.frames
        routes = self._frame_routes
        route = session.route
        kinds = self._frame_kinds
        f = self.faults
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        ts0 = frames[start][0] if start < len(frames) else 0
        speed = self.speed
        sent_here = 0
        hook = self._send_hook
        hold = self.hold_for_rest and self.capture.kind == "binance" and route == self._book_route
        self._rest_answered.clear()
        for i in range(start, len(frames)):
            if routes[i] != route:
                continue
            ts, text = frames[i]
            if kinds[i] not in session.kinds:
                self._pass(i, text)
                continue
            if first and i in f.skip:
                self._pass(i, text)
                continue
            if first and f.stall_at == i:
                try:
                    await asyncio.wait_for(ws.wait_closed(), f.stall_s)
                except asyncio.TimeoutError:
                    pass
            if first and f.malformed_at == i:
                await ws.send('{"stream": this is not json')
            delay = t0 + (ts - ts0) / 1e9 / speed - loop.time() if speed else 0.0
            if delay > 0:
                await asyncio.sleep(delay)
            elif sent_here % 32 == 0:
                # Behind the pace (a loaded machine) or unpaced: still let the REST answers and
                # the other connections on this loop run.
                await asyncio.sleep(0)
            await ws.send(text)
            if hold and kinds[i] == "depthUpdate":
                hold = False
                await self._rest_answered.wait()
            if hook is not None:
                hook(i, text)
            self.stats.sent += 1
            sent_here += 1
            self._pass(i, text)
            if first and f.drop_after is not None and sent_here >= f.drop_after:
                ws.transport.abort()
                return False
        return True


class ServerThread:
    """A :class:`CaptureServer` on its own event loop in a thread (for a recorder in a
    subprocess, or in another loop). ``with ServerThread(...) as s: s.url``."""

    def __init__(self, capture: Capture, instrument: ev.Instrument, **kw) -> None:
        self._args = (capture, instrument, kw)
        self.server: CaptureServer | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True, name="capture-server")

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        capture, instrument, kw = self._args

        async def start():
            self.server = await CaptureServer(capture, instrument, **kw).start()

        self._loop.run_until_complete(start())
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        fut = asyncio.run_coroutine_threadsafe(self.server.close(), self._loop)
        try:
            fut.result(5)
        except Exception:  # noqa: BLE001 - closing at exit; nothing to report
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def url(self) -> str:
        return self.server.url

    def finished(self) -> bool:
        return self.server.finished.is_set()
