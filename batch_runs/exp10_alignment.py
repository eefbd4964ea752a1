"""Experiment 10: world-model alignment of the tiered presets (design vs validation vs budget).

Reads exp07's ``exp07_presets.csv`` (design metrics: the seeds the preset was chosen on) and
exp08's ``exp08_profile_summary.csv`` (validation metrics: fresh seeds), and per tier checks both
against the tier's budget. Writes ``exp10_alignment.csv`` with, per tier: ``design_pnl_ok,
design_dd_ok, design_kill_ok``, ``val_pnl_ok, val_dd_ok, val_kill_ok``, their margins (positive =
safe side; USD, USD, probability), ``agree`` (how many of the three checks validation confirms),
``alignment_score`` (the validation's smallest margin relative to its bound: >= 0 means every
budget holds, and its size says how much room the nearest limit leaves) and ``aligned`` (design and
validation agree on all three and the validation passes). Prints one summary line per tier.

Usage: ``python -m batch_runs.exp10_alignment [-o DIR] [--design runs/exp07_presets/exp07_presets.csv]
[--validation runs/exp08_profile_validation/exp08_profile_summary.csv] [--budgets F]``
(``--smoke`` is accepted and changes nothing: exp10 only reads).
"""

from __future__ import annotations

import sys
from pathlib import Path

from batch_runs import expkit
from paraphina.errors import UserError

EXPERIMENT = "exp10_alignment"
ALIGNMENT_CSV = "exp10_alignment.csv"
DEFAULT_DESIGN = "runs/exp07_presets/exp07_presets.csv"
DEFAULT_VALIDATION = "runs/exp08_profile_validation/exp08_profile_summary.csv"
CHECKS = ("pnl", "dd", "kill")


def parser():
    ap = expkit.common_parser(EXPERIMENT, __doc__, ticks=None)
    ap.add_argument("--design", default=DEFAULT_DESIGN)
    ap.add_argument("--validation", default=DEFAULT_VALIDATION)
    return ap


def _by_tier(path: Path, what: str) -> dict[str, dict]:
    rows = [{k: expkit.parse_cell(v) for k, v in r.items()} for r in expkit.read_csv_rows(path)]
    missing = [c for c in ("tier", *expkit.SUMMARY_COLUMNS) if rows and c not in rows[0]]
    if not rows or missing:
        raise UserError(f"{path}: not {what} (missing {', '.join(missing) or 'rows'})")
    return {r["tier"]: r for r in rows}


def run(out: str | Path, *, design: str, validation: str, budgets: str = str(expkit.DEFAULT_BUDGETS),
        quiet: bool = False, force: bool = False) -> list[Path]:
    _, tiers = expkit.risk_tiers(budgets)
    dpath = expkit.input_file(design, "exp07's presets")
    vpath = expkit.input_file(validation, "exp08's summary")
    inputs = {"design": {str(dpath): expkit.file_hash(dpath)}, "validation": {str(vpath): expkit.file_hash(vpath)},
              "budgets": expkit.file_hash(budgets)}
    outdir = expkit.open_output(out, EXPERIMENT, inputs, force=force)
    d_rows, v_rows = _by_tier(dpath, "an exp07_presets.csv"), _by_tier(vpath, "an exp08_profile_summary.csv")
    rows = []
    for tier, budget in tiers.items():
        if tier not in d_rows or tier not in v_rows:
            continue
        d, v = d_rows[tier], v_rows[tier]
        if d["candidate_id"] != v["candidate_id"]:
            raise UserError(f"{vpath}: tier {tier}: validated {v['candidate_id']}, but {dpath} chose {d['candidate_id']}")
        dc, vc = expkit.budget_check(d, budget, "design_"), expkit.budget_check(v, budget, "val_")
        agree = sum(dc[f"design_{c}_ok"] == vc[f"val_{c}_ok"] for c in CHECKS)
        rows.append({"tier": tier, "candidate_id": d["candidate_id"], "design_runs": d["runs"], "val_runs": v["runs"],
                     "design_pnl_mean": d["pnl_mean"], "val_pnl_mean": v["pnl_mean"],
                     "design_dd_cvar": d["dd_cvar"], "val_dd_cvar": v["dd_cvar"],
                     "design_kill_ucb": d["kill_ucb"], "val_kill_ucb": v["kill_ucb"], **dc, **vc, "agree": agree,
                     "alignment_score": min(expkit.relative_margins(vc, budget, "val_").values()),
                     "aligned": agree == len(CHECKS) and vc["val_all_ok"]})
    if not rows:
        raise UserError(f"{dpath}, {vpath}: no tier of {budgets} in both files")
    if not quiet:
        for r in rows:
            print(f"exp10: tier {r['tier']}: design pnl/dd/kill ok = {_flags(r, 'design_')}, "
                  f"validation = {_flags(r, 'val_')}, agree {r['agree']}/3, score {r['alignment_score']:.3f}, "
                  f"aligned={str(r['aligned']).lower()}")
    return [expkit.write_rows(outdir, ALIGNMENT_CSV, rows)]


def _flags(r: dict, prefix: str) -> str:
    return "/".join("yes" if r[f"{prefix}{c}_ok"] else "no" for c in CHECKS)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return expkit.finish(run(args.out, design=args.design, validation=args.validation, budgets=args.budgets,
                             quiet=args.quiet, force=args.force))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(expkit.main_guard(main))
