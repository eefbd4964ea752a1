"""Phase A promotion pipeline: candidates -> Monte Carlo each -> Pareto -> per-tier winners.

One injected function evaluates a candidate for one run: ``evaluate(env, run_index, seed) ->
dict`` (the Monte Carlo ``run_fn`` contract of :mod:`paraphina.research.montecarlo`, with the
candidate's ``PARAPHINA_*`` overlay first). The simulator provides the real one,
``paraphina.research.simrun.candidate_run``; fast tests use ``paraphina.research.toy.toy_candidate_run``. For ``jobs > 1`` or Ray it must be picklable
(a module-level function).

Study directory (every path in every artefact is relative to it; no timestamps, no absolute
paths, so a fixed seed gives byte-identical artefacts)::

    study.json                      everything that determines the bytes: seed, counts, knob spec,
                                    budgets, evaluate function and its arguments, suites and the
                                    hashes of their files, versions (a resume must match it)
    trials/<trial_id>/candidate.env the candidate's overlay
    trials/<trial_id>/mc/           Monte Carlo output with its own evidence pack
    trials/<trial_id>/oos/<suite_id>_v<version>/
                                    each out-of-sample suite's results (summary.json) and evidence
                                    pack, in the order given (the guide: research_v1, then
                                    adversarial_regression_v1)
    trials.jsonl                    one line per trial, sorted by trial_id
    pareto.json, pareto.csv         the frontier (sorted by candidate_id)
    promotion.json                  per tier: winner or why none
    promoted/<tier>/phaseA_<study>.env, promoted/<tier>/PROMOTION_RECORD.json
    report.html                     plots (paraphina.research.report)
    evidence_pack/                  seals the whole tree (nested packs included)

Seeds: candidates come from ``numpy.random.default_rng(seed)``; every trial's Monte Carlo uses
the *same* base seed ``seed`` (common random numbers: candidates meet the same market paths, so
their differences are the knobs', not the noise's).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from batch_runs.orchestrator import write_csv
from batch_runs.phase_a.spec import (
    Candidate,
    KnobSpec,
    SpecError,
    env_file_text,
    generate_candidates,
)
from batch_runs.phase_a.samplers import DEFAULT_BATCH, DEFAULT_SAMPLER, Outcome, Proposal, budget_violation, make_sampler
from paraphina.config import ConfigError, config_hash, load_config
from paraphina.research import stats
from paraphina.research.evidence import (
    EXIT_OK,
    canonical_json,
    verify_evidence,
    versions,
    write_atomic,
    write_evidence_pack,
)
from paraphina.progress import Progress
from paraphina.research.montecarlo import SEED_RULE, run_mc
from paraphina.research.workers import WorkerPool
from paraphina.research.provenance import claim, file_hash

EvaluateFn = Callable[[Mapping[str, str], int, int], Mapping[str, Any]]
# suite(env) -> a report with ``rows`` (each with ``failures``) and ``to_json()``
# (paraphina.sim.suite.SuiteReport; paraphina.research.simrun.candidate_suite makes one).
SuiteFn = Callable[[Mapping[str, str]], Any]
STUDY_SCHEMA = 2
STUDY_FILE = "study.json"


class StudySuite(msgspec.Struct, frozen=True, kw_only=True):
    """One out-of-sample suite every candidate runs: its file (recorded with its hash and its
    scenarios' hashes), the ticks override if any, and the function that runs it:
    ``run(env, on_run=callback)`` (``paraphina.research.simrun.candidate_suite``; ``on_run``
    is :func:`paraphina.sim.suite.run_suite`'s progress callback)."""

    path: str
    run: SuiteFn
    ticks: int | None = None

    def provenance(self) -> dict[str, Any]:
        from paraphina.sim.suite import load_suite

        s = load_suite(self.path)
        return {"path": self.path, "sha256": file_hash(self.path), "suite_id": s.suite_id,
                "runs": sum(len(r.seeds) for r in s.runs) * s.repeat_runs,
                "suite_version": s.suite_version, "dir": suite_dir_name(s.suite_id, s.suite_version),
                "ticks": self.ticks, "scenarios": {r.path: file_hash(r.path) for r in s.runs}}


def suite_dir_name(suite_id: str, version: int) -> str:
    """``oos/<suite_id>_v<version>`` (``research_v1``, ``adversarial_regression_v1``)."""
    return f"{suite_id}_v{version}"
RECORD_SCHEMA = 3


class StudyResult(msgspec.Struct, frozen=True, kw_only=True):
    study_dir: str
    trials: int
    pareto: tuple[str, ...]  # candidate ids
    winners: dict[str, str | None]  # tier -> candidate id
    evidence_ok: bool
    unreachable: dict[str, str]  # tier -> why its kill budget cannot pass at this run count


def function_args(fn: Callable) -> dict[str, Any]:
    """Keyword arguments bound to a function through functools.partial (outermost wins)."""
    out: dict[str, Any] = {}
    while isinstance(fn, functools.partial):
        out = {**fn.keywords, **out}
        fn = fn.func
    return {k: out[k] for k in sorted(out)}


def unreachable_tiers(budgets: Mapping[str, stats.Budget], runs: int, alpha: float) -> dict[str, str]:
    """Tiers whose kill budget no candidate can meet with ``runs`` runs (even with zero kills)."""
    out = {}
    for tier, b in budgets.items():
        need = stats.runs_for_kill_bound(b.max_kill_ucb, alpha)
        if need is None or runs < need:
            best = stats.wilson_ucb(0, runs, alpha)
            out[tier] = (f"kill budget {b.max_kill_ucb:g} is out of reach at {runs} runs: with zero kills the "
                         f"one-sided Wilson bound is {best:.4f}; it needs "
                         + (f"at least {need} runs" if need is not None else "a positive budget"))
    return out


def function_name(fn: Callable) -> str:
    """``module:qualname`` of a function (through functools.partial)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def trial_id(i: int, cand: Candidate) -> str:
    return f"trial_{i:04d}_{cand.candidate_id}"


def resolved_config_hash(env: Mapping[str, str]) -> str:
    """Hash of the package-default Config under this overlay: the fallback for evaluate
    functions that do not simulate a paraphina config (the toy). A simulator study passes
    ``config_hash_fn`` so that the recorded hash is the one simulated."""
    try:
        return config_hash(load_config(None, dict(env), None))
    except ConfigError as exc:
        raise SpecError(f"candidate overlay does not make a valid config: {exc}") from None


def _score(cid: str, summary: Mapping[str, Any]) -> stats.CandidateScore:
    return stats.CandidateScore(key=cid, mean_pnl=summary["pnl"]["mean"], kill_ucb=summary["kill"]["ucb"],
                                dd_cvar=summary["max_drawdown"]["cvar"], pnl_lcb=summary["pnl"]["lcb"])


def _metrics(summary: Mapping[str, Any]) -> dict[str, Any]:
    p, d, k = summary["pnl"], summary["max_drawdown"], summary["kill"]
    return {"pnl_mean": p["mean"], "pnl_stdev": p["std"], "pnl_var": p["var"], "pnl_cvar": p["cvar"],
            "pnl_lcb": p["lcb"], "dd_mean": d["mean"], "dd_var": d["var"], "dd_cvar": d["cvar"],
            "kill_rate": k["probability"], "kill_k": k["count"], "kill_n": k["runs"], "kill_ucb": k["ucb"],
            "kill_ci_lower": k["ci_lower"], "kill_ci_upper": k["ci_upper"]}


def write_sampler_state(out: Path, gen: Any, told: int) -> None:
    """``sampler/state.json`` (settings and progress) and ``sampler/history.jsonl`` (one row per
    proposal: origin, parent, overlay, objectives, budget violation), rewritten after each batch."""
    write_atomic(out / "sampler" / "state.json", canonical_json({"schema_version": 1, **gen.provenance(),
                                                                 "told": told}))
    write_atomic(out / "sampler" / "history.jsonl",
                 "".join(canonical_json(r, indent=None) + "\n" for r in gen.history()))


def run_study(study_dir: str | Path, evaluate: EvaluateFn, *, seed: int, candidates: int, runs: int,
              knob_spec: KnobSpec, alpha: float, budgets: Mapping[str, stats.Budget], study_name: str = "study",
              jobs: int = 1, backend: str = "local", ray_address: str | None = None, chunk: int | None = None,
              commands: Sequence[str] = (), progress: bool | None = None, report: bool = True,
              suites: Sequence[StudySuite] = (), config_hash_fn: Callable[[Mapping[str, str]], str] | None = None,
              force: bool = False, inputs_extra: Mapping[str, Any] | None = None,
              reproduce: str | None = None,
              on_start: Callable[[Mapping[str, str]], None] | None = None,
              sampler: str = DEFAULT_SAMPLER, batch: int = DEFAULT_BATCH) -> StudyResult:
    """Run a whole Phase A study into ``study_dir`` (resumable: finished Monte Carlo runs are kept).

    ``study.json`` records every input that determines the artefacts; a resume whose inputs
    differ is refused naming the first difference, before anything is touched (``force``
    starts over). Every candidate runs each of ``suites`` in order into
    ``trials/<id>/oos/<suite_id>_v<version>/``; a candidate failing an invariant of any suite is
    not valid, so it is neither on the frontier nor promoted. ``config_hash_fn(env)`` gives the
    hash of the config the evaluate function simulates (recorded per trial and promotion).
    ``progress``: False silences it (paraphina.progress). ``reproduce`` is the command that
    re-runs a promoted candidate's Monte Carlo from its ``.env`` (``{env_file}`` and ``{out}``
    are filled in), recorded in PROMOTION_RECORD.json. ``on_start(unreachable)`` is called once
    the inputs are accepted, before any work, with the tiers whose kill budget is out of reach.

    ``sampler`` (:mod:`batch_runs.phase_a.samplers`) makes the candidates: ``random`` draws them
    all up front; the adaptive ones are asked ``batch`` candidates at a time and told each
    outcome in candidate order once the batch is evaluated. Its settings are inputs; what it did
    is ``sampler/state.json`` and ``sampler/history.jsonl``.
    """
    out = Path(study_dir)
    level = 1.0 - alpha
    suite_info = [st.provenance() for st in suites]
    gen = make_sampler(sampler, knob_spec, seed, candidates, batch, budgets)
    hash_of = config_hash_fn or resolved_config_hash
    # Each candidate's resolved config hash is an input too: it covers the preset file's content.
    # An adaptive sampler's candidates are not known up front: the config under each profile alone
    # stands in for the preset file's content, and each trial records its own hash.
    if sampler == "random":
        cands = generate_candidates(knob_spec, candidates, seed)
        cfg_hashes = {c.candidate_id: hash_of(c.env) for c in cands}
        hashes_input: dict[str, Any] = {"config_hashes": cfg_hashes}
    else:
        cfg_hashes = {}
        hashes_input = {"config_hashes_base": {p: hash_of({"PARAPHINA_RISK_PROFILE": p})
                                               for p in knob_spec.profiles}}
    inputs = {
        "schema_version": STUDY_SCHEMA,
        "study_name": study_name,
        "seed": seed,
        "candidates": candidates,
        "runs": runs,
        "alpha": alpha,
        "knob_spec": msgspec.to_builtins(knob_spec),
        "budgets": {t: msgspec.to_builtins(b) for t, b in budgets.items()},
        "evaluate": function_name(evaluate),
        "evaluate_args": function_args(evaluate),
        "evaluate_files": {v: file_hash(v) for v in function_args(evaluate).values()
                           if isinstance(v, str) and Path(v).is_file()},
        "config_hash": function_name(config_hash_fn) if config_hash_fn is not None else "package defaults + overlay",
        **hashes_input,
        "suites": suite_info,
        "seeds": {"candidates": f"numpy.random.default_rng({seed})", "mc_base_seed": seed, "mc_rule": SEED_RULE},
        "sampler": gen.provenance(),
        "versions": versions(),
        **dict(inputs_extra or {}),
    }
    claim(out, STUDY_FILE, inputs, force=force, what="a Phase A study", error=SpecError,
          hint="use another -o/--out, or --force to start over")
    unreachable = unreachable_tiers(budgets, runs, alpha)
    kill_floor = stats.wilson_ucb(0, runs, alpha)
    if on_start is not None:
        on_start(unreachable)
    trial_rows: list[dict[str, Any]] = []
    scores: list[stats.CandidateScore] = []
    by_id: dict[str, tuple[str, Candidate, dict[str, Any]]] = {}
    # One pool for the whole study: workers start, import and load the compiled kernels once,
    # not once per candidate.
    session = WorkerPool(jobs, backend, ray_address)
    # One count over everything simulated: every trial's Monte Carlo runs and suite runs.
    per_trial = runs + sum(info["runs"] for info in suite_info)
    bar = Progress("phase-a", candidates * per_trial, "runs", enabled=progress is not False)

    def evaluate_candidate(i: int, cand: Candidate) -> Outcome:
        tid = trial_id(i, cand)
        tdir = out / "trials" / tid
        bar.describe(f"trial {i + 1} of {candidates} ({tid}): monte carlo")
        env_text = env_file_text(cand.env, [f"paraphina Phase A candidate {cand.candidate_id} ({tid})"])
        write_atomic(tdir / "candidate.env", env_text)
        cfg_hash = cfg_hashes[cand.candidate_id] if cand.candidate_id in cfg_hashes else hash_of(cand.env)
        res = run_mc(functools.partial(evaluate, cand.env), runs, seed, jobs=jobs, backend=backend,
                     output_dir=tdir / "mc", ray_address=ray_address, level=level, alpha=alpha,
                     pool=pool, chunk=chunk,
                     progress=bar if progress is not False else False,
                     config_extra={"candidate_id": cand.candidate_id, "evaluate": function_name(evaluate),
                                   "evaluate_args": inputs["evaluate_args"], "config_hash": cfg_hash},
                     manifest_extra={"config_hash": cfg_hash, "commands": list(commands),
                                     "candidate_id": cand.candidate_id, "env_overlay": cand.env})
        verified = verify_evidence(tdir / "mc").code == EXIT_OK
        score = _score(cand.candidate_id, res.summary)
        passed: dict[str, bool] = {}
        for st, info in zip(suites, suite_info):
            bar.describe(f"trial {i + 1} of {candidates} ({tid}): suite {info['dir']}")
            rep = st.run(cand.env, on_run=lambda done, total, row: bar.update())
            sdir = tdir / "oos" / info["dir"]
            write_atomic(sdir / "summary.json", canonical_json(rep.to_json()))
            write_evidence_pack(sdir, {"config_hash": cfg_hash, "commands": list(commands),
                                       "candidate_id": cand.candidate_id, "suite": info})
            passed[info["suite_id"]] = (not any(r["failures"] for r in rep.rows)
                                        and verify_evidence(sdir).code == EXIT_OK)
        suites_ok: dict[str, bool] | None = passed if suites else None
        valid = verified and stats.is_valid(score) and all(passed.values())
        if valid:
            scores.append(score)
        row = {"trial_id": tid, "candidate_id": cand.candidate_id, "profile": cand.profile, "env": cand.env,
               "config_hash": cfg_hash, "mc_base_seed": seed, "runs": runs, "evidence_verified": verified,
               "suites_passed": suites_ok, "valid": valid, "metrics": _metrics(res.summary)}
        trial_rows.append(row)
        by_id[cand.candidate_id] = (tid, cand, row)
        violation = budget_violation(score, budgets, kill_floor) if stats.is_valid(score) else float("nan")
        return Outcome(score=score, valid=valid, violation=violation)

    with session as pool, bar:
        done = 0
        while done < candidates:
            # Ask a batch, evaluate it in order, then tell every outcome in candidate order.
            asked: list[Proposal] = gen.ask(min(batch, candidates - done))
            if not asked:
                break
            told = [(p, evaluate_candidate(done + j, p.candidate)) for j, p in enumerate(asked)]
            for p, outcome in told:
                gen.tell(p, outcome)
            done += len(asked)
            write_sampler_state(out, gen, done)
    trial_rows.sort(key=lambda r: r["trial_id"])
    write_atomic(out / "trials.jsonl", "".join(canonical_json(r, indent=None) + "\n" for r in trial_rows))

    frontier = stats.pareto_frontier(scores)
    front_ids = [s.key for s in frontier]
    pareto_rows = []
    for rank, s in enumerate(sorted(frontier, key=stats.winner_sort_key), 1):
        tid, cand, row = by_id[s.key]
        pareto_rows.append({"candidate_id": s.key, "trial_id": tid, "profile": cand.profile, "pareto_rank": rank,
                            "mean_pnl": s.mean_pnl, "kill_ucb": s.kill_ucb, "dd_cvar": s.dd_cvar, "pnl_lcb": s.pnl_lcb,
                            "kill_k": row["metrics"]["kill_k"], "kill_n": row["metrics"]["kill_n"]})
    pareto_rows.sort(key=lambda r: r["candidate_id"])
    write_atomic(out / "pareto.json", canonical_json({
        "schema_version": 1, "pareto_size": len(pareto_rows),
        "objectives": {"mean_pnl": "max", "kill_ucb": "min", "dd_cvar": "min"},
        "rank": "pareto_rank orders the frontier by the winner tie-breaks (-mean_pnl, dd_cvar, kill_ucb, candidate_id)",
        "candidates": pareto_rows}))
    write_csv([{k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()} for r in pareto_rows],
              out / "pareto.csv",
              columns=["pareto_rank", "candidate_id", "trial_id", "profile", "mean_pnl", "kill_ucb", "dd_cvar",
                       "pnl_lcb", "kill_k", "kill_n"])

    winners: dict[str, str | None] = {}
    promotion: dict[str, Any] = {}
    for tier, budget in budgets.items():
        win = stats.pick_winner(scores, budget)
        if win is None:
            winners[tier] = None
            promotion[tier] = {"winner": None, "budget": msgspec.to_builtins(budget),
                               "reason": unreachable.get(tier, "no valid candidate passes this tier's budget"),
                               "kill_budget_reachable": tier not in unreachable}
            continue
        winners[tier] = win.key
        tid, cand, row = by_id[win.key]
        m = row["metrics"]
        env_text = env_file_text(cand.env, [
            f"paraphina promoted preset: tier={tier} study={study_name} candidate={cand.candidate_id} trial={tid}",
            f"Metrics: pnl={m['pnl_mean']:.4f}, pnl_lcb={m['pnl_lcb']:.4f}, kill_ucb={m['kill_ucb']:.4f}, "
            f"dd_cvar={m['dd_cvar']:.4f}",
        ])
        pdir = out / "promoted" / tier
        env_name = f"phaseA_{study_name}.env"
        write_atomic(pdir / env_name, env_text)
        record = {
            "schema_version": RECORD_SCHEMA,
            "study_name": study_name,
            "tier": tier,
            "candidate_id": cand.candidate_id,
            "candidate_hash": hashlib.sha256(env_text.encode("utf-8")).hexdigest(),
            "preset_file": f"promoted/{tier}/{env_name}",
            "trial_id": tid,
            "trial_dir": f"trials/{tid}",
            "config_hash": row["config_hash"],
            "env_overlay": cand.env,
            "commands_run": list(commands),
            "evaluate": function_name(evaluate),
            "seeds": {"study_seed": seed, "mc_base_seed": seed, "runs": runs, "mc_rule": SEED_RULE},
            "evidence_verified": row["evidence_verified"],
            "on_pareto_frontier": win.key in front_ids,
            "budget": msgspec.to_builtins(budget),
            "metrics": m,
            "statistics": {
                "alpha": alpha,
                "methods": {"kill_ucb": "wilson one-sided", "pnl_lcb": "normal (sample std)",
                            "cvar": "Acerbi-Tasche expected shortfall of losses"},
                "z_source": "statistics.NormalDist().inv_cdf",
                "description": "pass = kill_ucb <= max_kill_ucb and dd_cvar <= max_dd_cvar and pnl_lcb >= "
                               "min_pnl_lcb_usd (inclusive); winner = best by (-mean_pnl, dd_cvar, kill_ucb, "
                               "candidate_id)",
            },
            "suites_passed": row["suites_passed"],  # {suite_id: bool} in run order; None: no suite
            "suites": suite_info,
            "evaluate_args": inputs["evaluate_args"],
            "kill_budget_reachable": tier not in unreachable,
            "reproduce": (reproduce.format(env_file=f"STUDY_DIR/promoted/{tier}/{env_name}",
                                           out=f"runs/reproduce_{cand.candidate_id}") if reproduce else None),
            "versions": versions(),
        }
        write_atomic(pdir / "PROMOTION_RECORD.json", canonical_json(record))
        promotion[tier] = {"winner": cand.candidate_id, "trial_id": tid, "preset_file": record["preset_file"]}
    write_atomic(out / "promotion.json", canonical_json({"schema_version": 1, "tiers": promotion,
                                                         "kill_budget_unreachable": unreachable}))
    if report:
        from paraphina.research.report import render_report

        write_atomic(out / "report.html", render_report(out))
    write_evidence_pack(out, {"seeds": inputs["seeds"], "commands": list(commands),
                              "study_name": study_name, "evaluate": function_name(evaluate)})
    ok = verify_evidence(out, recursive=True).code == EXIT_OK
    return StudyResult(study_dir=str(out), trials=len(trial_rows), pareto=tuple(front_ids), winners=winners,
                       evidence_ok=ok, unreachable=unreachable)

