"""`--units human` on `cat` and `diff`, and filters on venues a log does not have."""

from __future__ import annotations

import json
from decimal import Decimal

from paraphina.eventlog import LogReader

from conftest import run_cli, write_sample


def test_cat_human_units_are_the_raw_values_scaled_exactly(tmp_path):
    log = write_sample(tmp_path / "s.arrow", n=800, venues=3)
    raw = run_cli("cat", str(log), "--kind", "trade")
    human = run_cli("cat", str(log), "--kind", "trade", "--units", "human")
    assert raw.returncode == 0 and human.returncode == 0, raw.stderr + human.stderr
    ins = LogReader(str(log)).info.instruments
    rows_raw = [json.loads(x) for x in raw.stdout.splitlines()]
    rows_h = [json.loads(x) for x in human.stdout.splitlines()]
    assert rows_raw and len(rows_raw) == len(rows_h)
    for r, h in zip(rows_raw, rows_h):
        v = r["venue"]
        assert Decimal(h["price"]) == r["price"] * Decimal(ins[v].tick_size)
        assert Decimal(h["size"]) == r["size"] * Decimal(ins[v].lot_size)
        assert h["time"].endswith("Z") and "T" in h["time"] and "ts_ns" not in h
        assert h["seq"] == r["seq"] and h["side"] == r["side"]


def test_cat_on_a_venue_or_kind_that_does_not_exist_is_an_error(tmp_path):
    log = write_sample(tmp_path / "s.arrow", n=300, venues=5)
    r = run_cli("cat", str(log), "--venue", "9")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and "--venue 9" in r.stderr and "venues 0..4" in r.stderr
    r = run_cli("cat", str(log), "--kind", "trades")
    assert r.returncode == 2 and "unknown event kind" in r.stderr
    # an existing venue with events is fine; an existing kind with no events prints nothing and exits 0
    assert run_cli("cat", str(log), "--venue", "4", "--seq", "0:50").returncode == 0
    r = run_cli("cat", str(log), "--kind", "fill")
    assert r.returncode == 0 and r.stdout == ""


def test_diff_human_units(tmp_path):
    log = write_sample(tmp_path / "s.arrow", n=3000, venues=2)
    r = run_cli("diff", str(log), str(log), "--policy", "fixed-spread", "--policy-b", "heuristic",
                "--format", "json", "--units", "human")
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    first = d["first_a"] or d["first_b"]
    if first.get("action") == "place":
        assert isinstance(first["price"], str) and "." in first["price"]
    assert d["cause_event"]["time"].endswith("Z")
    # two action files carry no instrument table: --units human needs --log
    a, b = tmp_path / "a.actions", tmp_path / "b.actions"
    assert run_cli("replay", str(log), "--policy", "fixed-spread", "--out", str(a)).returncode == 0
    assert run_cli("replay", str(log), "--policy", "heuristic", "--out", str(b)).returncode == 0
    r = run_cli("diff", str(a), str(b), "--units", "human")
    assert r.returncode == 2 and "need --log LOG" in r.stderr
    r = run_cli("diff", str(a), str(b), "--units", "human", "--log", str(log))
    assert r.returncode == 1 and '"time":"' in r.stdout
