"""Issue 18, the log half: a reader that survives any bytes, writers that flush by time, checkpoints
bound to their log, and logs that tools other than paraphina can read."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from paraphina import events as ev
from paraphina import ipcframes as fr
from paraphina import samplegen
from paraphina.eventlog import LogDamaged, LogError, LogReader, LogWriter, read_info

from conftest import ROOT, run_cli, write_sample


def message_spans(data: bytes) -> list[tuple[int, int, int]]:
    """(start, header_end, end) of every message of a clean log: the header is the 8-byte prefix
    and the flatbuffer metadata; the body follows it."""
    out, pos = [], 0
    while pos < len(data):
        n = fr.metadata_length(data[pos:pos + 8])
        if n == 0:
            out.append((pos, pos + 8, pos + 8))
            break
        body = fr.parse(data[pos + 8:pos + 8 + n]).body_length
        out.append((pos, pos + 8 + n, pos + 8 + n + body))
        pos += 8 + n + body
    return out


def outcome(path) -> tuple:
    """What a reader makes of a log: ("damaged", batch, seq) or ("ok", digest of every event)."""
    try:
        info = read_info(path)
        if info.damage is not None:      # a torn tail: verify exits 1, readers keep the prefix
            return ("damaged", info.damage.batch, info.damage.seq)
        digest = hashlib.sha256()
        for seq, e in LogReader(path).events():
            digest.update(f"{seq}:{e!r}\n".encode())
        return ("ok", info.events, info.closed_cleanly, info.damage is not None, digest.hexdigest())
    except LogDamaged as exc:
        return ("damaged", exc.batch, exc.seq)


@pytest.fixture()
def small_log(tmp_path):
    """A small closed log of 3 batches with cold kinds (payloads) among the market events."""
    path = tmp_path / "small.arrow"
    with LogWriter.create(path, samplegen.instruments(2), {"source": "test"}, batch_events=100,
                          flush_interval_s=None) as w:
        for cols in samplegen.generate(260, 2, seed=3):
            w.append_columns(cols)
        w.append(ev.OperatorKill(ts_ns=samplegen.T0_NS + 10**12))
    return path


def test_every_header_byte_flipped_is_damage_or_changes_nothing(small_log, tmp_path):
    data = small_log.read_bytes()
    clean = outcome(small_log)
    assert clean[0] == "ok" and clean[1] == 261 and clean[2]
    positions = [i for start, head_end, _ in message_spans(data) for i in range(start, head_end)]
    assert len(positions) > 1000
    rng = np.random.default_rng(18)
    bad = tmp_path / "flipped.arrow"
    bad.write_bytes(data)
    # Every header byte with a random mask, then a sample of them with single-bit masks.
    flips = [(i, int(rng.integers(1, 256))) for i in positions]
    flips += [(int(i), 1 << int(rng.integers(0, 8))) for i in rng.choice(positions, 1000, replace=False)]
    seen = {"damaged": 0, "same": 0}
    fd = os.open(bad, os.O_WRONLY)
    try:
        for i, mask in flips:
            os.pwrite(fd, bytes([data[i] ^ mask]), i)
            got = outcome(bad)   # anything other than LogDamaged (a crash, LogError) fails the test
            os.pwrite(fd, data[i:i + 1], i)
            if got[0] == "damaged":
                seen["damaged"] += 1
            else:
                assert got == clean, (i, mask, got)
                seen["same"] += 1
    finally:
        os.close(fd)
    assert seen["damaged"] > 0
    # The CLI keeps its exit codes on a sample of the same flips: 1, one "damaged:" line, no traceback.
    for i in rng.choice(positions, 12, replace=False):
        flipped = bytearray(data)
        flipped[int(i)] ^= 0x38
        bad.write_bytes(bytes(flipped))
        r = run_cli("verify", str(bad))
        assert r.returncode == 1 and r.stdout.startswith("damaged:") and not r.stderr, (int(i), r.stdout, r.stderr)
        r = run_cli("replay", str(bad))
        assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, (int(i), r.stderr)


def test_concatenated_logs_trailing_garbage_and_a_deleted_last_batch_are_damage(small_log, tmp_path):
    data = small_log.read_bytes()
    spans = message_spans(data)
    last_batch = spans[-3]   # before the closing record and the end-of-stream marker
    cases = {
        "concatenated": data + data,
        "garbage": data + b"some trailing bytes",
        "one_byte": data + b"\x00",
        "deleted_last_batch": data[:last_batch[0]] + data[last_batch[2]:],
        "deleted_closing_record": data[:spans[-2][0]] + data[spans[-1][0]:],
    }
    for name, content in cases.items():
        p = tmp_path / f"{name}.arrow"
        p.write_bytes(content)
        r = run_cli("verify", str(p))
        assert r.returncode == 1 and r.stdout.startswith("damaged:"), (name, r.stdout, r.stderr)
        assert "batch" in r.stdout and "seq" in r.stdout
    assert "bytes after the end-of-stream marker" in run_cli("verify", str(tmp_path / "concatenated.arrow")).stdout


def test_a_flipped_bit_at_offset_5_is_damage(small_log, tmp_path):
    data = bytearray(small_log.read_bytes())
    data[5] ^= 0x01
    p = tmp_path / "bit5.arrow"
    p.write_bytes(bytes(data))
    r = run_cli("verify", str(p))
    assert r.returncode == 1 and "schema message" in r.stdout, r.stdout + r.stderr
    assert run_cli("replay", str(p)).returncode == 2


@pytest.mark.parametrize("field", ["metadata_length", "body_length"])
def test_mid_log_damage_is_never_a_torn_tail_and_append_refuses_it(tmp_path, field):
    log = write_sample(tmp_path / "a.arrow", n=6000, batch_events=1000)
    data = bytearray(log.read_bytes())
    start, head_end, _ = message_spans(bytes(data))[2]   # batch 1
    if field == "metadata_length":
        data[start + 7] ^= 0x40          # the length now runs far past the end of the file
    else:
        meta = bytes(data[start + 8:head_end])
        body = fr.parse(meta).body_length
        at = start + 8 + meta.find(body.to_bytes(8, "little"))
        data[at + 6] ^= 0x01
    bad = tmp_path / "bad.arrow"
    bad.write_bytes(bytes(data))
    r = run_cli("verify", str(bad))
    assert r.returncode == 1 and "batch 1 (from seq 1000)" in r.stdout and "torn" not in r.stdout, r.stdout
    before = bad.read_bytes()
    with pytest.raises(LogDamaged):
        LogWriter.append_to(bad)
    assert bad.read_bytes() == before
    assert not [p for p in os.listdir(tmp_path) if ".torn-" in p]
    c = run_cli("log", "continue", str(bad))
    assert c.returncode == 1 and "mid-log damage" in c.stdout
    assert bad.read_bytes() == before


def test_log_continue_closes_a_stopped_log_and_sets_a_torn_tail_aside(tmp_path):
    log = write_sample(tmp_path / "a.arrow", n=3000, batch_events=1000)
    end = read_info(log).end_offset
    data = log.read_bytes()
    stopped = tmp_path / "stopped.arrow"
    stopped.write_bytes(data[:end])                 # killed after a complete batch
    torn = tmp_path / "torn.arrow"
    torn.write_bytes(data[:end - 700])              # killed mid-batch
    r = run_cli("log", "continue", str(stopped))
    assert r.returncode == 0 and "3000 events" in r.stdout, r.stdout + r.stderr
    assert stopped.read_bytes() == data             # the same bytes as the writer's own close
    r = run_cli("log", "continue", str(torn))
    assert r.returncode == 0 and "torn tail" in r.stdout
    v = run_cli("verify", str(torn))
    assert v.returncode == 0 and "2000 events" in v.stdout and "closed cleanly" in v.stdout
    aside = [p for p in os.listdir(tmp_path) if p.startswith("torn.arrow.torn-")]
    assert len(aside) == 1 and (tmp_path / aside[0]).stat().st_size == end - 700 - int(aside[0].rsplit("-", 1)[1])
    again = run_cli("log", "continue", str(torn))
    assert again.returncode == 0 and again.stdout.startswith("nothing to do")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_writer_flushes_by_time_and_the_closed_log_has_size_framing(tmp_path, monkeypatch):
    from paraphina import eventlog

    clock = FakeClock()
    monkeypatch.setattr(eventlog.time, "monotonic", clock)
    chunks = list(samplegen.generate(3000, 3, seed=5))
    events = [e for c in chunks for e in c.events()]
    timed, sized = tmp_path / "timed.arrow", tmp_path / "sized.arrow"
    w = LogWriter.create(timed, samplegen.instruments(3), {"source": "test"}, batch_events=1000, flush_interval_s=1.0)
    on_disk = []
    for i, e in enumerate(events[:1500]):
        if i in (300, 1499):
            clock.now += 1.5        # this append sees a second and a half gone by: a flush
        w.append(e)
        if i in (300, 1499):
            on_disk.append(read_info(timed).events)
    # What the writer flushed is on disk while it is still open: 301 events by time, then a full
    # batch of 1000 in place of that provisional one, and 500 more by time.
    assert on_disk == [301, 1500]
    info = read_info(timed)
    assert not info.closed_cleanly and info.damage is None and info.batches == 2
    for e in events[1500:]:
        w.append(e)
    w.close()
    with LogWriter.create(sized, samplegen.instruments(3), {"source": "test"}, batch_events=1000, flush_interval_s=None) as s:
        s.extend(events)
    assert timed.read_bytes() == sized.read_bytes()
    assert read_info(timed).batches == 3


def _partial(path) -> list:
    """The partial files a writer of ``path`` leaves beside it (docs/cli.md, "Outputs")."""
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name + ".partial-"))


def _kill_once_flushed(args: list[str], log) -> int:
    """Start ``paraphina ARGS``, wait until the partial file of ``log`` holds a readable batch,
    kill -9 it; returns the events seen just before the kill."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "paraphina", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = 0
    try:
        for _ in range(1200):    # waits for the writer's first flushes (no assertion on time)
            if proc.poll() is not None:
                break
            partial = _partial(log)
            if partial and partial[0].stat().st_size > 4096:
                try:
                    seen = read_info(partial[0]).events
                except LogError:
                    seen = 0
                if seen:
                    break
            try:
                proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
        assert proc.poll() is None, "the writer ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return seen


def test_a_killed_run_keeps_the_events_of_its_last_seconds(tmp_path):
    log = tmp_path / "run.arrow"
    seen = _kill_once_flushed(["run", "--scenario", "scenarios/synth_baseline.yaml", "--ticks", "1000000",
                               "-o", str(log)], log)
    assert 0 < seen < 65_536   # flushed by time: a size-only writer had not written a batch yet
    (partial,) = _partial(log)
    r = LogReader(partial)
    kept = sum(len(c) for c in r)
    assert kept >= seen and not r.info.closed_cleanly
    r = run_cli("log", "continue", str(partial))
    assert r.returncode == 0, r.stdout + r.stderr
    assert run_cli("verify", str(partial)).returncode == 0


def test_checkpoints_are_bound_to_their_log(tmp_path):
    a = write_sample(tmp_path / "a.arrow", n=3000, seed=1)
    b = write_sample(tmp_path / "b.arrow", n=3000, seed=2)
    for n in ("0", "1500"):
        ck = tmp_path / f"a-{n}.ckpt"
        r = run_cli("replay", str(a), "--checkpoint-at", n, "--checkpoint", str(ck))
        assert r.returncode == 0, r.stderr
        ok = run_cli("replay", str(a), "--resume", str(ck))
        assert ok.returncode == 0 and f"resumed at seq {n}" in ok.stdout if n != "0" else ok.returncode == 0
        other = run_cli("replay", str(b), "--resume", str(ck))
        assert other.returncode == 2 and "another log" in other.stderr and len(other.stderr.strip().splitlines()) == 1
    # The same schema (same instruments and session) but other events: caught by the hash chain.
    c = write_sample(tmp_path / "c.arrow", n=3000, seed=1, batch_events=1000)
    with LogWriter.create(tmp_path / "d.arrow", samplegen.instruments(3), {"source": "test"}, batch_events=1000) as w:
        for cols in samplegen.generate(3000, 3, seed=9):
            w.append_columns(cols)
    assert LogReader(c).info.log_id == LogReader(tmp_path / "d.arrow").info.log_id
    ck = tmp_path / "c.ckpt"
    assert run_cli("replay", str(c), "--checkpoint-at", "1500", "--checkpoint", str(ck)).returncode == 0
    r = run_cli("replay", str(tmp_path / "d.arrow"), "--resume", str(ck))
    assert r.returncode == 2 and "events up to seq 2000 differ" in r.stderr, r.stderr
    r = run_cli("replay", str(c), "--resume", str(ck), "--policy", "heuristic")
    assert r.returncode == 2 and "policy" in r.stderr


def test_a_format_1_log_is_refused_in_one_line(tmp_path):
    import pyarrow as pa

    from paraphina.eventlog import SCHEMA, make_schema

    meta = dict(make_schema(samplegen.instruments(1)).metadata)
    meta[b"paraphina.format"] = b"1"
    del meta[b"paraphina.hash"]
    p = tmp_path / "old.arrow"
    with pa.ipc.new_stream(str(p), SCHEMA.with_metadata(meta)):
        pass
    r = run_cli("verify", str(p))
    assert r.returncode == 2 and "format-1" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def _exported(tmp_path, fmt):
    log = tmp_path / "session.arrow"
    if not log.exists():
        r = run_cli("run", "--scenario", "scenarios/synth_baseline.yaml", "--ticks", "200", "-o", str(log))
        assert r.returncode == 0, r.stderr
    out = tmp_path / f"export-{fmt}"
    r = run_cli("export", str(log), "--to", fmt, "-o", str(out))
    assert r.returncode == 0, r.stderr
    return log, out


def _without_paraphina(code: str, cwd) -> str:
    """Run ``code`` in a fresh, isolated interpreter and check it never imported paraphina."""
    code = "import sys\n" + code + "\nassert not any(m.startswith('paraphina') for m in sys.modules)\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-I", "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_duckdb_and_polars_read_an_exported_session_without_paraphina(tmp_path):
    pytest.importorskip("duckdb")
    pytest.importorskip("polars")
    log, pq_dir = _exported(tmp_path, "parquet")
    _, ipc_dir = _exported(tmp_path, "arrow-file")
    r = LogReader(log)
    tick = r.info.instruments[0].tick_size
    trades = [(s, e) for s, e in r.events() if isinstance(e, ev.Trade)]
    fills = sum(1 for _, e in LogReader(log).events() if isinstance(e, ev.Fill))
    first_seq, first = trades[0]
    from decimal import Decimal

    want_price = str(Decimal(first.price) * Decimal(tick))
    out = _without_paraphina(f"""
import duckdb, polars as pl
con = duckdb.connect()
n, = con.execute("select count(*) from '{pq_dir}/trades.parquet'").fetchone()
seq, price = con.execute("select seq, price from '{pq_dir}/trades.parquet' order by seq limit 1").fetchone()
fills, = con.execute("select count(*) from '{pq_dir}/orders.parquet' where kind = 'fill'").fetchone()
book = con.execute("select count(*) from '{pq_dir}/book.parquet' b join '{pq_dir}/instruments.parquet' i using (venue)").fetchone()[0]
lazy = pl.scan_ipc('{ipc_dir}/trades.arrow').select(pl.len()).collect().item()
pq_fills = pl.scan_parquet('{pq_dir}/orders.parquet').filter(pl.col('kind') == 'fill').select(pl.len()).collect().item()
print(n, seq, price, fills, lazy, pq_fills, book > 0)
""", tmp_path)
    n, seq, price, got_fills, lazy, pq_fills, book = out.split()
    assert int(n) == len(trades) == int(lazy)
    assert int(seq) == first_seq and Decimal(price) == Decimal(want_price)
    assert int(got_fills) == fills == int(pq_fills) and book == "True"


def test_a_torn_log_intact_prefix_reads_with_plain_pyarrow(tmp_path):
    log = write_sample(tmp_path / "a.arrow", n=6000, batch_events=1000)
    torn = tmp_path / "torn.arrow"
    data = log.read_bytes()
    torn.write_bytes(data[:read_info(log).end_offset - 3000])
    # The recipe of docs/log-format.md ("Reading a log without paraphina").
    out = _without_paraphina(f"""
import pyarrow as pa
batches = []
with pa.ipc.open_stream({str(torn)!r}) as reader:
    while True:
        try:
            batches.append(reader.read_next_batch())
        except (StopIteration, pa.ArrowInvalid, OSError):
            break
table = pa.Table.from_batches(batches, reader.schema)
print(table.num_rows, table.column('seq')[-1])
""", tmp_path)
    assert out.split() == ["5000", "4999"]


LOWEST_PYARROW = "14.0.2"   # pyproject.toml: pyarrow>=14


def _lowest_pyarrow_python() -> str:
    """The interpreter of a venv holding the lowest supported pyarrow (``make lowest-pyarrow``
    builds build/pyarrow-lowest), or a skip saying how to get one."""
    python = os.environ.get("PARAPHINA_LOWEST_PYARROW_PYTHON") or str(ROOT / "build" / "pyarrow-lowest" / "bin" / "python")
    if not os.path.exists(python):
        pytest.skip(f"no venv with pyarrow {LOWEST_PYARROW} (run `make lowest-pyarrow`, or set PARAPHINA_LOWEST_PYARROW_PYTHON)")
    return python


def test_logs_cross_between_the_pinned_and_the_lowest_supported_pyarrow(tmp_path):
    python = _lowest_pyarrow_python()
    pinned = write_sample(tmp_path / "pinned.arrow", n=5000, batch_events=1000)
    lowest = tmp_path / "lowest.arrow"
    script = f"""
import pyarrow
from paraphina import samplegen
from paraphina.eventlog import LogWriter, read_info
assert pyarrow.__version__ == {LOWEST_PYARROW!r}, pyarrow.__version__
info = read_info({str(pinned)!r})
with LogWriter.create({str(lowest)!r}, samplegen.instruments(3), {{"source": "test"}}, batch_events=1000) as w:
    for cols in samplegen.generate(5000, 3, 1):
        w.append_columns(cols)
print(info.events, info.closed_cleanly, info.damage)
"""
    r = subprocess.run([python, "-c", script], env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["5000", "True", "None"]
    info = read_info(lowest)
    assert info.events == 5000 and info.closed_cleanly and info.damage is None
    assert [e for _, e in LogReader(lowest).events()] == [e for _, e in LogReader(pinned).events()]


def test_a_venue_outside_the_instrument_table_is_damage_naming_the_seq(tmp_path):
    from paraphina.columns import from_events

    cols = from_events([ev.Timer(ts_ns=1), ev.Trade(ts_ns=2, venue=7, price=1, size=1, side=1)])
    p = tmp_path / "venue.arrow"
    with LogWriter.create(p, samplegen.instruments(2), {}) as w:
        w.append_columns(cols)
    r = run_cli("verify", str(p))
    assert r.returncode == 1 and "seq 1: venue 7 is not in the instrument table" in r.stdout, r.stdout


@pytest.mark.parametrize("command", ["sample", "run"])
def test_kill_9_while_replacing_a_log_leaves_the_old_one_whole_and_the_new_events_aside(tmp_path, command):
    log = write_sample(tmp_path / "old.arrow", n=2000)
    before = log.read_bytes()
    args = {"sample": ["sample", "-o", str(log), "--events", "50000000", "--force"],
            "run": ["run", "--scenario", "scenarios/synth_baseline.yaml", "--ticks", "1000000", "-o", str(log), "--force"]}[command]
    assert _kill_once_flushed(args, log) > 0
    assert log.read_bytes() == before
    (partial,) = _partial(log)
    assert LogReader(partial).info.session.get("source") != "test"   # the new writer's events, kept aside
