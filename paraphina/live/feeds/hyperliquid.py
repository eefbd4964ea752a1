"""Hyperliquid: ``l2Book`` (every frame a full book), ``trades`` and ``activeAssetCtx`` (funding
rate, mark and oracle prices -> ``FundingRate``/``MarkPrice`` on change), parsed by the importer's
:class:`paraphina.importers.hyperliquid.HyperliquidReader` (a fresh one per connection, so the
back-fill that follows each subscribe is skipped as in the importer). Heartbeat:
``{"method": "ping"}`` (the venue drops idle connections after 60 s).

Endpoint: the WebSocket base (``wss://api.hyperliquid.xyz``); the feed connects to ``<base>/ws`` (a base that
already ends with ``/ws`` is taken as it is).
"""

from __future__ import annotations

import json

from paraphina import events as ev
from paraphina.importers import hyperliquid as imp
from paraphina.live.feeds.base import Feed, with_path

DEFAULT_URL = "wss://api.hyperliquid.xyz"
PATH = "/ws"


def instrument(venue: str, symbol: str) -> ev.Instrument | None:
    d = imp.DEFAULTS.get(symbol)
    return None if d is None else ev.Instrument(**dict(d, venue=venue, symbol=symbol))


class HyperliquidFeed(Feed):
    name = "hyperliquid"
    heartbeat_message = json.dumps({"method": "ping"})

    def connect_url(self) -> str:
        return with_path(self.url, PATH)

    def subscribe_messages(self) -> list[str]:
        coin = self.instrument.symbol
        return [json.dumps({"method": "subscribe", "subscription": {"type": t, "coin": coin}}) for t in ("l2Book", "trades", "activeAssetCtx")]

    def new_reader(self):
        return imp.HyperliquidReader(self.instrument, self.ctx)

    def parse(self, ts: int, obj) -> list[ev.Event]:
        if isinstance(obj, dict) and obj.get("channel") in ("subscriptionResponse", "pong"):
            return []
        return self.reader.on_frame(ts, obj)
