"""Hyperliquid captures -> paraphina events: ``l2Book`` and ``trades`` frames, funding history.

Inputs (any mix, in order; the kind of each file is recognised by its content):

* Raw WebSocket captures, ``<local_receive_ts_ns> <json>`` per line (gzip or plain), as recorded
  by hftbacktest's collector: ``{"channel": "l2Book" | "trades", "data": ...}``; also
  ``activeAssetCtx`` frames (funding and mark/oracle prices, as ``paraphina record`` subscribes).
* The REST ``fundingHistory`` answer: either a VCR cassette (YAML, ``interactions:``; the
  answer is the response body of the request whose body has ``"type": "fundingHistory"``), or
  the bare JSON list.

Traps, and what this importer does about each:

1. **Every ``l2Book`` frame is a full book** (``data.levels = [bids_desc, asks_asc]``, levels
   ``{"px", "sz", "n"}``) and there is no sequence number: each frame becomes a
   ``BookSnapshot`` with ``venue_seq = -1``. No deltas, so no gaps can be detected; identical
   consecutive frames (the venue re-sends) are kept, as received.
2. **The first ``trades`` frame back-fills older trades** on subscribe: they are not new prints.
   The subscription moment is taken as the exchange time (``data.time``) of the first
   ``l2Book`` frame (the recorder subscribes to both together); trades with an earlier
   exchange ``time`` are skipped and counted (``trades_skipped_backfill``). When a ``trades``
   frame arrives before any ``l2Book`` frame, it is treated entirely as back-fill. Trades
   repeated by ``tid`` are skipped too (``trades_skipped_duplicate``).
3. ``side`` is the aggressor: ``"B"`` buy, ``"A"`` sell.
4. **Funding history** records ``{coin, fundingRate, premium, time}`` become ``FundingRate``
   events at ``ts_ns = time * 1e6`` (the settlement time of that rate; there is no receive
   time) with ``next_funding_ts_ns = ts_ns``: the record *is* a settlement, paid at once (the
   simulated exchange settles it on arrival and schedules nothing after it). Hyperliquid settled every 8 h
   until 2023-06-08 and hourly after: ``interval_ms`` is the gap to the previous record
   rounded to the hour (the first record takes the gap to the next one). Only records of the
   log's coin are imported. A funding file mixed with a WS capture of another period is
   ordered by time like everything else.
5. Prices and sizes are exact decimals: BTC has ``szDecimals = 5`` (lot ``0.00001``) and, as
   a perp, at most ``6 - szDecimals = 1`` price decimal (tick ``0.1``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import msgspec

from paraphina import events as ev
from paraphina.importers.common import (
    BadInput, BadRecord, ImportContext, ImportOptions, Units, iter_lines, make_instrument, open_text_members, peek_objects, split_ts_line,
)

SOURCE = "hyperliquid"
DEFAULTS = {"BTC": dict(tick_size="0.1", lot_size="0.00001", kind="perp", base="BTC", quote="USD")}
HOUR_MS = 3_600_000
SEEN_TIDS = 100_000  # trade ids remembered for the duplicate check (bounded: live feeds run for days)

_decode = msgspec.json.Decoder().decode


def _is_funding_file(path: str) -> bool:
    for _name, stream, _c in open_text_members(path):
        head = stream.read(256).lstrip()
        return head.startswith(b"interactions:") or head.startswith(b"[")
    return False


def load_funding_records(path: str) -> list[dict]:
    """The ``fundingHistory`` records in a VCR cassette (YAML) or a bare JSON answer."""
    import yaml

    chunks = []
    for _name, stream, _c in open_text_members(path):
        chunks.append(stream.read())
    text = b"".join(chunks)
    if text.lstrip().startswith(b"["):
        try:
            records = _decode(text)
        except msgspec.DecodeError as exc:
            raise BadInput(f"{path}: malformed fundingHistory JSON ({exc})") from None
    else:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BadInput(f"{path}: not a readable YAML cassette ({str(exc).splitlines()[0]})") from None
        records = None
        for i, inter in enumerate((doc or {}).get("interactions", []) if isinstance(doc, dict) else []):
            try:
                body = _decode(inter["request"]["body"] or "{}")
            except (KeyError, TypeError, msgspec.DecodeError):
                continue
            if isinstance(body, dict) and body.get("type") == "fundingHistory":
                try:
                    records = _decode(inter["response"]["body"]["string"])
                except (KeyError, TypeError, msgspec.DecodeError) as exc:
                    raise BadInput(f"{path}: interaction {i}: fundingHistory response is not JSON ({exc})") from None
                break
        if records is None:
            raise BadInput(f"{path}: no fundingHistory interaction in the cassette")
    if not isinstance(records, list):
        raise BadInput(f"{path}: fundingHistory answer is not a list")
    return records


def describe(paths: list[str], opts: ImportOptions, ctx: ImportContext) -> ev.Instrument:
    coin = opts.instrument
    prices: list[str] = []
    sizes: list[str] = []
    for path in paths:
        if _is_funding_file(path):
            if coin is None:
                recs = load_funding_records(path)
                coin = next((r.get("coin") for r in recs if isinstance(r, dict) and r.get("coin")), None)
            continue
        for _ts, _js, obj in peek_objects([path], SOURCE, 201):
            if obj.get("channel") == "l2Book" and isinstance(obj.get("data"), dict):
                data = obj["data"]
                if coin is None:
                    coin = data.get("coin")
                if data.get("coin") == coin:
                    for side in data.get("levels", []):
                        for lv in side:
                            prices.append(lv["px"])
                            sizes.append(lv["sz"])
        if coin is not None:
            break
    if coin is None:
        raise BadInput(f"{paths[0]}: no Hyperliquid l2Book frame or funding record to name the coin (pass --instrument)")
    default = dict(DEFAULTS.get(coin, dict(tick_size=None, lot_size=None, kind="perp", base=coin, quote="USD")))
    default.update(venue="hyperliquid", symbol=coin)
    return make_instrument(default, opts, ctx, (prices, sizes))


def _funding_events(path: str, coin: str, ctx: ImportContext) -> list[ev.FundingRate]:
    recs = []
    for i, r in enumerate(load_funding_records(path)):
        where = f"{path}: record {i}"
        try:
            if r["coin"] != coin:
                ctx.count("funding_other_coin")
                continue
            t = int(r["time"])
            rate = float(_checked_decimal(r["fundingRate"]))
        except (KeyError, TypeError, ValueError) as exc:
            ctx.bad(where, f"malformed funding record ({type(exc).__name__}: {exc})")
            continue
        recs.append((t, rate))
    recs.sort(key=lambda x: x[0])
    out = []
    for i, (t, rate) in enumerate(recs):
        if i > 0:
            gap = t - recs[i - 1][0]
        elif len(recs) > 1:
            gap = recs[1][0] - t
        else:
            gap = 8 * HOUR_MS
        interval = max(1, round(gap / HOUR_MS)) * HOUR_MS
        out.append(ev.FundingRate(ts_ns=t * 1_000_000, venue=0, rate=rate, interval_ms=interval,
                                  next_funding_ts_ns=t * 1_000_000))
    ctx.count("funding_records", len(out))
    return out


def _checked_decimal(text) -> str:
    from paraphina.decimals import parse

    if not isinstance(text, str):
        raise ValueError(f"fundingRate is not a decimal string: {text!r}")
    parse(text)  # raises on anything that is not a plain decimal
    return text


class HyperliquidReader:
    """Per-frame parser of the WebSocket ``l2Book``/``trades`` channels, shared by the importer
    and the live feed (:mod:`paraphina.live.feeds.hyperliquid`): ``on_frame(ts, obj) -> events``."""

    def __init__(self, instrument: ev.Instrument, ctx: ImportContext) -> None:
        self.ctx = ctx
        self.units = Units.of(instrument)
        self.coin = instrument.symbol
        self.sub_time_ms: int | None = None
        self.seen_tids: set[int] = set()
        self.seen_order: deque[int] = deque()
        self.last_funding: str | None = None
        self.last_mark: tuple[int, int, int] | None = None
        self.crossed = 0

    def on_frame(self, ts: int, obj) -> list[ev.Event]:
        if not isinstance(obj, dict):
            raise BadRecord("not a JSON object")
        ch = obj.get("channel")
        data = obj.get("data")
        if ch == "l2Book":
            return self.on_book(ts, data)
        if ch == "trades":
            return self.on_trades(ts, data)
        if ch == "activeAssetCtx":
            return self.on_asset_ctx(ts, data)
        self.ctx.count("ignored_messages")
        return []

    def on_asset_ctx(self, ts: int, data) -> list[ev.Event]:
        """``activeAssetCtx`` (perp): ``ctx.funding`` (hourly rate), ``ctx.markPx``, ``ctx.oraclePx``.

        Emits ``FundingRate`` (interval 1 h) when the rate changes and ``MarkPrice`` (index = oracle
        price) when either price changes; the venue re-sends the context every block. Mark and
        oracle prices are off the order grid: kept exactly (``MarkPrice.sub_tick_digits``).
        """
        try:
            if data["coin"] != self.coin:
                self.ctx.count("other_coin_messages")
                return []
            c = data["ctx"]
            funding = _checked_decimal(c["funding"])
            (mark, oracle), digits = self.units.fine_px(c["markPx"], c.get("oraclePx") or None)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BadRecord("activeAssetCtx frame without coin and ctx.funding, ctx.markPx") from None
        out: list[ev.Event] = []
        if funding != self.last_funding:
            self.last_funding = funding
            out.append(ev.FundingRate(ts_ns=self.ctx.stamp(ts), venue=0, rate=float(funding), interval_ms=HOUR_MS))
        if (mark, oracle, digits) != self.last_mark:
            self.last_mark = (mark, oracle, digits)
            out.append(ev.MarkPrice(ts_ns=self.ctx.stamp(ts), venue=0, mark_price=mark, index_price=oracle,
                                    sub_tick_digits=digits))
        return out

    def on_book(self, ts: int, data) -> list[ev.Event]:
        try:
            if data["coin"] != self.coin:
                self.ctx.count("other_coin_messages")
                return []
            bids, asks = data["levels"]
            t = int(data["time"])
            bpx, bsz = self.units.levels([(lv["px"], lv["sz"]) for lv in bids])
            apx, asz = self.units.levels([(lv["px"], lv["sz"]) for lv in asks])
        except (KeyError, TypeError, ValueError):
            raise BadRecord("l2Book frame without coin, time and levels [[bids], [asks]] of {px, sz}") from None
        if self.sub_time_ms is None:
            self.sub_time_ms = t
        if bpx and apx and max(bpx) >= min(apx):
            self.crossed += 1
        return [ev.BookSnapshot(ts_ns=self.ctx.stamp(ts), venue=0, bid_px=bpx, bid_sz=bsz, ask_px=apx, ask_sz=asz)]

    def on_trades(self, ts: int, data) -> list[ev.Event]:
        if not isinstance(data, list):
            raise BadRecord("trades frame whose data is not a list")
        out = []
        for tr in data:
            try:
                if tr["coin"] != self.coin:
                    self.ctx.count("other_coin_messages")
                    continue
                t = int(tr["time"])
                tid = int(tr["tid"])
                side = {"B": ev.BUY, "A": ev.SELL}[tr["side"]]
                px = self.units.px(tr["px"])
                sz = self.units.sz(tr["sz"])
            except (KeyError, TypeError, ValueError):
                raise BadRecord("trade without coin, time, tid, side B/A, px, sz") from None
            if self.sub_time_ms is None or t < self.sub_time_ms:
                self.ctx.count("trades_skipped_backfill")
                continue
            if tid in self.seen_tids:
                self.ctx.count("trades_skipped_duplicate")
                continue
            self.seen_tids.add(tid)
            self.seen_order.append(tid)
            if len(self.seen_order) > SEEN_TIDS:
                self.seen_tids.discard(self.seen_order.popleft())
            out.append(ev.Trade(ts_ns=self.ctx.stamp(ts), venue=0, price=px, size=sz, side=side, trade_id=str(tid)))
        return out


def read(paths: list[str], opts: ImportOptions, ctx: ImportContext, instrument: ev.Instrument) -> Iterator[ev.Event]:
    ws_paths = [p for p in paths if not _is_funding_file(p)]
    funding: list[ev.Event] = []
    for p in paths:
        if p not in ws_paths:
            ctx.summary.files.append(p.rsplit("/", 1)[-1])
            funding.extend(_funding_events(p, instrument.symbol, ctx))
            ctx.summary.messages += 1
    r = HyperliquidReader(instrument, ctx)

    def ws_events() -> Iterator[ev.Event]:
        for name, lineno, line in iter_lines(ws_paths, ctx):
            ctx.summary.messages += 1
            where = f"{name}:{lineno}"
            ts, js = split_ts_line(line)
            if ts is None:
                ctx.bad(where, "line does not start with '<local_ts_ns> '")
                continue
            try:
                obj = _decode(js)
            except msgspec.DecodeError as exc:
                ctx.bad(where, f"malformed JSON ({exc})")
                continue
            try:
                out = r.on_frame(ts, obj)
            except BadRecord as exc:
                ctx.bad(where, str(exc))
                continue
            yield from out

    # Funding records and WS frames are ordered by time together (funding first on ties).
    fi = 0
    for e in ws_events():
        while fi < len(funding) and funding[fi].ts_ns <= e.ts_ns:
            yield funding[fi]
            fi += 1
        yield e
    yield from funding[fi:]
    ctx.check("crossed_books", r.crossed)
