"""Experiment 11: do the profiles behave according to their risk budgets, on the research dataset?

Reads a research dataset, one row per run: exp13's JSONL (default
``runs/research_dataset_v004.jsonl``) or a CSV from ``paraphina telemetry condense
--label-from-path`` (a ``profile`` column, e.g. from ``runs/profile=balanced/seed=3/telemetry.jsonl``).
Keeps the rows of ``--profile`` (repeatable; default every profile present) whose label contains
``--label-contains``, groups them by profile, and compares each group with the budget of the tier
of the same name (``batch_runs/phase_a/budgets.yaml``): PnL (``pnl_lcb >= min_pnl_lcb_usd``), drawdown
(``dd_cvar <= max_dd_cvar``) and kill frequency (one-sided Wilson ``kill_ucb <= max_kill_ucb``).

Writes ``exp11_alignment.csv`` under ``runs/exp11_research_alignment/``: per profile the run
count, the statistics, the budget's bounds, ``pnl_ok, dd_ok, kill_ok, all_ok``, margins (positive =
safe side) and ``kill_runs_needed`` (runs needed before zero kills can meet the kill bound at all).

Usage: ``python -m batch_runs.exp11_research_alignment [--dataset F] [--profile P]...
[--label-contains S] [-o DIR] [--budgets F]`` (``--smoke`` is accepted: exp11 only reads).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from batch_runs import expkit
from paraphina.errors import UserError
from paraphina.research import stats
from paraphina.research.telemetry_dataset import read_dataset

EXPERIMENT = "exp11_research_alignment"
ALIGNMENT_CSV = "exp11_alignment.csv"
DEFAULT_DATASET = "runs/research_dataset_v004.jsonl"
NEEDED = ("profile", "pnl_total_end", "max_drawdown", "kill_switch")


def parser():
    ap = expkit.common_parser(EXPERIMENT, __doc__, ticks=None)
    ap.add_argument("--dataset", default=DEFAULT_DATASET)
    ap.add_argument("--profile", dest="profiles", action="append", default=None)
    ap.add_argument("--label-contains", default=None)
    return ap


def load_rows(path: Path) -> list[dict]:
    """The dataset's rows as dicts of values (JSONL objects, or CSV cells parsed)."""
    if path.suffix == ".jsonl":
        rows = []
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    raise UserError(f"{path}:{n}: not JSON ({exc})") from None
                if not isinstance(obj, dict):
                    raise UserError(f"{path}:{n}: expected a JSON object")
                rows.append(obj)
        return rows
    ds = read_dataset(path)
    return [{c: expkit.parse_cell(v) for c, v in zip(ds.columns, r)} for r in ds.rows]


def alignment_rows(rows: list[dict], tiers: dict, alpha: float, where: str) -> list[dict]:
    for i, r in enumerate(rows):
        for c in NEEDED:
            if r.get(c) is None:
                raise UserError(f"{where}: row {i + 1} ({r.get('label', '?')}): no {c}")
    out = []
    for s in expkit.summarise(sorted(rows, key=lambda r: expkit.PROFILES.index(r["profile"])
                                     if r["profile"] in expkit.PROFILES else len(expkit.PROFILES)),
                              ("profile",), alpha, pnl="pnl_total_end", drawdown="max_drawdown", kill="kill_switch"):
        budget = tiers.get(s["profile"])
        if budget is None:
            raise UserError(f"{where}: profile {s['profile']!r} has no budget tier of that name")
        out.append({**s, "min_pnl_lcb_usd": budget.min_pnl_lcb_usd, "max_dd_cvar": budget.max_dd_cvar,
                    "max_kill_ucb": budget.max_kill_ucb, **expkit.budget_check(s, budget),
                    "kill_runs_needed": stats.runs_for_kill_bound(budget.max_kill_ucb, alpha)})
    return out


def run(out: str | Path, *, dataset: str = DEFAULT_DATASET, profiles=None, label_contains: str | None = None,
        budgets: str = str(expkit.DEFAULT_BUDGETS), quiet: bool = False, force: bool = False) -> list[Path]:
    alpha, tiers = expkit.risk_tiers(budgets)
    src = expkit.input_file(dataset, "the research dataset; exp13 writes it")
    inputs = {"dataset": {str(src): expkit.file_hash(src)}, "profiles": sorted(profiles) if profiles else None,
              "label_contains": label_contains, "budgets": expkit.file_hash(budgets)}
    outdir = expkit.open_output(out, EXPERIMENT, inputs, force=force)
    rows = [r for r in load_rows(src)
            if (not profiles or r.get("profile") in profiles)
            and (label_contains is None or label_contains in str(r.get("label", "")))]
    if not rows:
        raise UserError(f"{src}: no rows match (profiles {profiles or 'any'}, label containing {label_contains!r})")
    table = alignment_rows(rows, tiers, alpha, str(src))
    if not quiet:
        for line in format_table(table):
            print(line)
    return [expkit.write_rows(outdir, ALIGNMENT_CSV, table)]


TABLE = (("profile", "{}"), ("runs", "{}"), ("pnl_lcb", "{:.2f}"), ("dd_cvar", "{:.2f}"), ("kill_ucb", "{:.3f}"),
         ("pnl_ok", "{}"), ("dd_ok", "{}"), ("kill_ok", "{}"), ("pnl_margin", "{:+.2f}"), ("dd_margin", "{:+.2f}"),
         ("kill_margin", "{:+.3f}"))


def format_table(rows: list[dict], columns=TABLE) -> list[str]:
    """An aligned text table (booleans as yes/no)."""
    cells = [[c for c, _ in columns]]
    for r in rows:
        cells.append([("yes" if r[c] else "no") if isinstance(r[c], bool) else f.format(r[c]) for c, f in columns])
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths))) for row in cells]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return expkit.finish(run(args.out, dataset=args.dataset, profiles=args.profiles, label_contains=args.label_contains,
                             budgets=args.budgets, quiet=args.quiet, force=args.force))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(expkit.main_guard(main))
