"""The compiled book kernel against a plain reference book."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from paraphina import events as ev
from paraphina.book import I_GAPS, I_IGNORED, Books
from paraphina.columns import from_events


def fold(books: Books, events, first_seq=0):
    cols = from_events(events, first_seq)
    clock = __import__("numpy").zeros(1, "int64")
    i, out = 0, []
    while i < len(cols):
        j, status = books.fold(cols, i, len(cols), 0.2, 0.05, clock)
        out.append((j, status))
        i = j if status else j + 1
    return out


levels = st.lists(st.tuples(st.integers(90, 110), st.integers(0, 5)), max_size=6)


def _ref_set(book: dict[int, int], p: int, s: int, cap: int, worst) -> None:
    """Reference semantics: size 0 deletes; past capacity the level furthest from the touch goes."""
    if s == 0:
        book.pop(p, None)
        return
    if p not in book and len(book) == cap:
        far = worst(book)
        if worst([far, p]) == p:
            return  # the new level would be the furthest: not kept
        del book[far]
    book[p] = s


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(levels, levels), min_size=1, max_size=40), st.integers(2, 12))
def test_kernel_matches_a_reference_dict_book(messages, capacity):
    books = Books(1, capacity, [0.5])
    ref_b: dict[int, int] = {}
    ref_a: dict[int, int] = {}
    events = [ev.BookSnapshot(ts_ns=0, venue=0)]
    for k, (bids, asks) in enumerate(messages):
        events.append(ev.BookDelta(ts_ns=k + 1, venue=0, bid_px=[p for p, _ in bids], bid_sz=[s for _, s in bids],
                                   ask_px=[p for p, _ in asks], ask_sz=[s for _, s in asks]))
        for p, s in bids:
            _ref_set(ref_b, p, s, capacity, min)
        for p, s in asks:
            _ref_set(ref_a, p, s, capacity, max)
    fold(books, events)
    assert books.levels(0, 1, capacity) == sorted(ref_b.items(), reverse=True)
    assert books.levels(0, -1, capacity) == sorted(ref_a.items())


def test_snapshot_replaces_the_book_and_sets_sequence():
    b = Books(1, 16, [0.1])
    fold(b, [ev.BookSnapshot(ts_ns=1, venue=0, venue_seq=10, bid_px=[100, 99], bid_sz=[1, 2], ask_px=[102], ask_sz=[3]),
             ev.BookSnapshot(ts_ns=2, venue=0, venue_seq=20, bid_px=[98], bid_sz=[4], ask_px=[103, 101], ask_sz=[5, 6])])
    assert b.top(0) == (98, 4, 101, 6)
    assert b.levels(0, -1, 5) == [(101, 6), (103, 5)]


def test_a_sequence_gap_invalidates_until_the_next_snapshot():
    b = Books(1, 16, [0.1])
    events = [
        ev.BookSnapshot(ts_ns=1, venue=0, venue_seq=10, bid_px=[100], bid_sz=[1], ask_px=[102], ask_sz=[1]),
        ev.BookDelta(ts_ns=2, venue=0, venue_seq=11, prev_venue_seq=10, bid_px=[101], bid_sz=[1]),
        ev.BookDelta(ts_ns=3, venue=0, venue_seq=13, prev_venue_seq=12, bid_px=[99], bid_sz=[1]),  # gap
        ev.BookDelta(ts_ns=4, venue=0, venue_seq=14, prev_venue_seq=13, bid_px=[98], bid_sz=[1]),  # ignored
        ev.BookSnapshot(ts_ns=5, venue=0, venue_seq=20, bid_px=[97], bid_sz=[1], ask_px=[99], ask_sz=[1]),
        ev.BookDelta(ts_ns=6, venue=0, venue_seq=21, prev_venue_seq=20, ask_px=[98], ask_sz=[2]),
    ]
    stops = fold(b, events)
    assert (3, 1) in stops  # the kernel stopped right after the gap (index 2)
    assert b.counter(0, I_GAPS) == 1 and b.counter(0, I_IGNORED) == 1
    assert b.valid(0) and b.top(0) == (97, 1, 98, 2)


def test_local_volatility_updates_only_on_complete_messages():
    b = Books(1, 16, [1.0])
    fold(b, [
        ev.BookSnapshot(ts_ns=1, venue=0, bid_px=[99], bid_sz=[1], ask_px=[101], ask_sz=[1]),
        ev.BookDelta(ts_ns=2, venue=0, bid_px=[109], bid_sz=[1], last_in_batch=False),
        ev.BookDelta(ts_ns=2, venue=0, ask_px=[111], ask_sz=[1], bid_px=[99], bid_sz=[0]),
    ])
    import math

    r = math.log(105.0) - math.log(100.0)  # mid 100 -> (109+101)/2 = 105 once the message completes
    vs, vl = b.local_vols(0)
    assert math.isclose(vs, math.sqrt(0.2 * r * r)) and math.isclose(vl, math.sqrt(0.05 * r * r))


def test_trades_update_counters_not_the_book():
    b = Books(1, 8, [1.0])
    fold(b, [ev.Trade(ts_ns=1, venue=0, price=100, size=3, side=1), ev.Trade(ts_ns=2, venue=0, price=101, size=4, side=-1)])
    assert b.top(0) is None and b.counter(0, 7) == 2 and b.counter(0, 8) == 7 and b.counter(0, 9) == 101


def test_checkpoint_round_trip():
    b = Books(2, 8, [0.1, 0.5])
    fold(b, [ev.BookSnapshot(ts_ns=1, venue=1, bid_px=[5], bid_sz=[1], ask_px=[7], ask_sz=[2])])
    c = Books.from_dict(b.to_dict())
    assert c.top(1) == b.top(1) and (c.ints == b.ints).all() and c.tick.tolist() == [0.1, 0.5]


def test_a_checkpoint_of_the_old_layout_is_refused_by_name():
    import pytest

    old = {"bpx": b"", "bsz": b"", "bn": b"", "apx": b"", "asz": b"", "an": b"", "ints": b"", "floats": b"",
           "n_venues": 1, "capacity": 8, "tick": [0.1]}
    with pytest.raises(ValueError, match="older paraphina"):
        Books.from_dict(old)
