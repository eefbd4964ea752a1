"""Run the engine's command line many times with different env knobs and collect parsed metrics.

An experiment builds a list of :class:`EngineRunConfig` (argv, env overlay, labels), hands it to
:func:`run_many` with a stdout parser (``batch_runs.metrics.parse_daily_summary`` for
``paraphina run``), turns the results into rows with :func:`results_to_dataframe` and writes CSV
with :func:`write_csv`; :func:`summarise_runs` aggregates rows per group.

Differences from the reference (docs/drift-register.md): configs are frozen (missing run ids are
filled on copies, not by mutation); a timeout is recorded in the result (``metrics =
{"timeout": True}``, ``returncode = -1``) by :func:`run_engine` itself, never raised; runs go
through a small pool of supervisor threads (each run already is its own process; a thread only
waits for it), and results come back in input order; rows are plain dicts (no pandas).
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ParseMetrics = Callable[[str], Mapping[str, Any]]


@dataclass(frozen=True)
class EngineRunConfig:
    """One engine run: exact argv, env overlay (values str()-ed over a copy of os.environ),
    labels (JSON scalars, they become CSV columns), run id, working directory (None = cwd)."""

    cmd: Sequence[str]
    env: Mapping[str, Any] = field(default_factory=dict)
    label: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    workdir: str | None = None


@dataclass(frozen=True)
class RunResult:
    run_id: str
    label: Mapping[str, Any]
    metrics: Mapping[str, Any]
    duration_sec: float  # wall time (analytics only)
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


def run_engine(cfg: EngineRunConfig, parse_metrics: ParseMetrics, timeout_sec: float | None = None) -> RunResult:
    """Run one config. stdout is parsed even when the return code is non-zero; a parser exception
    becomes ``{"metrics_parse_error": "..."}``; a timeout becomes ``{"timeout": True}`` with
    return code -1 and whatever output was captured."""
    env = dict(os.environ)
    env.update({str(k): str(v) for k, v in cfg.env.items()})
    t0 = time.monotonic()
    try:
        proc = subprocess.run(list(cfg.cmd), env=env, cwd=cfg.workdir, capture_output=True, text=True,
                              timeout=timeout_sec)
    except subprocess.TimeoutExpired as exc:
        return RunResult(run_id=cfg.run_id or "", label=dict(cfg.label), metrics={"timeout": True},
                         duration_sec=float(timeout_sec) if timeout_sec is not None else math.nan,
                         returncode=-1, stdout=_text(exc.stdout), stderr=_text(exc.stderr) or str(exc),
                         timed_out=True)
    except OSError as exc:
        # The command could not start (missing binary, bad cwd): a failed run, not a crash of the batch.
        return RunResult(run_id=cfg.run_id or "", label=dict(cfg.label), metrics={"launch_error": str(exc)},
                         duration_sec=time.monotonic() - t0, returncode=-1, stdout="", stderr=str(exc))
    duration = time.monotonic() - t0
    try:
        metrics = dict(parse_metrics(proc.stdout))
    except Exception as exc:  # noqa: BLE001 - recorded per run, the batch goes on
        metrics = {"metrics_parse_error": str(exc)}
    return RunResult(run_id=cfg.run_id or "", label=dict(cfg.label), metrics=metrics, duration_sec=duration,
                     returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)


def _text(v: bytes | str | None) -> str:
    if v is None:
        return ""
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def run_many(configs: Iterable[EngineRunConfig], parse_metrics: ParseMetrics, timeout_sec: float | None = None,
             jobs: int = 1, verbose: bool = False) -> list[RunResult]:
    """Run every config (``jobs`` at a time); results in input order. Missing run ids become
    ``run_{index}``. With ``verbose``, one ``[orchestrator]`` line per finished run on stderr."""
    cfgs = [c if c.run_id is not None else replace(c, run_id=f"run_{i}") for i, c in enumerate(configs)]
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1 (got {jobs})")

    def one(i: int) -> RunResult:
        res = run_engine(cfgs[i], parse_metrics, timeout_sec)
        if verbose:
            status = "timeout" if res.timed_out else f"rc={res.returncode}"
            print(f"[orchestrator] {i + 1}/{len(cfgs)} {res.run_id} {status} {res.duration_sec:.2f}s",
                  file=sys.stderr, flush=True)
        return res

    if jobs == 1:
        return [one(i) for i in range(len(cfgs))]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, range(len(cfgs))))


def results_to_dataframe(results: Iterable[RunResult]) -> list[dict[str, Any]]:
    """One row per run: ``run_id, duration_sec, returncode``, then labels, then metrics (metrics
    win on a name collision). stdout/stderr are dropped. Plain dicts, in result order."""
    rows = []
    for r in results:
        row: dict[str, Any] = {"run_id": r.run_id, "duration_sec": r.duration_sec, "returncode": r.returncode}
        row.update(r.label)
        row.update(r.metrics)
        rows.append(row)
    return rows


def columns_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Union of keys in first-seen order."""
    cols: dict[str, None] = {}
    for row in rows:
        for k in row:
            cols.setdefault(k, None)
    return list(cols)


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | Path, columns: Sequence[str] | None = None) -> Path:
    """Write rows as CSV (missing cells empty, floats with repr precision, NaN as ``nan``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = list(columns) if columns is not None else columns_of(rows)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(cols)
        for row in rows:
            w.writerow([_cell(row.get(c)) for c in cols])
    return path


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _as_float(v: Any) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    return math.nan


def summarise_runs(rows: Sequence[Mapping[str, Any]], group_keys: Sequence[str],
                   numeric_metrics: Sequence[str] | None = None,
                   kill_switch_col: str = "kill_switch") -> list[dict[str, Any]]:
    """Aggregate rows per group (groups in first-seen order): ``<m>_mean`` and ``<m>_std`` (sample;
    NaN values ignored, NaN when fewer than 2), ``kill_switch_frac`` when the column exists,
    ``num_runs``. Default metrics: every numeric non-key column except run bookkeeping."""
    if numeric_metrics is None:
        skip = set(group_keys) | {"run_id", "duration_sec", "returncode", kill_switch_col}
        numeric_metrics = [c for c in columns_of(rows) if c not in skip
                           and any(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool) for r in rows)]
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k) for k in group_keys), []).append(r)
    has_kill = any(kill_switch_col in r for r in rows)
    out = []
    for key, members in groups.items():
        agg: dict[str, Any] = dict(zip(group_keys, key))
        for m in numeric_metrics:
            vals = [v for v in (_as_float(r.get(m)) for r in members) if not math.isnan(v)]
            mean = math.fsum(vals) / len(vals) if vals else math.nan
            agg[f"{m}_mean"] = mean
            agg[f"{m}_std"] = (math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
                               if len(vals) > 1 else math.nan)
        if has_kill:
            agg["kill_switch_frac"] = math.fsum(1.0 if r.get(kill_switch_col) else 0.0 for r in members) / len(members)
        agg["num_runs"] = len(members)
        out.append(agg)
    return out
