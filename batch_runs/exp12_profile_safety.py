"""Experiment 12: the profile safety tuner. Do the conservative / balanced / aggressive profiles
still behave according to their risk budgets, and if not, what safer preset does each need?

Reads exp11's ``exp11_alignment.csv`` (``--alignment``, default
``runs/exp11_research_alignment/exp11_alignment.csv``) and judges, per profile, each of PnL,
drawdown and kill frequency against the profile's budget:

* ``breach``: the check fails (margin < 0);
* ``unproven`` (kill only): no kill was seen but there are fewer runs than the kill bound needs
  (``kill_runs_needed``), so the check cannot pass yet: more runs, not a new preset;
* ``tight``: it passes with less than ``--safety-margin`` (default 0.2) of the bound to spare;
* ``ok``: it passes with room.

Then proposes a safer preset (never a looser one) from the profile's current knobs on the ``btc``
preset:

* daily loss limit: at most ``max_dd_cvar x (1 - margin)`` (a loss limit beyond the drawdown budget
  lets a day lose more than the budget before the kill switch acts);
* when drawdown or kills are ``breach``/``tight``: quote size and hedge band shrink by
  ``f = clip(bound x (1 - margin) / observed, 0.25, 1)``, the worst of the two (``mm.size_eta``
  divided by ``f``: the quote size is edge / eta; ``hedge.band_base_tao`` times ``f``: hedge sooner).
A PnL shortfall alone changes nothing: it is not a safety problem.

Writes under ``runs/exp12_profile_safety/``: ``exp12_tuning_report.csv``, the one table that answers
the question (per profile: runs, observed statistics, bounds, ``pnl_ok, dd_ok, kill_ok, behaves``,
margins, verdicts, action), ``exp12_tuned_presets.csv`` (per profile: current and proposed
``PARAPHINA_*`` knobs, ``changed``) and ``exp12_<profile>.env`` (the proposed overlay as ``export``
lines). The table is printed too.

With ``--validate-runs N`` it also simulates each profile's current and proposed preset ``N`` times
on the same seeds (``--seed``, default 2000; ``--ticks``, ``--scenario``) and adds ``current_*``
and ``tuned_*`` statistics and checks to the report: does the safer preset behave better?

Usage: ``python -m batch_runs.exp12_profile_safety [--alignment F] [--safety-margin 0.2] [-o DIR]
[--budgets F] [--validate-runs N [--ticks 600] [--seed 2000] [--scenario F] [--jobs J]]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from batch_runs import exp11_research_alignment, expkit
from batch_runs.phase_a.spec import env_file_text, format_value
from paraphina.errors import UserError

EXPERIMENT = "exp12_profile_safety"
REPORT_CSV = "exp12_tuning_report.csv"
PRESETS_CSV = "exp12_tuned_presets.csv"
DEFAULT_ALIGNMENT = f"runs/{exp11_research_alignment.EXPERIMENT}/{exp11_research_alignment.ALIGNMENT_CSV}"
MIN_FACTOR = 0.25
VALIDATION_SEED = 2000  # not exp13's or exp08's default seeds
# env knob -> config path of the profile's current value
KNOBS = {"PARAPHINA_DAILY_LOSS_LIMIT": "risk.daily_loss_limit", "PARAPHINA_MM_SIZE_ETA": "mm.size_eta",
         "PARAPHINA_HEDGE_BAND_BASE": "hedge.band_base_tao"}


def parser():
    ap = expkit.common_parser(EXPERIMENT, __doc__, ticks=600)
    ap.set_defaults(seed=VALIDATION_SEED)
    ap.add_argument("--alignment", default=DEFAULT_ALIGNMENT, help=f"exp11's table (default {DEFAULT_ALIGNMENT})")
    ap.add_argument("--safety-margin", type=float, default=0.2, help="fraction of each bound to keep spare")
    ap.add_argument("--validate-runs", type=int, default=0,
                    help="simulate each profile's current and proposed preset this many times (default 0: none)")
    ap.add_argument("--scenario", default=expkit.DEFAULT_SCENARIO, help="scenario of the validation runs")
    return ap


def verdict(ok: bool, relative_margin: float, margin: float, *, unproven: bool = False) -> str:
    if not ok:
        return "unproven" if unproven else "breach"
    return "tight" if relative_margin < margin else "ok"


def current_knobs(profile: str) -> dict[str, float]:
    from paraphina.presets import build_config

    cfg = build_config(None, {"PARAPHINA_RISK_PROFILE": profile}, None)[0]
    out = {}
    for var, path in KNOBS.items():
        v = cfg
        for part in path.split("."):
            v = getattr(v, part)
        out[var] = float(v)
    return out


def shrink_factor(bound: float, observed: float, margin: float) -> float:
    if observed <= 0:
        return 1.0
    return min(1.0, max(MIN_FACTOR, bound * (1.0 - margin) / observed))


def tune(row: dict, budget, alpha: float, margin: float) -> tuple[dict, dict]:
    """(report row, preset row) of one exp11 row."""
    check = expkit.budget_check(row, budget)
    rel = expkit.relative_margins(check, budget)
    unproven = not check["kill_ok"] and row["kills"] == 0 and row["runs"] < (row.get("kill_runs_needed") or 0)
    verdicts = {"pnl": verdict(check["pnl_ok"], rel["pnl"], margin),
                "dd": verdict(check["dd_ok"], rel["dd"], margin),
                "kill": verdict(check["kill_ok"], rel["kill"], margin, unproven=unproven)}
    current = current_knobs(row["profile"])
    proposed = dict(current)
    actions = []
    cap = budget.max_dd_cvar * (1.0 - margin)
    if current["PARAPHINA_DAILY_LOSS_LIMIT"] > cap:
        proposed["PARAPHINA_DAILY_LOSS_LIMIT"] = cap
        actions.append(f"daily loss limit {current['PARAPHINA_DAILY_LOSS_LIMIT']:g} -> {cap:g} (within the drawdown budget)")
    factors = []
    if verdicts["dd"] in ("breach", "tight"):
        factors.append(shrink_factor(budget.max_dd_cvar, row["dd_cvar"], margin))
    if verdicts["kill"] in ("breach", "tight"):
        factors.append(shrink_factor(budget.max_kill_ucb, row["kill_ucb"], margin))
    f = min(factors, default=1.0)
    if f < 1.0:
        proposed["PARAPHINA_MM_SIZE_ETA"] = current["PARAPHINA_MM_SIZE_ETA"] / f
        proposed["PARAPHINA_HEDGE_BAND_BASE"] = current["PARAPHINA_HEDGE_BAND_BASE"] * f
        actions.append(f"quote size and hedge band x{f:.3g}")
    if verdicts["kill"] == "unproven":
        actions.append(f"run at least {row['kill_runs_needed']} runs to prove the kill bound")
    if verdicts["pnl"] == "breach":
        actions.append("PnL below budget (not a safety issue: no change)")
    behaves = check["all_ok"]
    report = {"profile": row["profile"], "runs": row["runs"], "pnl_mean": row["pnl_mean"], "pnl_lcb": row["pnl_lcb"],
              "min_pnl_lcb_usd": budget.min_pnl_lcb_usd, "dd_cvar": row["dd_cvar"], "max_dd_cvar": budget.max_dd_cvar,
              "kills": row["kills"], "kill_frac": row["kill_frac"], "kill_ucb": row["kill_ucb"],
              "max_kill_ucb": budget.max_kill_ucb, "pnl_ok": check["pnl_ok"], "dd_ok": check["dd_ok"],
              "kill_ok": check["kill_ok"], "behaves": behaves, "pnl_margin": check["pnl_margin"],
              "dd_margin": check["dd_margin"], "kill_margin": check["kill_margin"],
              "pnl_verdict": verdicts["pnl"], "dd_verdict": verdicts["dd"], "kill_verdict": verdicts["kill"],
              "action": "; ".join(actions) if actions else "keep"}
    preset = {"profile": row["profile"], "PARAPHINA_RISK_PROFILE": row["profile"],
              **{k: proposed[k] for k in KNOBS}, **{f"current_{k}": current[k] for k in KNOBS},
              "changed": proposed != current, "safety_margin": margin}
    return report, preset


def preset_envs(preset: dict) -> dict[str, dict[str, str]]:
    """``{"current": overlay, "tuned": overlay}`` of one exp12_tuned_presets row."""
    base = {"PARAPHINA_RISK_PROFILE": preset["profile"]}
    return {"current": {**base, **{k: format_value(preset[f"current_{k}"]) for k in KNOBS}},
            "tuned": {**base, **{k: format_value(preset[k]) for k in KNOBS}}}


def validate(reports: list[dict], presets: list[dict], tiers, alpha: float, *, runs: int, ticks: int, seed: int,
             scenario: str, jobs: int, quiet: bool) -> list[dict]:
    """Simulate every profile's current and proposed preset on the same seeds; the report rows
    gain ``current_*`` and ``tuned_*`` statistics and checks."""
    cells = [expkit.Cell(label={"profile": p["profile"], "preset": which, "run_index": i}, env=env, seed=s,
                         scenario=scenario)
             for p in presets for which, env in preset_envs(p).items() for i, s in enumerate(expkit.seeds(seed, runs))]
    rows = expkit.run_cells(cells, ticks, label="exp12 validation", jobs=jobs, quiet=quiet)
    stats_of = {(s["profile"], s["preset"]): s for s in expkit.summarise(rows, ("profile", "preset"), alpha)}
    out = []
    for rep in reports:
        budget = tiers[rep["profile"]]
        extra = {}
        for which in ("current", "tuned"):
            st = stats_of[(rep["profile"], which)]
            chk = expkit.budget_check(st, budget, f"{which}_")
            extra.update({f"{which}_{k}": st[k] for k in ("runs", "pnl_mean", "pnl_lcb", "dd_cvar", "kill_ucb")})
            extra.update({f"{which}_{k}": chk[f"{which}_{k}"] for k in ("pnl_ok", "dd_ok", "kill_ok", "all_ok")})
        out.append({**rep, **extra})
    return out


def run(out: str | Path, *, alignment: str = DEFAULT_ALIGNMENT, safety_margin: float = 0.2,
        budgets: str = str(expkit.DEFAULT_BUDGETS), validate_runs: int = 0, ticks: int = 600,
        seed: int = VALIDATION_SEED, scenario: str = expkit.DEFAULT_SCENARIO, jobs: int = 1, quiet: bool = False,
        force: bool = False) -> list[Path]:
    if not 0.0 <= safety_margin < 1.0:
        raise UserError(f"--safety-margin must be in [0, 1) (got {safety_margin})")
    alpha, tiers = expkit.risk_tiers(budgets)
    src = expkit.input_file(alignment, "exp11's alignment table")
    rows = [{k: expkit.parse_cell(v) for k, v in r.items()} for r in expkit.read_csv_rows(src)]
    need = ("profile", "kill_runs_needed", *expkit.SUMMARY_COLUMNS)
    missing = [c for c in need if rows and c not in rows[0]]
    if not rows or missing:
        raise UserError(f"{src}: not an exp11_alignment.csv (missing {', '.join(missing) or 'rows'})")
    inputs = {"alignment": {str(src): expkit.file_hash(src)}, "safety_margin": safety_margin,
              "budgets": expkit.file_hash(budgets)}
    if validate_runs > 0:  # only then do runs (and what determines them) enter the output
        inputs["validation"] = {"runs": validate_runs, "ticks": ticks, "seed": seed,
                                "scenarios": expkit.scenario_inputs(scenario)}
    outdir = expkit.open_output(out, EXPERIMENT, inputs, force=force)
    reports, presets = [], []
    for r in rows:
        budget = tiers.get(r["profile"])
        if budget is None:
            raise UserError(f"{src}: profile {r['profile']!r} has no budget tier of that name in {budgets}")
        rep, pre = tune(r, budget, alpha, safety_margin)
        reports.append(rep)
        presets.append(pre)
    if validate_runs > 0:
        reports = validate(reports, presets, tiers, alpha, runs=validate_runs, ticks=ticks, seed=seed,
                           scenario=scenario, jobs=jobs, quiet=quiet)
    written = [expkit.write_rows(outdir, REPORT_CSV, reports), expkit.write_rows(outdir, PRESETS_CSV, presets)]
    for p in presets:
        env = preset_envs(p)["tuned"]
        path = outdir / f"exp12_{p['profile']}.env"
        path.write_text(env_file_text(env, [f"exp12 safer preset for profile {p['profile']} "
                                            f"(safety margin {safety_margin:g}; changed={str(p['changed']).lower()})"]),
                        encoding="utf-8")
        written.append(path)
    if not quiet:
        print("Do the profiles still behave according to their risk budgets?")
        cols = (*exp11_research_alignment.TABLE[:8], ("behaves", "{}"), ("action", "{}"))
        for line in exp11_research_alignment.format_table(reports, cols):
            print(line)
        if validate_runs > 0:
            print(f"Current and proposed presets on the same {validate_runs} seeds ({ticks} ticks):")
            cols = (("profile", "{}"), *((f"{w}_{c}", f) for w in ("current", "tuned")
                                         for c, f in (("pnl_lcb", "{:.2f}"), ("dd_cvar", "{:.2f}"),
                                                      ("kill_ucb", "{:.3f}"), ("all_ok", "{}"))))
            for line in exp11_research_alignment.format_table(reports, cols):
                print(line)
    return written


def main(argv: list[str] | None = None) -> int:
    args = expkit.resolve_smoke(parser().parse_args(argv))
    return expkit.finish(run(args.out, alignment=args.alignment, safety_margin=args.safety_margin,
                             budgets=args.budgets, validate_runs=args.validate_runs, ticks=args.ticks, seed=args.seed,
                             scenario=args.scenario, jobs=args.jobs, quiet=args.quiet, force=args.force))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(expkit.main_guard(main))
