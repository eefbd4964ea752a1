"""Experiment 05: a consolidated calibration report of one baseline config across scenarios.

The baseline is the ``btc`` preset under ``--profile`` (default balanced), optionally with a
``PARAPHINA_*`` overlay (``--set KEY=VALUE``, repeatable). It runs ``--repeats`` seeds of every
scenario (default: baseline, low / high volatility, jumps, wide spreads, a venue outage, a funding
flip) and reports per scenario and pooled: PnL (mean, lower bound), drawdown (mean, CVaR), kill
rate and bound, regime fractions, fills and fees, and the pooled runs against every risk tier.

Writes under ``runs/exp05_calibration_report/``: ``exp05_calibration_runs.csv``,
``exp05_calibration_summary.csv`` (one row per scenario plus ``ALL``) and
``exp05_calibration_report.json`` (the baseline's resolved knobs and config hash, the summary, and
the tier checks).

Usage: ``python -m batch_runs.exp05_calibration_report [--smoke] [-o DIR] [--ticks 600]
[--repeats 4] [--profile balanced] [--set PARAPHINA_HEDGE_BAND_BASE=0.35] [--scenario F]...``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from batch_runs import expkit
from paraphina.errors import UserError
from paraphina.research.evidence import canonical_json, write_atomic

EXPERIMENT = "exp05_calibration_report"
RUNS_CSV = "exp05_calibration_runs.csv"
SUMMARY_CSV = "exp05_calibration_summary.csv"
REPORT_JSON = "exp05_calibration_report.json"
SCENARIOS = ("scenarios/synth_baseline.yaml", "scenarios/vol_low.yaml", "scenarios/vol_high.yaml",
             "scenarios/synth_jump.yaml", "scenarios/liquidity_spread.yaml", "scenarios/venue_outage.yaml",
             "scenarios/funding_flip.yaml")
SMOKE_SCENARIOS = ("scenarios/synth_baseline.yaml", "scenarios/vol_high.yaml", "scenarios/synth_jump.yaml")
# The resolved config values the report names (what the profile and overlay set).
KNOBS = {"hedge_band_base": "hedge.band_base_tao", "mm_size_eta": "mm.size_eta", "vol_ref": "volatility.vol_ref",
         "daily_loss_limit": "risk.daily_loss_limit", "delta_hard_limit_usd_base": "risk.delta_hard_limit_usd_base",
         "initial_q_tao": "initial_q_tao"}
MEANS = ("fills", "fees_usd", "max_abs_q", "regime_frac_normal", "regime_frac_warning", "regime_frac_hard")


def parser():
    ap = expkit.common_parser(EXPERIMENT, __doc__, ticks=600)
    ap.add_argument("--repeats", type=int, default=None, help="seeds per scenario (default 4, smoke 2)")
    ap.add_argument("--profile", default="balanced", choices=expkit.PROFILES)
    ap.add_argument("--set", dest="overlay", action="append", default=[], metavar="PARAPHINA_KNOB=VALUE")
    ap.add_argument("--scenario", dest="scenarios", action="append", default=None, metavar="FILE")
    return ap


def parse_overlay(items) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("PARAPHINA_") or not value:
            raise UserError(f"--set {item!r}: expected PARAPHINA_KNOB=VALUE")
        out[key] = value
    return out


def resolved_knobs(env, scenario: str) -> dict:
    import msgspec

    config, _ = expkit.cell_config(expkit.Cell(label={}, env=env, seed=0, scenario=scenario))
    data = msgspec.to_builtins(config)
    out = {}
    for name, path in KNOBS.items():
        v = data
        for part in path.split("."):
            v = v[part]
        out[name] = v
    return out


def run(out: str | Path, *, ticks: int, repeats: int, scenarios, profile: str = "balanced", overlay=None,
        seed: int = 0, budgets: str = str(expkit.DEFAULT_BUDGETS), jobs: int = 1, quiet: bool = False,
        force: bool = False) -> list[Path]:
    alpha, tiers = expkit.risk_tiers(budgets)
    env = {"PARAPHINA_RISK_PROFILE": profile, **(overlay or {})}
    inputs = {"ticks": ticks, "repeats": repeats, "env": env, "scenarios": expkit.scenario_inputs(list(scenarios)),
              "seed": seed, "budgets": expkit.file_hash(budgets)}
    outdir = expkit.open_output(out, EXPERIMENT, inputs, force=force)
    cells = [expkit.Cell(label={"scenario": Path(sc).stem, "repeat": r}, env=env, seed=s, scenario=sc)
             for sc in scenarios for r, s in enumerate(expkit.seeds(seed, repeats))]
    rows = expkit.run_cells(cells, ticks, label="exp05", jobs=jobs, quiet=quiet)
    summary = expkit.summarise(rows, ("scenario",), alpha, means=MEANS)
    pooled = expkit.summarise([{**r, "scenario": "ALL"} for r in rows], ("scenario",), alpha, means=MEANS)[0]
    summary.append(pooled)
    checks = {t: expkit.budget_check(pooled, b) for t, b in tiers.items()}
    report = {
        "experiment": EXPERIMENT,
        "baseline": {"preset": "btc", "env": env, "knobs": resolved_knobs(env, scenarios[0]),
                     "config_hash": sorted({r["config_hash"] for r in rows})},
        "ticks": ticks, "repeats": repeats, "alpha": alpha,
        "scenarios": [{"file": sc, "sha256": expkit.file_hash(sc)} for sc in scenarios],
        "summary": summary,
        "tiers": {t: {"budget": {"max_kill_ucb": b.max_kill_ucb, "max_dd_cvar": b.max_dd_cvar,
                                 "min_pnl_lcb_usd": b.min_pnl_lcb_usd}, **checks[t]} for t, b in tiers.items()},
    }
    path = outdir / REPORT_JSON
    write_atomic(path, canonical_json(expkit.json_safe(report)))
    if not quiet:
        print(f"exp05: {profile} over {len(scenarios)} scenarios x {repeats} seeds: pnl_mean={pooled['pnl_mean']:.2f} "
              f"dd_cvar={pooled['dd_cvar']:.2f} kill_frac={pooled['kill_frac']:.3f}; "
              + " ".join(f"{t}={'ok' if c['all_ok'] else 'no'}" for t, c in checks.items()))
    return [expkit.write_rows(outdir, RUNS_CSV, rows), expkit.write_rows(outdir, SUMMARY_CSV, summary), path]


def main(argv: list[str] | None = None) -> int:
    args = expkit.resolve_smoke(parser().parse_args(argv))
    repeats = args.repeats or (2 if args.smoke else 4)
    scenarios = args.scenarios or (SMOKE_SCENARIOS if args.smoke else SCENARIOS)
    return expkit.finish(run(args.out, ticks=args.ticks, repeats=repeats, scenarios=tuple(scenarios),
                             profile=args.profile, overlay=parse_overlay(args.overlay), seed=args.seed,
                             budgets=args.budgets, jobs=args.jobs, quiet=args.quiet, force=args.force))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(expkit.main_guard(main))
