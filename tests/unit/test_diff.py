"""paraphina diff: first divergence, counts by kind and venue, exit codes, JSON for CI."""

from __future__ import annotations

import json

from paraphina.actions import CancelOrder, PlaceOrder, encode_actions
from paraphina.diff import compare

from conftest import run_cli


def place(seq, venue, price, cid="c"):
    return PlaceOrder(seq=seq, venue=venue, client_order_id=cid, side=1, price=price, size=1)


def test_identical_streams():
    a = [place(1, 0, 10), CancelOrder(seq=2, venue=0, client_order_id="c")]
    assert compare(a, list(a)).identical


def test_first_divergence_and_counts():
    a = [place(1, 0, 10), place(2, 1, 11), place(3, 1, 12)]
    b = [place(1, 0, 10), place(2, 1, 99), place(3, 1, 12), CancelOrder(seq=4, venue=2, client_order_id="z")]
    d = compare(a, b)
    assert not d.identical and d.first_index == 1 and d.cause_seq == 2
    assert d.only_in_a == {"place@venue1": 1}
    assert d.only_in_b == {"cancel@venue2": 1, "place@venue1": 1}


def test_cli_exit_codes_and_json(tmp_path, sample_log):
    a, b = tmp_path / "a.actions", tmp_path / "b.actions"
    a.write_bytes(encode_actions([place(1, 0, 10), place(2, 1, 11)]))
    b.write_bytes(encode_actions([place(1, 0, 10), place(2, 1, 12)]))
    assert run_cli("diff", str(a), str(a)).returncode == 0
    r = run_cli("diff", str(a), str(b), "--format", "json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["first_index"] == 1 and out["first_b"]["price"] == 12


def test_diff_two_policies_on_one_log(sample_log):
    r = run_cli("diff", str(sample_log), str(sample_log), "--policy", "fixed-spread", "--policy-b", "touch-joiner")
    assert r.returncode == 1
    assert "first divergence at action #0" in r.stdout and "cause:" in r.stdout
    assert "differences by kind and venue" in r.stdout
    same = run_cli("diff", str(sample_log), str(sample_log))
    assert same.returncode == 0 and same.stdout.startswith("identical")
