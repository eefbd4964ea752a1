"""Bybit v5 public WebSocket frames -> paraphina events (``orderbook.N``, ``publicTrade``, ``tickers``).

Input: one frame per line, gzip, zip (every member, in archive order) or plain. A line is either
``<local_receive_ts_ns> <json>`` (the recorder format used for the other venues) or the bare
JSON frame, as in ``data/real/bybit/xrpusdt-ob500.data.zip`` (nautilus_trader's sample).

Traps, and what this importer does about each:

1. **Time.** Bare frames carry no local receive time. ``ts_ns`` is then the frame's ``ts``
   (milliseconds, Bybit's system time when it produced the message) times 1e6; a line with a
   local prefix uses the prefix. Mixing both kinds in one import would mix clocks: don't.
2. **Book continuity.** ``orderbook.N.SYMBOL`` frames are ``snapshot`` or ``delta`` with
   ``data.u`` rising by exactly 1 per message. A ``snapshot`` (and any frame with ``u == 1``,
   which Bybit sends after a service restart) replaces the book: ``BookSnapshot(venue_seq=u)``.
   A delta becomes ``BookDelta(venue_seq=u, prev_venue_seq=previous u)`` when ``u == previous u
   + 1``; otherwise ``GapDetected(expected=previous u + 1, received=u)`` and the book is invalid:
   deltas are dropped (``deltas_dropped_unsynced``) until the next snapshot. Deltas before the
   first snapshot are dropped the same way.
3. Size ``"0"`` deletes a level; prices and sizes are exact decimals on the instrument grid.
4. **``publicTrade``**: ``data`` is a list of ``{T, s, S: "Buy"|"Sell", v, p, i}``; ``S`` is the
   taker side.
5. **``tickers``** sends a snapshot, then deltas carrying only the fields that changed: the
   importer merges them into the last known values. A frame that carries ``fundingRate``,
   ``nextFundingTime`` or ``fundingIntervalHour`` emits ``FundingRate`` (rate, interval,
   next funding time from the merged values); one that carries ``markPrice`` or ``indexPrice``
   emits ``MarkPrice`` (index ``-1`` until known). Mark and index prices are published off the
   tick grid (the venue's own example: ``"markPrice":"17217.33"`` for a 0.1 tick): kept exactly
   (``MarkPrice.sub_tick_digits``), never a bad line.
6. Each frame names its symbol in ``topic``; frames of other symbols are counted and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from paraphina import events as ev
from paraphina.importers.common import (
    BadInput, BadRecord, ImportContext, ImportOptions, Units, iter_lines, make_instrument, peek_objects, split_ts_line,
)

SOURCE = "bybit"
DEFAULTS = {
    "XRPUSDT": dict(tick_size="0.0001", lot_size="1", min_notional="5", kind="perp", base="XRP", quote="USDT"),
    "BTCUSDT": dict(tick_size="0.1", lot_size="0.001", min_notional="5", kind="perp", base="BTC", quote="USDT"),
}

_decode = msgspec.json.Decoder().decode


def _topic(obj: dict) -> tuple[str, str]:
    topic = str(obj.get("topic", ""))
    kind, _, sym = topic.rpartition(".")
    return kind, sym


def describe(paths: list[str], opts: ImportOptions, ctx: ImportContext) -> ev.Instrument:
    symbol = opts.instrument
    prices: list[str] = []
    sizes: list[str] = []
    for _ts, _js, obj in peek_objects(paths, SOURCE, 501):
        if not isinstance(obj.get("data"), dict):
            continue
        kind, sym = _topic(obj)
        if not kind.startswith("orderbook"):
            continue
        if symbol is None:
            symbol = sym
        if sym == symbol:
            for side in ("b", "a"):
                for row in obj["data"].get(side, [])[:200]:
                    prices.append(row[0])
                    sizes.append(row[1])
        if len(prices) > 400:
            break
    ctx.summary.files.clear()
    if symbol is None:
        raise BadInput(f"{paths[0]}: no Bybit orderbook frame in the first lines to name the symbol (pass --instrument)")
    default = dict(DEFAULTS.get(symbol, dict(tick_size=None, lot_size=None, kind="perp")))
    default.update(venue="bybit", symbol=symbol)
    return make_instrument(default, opts, ctx, (prices, sizes))


class BybitReader:
    """Per-frame parser of v5 public frames, shared by the importer and the live feed
    (:mod:`paraphina.live.feeds.bybit`): ``frame(ts, obj) -> events``."""

    def __init__(self, instrument: ev.Instrument, ctx: ImportContext) -> None:
        self.ctx = ctx
        self.units = Units.of(instrument)
        self.symbol = instrument.symbol
        self.last_u: int | None = None  # None: no valid book
        self.ticker: dict = {}
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.crossed = 0

    def frame(self, ts_prefix: int | None, obj) -> list[ev.Event]:
        if not isinstance(obj, dict):
            raise BadRecord("not a JSON object")
        if "topic" not in obj:
            if "op" in obj or "success" in obj:  # subscription acknowledgements, pongs
                self.ctx.count("ignored_messages")
                return []
            raise BadRecord("frame without 'topic'")
        kind, sym = _topic(obj)
        if sym != self.symbol:
            self.ctx.count("other_symbol_messages")
            return []
        try:
            ts = ts_prefix if ts_prefix is not None else int(obj["ts"]) * 1_000_000
        except (KeyError, TypeError, ValueError):
            raise BadRecord("bare frame without integer 'ts' (ms)") from None
        ts = self.ctx.stamp(ts)
        if kind.startswith("orderbook"):
            return self.book(ts, obj)
        if kind == "publicTrade":
            return self.trades(ts, obj)
        if kind == "tickers":
            return self.tickers(ts, obj)
        self.ctx.count("ignored_messages")
        return []

    def book(self, ts: int, obj: dict) -> list[ev.Event]:
        try:
            data = obj["data"]
            typ = obj["type"]
            u = int(data["u"])
            bpx, bsz = self.units.levels(data["b"])
            apx, asz = self.units.levels(data["a"])
        except (KeyError, TypeError, ValueError):
            raise BadRecord("orderbook frame without type, data.u and level lists data.b, data.a") from None
        if typ == "snapshot" or u == 1:
            self.last_u = u
            self.bids = {p: s for p, s in zip(bpx, bsz) if s}
            self.asks = {p: s for p, s in zip(apx, asz) if s}
            self.ctx.count("snapshots")
            self._check_crossed()
            return [ev.BookSnapshot(ts_ns=ts, venue=0, venue_seq=u, bid_px=bpx, bid_sz=bsz, ask_px=apx, ask_sz=asz)]
        if typ != "delta":
            raise BadRecord(f"orderbook frame of unknown type {typ!r}")
        if self.last_u is None:
            self.ctx.count("deltas_dropped_unsynced")
            return []
        if u != self.last_u + 1:
            expected = self.last_u + 1
            self.last_u = None
            return [ev.GapDetected(ts_ns=ts, venue=0, expected=expected, received=u, source=f"importer:{SOURCE}")]
        prev = self.last_u
        self.last_u = u
        for book, pxs, szs in ((self.bids, bpx, bsz), (self.asks, apx, asz)):
            for p, s in zip(pxs, szs):
                if s:
                    book[p] = s
                else:
                    book.pop(p, None)
        self._check_crossed()
        return [ev.BookDelta(ts_ns=ts, venue=0, venue_seq=u, prev_venue_seq=prev, bid_px=bpx, bid_sz=bsz, ask_px=apx, ask_sz=asz)]

    def _check_crossed(self) -> None:
        if self.bids and self.asks and max(self.bids) >= min(self.asks):
            self.crossed += 1

    def trades(self, ts: int, obj: dict) -> list[ev.Event]:
        data = obj.get("data")
        if not isinstance(data, list):
            raise BadRecord("publicTrade frame whose data is not a list")
        out = []
        for tr in data:
            try:
                side = {"Buy": ev.BUY, "Sell": ev.SELL}[tr["S"]]
                out.append(ev.Trade(ts_ns=ts, venue=0, price=self.units.px(tr["p"]), size=self.units.sz(tr["v"]),
                                    side=side, trade_id=str(tr.get("i", ""))))
            except (KeyError, TypeError):
                raise BadRecord("publicTrade entry without S Buy/Sell, p, v") from None
        return out

    def tickers(self, ts: int, obj: dict) -> list[ev.Event]:
        data = obj.get("data")
        if not isinstance(data, dict):
            raise BadRecord("tickers frame whose data is not an object")
        if obj.get("type") == "snapshot":
            self.ticker = {}
        self.ticker.update({k: v for k, v in data.items() if v not in (None, "")})
        t = self.ticker
        out: list[ev.Event] = []
        try:
            if any(k in data for k in ("fundingRate", "nextFundingTime", "fundingIntervalHour")) and "fundingRate" in t:
                from paraphina.decimals import parse

                parse(str(t["fundingRate"]))
                nft = int(t["nextFundingTime"]) * 1_000_000 if "nextFundingTime" in t else -1
                hours = int(t.get("fundingIntervalHour", 8))
                out.append(ev.FundingRate(ts_ns=ts, venue=0, rate=float(t["fundingRate"]), interval_ms=hours * 3_600_000,
                                          next_funding_ts_ns=nft))
            if ("markPrice" in data or "indexPrice" in data) and "markPrice" in t:
                (mark, idx), digits = self.units.fine_px(str(t["markPrice"]), str(t["indexPrice"]) if "indexPrice" in t else None)
                out.append(ev.MarkPrice(ts_ns=ts, venue=0, mark_price=mark, index_price=idx, sub_tick_digits=digits))
        except (TypeError, ValueError) as exc:
            raise BadRecord(f"tickers frame with a malformed field ({exc})") from None
        return out


def read(paths: list[str], opts: ImportOptions, ctx: ImportContext, instrument: ev.Instrument) -> Iterator[ev.Event]:
    r = BybitReader(instrument, ctx)
    prefixed = bare = 0
    for name, lineno, line in iter_lines(paths, ctx):
        ctx.summary.messages += 1
        where = f"{name}:{lineno}"
        ts, js = split_ts_line(line)
        if ts is None:
            bare += 1
        else:
            prefixed += 1
        try:
            obj = _decode(js)
        except msgspec.DecodeError as exc:
            ctx.bad(where, f"malformed JSON ({exc})")
            continue
        try:
            out = r.frame(ts, obj)
        except BadRecord as exc:
            ctx.bad(where, str(exc))
            continue
        for e in out:
            if e.KIND == ev.GapDetected.KIND and "gap_first" not in ctx.summary.checks:
                ctx.check("gap_first", f"{where}: expected {e.expected}, received {e.received}")
            yield e
    ctx.check("crossed_books", r.crossed)
    if bare:
        ctx.note("frames without a local receive time: ts_ns is the frame's 'ts' (Bybit system time, ms)")
    if bare and prefixed:
        ctx.note("some lines had a local time prefix and some did not: two clocks are mixed in this log")
