"""Bad input: one line naming the problem, exit code 2, never a traceback."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from paraphina import events as ev
from paraphina import samplegen
from paraphina.columns import from_events
from paraphina.eventlog import SCHEMA, LogWriter, make_schema

from conftest import run_cli


def assert_user_error(r, *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize("command", ["replay", "verify", "cat"])
def test_missing_file(tmp_path, command):
    assert_user_error(run_cli(command, str(tmp_path / "nope.arrow")), "nope.arrow", "no such file")


def test_not_an_arrow_file(tmp_path):
    p = tmp_path / "notes.arrow"
    p.write_text("hello, not arrow\n")
    assert_user_error(run_cli("replay", str(p)), "notes.arrow", "not a paraphina Arrow log")
    assert_user_error(run_cli("verify", str(p)), "notes.arrow")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.arrow"
    p.write_bytes(b"")
    assert_user_error(run_cli("verify", str(p)), "empty.arrow")


def test_an_arrow_stream_that_is_not_a_paraphina_log(tmp_path):
    p = tmp_path / "other.arrow"
    schema = pa.schema([("x", pa.int64())])
    with pa.ipc.new_stream(str(p), schema) as w:
        w.write_batch(pa.record_batch([pa.array([1, 2])], schema=schema))
    assert_user_error(run_cli("replay", str(p)), "other.arrow", "not a paraphina log")


def _write_raw(path, cols, schema):
    """A sealed log with whatever columns and schema metadata it is given (no checks)."""
    with LogWriter.with_schema(str(path), schema, flush_interval_s=None) as w:
        w.append_columns(cols)


def test_unknown_event_kind(tmp_path):
    cols = from_events([ev.Timer(ts_ns=1), ev.Timer(ts_ns=2), ev.Timer(ts_ns=3)])
    cols.kind = np.array([20, 99, 20], np.uint8)
    p = tmp_path / "kind.arrow"
    _write_raw(p, cols, make_schema(samplegen.instruments(1)))
    assert_user_error(run_cli("replay", str(p)), "kind.arrow", "seq 1", "unknown event kind 99")
    r = run_cli("verify", str(p))
    assert r.returncode == 1 and "unknown event kind 99" in r.stdout


def test_unknown_schema_version(tmp_path):
    schema = make_schema(samplegen.instruments(1))
    meta = dict(schema.metadata)
    meta[b"paraphina.schema_version"] = b"99"
    p = tmp_path / "future.arrow"
    _write_raw(p, from_events([ev.Timer(ts_ns=1)]), SCHEMA.with_metadata(meta))
    assert_user_error(run_cli("replay", str(p)), "future.arrow", "schema version 99")


def test_undecodable_payload(tmp_path):
    cols = from_events([ev.Timer(ts_ns=1), ev.OperatorKill(ts_ns=2)])
    cols.payload = [None, b"\xc1garbage"]
    p = tmp_path / "payload.arrow"
    _write_raw(p, cols, make_schema(samplegen.instruments(1)))
    assert_user_error(run_cli("replay", str(p)), "seq 1", "undecodable")
    r = run_cli("verify", str(p))
    assert r.returncode == 1 and "seq 1" in r.stdout


def test_unknown_policy(sample_log):
    assert_user_error(run_cli("replay", str(sample_log), "--policy", "no-such-policy"), "unknown policy 'no-such-policy'", "fixed-spread")


@pytest.mark.parametrize(
    "text, needles",
    [
        ("[risk]\ndaily_loss_limit = -5\n", ("daily_loss_limit", ">")),
        ("[risk]\ndaily_loss_limt = 5\n", ("daily_loss_limt",)),
        ("[loops]\nmain_loop_interval_ms = \"fast\"\n", ("main_loop_interval_ms",)),
        ("[risk\n", ("not valid TOML",)),
        ("profile = \"reckless\"\n", ("unknown risk profile 'reckless'",)),
    ],
)
def test_bad_config_value(sample_log, tmp_path, text, needles):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    assert_user_error(run_cli("replay", str(sample_log), "--config", str(cfg)), *needles)


def test_bad_yaml_config(sample_log, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("risk: [1, 2\n")
    assert_user_error(run_cli("replay", str(sample_log), "--config", str(cfg)), "bad.yaml", "YAML")


def test_missing_config_file(sample_log, tmp_path):
    assert_user_error(run_cli("replay", str(sample_log), "--config", str(tmp_path / "none.toml")), "none.toml")


def test_bad_env_knob(sample_log):
    assert_user_error(run_cli("replay", str(sample_log), env={"PARAPHINA_DAILY_LOSS_LIMIT": "lots"}), "PARAPHINA_DAILY_LOSS_LIMIT")


def test_bad_cat_filters(sample_log):
    assert_user_error(run_cli("cat", str(sample_log), "--kind", "bogus"), "--kind 'bogus'")
    assert_user_error(run_cli("cat", str(sample_log), "--venue", "mars"), "--venue 'mars'")
    assert_user_error(run_cli("cat", str(sample_log), "--seq", "a:b"), "--seq")


def test_bad_checkpoint(sample_log, tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not msgpack at all")
    assert_user_error(run_cli("replay", str(sample_log), "--resume", str(junk)), "junk.ckpt", "not a paraphina checkpoint")


def test_checkpoint_beyond_the_log(sample_log):
    assert_user_error(run_cli("replay", str(sample_log), "--checkpoint-at", "999999"), "only 6000 events")


def test_bad_actions_file_for_diff(tmp_path):
    a = tmp_path / "a.actions"
    a.write_text("{not json}\n")
    assert_user_error(run_cli("diff", str(a), str(a)), "line 1")


def test_create_refuses_to_overwrite(tmp_path):
    p = tmp_path / "x.arrow"
    p.write_bytes(b"precious")
    assert_user_error(run_cli("sample", str(p)), "already exists")
    assert p.read_bytes() == b"precious"


@pytest.mark.parametrize("args, needles", [
    (("replay",), ("paraphina replay", "Missing argument 'LOG'")),
    (("no-such-command",), ("No such command",)),
    (("run", "--ticks", "0"), ("paraphina run", "--ticks")),
    (("cat", "x.arrow", "--no-such-option"), ("paraphina cat", "--no-such-option")),
])
def test_usage_errors_are_one_line(args, needles):
    assert_user_error(run_cli(*args), *needles)
