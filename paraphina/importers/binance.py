"""Binance raw captures (USD-M futures, COIN-M futures, spot) -> paraphina events.

Input: one message per line, ``<local_receive_ts_ns> <json>``, gzip or plain, as recorded by
hftbacktest's collector (``data/real/binance``). Frames use the combined-stream envelope
``{"stream": "btcusdt@depth@0ms", "data": {...}}``; the REST depth snapshot is a bare object
with ``lastUpdateId``. Several files are one continuous stream, in the order given.

Output events (venue index 0 of a one-venue log):

* one ``BookSnapshot`` (``venue_seq = lastUpdateId``) when the book is synchronised;
* one ``BookDelta`` per applied ``depthUpdate`` carrying all of that message's levels, with
  continuity normalised for the engine: ``venue_seq = u`` and ``prev_venue_seq`` = the ``u``
  (or the snapshot's ``lastUpdateId``) of the book state it applies onto. So "``prev_venue_seq``
  differs from the book's ``venue_seq``" means a gap for futures and spot alike;
* a ``Trade`` per ``trade`` message (aggressor side from ``m``: buyer is maker -> sell);
* a ``GapDetected`` when the continuity chain breaks.

Traps, and what this importer does about each:

1. **The snapshot arrives after some diffs.** The recorder subscribes to the diff stream, then
   asks REST for a snapshot; diffs received before it are buffered and replayed onto it. Those
   replayed diffs are stamped with the snapshot's receive time: they only become usable then,
   and it keeps ``ts_ns`` non-decreasing (merge orders venues by it).
2. **Futures sync** (USD-M, COIN-M: diffs carry ``pu``): drop diffs with ``u < lastUpdateId``;
   the first applied diff must satisfy ``U <= lastUpdateId <= u``; after that every diff must
   have ``pu == previous u``.
3. **Spot sync** (no ``pu``): drop diffs with ``u <= lastUpdateId``; the first applied diff must
   satisfy ``U <= lastUpdateId + 1 <= u``; after that ``U == previous u + 1``.
4. **Gaps.** A break emits ``GapDetected`` (futures: ``expected`` = previous ``u``, ``received`` =
   ``pu``; spot: ``expected`` = previous ``u + 1``, ``received`` = ``U``; at sync:
   ``expected = lastUpdateId`` (+1 for spot), ``received = U`` of the first diff that is too new).
   The book is then invalid: no deltas are emitted and diffs are buffered (the last
   :data:`RESYNC_BUFFER` of them) until the next REST snapshot, which resynchronises exactly as
   at the start. These captures hold a single snapshot, so after a gap the rest of the book
   stream is not imported (``diffs_unapplied`` in the summary counts it); trades still are.
5. **Size "0" deletes a level.** Prices and sizes are decimal strings, parsed exactly to ticks
   and lots (``paraphina.decimals``); a value off the instrument's grid is a bad line.
6. **bookTicker is a cross-check, not an event.** Each ``bookTicker`` carries the update id
   ``u`` its best bid/ask belongs to. When a diff ends at that same id, the importer compares
   the rebuilt book's best bid/ask (price and size) with it: ``book_ticker_checked`` /
   ``book_ticker_matched`` in the summary (tickers between two diff ids are not comparable;
   a ticker may arrive before or after its diff, both are compared). The narrower count of
   tickers that arrive while the book sits at their id (the README's "126 of 126" for USD-M) is
   ``book_ticker_at_arrival_checked`` / ``_matched``.
   Every applied diff is also checked for a crossed book (``crossed_books``).
7. **COIN-M sizes are contracts** (BTCUSD_PERP: 100 USD each, other COIN-M symbols 10 USD).
   By default sizes stay in contracts (lot ``1``, ``Instrument.contract_size = "100"``). With
   ``--contract-size-to-base`` each size becomes ``contracts * contract_size / price`` in BTC,
   rounded half-to-even to 1e-8 (lot ``0.00000001``): inexact by nature, so documented here.
8. **Exchange time** ``E``/``T`` ran ~1.27 s ahead of the recorder clock in these captures; it is
   not used: ``ts_ns`` is always the local receive time (the key for merging venues).
9. Futures ``trade`` frames carry ``X`` (``MARKET``, ``INSURANCE_FUND``, ``ADL``...); only market
   trades are public prints, others are counted (``trades_skipped_non_market``) and skipped.
10. **Mark price and funding** (futures ``markPriceUpdate``, as ``paraphina record`` subscribes):
    ``FundingRate`` when the rate or next funding time changes, ``MarkPrice`` when mark or index
    changes; mark and index carry more decimals than the tick and are kept exactly
    (``MarkPrice.sub_tick_digits``); only book and trade prices must be on the tick grid.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator
from fractions import Fraction

import msgspec

from paraphina import events as ev
from paraphina.decimals import Grid, to_fraction
from paraphina.importers.common import (
    BadInput, BadRecord, ImportContext, ImportOptions, Units, iter_lines, make_instrument, peek_objects, split_ts_line,
)

SOURCE = "binance"
RESYNC_BUFFER = 200_000
PEEK_LINES = 5_000
HISTORY = 100_000  # diff end ids remembered for the bookTicker cross-check

# Grids checked against the captures: the finest decimals present (USD-M prices have 1
# significant decimal, sizes 3; COIN-M whole contracts; spot sizes go down to 1e-6 on a few
# far levels, legacy of an older step size, so the spot lot is 0.000001, not 0.00001).
DEFAULTS: dict[tuple[str, str], dict] = {
    ("usdm", "BTCUSDT"): dict(tick_size="0.1", lot_size="0.001", min_notional="100", kind="perp", base="BTC", quote="USDT"),
    ("coinm", "BTCUSD_PERP"): dict(tick_size="0.1", lot_size="1", kind="inverse-perp", base="BTC", quote="USD"),
    ("spot", "BTCUSDT"): dict(tick_size="0.01", lot_size="0.000001", min_notional="5", kind="spot", base="BTC", quote="USDT"),
}
VENUE_NAMES = {"usdm": "binance-usdm", "coinm": "binance-coinm", "spot": "binance-spot"}
COINM_CONTRACT_USD = {"BTCUSD": 100}
COINM_DEFAULT_CONTRACT_USD = 10
BASE_LOT = "0.00000001"

_decode = msgspec.json.Decoder().decode


def _market_of(data: dict) -> str:
    if "pu" in data:
        return "coinm" if "ps" in data or "_" in str(data.get("s", "")) else "usdm"
    return "spot"


def describe(paths: list[str], opts: ImportOptions, ctx: ImportContext) -> ev.Instrument:
    """Peek at the first messages for the market (USD-M, COIN-M, spot) and symbol."""
    market = symbol = None
    prices: list[str] = []
    sizes: list[str] = []
    for _ts, _js, obj in peek_objects(paths, SOURCE, PEEK_LINES):
        data = obj.get("data")
        if "lastUpdateId" in obj:
            for side in ("bids", "asks"):
                for row in obj.get(side, [])[:200]:
                    prices.append(row[0])
                    sizes.append(row[1])
        elif isinstance(data, dict) and data.get("e") == "depthUpdate":
            s = data.get("s")
            if opts.instrument and s != opts.instrument:
                continue
            if market is None:
                market, symbol = _market_of(data), s
            for side in ("b", "a"):
                for row in data.get(side, []):
                    prices.append(row[0])
                    sizes.append(row[1])
        if market is not None and len(prices) > 400:
            break
    ctx.summary.files.clear()
    if market is None:
        raise BadInput(f"{paths[0]}: no Binance depthUpdate message in the first {PEEK_LINES} lines"
                       + (f" for symbol {opts.instrument}" if opts.instrument else ""))
    default = dict(DEFAULTS.get((market, symbol), dict(tick_size=None, lot_size=None,
                                                       kind={"usdm": "perp", "coinm": "inverse-perp", "spot": "spot"}[market])))
    default.update(venue=VENUE_NAMES[market], symbol=symbol)
    if market == "coinm":
        cs = COINM_CONTRACT_USD.get(symbol.split("_")[0], COINM_DEFAULT_CONTRACT_USD)
        if opts.contract_size_to_base:
            default.update(lot_size=BASE_LOT, kind="inverse-perp")
            ctx.note(f"COIN-M sizes converted from contracts of {cs} USD to BTC (rounded half-even to {BASE_LOT})")
        else:
            default.update(contract_size=str(cs))
            ctx.note(f"COIN-M sizes are contracts of {cs} USD (pass --contract-size-to-base for base-asset sizes)")
    elif opts.contract_size_to_base:
        ctx.note("--contract-size-to-base has no effect: sizes are already in the base asset")
    return make_instrument(default, opts, ctx, (prices, sizes))


class _Side:
    """One side of the importer's own book: a dict plus a lazily maintained best price."""

    __slots__ = ("levels", "best", "dirty", "bid")

    def __init__(self, bid: bool) -> None:
        self.levels: dict[int, int] = {}
        self.best: int | None = None
        self.dirty = False
        self.bid = bid

    def reset(self, pxs: list[int], szs: list[int]) -> None:
        self.levels = {p: s for p, s in zip(pxs, szs) if s}
        self.dirty = True

    def apply(self, pxs: list[int], szs: list[int]) -> None:
        levels = self.levels
        best = self.best
        bid = self.bid
        for p, s in zip(pxs, szs):
            if s:
                levels[p] = s
                if best is None or (p > best if bid else p < best):
                    best = p
            elif levels.pop(p, None) is not None and p == best:
                self.dirty = True
        self.best = best

    def top(self) -> tuple[int, int] | None:
        if self.dirty:
            lv = self.levels
            self.best = (max(lv) if self.bid else min(lv)) if lv else None
            self.dirty = False
        if self.best is None:
            return None
        return self.best, self.levels[self.best]


class _Diff:
    __slots__ = ("ts", "where", "U", "u", "pu", "bpx", "bsz", "apx", "asz")

    def __init__(self, ts, where, U, u, pu, bpx, bsz, apx, asz) -> None:
        self.ts, self.where, self.U, self.u, self.pu = ts, where, U, u, pu
        self.bpx, self.bsz, self.apx, self.asz = bpx, bsz, apx, asz


UNSYNCED, AWAIT_FIRST, SYNCED = 0, 1, 2


class BinanceReader:
    """The sync state machine and the importer's own book (see the module docstring), shared
    by the importer and the live feed (:mod:`paraphina.live.feeds.binance`):
    ``on_line(ts, where, obj) -> events`` for a stream frame or a REST depth snapshot."""

    def __init__(self, instrument: ev.Instrument, opts: ImportOptions, ctx: ImportContext, *,
                 cross_check: bool = True) -> None:
        """``cross_check=False`` (a live feed, which subscribes to no ``bookTicker``) keeps no
        history of tops, so memory stays flat however long the stream runs."""
        self.ctx = ctx
        self.cross_check = cross_check
        self.units = Units.of(instrument)
        self.symbol = instrument.symbol
        self.convert = opts.contract_size_to_base and instrument.kind == "inverse-perp" and instrument.lot_size == BASE_LOT
        if self.convert:
            self.contracts = Units(self.units.price, Grid("1"))
            cs = COINM_CONTRACT_USD.get(self.symbol.split("_")[0], COINM_DEFAULT_CONTRACT_USD)
            self._contract_value = Fraction(cs)
            self._tick = self.units.price.step_fraction
            self._lot = self.units.size.step_fraction
            self._conv_cache: dict[tuple[int, int], int] = {}
        self.state = UNSYNCED
        self.buffer: deque[_Diff] = deque(maxlen=RESYNC_BUFFER)
        self.last_u = -1
        self.snap_id = -1
        self.bids = _Side(True)
        self.asks = _Side(False)
        self.hist: dict[int, tuple] = {}
        self.hist_order: deque[int] = deque()
        self.pending: dict[int, tuple] = {}
        self.pending_heap: list[int] = []
        self.checked = self.matched = self.crossed = 0
        self.at_arrival_checked = self.at_arrival_matched = 0
        self.mismatches: list[str] = []
        self.ever_synced = False
        self.last_funding: tuple | None = None
        self.last_mark: tuple[int, int, int] | None = None

    # -- sizes -------------------------------------------------------------------------------
    def _levels(self, rows) -> tuple[list[int], list[int]]:
        if not self.convert:
            return self.units.levels(rows)
        pxs, cts = self.contracts.levels(rows)
        return pxs, [self._to_base(p, c) for p, c in zip(pxs, cts)]

    def _to_base(self, px: int, contracts: int) -> int:
        if contracts == 0:
            return 0
        key = (px, contracts)
        v = self._conv_cache.get(key)
        if v is None:
            if px <= 0:
                raise BadRecord(f"price {px} ticks: cannot convert contracts to base at a non-positive price")
            v = round(contracts * self._contract_value / (px * self._tick) / self._lot)
            if len(self._conv_cache) < 500_000:
                self._conv_cache[key] = v
        return v

    def _size(self, px: int, text: str) -> int:
        if not self.convert:
            return self.units.sz(text)
        return self._to_base(px, self.contracts.sz(text))

    # -- messages ----------------------------------------------------------------------------
    def on_line(self, ts: int, where: str, obj) -> Iterator[ev.Event]:
        if not isinstance(obj, dict):
            raise BadRecord("not a JSON object")
        if "lastUpdateId" in obj:
            yield from self.on_snapshot(ts, obj)
            return
        data = obj.get("data")
        if not isinstance(data, dict):
            if "result" in obj and "id" in obj:  # subscription acknowledgement
                self.ctx.count("ignored_messages")
                return
            raise BadRecord("neither a REST depth snapshot nor a stream frame with 'data'")
        s = data.get("s")
        if s is not None and s != self.symbol:
            self.ctx.count("other_symbol_messages")
            return
        e = data.get("e")
        if e == "depthUpdate":
            yield from self.on_diff(ts, where, data)
        elif e == "trade":
            t = self.on_trade(ts, data)
            if t is not None:
                yield t
        elif e == "bookTicker" or ("b" in data and "B" in data and "a" in data and "A" in data and "u" in data):
            self.on_ticker(data)
        elif e == "markPriceUpdate":
            yield from self.on_mark_price(ts, data)
        else:
            self.ctx.count("ignored_messages")

    def on_snapshot(self, ts: int, obj: dict) -> Iterator[ev.Event]:
        try:
            last_id = int(obj["lastUpdateId"])
            bpx, bsz = self._levels(obj["bids"])
            apx, asz = self._levels(obj["asks"])
        except (KeyError, TypeError, ValueError):
            raise BadRecord("REST snapshot without integer lastUpdateId, bids and asks") from None
        ts = self.ctx.stamp(ts)
        self.ctx.count("snapshots")
        self.bids.reset(bpx, bsz)
        self.asks.reset(apx, asz)
        self.snap_id = last_id
        self.last_u = last_id
        self.state = AWAIT_FIRST
        self.hist.clear()
        self.hist_order.clear()
        yield ev.BookSnapshot(ts_ns=ts, venue=0, venue_seq=last_id, bid_px=bpx, bid_sz=bsz, ask_px=apx, ask_sz=asz)
        buffered = list(self.buffer)
        self.buffer.clear()
        for d in buffered:
            d.ts = ts  # usable only from the snapshot's arrival (trap 1)
            yield from self._process(d)

    def on_diff(self, ts: int, where: str, data: dict) -> Iterator[ev.Event]:
        try:
            U = int(data["U"])
            u = int(data["u"])
            pu = int(data["pu"]) if "pu" in data else None
            bpx, bsz = self._levels(data["b"])
            apx, asz = self._levels(data["a"])
        except (KeyError, TypeError, ValueError):
            raise BadRecord("depthUpdate without integer U, u (pu) and level lists b, a") from None
        d = _Diff(self.ctx.stamp(ts), where, U, u, pu, bpx, bsz, apx, asz)
        self.ctx.count("diffs")
        yield from self._process(d)

    def _process(self, d: _Diff) -> Iterator[ev.Event]:
        ctx = self.ctx
        if self.state == UNSYNCED:
            if len(self.buffer) == self.buffer.maxlen:
                ctx.count("diffs_buffer_overflow")
            self.buffer.append(d)
            return
        futures = d.pu is not None
        if self.state == AWAIT_FIRST:
            last_id = self.snap_id
            target = last_id if futures else last_id + 1
            if d.u < target:
                ctx.count("diffs_dropped_before_sync")
                return
            if not (d.U <= target <= d.u):
                yield self._gap(d, expected=target, received=d.U)
                return
            yield self._apply(d, prev=last_id)
            self.state = SYNCED
            self.ever_synced = True
            return
        if futures:
            if d.pu != self.last_u:
                yield self._gap(d, expected=self.last_u, received=d.pu)
                return
        elif d.U != self.last_u + 1:
            yield self._gap(d, expected=self.last_u + 1, received=d.U)
            return
        yield self._apply(d, prev=self.last_u)

    def _gap(self, d: _Diff, expected: int, received: int) -> ev.Event:
        self.state = UNSYNCED
        self.buffer.clear()
        self.buffer.append(d)  # may continue a later snapshot
        self.bids.reset([], [])
        self.asks.reset([], [])
        if "gap_first" not in self.ctx.summary.checks:
            self.ctx.check("gap_first", f"{d.where}: expected {expected}, received {received}")
        return ev.GapDetected(ts_ns=d.ts, venue=0, expected=expected, received=received, source=f"importer:{SOURCE}")

    def _apply(self, d: _Diff, prev: int) -> ev.Event:
        self.bids.apply(d.bpx, d.bsz)
        self.asks.apply(d.apx, d.asz)
        self.last_u = d.u
        bb = self.bids.top()
        ba = self.asks.top()
        if bb is not None and ba is not None and bb[0] >= ba[0]:
            self.crossed += 1
        if not self.cross_check:
            return ev.BookDelta(ts_ns=d.ts, venue=0, venue_seq=d.u, prev_venue_seq=prev,
                                bid_px=d.bpx, bid_sz=d.bsz, ask_px=d.apx, ask_sz=d.asz)
        top = (bb, ba)
        self.hist[d.u] = top
        self.hist_order.append(d.u)
        if len(self.hist_order) > HISTORY:
            self.hist.pop(self.hist_order.popleft(), None)
        heap = self.pending_heap
        while heap and heap[0] <= d.u:
            tid = heapq.heappop(heap)
            t = self.pending.pop(tid, None)
            if t is not None and tid == d.u:
                self._compare(tid, top, t)
        return ev.BookDelta(ts_ns=d.ts, venue=0, venue_seq=d.u, prev_venue_seq=prev,
                            bid_px=d.bpx, bid_sz=d.bsz, ask_px=d.apx, ask_sz=d.asz)

    def on_trade(self, ts: int, data: dict) -> ev.Trade | None:
        x = data.get("X", "MARKET")
        if x != "MARKET":
            self.ctx.count("trades_skipped_non_market")
            return None
        try:
            px = self.units.px(data["p"])
            sz = self._size(px, data["q"])
            side = ev.SELL if data["m"] else ev.BUY
            tid = str(data["t"])
        except KeyError as exc:
            raise BadRecord(f"trade without field {exc}") from None
        return ev.Trade(ts_ns=self.ctx.stamp(ts), venue=0, price=px, size=sz, side=side, trade_id=tid)

    def on_mark_price(self, ts: int, data: dict) -> Iterator[ev.Event]:
        """Futures ``markPriceUpdate`` (``<sym>@markPrice@1s``): ``p`` mark, ``i`` index, ``r``
        funding rate, ``T`` next funding time (ms). ``FundingRate`` (8 h interval) when rate or
        next time changes, ``MarkPrice`` when mark or index changes. Mark and index carry more
        decimals than the tick: kept exactly on a finer grid (``MarkPrice.sub_tick_digits``)."""
        try:
            (mark, index), digits = self.units.fine_px(data["p"], data.get("i") or None)
            rate_text = data.get("r")
            nxt = int(data["T"]) * 1_000_000 if data.get("T") else -1
            if rate_text not in (None, ""):
                to_fraction(rate_text)  # a plain decimal, or a bad record
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BadRecord("markPriceUpdate without decimal p (and i, r, T)") from None
        if rate_text not in (None, "") and (rate_text, nxt) != self.last_funding:
            self.last_funding = (rate_text, nxt)
            yield ev.FundingRate(ts_ns=self.ctx.stamp(ts), venue=0, rate=float(rate_text), next_funding_ts_ns=nxt)
        if (mark, index, digits) != self.last_mark:
            self.last_mark = (mark, index, digits)
            yield ev.MarkPrice(ts_ns=self.ctx.stamp(ts), venue=0, mark_price=mark, index_price=index,
                               sub_tick_digits=digits)

    def on_ticker(self, data: dict) -> None:
        try:
            u = int(data["u"])
            bp = self.units.px(data["b"])
            ap = self.units.px(data["a"])
            t = ((bp, self._size(bp, data["B"])), (ap, self._size(ap, data["A"])))
        except (KeyError, TypeError, ValueError):
            raise BadRecord("bookTicker without u, b, B, a, A") from None
        self.ctx.count("book_ticker_total")
        if self.state != SYNCED:
            return
        if u <= self.last_u:
            top = self.hist.get(u)
            if top is not None:
                self._compare(u, top, t)
                if u == self.last_u:  # the README's count: ticker arrives while the book is at its id
                    self.at_arrival_checked += 1
                    self.at_arrival_matched += top == t
        elif u not in self.pending:
            self.pending[u] = t
            heapq.heappush(self.pending_heap, u)

    def _compare(self, u: int, top: tuple, ticker: tuple) -> None:
        self.checked += 1
        if top == ticker:
            self.matched += 1
        elif len(self.mismatches) < 5:
            self.mismatches.append(f"u={u}: book {top} != bookTicker {ticker}")

    def finish(self) -> None:
        ctx = self.ctx
        ctx.check("book_ticker_checked", self.checked)
        ctx.check("book_ticker_matched", self.matched)
        ctx.check("book_ticker_at_arrival_checked", self.at_arrival_checked)
        ctx.check("book_ticker_at_arrival_matched", self.at_arrival_matched)
        ctx.check("crossed_books", self.crossed)
        if self.state == UNSYNCED and self.buffer:
            ctx.check("diffs_unapplied", len(self.buffer))
            ctx.note("the book stream ended unsynchronised: diffs after the last gap (or with no snapshot) were not imported")
        if not self.ever_synced:
            ctx.note("no snapshot synchronised the book: the log has no book events")
        for m in self.mismatches:
            ctx.note(f"bookTicker mismatch {m}")


def read(paths: list[str], opts: ImportOptions, ctx: ImportContext, instrument: ev.Instrument) -> Iterator[ev.Event]:
    r = BinanceReader(instrument, opts, ctx)
    summary = ctx.summary
    for where_file, lineno, line in iter_lines(paths, ctx):
        summary.messages += 1
        where = f"{where_file}:{lineno}"
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
            # Materialise before yielding: a bad record must not leave half its events out.
            out = list(r.on_line(ts, where, obj))
        except BadRecord as exc:
            ctx.bad(where, str(exc))
            continue
        yield from out
    r.finish()
