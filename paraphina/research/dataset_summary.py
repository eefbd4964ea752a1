"""Summarise a research dataset (a CSV, one row per run): statistics per group and numeric column.

A column is numeric when it has a value and every non-empty cell is a finite number or
``true``/``false`` (1/0, so a boolean column's mean is a rate, e.g. the kill rate). Identity
columns (``file``, ``label``, ``schema_version``), a condensed dataset's path labels and the
group-by columns are never summarised.
Empty cells are missing values: ``count`` says how many runs had one (``time_to_kill`` counts kills).

Per group and column: count, mean (``math.fsum``), std (sample, n-1; 0.0 for one value, as
:func:`paraphina.research.stats.describe`), min, p05/p50/p95 (linear interpolation at p(n-1)),
max. Groups are sorted by their key, numerically for all-numeric group columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import msgspec

from paraphina.errors import UserError
from paraphina.research.stats import describe, quantile
from paraphina.research.telemetry_dataset import (FIXED_COLUMNS, META_COLUMNS, Dataset, format_cell,
                                                  path_label_columns, to_csv)

STAT_NAMES = ("count", "mean", "std", "min", "p05", "p50", "p95", "max")
SUMMARY_SCHEMA = "paraphina-telemetry-summary-v1"
_BOOLEANS = {"true": 1.0, "false": 0.0}


class GroupSummary(msgspec.Struct, frozen=True):
    key: tuple[str, ...]  # the group's values of the group-by columns, in --group-by order
    runs: int
    stats: dict[str, dict[str, float | int]]  # column -> STAT_NAMES -> value (NaN when count is 0)


class Summary(msgspec.Struct, frozen=True):
    group_by: tuple[str, ...]
    columns: tuple[str, ...]  # the summarised (numeric) columns, in dataset order
    groups: tuple[GroupSummary, ...]


def parse_number(cell: str) -> float | None:
    """The cell as a finite float, booleans as 1/0; None when it is not one."""
    if cell in _BOOLEANS:
        return _BOOLEANS[cell]
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def numeric_columns(ds: Dataset, exclude: Sequence[str] = ()) -> tuple[str, ...]:
    # labels describe a run, they are not measurements of it
    skip = set(FIXED_COLUMNS) | set(META_COLUMNS) | set(path_label_columns(ds.columns)) | set(exclude)
    out = []
    for name in ds.columns:
        cells = [c for c in ds.column(name) if c != ""]
        if name not in skip and cells and all(parse_number(c) is not None for c in cells):
            out.append(name)
    return tuple(out)


def column_stats(values: Sequence[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0, **{s: math.nan for s in STAT_NAMES[1:]}}
    m = describe(values)
    return {"count": m.n, "mean": m.mean, "std": m.std, "min": m.min, "p05": quantile(values, 0.05),
            "p50": quantile(values, 0.50), "p95": quantile(values, 0.95), "max": m.max}


def summarise(ds: Dataset, group_by: Sequence[str] = ()) -> Summary:
    """Statistics of every numeric column, per group of equal ``group_by`` values (one group, with
    an empty key, when ``group_by`` is empty). An unknown column or an empty dataset is a UserError."""
    group_by = tuple(group_by)
    for name in group_by:
        if name not in ds.columns:
            raise UserError(f"--group-by {name}: no such column (columns: {', '.join(ds.columns)})")
    if len(set(group_by)) != len(group_by):
        raise UserError("--group-by: a column is given twice")
    if not ds.rows:
        raise UserError("the dataset has no rows")
    columns = numeric_columns(ds, group_by)
    gidx = [ds.columns.index(g) for g in group_by]
    groups: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for row in ds.rows:
        groups.setdefault(tuple(row[i] for i in gidx), []).append(row)
    order = _group_sort_key(ds, group_by)
    out = []
    for key in sorted(groups, key=order):
        rows = groups[key]
        stats = {}
        for name in columns:
            i = ds.columns.index(name)
            stats[name] = column_stats([parse_number(r[i]) for r in rows if r[i] != ""])
        out.append(GroupSummary(key=key, runs=len(rows), stats=stats))
    return Summary(group_by=group_by, columns=columns, groups=tuple(out))


def _group_sort_key(ds: Dataset, group_by: tuple[str, ...]):
    """Numeric order for group columns whose every value is a number (-40 < -20 < 0), text
    order otherwise; an empty value first either way."""
    numeric = [all(parse_number(c) is not None for c in ds.column(g) if c != "") for g in group_by]

    def key(values: tuple[str, ...]):
        return tuple((v != "", parse_number(v) if num and v != "" else 0.0, v) for v, num in zip(values, numeric))

    return key


def summary_table_rows(s: Summary) -> tuple[tuple[str, ...], list[tuple[object, ...]]]:
    """Long format: one row per group and column: group values, runs, column, the statistics."""
    header = (*s.group_by, "runs", "column", *STAT_NAMES)
    rows = [(*g.key, g.runs, name, *(g.stats[name][k] for k in STAT_NAMES)) for g in s.groups for name in s.columns]
    return header, rows


def summary_csv(s: Summary) -> str:
    header, rows = summary_table_rows(s)
    return to_csv(header, rows)


def summary_json(s: Summary) -> str:
    """Pretty JSON with a trailing newline; NaN (no values) becomes null."""
    doc = {
        "schema": SUMMARY_SCHEMA,
        "group_by": list(s.group_by),
        "columns": list(s.columns),
        "groups": [{"key": dict(zip(s.group_by, g.key)), "runs": g.runs,
                    "stats": {c: {k: _json_number(v) for k, v in g.stats[c].items()} for c in s.columns}}
                   for g in s.groups],
    }
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def _json_number(v: float | int) -> float | int | None:
    return None if isinstance(v, float) and math.isnan(v) else v


def format_table(s: Summary) -> list[str]:
    """The summary as aligned text lines: text left-aligned, numbers right-aligned (6 significant
    digits), ``-`` where there is no value."""
    header, rows = summary_table_rows(s)
    cells = [list(header)] + [[_table_cell(v) for v in r] for r in rows]
    numeric = [False] * len(s.group_by) + [True, False] + [True] * len(STAT_NAMES)
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for r in cells:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric)]
        lines.append("  ".join(parts).rstrip())
    return lines


def _table_cell(v: object) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.6g}"
    text = format_cell(v)
    return text if text != "" else "-"
