"""Issue 18, item 6: each bad input the fuzzing pass found is one line naming the file, flag or
key, with exit 2, never a traceback; values no real session needs are refused."""

from __future__ import annotations

import os
import socket

import msgspec
import pytest

from paraphina import samplegen
from paraphina.cli import main
from paraphina.eventlog import LogWriter

from conftest import ROOT, write_sample

SCENARIO = ROOT / "scenarios" / "synth_baseline.yaml"
SUITE = ROOT / "scenarios" / "suites" / "smoke.yaml"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def run(*args, capsys, env: dict | None = None, monkeypatch=None) -> tuple[int, str, str]:
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def bad(capsys, *args, needles=(), env=None, monkeypatch=None) -> str:
    code, _, err = run(*args, capsys=capsys, env=env, monkeypatch=monkeypatch)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, (code, err)
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def log(tmp_path):
    return write_sample(tmp_path / "s.arrow", n=2000, venues=3)


# --- output paths -----------------------------------------------------------------------------

WRITERS = {
    "sample": lambda log, o: ["sample", "-o", o],
    "replay": lambda log, o: ["replay", log, "--out", o],
    "replay --checkpoint": lambda log, o: ["replay", log, "--checkpoint-at", "5", "--checkpoint", o],
    "run": lambda log, o: ["run", "--ticks", "2", "-o", o],
    "backtest": lambda log, o: ["backtest", log, "-o", o],
    "merge": lambda log, o: ["merge", log, "-o", o],
    "shadow": lambda log, o: ["shadow", log, "--candidate", "fixed-spread", "-o", o],
}


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_output_in_a_missing_directory(log, tmp_path, command, capsys):
    out = tmp_path / "no" / "such" / "dir" / "out.x"
    bad(capsys, *WRITERS[command](log, out), needles=("out.x", "does not exist"))
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_output_that_is_a_directory(log, tmp_path, command, capsys):
    d = tmp_path / "adir"
    d.mkdir()
    bad(capsys, *WRITERS[command](log, d), needles=("adir", "is a directory"))
    assert os.listdir(d) == []


def test_output_under_a_file_instead_of_a_directory(log, tmp_path, capsys):
    bad(capsys, "sample", "-o", log / "x.arrow", needles=("is not a directory",))


@pytest.mark.parametrize("argv", [
    lambda f: ["suite", SUITE, "-o", f],
    lambda f: ["mc", "--scenario", SCENARIO, "-o", f, "--runs", "1"],
    lambda f: ["rl", "bc", "-o", f],
    lambda f: ["report", f],
    lambda f: ["verify-evidence", f],
], ids=["suite", "mc", "rl-bc", "report", "verify-evidence"])
def test_a_file_where_a_directory_is_expected(log, argv, capsys):
    before = log.read_bytes()
    bad(capsys, *argv(log), needles=("s.arrow",))
    assert log.read_bytes() == before


@pytest.mark.parametrize("argv", [
    lambda d: ["replay", d],
    lambda d: ["verify", d],
    lambda d: ["cat", d],
    lambda d: ["run", "--scenario", d],
    lambda d: ["suite", d],
    lambda d: ["import", "binance", d, "-o", d.parent / "x.arrow"],
    lambda d: ["telemetry", "summarise", d],
], ids=["replay", "verify", "cat", "run-scenario", "suite", "import", "telemetry-summarise"])
def test_a_directory_where_a_file_is_expected(tmp_path, argv, capsys):
    d = tmp_path / "adir"
    d.mkdir()
    bad(capsys, *argv(d), needles=("adir",))


def test_a_directory_as_config(log, tmp_path, capsys):
    bad(capsys, "replay", log, "--config", tmp_path, needles=(str(tmp_path),))


def test_a_read_only_output_is_replaced_only_with_force(log, tmp_path, capsys):
    out = tmp_path / "ro.actions"
    out.write_text("old")
    out.chmod(0o444)
    bad(capsys, "replay", log, "-o", out, needles=("already exists", "--force"))
    code, _, err = run("replay", log, "-o", out, "--force", capsys=capsys)
    assert code == 0, err
    assert out.read_text().startswith("{")


@pytest.mark.skipif(IS_ROOT, reason="root writes into a read-only directory; the check needs an ordinary user")
def test_a_read_only_directory(log, tmp_path, capsys):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    try:
        bad(capsys, "sample", "-o", d / "x.arrow", needles=("not writable",))
    finally:
        d.chmod(0o755)


# --- unreadable and binary inputs --------------------------------------------------------------


def _unopenable(tmp_path):
    """A path that exists but cannot be opened for reading, even by root (a unix socket)."""
    p = tmp_path / "sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(p))
    s.close()
    return p


@pytest.mark.parametrize("argv", [
    lambda log, p: ["replay", p],
    lambda log, p: ["verify", p],
    lambda log, p: ["replay", log, "--config", p],
    lambda log, p: ["replay", log, "--resume", p],
    lambda log, p: ["run", "--scenario", p],
    lambda log, p: ["suite", p],
], ids=["replay", "verify", "config", "resume", "scenario", "suite"])
def test_an_input_that_cannot_be_read(log, tmp_path, argv, capsys):
    bad(capsys, *argv(log, _unopenable(tmp_path)), needles=("sock",))


@pytest.mark.skipif(IS_ROOT, reason="root reads files with mode 000; the check needs an ordinary user")
def test_an_input_without_read_permission(log, tmp_path, capsys):
    p = tmp_path / "secret.toml"
    p.write_text("")
    p.chmod(0)
    bad(capsys, "replay", log, "--config", p, needles=("secret.toml",))


@pytest.fixture
def binary(tmp_path):
    p = tmp_path / "blob.yaml"
    p.write_bytes(bytes(range(256)) * 8)
    return p


def test_a_binary_file_as_scenario(binary, capsys):
    bad(capsys, "run", "--scenario", binary, "--ticks", "2", needles=("blob.yaml", "not a text file"))


def test_a_binary_file_as_suite(binary, capsys):
    bad(capsys, "suite", binary, needles=("blob.yaml", "not a text file"))


def test_a_binary_file_as_config(log, binary, capsys):
    bad(capsys, "replay", log, "--config", binary, needles=("blob.yaml",))


def test_a_binary_file_as_log(binary, capsys):
    bad(capsys, "replay", binary, needles=("blob.yaml",))


# --- flags and values --------------------------------------------------------------------------


def test_sample_negative_seed(tmp_path, capsys):
    bad(capsys, "sample", "-o", tmp_path / "x.arrow", "--seed", "-1", needles=("--seed",))
    assert not (tmp_path / "x.arrow").exists()


def test_an_environment_knob_over_a_scalar_config_section(log, tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "scalar.toml"
    cfg.write_text("loops = 5\n")
    bad(capsys, "replay", log, "--config", cfg, env={"PARAPHINA_MAIN_LOOP_INTERVAL_MS": "100"},
        monkeypatch=monkeypatch, needles=("loops", "not a table"))


def test_a_checkpoint_for_another_venue_count(tmp_path, capsys):
    one = write_sample(tmp_path / "one.arrow", n=500, venues=1)
    three = write_sample(tmp_path / "three.arrow", n=500, venues=3)
    code, _, err = run("replay", one, "--checkpoint-at", "100", "--checkpoint", tmp_path / "c.ckpt", capsys=capsys)
    assert code == 0, err
    bad(capsys, "replay", three, "--resume", tmp_path / "c.ckpt", needles=("c.ckpt", "1 venues", "has 3"))


@pytest.mark.parametrize("text, key", [
    ("[loops]\nmain_loop_interval_ms = 1e20\n", "main_loop_interval_ms"),
    ("[loops]\nmain_loop_interval_ms = 100000000000000\n", "main_loop_interval_ms"),
    ("[loops]\nhedge_loop_interval_ms = 86400000000\n", "hedge_loop_interval_ms"),
    ("[loops]\nfill_agg_interval_ms = 99999999999\n", "fill_agg_interval_ms"),
])
def test_absurd_loop_intervals(log, tmp_path, text, key, capsys):
    cfg = tmp_path / "absurd.toml"
    cfg.write_text(text)
    bad(capsys, "replay", log, "--config", cfg, needles=(key,))


@pytest.mark.parametrize("path, value", [
    (("market", "vol_daily"), 1e308),
    (("market", "initial_price"), 1e300),
    (("market", "jumps_per_hour"), 1e9),
    (("horizon", "dt_ms"), 10**15),
    (("horizon", "steps"), 10**12),
    (("venues", 0, "funding", "rate"), 1e6),
    (("venues", 0, "latency_ms"), 10**12),
])
def test_absurd_scenario_values(tmp_path, path, value, capsys):
    import yaml

    data = yaml.safe_load(SCENARIO.read_text())
    node = data
    for k in path[:-1]:
        node = node.setdefault(k, {}) if isinstance(k, str) else node[k]
    node[path[-1]] = value
    p = tmp_path / "absurd.yaml"
    p.write_text(yaml.safe_dump(data))
    bad(capsys, "run", "--scenario", p, "--ticks", "2", needles=("absurd.yaml", str(path[-1])))


def _single_venue_log(path, venue: str, offset_ns: int):
    ins = msgspec.structs.replace(samplegen.instruments(1)[0], venue=venue)
    with LogWriter.create(path, [ins], {"source": "test"}) as w:
        for cols in samplegen.generate(200, 1, 3):
            cols.ts_ns = cols.ts_ns + offset_ns
            w.append_columns(cols)
    return path


def test_merge_timers_over_logs_days_apart(tmp_path, capsys):
    a = _single_venue_log(tmp_path / "a.arrow", "a", 0)
    b = _single_venue_log(tmp_path / "b.arrow", "b", 13 * 86_400 * 10**9)
    bad(capsys, "merge", a, b, "-o", tmp_path / "m.arrow", "--timer-ms", "1",
        needles=("--timer-ms 1", "gap", "timers"))
    assert sorted(os.listdir(tmp_path)) == ["a.arrow", "b.arrow"]  # no output, no partial file
    code, out, err = run("merge", a, b, "-o", tmp_path / "m.arrow", "--timer-ms", "3600000", capsys=capsys)
    assert code == 0, err  # the same logs with an hourly grid are fine


def test_merge_timer_ms_range(log, tmp_path, capsys):
    bad(capsys, "merge", log, "-o", tmp_path / "m.arrow", "--timer-ms", "-5", needles=("--timer-ms",))


def test_cat_venue_that_does_not_exist(log, capsys):
    bad(capsys, "cat", log, "--venue", "99", needles=("--venue 99", "0..2"))
    bad(capsys, "cat", log, "--venue", "-1", needles=("--venue -1",))


@pytest.mark.parametrize("spec", ["50:10", "10:10", "-3:5"])
def test_cat_seq_range_that_selects_nothing(log, spec, capsys):
    bad(capsys, "cat", log, "--seq", spec, needles=("--seq",))


def test_a_binary_file_as_golden_manifest(binary, capsys):
    bad(capsys, "golden", "check", binary, needles=("blob.yaml", "not a text file"))


def test_a_binary_file_as_build_manifest(binary, capsys, tmp_path):
    bad(capsys, "build-real", binary, "-o", tmp_path / "built", needles=("blob.yaml",))
