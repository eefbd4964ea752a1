"""``paraphina export``: a log as plain tables that DuckDB, Polars or pandas read without paraphina.

One table per kind family (:data:`FAMILIES`), decoded: book levels one row each, prices and sizes
as exact decimals (ticks times the venue's tick size, lots times its lot size), timestamps as
UTC nanosecond timestamps next to the raw ``ts_ns``. Written as Parquet or as Arrow IPC *files*
(the random-access format, which ``polars.scan_ipc`` and ``pyarrow.feather`` open), streamed one
log batch at a time so memory stays flat. ``export.json`` records what determined the bytes (the
log's id and event count, the format, the tables and their row counts).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import msgspec
import numpy as np
import pyarrow as pa

from paraphina import events as ev
from paraphina.columns import FLAG_LAST_IN_BATCH, EventColumns
from paraphina.eventlog import LogReader

FORMATS = {"parquet": ".parquet", "arrow-file": ".arrow"}

FAMILIES: dict[str, tuple[type, ...]] = {
    "book": (ev.BookSnapshot, ev.BookDelta),
    "trades": (ev.Trade,),
    "market": (ev.FundingRate, ev.MarkPrice),
    "orders": (ev.Fill, ev.OrderAccepted, ev.OrderRejected, ev.OrderCanceled),
    "account": (ev.BalanceUpdate, ev.PositionSnapshot, ev.FundingPayment),
    "timers": (ev.Timer,),
    "session": (ev.SessionStart, ev.BookReset, ev.GapDetected, ev.OperatorKill, ev.PolicyFault),
}
FAMILY_BY_CODE = {t.KIND: name for name, types in FAMILIES.items() for t in types}

# Integer fields of the cold kinds that are prices in ticks or sizes in lots (-1 means none).
TICK_FIELDS = {"price", "mark_price", "index_price", "liquidation_price"}
LOT_FIELDS = {"size", "position"}

_TS = pa.timestamp("ns", tz="UTC")
_COMMON = [("seq", pa.int64()), ("ts_ns", pa.int64()), ("ts", _TS), ("kind", pa.string())]
_VENUE = [("venue", pa.int16()), ("venue_name", pa.string())]


@dataclass
class Scales:
    """Per-venue multipliers from ticks and lots to the unscaled integers of a decimal column."""

    price_type: pa.Decimal128Type
    size_type: pa.Decimal128Type
    tick_mult: np.ndarray   # int64 per venue: tick_size * 10**price_scale
    lot_mult: np.ndarray
    names: list[str]

    @classmethod
    def of(cls, instruments: Sequence[ev.Instrument]) -> "Scales":
        ticks = [Decimal(i.tick_size) for i in instruments] or [Decimal(1)]
        lots = [Decimal(i.lot_size) for i in instruments] or [Decimal(1)]
        ps = max(0, *(-t.normalize().as_tuple().exponent for t in ticks))
        ss = max(0, *(-x.normalize().as_tuple().exponent for x in lots))
        return cls(pa.decimal128(38, ps), pa.decimal128(38, ss),
                   np.array([int(t.scaleb(ps)) for t in ticks], np.int64),
                   np.array([int(x.scaleb(ss)) for x in lots], np.int64), [i.venue for i in instruments])

    def prices(self, ticks: np.ndarray, venue: np.ndarray) -> pa.Array:
        return _decimals(ticks, venue, self.tick_mult, self.price_type)

    def sizes(self, lots: np.ndarray, venue: np.ndarray) -> pa.Array:
        return _decimals(lots, venue, self.lot_mult, self.size_type)

    def venue_names(self, venue: np.ndarray) -> pa.Array:
        names = pa.array(self.names, pa.string())
        ok = (venue >= 0) & (venue < len(self.names))
        return names.take(pa.array(np.where(ok, venue, 0), mask=~ok))


def _decimals(values: np.ndarray, venue: np.ndarray, mult: np.ndarray, typ: pa.Decimal128Type) -> pa.Array:
    """Exact decimals ``values * mult[venue] / 10**scale``; null for a missing venue."""
    values = np.asarray(values, np.int64)
    venue = np.asarray(venue, np.int64)
    ok = (venue >= 0) & (venue < len(mult))
    m = mult[np.where(ok, venue, 0)]
    if values.size and int(np.abs(values).max()) * int(m.max(initial=1)) >= 1 << 62:
        # Too large for int64 arithmetic: exact, via Python integers.
        return pa.array([Decimal(int(v) * int(k)).scaleb(-typ.scale) if o else None
                         for v, k, o in zip(values, m, ok)], typ)
    unscaled = values * m
    words = np.empty((len(values), 2), np.int64)   # 128-bit little-endian two's complement
    words[:, 0] = unscaled
    words[:, 1] = unscaled >> 63
    validity = None if ok.all() else pa.array(ok).buffers()[1]
    return pa.Array.from_buffers(typ, len(values), [validity, pa.py_buffer(words.tobytes())],
                                 null_count=int((~ok).sum()))


def _arrow_type(name: str, annotation, scales: Scales) -> pa.DataType:
    if name in TICK_FIELDS:
        return scales.price_type
    if name in LOT_FIELDS:
        return scales.size_type
    return {int: pa.int64(), float: pa.float64(), str: pa.string(), bool: pa.bool_()}.get(annotation, pa.string())


def schemas(scales: Scales) -> dict[str, pa.Schema]:
    out = {
        "book": pa.schema(_COMMON + _VENUE + [
            ("venue_seq", pa.int64()), ("prev_venue_seq", pa.int64()), ("last_in_message", pa.bool_()),
            ("side", pa.string()), ("level", pa.int32()), ("price", scales.price_type), ("size", scales.size_type)]),
        "trades": pa.schema(_COMMON + _VENUE + [
            ("price", scales.price_type), ("size", scales.size_type), ("side", pa.int8()), ("trade_id", pa.string())]),
        "timers": pa.schema(_COMMON),
    }
    for family in ("market", "orders", "account", "session"):
        fields: dict[str, pa.DataType] = {}
        for t in FAMILIES[family]:
            for f in msgspec.structs.fields(t):
                if f.name not in ("ts_ns", "venue"):
                    fields.setdefault(f.name, _arrow_type(f.name, f.type, scales))
        venue = _VENUE if any("venue" in t.__struct_fields__ for t in FAMILIES[family]) else []
        out[family] = pa.schema(_COMMON + venue + list(fields.items()))
    return out


def _common(cols: EventColumns, rows: np.ndarray) -> dict[str, pa.Array]:
    ts = cols.ts_ns[rows]
    return {"seq": pa.array(cols.seq[rows], pa.int64()), "ts_ns": pa.array(ts, pa.int64()),
            "ts": pa.array(ts, pa.int64()).cast(_TS),
            "kind": pa.array([ev.TAG_BY_CODE[int(k)] for k in cols.kind[rows]], pa.string())}


def _book(cols: EventColumns, rows: np.ndarray, scales: Scales, schema: pa.Schema) -> pa.RecordBatch:
    parts = []
    for side, off, px, sz in (("bid", cols.bid_off, cols.bid_px, cols.bid_sz), ("ask", cols.ask_off, cols.ask_px, cols.ask_sz)):
        counts = off[rows + 1] - off[rows]
        event = np.repeat(rows, counts)
        starts = np.repeat(off[rows], counts)
        idx = starts + (np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts))
        parts.append((side, event, idx.astype(np.int64), (idx - starts).astype(np.int32), px, sz))
    event = np.concatenate([p[1] for p in parts])
    order = np.lexsort((np.concatenate([p[3] for p in parts]), np.concatenate([np.full(len(p[1]), i) for i, p in enumerate(parts)]), event))
    event = event[order]
    side = np.concatenate([np.full(len(p[1]), p[0] == "ask") for p in parts])[order]
    level = np.concatenate([p[3] for p in parts])[order]
    px = np.concatenate([p[4][p[2]] for p in parts])[order]
    sz = np.concatenate([p[5][p[2]] for p in parts])[order]
    venue = cols.venue[event]
    arrays = _common(cols, event) | {
        "venue": pa.array(venue, pa.int16()), "venue_name": scales.venue_names(venue),
        "venue_seq": pa.array(cols.venue_seq[event], pa.int64()),
        "prev_venue_seq": pa.array(cols.prev_venue_seq[event], pa.int64()),
        "last_in_message": pa.array((cols.flags[event] & FLAG_LAST_IN_BATCH) != 0),
        "side": pa.array(np.where(side, "ask", "bid"), pa.string()), "level": pa.array(level, pa.int32()),
        "price": scales.prices(px, venue), "size": scales.sizes(sz, venue),
    }
    return pa.RecordBatch.from_pydict(arrays, schema=schema)


def _trades(cols: EventColumns, rows: np.ndarray, scales: Scales, schema: pa.Schema) -> pa.RecordBatch:
    venue = cols.venue[rows]
    arrays = _common(cols, rows) | {
        "venue": pa.array(venue, pa.int16()), "venue_name": scales.venue_names(venue),
        "price": scales.prices(cols.price[rows], venue), "size": scales.sizes(cols.size[rows], venue),
        "side": pa.array(cols.side[rows], pa.int8()),
        "trade_id": pa.array([cols.text[int(i)] or "" for i in rows], pa.string()),
    }
    return pa.RecordBatch.from_pydict(arrays, schema=schema)


def _decoded(cols: EventColumns, rows: np.ndarray, scales: Scales, schema: pa.Schema) -> pa.RecordBatch:
    """A cold family: each event decoded, its fields as columns (ticks and lots as decimals)."""
    events = [msgspec.to_builtins(cols.event(int(i))) for i in rows]
    venue = np.array([e.get("venue", -1) for e in events], np.int64)
    arrays = _common(cols, rows)
    for f in schema:
        if f.name in arrays:
            continue
        if f.name == "venue":
            arrays[f.name] = pa.array(venue, pa.int16())
        elif f.name == "venue_name":
            arrays[f.name] = scales.venue_names(venue)
        elif f.name in TICK_FIELDS or f.name in LOT_FIELDS:
            raw = [e.get(f.name) for e in events]
            have = np.array([v is not None and v != -1 for v in raw])
            vals = np.array([v if h else 0 for v, h in zip(raw, have)], np.int64)
            dec = (scales.prices if f.name in TICK_FIELDS else scales.sizes)(vals, np.where(have, venue, -1))
            arrays[f.name] = dec
        else:
            vals = [e.get(f.name) for e in events]
            if pa.types.is_string(f.type):
                vals = [v if v is None or isinstance(v, str) else json.dumps(v, sort_keys=True) for v in vals]
            arrays[f.name] = pa.array(vals, f.type)
    return pa.RecordBatch.from_pydict(arrays, schema=schema)


def _timers(cols: EventColumns, rows: np.ndarray, scales: Scales, schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(_common(cols, rows), schema=schema)


_BUILDERS = {"book": _book, "trades": _trades, "timers": _timers}


@dataclass
class ExportResult:
    out_dir: str
    events: int
    rows: dict[str, int]
    warning: str | None


class _TableWriter:
    def __init__(self, path: str, schema: pa.Schema, fmt: str) -> None:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self._w = pq.ParquetWriter(path, schema, compression="zstd")
        else:
            self._w = pa.ipc.new_file(path, schema)
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self._w.write_batch(batch)
            self.rows += batch.num_rows

    def close(self) -> None:
        self._w.close()


def export_log(log: str, out_dir: str, fmt: str) -> ExportResult:
    """Write ``out_dir`` (which must not exist yet) with one table per kind family."""
    reader = LogReader(log)
    scales = Scales.of(reader.info.instruments)
    tables = schemas(scales)
    ext = FORMATS[fmt]
    os.mkdir(out_dir)
    writers = {name: _TableWriter(os.path.join(out_dir, name + ext), tables[name], fmt) for name in FAMILIES}
    try:
        families = np.array([list(FAMILIES).index(FAMILY_BY_CODE[c]) if c in FAMILY_BY_CODE else -1
                             for c in range(256)], np.int16)
        for cols in reader.iter_columns():
            fam = families[cols.kind]
            for k, name in enumerate(FAMILIES):
                rows = np.flatnonzero(fam == k)
                if rows.size:
                    writers[name].write(_BUILDERS.get(name, _decoded)(cols, rows, scales, tables[name]))
    finally:
        for w in writers.values():
            w.close()
        reader.close()
    instruments = pa.Table.from_pylist(
        [{"venue": i, "venue_name": x.venue} | {k: v for k, v in msgspec.to_builtins(x).items() if k != "venue"}
         for i, x in enumerate(reader.info.instruments)],
        schema=pa.schema([("venue", pa.int16()), ("venue_name", pa.string())]
                         + [(f, pa.string()) for f in ev.Instrument.__struct_fields__ if f != "venue"]))
    w = _TableWriter(os.path.join(out_dir, "instruments" + ext), instruments.schema, fmt)
    for b in instruments.to_batches():
        w.write(b)
    w.close()
    info = reader.info
    warning = None if info.damage is None else f"{info.damage}; exported the intact prefix ({info.events} events)"
    rows = {name: w.rows for name, w in writers.items()}
    manifest = {"log": os.path.basename(log), "log_id": info.log_id, "events": info.events,
                "closed_cleanly": info.closed_cleanly, "damage": None if info.damage is None else str(info.damage),
                "format": fmt, "tables": {name: name + ext for name in [*FAMILIES, "instruments"]}, "rows": rows,
                "session": info.session}
    with open(os.path.join(out_dir, "export.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    return ExportResult(out_dir, info.events, rows, warning)


def export_atomically(log: str, out_dir: str, fmt: str, force: bool) -> ExportResult:
    """Export into a temporary sibling directory and rename it into place when complete."""
    parent = os.path.dirname(os.path.abspath(out_dir))
    tmp = os.path.join(parent, f".{os.path.basename(out_dir)}.tmp-{os.getpid()}")
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    try:
        result = export_log(log, tmp, fmt)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.exists(out_dir) and force:
        old = tmp + ".old"
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out_dir)
    result.out_dir = out_dir
    return result
