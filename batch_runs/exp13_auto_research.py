"""Experiment 13: the auto research harness, one command for the "is everything still safe?" loop.

For each profile (default conservative, balanced, aggressive) it simulates ``--runs-per-profile``
runs (default 2) of ``--ticks`` (default 2000) on ``--scenario`` with telemetry to
``<out>/<profile>_r<idx>.jsonl`` (run ``idx`` uses seed ``run_seed(--seed, idx)``, the same for
every profile), condenses each file (``paraphina.research.ts_metrics``, what ``paraphina telemetry
condense`` computes) into one row labelled ``<label-prefix>_<profile>_rNNN`` and appends it to the
versioned research dataset ``--dataset`` (default ``runs/research_dataset_v004.jsonl``: one JSON
object per run, schema ``paraphina-research-dataset-v1``). A label already in the dataset with the
same content is kept as it is (rerunning is harmless); with other content it is refused (a dataset
never changes under a label). Then it summarises the whole dataset (global, per profile, the top
runs by utility), runs exp11 on it and prints one end-to-end report.

Writes under ``runs/exp13_auto/``: the telemetry files, ``exp13_runs.csv`` (this invocation's
rows), ``exp13_summary_global.csv``, ``exp13_summary_by_profile.csv`` (``paraphina telemetry
summarise``'s long table), ``exp13_top_runs.csv`` and ``exp11_research_alignment/exp11_alignment.csv``:
these follow the dataset and are rewritten on every invocation, with ``exp13_dataset.json`` naming
the dataset, its SHA-256 and row count they were computed from.

Usage: ``python -m batch_runs.exp13_auto_research [--smoke] [-o runs/exp13_auto]
[--profile P]... [--runs-per-profile 2] [--ticks 2000] [--seed 0] [--scenario F]
[--dataset runs/research_dataset_v004.jsonl] [--label-prefix exp13] [--top 10]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from batch_runs import exp11_research_alignment, expkit
from paraphina.errors import UserError
from paraphina.research.dataset_summary import summarise, summary_csv
from paraphina.research.evidence import canonical_json, write_atomic
from paraphina.research.telemetry_dataset import Dataset, format_cell
from paraphina.research.ts_metrics import METRICS, compute_ts_metrics, load_telemetry_jsonl

EXPERIMENT = "exp13_auto"
DATASET_SCHEMA = "paraphina-research-dataset-v1"
DEFAULT_DATASET = exp11_research_alignment.DEFAULT_DATASET
RUNS_CSV = "exp13_runs.csv"
SUMMARY_GLOBAL_CSV = "exp13_summary_global.csv"
SUMMARY_PROFILE_CSV = "exp13_summary_by_profile.csv"
TOP_RUNS_CSV = "exp13_top_runs.csv"
DATASET_RECORD = "exp13_dataset.json"
SIM_EXTRAS = ("fills", "fees_usd", "funding_usd")


def parser():
    ap = expkit.common_parser(EXPERIMENT, __doc__, ticks=2000, smoke_ticks=80)
    ap.add_argument("--profile", dest="profiles", action="append", default=None, choices=expkit.PROFILES)
    ap.add_argument("--runs-per-profile", type=int, default=2)
    ap.add_argument("--scenario", default=expkit.DEFAULT_SCENARIO)
    ap.add_argument("--dataset", default=DEFAULT_DATASET)
    ap.add_argument("--label-prefix", default="exp13")
    ap.add_argument("--top", type=int, default=10, help="top runs by utility in the summary")
    return ap


def dataset_row(row: dict, telemetry: Path, label: str, ticks: int, scenario: str) -> dict:
    metrics = compute_ts_metrics(load_telemetry_jsonl(telemetry))
    return expkit.json_safe({
        "schema": DATASET_SCHEMA, "label": label, "profile": row["profile"], "run_index": row["run_index"],
        "seed": row["seed"], "ticks": ticks, "scenario": scenario, "scenario_sha256": expkit.file_hash(scenario),
        "config_hash": row["config_hash"], "telemetry": telemetry.name, "telemetry_sha256": expkit.file_hash(telemetry),
        "action_stream_sha256": row["action_stream_sha256"], **{k: metrics[k] for k in METRICS},
        **{k: row[k] for k in SIM_EXTRAS}})


def append_rows(dataset: Path, new: list[dict]) -> tuple[list[dict], int]:
    """(every row of the dataset after appending ``new``, how many were added). Existing rows stay
    first and in order; a label already present must carry the same content."""
    have = exp11_research_alignment.load_rows(dataset) if dataset.exists() else []
    by_label = {r.get("label"): r for r in have}
    added = 0
    for r in new:
        old = by_label.get(r["label"])
        if old is None:
            have.append(r)
            by_label[r["label"]] = r
            added += 1
        elif json.loads(canonical_json(old)) != json.loads(canonical_json(r)):
            raise UserError(f"{dataset}: label {r['label']} is already there with other content; "
                            f"use another --label-prefix or --dataset")
    if added:
        write_atomic(dataset, "".join(canonical_json(r, indent=None) + "\n" for r in have))
    return have, added


def as_dataset(rows: list[dict]) -> Dataset:
    columns = ("label", "profile", *METRICS)
    return Dataset(columns=columns, rows=tuple(tuple(format_cell(r.get(c)) for c in columns) for r in rows))


def run(out: str | Path, *, ticks: int, runs_per_profile: int = 2, profiles=expkit.PROFILES,
        scenario: str = expkit.DEFAULT_SCENARIO, dataset: str = DEFAULT_DATASET, label_prefix: str = "exp13",
        seed: int = 0, top: int = 10, budgets: str = str(expkit.DEFAULT_BUDGETS), jobs: int = 1, quiet: bool = False,
        force: bool = False, report: bool | None = None) -> list[Path]:
    """``quiet``: no progress and no report; ``report`` (default: not quiet) prints the report."""
    report = not quiet if report is None else report
    if runs_per_profile < 1:
        raise UserError(f"--runs-per-profile must be >= 1 (got {runs_per_profile})")
    inputs = {"ticks": ticks, "runs_per_profile": runs_per_profile, "profiles": list(profiles),
              "scenarios": expkit.scenario_inputs(scenario), "seed": seed}
    outdir = expkit.open_output(out, EXPERIMENT, inputs, force=force)
    cells = [expkit.Cell(label={"profile": p, "run_index": i}, env={"PARAPHINA_RISK_PROFILE": p}, seed=s,
                         scenario=scenario, telemetry_path=str(outdir / f"{p}_r{i}.jsonl"))
             for p in profiles for i, s in enumerate(expkit.seeds(seed, runs_per_profile))]
    rows = expkit.run_cells(cells, ticks, label="exp13", jobs=jobs, quiet=quiet)
    new = [dataset_row(r, Path(c.telemetry_path), f"{label_prefix}_{r['profile']}_r{r['run_index']:03d}", ticks, scenario)
           for r, c in zip(rows, cells)]
    ds_path = Path(dataset)
    all_rows, added = append_rows(ds_path, new)
    # What the summaries below were computed from (they follow the dataset, which grows).
    dataset_record = outdir / DATASET_RECORD
    write_atomic(dataset_record, canonical_json({"dataset": ds_path.as_posix(), "sha256": expkit.file_hash(ds_path),
                                                 "rows": len(all_rows), "added": added}))
    table = as_dataset(all_rows)
    global_csv = outdir / SUMMARY_GLOBAL_CSV
    write_atomic(global_csv, summary_csv(summarise(table)))
    profile_csv = outdir / SUMMARY_PROFILE_CSV
    write_atomic(profile_csv, summary_csv(summarise(table, ["profile"])))
    ranked = sorted(all_rows, key=lambda r: (-expkit.run_utility(r["pnl_total_end"], r["max_drawdown"],
                                                                 float(bool(r["kill_switch"]))), r["label"]))
    top_rows = [{"rank": i, "label": r["label"], "profile": r["profile"],
                 "utility": expkit.run_utility(r["pnl_total_end"], r["max_drawdown"], float(bool(r["kill_switch"]))),
                 "pnl_total_end": r["pnl_total_end"], "max_drawdown": r["max_drawdown"], "kill_switch": r["kill_switch"]}
                for i, r in enumerate(ranked[:max(top, 1)])]
    written = [expkit.write_rows(outdir, RUNS_CSV, rows), dataset_record, global_csv, profile_csv,
               expkit.write_rows(outdir, TOP_RUNS_CSV, top_rows)]
    if report:
        print(f"exp13: {len(rows)} runs ({', '.join(profiles)} x {runs_per_profile}, {ticks} ticks); "
              f"dataset {ds_path}: {added} rows added, {len(all_rows)} in all")
        best = top_rows[0]
        print(f"exp13: best run {best['label']} utility={best['utility']:.2f} pnl={best['pnl_total_end']:.2f} "
              f"maxDD={best['max_drawdown']:.2f}")
    # exp11 on the whole dataset: derived from it, so rewritten every time (force).
    written += exp11_research_alignment.run(outdir / exp11_research_alignment.EXPERIMENT, dataset=str(ds_path),
                                            budgets=budgets, quiet=not report, force=True)
    return written


def main(argv: list[str] | None = None) -> int:
    args = expkit.resolve_smoke(parser().parse_args(argv))
    return expkit.finish(run(args.out, ticks=args.ticks, runs_per_profile=args.runs_per_profile,
                             profiles=tuple(args.profiles or expkit.PROFILES), scenario=args.scenario,
                             dataset=args.dataset, label_prefix=args.label_prefix, seed=args.seed, top=args.top,
                             budgets=args.budgets, jobs=args.jobs, quiet=args.quiet, force=args.force))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(expkit.main_guard(main))
