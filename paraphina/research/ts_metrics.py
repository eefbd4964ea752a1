"""Time-series metrics of one telemetry JSONL file: the row a run contributes to a research dataset.

:func:`load_telemetry_jsonl` reads a file leniently, as the research contract's loader does: only
``pnl_total`` is required; a missing ``t`` is the record's index, a missing ``risk_regime`` is
``"Unknown"``, a missing ``kill_switch`` is ``False``. Every field it reads must have the right
type, so a bad line is an error naming the file and line, never a silently wrong number.
(``paraphina telemetry check`` is the strict Telemetry v1 validator.)

:func:`compute_ts_metrics` turns the records, sorted by ``t``, into the contract's metrics
(:data:`CONTRACT_METRICS`) followed by paraphina's extras (:data:`EXTRA_METRICS`), which summarise
the other fields paraphina's telemetry carries (position, delta, basis, fair-value availability,
volatility, healthy venues). A field absent from every record gives NaN (or None), so files from
other writers still condense into the same columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paraphina.errors import UserError

CONTRACT_METRICS = ("pnl_total_end", "max_drawdown", "max_drawdown_time", "time_to_kill", "regime_frac_normal",
                    "regime_frac_warning", "regime_frac_hard", "num_ticks")
EXTRA_METRICS = ("pnl_realised_end", "pnl_unrealised_end", "pnl_total_min", "pnl_total_max", "kill_switch",
                 "kill_reason", "q_global_tao_end", "max_abs_q_tao", "max_abs_delta_usd", "mean_abs_delta_usd",
                 "max_abs_basis_usd", "fv_available_frac", "sigma_eff_mean", "healthy_venues_used_mean",
                 "healthy_venues_used_min")
METRICS = CONTRACT_METRICS + EXTRA_METRICS

# Optional fields the metrics read; null counts as absent (paraphina writes null before the
# first tick model exists).
_NUMBER_FIELDS = ("pnl_realised", "pnl_unrealised", "q_global_tao", "dollar_delta_usd", "basis_usd", "sigma_eff",
                  "fair_value")
_BOOL_FIELDS = ("fv_available",)
_INT_FIELDS = ("healthy_venues_used_count",)
_STRING_FIELDS = ("kill_reason",)


class TelemetryError(UserError, ValueError):
    """A telemetry file that cannot be read or holds a bad record (one line, names file and line)."""


def nonfinite_fields(value: Any, path: str = "") -> list[str]:
    """Where a decoded JSON value holds NaN or an infinity (``json`` reads ``NaN``, ``Infinity`` and
    overflowing numbers such as ``1e999``; Telemetry v1 numbers are finite): ``basis_usd``,
    ``healthy_venues_used[2]``, ``extra.x``."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path or "value"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nonfinite_fields(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nonfinite_fields(v, f"{path}[{i}]")]
    return []


def is_number(value: Any) -> bool:
    """A JSON number (bool is not one, although Python says so)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_integer(value: Any) -> int | None:
    """The int a JSON integer stands for (integral floats such as ``3.0`` count), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def type_name(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def iter_jsonl_lines(path: str | Path):
    """Yield ``(line_number, raw_bytes)`` of a file's lines (line numbers from 1, the newline kept).
    An unreadable or missing file raises :class:`TelemetryError`."""
    try:
        with open(path, "rb") as fh:
            yield from enumerate(fh, start=1)
    except OSError as exc:
        raise TelemetryError(f"{path}: cannot read ({exc.strerror})") from None


def load_telemetry_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The file's records in file order, with ``t``, ``pnl_total``, ``risk_regime`` and
    ``kill_switch`` always present (defaults as in the module docstring). Blank lines are skipped.
    Raises :class:`TelemetryError` for a missing file, a file without records, or a line that is
    not a JSON object or has a field of the wrong type."""
    records = []
    for line_no, raw in iter_jsonl_lines(path):
        where = f"{path}:{line_no}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TelemetryError(f"{where}: not UTF-8 text") from None
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise TelemetryError(f"{where}: not JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise TelemetryError(f"{where}: expected a JSON object, got {type_name(obj)}")
        bad = nonfinite_fields(obj)
        if bad:
            raise TelemetryError(f"{where}: {bad[0]}: non-finite number")
        records.append(_normalised(obj, len(records), where))
    if not records:
        raise TelemetryError(f"{path}: no telemetry records (empty file)")
    return records


def _normalised(obj: dict[str, Any], index: int, where: str) -> dict[str, Any]:
    rec = dict(obj)
    if "pnl_total" not in rec:
        raise TelemetryError(f"{where}: missing pnl_total")
    if not is_number(rec["pnl_total"]):
        raise TelemetryError(f"{where}: pnl_total: expected a number, got {type_name(rec['pnl_total'])}")
    rec["pnl_total"] = float(rec["pnl_total"])
    if "t" in rec:
        t = as_integer(rec["t"])
        if t is None:
            raise TelemetryError(f"{where}: t: expected an integer, got {type_name(rec['t'])} {rec['t']!r}")
        rec["t"] = t
    else:
        rec["t"] = index
    rec.setdefault("risk_regime", "Unknown")
    if not isinstance(rec["risk_regime"], str):
        raise TelemetryError(f"{where}: risk_regime: expected a string, got {type_name(rec['risk_regime'])}")
    rec.setdefault("kill_switch", False)
    if not isinstance(rec["kill_switch"], bool):
        raise TelemetryError(f"{where}: kill_switch: expected a boolean, got {type_name(rec['kill_switch'])}")
    for names, ok, what in ((_NUMBER_FIELDS, is_number, "a number"),
                            (_BOOL_FIELDS, lambda v: isinstance(v, bool), "a boolean"),
                            (_INT_FIELDS, lambda v: as_integer(v) is not None, "an integer"),
                            (_STRING_FIELDS, lambda v: isinstance(v, str), "a string")):
        for name in names:
            value = rec.get(name)
            if value is not None and not ok(value):
                raise TelemetryError(f"{where}: {name}: expected {what} or null, got {type_name(value)}")
    return rec


def compute_ts_metrics(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """:data:`METRICS` of records as :func:`load_telemetry_jsonl` returns them, in that order.

    Records are sorted by ``t`` (stable, so equal ``t`` keep file order). ``max_drawdown`` is the
    largest running-peak minus value of ``pnl_total`` (the peak starts at the first record, not at
    0), ``max_drawdown_time`` the ``t`` where it first occurs (the first ``t`` when the path never
    falls). ``time_to_kill`` is the first ``t`` with ``kill_switch`` true, else None. Regime
    fractions count ticks equal to ``Normal``, ``Warning``, ``HardLimit``. No records: NaN, None
    and 0, as the reference.
    """
    if not records:
        out: dict[str, Any] = {m: math.nan for m in METRICS}
        out.update(max_drawdown_time=None, time_to_kill=None, num_ticks=0, kill_switch=False, kill_reason=None)
        return out
    recs = sorted(records, key=lambda r: r["t"])
    t = np.array([r["t"] for r in recs], dtype=np.int64)
    pnl = np.array([r["pnl_total"] for r in recs], dtype=float)
    drawdown = np.maximum.accumulate(pnl) - pnl
    worst = int(np.argmax(drawdown))  # argmax returns the first index of the maximum
    killed = np.array([r["kill_switch"] for r in recs], dtype=bool)
    first_kill = int(np.argmax(killed)) if killed.any() else None
    regimes = [r["risk_regime"] for r in recs]
    n = len(recs)
    q = _column(recs, "q_global_tao")
    delta = _column(recs, "dollar_delta_usd")
    venues = _column(recs, "healthy_venues_used_count")
    return {
        "pnl_total_end": float(pnl[-1]),
        "max_drawdown": float(drawdown[worst]),
        "max_drawdown_time": int(t[worst]),
        "time_to_kill": int(t[first_kill]) if first_kill is not None else None,
        "regime_frac_normal": regimes.count("Normal") / n,
        "regime_frac_warning": regimes.count("Warning") / n,
        "regime_frac_hard": regimes.count("HardLimit") / n,
        "num_ticks": n,
        "pnl_realised_end": _last(_column(recs, "pnl_realised")),
        "pnl_unrealised_end": _last(_column(recs, "pnl_unrealised")),
        "pnl_total_min": float(pnl.min()),
        "pnl_total_max": float(pnl.max()),
        "kill_switch": first_kill is not None,
        "kill_reason": _kill_reason(recs, first_kill),
        "q_global_tao_end": _last(q),
        "max_abs_q_tao": _reduce(np.abs(q), np.max),
        "max_abs_delta_usd": _reduce(np.abs(delta), np.max),
        "mean_abs_delta_usd": _mean(np.abs(delta)),
        "max_abs_basis_usd": _reduce(np.abs(_column(recs, "basis_usd")), np.max),
        "fv_available_frac": _mean(_column(recs, "fv_available")),
        "sigma_eff_mean": _mean(_column(recs, "sigma_eff")),
        "healthy_venues_used_mean": _mean(venues),
        "healthy_venues_used_min": _as_int(_reduce(venues, np.min)),
    }


def _column(recs: Sequence[dict[str, Any]], name: str) -> np.ndarray:
    """The field as floats, NaN where a record lacks it or holds null (booleans become 0/1)."""
    return np.array([math.nan if r.get(name) is None else float(r[name]) for r in recs], dtype=float)


def _present(x: np.ndarray) -> np.ndarray:
    return x[~np.isnan(x)]


def _last(x: np.ndarray) -> float:
    """The last present value: the state at the end of the run."""
    v = _present(x)
    return float(v[-1]) if v.size else math.nan


def _reduce(x: np.ndarray, fn) -> float:
    v = _present(x)
    return float(fn(v)) if v.size else math.nan


def _as_int(v: float) -> int | float:
    return v if math.isnan(v) else int(v)


def _mean(x: np.ndarray) -> float:
    # fsum: the mean does not depend on summation order or numpy's pairwise blocking
    v = _present(x)
    return math.fsum(v.tolist()) / v.size if v.size else math.nan


def _kill_reason(recs: Sequence[dict[str, Any]], first_kill: int | None) -> str | None:
    """The reason recorded with the kill (the first non-null one from the kill tick on)."""
    if first_kill is None:
        return None
    return next((r["kill_reason"] for r in recs[first_kill:] if r.get("kill_reason")), None)
