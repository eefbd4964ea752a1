"""The venue's side of each public market-data protocol, as the loopback capture server enforces it.

This is deliberately a second, independent statement of the protocols: the feeds
(:mod:`paraphina.live.feeds`) hold the client's side, this module what the venue accepts, each
written from the venue's documentation (``docs/recording.md`` lists the pages). A feed that
connects to a wrong path, asks for a stream on the wrong route, sends a malformed subscription
or heartbeat, or calls REST with wrong parameters is refused here, so a protocol mistake fails a
test instead of recording nothing in production.

Binance (stream mode, ``/stream?streams=a/b``):

* USD-M splits its market streams over two routes since 2026 (notice of 2026-03-06, unrouted
  URLs retired 2026-04-23): ``/public`` carries ``@depth*``, ``@bookTicker`` and ``@trade``;
  ``/market`` carries ``@markPrice*``, ``@aggTrade``, ``@kline_*``, tickers. An unrouted path is
  refused here (the venue serves it as ``/public`` and silently drops ``/market`` streams).
* COIN-M and spot keep the single ``/stream`` path.
* REST depth: ``/fapi/v1/depth``, ``/dapi/v1/depth``, ``/api/v3/depth`` with exactly ``symbol``
  (upper case) and ``limit`` (futures 5, 10, 20, 50, 100, 500, 1000; spot 1 to 5000).

Hyperliquid (``/ws``): ``{"method": "subscribe", "subscription": {"type": T, "coin": C}}``,
acknowledged with ``subscriptionResponse``; heartbeat ``{"method": "ping"}`` answered
``{"channel": "pong"}``.

Bybit v5 (``/v5/public/linear``): ``{"op": "subscribe", "args": [topic, ...]}`` with topics
``orderbook.{1,50,200,1000}.SYM``, ``publicTrade.SYM``, ``tickers.SYM``; heartbeat
``{"op": "ping"}`` answered with ``ret_msg: "pong"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit


class ProtocolError(Exception):
    """What the venue would refuse; ``str()`` says what and why (sent back to the client);
    ``status`` is the HTTP status of a refused request (404: no such path)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# --- Binance ---------------------------------------------------------------------------------

# stream name suffix -> the event type (``data.e``) of the frames it carries
_BINANCE_STREAMS = {
    "depth": "depthUpdate", "depth@100ms": "depthUpdate", "depth@500ms": "depthUpdate", "depth@0ms": "depthUpdate",
    "trade": "trade", "bookTicker": "bookTicker", "aggTrade": "aggTrade",
    "markPrice": "markPriceUpdate", "markPrice@1s": "markPriceUpdate",
}
_FUTURES_ONLY = {"markPriceUpdate", "depth@0ms"}
_USDM_PUBLIC = {"depthUpdate", "bookTicker", "trade"}
_USDM_MARKET = {"markPriceUpdate", "aggTrade"}

BINANCE_PATHS = {
    # venue -> {WebSocket path: event types it carries}
    "binance-usdm": {"/public/stream": _USDM_PUBLIC, "/market/stream": _USDM_MARKET},
    "binance-coinm": {"/stream": _USDM_PUBLIC | _USDM_MARKET},
    "binance-spot": {"/stream": {"depthUpdate", "bookTicker", "trade", "aggTrade"}},
}
BINANCE_REST = {"binance-usdm": "/fapi/v1/depth", "binance-coinm": "/dapi/v1/depth", "binance-spot": "/api/v3/depth"}
_FUTURES_LIMITS = {5, 10, 20, 50, 100, 500, 1000}

HYPERLIQUID_PATH = "/ws"
HYPERLIQUID_TYPES = ("l2Book", "trades", "activeAssetCtx", "bbo")
BYBIT_PATH = "/v5/public/linear"
BYBIT_BOOK_DEPTHS = (1, 50, 200, 1000)


@dataclass
class Session:
    """One client connection as the venue sees it."""

    route: str                                   # which frames this connection may carry ("" = all)
    kinds: set[str] = field(default_factory=set)  # frame kinds subscribed so far
    replies: list[str] = field(default_factory=list)


def frame_kind(venue: str, obj: dict) -> str:
    """The kind of a captured frame, in the terms subscriptions use."""
    if venue.startswith("binance-"):
        data = obj.get("data")
        return str(data.get("e", "")) if isinstance(data, dict) else ""
    if venue == "hyperliquid":
        return str(obj.get("channel", ""))
    topic = str(obj.get("topic", ""))
    return topic.split(".")[0]


def frame_route(venue: str, kind: str) -> str:
    """The connection route that carries frames of ``kind`` (one route unless the venue splits)."""
    if venue == "binance-usdm":
        return "/market/stream" if kind in _USDM_MARKET else "/public/stream"
    return ""


def open_session(venue: str, path: str, symbol: str) -> Session:
    """Check a WebSocket upgrade request's path (and query); raises :class:`ProtocolError`."""
    parts = urlsplit(path)
    if venue.startswith("binance-"):
        routes = BINANCE_PATHS[venue]
        if parts.path not in routes:
            raise ProtocolError(f"{venue}: no stream route {parts.path!r} (expected {' or '.join(sorted(routes))}"
                                "?streams=...)", 404)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if [k for k, _ in query] != ["streams"]:
            raise ProtocolError(f"{venue}: expected exactly one query parameter 'streams', got {parts.query!r}")
        session = Session(route=parts.path if venue == "binance-usdm" else "")
        for name in query[0][1].split("/"):
            sym, _, suffix = name.partition("@")
            kind = _BINANCE_STREAMS.get(suffix)
            if sym != symbol.lower() or kind is None:
                raise ProtocolError(f"{venue}: unknown stream {name!r} (symbol {symbol.lower()!r}, lower case)")
            if venue == "binance-spot" and (kind in _FUTURES_ONLY or suffix in _FUTURES_ONLY):
                raise ProtocolError(f"{venue}: stream {name!r} does not exist on spot")
            if kind not in routes[parts.path]:
                raise ProtocolError(f"{venue}: stream {name!r} is not served on {parts.path!r}")
            session.kinds.add(kind)
        return session
    want = HYPERLIQUID_PATH if venue == "hyperliquid" else BYBIT_PATH
    if parts.path != want or parts.query:
        raise ProtocolError(f"{venue}: WebSocket path must be {want!r}, got {path!r}", 404)
    return Session(route="")


def on_message(venue: str, session: Session, text: str, symbol: str) -> list[str]:
    """A message from the client: the venue's replies; :class:`ProtocolError` when refused."""
    try:
        obj = json.loads(text)
    except ValueError:
        raise ProtocolError(f"{venue}: not JSON: {text[:80]!r}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"{venue}: not a JSON object: {text[:80]!r}")
    if venue.startswith("binance-"):
        raise ProtocolError(f"{venue}: unexpected message on a stream-mode connection: {text[:80]!r}")
    if venue == "hyperliquid":
        if obj == {"method": "ping"}:
            return [json.dumps({"channel": "pong"})]
        sub = obj.get("subscription")
        if set(obj) != {"method", "subscription"} or obj["method"] != "subscribe" or not isinstance(sub, dict):
            raise ProtocolError(f"hyperliquid: unknown message {text[:80]!r}")
        if set(sub) != {"type", "coin"} or sub["type"] not in HYPERLIQUID_TYPES or sub["coin"] != symbol:
            raise ProtocolError(f"hyperliquid: invalid subscription {json.dumps(sub)}")
        session.kinds.add(sub["type"])
        return [json.dumps({"channel": "subscriptionResponse", "data": obj})]
    # bybit
    op = obj.get("op")
    extra = set(obj) - {"op", "args", "req_id"}
    if op == "ping" and not extra and "args" not in obj:
        return [json.dumps({"success": True, "ret_msg": "pong", "conn_id": "loopback", "op": "ping"})]
    args = obj.get("args")
    if op != "subscribe" or extra or not isinstance(args, list) or not args:
        raise ProtocolError(f"bybit: unknown message {text[:80]!r}")
    for topic in args:
        parts = str(topic).split(".")
        ok = (len(parts) == 3 and parts[0] == "orderbook" and parts[1].isdigit() and int(parts[1]) in BYBIT_BOOK_DEPTHS) \
            or (len(parts) == 2 and parts[0] in ("publicTrade", "tickers"))
        if not ok or parts[-1] != symbol:
            raise ProtocolError(f"bybit: error:handler not found,topic:{topic}")
        session.kinds.add(parts[0])
    return [json.dumps({"success": True, "ret_msg": "", "conn_id": "loopback", "req_id": obj.get("req_id", ""),
                        "op": "subscribe"})]


def check_rest(venue: str, path: str, symbol: str) -> None:
    """A Binance REST depth request: path and parameters; raises :class:`ProtocolError`."""
    parts = urlsplit(path)
    want = BINANCE_REST.get(venue)
    if want is None or parts.path != want:
        raise ProtocolError(f"{venue}: no REST endpoint {parts.path!r} (depth is {want!r})", 404)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if sorted(params) not in (["symbol"], ["limit", "symbol"]) or len(parse_qsl(parts.query)) != len(params):
        raise ProtocolError(f"{venue}: depth takes symbol and limit only, got {parts.query!r}")
    if params["symbol"] != symbol:
        raise ProtocolError(f"{venue}: invalid symbol {params['symbol']!r} (expected {symbol!r})")
    if "limit" in params:
        lim = params["limit"]
        ok = lim.isdigit() and (int(lim) in _FUTURES_LIMITS if venue != "binance-spot" else 1 <= int(lim) <= 5000)
        if not ok:
            raise ProtocolError(f"{venue}: invalid limit {lim!r}")
