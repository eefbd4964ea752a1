"""Arrow IPC message framing, read without pyarrow: lengths, header type and key/value metadata.

The log checks each message's bounds and hash before pyarrow sees a byte of it (pyarrow trusts
the lengths and offsets inside a message, and a flipped bit there can crash the process). So
this module parses just enough of an encapsulated IPC message by hand: the 8-byte prefix
(continuation marker and metadata length), the ``Message`` flatbuffer's body length and header
type, and the custom metadata key/value strings with their byte positions (the log's hash lives
in one of them). Every read is bounds-checked; anything malformed raises :class:`FrameError`.

Flatbuffer layout (Arrow ``format/Message.fbs`` and ``Schema.fbs``): a table starts with an
int32 offset back to its vtable; the vtable holds uint16 field offsets. ``Message`` fields:
0 version, 1 header_type, 2 header, 3 bodyLength, 4 custom_metadata. ``Schema`` fields:
0 endianness, 1 fields, 2 custom_metadata. ``KeyValue``: 0 key, 1 value.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CONTINUATION = b"\xff\xff\xff\xff"
EOS = CONTINUATION + b"\x00\x00\x00\x00"
PREFIX = 8

HEADER_SCHEMA = 1
HEADER_RECORD_BATCH = 3

MAX_METADATA = 64 << 20       # no paraphina message has 64 MiB of flatbuffer metadata
MAX_KEY_VALUES = 4096


class FrameError(Exception):
    """The bytes are not a well-formed IPC message; ``str()`` says what is wrong."""


@dataclass(frozen=True)
class Frame:
    """One message's framing: ``metadata`` is the flatbuffer (after the 8-byte prefix)."""

    metadata: bytes
    header_type: int
    body_length: int
    key_values: dict[bytes, tuple[int, int]]   # key -> (offset, length) of its value in metadata

    def value(self, key: bytes) -> bytes | None:
        span = self.key_values.get(key)
        return None if span is None else self.metadata[span[0]:span[0] + span[1]]


def metadata_length(prefix: bytes) -> int:
    """The flatbuffer length announced by an 8-byte prefix; 0 is the end-of-stream marker."""
    if len(prefix) != PREFIX or prefix[:4] != CONTINUATION:
        raise FrameError("no message marker")
    n = int.from_bytes(prefix[4:], "little", signed=True)
    if n < 0 or n % 8 or n > MAX_METADATA:
        raise FrameError(f"impossible metadata length {n}")
    return n


def parse(metadata: bytes) -> Frame:
    """Parse a ``Message`` flatbuffer; raises FrameError on anything out of bounds."""
    fb = _Flatbuffer(metadata)
    msg = fb.root()
    header_type = fb.scalar(msg, 1, "<B", 0)
    body_length = fb.scalar(msg, 3, "<q", 0)
    if body_length < 0 or body_length % 8:
        raise FrameError(f"impossible body length {body_length}")
    pairs = fb.key_values(msg, 4)
    if header_type == HEADER_SCHEMA:
        header = fb.table_at(msg, 2)
        if header is None:
            raise FrameError("schema message without a schema")
        pairs = fb.key_values(header, 2) + pairs
    kv: dict[bytes, tuple[int, int]] = {}
    for key, span in pairs:
        if key in kv:
            raise FrameError(f"metadata key {key.decode(errors='replace')!r} given twice")
        kv[key] = span
    return Frame(metadata, header_type, body_length, kv)


_STRUCTS = {f: struct.Struct(f) for f in ("<B", "<H", "<i", "<I", "<q")}


class _Flatbuffer:
    __slots__ = ("buf", "n")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.n = len(buf)

    def _unpack(self, fmt: str, pos: int):
        st = _STRUCTS[fmt]
        if pos < 0 or pos + st.size > self.n:
            raise FrameError("metadata offset out of bounds")
        return st.unpack_from(self.buf, pos)[0]

    def root(self) -> int:
        return self._table(self._unpack("<I", 0))

    def _table(self, pos: int) -> int:
        vt = pos - self._unpack("<i", pos)
        vsize = self._unpack("<H", vt)
        if vsize < 4 or vsize % 2 or vt + vsize > self.n:
            raise FrameError("bad metadata vtable")
        return pos

    def _field(self, table: int, i: int) -> int | None:
        vt = table - self._unpack("<i", table)
        vsize = self._unpack("<H", vt)
        slot = 4 + 2 * i
        if slot + 2 > vsize:
            return None
        off = self._unpack("<H", vt + slot)
        return table + off if off else None

    def scalar(self, table: int, i: int, fmt: str, default):
        pos = self._field(table, i)
        return default if pos is None else self._unpack(fmt, pos)

    def table_at(self, table: int, i: int) -> int | None:
        pos = self._field(table, i)
        return None if pos is None else self._table(pos + self._unpack("<I", pos))

    def _string(self, table: int, i: int) -> tuple[int, int]:
        pos = self._field(table, i)
        if pos is None:
            raise FrameError("metadata string missing")
        start = pos + self._unpack("<I", pos)
        length = self._unpack("<I", start)
        if start + 4 + length > self.n:
            raise FrameError("metadata string out of bounds")
        return start + 4, length

    def key_values(self, table: int, i: int) -> list[tuple[bytes, tuple[int, int]]]:
        pos = self._field(table, i)
        if pos is None:
            return []
        vec = pos + self._unpack("<I", pos)
        count = self._unpack("<I", vec)
        if count > MAX_KEY_VALUES or vec + 4 + 4 * count > self.n:
            raise FrameError("metadata list out of bounds")
        out = []
        for k in range(count):
            elem = vec + 4 + 4 * k
            kv = self._table(elem + self._unpack("<I", elem))
            ks, kl = self._string(kv, 0)
            out.append((self.buf[ks:ks + kl], self._string(kv, 1)))
        return out
