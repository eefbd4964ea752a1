"""The blocked book kernel against a plain Python book, level by level after every message.

Random snapshots and deltas (updates, inserts and deletes at every depth, at and beyond
capacity, deletes of absent levels, duplicate prices within a message), sequence gaps, ignored
deltas, invalidations and checkpoint round trips go through :class:`paraphina.book.Books` and
through :class:`RefBook` (a dict a side and the capacity rule); every level of both sides, the
tops, the float levels and the counters must agree after each message. Small blocks (4, 8
slots) make splits, emptied blocks and repacks frequent; block 64 with capacity 2048 is the
configuration replays run.
"""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from paraphina import events as ev
from paraphina.book import H_BLOCKS, I_GAPS, I_IGNORED, I_VALID, Books
from paraphina.columns import from_events

N_VENUES = 2


class RefBook:
    """One venue's book as the spec states it: size 0 deletes; a full side drops the level
    furthest from the touch for a better new one and ignores a worse one."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.valid = False
        self.vseq = -1
        self.gaps = 0
        self.ignored = 0

    def _set(self, side: dict[int, int], p: int, s: int, worst) -> None:
        if s == 0:
            side.pop(p, None)
            return
        if p not in side and len(side) >= self.capacity:
            far = worst(side)
            if worst(far, p) == p:
                return
            del side[far]
        side[p] = s

    def apply(self, e) -> None:
        if isinstance(e, ev.BookSnapshot):
            self.bids, self.asks, self.valid = {}, {}, True
        else:
            if not self.valid:
                self.ignored += 1
                return
            if e.prev_venue_seq >= 0 and self.vseq >= 0 and e.prev_venue_seq != self.vseq:
                self.bids, self.asks, self.valid = {}, {}, False
                self.gaps += 1
                return
        for p, s in zip(e.bid_px, e.bid_sz):
            self._set(self.bids, p, s, min)
        for p, s in zip(e.ask_px, e.ask_sz):
            self._set(self.asks, p, s, max)
        self.vseq = e.venue_seq

    def invalidate(self) -> None:
        self.bids, self.asks, self.valid = {}, {}, False


def _message(rng: random.Random, ref: RefBook, v: int, seq: int, kind: str, width: int):
    """A snapshot or delta for venue ``v`` whose changes reach every depth of the reference book."""
    mid = 10_000

    def changes(held: dict[int, int], sign: int) -> tuple[list[int], list[int]]:
        pxs: list[int] = []
        szs: list[int] = []
        n = rng.choice([0, 1, 3, 10, 40]) if kind == "delta" else rng.randint(0, 3 * ref.capacity // 2 + 2)
        keys = sorted(held)
        for _ in range(n):
            r = rng.random()
            if keys and r < 0.45:  # an existing level, any depth: update or delete
                p = rng.choice(keys)
                s = 0 if rng.random() < 0.45 else rng.randint(1, 1_000)
            else:  # a new price anywhere: at the touch, inside, beyond the worst level
                p = mid - sign * rng.randint(1, width)
                s = 0 if rng.random() < 0.1 else rng.randint(1, 1_000)
            pxs.append(p)
            szs.append(s)
        return pxs, szs

    bid_px, bid_sz = changes(ref.bids, 1)
    ask_px, ask_sz = changes(ref.asks, -1)
    ask_px = [2 * mid - p for p in ask_px]  # asks sit above the mid, mirrored from the bid draw
    if kind == "snapshot":
        return ev.BookSnapshot(ts_ns=seq, venue=v, venue_seq=seq, bid_px=bid_px, bid_sz=bid_sz,
                               ask_px=ask_px, ask_sz=ask_sz)
    prev = ref.vseq if rng.random() < 0.97 else ref.vseq + 1  # now and then a gap
    if rng.random() < 0.1:
        prev = -1  # no continuity information
    return ev.BookDelta(ts_ns=seq, venue=v, venue_seq=seq, prev_venue_seq=prev, bid_px=bid_px, bid_sz=bid_sz,
                        ask_px=ask_px, ask_sz=ask_sz)


def _check(books: Books, refs: list[RefBook], depth: int) -> None:
    out, counts = books.float_levels(depth, [1.0] * N_VENUES)
    tops = books.tops()
    for v, ref in enumerate(refs):
        bids = sorted(ref.bids.items(), reverse=True)
        asks = sorted(ref.asks.items())
        assert books.levels(v, 1, ref.capacity + 1) == bids
        assert books.levels(v, -1, ref.capacity + 1) == asks
        assert books.levels(v, 1, 3) == bids[:3] and books.levels(v, -1, 0) == []
        assert books.n_levels(v, 1) == len(bids) and books.n_levels(v, -1) == len(asks)
        assert books.best_bid(v) == (bids[0] if bids else None)
        assert books.best_ask(v) == (asks[0] if asks else None)
        assert books.top(v) == ((*bids[0], *asks[0]) if bids and asks else None)
        assert tops[v] == (books.top(v) if ref.valid else None)
        assert books.valid(v) == ref.valid
        assert (books.counter(v, I_GAPS), books.counter(v, I_IGNORED)) == (ref.gaps, ref.ignored)
        assert counts[v].tolist() == [min(len(bids), depth), min(len(asks), depth)]
        for side, levels in ((0, bids), (1, asks)):
            got = [(out[v, side, 0, k], out[v, side, 1, k]) for k in range(counts[v, side])]
            assert got == [(float(p), float(s)) for p, s in levels[:depth]]


def _drive(seed: int, capacity: int, block: int, n_messages: int) -> None:
    rng = random.Random(seed)
    width = rng.choice([capacity // 2 + 1, capacity, 3 * capacity])  # price range: a book below, at or over capacity
    books = Books(N_VENUES, capacity, [1.0] * N_VENUES, block)
    refs = [RefBook(capacity) for _ in range(N_VENUES)]
    clock = np.zeros(1, np.int64)
    for seq in range(n_messages):
        v = rng.randrange(N_VENUES)
        r = rng.random()
        if r < 0.03:
            books.invalidate(v)  # the engine's GapDetected / BookReset
            refs[v].invalidate()
        elif r < 0.06:
            books = Books.from_dict(books.to_dict())  # a checkpoint mid-stream changes nothing
        else:
            kind = "snapshot" if r < 0.12 or not refs[v].valid and rng.random() < 0.5 else "delta"
            e = _message(rng, refs[v], v, seq, kind, width)
            cols = from_events([e], seq)
            gaps = refs[v].gaps
            refs[v].apply(e)
            assert books.fold(cols, 0, 1, 0.2, 0.05, clock) == (1, 1 if refs[v].gaps > gaps else 0)
        _check(books, refs, 10)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 2, 5, 8, 9, 64]), st.sampled_from([4, 5, 8, 64]))
def test_small_books_match_the_reference(seed, capacity, block):
    _drive(seed, capacity, block, 150)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([4, 64]))
def test_full_size_books_match_the_reference(seed, block):
    _drive(seed, 2048, block, 80)


def test_a_gap_reports_and_clears_like_the_reference():
    books = Books(1, 8, [1.0], 4)
    events = [ev.BookSnapshot(ts_ns=1, venue=0, venue_seq=1, bid_px=list(range(90, 100)), bid_sz=[1] * 10),
              ev.BookDelta(ts_ns=2, venue=0, venue_seq=3, prev_venue_seq=2, bid_px=[101], bid_sz=[1]),
              ev.BookDelta(ts_ns=3, venue=0, venue_seq=4, prev_venue_seq=3, bid_px=[102], bid_sz=[1])]
    cols = from_events(events, 0)
    clock = np.zeros(1, np.int64)
    assert books.fold(cols, 0, 3, 0.2, 0.05, clock) == (2, 1)  # stopped right after the gap
    assert books.n_levels(0, 1) == 0 and books.counter(0, I_VALID) == 0
    assert books.fold(cols, 2, 3, 0.2, 0.05, clock) == (3, 0)
    assert books.counter(0, I_IGNORED) == 1 and books.levels(0, 1, 10) == []


def test_repacking_keeps_every_level():
    """A side whose blocks went sparse fills the pool (capacity 64, blocks of 4: 34 blocks); a
    split that finds no free block repacks the side 3/4 full. Every level stays."""
    capacity, block = 64, 4
    books = Books(1, capacity, [1.0], block)
    ref = RefBook(capacity)

    def delta(t, pxs, size):
        return ev.BookDelta(ts_ns=t, venue=0, bid_px=list(pxs), bid_sz=[size] * len(pxs))

    events = [
        ev.BookSnapshot(ts_ns=0, venue=0, bid_px=list(range(1000, 1064)), bid_sz=[5] * 64),  # 16 full blocks
        delta(1, [p for p in range(1000, 1064) if p % 4], 0),  # 16 blocks of one level each
        delta(2, range(2000, 2048), 6),  # 12 more full blocks: 64 levels
        delta(3, [p for p in range(2000, 2048) if p % 4 >= 2], 0),  # those keep two levels each
        delta(4, range(3000, 3040, 2), 7),  # 60 levels in 32 blocks, the last 5 full
    ]
    events += [delta(5 + k, [3001 + 8 * k], 8) for k in range(4)]  # each into the middle of a full block
    cols = from_events(events, 0)
    clock = np.zeros(1, np.int64)
    blocks = []
    for i, e in enumerate(events):
        books.fold(cols, i, i + 1, 0.2, 0.05, clock)
        ref.apply(e)
        assert books.levels(0, 1, 100) == sorted(ref.bids.items(), reverse=True)
        blocks.append(int(books.head[0, 0, H_BLOCKS]))
    assert max(blocks) == 34 and blocks[-1] < 34  # the pool filled up, then a repack emptied blocks
