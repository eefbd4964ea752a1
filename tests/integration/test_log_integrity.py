"""The log: append across restarts, torn tails, flipped bytes, gaps."""

from __future__ import annotations

import os

import pytest

from paraphina import events as ev
from paraphina import samplegen
from paraphina.eventlog import LogDamaged, LogReader, LogWriter, read_info

from conftest import run_cli, write_sample


def test_append_after_restart_continues_seq_and_hash_chain(tmp_path):
    path = write_sample(tmp_path / "a.arrow", n=3000)
    with LogWriter.append_to(path, batch_events=700) as w:
        assert w.next_seq == 3000
        for cols in samplegen.generate(2000, 3, seed=9):
            w.append_columns(cols)
    info = read_info(path)
    assert info.events == 5000 and info.closed_cleanly and info.damage is None
    seqs = [s for s, _ in LogReader(path).events()]
    assert seqs == list(range(5000))
    r = run_cli("verify", str(path))
    assert r.returncode == 0, r.stdout + r.stderr


def test_append_with_nothing_new_keeps_the_log_valid(tmp_path):
    path = write_sample(tmp_path / "a.arrow", n=1000)
    before = path.read_bytes()
    LogWriter.append_to(path).close()
    assert path.read_bytes() == before


def _truncated_copy(src, dst, cut: int):
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) - cut])
    return dst


def test_torn_tail_is_reported_and_the_intact_prefix_stays_readable(tmp_path):
    log = write_sample(tmp_path / "a.arrow", n=6000, batch_events=1000)
    torn = _truncated_copy(log, tmp_path / "torn.arrow", 3000)
    r = run_cli("verify", str(torn))
    assert r.returncode == 1
    assert "torn tail" in r.stdout and "batch 5" in r.stdout and "seq 5000" in r.stdout
    c = run_cli("cat", str(torn), "--kind", "timer")
    assert c.returncode == 0 and "warning:" in c.stderr and "torn tail" in c.stderr
    rp = run_cli("replay", str(torn))
    assert rp.returncode == 0 and "events: 5000" in rp.stdout and "intact prefix" in rp.stderr


def test_append_after_a_crash_sets_the_torn_bytes_aside(tmp_path):
    log = write_sample(tmp_path / "a.arrow", n=3000, batch_events=1000)
    end = read_info(log).end_offset   # after the last data batch (the closing record follows)
    torn = _truncated_copy(log, tmp_path / "torn.arrow", log.stat().st_size - end + 500)
    size = torn.stat().st_size
    with LogWriter.append_to(torn) as w:
        assert w.next_seq == 2000
        w.append(ev.Timer(ts_ns=samplegen.T0_NS + 10**12))
    sidecars = [p for p in os.listdir(tmp_path) if p.startswith("torn.arrow.torn-")]
    assert len(sidecars) == 1
    kept = (tmp_path / sidecars[0]).read_bytes()
    assert torn.read_bytes()  # still a log
    assert int(sidecars[0].rsplit("-", 1)[1]) + len(kept) == size
    assert read_info(torn).events == 2001


@pytest.mark.parametrize("where", [0.3, 0.6, 0.9])
def test_a_flipped_byte_is_damage(tmp_path, where):
    log = write_sample(tmp_path / "a.arrow", n=6000, batch_events=1000)
    data = bytearray(log.read_bytes())
    data[int(len(data) * where)] ^= 0x01
    bad = tmp_path / "bad.arrow"
    bad.write_bytes(bytes(data))
    r = run_cli("verify", str(bad))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "damaged:" in r.stdout and "batch" in r.stdout and "seq" in r.stdout


def test_damage_in_the_middle_stops_readers_with_the_seq(tmp_path):
    log = write_sample(tmp_path / "a.arrow", n=6000, batch_events=1000)
    data = bytearray(log.read_bytes())
    data[len(data) // 2] ^= 0x40
    bad = tmp_path / "bad.arrow"
    bad.write_bytes(bytes(data))
    with pytest.raises(LogDamaged) as exc:
        for _ in LogReader(bad):
            pass
    assert exc.value.seq % 1000 == 0
    r = run_cli("replay", str(bad))
    assert r.returncode == 2 and "batch" in r.stderr and "Traceback" not in r.stderr


def test_a_not_closed_log_verifies_as_intact(tmp_path):
    log = write_sample(tmp_path / "a.arrow", n=2000, batch_events=1000)
    data = log.read_bytes()
    assert data.endswith(b"\xff\xff\xff\xff\x00\x00\x00\x00")
    open_log = tmp_path / "open.arrow"
    open_log.write_bytes(data[:read_info(log).end_offset])   # no closing record, no end marker
    r = run_cli("verify", str(open_log))
    assert r.returncode == 0 and "not closed" in r.stdout and "2000 events" in r.stdout
