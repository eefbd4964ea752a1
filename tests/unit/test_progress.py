"""paraphina.progress: lines on a pipe at least every interval (driven by a fake clock), a tqdm
bar on a terminal, nothing when disabled; the heartbeat writes while one item runs long."""

from __future__ import annotations

import io
import threading

from paraphina.progress import Progress, position_reporter


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_pipe_lines_at_start_every_interval_and_at_the_end():
    clock, out = FakeClock(), io.StringIO()
    with Progress("mc", 4, "runs", stream=out, tty=False, interval=10, clock=clock, heartbeat=False) as p:
        p.describe("trial 1 of 2")
        clock.t += 5
        p.update()          # 5 s since the start line: nothing
        clock.t += 6
        p.update()          # 11 s: a line
        clock.t += 1
        p.update()
        clock.t += 1
        p.update()          # the last item: always a line
    lines = out.getvalue().splitlines()
    assert lines == [
        "[mc] 0/4 runs (0%) elapsed 0s",
        "[mc] 2/4 runs (50%) 0.182 runs/s ETA 11s elapsed 11s | trial 1 of 2",
        "[mc] 4/4 runs (100%) 0.308 runs/s elapsed 13s | trial 1 of 2",
    ]


def test_disabled_writes_nothing_and_tty_gets_a_bar():
    out = io.StringIO()
    with Progress("mc", 3, "runs", stream=out, enabled=False) as p:
        p.update(3)
    assert out.getvalue() == ""
    out = io.StringIO()
    with Progress("mc", 3, "runs", stream=out, tty=True) as p:
        p.describe("trial 2 of 5")
        p.update(3)
    text = out.getvalue()
    assert "3/3" in text and "100%" in text and "trial 2 of 5" in text and "runs/s" in text


def test_heartbeat_writes_while_a_long_item_runs():
    clock, out = FakeClock(), io.StringIO()
    wrote = threading.Event()

    class Stream(io.StringIO):
        def write(self, s):
            n = super().write(s)
            if self.getvalue().count("\n") >= 2:
                wrote.set()
            return n

    out = Stream()
    p = Progress("suite", 2, "runs", stream=out, tty=False, interval=0.01, clock=clock)
    clock.t += 30  # nothing finished, but time passes: the heartbeat reports it
    assert wrote.wait(5)
    p.close()
    assert "[suite] 0/2 runs (0%) elapsed 30s" in out.getvalue()


def test_position_work_is_silent_off_a_terminal_unless_long(monkeypatch):
    monkeypatch.setenv("PARAPHINA_PROGRESS_INTERVAL", "3600")
    update, close = position_reporter("replay", 1000)
    update(500)
    update(1000)
    close()  # short: nothing was written (pytest's captured stderr is not a terminal)
    clock, out = FakeClock(), io.StringIO()
    p = Progress("import", 2048, "bytes", stream=out, tty=False, interval=10, clock=clock, heartbeat=False,
                 bytes_unit=True, only_if_long=True)
    p.advance_to(1024)
    clock.t += 11
    p.advance_to(1536)
    p.close()
    assert out.getvalue().splitlines()[0].startswith("[import] 1.5 KiB/2.0 KiB (75%)")


def test_replay_and_backtest_report_progress_on_a_pipe(sample_log, tmp_path):
    from conftest import run_cli

    env = {"PARAPHINA_PROGRESS_INTERVAL": "0"}
    r = run_cli("replay", str(sample_log), env=env)
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("[replay] ")]
    assert len(lines) >= 2 and all("KiB/" in x and "%)" in x for x in lines), r.stderr
    b = run_cli("backtest", str(sample_log), "-o", str(tmp_path / "bt.arrow"), env=env)
    assert b.returncode == 0, b.stderr
    assert any(x.startswith("[backtest] ") and "%)" in x for x in b.stderr.splitlines()), b.stderr
    quiet = run_cli("replay", str(sample_log))  # a short replay under the default interval: silent
    assert "[replay]" not in quiet.stderr
