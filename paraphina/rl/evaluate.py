"""Evaluation gates for a learned policy: Monte Carlo on held-out seeds, stress suites, a shadow session.

``evaluate(model, tier, out_dir, ...)`` compares the model (behind :class:`OnnxPolicy`) with the
heuristic and decides pass or fail:

1. **Monte Carlo** (:func:`paraphina.research.montecarlo.run_mc`): ``runs`` seeded runs of the
   scenario for each policy, with the same seeds (``SeedSequence(base_seed).spawn``: 64-bit
   numbers, refused if they meet a training seed recorded in the model card). The summary gives
   the tier's budget statistics: kill-probability Wilson upper bound, CVaR of max drawdown and
   the normal lower bound of mean PnL.
2. **Stress suites** (:mod:`paraphina.sim.suite`): the research and adversarial regression
   suites, each (scenario, seed) run with both policies; the model fails a stress run when it
   breaks an invariant the heuristic keeps on that run.
3. **Shadow session** (:func:`paraphina.shadow.run_shadow`): the heuristic trades a held-out
   simulated market, the model proposes beside it; the divergence counts are reported.

The gate passes when the model is within the tier's budgets (:func:`paraphina.research.stats.passes_budget`),
its risk-adjusted score (:func:`risk_adjusted`) is strictly above the heuristic's, and it adds no
stress failure. The shadow session is reported, never gated on (a learned policy is meant to
differ). The report goes to ``out_dir/eval_report.json`` and ``eval_report.md``, and into the
model card beside the model (``evaluations.<tier>`` in ``model_card.json``, a section at the end
of ``model_card.md``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from paraphina.outputs import write_file
from paraphina.research import stats
from paraphina.research.montecarlo import run_mc, run_seed
from paraphina.rl.env import SimRun, scenario_env_config, steps_for
from paraphina.sim.scenario import Scenario

EVAL_VERSION = 1
RISK_AVERSION = 0.5   # USD of mean PnL given up per USD of drawdown CVaR
CARD_MARKER = "<!-- paraphina rl eval -->"
POLICIES = ("heuristic", "model")


def risk_adjusted(summary: dict) -> float:
    """Mean PnL minus ``RISK_AVERSION`` x CVaR of the per-run max drawdown (USD); NaN stays NaN."""
    return summary["pnl"]["mean"] - RISK_AVERSION * summary["max_drawdown"]["cvar"]


def make_policy(which: str, model_path: str):
    from paraphina.policies import HeuristicPolicy
    from paraphina.rl.policy import OnnxPolicy

    return HeuristicPolicy() if which == "heuristic" else OnnxPolicy(model_path)


def episode(scenario: Scenario, ticks: int, which: str, model_path: str, run_index: int, seed: int) -> dict:
    """One Monte Carlo run (the ``run_fn`` contract of :mod:`paraphina.research.montecarlo`)."""
    config = scenario_env_config(scenario, scenario.initial_state.profile)
    run = SimRun(scenario, config, seed, steps_for(scenario, config, ticks), policy=make_policy(which, model_path))
    path, n = [0.0], 0
    while n < ticks and run.next_tick():
        n += 1
        path.append(run.engine.state.core.daily_total)
        if run.engine.state.core.kill_switch:
            break
    s = run.engine.summary()
    return {"pnl": float(s["total"]), "pnl_path": path, "kill": bool(s["kill_switch"]),
            "kill_reason": s["kill_reason"] or None, "ticks": n}


def budget_row(summary: dict, budget: stats.Budget) -> dict:
    score = stats.CandidateScore(key="x", mean_pnl=summary["pnl"]["mean"], kill_ucb=summary["kill"]["ucb"],
                                 dd_cvar=summary["max_drawdown"]["cvar"], pnl_lcb=summary["pnl"]["lcb"])
    checks = {"kill_ucb": score.kill_ucb <= budget.max_kill_ucb, "dd_cvar": score.dd_cvar <= budget.max_dd_cvar,
              "pnl_lcb": score.pnl_lcb >= budget.min_pnl_lcb_usd}
    return {"mean_pnl": score.mean_pnl, "pnl_lcb": score.pnl_lcb, "dd_cvar": score.dd_cvar,
            "kill_rate": summary["kill"]["probability"], "kill_ucb": score.kill_ucb,
            "risk_adjusted": risk_adjusted(summary), "within_budget": stats.passes_budget(score, budget),
            "budget_checks": checks}


def stress(suite_paths: Sequence[str], suite_ticks: int | None, model_path: str, out_dir: Path,
           say: Callable[[str], None], base_dir: str | None = None) -> list[dict]:
    """Each suite run with both policies; per suite the runs where the model breaks an invariant
    the heuristic keeps."""
    from paraphina.rl.policy import onnx_factory
    from paraphina.sim.runner import policy_engine_factory
    from paraphina.sim.suite import load_suite, run_suite

    results = []
    for path in suite_paths:
        suite = load_suite(path, base_dir)
        if suite_ticks is not None:
            suite = dataclasses.replace(suite, ticks=suite_ticks, repeat_runs=1)
        reports = {}
        for which in POLICIES:
            say(f"suite {suite.suite_id}: {which}")
            spec = "heuristic" if which == "heuristic" else onnx_factory(model_path)
            reports[which] = run_suite(suite, lambda sc: scenario_env_config(sc, sc.initial_state.profile),
                                       which, policy_engine_factory(spec), out_dir / "suites" / suite.suite_id / which)
        new = []
        for h, m in zip(reports["heuristic"].rows, reports["model"].rows):
            added = [f for f in m["failures"] if f.split(":")[0] not in {x.split(":")[0] for x in h["failures"]}]
            if added:
                new.append({"scenario": m["scenario"], "seed": m["seed"], "failures": added})
        results.append({
            "suite": path, "suite_id": suite.suite_id, "runs": len(reports["model"].rows), "ticks": suite.ticks,
            "failed": {w: reports[w].failed for w in POLICIES},
            "mean_pnl": {w: math.fsum(r["pnl_total"] for r in reports[w].rows) / max(1, len(reports[w].rows))
                         for w in POLICIES},
            "kills": {w: sum(bool(r["kill_switch"]) for r in reports[w].rows) for w in POLICIES},
            "new_failures": new,
        })
    return results


def shadow(scenario: Scenario, seed: int, ticks: int, model_path: str, out_dir: Path) -> dict:
    """A shadow session: the heuristic trades a held-out simulated market, the model proposes."""
    from paraphina.rl.policy import onnx_factory
    from paraphina.shadow import LogFeed, run_shadow
    from paraphina.sim.exchange import VenueParams
    from paraphina.sim.runner import policy_engine_factory, run_simulation

    config = scenario_env_config(scenario, scenario.initial_state.profile)
    d = out_dir / "shadow"
    d.mkdir(parents=True, exist_ok=True)
    market = str(d / "market.arrow")
    run_simulation(scenario, config, "heuristic", seed, ticks, market, policy_engine_factory("heuristic"), overwrite=True)
    feed = LogFeed(market)
    params = [VenueParams(maker_fee_bps=config.venue(i.venue).maker_fee_bps,
                          taker_fee_bps=config.venue(i.venue).taker_fee_bps) for i in feed.instruments]
    r = run_shadow(feed, config, str(d / "session.arrow"), baseline="heuristic", candidate=onnx_factory(model_path),
                   params=params, overwrite=True, input_log=market)
    rep = r.report
    return {"session": r.session, "sidecar": r.sidecar, "seed": seed, "ticks": ticks,
            "identical": rep["identical"], "first_index": rep["first_index"],
            "only_in_baseline": rep["only_in_baseline"], "only_in_candidate": rep["only_in_candidate"],
            "baseline_actions": r.baseline["actions"], "candidate_actions": r.candidate["actions"],
            "candidate_fallbacks": r.candidate["fallbacks"], "policy_faults": r.faults,
            "baseline_pnl": r.baseline["pnl_total"], "counterfactual_pnl": r.counterfactual.get("pnl_total")}


def gate(mc: dict, stress_rows: list[dict]) -> dict[str, bool]:
    """The three gates (all must hold to pass): within the tier's budgets, a risk-adjusted score
    strictly above the heuristic's (NaN fails), no stress failure the heuristic does not have."""
    return {"within_budget": bool(mc["model"]["within_budget"]),
            "beats_heuristic": bool(mc["model"]["risk_adjusted"] > mc["heuristic"]["risk_adjusted"]),
            "no_new_stress_failures": not any(s["new_failures"] for s in stress_rows)}


def failure_modes(mc: dict, stress_rows: list[dict], shadow_row: dict | None, budget: stats.Budget) -> list[str]:
    """What kept the model from passing (or what to watch), one line each."""
    m, h = mc["model"], mc["heuristic"]
    out = []
    if not m["budget_checks"]["kill_ucb"]:
        out.append(f"kill probability upper bound {m['kill_ucb']:.4f} > budget {budget.max_kill_ucb:g}")
    if not m["budget_checks"]["dd_cvar"]:
        out.append(f"drawdown CVaR {m['dd_cvar']:.2f} USD > budget {budget.max_dd_cvar:g}")
    if not m["budget_checks"]["pnl_lcb"]:
        out.append(f"PnL lower bound {m['pnl_lcb']:+.2f} USD < budget {budget.min_pnl_lcb_usd:+g}")
    if not m["risk_adjusted"] > h["risk_adjusted"]:
        out.append(f"risk-adjusted score {m['risk_adjusted']:+.2f} not above the heuristic's {h['risk_adjusted']:+.2f}")
    for s in stress_rows:
        for row in s["new_failures"]:
            out.append(f"{s['suite_id']}: {row['scenario']} seed {row['seed']}: " + "; ".join(row["failures"]))
    if shadow_row is not None and shadow_row["candidate_fallbacks"]:
        out.append(f"shadow: the model fell back to the heuristic {shadow_row['candidate_fallbacks']}")
    return out


def evaluate(model_path: str, tier: str, out_dir: str, *, budgets_path: str | None, runs: int, base_seed: int,
             ticks: int, scenario: Scenario, scenario_name: str, suite_paths: Sequence[str], suite_ticks: int | None,
             run_shadow_session: bool = True, force: bool = False, progress=None,
             suite_base_dir: str | None = None) -> dict:
    """The whole evaluation (module docstring); returns the report (``report["passed"]``)."""
    from batch_runs.phase_a.pipeline import unreachable_tiers
    from batch_runs.phase_a.spec import DEFAULT_BUDGETS, load_budgets
    from paraphina.digest import sha256_file
    from paraphina.errors import UserError
    from paraphina.research.provenance import claim, file_hash

    say = progress or (lambda msg: None)
    alpha, budgets = load_budgets(budgets_path or DEFAULT_BUDGETS)
    if tier not in budgets:
        raise UserError(f"--tier {tier}: not a tier of {budgets_path or DEFAULT_BUDGETS} ({', '.join(budgets)})")
    budget = budgets[tier]
    card_path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "model_card.json")
    card = load_card(card_path)
    seeds = [run_seed(base_seed, i) for i in range(runs)]
    data = (card or {}).get("data")
    trained = {s for s in (data.get("train_seeds") or []) if isinstance(s, int)} if isinstance(data, dict) else set()
    if trained & set(seeds):
        raise UserError(f"--seed {base_seed}: its Monte Carlo seeds meet the model's training seeds; choose another")
    model_sha = sha256_file(model_path)
    out = Path(out_dir)
    record = {"eval_version": EVAL_VERSION, "model_sha256": model_sha, "tier": tier, "budget": {
        "alpha": alpha, "max_kill_ucb": budget.max_kill_ucb, "max_dd_cvar": budget.max_dd_cvar,
        "min_pnl_lcb_usd": budget.min_pnl_lcb_usd}, "runs": runs, "base_seed": base_seed, "ticks": ticks,
        "scenario": scenario_name, "scenario_id": scenario.scenario_id,
        "suites": {p: file_hash(p) for p in suite_paths}, "suite_ticks": suite_ticks, "shadow": run_shadow_session}
    claim(out, "eval_config.json", record, force=force, what="an evaluation",
          hint="use another -o/--out, or --force to start over")
    mc = {}
    for which in POLICIES:
        say(f"Monte Carlo: {which}, {runs} runs")
        fn = functools.partial(episode, scenario, ticks, which, model_path)
        res = run_mc(fn, runs, base_seed, output_dir=out / "mc" / which, alpha=alpha, progress=False,
                     config_extra={"policy": which, "model_sha256": model_sha if which == "model" else None,
                                   "scenario": scenario_name, "ticks": ticks}, force=True)
        mc[which] = budget_row(res.summary, budget)
    stress_rows = stress(suite_paths, suite_ticks, model_path, out, say, suite_base_dir)
    shadow_row = None
    if run_shadow_session:
        say("shadow session")
        shadow_row = shadow(scenario, seeds[0], ticks, model_path, out)
    gates = gate(mc, stress_rows)
    report = {
        "eval_version": EVAL_VERSION, "model": os.path.basename(model_path), "model_sha256": model_sha,
        "tier": tier, "budget": record["budget"], "unreachable": unreachable_tiers({tier: budget}, runs, alpha).get(tier),
        "scenario": scenario_name, "ticks": ticks, "runs": runs, "base_seed": base_seed, "seeds": seeds,
        "risk_adjusted": f"mean PnL - {RISK_AVERSION} x CVaR(max drawdown)",
        "monte_carlo": mc, "stress": stress_rows, "shadow": shadow_row,
        "gates": gates, "passed": all(gates.values()),
    }
    report["failure_modes"] = failure_modes(mc, stress_rows, shadow_row, budget)
    write_file(str(out / "eval_report.json"), json.dumps(report, indent=2, sort_keys=True))
    write_file(str(out / "eval_report.md"), "\n".join(render_report(report)) + "\n")
    report["model_card"] = update_card(card_path, card, report) if card is not None else None
    return report


def load_card(path: str) -> dict | None:
    """The model card beside the model, or None (the report then says no card was updated)."""
    if not os.path.exists(path):
        return None
    from paraphina.errors import UserError

    try:
        with open(path, encoding="utf-8") as f:
            card = json.load(f)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable model card ({exc})") from None
    if not isinstance(card, dict):
        raise UserError(f"{path}: not a model card (expected a JSON object)")
    return card


def _f(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.2f}"


def _count(by_kind: dict) -> int:
    return sum(by_kind.values())


def render_report(r: dict) -> list[str]:
    b = r["budget"]
    lines = [f"## Evaluation gate: tier `{r['tier']}` ({'PASS' if r['passed'] else 'FAIL'})", "",
             f"- model sha256 `{r['model_sha256']}`; scenario {r['scenario']}, {r['runs']} held-out Monte Carlo runs "
             f"(base seed {r['base_seed']}), {r['ticks']} main ticks each",
             f"- budget: kill UCB <= {b['max_kill_ucb']:g}, drawdown CVaR <= {b['max_dd_cvar']:g} USD, PnL LCB >= "
             f"{b['min_pnl_lcb_usd']:g} USD (alpha {b['alpha']:g}); risk-adjusted = {r['risk_adjusted']}"]
    if r["unreachable"]:
        lines.append(f"- note: {r['unreachable']}")
    lines += ["", "| policy | mean PnL | PnL LCB | DD CVaR | kill rate | kill UCB | risk-adjusted | within budget |",
              "|---|---|---|---|---|---|---|---|"]
    for which in POLICIES:
        m = r["monte_carlo"][which]
        lines.append(f"| {which} | {_f(m['mean_pnl'])} | {_f(m['pnl_lcb'])} | {m['dd_cvar']:.2f} | {m['kill_rate']:.3f} "
                     f"| {m['kill_ucb']:.3f} | {_f(m['risk_adjusted'])} | {'yes' if m['within_budget'] else 'no'} |")
    if r["stress"]:
        lines += ["", "| suite | runs | ticks | failed (heuristic / model) | kills (h / m) | mean PnL (h / m) | new failures |",
                  "|---|---|---|---|---|---|---|"]
        for s in r["stress"]:
            lines.append(f"| {s['suite_id']} | {s['runs']} | {s['ticks'] or 'scenario'} | {s['failed']['heuristic']} / "
                         f"{s['failed']['model']} | {s['kills']['heuristic']} / {s['kills']['model']} | "
                         f"{_f(s['mean_pnl']['heuristic'])} / {_f(s['mean_pnl']['model'])} | {len(s['new_failures'])} |")
    sh = r["shadow"]
    if sh is not None:
        lines += ["", f"- shadow session (seed {sh['seed']}, {sh['ticks']} ticks): "
                      + ("identical action streams" if sh["identical"] else
                         f"diverges at action {sh['first_index']}; {_count(sh['only_in_baseline'])} actions only in "
                         f"the heuristic's stream, {_count(sh['only_in_candidate'])} only in the model's")
                      + f"; model fallbacks {sh['candidate_fallbacks'] or 'none'}; PnL heuristic "
                        f"{_f(sh['baseline_pnl'])}, model counterfactual {_f(sh['counterfactual_pnl'])}"]
    g = r["gates"]
    lines += ["", f"- gates: within budget {'yes' if g['within_budget'] else 'no'}, beats the heuristic "
                  f"{'yes' if g['beats_heuristic'] else 'no'}, no new stress failures "
                  f"{'yes' if g['no_new_stress_failures'] else 'no'}"]
    lines += [f"- failure mode: {x}" for x in r["failure_modes"]] or ["- failure modes: none found"]
    return lines


def update_card(card_path: str, card: dict, report: dict) -> str:
    """Record the evaluation in the model card (JSON ``evaluations.<tier>``; a markdown section
    after ``CARD_MARKER``, replaced on every evaluation). Returns the card's path."""
    keep = {k: report[k] for k in ("tier", "budget", "passed", "gates", "monte_carlo", "failure_modes", "runs",
                                   "base_seed", "ticks", "scenario", "model_sha256")}
    keep["stress"] = [{k: s[k] for k in ("suite_id", "runs", "failed", "kills", "mean_pnl", "new_failures")}
                      for s in report["stress"]]
    keep["shadow"] = ({k: report["shadow"][k] for k in ("identical", "only_in_baseline", "only_in_candidate",
                                                        "candidate_fallbacks")} if report["shadow"] else None)
    card.setdefault("evaluations", {})[report["tier"]] = keep
    write_file(card_path, json.dumps(card, indent=2, sort_keys=True))
    md_path = card_path[: -len(".json")] + ".md"
    head = ""
    if os.path.exists(md_path):
        with open(md_path, encoding="utf-8") as f:
            head = f.read().split(CARD_MARKER)[0]
    body = [CARD_MARKER, "", "# Evaluation gates (`paraphina rl eval`)", ""]
    for tier in sorted(card["evaluations"]):
        e = card["evaluations"][tier]
        body += [f"- tier `{tier}`: {'PASS' if e['passed'] else 'FAIL'}; budget targeted: kill UCB <= "
                 f"{e['budget']['max_kill_ucb']:g}, drawdown CVaR <= {e['budget']['max_dd_cvar']:g}, PnL LCB >= "
                 f"{e['budget']['min_pnl_lcb_usd']:g}; model mean PnL {_f(e['monte_carlo']['model']['mean_pnl'])} vs "
                 f"heuristic {_f(e['monte_carlo']['heuristic']['mean_pnl'])} over {e['runs']} held-out runs"]
        body += [f"  - stress {s['suite_id']}: failed heuristic {s['failed']['heuristic']} / model {s['failed']['model']}"
                 f" of {s['runs']}, new failures {len(s['new_failures'])}" for s in e["stress"]]
        body += [f"  - failure mode: {x}" for x in e["failure_modes"]]
    write_file(md_path, head.rstrip("\n") + "\n\n" + "\n".join(body) + "\n")
    return card_path
