"""Experiment 08: validate exp07's presets by simulation on seeds the design never saw.

Reads ``exp07_presets.csv`` (``--presets``, default ``runs/exp07_presets/exp07_presets.csv``), and
runs each tier's preset (its ``PARAPHINA_*`` columns) ``--runs`` times from base seed ``--seed``
(default 1000: not exp07's seeds), on ``--scenario`` (default ``scenarios/synth_baseline.yaml``,
exp07's default; pass another to validate out of sample). Each tier's validation metrics are checked against its budget.

Writes under ``runs/exp08_profile_validation/``: ``exp08_profile_runs.csv`` and
``exp08_profile_summary.csv`` (one row per tier: candidate, knobs, validation metrics, ``pnl_ok,
dd_ok, kill_ok, all_ok`` and margins). exp10 compares it with exp07.

Usage: ``python -m batch_runs.exp08_profile_validation [--smoke] [-o DIR] [--presets F] [--runs 50]
[--ticks 600] [--scenario F] [--seed 1000]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from batch_runs import expkit
from paraphina.errors import UserError

EXPERIMENT = "exp08_profile_validation"
RUNS_CSV = "exp08_profile_runs.csv"
SUMMARY_CSV = "exp08_profile_summary.csv"
DEFAULT_PRESETS = "runs/exp07_presets/exp07_presets.csv"
VALIDATION_SEED = 1000


def parser():
    ap = expkit.common_parser(EXPERIMENT, __doc__, ticks=600)
    ap.set_defaults(seed=VALIDATION_SEED)
    ap.add_argument("--presets", default=DEFAULT_PRESETS, help=f"exp07's presets (default {DEFAULT_PRESETS})")
    ap.add_argument("--runs", type=int, default=None, help="runs per preset (default 50, smoke 3)")
    ap.add_argument("--scenario", default=expkit.DEFAULT_SCENARIO)
    return ap


def preset_env(row: dict[str, str], where: str) -> dict[str, str]:
    env = {k: v for k, v in row.items() if k.startswith("PARAPHINA_") and v != ""}
    if "PARAPHINA_RISK_PROFILE" not in env:
        raise UserError(f"{where}: tier {row.get('tier')!r}: no PARAPHINA_RISK_PROFILE column value")
    return env


def run(out: str | Path, *, presets: str, ticks: int, runs: int, scenario: str = expkit.DEFAULT_SCENARIO,
        seed: int = VALIDATION_SEED, budgets: str = str(expkit.DEFAULT_BUDGETS), jobs: int = 1,
        quiet: bool = False, force: bool = False) -> list[Path]:
    alpha, tiers = expkit.risk_tiers(budgets)
    src = expkit.input_file(presets, "exp07's presets")
    preset_rows = expkit.read_csv_rows(src)
    if not preset_rows or "tier" not in preset_rows[0]:
        raise UserError(f"{src}: not an exp07_presets.csv (no tier column or no rows)")
    inputs = {"presets": {str(src): expkit.file_hash(src)}, "ticks": ticks, "runs": runs,
              "budgets": expkit.file_hash(budgets), "scenarios": expkit.scenario_inputs(scenario), "seed": seed}
    outdir = expkit.open_output(out, EXPERIMENT, inputs, force=force)
    run_seeds = expkit.seeds(seed, runs)
    envs = {r["tier"]: preset_env(r, str(src)) for r in preset_rows}
    # A candidate chosen for several tiers is simulated once.
    unique = {r["candidate_id"]: envs[r["tier"]] for r in preset_rows}
    cells = [expkit.Cell(label={"candidate_id": cid, "run_index": i}, env=env, seed=s, scenario=scenario)
             for cid, env in unique.items() for i, s in enumerate(run_seeds)]
    rows = expkit.run_cells(cells, ticks, label="exp08", jobs=jobs, quiet=quiet)
    by_candidate = {s["candidate_id"]: s for s in expkit.summarise(rows, ("candidate_id",), alpha)}
    summary = []
    for r in preset_rows:
        budget = tiers.get(r["tier"])
        if budget is None:
            raise UserError(f"{src}: tier {r['tier']!r} is not in {budgets}")
        s = by_candidate[r["candidate_id"]]
        summary.append({"tier": r["tier"], "candidate_id": r["candidate_id"], **envs[r["tier"]],
                        **{k: s[k] for k in expkit.SUMMARY_COLUMNS}, **expkit.budget_check(s, budget)})
    if not quiet:
        for s in summary:
            print(f"exp08: tier {s['tier']}: {s['candidate_id']} all_ok={str(s['all_ok']).lower()} "
                  f"pnl_lcb={s['pnl_lcb']:.2f} dd_cvar={s['dd_cvar']:.2f} kill_ucb={s['kill_ucb']:.3f}")
    return [expkit.write_rows(outdir, RUNS_CSV, rows), expkit.write_rows(outdir, SUMMARY_CSV, summary)]


def main(argv: list[str] | None = None) -> int:
    args = expkit.resolve_smoke(parser().parse_args(argv))
    return expkit.finish(run(args.out, presets=args.presets, ticks=args.ticks, runs=args.runs or (3 if args.smoke else 50),
                             scenario=args.scenario, seed=args.seed, budgets=args.budgets, jobs=args.jobs,
                             quiet=args.quiet, force=args.force))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(expkit.main_guard(main))
