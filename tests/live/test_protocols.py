"""Live protocols as the venues speak them (docs/recording.md lists the pages checked).

Two sides, written independently: the feeds' URLs and messages are pinned here literally, and the
loopback server (``paraphina.live.venue_rules``) refuses what the venue would not serve. Changing
a feed's path, stream or subscription fails the first tests; a mistake the server sees fails the
others.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from paraphina.live.capture_server import Capture, CaptureServer
from paraphina.live.feeds import instrument_for, make_feed, parse_venue
from paraphina.live.feeds.base import FeedSettings

KW = dict(clock=None, sink=lambda e: None)


def feed(venue: str, endpoints=None):
    spec = parse_venue(venue)
    return make_feed(0, spec, instrument_for(spec), endpoints or {}, **KW)


def test_binance_urls_as_documented():
    usdm = feed("binance-usdm:BTCUSDT")
    assert usdm.connect_url() == "wss://fstream.binance.com/public/stream?streams=btcusdt@depth@100ms/btcusdt@trade"
    assert [m.connect_url() for m in usdm.market_streams] == [
        "wss://fstream.binance.com/market/stream?streams=btcusdt@markPrice@1s"]
    assert (usdm.rest_url, usdm.rest_path) == ("https://fapi.binance.com", "/fapi/v1/depth")
    coinm = feed("binance-coinm:BTCUSD_PERP")
    assert coinm.connect_url() == ("wss://dstream.binance.com/stream?streams="
                                   "btcusd_perp@depth@100ms/btcusd_perp@trade/btcusd_perp@markPrice@1s")
    assert coinm.market_streams == [] and coinm.rest_path == "/dapi/v1/depth"
    spot = feed("binance-spot:BTCUSDT")
    assert spot.connect_url() == "wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms/btcusdt@trade"
    assert spot.market_streams == [] and (spot.rest_url, spot.rest_path) == ("https://api.binance.com", "/api/v3/depth")


def test_hyperliquid_and_bybit_urls_and_messages_as_documented():
    hl = feed("hyperliquid:BTC")
    assert hl.connect_url() == "wss://api.hyperliquid.xyz/ws"
    assert [json.loads(m) for m in hl.subscribe_messages()] == [
        {"method": "subscribe", "subscription": {"type": t, "coin": "BTC"}} for t in ("l2Book", "trades", "activeAssetCtx")]
    assert json.loads(hl.heartbeat_message) == {"method": "ping"}
    bb = feed("bybit:XRPUSDT")
    assert bb.connect_url() == "wss://stream.bybit.com/v5/public/linear"
    assert [json.loads(m) for m in bb.subscribe_messages()] == [
        {"op": "subscribe", "args": ["orderbook.50.XRPUSDT", "publicTrade.XRPUSDT", "tickers.XRPUSDT"]}]
    assert json.loads(bb.heartbeat_message) == {"op": "ping"}
    # --endpoint is a base; a base that already names the path is kept as it is.
    assert feed("bybit:XRPUSDT", {"bybit": "ws://127.0.0.1:5"}).connect_url() == "ws://127.0.0.1:5/v5/public/linear"
    assert feed("hyperliquid:BTC", {"hyperliquid": "wss://api.hyperliquid.xyz/ws"}).connect_url() == \
        "wss://api.hyperliquid.xyz/ws"


def _capture(kind, symbol, frames, snapshot=None):
    return Capture(kind=kind, frames=[(1_000_000 * (i + 1), json.dumps(f)) for i, f in enumerate(frames)],
                   snapshot=json.dumps(snapshot) if snapshot else None, symbol=symbol)


USDM_CAP = _capture("binance", "BTCUSDT", [
    {"stream": "btcusdt@depth@100ms", "data": {"e": "depthUpdate", "E": 1, "T": 1, "s": "BTCUSDT", "U": 5, "u": 9,
                                                "pu": 4, "b": [["100.0", "1.000"]], "a": [["100.2", "2.000"]]}},
    {"stream": "btcusdt@markPrice@1s", "data": {"e": "markPriceUpdate", "E": 2, "s": "BTCUSDT", "p": "100.12345678",
                                                 "i": "100.1", "P": "100.1", "r": "0.0001", "T": 1}},
], snapshot={"lastUpdateId": 7, "E": 1, "T": 1, "bids": [["100.0", "1.500"]], "asks": [["100.1", "1.000"]]})
HL_CAP = _capture("hyperliquid", "BTC", [
    {"channel": "l2Book", "data": {"coin": "BTC", "time": 1, "levels": [[{"px": "100.0", "sz": "1.0", "n": 1}],
                                                                         [{"px": "100.1", "sz": "1.0", "n": 1}]]}}])
BYBIT_CAP = _capture("bybit", "XRPUSDT", [
    {"topic": "orderbook.50.XRPUSDT", "type": "snapshot", "ts": 1, "data": {"s": "XRPUSDT", "b": [["1.0000", "10"]],
                                                                          "a": [["1.0001", "10"]], "u": 1, "seq": 1}}])


async def _with_server(cap, venue, fn):
    server = await CaptureServer(cap, instrument_for(parse_venue(venue))).start()
    try:
        return await asyncio.wait_for(fn(server), 10), server
    finally:
        await server.close()


def _ws_refused(cap, venue, path):
    async def go(server):
        with pytest.raises(websockets.exceptions.InvalidStatus) as exc:
            async with websockets.connect(server.url + path, open_timeout=5):
                pass
        return exc.value.response.status_code

    status, server = asyncio.run(_with_server(cap, venue, go))
    return status, server.refused


@pytest.mark.parametrize("path, status, why", [
    ("/stream?streams=btcusdt@depth@100ms/btcusdt@trade", 404, "no stream route '/stream'"),      # retired unrouted URL
    ("/public/stream?streams=btcusdt@markPrice@1s", 400, "not served on '/public/stream'"),       # wrong route
    ("/market/stream?streams=btcusdt@depth@100ms", 400, "not served on '/market/stream'"),
    ("/public/stream?streams=BTCUSDT@depth@100ms", 400, "unknown stream"),                      # upper case
    ("/public/stream?streams=btcusdt@depth@100ms&x=1", 400, "exactly one query parameter"),
])
def test_binance_usdm_server_refuses_what_the_venue_does_not_serve(path, status, why):
    got, refused = _ws_refused(USDM_CAP, "binance-usdm:BTCUSDT", path)
    assert got == status and why in refused[0]


def test_spot_has_no_mark_price_and_hyperliquid_bybit_paths_are_checked():
    assert _ws_refused(USDM_CAP, "binance-spot:BTCUSDT", "/stream?streams=btcusdt@markPrice@1s")[0] == 400
    assert _ws_refused(HL_CAP, "hyperliquid:BTC", "/")[0] == 404
    assert _ws_refused(BYBIT_CAP, "bybit:XRPUSDT", "/v5/public/spot")[0] == 404


def test_binance_rest_depth_parameters_are_checked():
    async def go(server):
        base = server.url.replace("ws://", "http://")
        async with httpx.AsyncClient(trust_env=False) as c:
            ok = await c.get(base + "/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": "1000"})
            bad = [await c.get(base + path, params=params) for path, params in (
                ("/fapi/v1/depth", {"symbol": "btcusdt", "limit": "1000"}),
                ("/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": "999"}),
                ("/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": "1000", "extra": "1"}),
                ("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "1000"}))]
        return ok, bad

    (ok, bad), server = asyncio.run(_with_server(USDM_CAP, "binance-usdm:BTCUSDT", go))
    assert ok.status_code == 200 and ok.json()["lastUpdateId"] == 7
    assert [r.status_code for r in bad] == [400, 400, 400, 404]
    assert server.stats.rest_requests == 1


def test_usdm_mark_price_comes_only_on_the_market_route():
    async def go(server):
        got = {}
        for path in ("/public/stream?streams=btcusdt@depth@100ms/btcusdt@trade", "/market/stream?streams=btcusdt@markPrice@1s"):
            async with websockets.connect(server.url + path) as ws:
                got[path.split("/")[1]] = json.loads(await asyncio.wait_for(ws.recv(), 5))["data"]["e"]
        return got

    got, _ = asyncio.run(_with_server(USDM_CAP, "binance-usdm:BTCUSDT", go))
    assert got == {"public": "depthUpdate", "market": "markPriceUpdate"}


@pytest.mark.parametrize("venue, cap, path, good, bad", [
    ("hyperliquid:BTC", HL_CAP, "/ws", {"method": "subscribe", "subscription": {"type": "l2Book", "coin": "BTC"}},
     {"method": "subscribe", "subscription": {"type": "l2book", "coin": "BTC"}}),
    ("bybit:XRPUSDT", BYBIT_CAP, "/v5/public/linear", {"op": "subscribe", "args": ["orderbook.50.XRPUSDT"]},
     {"op": "subscribe", "args": ["orderbook.500.XRPUSDT"]}),
])
def test_subscriptions_and_heartbeats_are_checked(venue, cap, path, good, bad):
    ping = {"method": "ping"} if venue.startswith("hyperliquid") else {"op": "ping"}
    wrong_ping = {"op": "ping"} if venue.startswith("hyperliquid") else {"method": "ping"}

    async def go(server):
        out = {}
        async with websockets.connect(server.url + path) as ws:
            await ws.send(json.dumps(good))
            out["ack"] = json.loads(await ws.recv())
            out["frame"] = json.loads(await ws.recv())
            await ws.send(json.dumps(ping))
            out["pong"] = json.loads(await ws.recv())
            await ws.send(json.dumps(wrong_ping))
            out["error"] = json.loads(await ws.recv())
            with pytest.raises(websockets.exceptions.ConnectionClosedError) as exc:
                await ws.recv()
            out["close"] = exc.value.rcvd.code
        async with websockets.connect(server.url + path) as ws:
            await ws.send(json.dumps(bad))
            out["bad"] = json.loads(await ws.recv())
        return out

    out, server = asyncio.run(_with_server(cap, venue, go))
    if venue.startswith("hyperliquid"):
        assert out["ack"]["channel"] == "subscriptionResponse" and out["frame"]["channel"] == "l2Book"
        assert out["pong"] == {"channel": "pong"}
    else:
        assert out["ack"]["op"] == "subscribe" and out["ack"]["success"] is True
        assert out["frame"]["topic"] == "orderbook.50.XRPUSDT"
        assert out["pong"]["op"] == "ping" and out["pong"]["ret_msg"] == "pong"
    assert "error" in out["error"] and out["close"] == 1008 and "error" in out["bad"]
    assert len(server.refused) == 2
