"""Recording the real captures served on loopback: the recorded books are the importer's books,
and replaying the session reproduces the live (shadow) action stream byte for byte."""

from __future__ import annotations

import asyncio

from paraphina import events as ev
from paraphina.replay import replay_log

from livetools import BYBIT, HYPERLIQUID, SPOT, USDM, Books, book_events, capture, imported, record_session, recorded, trades

USDM_FRAMES = 4000


def test_usdm_books_and_trades_equal_the_importers(real_data_dir, tmp_path):
    cap = capture(str(real_data_dir), USDM, USDM_FRAMES)
    out = tmp_path / "usdm.arrow"
    result, served = asyncio.run(record_session(cap, USDM[2], out))
    assert served.rest_requests == 1 and served.connections == 1
    got = recorded(out)
    want = imported(cap, tmp_path)
    assert len(book_events(want)) > 1000
    assert book_events(got) == book_events(want)
    assert trades(got) == trades(want)
    assert Books().fold(got).top() == Books().fold(want).top()
    v = result.venues[0]
    assert v["frames"] == len(cap.frames) and v["gaps"] == 0 and v["malformed"] == 0
    # Stamps are the recorder's clock, non-decreasing, and timers come at the main-loop cadence.
    ts = [e.ts_ns for e in got]
    assert ts == sorted(ts)
    assert isinstance(got[0], ev.SessionStart)
    assert result.timers == sum(isinstance(e, ev.Timer) for e in got) >= 1


def test_hyperliquid_books_and_trades_equal_the_importers(real_data_dir, tmp_path):
    cap = capture(str(real_data_dir), HYPERLIQUID, None)
    out = tmp_path / "hl.arrow"
    asyncio.run(record_session(cap, HYPERLIQUID[2], out))
    got = recorded(out)
    want = imported(cap, tmp_path)
    assert len(book_events(want)) == 46
    assert book_events(got) == book_events(want)
    assert trades(got) == trades(want)


def test_bybit_books_equal_the_importers(real_data_dir, tmp_path):
    cap = capture(str(real_data_dir), BYBIT, None)
    out = tmp_path / "bybit.arrow"
    result, _ = asyncio.run(record_session(cap, BYBIT[2], out))
    got = recorded(out)
    want = imported(cap, tmp_path)
    assert len(book_events(want)) == 50
    assert book_events(got) == book_events(want)
    assert result.venues[0]["malformed"] == 0


def test_replaying_the_session_reproduces_the_shadow_action_stream(real_data_dir, tmp_path):
    # Two venues (the heuristic's fair value wants two healthy books) on one recorder clock, at
    # x40 the recorded pace: ~2 s of serving, so 250 ms timers interleave with market data.
    usdm = capture(str(real_data_dir), USDM, USDM_FRAMES)
    spot = capture(str(real_data_dir), SPOT, 3000)
    out = tmp_path / "shadow.arrow"
    result, _ = asyncio.run(record_session([(usdm, USDM[2]), (spot, SPOT[2])], out=out, policy="heuristic", speed=40.0))
    assert result.actions > 0 and result.timers > 4
    got = recorded(out)
    assert {e.venue for e in got if isinstance(e, ev.BookDelta)} == {0, 1}
    live = (tmp_path / "shadow.arrow.actions").read_bytes()
    from livetools import btc_config

    r = replay_log(str(out), "heuristic", btc_config(), out=str(tmp_path / "replayed.actions"))
    assert r.sha256 == result.sha256
    assert (tmp_path / "replayed.actions").read_bytes() == live
