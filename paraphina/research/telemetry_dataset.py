"""Condense telemetry JSONL files into a research dataset: one CSV row of metrics per file.

Columns, always in this order: ``file`` (the path as given), ``label``, the path labels (with
``label_from_path``, sorted by key), ``schema_version``, then :data:`~paraphina.research.ts_metrics.METRICS`.
Rows are sorted by ``file``. Cells: empty for None/NaN, ``true``/``false`` for booleans, integers
as digits, floats as Python's shortest round-trip repr. The same files give the same bytes.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath
from typing import Any

import msgspec

from paraphina.errors import UserError
from paraphina.research.ts_metrics import METRICS, compute_ts_metrics, load_telemetry_jsonl

FIXED_COLUMNS = ("file", "label")
META_COLUMNS = ("schema_version",)
TELEMETRY_FILE_NAME = "telemetry.jsonl"  # the contract's name: such files take their directory's name as label


class Dataset(msgspec.Struct, frozen=True):
    """A table of strings: ``columns`` and ``rows`` (each a tuple as long as ``columns``)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def column(self, name: str) -> list[str]:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]


def file_label(path: str | Path) -> str:
    """``runs/a/seed3.jsonl`` -> ``seed3``; ``runs/a/telemetry.jsonl`` -> ``a`` (the contract's
    fixed file name says nothing, its directory names the run)."""
    p = PurePath(path)
    if p.name == TELEMETRY_FILE_NAME and p.parent.name:
        return p.parent.name
    return p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name


def path_labels(path: str | Path) -> dict[str, str]:
    """``key=value`` components of a path (Hive-style partitions, as pyarrow datasets write them):
    ``runs/profile=balanced/seed=3/telemetry.jsonl`` -> ``{profile: balanced, seed: 3}``. A file
    name counts without its ``.jsonl``. A key given twice in one path is an error."""
    out: dict[str, str] = {}
    p = PurePath(path)
    parts = [*p.parent.parts, p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name]
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key:
            continue
        if key in out:
            raise UserError(f"{path}: path label {key!r} given twice")
        out[key] = value
    return out


def path_label_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """The path-label columns of a condensed dataset's header (those between ``label`` and
    ``schema_version``); none for any other CSV."""
    cols = tuple(columns)
    if cols[: len(FIXED_COLUMNS)] != FIXED_COLUMNS or META_COLUMNS[0] not in cols:
        return ()
    return cols[len(FIXED_COLUMNS): cols.index(META_COLUMNS[0])]


def format_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def condense(paths: Sequence[str | Path], label_from_path: bool = False) -> Dataset:
    """One row per telemetry file (see the module docstring). Any bad file raises a one-line
    :class:`~paraphina.errors.UserError` naming it; a file given twice is refused."""
    names = [PurePath(p).as_posix() for p in paths]
    if not names:
        raise UserError("no telemetry files given")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UserError(f"{name}: given twice")
        seen.add(name)
    entries = []
    for name in sorted(names):
        labels = path_labels(name) if label_from_path else {}
        records = load_telemetry_jsonl(name)
        meta = {"schema_version": records[0].get("schema_version")}
        entries.append((name, labels, meta, compute_ts_metrics(records)))
    label_keys = sorted({k for _, labels, _, _ in entries for k in labels})
    reserved = set(FIXED_COLUMNS) | set(META_COLUMNS) | set(METRICS)
    clash = sorted(reserved.intersection(label_keys))
    if clash:
        raise UserError(f"path label {clash[0]!r} clashes with a dataset column of that name")
    columns = (*FIXED_COLUMNS, *label_keys, *META_COLUMNS, *METRICS)
    rows = []
    for name, labels, meta, metrics in entries:
        cells = {"file": name, "label": file_label(name), **labels, **meta, **metrics}
        rows.append(tuple(format_cell(cells.get(c)) for c in columns))
    return Dataset(columns=columns, rows=tuple(rows))


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text with LF line ends (csv's default is CRLF), minimal quoting, cells via :func:`format_cell`."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([v if isinstance(v, str) else format_cell(v) for v in row])
    return buf.getvalue()


def dataset_csv(ds: Dataset) -> str:
    return to_csv(ds.columns, ds.rows)


def read_dataset(path: str | Path) -> Dataset:
    """A CSV with a header row (any CSV, not only ours). Errors name the file (and line)."""
    table: list[tuple[int, list[str]]] = []  # (line number where the record ends, cells)
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, strict=True)
            table.extend((reader.line_num, row) for row in reader)
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    except csv.Error as exc:
        raise UserError(f"{path}: not CSV ({exc})") from None
    if not table or not table[0][1]:
        raise UserError(f"{path}: empty file (no header row)")
    columns = tuple(table[0][1])
    dup = sorted({c for c in columns if columns.count(c) > 1})
    if dup:
        raise UserError(f"{path}: column {dup[0]!r} appears twice in the header")
    rows = []
    for line_no, row in table[1:]:
        if not row:
            continue
        if len(row) != len(columns):
            raise UserError(f"{path}:{line_no}: {len(row)} cells, the header has {len(columns)}")
        rows.append(tuple(row))
    return Dataset(columns=columns, rows=tuple(rows))
