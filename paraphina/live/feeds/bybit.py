"""Bybit v5 public (linear): ``orderbook.50`` + ``publicTrade`` + ``tickers``, parsed by the
importer's :class:`paraphina.importers.bybit.BybitReader`. Each subscribe starts with a book
snapshot; a gap in ``u`` -> resubscribe (a new connection) for a fresh one. Heartbeat:
``{"op": "ping"}`` every 20 s, as Bybit asks.

Endpoint: the WebSocket base (``wss://stream.bybit.com``); the feed connects to ``<base>/v5/public/linear`` (a base that
already ends with ``/v5/public/linear`` is taken as it is).
"""

from __future__ import annotations

import json

from paraphina import events as ev
from paraphina.importers import bybit as imp
from paraphina.live.feeds.base import Feed, with_path

DEFAULT_URL = "wss://stream.bybit.com"
PATH = "/v5/public/linear"
BOOK_DEPTH = 50


def instrument(venue: str, symbol: str) -> ev.Instrument | None:
    d = imp.DEFAULTS.get(symbol)
    return None if d is None else ev.Instrument(**dict(d, venue=venue, symbol=symbol))


class BybitFeed(Feed):
    name = "bybit"
    heartbeat_message = json.dumps({"op": "ping"})

    def connect_url(self) -> str:
        return with_path(self.url, PATH)

    def subscribe_messages(self) -> list[str]:
        s = self.instrument.symbol
        return [json.dumps({"op": "subscribe", "args": [f"orderbook.{BOOK_DEPTH}.{s}", f"publicTrade.{s}", f"tickers.{s}"]})]

    def new_reader(self):
        return imp.BybitReader(self.instrument, self.ctx)

    def parse(self, ts: int, obj) -> list[ev.Event]:
        return self.reader.frame(ts, obj)
