"""Test helpers for the simulator: fold generated events into books and sample them per step."""

from __future__ import annotations

from pathlib import Path

from paraphina import events as ev

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


class Books:
    """Per-venue dict books folded from snapshots and deltas, sampled at every Timer."""

    def __init__(self, n: int) -> None:
        self.bids = [dict() for _ in range(n)]
        self.asks = [dict() for _ in range(n)]
        self.samples: list[list[tuple | None]] = []   # per timer: per venue (bid, ask, bid_depth, ask_depth) or None

    def apply(self, e: ev.Event) -> None:
        if isinstance(e, ev.BookSnapshot):
            self.bids[e.venue] = dict(zip(e.bid_px, e.bid_sz))
            self.asks[e.venue] = dict(zip(e.ask_px, e.ask_sz))
        elif isinstance(e, ev.BookDelta):
            for book, pxs, szs in ((self.bids[e.venue], e.bid_px, e.bid_sz), (self.asks[e.venue], e.ask_px, e.ask_sz)):
                for p, s in zip(pxs, szs):
                    if s:
                        book[p] = s
                    else:
                        book.pop(p, None)
        elif isinstance(e, ev.BookReset):
            self.bids[e.venue] = {}
            self.asks[e.venue] = {}
        elif isinstance(e, ev.Timer):
            row = []
            for b, a in zip(self.bids, self.asks):
                row.append((max(b), min(a), sum(b.values()), sum(a.values())) if b and a else None)
            self.samples.append(row)


def fold(events, n_venues: int) -> Books:
    books = Books(n_venues)
    for e in events:
        books.apply(e)
    return books
