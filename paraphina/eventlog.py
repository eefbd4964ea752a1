"""The append-only event log: an Arrow IPC *stream* of record batches, with integrity.

Layout. One schema message (the format version, instrument table and session metadata live in
its key/value metadata), then record batches, then, when the writer closed cleanly, a closing
record (a batch of 0 rows whose metadata holds the final event and batch counts) and the
end-of-stream marker. The stream format has no footer, so a crash loses at most the batch
being written; everything before it stays readable, by paraphina or by plain pyarrow.

Columns: see :data:`SCHEMA`. Market events (book snapshot/delta, trade) are typed columns; other
kinds are the msgpack of their Struct in ``payload`` (rare, decoded on demand).

Integrity (format 2). Every message carries ``paraphina.hash`` in its key/value metadata: the
SHA-256 of the previous message's hash followed by this message's bytes *as written*, with the
hash value itself read as 64 ``0`` characters. So the chain covers every byte on disk (prefix,
flatbuffer header, padding, body) and does not depend on how any pyarrow version would
re-serialise a batch. The reader checks a message's length bounds (:mod:`paraphina.ipcframes`,
no pyarrow) and its hash *before* pyarrow decodes it, so damaged bytes never reach the decoder.

Damage. A message that runs past the end of the file with nothing intact after it is a torn
tail (a crash mid-write): readers keep the intact prefix and warn. Any other damage, including
a cut-short message followed by intact ones, is mid-log damage and stops readers with the
first bad batch and its seq. Bytes after the end-of-stream marker are damage, and so is an
end-of-stream marker without the closing record (a removed last batch).

Durability. Batches are always ``batch_events`` long (the last one shorter), so framing never
depends on timing; every second the writer also writes the batch it is filling as a provisional
batch after the last full one, rewritten in place until it is full (:class:`LogWriter`).

Append across restarts. :meth:`LogWriter.append_to` continues the ``seq`` and hash chain after
the last intact batch (dropping the closing record). It refuses mid-log damage; a torn tail is
never discarded: its bytes are moved to ``<log>.torn-<offset>`` first.
"""

from __future__ import annotations

import hashlib
import json
import mmap
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
from paraphina import ipcframes as fr
from paraphina.columns import EventColumns, concat, decode_payload, from_events

FORMAT_VERSION = "2"
EOS = fr.EOS

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
HASH_KEY = b"paraphina.hash"
CLOSE_KEY = b"paraphina.close"
HASH_PLACEHOLDER = b"0" * 64

DEFAULT_BATCH_EVENTS = 65_536
DEFAULT_FLUSH_INTERVAL_S = 1.0


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
    """What the reader learned while reading: the metadata and, at the end, the outcome.

    ``end_offset`` and ``last_hash`` are the file offset and chain value just after the last
    intact data batch (where an append continues); ``log_id`` is the hash of the schema
    message, which names the log (checkpoints are bound to it)."""

    path: str
    instruments: list[ev.Instrument]
    session: dict
    schema_version: int
    log_id: str = ""
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
        HASH_KEY: HASH_PLACEHOLDER,
    }
    return SCHEMA.with_metadata(meta)


def chain_hash(prev: bytes, message: bytes | bytearray | memoryview, hash_at: int) -> bytes:
    """The chain value of one encapsulated message whose hash value starts at ``hash_at``."""
    view = memoryview(message)
    h = hashlib.sha256(prev)
    h.update(view[:hash_at])
    h.update(HASH_PLACEHOLDER)
    h.update(view[hash_at + 64:])
    return h.digest()


def _nullable(values: Sequence, typ: pa.DataType) -> pa.Array:
    if values.count(None) == len(values):
        return pa.nulls(len(values), typ)
    if isinstance(values, _LazyArrow):   # rebuilt, so a batch's bytes do not depend on where it was cut from
        return pa.array(values.array.to_pylist(), typ)
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


class _Incomplete(Exception):
    """The message at this offset runs past the end of the file."""


@dataclass
class _Message:
    start: int
    frame: fr.Frame
    data: bytearray          # the whole encapsulated message: prefix, metadata, body

    @property
    def hash_at(self) -> int:
        span = self.frame.key_values.get(HASH_KEY)
        if span is None or span[1] != 64:
            raise fr.FrameError("no paraphina.hash in the message metadata")
        return fr.PREFIX + span[0]

    def stored_hash(self) -> bytes:
        return bytes(self.data[self.hash_at:self.hash_at + 64])


_END = object()   # the end-of-stream marker


class LogReader:
    """Streams a log batch by batch; memory stays flat whatever the log's length.

    Iterating yields :class:`EventColumns`. Damage in the middle of the log raises
    :class:`LogDamaged`; a torn tail (the last batch cut short) ends iteration and is recorded
    in ``info.damage`` so callers can warn and keep the intact prefix. Every message's hash is
    checked before pyarrow decodes it (``verify_hashes`` is kept for callers; it is always on).
    """

    def __init__(self, path: str | os.PathLike, verify_hashes: bool = True) -> None:
        self.path = str(path)
        p = Path(self.path)
        if not p.exists():
            raise LogError(f"{self.path}: no such file")
        if p.is_dir():
            raise LogError(f"{self.path}: is a directory, not a log")
        try:
            self._f = open(self.path, "rb")
        except OSError as exc:
            raise LogError(f"{self.path}: cannot read ({exc.strerror})") from None
        self._size = os.fstat(self._f.fileno()).st_size
        self._pos = 0
        self._closing: dict | None = None
        self._finished = False
        self.schema = self._read_schema()

    def _read_schema(self) -> pa.Schema:
        try:
            msg = self._read_message()
        except _Incomplete:
            if self._looks_like_a_log():
                raise self._damage_in_schema(self._cut_short_what(0)) from None
            raise LogError(f"{self.path}: not a paraphina Arrow log (too short)") from None
        except fr.FrameError as exc:
            if self._looks_like_a_log():
                raise self._damage_in_schema(f"unreadable schema message ({exc})") from None
            raise LogError(f"{self.path}: not a paraphina Arrow log ({exc})") from None
        if msg is None or msg is _END:
            raise LogError(f"{self.path}: not a paraphina Arrow log ({'empty file' if msg is None else 'an empty stream'})")
        frame = msg.frame
        fmt = frame.value(META_FORMAT)
        if HASH_KEY not in frame.key_values:
            if fmt is not None and fmt != FORMAT_VERSION.encode():
                raise LogError(_old_format(self.path, fmt))
            if frame.header_type == fr.HEADER_SCHEMA and fmt is None and not self._looks_like_a_log():
                raise LogError(f"{self.path}: an Arrow stream, but not a paraphina log (no paraphina metadata)")
            raise self._damage_in_schema("the schema message has no paraphina.hash")
        try:
            at = msg.hash_at
        except fr.FrameError as exc:
            raise self._damage_in_schema(str(exc)) from None
        chain = chain_hash(b"", msg.data, at)
        if chain.hex().encode() != msg.stored_hash():
            raise self._damage_in_schema("checksum mismatch: the schema message's bytes changed")
        if frame.header_type != fr.HEADER_SCHEMA or frame.body_length:
            raise self._damage_in_schema("the first message is not a schema")
        if fmt != FORMAT_VERSION.encode():
            raise LogError(_old_format(self.path, fmt or b"?"))
        try:
            schema = pa.ipc.read_schema(pa.py_buffer(msg.data))
        except Exception as exc:  # noqa: BLE001 - any decoder failure is damage, never a crash
            raise self._damage_in_schema(f"undecodable schema ({_short(exc)})") from None
        meta = schema.metadata or {}
        if schema.remove_metadata() != SCHEMA:
            raise LogError(f"{self.path}: an Arrow stream, but not a paraphina log (its columns differ)")
        try:
            version = int(meta.get(META_SCHEMA_VERSION, b"0"))
        except ValueError:
            version = -1
        if version < 1 or version > ev.SCHEMA_VERSION:
            raise LogError(f"{self.path}: unsupported event schema version {meta.get(META_SCHEMA_VERSION, b'?').decode(errors='replace')} (this paraphina reads 1..{ev.SCHEMA_VERSION})")
        try:
            instruments = msgspec.json.decode(meta.get(META_INSTRUMENTS, b"[]"), type=list[ev.Instrument])
            session = json.loads(meta.get(META_SESSION, b"{}"))
            if not isinstance(session, dict):
                raise ValueError("the session metadata is not a JSON object")
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            raise LogError(f"{self.path}: bad log metadata: {_short(exc)}") from None
        self.info = LogInfo(path=self.path, instruments=instruments, session=session, schema_version=version,
                            log_id=chain.hex(), end_offset=self._pos, last_hash=chain)
        self._hash = chain
        self.chain_after: dict[int, str] = {0: chain.hex()}   # seq after a batch -> chain value there
        return schema

    # -- framing -------------------------------------------------------------------------

    def _read_message(self):
        """The next message (None at the end of the file, ``_END`` at the end-of-stream marker);
        raises _Incomplete when it runs past the end of the file, FrameError when malformed."""
        start = self._pos
        f = self._f
        f.seek(start)
        prefix = f.read(fr.PREFIX)
        if not prefix:
            return None
        if len(prefix) < fr.PREFIX:
            raise _Incomplete
        meta_len = fr.metadata_length(prefix)
        if meta_len == 0:
            self._pos = start + fr.PREFIX
            return _END
        if start + fr.PREFIX + meta_len > self._size:
            raise _Incomplete
        meta = f.read(meta_len)
        frame = fr.parse(meta)
        total = fr.PREFIX + meta_len + frame.body_length
        if start + total > self._size:
            raise _Incomplete
        data = bytearray(total)
        data[:fr.PREFIX] = prefix
        data[fr.PREFIX:fr.PREFIX + meta_len] = meta
        if f.readinto(memoryview(data)[fr.PREFIX + meta_len:]) != frame.body_length:
            raise _Incomplete
        self._pos = start + total
        return _Message(start, frame, data)

    def _looks_like_a_log(self) -> bool:
        self._f.seek(0)
        return b"paraphina." in self._f.read(1 << 16)

    def _damage_in_schema(self, what: str) -> LogDamaged:
        d = LogDamaged(self.path, 0, 0, what)
        d.args = (f"{self.path}: schema message (before batch 0, seq 0): {what}",)
        return d

    def _cut_short_what(self, start: int) -> str:
        later = self._intact_message_after(start)
        if later is None:
            return "torn tail: the last batch is incomplete"
        return f"a message announces more bytes than it has, but intact messages follow (at offset {later})"

    def _intact_message_after(self, start: int) -> int | None:
        """The offset of a well-formed paraphina message after ``start``, if any (so the damage
        at ``start`` is in the middle of the log, not a torn tail)."""
        if self._size - start <= fr.PREFIX:
            return None
        with mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            at = start + 1
            while (at := mm.find(fr.CONTINUATION, at)) >= 0:
                try:
                    meta_len = fr.metadata_length(mm[at:at + fr.PREFIX])
                    if meta_len == 0:
                        if at + fr.PREFIX == self._size:
                            return at
                    elif at + fr.PREFIX + meta_len <= self._size:
                        frame = fr.parse(mm[at + fr.PREFIX:at + fr.PREFIX + meta_len])
                        span = frame.key_values.get(HASH_KEY)
                        if span is not None and span[1] == 64 and at + fr.PREFIX + meta_len + frame.body_length <= self._size:
                            return at
                except fr.FrameError:
                    pass
                at += 1
        return None

    # -- batches -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[EventColumns]:
        return self.iter_columns()

    def iter_columns(self, prefetch: bool = True) -> Iterator[EventColumns]:
        """Batches in order. With ``prefetch`` a worker thread reads and verifies the next batch
        while the caller works on this one (file reads and SHA-256 release the GIL); the
        caller still sees batches strictly in order, so nothing depends on thread timing."""
        for batch in self.iter_batches(prefetch):
            yield batch_to_columns(batch)

    def iter_batches(self, prefetch: bool = True) -> Iterator[pa.RecordBatch]:
        """The verified Arrow record batches (data batches only), in order."""
        if not prefetch:
            while (batch := self._next_batch()) is not None:
                yield batch
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="paraphina-log-reader") as pool:
            pending = pool.submit(self._next_batch)
            while True:
                batch = pending.result()
                if batch is None:
                    return
                pending = pool.submit(self._next_batch)
                yield batch

    def _damage(self, what: str) -> LogDamaged:
        return LogDamaged(self.path, self.info.batches, self.info.events, what)

    def _next_batch(self) -> pa.RecordBatch | None:
        """Read and check one data batch; None at the end (a torn tail is recorded in ``info``)."""
        if self._finished:
            return None
        info = self.info
        while True:
            start = self._pos
            try:
                msg = self._read_message()
            except _Incomplete:
                later = self._intact_message_after(start)
                self._finished = True
                if later is None:
                    info.damage = self._damage("torn tail: the last batch is incomplete")
                    return None
                raise self._damage(f"a message at offset {start} announces more bytes than the file has, "
                                   f"but intact messages follow (at offset {later})") from None
            except fr.FrameError as exc:
                self._finished = True
                raise self._damage(f"unreadable batch header at offset {start} ({exc})") from None
            if msg is None:
                self._finished = True
                if self._closing is not None:
                    raise self._damage("the closing record is not followed by the end-of-stream marker")
                return None
            if msg is _END:
                self._finished = True
                if self._closing is None:
                    raise self._damage("end-of-stream marker without the closing record (the last batch was removed?)")
                if self._pos != self._size:
                    raise self._damage(f"{self._size - self._pos} bytes after the end-of-stream marker")
                info.closed_cleanly = True
                return None
            batch = self._checked(msg)
            if batch is not None:
                return batch

    def _checked(self, msg: _Message) -> pa.RecordBatch | None:
        """Verify one message and decode it; None for the closing record."""
        info = self.info
        try:
            at = msg.hash_at
        except fr.FrameError as exc:
            self._finished = True
            raise self._damage(str(exc)) from None
        chain = chain_hash(self._hash, msg.data, at)
        if chain.hex().encode() != msg.stored_hash():
            self._finished = True
            raise self._damage("checksum mismatch: the batch's bytes changed")
        if self._closing is not None:
            self._finished = True
            raise self._damage("a batch after the closing record")
        if msg.frame.header_type != fr.HEADER_RECORD_BATCH:
            self._finished = True
            raise self._damage(f"message of type {msg.frame.header_type} where a record batch belongs")
        try:
            batch = pa.ipc.read_record_batch(pa.ipc.read_message(pa.py_buffer(msg.data)), self.schema)
            batch.validate()
        except Exception as exc:  # noqa: BLE001 - any decoder failure is damage, never a crash
            self._finished = True
            raise self._damage(f"undecodable batch ({_short(exc)})") from None
        self._hash = chain
        closing = msg.frame.value(CLOSE_KEY)
        if closing is not None:
            self._closing = self._check_closing(closing, batch.num_rows)
            return None
        n = batch.num_rows
        expected_seq = info.events
        seqs = batch.column(0).to_numpy()
        if n == 0 or seqs[0] != expected_seq or seqs[-1] != expected_seq + n - 1 or (n > 1 and not np.all(np.diff(seqs) == 1)):
            first = int(seqs[0]) if n else expected_seq
            self._finished = True
            raise self._damage(f"sequence gap or disorder (expected seq {expected_seq}, batch starts at {first})")
        kinds = batch.column(2).to_numpy()
        unknown = np.setdiff1d(np.unique(kinds), _KNOWN_KINDS)
        if unknown.size:
            at_seq = int(seqs[int(np.flatnonzero(np.isin(kinds, unknown))[0])])
            self._finished = True
            raise self._damage(f"seq {at_seq}: unknown event kind {int(unknown[0])}")
        venues = batch.column(3).to_numpy()
        bad_venue = (venues < -1) | (venues >= len(info.instruments))
        if bad_venue.any():
            at_row = int(np.flatnonzero(bad_venue)[0])
            self._finished = True
            raise self._damage(f"seq {int(seqs[at_row])}: venue {int(venues[at_row])} is not in the instrument table "
                               f"({len(info.instruments)} venues)")
        info.batches += 1
        info.events += n
        info.end_offset = self._pos
        info.last_hash = chain
        self.chain_after[info.events] = chain.hex()
        return batch

    def _check_closing(self, raw: bytes, rows: int) -> dict:
        info = self.info
        try:
            closing = json.loads(raw)
            counts = (int(closing["batches"]), int(closing["events"]))
        except (ValueError, TypeError, KeyError) as exc:
            self._finished = True
            raise self._damage(f"unreadable closing record ({_short(exc)})") from None
        if rows:
            self._finished = True
            raise self._damage("the closing record holds events")
        if counts != (info.batches, info.events):
            self._finished = True
            raise self._damage(f"the closing record counts {counts[1]} events in {counts[0]} batches, "
                               f"the log has {info.events} in {info.batches}")
        return closing

    def events(self) -> Iterator[tuple[int, ev.Event]]:
        """(seq, event) pairs, decoding every event (for ``cat``, tests and small tools)."""
        for cols in self.iter_columns():
            for i in range(len(cols)):
                yield int(cols.seq[i]), cols.event(i)

    def close(self) -> None:
        self._f.close()


def _old_format(path: str, fmt: bytes) -> str:
    text = fmt.decode(errors="replace")
    if text == "1":
        return (f"{path}: a format-1 log (an older paraphina, whose hash covers pyarrow's re-serialisation); "
                f"this paraphina reads format {FORMAT_VERSION}: rebuild it with the command that made it")
    return f"{path}: unsupported log format {text!r} (this paraphina reads format {FORMAT_VERSION})"


_KNOWN_KINDS = np.array(sorted(ev.TYPE_BY_CODE), dtype=np.uint8)


def read_info(path: str | os.PathLike) -> LogInfo:
    """Read the whole log (verifying it) and return what was learned; raises LogDamaged."""
    r = LogReader(path)
    try:
        for cols in r.iter_columns(prefetch=False):
            for i in np.flatnonzero(~np.isin(cols.kind, _HOT_KINDS)):
                raw = cols.payload[int(i)]
                if raw is None:
                    raise LogDamaged(str(path), r.info.batches - 1, int(cols.seq[0]), f"seq {int(cols.seq[i])}: event of kind {int(cols.kind[i])} has no payload")
                try:
                    decode_payload(raw, int(cols.seq[i]))
                except msgspec.DecodeError as exc:
                    raise LogDamaged(str(path), r.info.batches - 1, int(cols.seq[0]), str(exc)) from None
    finally:
        r.close()
    return r.info


_HOT_KINDS = np.array([ev.BookSnapshot.KIND, ev.BookDelta.KIND, ev.Trade.KIND, ev.Timer.KIND], dtype=np.uint8)


# --- writing ------------------------------------------------------------------------------


class _Collector:
    """The sink pyarrow's stream writer serialises into. It keeps the pieces as given (small
    ``bytes`` and zero-copy ``pyarrow.Buffer`` views of the batch's columns), so a message is
    hashed and written from the arrays' own memory, without an intermediate copy."""

    def __init__(self) -> None:
        self.chunks: list = []
        self.closed = False

    def write(self, data) -> int:
        self.chunks.append(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> list:
        out, self.chunks = self.chunks, []
        return out


def _split(chunks: list, n: int) -> tuple[bytearray, list]:
    """The first ``n`` bytes of ``chunks`` (joined) and the chunks after them."""
    head = bytearray()
    for i, c in enumerate(chunks):
        need = n - len(head)
        if len(c) <= need:
            head += c
        else:
            view = memoryview(c)
            head += view[:need]
            return head, [view[need:], *chunks[i + 1:]]
        if len(head) == n:
            return head, chunks[i + 1:]
    raise ValueError("message shorter than its header")


class _OutMessage:
    """One encapsulated IPC message about to be written: its header (prefix and flatbuffer,
    where the hash is patched in) and its body pieces."""

    __slots__ = ("head", "body")

    def __init__(self, chunks: list, skip_first: bool = False) -> None:
        if skip_first:   # pyarrow's own schema message (the log's sealed one is already on disk)
            first, chunks = _split(chunks, fr.PREFIX)
            _, chunks = _split(chunks, fr.metadata_length(bytes(first)))
        prefix, chunks = _split(chunks, fr.PREFIX)
        meta, self.body = _split(chunks, fr.metadata_length(bytes(prefix)))
        self.head = prefix + meta

    def seal(self, prev: bytes) -> bytes:
        """Write the chain value into the header (in place) and return it."""
        span = fr.parse(bytes(self.head[fr.PREFIX:])).key_values[HASH_KEY]
        at = fr.PREFIX + span[0]
        h = hashlib.sha256(prev)
        h.update(self.head)            # still holds the placeholder
        for c in self.body:
            h.update(c)
        chain = h.digest()
        self.head[at:at + 64] = chain.hex().encode()
        return chain

    def write_to(self, f) -> None:
        f.write(self.head)
        for c in self.body:
            f.write(c)


def _sealed(prev: bytes, message: bytearray) -> bytes:
    """Write the chain value into a whole message (in place) and return it."""
    meta_len = fr.metadata_length(bytes(message[:fr.PREFIX]))
    span = fr.parse(bytes(message[fr.PREFIX:fr.PREFIX + meta_len])).key_values[HASH_KEY]
    at = fr.PREFIX + span[0]
    chain = chain_hash(prev, message, at)
    message[at:at + 64] = chain.hex().encode()
    return chain


_EMPTY_ARRAYS = [pa.array([], f.type) for f in SCHEMA]


class LogWriter:
    """Buffers events, numbers them, and writes them as hashed record batches.

    Use :meth:`create` for a new log or :meth:`append_to` to continue one. Batches hold
    ``batch_events`` events (the last one fewer), whatever happens, so a log's bytes never depend
    on the wall clock. Durability comes on top: every ``flush_interval_s`` seconds of wall time
    (1 s by default; ``None`` for none) and on :meth:`flush`, the events of the batch being
    filled are written as a *provisional* batch after the last full one; the next flush writes
    a longer one in its place, until the batch is full. A killed writer so keeps everything up to
    its last second, and a closed log has the same bytes however often it was flushed.
    """

    def __init__(self, path: str, schema: pa.Schema, fobj, next_seq: int, chain: bytes, *,
                 batch_events: int, flush_interval_s: float | None, fsync: bool, batches: int = 0) -> None:
        self.path = path
        self.schema = schema
        self._f = fobj
        self.next_seq = next_seq           # events in full (committed) batches
        self._chain = chain                # hash chain after the last committed batch
        self._batches = batches
        self._committed_at = fobj.tell()   # file offset after the last committed batch
        self.batch_events = batch_events
        self.flush_interval_s = flush_interval_s
        self.fsync = fsync
        self._pending: list = []  # Event objects and EventColumns chunks, in order
        self._pending_n = 0
        self._last_flush = time.monotonic()
        self._sink = _Collector()
        self._writer = None
        self.instruments = msgspec.json.decode(schema.metadata[META_INSTRUMENTS], type=list[ev.Instrument])

    @classmethod
    def create(cls, path: str | os.PathLike, instruments: Sequence[ev.Instrument], session: dict | None = None,
               *, batch_events: int = DEFAULT_BATCH_EVENTS, flush_interval_s: float | None = DEFAULT_FLUSH_INTERVAL_S,
               fsync: bool = False, overwrite: bool = False) -> "LogWriter":
        path = str(path)
        if os.path.exists(path) and not overwrite:
            raise LogError(f"{path}: already exists (append with LogWriter.append_to, or remove it)")
        return cls.with_schema(path, make_schema(instruments, session), batch_events=batch_events,
                               flush_interval_s=flush_interval_s, fsync=fsync)

    @classmethod
    def with_schema(cls, path: str, schema: pa.Schema, *, batch_events: int = DEFAULT_BATCH_EVENTS,
                    flush_interval_s: float | None = DEFAULT_FLUSH_INTERVAL_S, fsync: bool = False) -> "LogWriter":
        """A new log at ``path`` (replaced if it exists) with this exact schema metadata (tests
        use it to write logs a normal writer would refuse to)."""
        schema = schema.with_metadata((schema.metadata or {}) | {HASH_KEY: HASH_PLACEHOLDER})
        kw = dict(batch_events=batch_events, flush_interval_s=flush_interval_s, fsync=fsync)
        message = bytearray(schema.serialize().to_pybytes())
        chain = _sealed(b"", message)
        f = open(path, "wb")
        f.write(message)
        return cls(path, schema, f, 0, chain, **kw)

    @classmethod
    def append_to(cls, path: str | os.PathLike, *, batch_events: int = DEFAULT_BATCH_EVENTS,
                  flush_interval_s: float | None = DEFAULT_FLUSH_INTERVAL_S, fsync: bool = False) -> "LogWriter":
        """Continue a log after its last intact batch. Mid-log damage raises :class:`LogDamaged`
        (nothing is changed); a torn tail is first copied to ``<log>.torn-<offset>``."""
        path = str(path)
        reader = LogReader(path)
        try:
            for _ in reader.iter_batches(prefetch=False):
                pass
        finally:
            reader.close()
        info = reader.info
        size = os.path.getsize(path)
        if info.damage is not None and size > info.end_offset:
            torn = f"{path}.torn-{info.end_offset}"
            with open(path, "rb") as src, open(torn, "wb") as dst:
                src.seek(info.end_offset)
                dst.write(src.read())
                dst.flush()
                os.fsync(dst.fileno())
        f = open(path, "r+b")
        f.truncate(info.end_offset)
        f.seek(info.end_offset)
        return cls(path, reader.schema.with_metadata(reader.schema.metadata | {HASH_KEY: HASH_PLACEHOLDER}), f,
                   info.events, info.last_hash, batch_events=batch_events, flush_interval_s=flush_interval_s,
                   fsync=fsync, batches=info.batches)

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
            self._write_pending("full")
        elif self.flush_interval_s is not None and time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        """Make every buffered event durable (full batches, then the rest as a provisional one)."""
        self._write_pending("provisional")

    def _write_pending(self, mode: str) -> None:
        """Write the buffered events from the end of the last full batch on: full batches, then
        the rest as a provisional batch (``provisional``), a final one (``final``, on close), or
        not at all (``full``: it stays buffered)."""
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
        n = len(cols)
        be = self.batch_events
        upto = n if mode == "final" else n - n % be
        self._f.seek(self._committed_at)
        for start in range(0, upto, be):
            stop = min(upto, start + be)
            chunk = cols if (start, stop) == (0, n) else cols.slice(start, stop)
            chunk.seq = np.arange(self.next_seq, self.next_seq + len(chunk), dtype=np.int64)
            self._message(columns_to_batch(chunk, self.schema)).write_to(self._f)
            self._batches += 1
            self.next_seq += len(chunk)
        self._committed_at = self._f.tell()
        rest = cols.slice(upto, n) if upto < n else None
        self._pending = [rest] if rest is not None else []
        self._pending_n = n - upto
        if rest is not None and mode == "provisional":
            rest.seq = np.arange(self.next_seq, self.next_seq + len(rest), dtype=np.int64)
            self._message(columns_to_batch(rest, self.schema), commit=False).write_to(self._f)
        self._f.truncate(self._f.tell())   # what a shorter provisional batch left behind
        self._sync()

    def _sync(self) -> None:
        self._f.flush()
        if self.fsync:
            os.fsync(self._f.fileno())

    def _message(self, batch: pa.RecordBatch, extra: dict[bytes, bytes] | None = None, *,
                 commit: bool = True) -> _OutMessage:
        """One sealed record-batch message chained after the last committed batch (the chain
        advances only when ``commit``)."""
        first = self._writer is None
        if first:
            self._writer = pa.ipc.new_stream(pa.PythonFile(self._sink, mode="w"), self.schema)
        self._writer.write_batch(batch, custom_metadata={HASH_KEY: HASH_PLACEHOLDER, **(extra or {})})
        message = _OutMessage(self._sink.take(), skip_first=first)
        chain = message.seal(self._chain)
        if commit:
            self._chain = chain
        return message

    def close(self) -> None:
        if self._f.closed:
            return
        self._write_pending("final")
        closing = json.dumps({"batches": self._batches, "events": self.next_seq}, sort_keys=True).encode()
        empty = pa.RecordBatch.from_arrays(_EMPTY_ARRAYS, schema=self.schema)
        self._f.seek(self._committed_at)
        self._message(empty, {CLOSE_KEY: closing}).write_to(self._f)
        self._f.write(EOS)
        self._f.truncate(self._f.tell())
        self._sync()
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
