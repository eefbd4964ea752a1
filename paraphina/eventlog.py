"""The append-only event log: an Arrow IPC *stream* of record batches, with integrity.

Layout. One schema message (the format version, instrument table and session metadata live in
its key/value metadata), then record batches, then the end-of-stream marker when the writer
closed cleanly. The stream format has no footer, so a crash loses at most the batch being
written; everything before it stays readable.

Columns: see :data:`SCHEMA`. Market events (book snapshot/delta, trade) are typed columns; other
kinds are the msgpack of their Struct in ``payload`` (rare, decoded on demand).

Integrity. The writer numbers events (``seq``, strictly +1 from 0) and keeps a running SHA-256
chained over the schema message and each batch's canonical IPC body. Each batch carries the
chain value in its custom metadata (``paraphina.hash``), so a reader can name the first batch
whose bytes changed. ``verify`` re-derives the chain, checks seq continuity and decodes every
payload.

Append across restarts. :meth:`LogWriter.append_to` re-reads the log, continues its ``seq`` and
hash chain, and appends batches after the last intact one (the end-of-stream marker is
removed). A torn tail is never discarded: its bytes are moved to ``<log>.torn-<offset>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa

from paraphina import events as ev
from paraphina.columns import EventColumns, concat, decode_payload, from_events

FORMAT_VERSION = "1"
EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"

_i64 = pa.int64()
_list_i64 = pa.list_(pa.int64())

SCHEMA = pa.schema([
    ("seq", _i64), ("ts_ns", _i64), ("kind", pa.uint8()), ("venue", pa.int16()),
    ("venue_seq", _i64), ("prev_venue_seq", _i64), ("price", _i64), ("size", _i64),
    ("side", pa.int8()), ("flags", pa.uint8()),
    ("bid_px", _list_i64), ("bid_sz", _list_i64), ("ask_px", _list_i64), ("ask_sz", _list_i64),
    ("text", pa.string()), ("payload", pa.binary()),
])

META_FORMAT = b"paraphina.format"
META_SCHEMA_VERSION = b"paraphina.schema_version"
META_INSTRUMENTS = b"paraphina.instruments"
META_SESSION = b"paraphina.session"
BATCH_HASH = b"paraphina.hash"


class LogError(Exception):
    """The log cannot be used; ``str()`` is a one-line message naming the file and record."""


class LogDamaged(LogError):
    """Damage found at ``batch`` (0-based) whose first event should be ``seq``."""

    def __init__(self, path: str, batch: int, seq: int, what: str) -> None:
        super().__init__(f"{path}: batch {batch} (from seq {seq}): {what}")
        self.batch = batch
        self.seq = seq
        self.what = what


@dataclass
class LogInfo:
    """What the reader learned while reading: the metadata and, at the end, the outcome."""

    path: str
    instruments: list[ev.Instrument]
    session: dict
    schema_version: int
    batches: int = 0
    events: int = 0
    closed_cleanly: bool = False
    damage: LogDamaged | None = None
    end_offset: int = 0
    last_hash: bytes = b""
    notes: list[str] = field(default_factory=list)


def make_schema(instruments: Sequence[ev.Instrument], session: dict | None = None) -> pa.Schema:
    meta = {
        META_FORMAT: FORMAT_VERSION.encode(),
        META_SCHEMA_VERSION: str(ev.SCHEMA_VERSION).encode(),
        META_INSTRUMENTS: msgspec.json.encode(list(instruments)),
        META_SESSION: json.dumps(session or {}, sort_keys=True).encode(),
    }
    return SCHEMA.with_metadata(meta)


def _chain_start(schema: pa.Schema) -> bytes:
    return hashlib.sha256(schema.serialize().to_pybytes()).digest()


def _chain_next(prev: bytes, batch: pa.RecordBatch) -> bytes:
    h = hashlib.sha256(prev)
    h.update(batch.serialize())
    return h.digest()


def _nullable(values: Sequence, typ: pa.DataType) -> pa.Array:
    if isinstance(values, _LazyArrow):
        return values.array
    if values.count(None) == len(values):
        return pa.nulls(len(values), typ)
    return pa.array(values, typ)


def columns_to_batch(cols: EventColumns, schema: pa.Schema) -> pa.RecordBatch:
    def lst(off: np.ndarray, vals: np.ndarray) -> pa.Array:
        return pa.ListArray.from_arrays(pa.array(off, pa.int32()), pa.array(vals, _i64))

    arrays = [
        pa.array(cols.seq, _i64), pa.array(cols.ts_ns, _i64), pa.array(cols.kind, pa.uint8()),
        pa.array(cols.venue, pa.int16()), pa.array(cols.venue_seq, _i64),
        pa.array(cols.prev_venue_seq, _i64), pa.array(cols.price, _i64), pa.array(cols.size, _i64),
        pa.array(cols.side, pa.int8()), pa.array(cols.flags, pa.uint8()),
        lst(cols.bid_off, cols.bid_px), lst(cols.bid_off, cols.bid_sz),
        lst(cols.ask_off, cols.ask_px), lst(cols.ask_off, cols.ask_sz),
        _nullable(cols.text, pa.string()), _nullable(cols.payload, pa.binary()),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class _LazyArrow(Sequence):
    """A nullable Arrow column read element by element only where the engine needs it."""

    __slots__ = ("array",)

    def __init__(self, array: pa.Array) -> None:
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            start, stop, _ = i.indices(len(self.array))
            return _LazyArrow(self.array.slice(start, stop - start))
        return self.array[i].as_py()

    def count(self, value) -> int:  # type: ignore[override]
        if value is None:
            return self.array.null_count
        return super().count(value)


def batch_to_columns(batch: pa.RecordBatch) -> EventColumns:
    c = batch.columns

    def num(i: int) -> np.ndarray:
        return c[i].to_numpy(zero_copy_only=False)

    def lst(i: int) -> tuple[np.ndarray, np.ndarray]:
        arr = c[i]
        off = arr.offsets.to_numpy()
        vals = arr.values.to_numpy()
        if off[0] != 0:
            vals = vals[off[0]:]
            off = off - off[0]
        return off, vals

    bid_off, bid_px = lst(10)
    _, bid_sz = lst(11)
    ask_off, ask_px = lst(12)
    _, ask_sz = lst(13)
    return EventColumns(
        seq=num(0), ts_ns=num(1), kind=num(2), venue=num(3), venue_seq=num(4), prev_venue_seq=num(5),
        price=num(6), size=num(7), side=num(8), flags=num(9), bid_off=bid_off, bid_px=bid_px,
        bid_sz=bid_sz, ask_off=ask_off, ask_px=ask_px, ask_sz=ask_sz,
        text=_LazyArrow(c[14]), payload=_LazyArrow(c[15]),
    )


# --- reading ------------------------------------------------------------------------------


class LogReader:
    """Streams a log batch by batch; memory stays flat whatever the log's length.

    Iterating yields :class:`EventColumns`. Damage in the middle of the log raises
    :class:`LogDamaged`; a torn tail (the last batch cut short) ends iteration and is recorded
    in ``info.damage`` so callers can warn and keep the intact prefix.
    """

    def __init__(self, path: str | os.PathLike, verify_hashes: bool = True) -> None:
        self.path = str(path)
        self.verify_hashes = verify_hashes
        p = Path(self.path)
        if not p.exists():
            raise LogError(f"{self.path}: no such file")
        if p.is_dir():
            raise LogError(f"{self.path}: is a directory, not a log")
        self._size = p.stat().st_size
        # A plain file, not a memory map: mapped pages stay resident and would make RSS grow with
        # the log length; read buffers are freed batch by batch.
        self._source = pa.OSFile(self.path, "r") if self._size else None
        try:
            if self._source is None:
                raise pa.ArrowInvalid("empty file")
            self._reader = pa.ipc.open_stream(self._source)
        except (pa.ArrowInvalid, OSError) as exc:
            raise LogError(f"{self.path}: not a paraphina Arrow log ({_short(exc)})") from None
        schema = self._reader.schema
        meta = schema.metadata or {}
        if meta.get(META_FORMAT) != FORMAT_VERSION.encode() or schema.remove_metadata() != SCHEMA:
            raise LogError(f"{self.path}: an Arrow stream, but not a paraphina log (format {meta.get(META_FORMAT, b'?').decode(errors='replace')})")
        try:
            version = int(meta.get(META_SCHEMA_VERSION, b"0"))
        except ValueError:
            version = -1
        if version < 1 or version > ev.SCHEMA_VERSION:
            raise LogError(f"{self.path}: unsupported event schema version {meta.get(META_SCHEMA_VERSION, b'?').decode(errors='replace')} (this paraphina reads 1..{ev.SCHEMA_VERSION})")
        try:
            instruments = msgspec.json.decode(meta.get(META_INSTRUMENTS, b"[]"), type=list[ev.Instrument])
            session = json.loads(meta.get(META_SESSION, b"{}"))
        except (msgspec.DecodeError, ValueError) as exc:
            raise LogError(f"{self.path}: bad log metadata: {_short(exc)}") from None
        self.schema = schema
        self.info = LogInfo(path=self.path, instruments=instruments, session=session, schema_version=version)
        self._hash = _chain_start(schema)
        self.info.end_offset = self._source.tell()
        self.info.last_hash = self._hash

    def __iter__(self) -> Iterator[EventColumns]:
        return self.iter_columns()

    def iter_columns(self, prefetch: bool = True) -> Iterator[EventColumns]:
        """Batches in order. With ``prefetch`` a worker thread reads and verifies the next batch
        while the caller works on this one (file reads and SHA-256 release the GIL); the
        caller still sees batches strictly in order, so nothing depends on thread timing."""
        if not prefetch:
            while (cols := self._next_batch()) is not None:
                yield cols
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="paraphina-log-reader") as pool:
            pending = pool.submit(self._next_batch)
            while True:
                cols = pending.result()
                if cols is None:
                    return
                pending = pool.submit(self._next_batch)
                yield cols

    def _next_batch(self) -> EventColumns | None:
        """Read and check one batch; None at the end (a torn tail is recorded in ``info``)."""
        info = self.info
        expected_seq = info.events
        start = self._source.tell()
        try:
            batch, custom = self._reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            info.closed_cleanly = self._source.tell() >= self._size and self._ends_with_eos()
            return None
        except (pa.ArrowInvalid, OSError, pa.ArrowException) as exc:
            torn = self._looks_torn(start)
            what = "torn tail: the last batch is incomplete" if torn else f"unreadable batch ({_short(exc)})"
            damage = LogDamaged(self.path, info.batches, expected_seq, what)
            if torn:
                info.damage = damage
                return None
            raise damage from None
        n = batch.num_rows
        seqs = batch.column(0).to_numpy()
        if n == 0 or seqs[0] != expected_seq or seqs[-1] != expected_seq + n - 1 or (n > 1 and not np.all(np.diff(seqs) == 1)):
            first = int(seqs[0]) if n else expected_seq
            raise LogDamaged(self.path, info.batches, expected_seq, f"sequence gap or disorder (expected seq {expected_seq}, batch starts at {first})")
        if self.verify_hashes:
            self._hash = _chain_next(self._hash, batch)
            stored = (custom or {}).get(BATCH_HASH)
            if stored is None or stored != self._hash.hex().encode():
                raise LogDamaged(self.path, info.batches, expected_seq, "checksum mismatch: the batch's bytes changed")
        else:
            stored = (custom or {}).get(BATCH_HASH, b"")
            self._hash = bytes.fromhex(stored.decode()) if stored else self._hash
        kinds = batch.column(2).to_numpy()
        unknown = np.setdiff1d(np.unique(kinds), _KNOWN_KINDS)
        if unknown.size:
            at = int(seqs[int(np.flatnonzero(np.isin(kinds, unknown))[0])])
            raise LogDamaged(self.path, info.batches, expected_seq, f"seq {at}: unknown event kind {int(unknown[0])}")
        info.batches += 1
        info.events += n
        info.end_offset = self._source.tell()
        info.last_hash = self._hash
        return batch_to_columns(batch)

    def events(self) -> Iterator[tuple[int, ev.Event]]:
        """(seq, event) pairs, decoding every event (for ``cat``, tests and small tools)."""
        for cols in self.iter_columns():
            for i in range(len(cols)):
                yield int(cols.seq[i]), cols.event(i)

    def _looks_torn(self, start: int) -> bool:
        """True when the failing message runs past the end of the file (a crash mid-write)."""
        with open(self.path, "rb") as f:
            f.seek(start)
            head = f.read(8)
        if len(head) < 8:
            return True
        if head[:4] == b"\xff\xff\xff\xff":
            meta_len = int.from_bytes(head[4:8], "little")
        else:
            meta_len = int.from_bytes(head[:4], "little")
        if start + 8 + meta_len > self._size:
            return True
        # The metadata is complete; a body shorter than announced is torn too.
        try:
            with open(self.path, "rb") as f:
                f.seek(start)
                msg = pa.ipc.read_message(pa.py_buffer(f.read()))
            return False if msg is not None else True
        except (pa.ArrowInvalid, OSError, EOFError):
            return True

    def _ends_with_eos(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(max(0, self._size - 8))
            return f.read(8) == EOS


_KNOWN_KINDS = np.array(sorted(ev.TYPE_BY_CODE), dtype=np.uint8)


def read_info(path: str | os.PathLike) -> LogInfo:
    """Read the whole log (verifying it) and return what was learned; raises LogDamaged."""
    r = LogReader(path)
    for cols in r.iter_columns(prefetch=False):
        for i in np.flatnonzero(~np.isin(cols.kind, _HOT_KINDS)):
            raw = cols.payload[int(i)]
            if raw is None:
                raise LogDamaged(str(path), r.info.batches - 1, int(cols.seq[0]), f"seq {int(cols.seq[i])}: event of kind {int(cols.kind[i])} has no payload")
            try:
                decode_payload(raw, int(cols.seq[i]))
            except msgspec.DecodeError as exc:
                raise LogDamaged(str(path), r.info.batches - 1, int(cols.seq[0]), str(exc)) from None
    return r.info


_HOT_KINDS = np.array([ev.BookSnapshot.KIND, ev.BookDelta.KIND, ev.Trade.KIND, ev.Timer.KIND], dtype=np.uint8)


# --- writing ------------------------------------------------------------------------------


class _SkipPrefix:
    """A file-like sink that drops the first ``skip`` bytes (the schema message on append)."""

    def __init__(self, f, skip: int) -> None:
        self._f = f
        self._skip = skip
        self.closed = False

    def write(self, data) -> int:
        data = memoryview(data)
        n = len(data)
        if self._skip:
            cut = min(self._skip, n)
            self._skip -= cut
            data = data[cut:]
        if len(data):
            self._f.write(data)
        return n

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self.closed = True

    def tell(self) -> int:
        return self._f.tell()


class LogWriter:
    """Buffers events, numbers them, and writes them as hashed record batches.

    Use :meth:`create` for a new log or :meth:`append_to` to continue one. Flushes every
    ``batch_events`` events, or ``flush_interval_s`` seconds of wall time when given (a live
    recorder; batching never changes the events, only how they are framed), and on close.
    """

    def __init__(self, path: str, schema: pa.Schema, fobj, next_seq: int, chain: bytes, *,
                 batch_events: int, flush_interval_s: float | None, fsync: bool) -> None:
        self.path = path
        self.schema = schema
        self._f = fobj
        self.next_seq = next_seq
        self._chain = chain
        self.batch_events = batch_events
        self.flush_interval_s = flush_interval_s
        self.fsync = fsync
        self._pending: list = []  # Event objects and EventColumns chunks, in order
        self._pending_n = 0
        self._last_flush = time.monotonic()
        self._writer = None
        self._skip = 0
        self.instruments = msgspec.json.decode(schema.metadata[META_INSTRUMENTS], type=list[ev.Instrument])

    @classmethod
    def create(cls, path: str | os.PathLike, instruments: Sequence[ev.Instrument], session: dict | None = None,
               *, batch_events: int = 65_536, flush_interval_s: float | None = None, fsync: bool = False,
               overwrite: bool = False) -> "LogWriter":
        path = str(path)
        if os.path.exists(path) and not overwrite:
            raise LogError(f"{path}: already exists (append with LogWriter.append_to, or remove it)")
        schema = make_schema(instruments, session)
        f = open(path, "wb")
        return cls(path, schema, f, 0, _chain_start(schema), batch_events=batch_events,
                   flush_interval_s=flush_interval_s, fsync=fsync)

    @classmethod
    def append_to(cls, path: str | os.PathLike, *, batch_events: int = 65_536,
                  flush_interval_s: float | None = None, fsync: bool = False) -> "LogWriter":
        path = str(path)
        reader = LogReader(path)
        for _ in reader.iter_columns(prefetch=False):
            pass
        info = reader.info
        schema = reader.schema
        del reader
        size = os.path.getsize(path)
        if info.damage is not None and size > info.end_offset:
            torn = f"{path}.torn-{info.end_offset}"
            with open(path, "rb") as src, open(torn, "wb") as dst:
                src.seek(info.end_offset)
                dst.write(src.read())
        f = open(path, "r+b")
        f.truncate(info.end_offset)
        f.seek(info.end_offset)
        w = cls(path, schema, f, info.events, info.last_hash, batch_events=batch_events,
                flush_interval_s=flush_interval_s, fsync=fsync)
        w._skip = len(schema.serialize())
        return w

    def __enter__(self) -> "LogWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def append(self, event: ev.Event) -> int:
        """Buffer one event; returns its seq."""
        seq = self.next_seq + self._pending_n
        self._pending.append(event)
        self._pending_n += 1
        self._maybe_flush()
        return seq

    def extend(self, events: Sequence[ev.Event]) -> None:
        for e in events:
            self.append(e)

    def append_columns(self, cols: EventColumns) -> None:
        """Buffer a columnar chunk (its ``seq`` column is ignored and renumbered)."""
        if len(cols):
            self._pending.append(cols)
            self._pending_n += len(cols)
            self._maybe_flush()

    def _maybe_flush(self) -> None:
        if self._pending_n >= self.batch_events:
            self.flush()
        elif self.flush_interval_s is not None and time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._pending_n:
            return
        parts: list[EventColumns] = []
        run: list[ev.Event] = []
        for item in self._pending:
            if isinstance(item, EventColumns):
                if run:
                    parts.append(from_events(run))
                    run = []
                parts.append(item)
            else:
                run.append(item)
        if run:
            parts.append(from_events(run))
        cols = concat(parts)
        self._pending.clear()
        self._pending_n = 0
        for start in range(0, len(cols), self.batch_events):
            chunk = cols if len(cols) <= self.batch_events else cols.slice(start, min(len(cols), start + self.batch_events))
            chunk.seq = np.arange(self.next_seq, self.next_seq + len(chunk), dtype=np.int64)
            self._write_batch(columns_to_batch(chunk, self.schema))
            self.next_seq += len(chunk)
        self._f.flush()
        if self.fsync:
            os.fsync(self._f.fileno())

    def _write_batch(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            sink = _SkipPrefix(self._f, self._skip)
            self._writer = pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), self.schema)
        self._chain = _chain_next(self._chain, batch)
        self._writer.write_batch(batch, custom_metadata={BATCH_HASH: self._chain.hex().encode()})

    def close(self) -> None:
        if self._f.closed:
            return
        self.flush()
        if self._writer is None:
            # Nothing written this session: a new log still gets its schema; an appended one
            # gets back its end-of-stream marker.
            sink = _SkipPrefix(self._f, self._skip)
            self._writer = pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), self.schema)
        self._writer.close()
        self._f.flush()
        if self.fsync:
            os.fsync(self._f.fileno())
        self._f.close()


def write_events(path: str | os.PathLike, instruments: Sequence[ev.Instrument], events: Sequence[ev.Event],
                 session: dict | None = None, **kw) -> int:
    """Write a whole log in one go; returns the number of events."""
    with LogWriter.create(path, instruments, session, **kw) as w:
        w.extend(events)
        return w.next_seq + w._pending_n


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
