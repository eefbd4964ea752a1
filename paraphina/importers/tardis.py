"""Tardis.dev CSV datasets -> paraphina events: ``incremental_book_L2``, ``trades``, ``book_snapshot_N``.

Each file's kind is recognised by its header (gzip or plain):

* ``incremental_book_L2``: ``exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount``
* ``trades``: ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount``
* ``book_snapshot_N``: ``exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,...``

Several files (several kinds, or consecutive days) are merged by ``local_timestamp``, ties in
the order the files were given, so a book file and a trades file of one day make one log.

Traps, and what this importer does about each:

1. **Timestamps are microseconds**; ``ts_ns = local_timestamp * 1000`` (the receive time, as
   for every other source); ``timestamp`` (exchange time) is not used.
2. **Snapshot runs replace the book.** Consecutive ``is_snapshot=true`` rows with the same
   ``local_timestamp`` are one ``BookSnapshot``. Tardis inserts synthetic ones at the start of
   every day and after each reconnection of its recorder; each resets the book.
3. **Incremental rows** with the same ``local_timestamp`` form one ``BookDelta``. Tardis gives
   no sequence numbers, so ``venue_seq = prev_venue_seq = -1``: gaps cannot be detected from
   the data, only inferred by Tardis (it then emits a new snapshot run). ``amount`` 0 deletes.
4. ``book_snapshot_N`` rows are each a full top-N ``BookSnapshot``; empty cells (a thin book)
   are skipped.
5. ``trades.side`` is the aggressor (``buy``/``sell``); ``unknown`` (some venues do not say)
   has no paraphina side: such trades are skipped and counted (``trades_skipped_unknown_side``).
6. Amounts are in the venue's own unit (contracts of 10 USD on Deribit BTC-PERPETUAL, 1 USD on
   BitMEX XBTUSD: ``Instrument.contract_size``); only rows of one symbol are imported
   (``--instrument``, default the first symbol seen).
"""

from __future__ import annotations

import csv
import heapq
import io
from collections.abc import Iterator

from paraphina import events as ev
from paraphina.importers.common import (
    BadInput, BadRecord, ImportContext, ImportOptions, Units, make_instrument, open_text_members,
)

SOURCE = "tardis"
DEFAULTS = {
    ("deribit", "BTC-PERPETUAL"): dict(tick_size="0.5", lot_size="10", kind="inverse-perp", base="BTC", quote="USD", contract_size="1"),
    ("bitmex", "XBTUSD"): dict(tick_size="0.5", lot_size="1", kind="inverse-perp", base="BTC", quote="USD", contract_size="1"),
}
INCREMENTAL = ["exchange", "symbol", "timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount"]
TRADES = ["exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price", "amount"]
SNAPSHOT_PREFIX = ["exchange", "symbol", "timestamp", "local_timestamp"]


def _kind(header: list[str], path: str) -> str:
    if header == INCREMENTAL:
        return "incremental_book_L2"
    if header == TRADES:
        return "trades"
    if header[:4] == SNAPSHOT_PREFIX and len(header) > 4 and header[4].startswith(("asks[0]", "bids[0]")):
        return "book_snapshot"
    raise BadInput(f"{path}:1: not a Tardis incremental_book_L2, trades or book_snapshot_N header: {','.join(header[:8])}")


def _rows(path: str) -> Iterator[tuple[str, int, list[str], list[str]]]:
    """``(name, line number, header, row)`` for every data row of ``path``."""
    for name, stream, _c in open_text_members(path):
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            raise BadInput(f"{name}: empty CSV file") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise BadInput(f"{name}:1: unreadable CSV header ({exc})") from None
        try:
            for row in reader:
                if row:
                    yield name, reader.line_num, header, row
        except (UnicodeDecodeError, csv.Error) as exc:
            raise BadInput(f"{name}:{reader.line_num}: unreadable CSV ({exc})") from None


def describe(paths: list[str], opts: ImportOptions, ctx: ImportContext) -> ev.Instrument:
    exchange = symbol = None
    prices: list[str] = []
    sizes: list[str] = []
    for path in paths:
        for n, (name, _ln, header, row) in enumerate(_rows(path)):
            kind = _kind(header, name)
            if n > 1000:
                break
            if len(row) < 4:
                continue
            if symbol is None and (opts.instrument is None or row[1] == opts.instrument):
                exchange, symbol = row[0], row[1]
            if row[1] != symbol:
                continue
            if kind == "book_snapshot":
                prices.extend(v for v in row[4::2] if v)
                sizes.extend(v for v in row[5::2] if v)
            elif len(row) >= 8:
                prices.append(row[6])
                sizes.append(row[7])
    if symbol is None:
        raise BadInput(f"{paths[0]}: no data rows" + (f" for symbol {opts.instrument}" if opts.instrument else ""))
    default = dict(DEFAULTS.get((exchange, symbol), dict(tick_size=None, lot_size=None, kind="perp")))
    default.update(venue=exchange, symbol=symbol)
    return make_instrument(default, opts, ctx, (prices, sizes))


def _file_events(path: str, k: int, symbol: str, units: Units, ctx: ImportContext) -> Iterator[tuple[int, int, int, ev.Event]]:
    """``(ts_ns, file index, order, event)`` of one file; rows grouped into messages."""
    order = 0
    group: list[tuple[int, int]] | None = None  # (ts, is_snapshot) of the open run
    bids: tuple[list[int], list[int]] = ([], [])
    asks: tuple[list[int], list[int]] = ([], [])

    def flush():
        ts, snap = group
        if snap:
            return ev.BookSnapshot(ts_ns=ts, venue=0, bid_px=bids[0], bid_sz=bids[1], ask_px=asks[0], ask_sz=asks[1])
        return ev.BookDelta(ts_ns=ts, venue=0, bid_px=bids[0], bid_sz=bids[1], ask_px=asks[0], ask_sz=asks[1])

    for name, lineno, header, row in _rows(path):
        kind = _kind(header, name)
        ctx.summary.messages += 1
        where = f"{name}:{lineno}"
        if len(row) != len(header):
            ctx.bad(where, f"{len(row)} fields, header has {len(header)}")
            continue
        if row[1] != symbol:
            ctx.count("other_symbol_rows")
            continue
        try:
            ts = int(row[3]) * 1000
            if kind == "incremental_book_L2":
                snap = {"true": True, "false": False}[row[4]]
                side = {"bid": 0, "ask": 1}[row[5]]
                px, sz = units.px(row[6]), units.sz(row[7])
            elif kind == "trades":
                side_s = row[5]
                if side_s not in ("buy", "sell", "unknown"):
                    raise BadRecord(f"trade side {side_s!r} is not buy, sell or unknown")
                px, sz = units.px(row[6]), units.sz(row[7])
            else:
                levels = {"bids": ([], []), "asks": ([], [])}
                for col, val in zip(header[4:], row[4:]):
                    if not val:
                        continue
                    which, _, field = col.partition("[")
                    if field.endswith("].price"):
                        levels[which][0].append(units.px(val))
                    else:
                        levels[which][1].append(units.sz(val))
                if any(len(p) != len(s) for p, s in levels.values()):
                    raise BadRecord("book snapshot row with a price but no amount (or the reverse)")
        except (ValueError, KeyError) as exc:
            ctx.bad(where, f"malformed row ({type(exc).__name__}: {exc})")
            continue
        except BadRecord as exc:
            ctx.bad(where, str(exc))
            continue
        if kind == "incremental_book_L2":
            if group is not None and group != (ts, snap):
                yield group[0], k, order, flush()
                order += 1
                bids, asks = ([], []), ([], [])
            group = (ts, snap)
            target = bids if side == 0 else asks
            target[0].append(px)
            target[1].append(sz)
        elif kind == "trades":
            if side_s == "unknown":
                ctx.count("trades_skipped_unknown_side")
                continue
            yield ts, k, order, ev.Trade(ts_ns=ts, venue=0, price=px, size=sz, side=ev.BUY if side_s == "buy" else ev.SELL,
                                         trade_id=row[4])
            order += 1
        else:
            yield ts, k, order, ev.BookSnapshot(ts_ns=ts, venue=0, bid_px=levels["bids"][0], bid_sz=levels["bids"][1],
                                                ask_px=levels["asks"][0], ask_sz=levels["asks"][1])
            order += 1
    if group is not None:
        yield group[0], k, order, flush()


def read(paths: list[str], opts: ImportOptions, ctx: ImportContext, instrument: ev.Instrument) -> Iterator[ev.Event]:
    units = Units.of(instrument)
    for p in paths:
        ctx.summary.files.append(p.rsplit("/", 1)[-1])
    streams = [_file_events(p, k, instrument.symbol, units, ctx) for k, p in enumerate(paths)]
    for ts, _k, _o, e in heapq.merge(*streams, key=lambda x: (x[0], x[1], x[2])):
        stamped = ctx.stamp(ts)
        yield e if stamped == ts else _restamp(e, stamped)


def _restamp(e: ev.Event, ts: int) -> ev.Event:
    import msgspec

    return msgspec.structs.replace(e, ts_ns=ts)
