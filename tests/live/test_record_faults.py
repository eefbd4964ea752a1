"""Faults against the loopback server: each is recorded as the right event, the recorder recovers
(a fresh snapshot of the venue's true book), and nothing already written is lost."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time

import msgspec
import pytest

from paraphina import events as ev
from paraphina.live.capture_server import Faults, ServerThread
from paraphina.live.clock import WallClock
from paraphina.live.feeds import instrument_for
from paraphina.replay import replay_log

from conftest import ROOT, run_cli
from livetools import BYBIT, FAST, USDM, Books, book_events, btc_config, capture, imported, record_session, recorded

FRAMES = 4000
CUT = 1500  # well after the capture's snapshot synchronised the book


def _is_diff(text: str) -> bool:
    return '"depthUpdate"' in text


def _tops_by_seq(events) -> dict[int, tuple]:
    """Top of book after every book event, keyed by the venue's update id."""
    b = Books()
    out = {}
    for e in events:
        b.fold([e])
        if isinstance(e, (ev.BookSnapshot, ev.BookDelta)):
            out[e.venue_seq] = b.top()
    return out


def _check_recovered(got, want) -> None:
    """After the last reset the recorder resynchronised: a snapshot, then every top of book equals
    the importer's at the same update id, and the final books are equal."""
    last_reset = max(i for i, e in enumerate(got) if isinstance(e, (ev.BookReset, ev.GapDetected)))
    after = got[last_reset + 1:]
    first_book = next(e for e in after if isinstance(e, (ev.BookSnapshot, ev.BookDelta)))
    assert isinstance(first_book, ev.BookSnapshot)
    want_tops = _tops_by_seq(want)
    b = Books()
    b.fold(got[: last_reset + 1])
    checked = 0
    for e in after:
        b.fold([e])
        if isinstance(e, ev.BookDelta):
            assert b.top() == want_tops[e.venue_seq], f"top differs at u={e.venue_seq}"
            checked += 1
    assert checked > 100
    fin_got, fin_want = Books().fold(got), Books().fold(want)
    assert fin_got.bids[0] == fin_want.bids[0] and fin_got.asks[0] == fin_want.asks[0]


@pytest.fixture(scope="module")
def usdm(real_data_dir):
    return capture(str(real_data_dir), USDM, FRAMES)


def test_dropped_connection_reconnects_and_resynchronises(usdm, tmp_path):
    out = tmp_path / "drop.arrow"
    result, served = asyncio.run(record_session(usdm, USDM[2], out, faults=Faults(drop_after=CUT)))
    assert served.connections == 2 and served.rest_requests == 2
    v = result.venues[0]
    assert v["connects"] == 2 and v["snapshots"] == 2 and v["reset_reasons"] == {"disconnect": 1}
    got = recorded(out)
    resets = [e for e in got if isinstance(e, ev.BookReset)]
    assert len(resets) == 1 and resets[0].reason.startswith("disconnect")
    _check_recovered(got, imported(usdm, tmp_path))


def test_bybit_reconnect_resubscribes_and_gets_a_fresh_snapshot(real_data_dir, tmp_path):
    cap = capture(str(real_data_dir), BYBIT, None)
    out = tmp_path / "bybit-drop.arrow"
    result, served = asyncio.run(record_session(cap, BYBIT[2], out, faults=Faults(drop_after=20)))
    assert served.connections == 2 and result.venues[0]["snapshots"] == 2
    got = recorded(out)
    kinds = [type(e).__name__ for e in got if isinstance(e, (ev.BookReset, ev.BookSnapshot))]
    assert kinds == ["BookSnapshot", "BookReset", "BookSnapshot"]
    fin_got, fin_want = Books().fold(got), Books().fold(imported(cap, tmp_path))
    assert fin_got.bids[0] == fin_want.bids[0] and fin_got.asks[0] == fin_want.asks[0]


def test_skipped_diff_is_a_gap_then_a_fresh_snapshot(usdm, tmp_path):
    skip = next(i for i in range(CUT, len(usdm.frames)) if _is_diff(usdm.frames[i][1]))
    following = next(i for i in range(skip + 1, len(usdm.frames)) if _is_diff(usdm.frames[i][1]))
    skipped_u = msgspec.json.decode(usdm.frames[skip][1])["data"]["u"]
    out = tmp_path / "gap.arrow"
    result, served = asyncio.run(record_session(usdm, USDM[2], out, faults=Faults(skip=frozenset({skip}))))
    got = recorded(out)
    gaps = [e for e in got if isinstance(e, ev.GapDetected)]
    assert len(gaps) == 1
    # Futures rule: the diff after the hole has pu = the skipped diff's u, not the book's.
    assert gaps[0].received == skipped_u and gaps[0].expected < skipped_u
    assert gaps[0].source == "record:binance-usdm"
    assert msgspec.json.decode(usdm.frames[following][1])["data"]["pu"] == skipped_u
    resets = [e for e in got if isinstance(e, ev.BookReset)]
    assert [r.reason for r in resets] == ["gap"]
    assert result.venues[0]["gaps"] == 1 and served.connections == 2
    _check_recovered(got, imported(usdm, tmp_path))


def test_stalled_feed_is_recorded_stale_and_recovers(usdm, tmp_path):
    out = tmp_path / "stale.arrow"
    feed = dataclasses.replace(FAST, stale_after_s=0.4)
    # Staleness is wall time by nature (D-REC-2): this test stamps with the wall clock.
    result, served = asyncio.run(record_session(usdm, USDM[2], out, feed=feed, quiet_s=0.6, clock=WallClock(),
                                                faults=Faults(stall_at=CUT, stall_s=5.0)))
    got = recorded(out)
    resets = [e for e in got if isinstance(e, ev.BookReset)]
    assert [r.reason for r in resets] == ["stale"]
    assert result.venues[0]["reset_reasons"] == {"stale": 1}
    # The stale reset is stamped at least stale_after_s after the last frame before it.
    i = got.index(resets[0])
    last_market = max(e.ts_ns for e in got[:i] if isinstance(e, (ev.BookDelta, ev.Trade)))
    assert resets[0].ts_ns - last_market >= 0.4e9
    _check_recovered(got, imported(usdm, tmp_path))


def test_malformed_frame_is_counted_not_fatal_and_records_nothing(usdm, tmp_path):
    out = tmp_path / "bad.arrow"
    result, served = asyncio.run(record_session(usdm, USDM[2], out, faults=Faults(malformed_at=CUT)))
    v = result.venues[0]
    assert v["malformed"] == 1 and v["resets"] == 0 and v["connects"] == 1
    assert v["frames"] == len(usdm.frames) + 1
    got = recorded(out)
    want = imported(usdm, tmp_path)
    assert book_events(got) == book_events(want)
    assert not any(isinstance(e, (ev.BookReset, ev.GapDetected)) for e in got)


def test_unusable_rest_snapshot_is_retried_then_the_feed_resubscribes(usdm, tmp_path):
    from paraphina.live.capture_server import CaptureServer
    from paraphina.live.recorder import Recorder, RecordSettings

    no_snapshot = dataclasses.replace(usdm, snapshot=None, frames=usdm.frames[:300])  # REST answers "{}"

    async def go():
        server = await CaptureServer(no_snapshot, instrument_for(USDM[2])).start()
        settings = RecordSettings(out=str(tmp_path / "nosnap.arrow"), venues=[USDM[2]], config=btc_config(),
                                  endpoints={"binance-usdm": server.url}, duration_s=1.5, status="off",
                                  feed=dataclasses.replace(FAST, backoff_initial_s=0.02))
        try:
            return await Recorder(settings).run(), server.stats
        finally:
            await server.close()

    result, served = asyncio.run(go())
    v = result.venues[0]
    assert v["snapshots"] == 0 and v["connects"] >= 2 and served.rest_requests >= 3
    assert v["malformed"] >= 3  # each unusable answer is counted
    got = recorded(tmp_path / "nosnap.arrow")
    resets = [e.reason for e in got if isinstance(e, ev.BookReset)]
    assert resets and all(r.startswith("snapshot failed") for r in resets)
    assert not any(isinstance(e, (ev.BookSnapshot, ev.BookDelta)) for e in got)
    assert sum(isinstance(e, ev.Trade) for e in got) > 0  # trades still recorded


# --- the CLI in a subprocess: signals ------------------------------------------------------


def _start_recorder(url: str, out, *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "paraphina", "record", "--venue", "binance-usdm:BTCUSDT", "-o", str(out),
            "--endpoint", f"binance-usdm={url}", "--policy", "fixed-spread", "--config", "btc",
            "--flush-interval", "0.1s", "--status", "off", "--backoff", "0.05s", *extra]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_batches(out, proc, min_bytes: int = 200_000, timeout: float = 40.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"recorder exited early: {proc.communicate()[1][-2000:]}")
        actions = f"{out}.actions"
        # Enough log written, and the shadow policy has acted (the first engine step may be slow
        # on a busy machine while numba loads its kernels).
        if os.path.exists(out) and os.path.getsize(out) > min_bytes and os.path.exists(actions) \
                and os.path.getsize(actions) > 0:
            return
        time.sleep(0.05)
    raise AssertionError("the recorder wrote too little in time")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_flushes_and_closes_cleanly(usdm, tmp_path, sig):
    out = tmp_path / "term.arrow"
    with ServerThread(usdm, instrument_for(USDM[2]), speed=20.0) as srv:
        proc = _start_recorder(srv.url, out)
        try:
            _wait_for_batches(out, proc)
            proc.send_signal(sig)
            stdout, stderr = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, stderr[-2000:]
    assert "action_stream_sha256:" in stdout
    v = run_cli("verify", str(out))
    assert v.returncode == 0 and "closed cleanly" in v.stdout, v.stdout + v.stderr
    # `paraphina replay` takes the policy and config from the log and gives the live stream.
    r = run_cli("replay", str(out), "--out", str(tmp_path / "replayed.actions"))
    assert r.returncode == 0, r.stderr
    live = (tmp_path / "term.arrow.actions").read_bytes()
    assert len(live) > 0 and (tmp_path / "replayed.actions").read_bytes() == live
    sha = [ln.split(": ")[1] for ln in stdout.splitlines() if ln.startswith("action_stream_sha256")][0]
    assert f"action_stream_sha256: {sha}" in r.stdout


def test_kill_9_leaves_an_intact_prefix_that_verifies_and_replays(usdm, tmp_path):
    out = tmp_path / "kill.arrow"
    with ServerThread(usdm, instrument_for(USDM[2]), speed=20.0) as srv:
        proc = _start_recorder(srv.url, out)
        try:
            _wait_for_batches(out, proc)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == -signal.SIGKILL
    v = run_cli("verify", str(out))
    assert v.returncode in (0, 1), v.stdout + v.stderr
    if v.returncode == 1:
        assert "torn tail" in v.stdout, v.stdout
    r = replay_log(str(out), "fixed-spread", btc_config(), out=str(tmp_path / "replayed.actions"))
    assert r.events > 300
    # The replayed prefix and the live actions file are two prefixes of one stream.
    live = (tmp_path / "kill.arrow.actions").read_bytes()
    replayed = (tmp_path / "replayed.actions").read_bytes()
    n = min(len(live), len(replayed))
    assert n > 0 and live[:n] == replayed[:n]
