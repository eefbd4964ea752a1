"""ts_metrics: the lenient telemetry loader and the per-run metrics, against hand-computed values."""

from __future__ import annotations

import json
import math
import random

import pytest

from paraphina.errors import UserError
from paraphina.research.ts_metrics import (CONTRACT_METRICS, METRICS, TelemetryError, compute_ts_metrics,
                                           load_telemetry_jsonl)


def write_jsonl(path, records) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return str(path)


# t, pnl_total, regime, kill. Running peak 0,5,5,7,7,7 -> drawdown 0,0,3,0,6,4: max 6 at t=5.
PATH = [(1, 0.0, "Normal", False), (2, 5.0, "Normal", False), (3, 2.0, "Warning", False),
        (4, 7.0, "Warning", False), (5, 1.0, "HardLimit", True), (6, 3.0, "HardLimit", True)]


def records(rows=PATH, **extra):
    return [{"t": t, "pnl_total": p, "risk_regime": r, "kill_switch": k, **extra} for t, p, r, k in rows]


def test_contract_metrics_by_hand(tmp_path):
    m = compute_ts_metrics(load_telemetry_jsonl(write_jsonl(tmp_path / "a.jsonl", records())))
    assert {k: m[k] for k in CONTRACT_METRICS} == {
        "pnl_total_end": 3.0, "max_drawdown": 6.0, "max_drawdown_time": 5, "time_to_kill": 5,
        "regime_frac_normal": 2 / 6, "regime_frac_warning": 2 / 6, "regime_frac_hard": 2 / 6, "num_ticks": 6}
    assert list(m) == list(METRICS)
    assert m["pnl_total_min"] == 0.0 and m["pnl_total_max"] == 7.0 and m["kill_switch"] is True


def test_records_are_sorted_by_t_before_anything_is_computed(tmp_path):
    shuffled = records()
    random.Random(3).shuffle(shuffled)
    assert [r["t"] for r in shuffled] != [1, 2, 3, 4, 5, 6]
    assert compute_ts_metrics(load_telemetry_jsonl(write_jsonl(tmp_path / "s.jsonl", shuffled))) == \
        compute_ts_metrics(records())


def test_drawdown_ties_take_the_first_time_and_a_rising_path_has_none():
    tied = compute_ts_metrics(records([(10, 3.0, "Normal", False), (20, 1.0, "Normal", False),
                                       (30, 3.0, "Normal", False), (40, 1.0, "Normal", False)]))
    assert (tied["max_drawdown"], tied["max_drawdown_time"]) == (2.0, 20)
    rising = compute_ts_metrics(records([(7, -1.0, "Normal", False), (8, 0.5, "Normal", False)]))
    assert (rising["max_drawdown"], rising["max_drawdown_time"], rising["time_to_kill"]) == (0.0, 7, None)
    # the peak starts at the first record, not at 0: a run that only loses has drawdown first - last
    falling = compute_ts_metrics(records([(1, -2.0, "Normal", False), (2, -5.0, "Normal", False)]))
    assert (falling["max_drawdown"], falling["max_drawdown_time"]) == (3.0, 2)


def test_defaults_t_is_the_index_regime_unknown_no_kill(tmp_path):
    recs = load_telemetry_jsonl(write_jsonl(tmp_path / "d.jsonl", [{"pnl_total": v} for v in (1.0, 4, 2.5)]))
    assert [(r["t"], r["risk_regime"], r["kill_switch"]) for r in recs] == [(i, "Unknown", False) for i in range(3)]
    m = compute_ts_metrics(recs)
    assert (m["max_drawdown"], m["max_drawdown_time"], m["time_to_kill"]) == (1.5, 2, None)
    assert (m["regime_frac_normal"], m["regime_frac_warning"], m["regime_frac_hard"]) == (0.0, 0.0, 0.0)
    # no paraphina fields at all: their metrics are missing, not zero
    assert math.isnan(m["max_abs_delta_usd"]) and math.isnan(m["q_global_tao_end"]) and m["kill_reason"] is None


def test_extras_from_paraphina_fields():
    recs = [
        {"t": 1, "pnl_total": 0.0, "pnl_realised": 0.0, "pnl_unrealised": 0.0, "risk_regime": "Normal",
         "kill_switch": False, "kill_reason": None, "q_global_tao": 0.5, "dollar_delta_usd": -300.0, "basis_usd": 2.0,
         "fv_available": False, "sigma_eff": None, "healthy_venues_used_count": 3},
        {"t": 2, "pnl_total": -4.0, "pnl_realised": -1.0, "pnl_unrealised": -3.0, "risk_regime": "HardLimit",
         "kill_switch": True, "kill_reason": "PnlHardBreach", "q_global_tao": -1.5, "dollar_delta_usd": 100.0,
         "basis_usd": -6.0, "fv_available": True, "sigma_eff": 0.002, "healthy_venues_used_count": 5},
    ]
    m = compute_ts_metrics(recs)
    assert {k: m[k] for k in METRICS[len(CONTRACT_METRICS):]} == {
        "pnl_realised_end": -1.0, "pnl_unrealised_end": -3.0, "pnl_total_min": -4.0, "pnl_total_max": 0.0,
        "kill_switch": True, "kill_reason": "PnlHardBreach", "q_global_tao_end": -1.5, "max_abs_q_tao": 1.5,
        "max_abs_delta_usd": 300.0, "mean_abs_delta_usd": 200.0, "max_abs_basis_usd": 6.0, "fv_available_frac": 0.5,
        "sigma_eff_mean": 0.002,  # null sigma_eff is missing, not 0
        "healthy_venues_used_mean": 4.0, "healthy_venues_used_min": 3}
    assert isinstance(m["healthy_venues_used_min"], int)


def test_no_records_gives_the_references_empty_row():
    m = compute_ts_metrics([])
    assert m["num_ticks"] == 0 and m["time_to_kill"] is None and m["max_drawdown_time"] is None
    assert math.isnan(m["pnl_total_end"]) and math.isnan(m["max_drawdown"]) and list(m) == list(METRICS)


def test_blank_lines_are_skipped_and_integral_float_t_is_an_integer(tmp_path):
    p = tmp_path / "b.jsonl"
    p.write_text('{"t": 1.0, "pnl_total": 1}\n\n   \n{"t": 2, "pnl_total": 0}\n')
    recs = load_telemetry_jsonl(p)
    assert [(r["t"], r["pnl_total"]) for r in recs] == [(1, 1.0), (2, 0.0)]
    assert isinstance(recs[0]["t"], int) and isinstance(recs[1]["pnl_total"], float)


@pytest.mark.parametrize("lines, message", [
    (['{"pnl_total": 1}', "not json"], r"bad\.jsonl:2: not JSON"),
    (['{"pnl_total": 1}', "[1, 2]"], r"bad\.jsonl:2: expected a JSON object, got array"),
    (['{"pnl_total": 1}', '{"t": 1}'], r"bad\.jsonl:2: missing pnl_total"),
    (['{"pnl_total": "12.5"}'], r"bad\.jsonl:1: pnl_total: expected a number, got string"),
    (['{"pnl_total": true}'], r"bad\.jsonl:1: pnl_total: expected a number, got boolean"),
    (['{"pnl_total": null}'], r"bad\.jsonl:1: pnl_total: expected a number, got null"),
    (['{"pnl_total": NaN}'], r"bad\.jsonl:1: pnl_total: non-finite number"),
    (['{"pnl_total": 1, "basis_usd": 1e999}'], r"bad\.jsonl:1: basis_usd: non-finite number"),
    (['{"pnl_total": 1, "t": 1.5}'], r"bad\.jsonl:1: t: expected an integer, got number 1\.5"),
    (['{"pnl_total": 1, "t": "3"}'], r"bad\.jsonl:1: t: expected an integer, got string"),
    (['{"pnl_total": 1, "kill_switch": "true"}'], r"bad\.jsonl:1: kill_switch: expected a boolean, got string"),
    (['{"pnl_total": 1, "risk_regime": 2}'], r"bad\.jsonl:1: risk_regime: expected a string, got number"),
    (['{"pnl_total": 1}', '{"pnl_total": 1, "q_global_tao": "x"}'],
     r"bad\.jsonl:2: q_global_tao: expected a number or null, got string"),
])
def test_malformed_lines_name_file_and_line(tmp_path, lines, message):
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(TelemetryError, match=message):
        load_telemetry_jsonl(p)


def test_empty_missing_and_binary_files(tmp_path):
    for text in ("", "\n\n"):
        (tmp_path / "empty.jsonl").write_text(text)
        with pytest.raises(TelemetryError, match=r"empty\.jsonl: no telemetry records"):
            load_telemetry_jsonl(tmp_path / "empty.jsonl")
    with pytest.raises(TelemetryError, match=r"nope\.jsonl: cannot read \(No such file or directory\)"):
        load_telemetry_jsonl(tmp_path / "nope.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(b'{"pnl_total": 1}\n\xff\xfe\n')
    with pytest.raises(TelemetryError, match=r"bin\.jsonl:2: not UTF-8"):
        load_telemetry_jsonl(tmp_path / "bin.jsonl")


def test_the_error_is_a_user_error_and_a_value_error(tmp_path):
    # the CLI prints UserErrors as one line (exit 2); library callers may catch ValueError
    assert issubclass(TelemetryError, UserError) and issubclass(TelemetryError, ValueError)
