"""The columnar form of a run of events: what the log stores and what the engine folds.

Market events (book snapshots, book deltas, trades) are the bulk of any log. They live in typed
numpy columns, with each book message's levels as flattened arrays plus offsets (the layout of
an Arrow list column), so the compiled book kernel folds a whole batch without creating a
Python object per event. Every other kind is rare; it travels as the msgpack encoding of its
Struct in ``payload`` and is decoded only when the engine reaches it.

This module is pure (numpy and msgspec only); :mod:`paraphina.eventlog` maps these columns to
and from Arrow record batches without copying.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import msgspec
import numpy as np

from paraphina import events as ev

K_SNAPSHOT = ev.BookSnapshot.KIND
K_DELTA = ev.BookDelta.KIND
K_TRADE = ev.Trade.KIND
K_TIMER = ev.Timer.KIND

FLAG_LAST_IN_BATCH = 1

_payload_encoder = msgspec.msgpack.Encoder()
_payload_decoder = msgspec.msgpack.Decoder(ev.Event)


class EventColumns:
    """``n`` consecutive events as parallel arrays (see module docstring).

    ``payload[i]`` is ``None`` for market kinds; ``text[i]`` holds a trade's id (else ``None``).
    ``bid_off``/``ask_off`` have ``n + 1`` entries: levels of event ``i`` are
    ``bid_px[bid_off[i]:bid_off[i+1]]``.
    """

    __slots__ = (
        "seq", "ts_ns", "kind", "venue", "venue_seq", "prev_venue_seq", "price", "size", "side",
        "flags", "bid_off", "bid_px", "bid_sz", "ask_off", "ask_px", "ask_sz", "payload", "text",
    )

    def __init__(self, *, seq, ts_ns, kind, venue, venue_seq, prev_venue_seq, price, size, side,
                 flags, bid_off, bid_px, bid_sz, ask_off, ask_px, ask_sz, payload, text) -> None:
        self.seq = seq
        self.ts_ns = ts_ns
        self.kind = kind
        self.venue = venue
        self.venue_seq = venue_seq
        self.prev_venue_seq = prev_venue_seq
        self.price = price
        self.size = size
        self.side = side
        self.flags = flags
        self.bid_off = bid_off
        self.bid_px = bid_px
        self.bid_sz = bid_sz
        self.ask_off = ask_off
        self.ask_px = ask_px
        self.ask_sz = ask_sz
        self.payload: Sequence[bytes | None] = payload
        self.text: Sequence[str | None] = text

    def __len__(self) -> int:
        return len(self.seq)

    def event(self, i: int) -> ev.Event:
        """Event ``i`` as its Struct (used for cold kinds and by ``cat``/``diff``)."""
        k = int(self.kind[i])
        if k == K_TRADE:
            return ev.Trade(
                ts_ns=int(self.ts_ns[i]), venue=int(self.venue[i]), price=int(self.price[i]),
                size=int(self.size[i]), side=int(self.side[i]), trade_id=self.text[i] or "",
            )
        if k == K_DELTA or k == K_SNAPSHOT:
            b0, b1, a0, a1 = int(self.bid_off[i]), int(self.bid_off[i + 1]), int(self.ask_off[i]), int(self.ask_off[i + 1])
            common = dict(
                ts_ns=int(self.ts_ns[i]), venue=int(self.venue[i]), venue_seq=int(self.venue_seq[i]),
                bid_px=self.bid_px[b0:b1].tolist(), bid_sz=self.bid_sz[b0:b1].tolist(),
                ask_px=self.ask_px[a0:a1].tolist(), ask_sz=self.ask_sz[a0:a1].tolist(),
            )
            if k == K_SNAPSHOT:
                return ev.BookSnapshot(**common)
            return ev.BookDelta(
                **common, prev_venue_seq=int(self.prev_venue_seq[i]),
                last_in_batch=bool(int(self.flags[i]) & FLAG_LAST_IN_BATCH),
            )
        if k == K_TIMER:
            return ev.Timer(ts_ns=int(self.ts_ns[i]))
        raw = self.payload[i]
        if raw is None:
            raise msgspec.DecodeError(f"seq {int(self.seq[i])}: kind {k} has no payload")
        return decode_payload(raw, int(self.seq[i]))

    def events(self) -> Iterator[ev.Event]:
        for i in range(len(self)):
            yield self.event(i)

    def slice(self, start: int, stop: int) -> "EventColumns":
        """Events ``start:stop`` (level arrays are re-based so offsets start at 0)."""
        b0, b1 = int(self.bid_off[start]), int(self.bid_off[stop])
        a0, a1 = int(self.ask_off[start]), int(self.ask_off[stop])
        return EventColumns(
            seq=self.seq[start:stop], ts_ns=self.ts_ns[start:stop], kind=self.kind[start:stop],
            venue=self.venue[start:stop], venue_seq=self.venue_seq[start:stop],
            prev_venue_seq=self.prev_venue_seq[start:stop], price=self.price[start:stop],
            size=self.size[start:stop], side=self.side[start:stop], flags=self.flags[start:stop],
            bid_off=self.bid_off[start : stop + 1] - b0, bid_px=self.bid_px[b0:b1], bid_sz=self.bid_sz[b0:b1],
            ask_off=self.ask_off[start : stop + 1] - a0, ask_px=self.ask_px[a0:a1], ask_sz=self.ask_sz[a0:a1],
            payload=self.payload[start:stop], text=self.text[start:stop],
        )


def decode_payload(raw: bytes, seq: int) -> ev.Event:
    try:
        return _payload_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise msgspec.DecodeError(f"seq {seq}: undecodable event payload: {exc}") from None


def encode_payload(event: ev.Event) -> bytes:
    return _payload_encoder.encode(event)


def from_events(events: Sequence[ev.Event], first_seq: int = 0) -> EventColumns:
    """Columns for ``events``, numbered ``first_seq``, ``first_seq + 1``, ..."""
    n = len(events)
    ts = np.empty(n, np.int64)
    kind = np.empty(n, np.uint8)
    venue = np.full(n, -1, np.int16)
    vseq = np.full(n, -1, np.int64)
    pvseq = np.full(n, -1, np.int64)
    price = np.zeros(n, np.int64)
    size = np.zeros(n, np.int64)
    side = np.zeros(n, np.int8)
    flags = np.zeros(n, np.uint8)
    bid_off = np.zeros(n + 1, np.int32)
    ask_off = np.zeros(n + 1, np.int32)
    bid_px: list[int] = []
    bid_sz: list[int] = []
    ask_px: list[int] = []
    ask_sz: list[int] = []
    payload: list[bytes | None] = [None] * n
    text: list[str | None] = [None] * n
    for i, e in enumerate(events):
        k = e.KIND
        ts[i] = e.ts_ns
        kind[i] = k
        venue[i] = getattr(e, "venue", -1)
        if k == K_DELTA or k == K_SNAPSHOT:
            vseq[i] = e.venue_seq
            if k == K_DELTA:
                pvseq[i] = e.prev_venue_seq
                flags[i] = FLAG_LAST_IN_BATCH if e.last_in_batch else 0
            else:
                flags[i] = FLAG_LAST_IN_BATCH
            if len(e.bid_px) != len(e.bid_sz) or len(e.ask_px) != len(e.ask_sz):
                raise ValueError(f"event {i} ({type(e).__name__}): price and size lists differ in length")
            bid_px.extend(e.bid_px)
            bid_sz.extend(e.bid_sz)
            ask_px.extend(e.ask_px)
            ask_sz.extend(e.ask_sz)
        elif k == K_TRADE:
            price[i] = e.price
            size[i] = e.size
            side[i] = e.side
            text[i] = e.trade_id or None
        elif k != K_TIMER:
            payload[i] = _payload_encoder.encode(e)
        bid_off[i + 1] = len(bid_px)
        ask_off[i + 1] = len(ask_px)
    return EventColumns(
        seq=np.arange(first_seq, first_seq + n, dtype=np.int64), ts_ns=ts, kind=kind, venue=venue,
        venue_seq=vseq, prev_venue_seq=pvseq, price=price, size=size, side=side, flags=flags,
        bid_off=bid_off, bid_px=np.asarray(bid_px, np.int64), bid_sz=np.asarray(bid_sz, np.int64),
        ask_off=ask_off, ask_px=np.asarray(ask_px, np.int64), ask_sz=np.asarray(ask_sz, np.int64),
        payload=payload, text=text,
    )


def concat(parts: Sequence[EventColumns]) -> EventColumns:
    """One EventColumns from several consecutive ones (seq is taken as given)."""
    if len(parts) == 1:
        return parts[0]

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    def offsets(name: str) -> np.ndarray:
        out = [np.zeros(1, np.int32)]
        base = 0
        for p in parts:
            off = getattr(p, name)
            out.append(off[1:] + base)
            base += int(off[-1])
        return np.concatenate(out).astype(np.int32)

    payload: list[bytes | None] = []
    text: list[str | None] = []
    for p in parts:
        payload.extend(p.payload)
        text.extend(p.text)
    return EventColumns(
        seq=cat("seq"), ts_ns=cat("ts_ns"), kind=cat("kind"), venue=cat("venue"), venue_seq=cat("venue_seq"),
        prev_venue_seq=cat("prev_venue_seq"), price=cat("price"), size=cat("size"), side=cat("side"),
        flags=cat("flags"), bid_off=offsets("bid_off"), bid_px=cat("bid_px"), bid_sz=cat("bid_sz"),
        ask_off=offsets("ask_off"), ask_px=cat("ask_px"), ask_sz=cat("ask_sz"), payload=payload, text=text,
    )


def take(cols: EventColumns, idx: np.ndarray) -> EventColumns:
    """Rows ``idx`` of ``cols``, in that order (levels gathered and offsets re-based)."""
    idx = np.asarray(idx, np.int64)

    def levels(off: np.ndarray, px: np.ndarray, sz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo = off[idx].astype(np.int64)
        lens = off[idx + 1] - lo
        new_off = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(lens, out=new_off[1:])
        pos = np.repeat(lo - new_off[:-1], lens) + np.arange(new_off[-1])
        return new_off.astype(np.int32), px[pos], sz[pos]

    bid_off, bid_px, bid_sz = levels(cols.bid_off, cols.bid_px, cols.bid_sz)
    ask_off, ask_px, ask_sz = levels(cols.ask_off, cols.ask_px, cols.ask_sz)
    rows = idx.tolist()
    return EventColumns(
        seq=cols.seq[idx], ts_ns=cols.ts_ns[idx], kind=cols.kind[idx], venue=cols.venue[idx],
        venue_seq=cols.venue_seq[idx], prev_venue_seq=cols.prev_venue_seq[idx], price=cols.price[idx],
        size=cols.size[idx], side=cols.side[idx], flags=cols.flags[idx], bid_off=bid_off, bid_px=bid_px,
        bid_sz=bid_sz, ask_off=ask_off, ask_px=ask_px, ask_sz=ask_sz,
        payload=[cols.payload[i] for i in rows], text=[cols.text[i] for i in rows],
    )
