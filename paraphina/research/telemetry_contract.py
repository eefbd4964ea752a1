"""Telemetry v1 validator: every record of a telemetry JSONL file against the research contract.

Telemetry v1 (RESEARCH_CONTRACTS.md section 4): JSONL, UTF-8 without BOM, LF line ends; required
``schema_version`` (= 1), ``t`` (integer, strictly increasing), ``pnl_realised``, ``pnl_unrealised``,
``pnl_total`` (numbers), ``risk_regime`` (``Normal|Warning|HardLimit``), ``kill_switch`` (boolean),
``kill_reason`` (string), ``q_global_tao``, ``dollar_delta_usd``, ``basis_usd`` (numbers); optional
``fv_available`` (boolean), ``fair_value`` (number or null), ``sigma_eff`` (number),
``healthy_venues_used_count`` (integer), ``healthy_venues_used`` (integer array),
``basis_gross_usd`` (number). All numbers finite, a boolean is not a number, an integral float is
an integer, extra fields are allowed.

Two fields also accept null, because paraphina's own writer emits it (drift register R13):
``kill_reason`` is null while the kill switch is off, ``sigma_eff`` is null before the first tick
model exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from paraphina.research.ts_metrics import (TelemetryError, as_integer, is_number, iter_jsonl_lines,
                                           nonfinite_fields, type_name)

SCHEMA_VERSION = 1
RISK_REGIMES = ("Normal", "Warning", "HardLimit")


class Violation(msgspec.Struct, frozen=True):
    """One broken rule: ``line`` counts from 1 (0 = the file as a whole); ``field`` is None when the
    line itself is at fault (not JSON, not an object, a bad line end)."""

    line: int
    field: str | None
    message: str

    def format(self, path: str | Path) -> str:
        where = f"{path}:{self.line}" if self.line else f"{path}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class CheckReport(msgspec.Struct, frozen=True):
    records: int
    violations: list[Violation]

    @property
    def ok(self) -> bool:
        return not self.violations


def _number(v: Any) -> bool:
    return is_number(v)


def _number_or_null(v: Any) -> bool:
    return v is None or is_number(v)


def _integer(v: Any) -> bool:
    return as_integer(v) is not None


def _boolean(v: Any) -> bool:
    return isinstance(v, bool)


def _string_or_null(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _integer_array(v: Any) -> bool:
    return isinstance(v, list) and all(as_integer(x) is not None for x in v)


_Rule = tuple[Callable[[Any], bool], str]
# schema_version, t and risk_regime have their own value rules below; these are type rules.
REQUIRED: dict[str, _Rule] = {
    "schema_version": (_integer, "an integer"),
    "t": (_integer, "an integer"),
    "pnl_realised": (_number, "a number"),
    "pnl_unrealised": (_number, "a number"),
    "pnl_total": (_number, "a number"),
    "risk_regime": (lambda v: isinstance(v, str), "a string"),
    "kill_switch": (_boolean, "a boolean"),
    "kill_reason": (_string_or_null, "a string or null"),
    "q_global_tao": (_number, "a number"),
    "dollar_delta_usd": (_number, "a number"),
    "basis_usd": (_number, "a number"),
}
OPTIONAL: dict[str, _Rule] = {
    "fv_available": (_boolean, "a boolean"),
    "fair_value": (_number_or_null, "a number or null"),
    "sigma_eff": (_number_or_null, "a number or null"),
    "healthy_venues_used_count": (_integer, "an integer"),
    "healthy_venues_used": (_integer_array, "an array of integers"),
    "basis_gross_usd": (_number, "a number"),
}


def check_telemetry_v1(path: str | Path) -> CheckReport:
    """Every violation in the file, in line order. A missing or unreadable file raises
    :class:`~paraphina.research.ts_metrics.TelemetryError` (that is not a violation: nothing was
    checked)."""
    violations: list[Violation] = []
    records = 0
    prev_t: int | None = None
    last_raw = b""
    for line_no, raw in iter_jsonl_lines(path):
        last_raw = raw
        if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
            violations.append(Violation(1, None, "starts with a UTF-8 byte-order mark (Telemetry v1 has none)"))
            raw = raw[3:]
        if raw.endswith(b"\r\n"):
            violations.append(Violation(line_no, None, "CRLF line end (Telemetry v1 uses LF)"))
        if not raw.strip():
            continue  # blank lines are no records (as the reference validator)
        records += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            violations.append(Violation(line_no, None, f"not UTF-8 text (byte {exc.start})"))
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            violations.append(Violation(line_no, None, f"not JSON ({exc})"))
            continue
        if not isinstance(obj, dict):
            violations.append(Violation(line_no, None, f"expected a JSON object, got {type_name(obj)}"))
            continue
        found, t = _check_record(obj, line_no, prev_t)
        violations.extend(found)
        if t is not None:
            prev_t = t
    if records == 0:
        violations.append(Violation(0, None, "no records (empty file)"))
    elif not last_raw.endswith(b"\n"):
        # a writer killed mid-line leaves exactly this; the record may be cut short
        violations.append(Violation(line_no, None, "last line has no LF line end (torn write?)"))
    return CheckReport(records=records, violations=violations)


def _check_record(obj: dict[str, Any], line_no: int, prev_t: int | None) -> tuple[list[Violation], int | None]:
    """The record's violations and its ``t`` (None when ``t`` is unusable)."""
    found = [Violation(line_no, f, "non-finite number (Telemetry v1 numbers are finite)")
             for f in nonfinite_fields(obj)]
    for name, (ok, what) in REQUIRED.items():
        if name not in obj:
            found.append(Violation(line_no, name, "missing required field"))
        elif not ok(obj[name]):
            found.append(Violation(line_no, name, f"expected {what}, got {type_name(obj[name])}"))
    for name, (ok, what) in OPTIONAL.items():
        if name in obj and not ok(obj[name]):
            found.append(Violation(line_no, name, f"expected {what}, got {type_name(obj[name])}"))
    version = as_integer(obj.get("schema_version"))
    if version is not None and version != SCHEMA_VERSION:
        found.append(Violation(line_no, "schema_version", f"expected {SCHEMA_VERSION}, got {version}"))
    regime = obj.get("risk_regime")
    if isinstance(regime, str) and regime not in RISK_REGIMES:
        found.append(Violation(line_no, "risk_regime", f"{regime!r} is not one of {', '.join(RISK_REGIMES)}"))
    t = as_integer(obj.get("t"))
    if t is not None and prev_t is not None and t <= prev_t:
        found.append(Violation(line_no, "t", f"not strictly increasing ({t} after {prev_t})"))
    return found, t


__all__ = ["CheckReport", "Violation", "check_telemetry_v1", "TelemetryError"]
