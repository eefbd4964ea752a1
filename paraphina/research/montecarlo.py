"""Monte Carlo driver: many seeded runs of one injected function, tail-risk summary, evidence.

The simulator plugs in exactly one function::

    run_fn(run_index: int, seed: int) -> dict

returning ``pnl`` (float, final total PnL in USD), ``max_drawdown`` (float >= 0, USD; may be
omitted when ``pnl_path`` is given), ``kill`` (bool), ``kill_reason`` (str or None), ``ticks``
(int, ticks executed), optionally ``pnl_path`` (sequence of floats, used only to compute
``max_drawdown`` and not stored) and any further JSON scalars (``kill_tick``, ``max_abs_delta_usd``
...), which are stored as they are. ``run_fn`` must be deterministic in its arguments and, for
``jobs > 1`` or Ray, picklable (a module-level function or a :func:`functools.partial` of one).

Seeds: run ``i`` of base seed ``S`` gets
``numpy.random.SeedSequence(S, spawn_key=(i,)).generate_state(1, numpy.uint64)[0]``, i.e. the
seed of child ``i`` of ``SeedSequence(S)``. It depends on (S, i) only, never on the run count,
shard, job count or backend, and nearby base seeds do not share runs (unlike ``S + i``).

Output directory::

    mc_config.json    what was asked (base seed, total runs, index range, seed rule)
    mc_runs.jsonl     one canonical JSON object per run, sorted by run_index (mc_runs v1 fields)
    mc_summary.json   moments, VaR/CVaR of PnL, drawdown distribution and CVaR, kill probability
    evidence_pack/    hashes of the above (paraphina.research.evidence)

Byte-identical ``mc_runs.jsonl`` whatever ``jobs`` and ``backend``: results are written as they
arrive (so an interrupted run resumes, skipping indices already present) and the file is
rewritten sorted at the end. ``start_index``/``count`` select a shard; :func:`merge_shards`
joins shards and rejects duplicates and gaps.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from paraphina.progress import Progress, progress_for
from paraphina.research import stats
from paraphina.research.evidence import canonical_json, versions, write_atomic, write_evidence_pack
from paraphina.research.provenance import claim
from paraphina.research.workers import BACKENDS, MCError, WorkerPool, ray_session  # noqa: F401 - re-exported

RunFn = Callable[[int, int], Mapping[str, Any]]

RUNS_FILE = "mc_runs.jsonl"
SUMMARY_FILE = "mc_summary.json"
CONFIG_FILE = "mc_config.json"
RUNS_SCHEMA = 1
SUMMARY_SCHEMA = 1
SEED_RULE = "numpy.random.SeedSequence(base_seed, spawn_key=(run_index,)).generate_state(1, numpy.uint64)[0]"
_RESERVED = {"schema_version", "run_index", "seed", "pnl_total", "max_drawdown", "kill_switch",
             "kill_reason", "ticks_executed"}


class MCResult(msgspec.Struct, frozen=True, kw_only=True):
    output_dir: str
    summary: dict
    runs_executed: int  # this call; 0 when everything was already there (resume)
    runs_skipped: int


def run_seed(base_seed: int, run_index: int) -> int:
    """The seed of run ``run_index`` (see the module docstring); an unsigned 64-bit integer."""
    if base_seed < 0 or run_index < 0:
        raise MCError(f"seeds and run indices must be >= 0 (got seed={base_seed}, run={run_index})")
    ss = np.random.SeedSequence(base_seed, spawn_key=(run_index,))
    return int(ss.generate_state(1, dtype=np.uint64)[0])


# --- one run's record -------------------------------------------------------------------------


def _number(v: Any) -> float | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    return None


def _scalar(v: Any) -> Any:
    """JSON scalar from a Python or numpy scalar; raises ValueError otherwise."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(float(v)):
            raise ValueError("non-finite")
        return float(v)
    raise ValueError(f"not a JSON scalar ({type(v).__name__})")


def make_record(run_index: int, seed: int, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``run_fn``'s result and turn it into an mc_runs v1 record."""
    where = f"run {run_index} (seed {seed})"
    if not isinstance(raw, Mapping):
        raise MCError(f"{where}: run_fn returned {type(raw).__name__}, expected a dict")
    pnl = _number(raw.get("pnl"))
    if pnl is None or not math.isfinite(pnl):
        raise MCError(f"{where}: field 'pnl' missing or not a finite number ({raw.get('pnl')!r})")
    if "max_drawdown" in raw:
        dd = _number(raw["max_drawdown"])
        if dd is None or not math.isfinite(dd) or dd < 0:
            raise MCError(f"{where}: field 'max_drawdown' must be a finite number >= 0 ({raw['max_drawdown']!r})")
    elif raw.get("pnl_path") is not None:
        try:
            dd = stats.max_drawdown([float(v) for v in raw["pnl_path"]])
        except (TypeError, ValueError):
            raise MCError(f"{where}: field 'pnl_path' must be a sequence of finite numbers") from None
    else:
        raise MCError(f"{where}: field 'max_drawdown' missing (and no 'pnl_path' to compute it from)")
    kill = raw.get("kill")
    if not isinstance(kill, (bool, np.bool_)):
        raise MCError(f"{where}: field 'kill' missing or not a bool ({kill!r})")
    reason = raw.get("kill_reason")
    if reason is not None and not isinstance(reason, str):
        raise MCError(f"{where}: field 'kill_reason' must be a string or None ({reason!r})")
    ticks = raw.get("ticks")
    if isinstance(ticks, (bool, np.bool_)) or not isinstance(ticks, (int, np.integer)) or ticks < 0:
        raise MCError(f"{where}: field 'ticks' missing or not an integer >= 0 ({ticks!r})")
    rec: dict[str, Any] = {
        "schema_version": RUNS_SCHEMA,
        "run_index": run_index,
        "seed": seed,
        "pnl_total": pnl,
        "max_drawdown": dd,
        "kill_switch": bool(kill),
        "kill_reason": reason if bool(kill) else None,
        "ticks_executed": int(ticks),
    }
    for key in sorted(raw):
        if key in ("pnl", "max_drawdown", "kill", "kill_reason", "ticks", "pnl_path"):
            continue
        if key in _RESERVED:
            raise MCError(f"{where}: field {key!r} is reserved for the record itself")
        try:
            rec[key] = _scalar(raw[key])
        except ValueError as exc:
            raise MCError(f"{where}: extra field {key!r}: {exc}") from None
    return rec


def record_line(rec: Mapping[str, Any]) -> str:
    return canonical_json(rec, indent=None) + "\n"


# --- reading runs back --------------------------------------------------------------------------


def load_runs(path: Path, base_seed: int, lo: int, hi: int) -> dict[int, dict[str, Any]]:
    """Records of ``path`` by run index; a torn last line (no newline) is dropped, anything else
    wrong is an error naming the line."""
    if not path.exists():
        return {}
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] != b"":
        lines = lines[:-1]  # torn tail from an interrupted write: that run is simply redone
    out: dict[int, dict[str, Any]] = {}
    for lineno, raw in enumerate(lines, 1):
        if raw == b"":
            continue
        try:
            rec = json.loads(raw)
            idx = rec["run_index"]
            seed = rec["seed"]
        except (ValueError, KeyError, TypeError):
            raise MCError(f"{path} line {lineno}: not an mc_runs record") from None
        if not isinstance(idx, int) or not lo <= idx < hi:
            raise MCError(f"{path} line {lineno}: run_index {idx!r} outside this directory's range [{lo}, {hi})")
        if seed != run_seed(base_seed, idx):
            raise MCError(f"{path} line {lineno}: seed {seed} is not the seed of run {idx} under base seed {base_seed}")
        if idx in out and out[idx] != rec:
            raise MCError(f"{path} line {lineno}: run {idx} appears twice with different results")
        out[idx] = rec
    return out


# --- execution -----------------------------------------------------------------------------------


def execute_tasks(run_fn: RunFn, tasks: list[tuple[int, int]], *, jobs: int = 1, backend: str = "local",
                  ray_address: str | None = None, emit: Callable, chunk: int | None = None,
                  pool: WorkerPool | None = None) -> None:
    """Run ``run_fn(index, seed)`` for every ``(index, seed)`` of ``tasks`` on ``backend``
    (``local``: inline for one job, else a process pool; ``ray``) and hand each result to
    ``emit(index, seed, result)`` as it arrives. The one executor of every research driver (the
    Monte Carlo here, the adversarial search). Runs go to the workers in chunks (``chunk`` runs
    per task, default :func:`paraphina.research.workers.chunk_size`); ``pool``, an open
    :class:`~paraphina.research.workers.WorkerPool`, is used instead of one of this call's own
    (so workers outlive it: Phase A keeps one for a study)."""
    if pool is not None:
        pool.run(run_fn, tasks, emit, chunk)
        return
    own = WorkerPool(jobs, backend, ray_address)  # checks jobs and backend even with nothing to run
    if tasks:
        with own:
            own.run(run_fn, tasks, emit, chunk)


# --- summary ------------------------------------------------------------------------------------


def summarise(records: Sequence[Mapping[str, Any]], *, base_seed: int, runs: int, start: int, end: int,
              level: float = stats.DEFAULT_LEVEL, alpha: float = stats.DEFAULT_ALPHA) -> dict[str, Any]:
    """The mc_summary.json object for ``records`` (sorted by run index)."""
    if not records:
        raise MCError("no runs to summarise")
    pnl = [r["pnl_total"] for r in records]
    dd = [r["max_drawdown"] for r in records]
    n = len(records)
    kills = sum(1 for r in records if r["kill_switch"])
    reasons: dict[str, int] = {}
    for r in records:
        if r["kill_switch"]:
            key = r["kill_reason"] or "unknown"
            reasons[key] = reasons.get(key, 0) + 1
    pm, dm = stats.describe(pnl), stats.describe(dd)
    ptail, dtail = stats.pnl_tail_risk(pnl, level), stats.drawdown_tail_risk(dd, level)
    lo, hi = stats.wilson_interval(kills, n, 1.0 - alpha)
    ticks = [r["ticks_executed"] for r in records]

    def dist(m: stats.Moments, x: list[float]) -> dict[str, float]:
        return {"mean": m.mean, "std": m.std, "std_pop": m.std_pop, "min": m.min, "max": m.max,
                "p01": stats.quantile(x, 0.01), "p05": stats.quantile(x, 0.05), "p50": stats.quantile(x, 0.50),
                "p95": stats.quantile(x, 0.95), "p99": stats.quantile(x, 0.99)}

    return {
        "schema_version": SUMMARY_SCHEMA,
        "base_seed": base_seed,
        "runs_total": runs,
        "run_index_start": start,
        "run_index_end": end,
        "runs": n,
        "complete": start == 0 and end == runs and n == runs,
        "level": level,
        "alpha": alpha,
        "pnl": {**dist(pm, pnl), "var": ptail.var, "cvar": ptail.cvar,
                "lcb": stats.normal_lcb(pm.mean, pm.std, n, alpha)},
        "max_drawdown": {**dist(dm, dd), "var": dtail.var, "cvar": dtail.cvar},
        "kill": {"count": kills, "runs": n, "probability": kills / n, "ci_level": 1.0 - alpha,
                 "ci_lower": lo, "ci_upper": hi, "ucb_alpha": alpha, "ucb": stats.wilson_ucb(kills, n, alpha),
                 "reasons": reasons},
        "ticks": {"mean": math.fsum(ticks) / n, "min": min(ticks), "max": max(ticks)},
        "conventions": {
            "var_cvar": "losses (pnl: -pnl_total; drawdown: max_drawdown); VaR = inverse empirical CDF at level; "
                        "CVaR = mean of the worst 1-level of mass (Acerbi-Tasche)",
            "quantiles": "p01..p99: linear interpolation at p(n-1)",
            "std": "std = sample (n-1), std_pop = population (n)",
            "kill": "ci = two-sided Wilson at 1-alpha; ucb = one-sided Wilson upper bound at 1-alpha",
            "pnl_lcb": "mean - Phi^-1(1-alpha) * std / sqrt(n)",
            "seeds": SEED_RULE,
        },
    }


# --- the driver ---------------------------------------------------------------------------------


def _check_config(out: Path, want: dict[str, Any], force: bool) -> None:
    claim(out, CONFIG_FILE, want, force=force, what="a Monte Carlo",
          hint="use another -o/--out, or --force to start over", error=MCError)


def _finish(out: Path, records: dict[int, dict[str, Any]], cfg: dict[str, Any], level: float, alpha: float,
            manifest_extra: Mapping[str, Any] | None, evidence: bool) -> dict[str, Any]:
    ordered = [records[i] for i in sorted(records)]
    write_atomic(out / RUNS_FILE, "".join(record_line(r) for r in ordered))
    start, count = cfg["start_index"], cfg["count"]
    summary = summarise(ordered, base_seed=cfg["base_seed"], runs=cfg["runs"], start=start, end=start + count,
                        level=level, alpha=alpha)
    write_atomic(out / SUMMARY_FILE, canonical_json(summary))
    if evidence:
        extra = dict(manifest_extra or {})
        extra.setdefault("seeds", {"base_seed": cfg["base_seed"], "rule": SEED_RULE,
                                   "run_index_start": start, "run_index_end": start + count})
        write_evidence_pack(out, extra)
    return summary


def run_mc(run_fn: RunFn, runs: int, seed: int, jobs: int = 1, backend: str = "local",
           output_dir: str | Path = "runs/mc", start_index: int = 0, count: int | None = None, *,
           ray_address: str | None = None, level: float = stats.DEFAULT_LEVEL, alpha: float = stats.DEFAULT_ALPHA,
           progress: Progress | bool | None = None, manifest_extra: Mapping[str, Any] | None = None,
           evidence: bool = True, config_extra: Mapping[str, Any] | None = None, force: bool = False,
           chunk: int | None = None, pool: WorkerPool | None = None) -> MCResult:
    """Run indices ``[start_index, start_index + count)`` of a ``runs``-run Monte Carlo.

    Already present indices are skipped (resume). ``mc_config.json`` records everything that
    determines the runs' bytes (seeds, range, level, package versions and ``config_extra``:
    scenario and its hash, ticks, policy, profile, resolved config hash ...); a resume whose
    record differs is refused naming the first difference, before anything is touched, and
    ``force`` starts over. ``manifest_extra`` goes to the evidence manifest (commands).
    ``progress``: False silences it, a :class:`~paraphina.progress.Progress` is shared (and
    left open), anything else shows this call's own (paraphina.progress).

    Runs go to the workers in chunks (``chunk`` runs per task, default
    :func:`paraphina.research.workers.chunk_size`); ``pool`` is an open
    :class:`~paraphina.research.workers.WorkerPool` to use instead of one of this call's own
    (``jobs``, ``backend`` and ``ray_address`` then only describe it). Neither changes a byte.
    """
    if runs < 1:
        raise MCError(f"--runs must be >= 1 (got {runs})")
    if seed < 0:
        raise MCError(f"--seed must be >= 0 (got {seed})")
    if jobs < 1:
        raise MCError(f"--jobs must be >= 1 (got {jobs})")
    if backend not in BACKENDS:
        raise MCError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    count = runs - start_index if count is None else count
    if start_index < 0 or count < 1 or start_index + count > runs:
        raise MCError(f"run range [{start_index}, {start_index + count}) is not inside [0, {runs})")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {"schema_version": 1, "base_seed": seed, "runs": runs, "start_index": start_index, "count": count,
           "seed_rule": SEED_RULE, "level": level, "alpha": alpha, "versions": versions(),
           **dict(config_extra or {})}
    _check_config(out, cfg, force)
    lo, hi = start_index, start_index + count
    records = load_runs(out / RUNS_FILE, seed, lo, hi)
    tasks = [(i, run_seed(seed, i)) for i in range(lo, hi) if i not in records]
    bar = progress_for("mc", len(tasks), "runs", progress)
    owned = bar is not progress
    if (out / RUNS_FILE).exists():
        # Rewrite what is kept (drops a torn tail) so appended lines start on a fresh line.
        write_atomic(out / RUNS_FILE, "".join(record_line(records[i]) for i in sorted(records)))
    with open(out / RUNS_FILE, "ab") as sink:

        def emit(idx: int, s: int, raw: Any) -> None:
            rec = make_record(idx, s, raw)
            records[idx] = rec
            sink.write(record_line(rec).encode("utf-8"))
            sink.flush()
            bar.update()

        try:
            execute_tasks(run_fn, tasks, jobs=jobs, backend=backend, ray_address=ray_address, emit=emit,
                          chunk=chunk, pool=pool)
        finally:
            if owned:
                bar.close()
    summary = _finish(out, records, cfg, level, alpha, manifest_extra, evidence)
    return MCResult(output_dir=str(out), summary=summary, runs_executed=len(tasks),
                    runs_skipped=count - len(tasks))


def merge_shards(dirs: Iterable[str | Path], out: str | Path, *, manifest_extra: Mapping[str, Any] | None = None,
                 evidence: bool = True) -> dict[str, Any]:
    """Join shard directories into one complete Monte Carlo at ``out``; returns its summary.

    Every shard must come from the same base seed and total run count; together they must hold
    each run index exactly once. The merged directory is byte-identical to an unsharded run.
    """
    dirs = [Path(d) for d in dirs]
    if not dirs:
        raise MCError("mc-merge: no shard directories given")
    out = Path(out)
    if out.resolve() in {d.resolve() for d in dirs}:
        raise MCError(f"{out}: the merge output must not be one of the shards")
    if (out / RUNS_FILE).exists():
        raise MCError(f"{out / RUNS_FILE}: already exists; merge into an empty directory")
    first: dict[str, Any] | None = None
    owner: dict[int, Path] = {}
    records: dict[int, dict[str, Any]] = {}
    for d in dirs:
        path = d / CONFIG_FILE
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
            base, runs, start, count = cfg["base_seed"], cfg["runs"], cfg["start_index"], cfg["count"]
        except FileNotFoundError:
            raise MCError(f"{path}: missing (not a Monte Carlo output directory)") from None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise MCError(f"{path}: not a valid mc_config.json") from None
        if first is None:
            first = cfg
        else:
            for k in ("base_seed", "runs", "seed_rule", "level", "alpha"):
                if cfg.get(k) != first.get(k):
                    raise MCError(f"{path}: {k} {cfg.get(k)!r} differs from {dirs[0] / CONFIG_FILE} ({first.get(k)!r})")
            extra_keys = (set(cfg) | set(first)) - {"start_index", "count"}
            for k in sorted(extra_keys):
                if cfg.get(k) != first.get(k):
                    raise MCError(f"{path}: {k} {cfg.get(k)!r} differs from {dirs[0] / CONFIG_FILE} ({first.get(k)!r})")
        for idx, rec in load_runs(d / RUNS_FILE, base, start, start + count).items():
            if idx in owner:
                raise MCError(f"duplicate run index {idx}: in {owner[idx]} and {d}")
            owner[idx] = d
            records[idx] = rec
    assert first is not None
    runs = first["runs"]
    missing = [i for i in range(runs) if i not in records]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise MCError(f"gap: {len(missing)} of {runs} run indices missing from the shards ({shown})")
    cfg = {**first, "start_index": 0, "count": runs}
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / CONFIG_FILE, canonical_json(cfg))
    return _finish(out, records, cfg, first["level"], first["alpha"], manifest_extra, evidence)


def format_summary(summary: Mapping[str, Any]) -> list[str]:
    """The human SUMMARY block printed by the mc commands."""
    p, d, k = summary["pnl"], summary["max_drawdown"], summary["kill"]
    lvl = f"{summary['level'] * 100:g}"
    ci = f"{k['ci_level'] * 100:g}"
    return [
        "SUMMARY",
        f"  runs: {summary['runs']} (indices {summary['run_index_start']}..{summary['run_index_end'] - 1}"
        f" of {summary['runs_total']}, {'complete' if summary['complete'] else 'partial'})",
        f"  pnl: mean={p['mean']:.4f} std={p['std']:.4f} p05={p['p05']:.4f} p50={p['p50']:.4f} p95={p['p95']:.4f}",
        f"  pnl loss: VaR{lvl}={p['var']:.4f} CVaR{lvl}={p['cvar']:.4f} lcb={p['lcb']:.4f}",
        f"  max_drawdown: mean={d['mean']:.4f} p95={d['p95']:.4f} VaR{lvl}={d['var']:.4f} CVaR{lvl}={d['cvar']:.4f}",
        f"  kill: {k['count']}/{k['runs']} p={k['probability']:.4f} wilson{ci}=[{k['ci_lower']:.4f}, {k['ci_upper']:.4f}]"
        f" ucb={k['ucb']:.4f}",
    ]
