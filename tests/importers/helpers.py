"""Test helpers: an independent reference book (sortedcontainers), raw capture readers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from sortedcontainers import SortedDict

from paraphina import events as ev
from paraphina.decimals import Grid


class RefBook:
    """A deliberately simple L2 book: two SortedDicts, no tricks (cross-checks the importer)."""

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.seq = -1

    def snapshot(self, e: ev.BookSnapshot) -> None:
        self.bids = SortedDict({p: s for p, s in zip(e.bid_px, e.bid_sz) if s})
        self.asks = SortedDict({p: s for p, s in zip(e.ask_px, e.ask_sz) if s})
        self.seq = e.venue_seq

    def delta(self, e: ev.BookDelta) -> None:
        assert e.prev_venue_seq == self.seq, f"delta {e.venue_seq} applies onto {e.prev_venue_seq}, book at {self.seq}"
        for side, pxs, szs in ((self.bids, e.bid_px, e.bid_sz), (self.asks, e.ask_px, e.ask_sz)):
            for p, s in zip(pxs, szs):
                if s:
                    side[p] = s
                else:
                    side.pop(p, None)
        self.seq = e.venue_seq

    def top(self):
        bb = self.bids.peekitem(-1) if self.bids else None
        ba = self.asks.peekitem(0) if self.asks else None
        return bb, ba

    def crossed(self) -> bool:
        bb, ba = self.top()
        return bb is not None and ba is not None and bb[0] >= ba[0]


def raw_lines(path: Path) -> list[bytes]:
    with gzip.open(path, "rb") as f:
        return f.read().splitlines()


def book_tickers(path: Path, ins: ev.Instrument) -> list[tuple[int, tuple]]:
    """``(u, ((bid_px, bid_sz), (ask_px, ask_sz)))`` of every bookTicker, parsed independently."""
    px, sz = Grid(ins.tick_size), Grid(ins.lot_size)
    out = []
    for line in raw_lines(path):
        obj = json.loads(line.split(b" ", 1)[1])
        if obj.get("stream", "").endswith("@bookTicker"):
            d = obj["data"]
            out.append((d["u"], ((px.units(d["b"]), sz.units(d["B"])), (px.units(d["a"]), sz.units(d["A"])))))
    return out
