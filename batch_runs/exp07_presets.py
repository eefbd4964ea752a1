"""Experiment 07: risk tiers (``RISK_TIERS``) and a candidate preset per tier.

``RISK_TIERS`` are the tiers of the budgets file (default ``batch_runs/phase_a/budgets.yaml``, the
one Phase A gates on), written out with the reference's names: ``max_kill_prob`` (gated on the
one-sided Wilson upper bound of the kill probability), ``max_drawdown_abs`` (on the CVaR of per-run
max drawdown) and ``min_final_pnl_mean`` (on the normal lower bound of mean PnL), all at the file's
``alpha``. Candidates are seeded draws from ``knobs_btc.yaml`` (profile and ``PARAPHINA_*`` knobs,
the ranges where they act), each simulated ``--runs`` times with the same seeds (common random
numbers). Per tier, the preset is the best candidate that passes the tier (higher mean PnL, then
lower drawdown CVaR, lower kill bound, candidate id: Phase A's winner rule); when none passes, the
candidate that fails the fewest checks (same order after that) with ``meets_budget=false``.

Writes under ``runs/exp07_presets/``: ``exp07_risk_tiers.csv``, ``exp07_candidates.csv`` (one row
per candidate: its knobs, design metrics and every tier's pass flag), ``exp07_candidate_runs.csv``
and ``exp07_presets.csv`` (one row per tier: the chosen candidate, its knobs as ``PARAPHINA_*``
columns, design metrics and the tier checks). exp08 validates ``exp07_presets.csv``.

Usage: ``python -m batch_runs.exp07_presets [--smoke] [-o DIR] [--candidates 12] [--runs 20]
[--ticks 600] [--knobs batch_runs/phase_a/knobs_btc.yaml] [--budgets F] [--scenario F] [--seed 0]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from batch_runs import expkit
from batch_runs.phase_a.spec import generate_candidates, load_knob_spec
from paraphina.research import stats

EXPERIMENT = "exp07_presets"
TIERS_CSV = "exp07_risk_tiers.csv"
CANDIDATES_CSV = "exp07_candidates.csv"
RUNS_CSV = "exp07_candidate_runs.csv"
PRESETS_CSV = "exp07_presets.csv"


def parser():
    ap = expkit.common_parser(EXPERIMENT, __doc__, ticks=600)
    ap.add_argument("--candidates", type=int, default=None, help="candidates drawn (default 12, smoke 4)")
    ap.add_argument("--runs", type=int, default=None, help="runs per candidate (default 20, smoke 3)")
    ap.add_argument("--knobs", default=str(expkit.KNOBS_BTC))
    ap.add_argument("--scenario", default=expkit.DEFAULT_SCENARIO)
    return ap


def risk_tier_rows(alpha: float, tiers) -> list[dict]:
    return [{"tier": t, "max_kill_prob": b.max_kill_ucb, "max_drawdown_abs": b.max_dd_cvar,
             "min_final_pnl_mean": b.min_pnl_lcb_usd, "alpha": alpha,
             "kill_statistic": "wilson_ucb", "drawdown_statistic": "cvar", "pnl_statistic": "normal_lcb"}
            for t, b in tiers.items()]


def pick(candidates: list[dict], budget: stats.Budget) -> tuple[dict, bool]:
    """(chosen candidate row, meets the budget): Phase A's winner among passing candidates, else the
    one failing the fewest checks."""
    scores = {c["candidate_id"]: stats.CandidateScore(key=c["candidate_id"], mean_pnl=c["pnl_mean"],
                                                      kill_ucb=c["kill_ucb"], dd_cvar=c["dd_cvar"],
                                                      pnl_lcb=c["pnl_lcb"]) for c in candidates}
    winner = stats.pick_winner(scores.values(), budget)
    if winner is not None:
        return next(c for c in candidates if c["candidate_id"] == winner.key), True

    def fails(c: dict) -> int:
        chk = expkit.budget_check(c, budget)
        return sum(not chk[k] for k in ("pnl_ok", "dd_ok", "kill_ok"))

    best = min(candidates, key=lambda c: (fails(c), stats.winner_sort_key(scores[c["candidate_id"]])))
    return best, False


def run(out: str | Path, *, ticks: int, candidates: int, runs: int, knobs: str = str(expkit.KNOBS_BTC),
        scenario: str = expkit.DEFAULT_SCENARIO, seed: int = 0, budgets: str = str(expkit.DEFAULT_BUDGETS),
        jobs: int = 1, quiet: bool = False, force: bool = False) -> list[Path]:
    alpha, tiers = expkit.risk_tiers(budgets)
    spec = load_knob_spec(knobs)
    inputs = {"ticks": ticks, "candidates": candidates, "runs": runs, "knobs": expkit.file_hash(knobs),
              "budgets": expkit.file_hash(budgets), "scenarios": expkit.scenario_inputs(scenario), "seed": seed}
    outdir = expkit.open_output(out, EXPERIMENT, inputs, force=force)
    drawn = generate_candidates(spec, candidates, seed)
    run_seeds = expkit.seeds(seed, runs)
    cells = [expkit.Cell(label={"candidate_id": c.candidate_id, "run_index": i}, env=c.env, seed=s, scenario=scenario)
             for c in drawn for i, s in enumerate(run_seeds)]
    rows = expkit.run_cells(cells, ticks, label="exp07", jobs=jobs, quiet=quiet)
    summary = {s["candidate_id"]: s for s in expkit.summarise(rows, ("candidate_id",), alpha)}
    knob_names = sorted({k for c in drawn for k in c.env})
    cand_rows = []
    for c in drawn:
        row = {"candidate_id": c.candidate_id, **{k: c.env.get(k, "") for k in knob_names},
               **{k: v for k, v in summary[c.candidate_id].items() if k != "candidate_id"}}
        for t, b in tiers.items():
            row[f"passes_{t}"] = expkit.budget_check(row, b)["all_ok"]
        cand_rows.append(row)
    presets = []
    for t, b in tiers.items():
        chosen, meets = pick(cand_rows, b)
        presets.append({"tier": t, "candidate_id": chosen["candidate_id"], "meets_budget": meets,
                        **{k: chosen[k] for k in knob_names},
                        **{k: chosen[k] for k in expkit.SUMMARY_COLUMNS}, **expkit.budget_check(chosen, b)})
    if not quiet:
        for p in presets:
            print(f"exp07: tier {p['tier']}: {p['candidate_id']} meets_budget={str(p['meets_budget']).lower()} "
                  f"pnl_lcb={p['pnl_lcb']:.2f} dd_cvar={p['dd_cvar']:.2f} kill_ucb={p['kill_ucb']:.3f}")
    return [expkit.write_rows(outdir, TIERS_CSV, risk_tier_rows(alpha, tiers)),
            expkit.write_rows(outdir, RUNS_CSV, rows), expkit.write_rows(outdir, CANDIDATES_CSV, cand_rows),
            expkit.write_rows(outdir, PRESETS_CSV, presets)]


def main(argv: list[str] | None = None) -> int:
    args = expkit.resolve_smoke(parser().parse_args(argv))
    return expkit.finish(run(args.out, ticks=args.ticks, candidates=args.candidates or (4 if args.smoke else 12),
                             runs=args.runs or (3 if args.smoke else 20), knobs=args.knobs, scenario=args.scenario,
                             seed=args.seed, budgets=args.budgets, jobs=args.jobs, quiet=args.quiet, force=args.force))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(expkit.main_guard(main))
