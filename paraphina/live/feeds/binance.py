"""Binance USD-M, COIN-M and spot: ``depth`` diffs + ``trade`` over the combined stream, plus the
REST depth snapshot, synchronised by the importer's own state machine
(:class:`paraphina.importers.binance.BinanceReader`, with its futures and spot rules).

Per connection: subscribe (``<ws>/stream?streams=<sym>@depth@100ms/<sym>@trade``, futures also
``<sym>@markPrice@1s`` for funding and mark/index prices), buffer diffs,
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

MARKETS = {
    # venue name: (market, ws base, rest base, rest path)
    "binance-usdm": ("usdm", "wss://fstream.binance.com", "https://fapi.binance.com", "/fapi/v1/depth"),
    "binance-coinm": ("coinm", "wss://dstream.binance.com", "https://dapi.binance.com", "/dapi/v1/depth"),
    "binance-spot": ("spot", "wss://stream.binance.com:9443", "https://api.binance.com", "/api/v3/depth"),
}
DEPTH_STREAM = "depth@100ms"
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

    def connect_url(self) -> str:
        s = self.instrument.symbol.lower()
        streams = [f"{s}@{DEPTH_STREAM}", f"{s}@trade"]
        if self.market != "spot":
            streams.append(f"{s}@markPrice@1s")
        return f"{self.url.rstrip('/')}/stream?streams={'/'.join(streams)}"

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
