"""Binance USD-M, COIN-M and spot: ``depth`` diffs + ``trade`` over combined streams, plus the
REST depth snapshot, synchronised by the importer's own state machine
(:class:`paraphina.importers.binance.BinanceReader`, with its futures and spot rules).

Routes (checked against Binance's docs, ``docs/recording.md``): USD-M split its streams in 2026
(notice of 2026-03-06; unrouted URLs retired 2026-04-23): depth and trades on
``<ws>/public/stream?streams=<sym>@depth@100ms/<sym>@trade``, mark price and funding on
``<ws>/market/stream?streams=<sym>@markPrice@1s``, so a USD-M feed holds two connections (the
second, :class:`BinanceMarketStreams`, carries no book: losing it resets nothing). COIN-M keeps
one ``<ws>/stream?streams=`` connection with all three; spot one with depth and trades.

On the book connection: subscribe, buffer diffs,
and once the first diff arrived ask REST for a snapshot (``limit=1000``): the reader drops diffs
older than it, applies the first one that straddles it, then checks continuity (futures
``pu == previous u``, spot ``U == previous u + 1``). Buffered diffs are stamped with the
snapshot's receive time (importer trap 1). A gap -> resubscribe and a fresh snapshot.

Endpoints: the WebSocket base (``wss://fstream.binance.com``) and the REST base
(``https://fapi.binance.com``); ``--endpoint binance-usdm=ws://127.0.0.1:PORT`` sets both (the
REST base is the same host over http), ``--endpoint binance-usdm-rest=URL`` the REST one alone.
"""

from __future__ import annotations

import asyncio

import httpx
import msgspec

from paraphina import events as ev
from paraphina.importers import binance as imp
from paraphina.importers.common import ImportOptions
from paraphina.live.feeds.base import _PARSE_ERRORS, Feed, _short

# venue name: the WebSocket paths and the streams on each (the first path carries the book)
ROUTES = {
    "binance-usdm": (("/public/stream", ("depth@100ms", "trade")), ("/market/stream", ("markPrice@1s",))),
    "binance-coinm": (("/stream", ("depth@100ms", "trade", "markPrice@1s")),),
    "binance-spot": (("/stream", ("depth@100ms", "trade")),),
}
MARKETS = {
    # venue name: (market, ws base, rest base, rest path)
    "binance-usdm": ("usdm", "wss://fstream.binance.com", "https://fapi.binance.com", "/fapi/v1/depth"),
    "binance-coinm": ("coinm", "wss://dstream.binance.com", "https://dapi.binance.com", "/dapi/v1/depth"),
    "binance-spot": ("spot", "wss://stream.binance.com:9443", "https://api.binance.com", "/api/v3/depth"),
}
SNAPSHOT_LIMIT = 1000


def instrument(venue: str, symbol: str) -> ev.Instrument | None:
    """The importer's instrument defaults for ``symbol`` on ``venue`` (None when unknown)."""
    market = MARKETS[venue][0]
    d = imp.DEFAULTS.get((market, symbol))
    if d is None:
        return None
    d = dict(d, venue=venue, symbol=symbol)
    if market == "coinm":
        d["contract_size"] = str(imp.COINM_CONTRACT_USD.get(symbol.split("_")[0], imp.COINM_DEFAULT_CONTRACT_USD))
    return ev.Instrument(**d)


def stream_url(base: str, path: str, symbol: str, streams) -> str:
    s = symbol.lower()
    return f"{base.rstrip('/')}{path}?streams={'/'.join(f'{s}@{x}' for x in streams)}"


def rest_base_for(ws_url: str) -> str:
    """The REST base on the same host as a WebSocket base (ws -> http, wss -> https)."""
    if ws_url.startswith("wss://"):
        return "https://" + ws_url[6:].rstrip("/")
    if ws_url.startswith("ws://"):
        return "http://" + ws_url[5:].rstrip("/")
    return ws_url.rstrip("/")


class BinanceFeed(Feed):
    def __init__(self, index, instrument, url, *, rest_url: str, **kw) -> None:
        self.name = instrument.venue
        super().__init__(index, instrument, url, **kw)
        self.market, _ws, _rest, self.rest_path = MARKETS[self.name]
        self.rest_url = rest_url.rstrip("/")
        self._first_diff: asyncio.Event | None = None
        self._frame_no = 0
        routes = ROUTES[self.name]
        self.path, self.streams = routes[0]
        self.market_streams = [BinanceMarketStreams(self, path, streams) for path, streams in routes[1:]]

    def connect_url(self) -> str:
        return stream_url(self.url, self.path, self.instrument.symbol, self.streams)

    async def run(self) -> None:
        """The book connection, and beside it any connection of another route (USD-M ``/market``)."""
        if not self.market_streams:
            return await super().run()
        await asyncio.gather(super().run(), *(m.run() for m in self.market_streams))

    def new_reader(self):
        self._first_diff = asyncio.Event()
        return imp.BinanceReader(self.instrument, ImportOptions(), self.ctx, cross_check=False)

    def parse(self, ts: int, obj) -> list[ev.Event]:
        self._frame_no += 1
        r = self.reader
        out = list(r.on_line(ts, f"{self.name} frame {self._frame_no}", obj))
        if r.buffer and not self._first_diff.is_set():
            self._first_diff.set()
        return out

    def after_connect(self, ws) -> list[asyncio.Task]:
        return [asyncio.create_task(self._snapshot())]

    async def _snapshot(self) -> None:
        """Once the first diff is buffered, fetch the REST snapshot and hand it to the reader."""
        await self._first_diff.wait()
        s = self.settings
        url = f"{self.rest_url}{self.rest_path}"
        params = {"symbol": self.instrument.symbol, "limit": str(SNAPSHOT_LIMIT)}
        last_error = ""
        async with httpx.AsyncClient(timeout=s.snapshot_timeout_s, trust_env=False) as client:
            for attempt in range(s.snapshot_attempts):
                try:
                    resp = await client.get(url, params=params)
                    resp.raise_for_status()
                    body = resp.content
                except httpx.HTTPError as exc:
                    last_error = _short(exc)
                    self._warn("feed_snapshot_failed", attempt=attempt + 1, error=last_error)
                    await asyncio.sleep(s.backoff_initial_s * (2 ** attempt))
                    continue
                ts = self.clock.now_ns()
                try:
                    obj = msgspec.json.decode(body)
                    if not isinstance(obj, dict) or "lastUpdateId" not in obj:
                        raise imp.BadRecord("REST depth answer without lastUpdateId")
                    events = list(self.reader.on_line(ts, f"{self.name} REST snapshot", obj))
                except _PARSE_ERRORS as exc:
                    self.malformed(body, exc)
                    last_error = _short(exc)
                    await asyncio.sleep(s.backoff_initial_s * (2 ** attempt))
                    continue
                self._info("feed_snapshot", last_update_id=obj["lastUpdateId"])
                if self.deliver(events):
                    self.request_resync("gap")
                return
        self.request_resync(f"snapshot failed: {last_error}")


class BinanceMarketStreams(Feed):
    """A second connection of a Binance venue on another route (USD-M ``/market``: mark price and
    funding). It shares the venue's index and sink and adds its frames and events to the venue's
    counters (its connections and losses are its own: ``stats``); it carries no book, so a lost
    or silent connection is logged and reconnected without a ``BookReset``."""

    def __init__(self, parent: BinanceFeed, path: str, streams) -> None:
        self.name = parent.name
        super().__init__(parent.index, parent.instrument, parent.url, clock=parent.clock, sink=parent.sink,
                         settings=parent.settings, log=parent.log)
        self.venue_stats = parent.stats
        self.path, self.streams = path, streams
        self._frame_no = 0

    def connect_url(self) -> str:
        return stream_url(self.url, self.path, self.instrument.symbol, self.streams)

    def new_reader(self):
        return imp.BinanceReader(self.instrument, ImportOptions(), self.ctx, cross_check=False)

    def parse(self, ts: int, obj) -> list[ev.Event]:
        self._frame_no += 1
        self._synced = True  # frames flow: the backoff starts again from the shortest wait
        return list(self.reader.on_line(ts, f"{self.name}{self.path} frame {self._frame_no}", obj))

    def on_frame(self, ts: int, raw) -> bool:
        vs = self.venue_stats
        vs.frames += 1
        vs.last_frame_ns = ts
        return super().on_frame(ts, raw)

    def deliver(self, events: list[ev.Event]) -> bool:
        self.venue_stats.events += len(events)
        return super().deliver(events)

    def reset(self, reason: str) -> None:
        self.stats.resets += 1
        self.stats.reasons[reason.split(":")[0]] += 1
        self._warn("feed_route_lost", route=self.path, reason=reason)
