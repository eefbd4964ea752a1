"""Sampler study: a baseline sampler against another at equal budget, on the same seeds.

``paraphina phase-a-compare -o DIR --sampler tpe --seed 1 --seed 2 ...`` (or
``python3 -m batch_runs.phase_a.sampler_study`` with the same options) runs one Phase A study per
(sampler, seed) into ``DIR/<sampler>/seed_<seed>/`` (no out-of-sample suites: the comparison is
of the Monte Carlo frontier), every study with the same evaluator, knobs, budgets, trials and runs,
then compares the frontiers seed by seed::

    compare.json      the inputs (a rerun with other inputs is refused; the same ones resume)
    frontiers.csv     every study's Pareto frontier (sampler, seed, candidate, objectives)
    comparison.csv    per (sampler, seed): trials, valid, feasible (within a tier budget),
                      frontier size, hypervolume, frontier points the other samplers dominate,
                      share of the joint frontier, best mean PnL
    comparison.json   the same, the mean per sampler over the seeds, and a one-line verdict
    frontiers.png     per seed: mean PnL against drawdown CVaR (every trial faint, the
                      frontier bold); and the hypervolumes
    evidence_pack/    seals it all (the studies' own packs nested)

Hypervolume (``moocore.hypervolume``) is taken per seed over the objectives Phase A ranks by,
all turned into minimisation (``-mean_pnl``, ``kill_ucb``, ``dd_cvar``) and scaled to [0, 1] by
the ideal and nadir points of the union of *all* the samplers' frontiers on that seed (an objective
equal everywhere is left out), against the reference point 1.1 on each axis: how much of that box
the frontier dominates (at most 1.1 to the power of the axes kept), higher is better, comparable
across the samplers of one seed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from batch_runs.orchestrator import write_csv
from batch_runs.phase_a.promote_pipeline import (
    DEFAULT_EVALUATE,
    DEFAULTS,
    recorded_command,
    resolve_function,
    run_pipeline,
)
from batch_runs.phase_a.samplers import DEFAULT_BATCH, SAMPLERS
from batch_runs.phase_a.spec import DEFAULT_BUDGETS, SpecError, load_budgets, load_knob_spec
from paraphina.config import ConfigError
from paraphina.errors import UserError
from paraphina.research import stats
from paraphina.research.evidence import canonical_json, versions, write_atomic, write_evidence_pack
from paraphina.research.provenance import claim

PROG = "paraphina phase-a-compare"
COMPARE_FILE = "compare.json"
REFERENCE = 1.1  # hypervolume reference point on each scaled axis
OBJECTIVE_SIGNS = {"mean_pnl": -1.0, "kill_ucb": 1.0, "dd_cvar": 1.0}  # to minimisation


def load_trials(study_dir: Path) -> list[dict[str, Any]]:
    """A study's trials.jsonl rows."""
    return [json.loads(line) for line in (study_dir / "trials.jsonl").read_text(encoding="utf-8").splitlines()]


def score_of(row: Mapping[str, Any]) -> stats.CandidateScore:
    m = row["metrics"]
    return stats.CandidateScore(key=row["candidate_id"], mean_pnl=m["pnl_mean"], kill_ucb=m["kill_ucb"],
                                dd_cvar=m["dd_cvar"], pnl_lcb=m["pnl_lcb"])


def scaled(scores: Sequence[stats.CandidateScore], lo: np.ndarray, span: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Scores as minimisation points scaled by the ideal ``lo`` and range ``span`` (kept axes)."""
    pts = np.array([[OBJECTIVE_SIGNS[k] * getattr(s, k) for k in OBJECTIVE_SIGNS] for s in scores], dtype=float)
    return ((pts - lo) / span)[:, keep] if len(pts) else np.zeros((0, int(keep.sum())))


def hypervolume(points: np.ndarray) -> float:
    """Hypervolume of scaled minimisation points against :data:`REFERENCE` on each axis."""
    import moocore

    if not len(points) or points.shape[1] == 0:
        return 0.0
    return float(moocore.hypervolume(points, ref=np.full(points.shape[1], REFERENCE)))


def compare_seed(valid_by_sampler: Mapping[str, list[stats.CandidateScore]]) -> dict[str, dict[str, Any]]:
    """Frontier figures of each sampler against the others on one seed (see the module doc)."""
    fronts = {name: stats.pareto_frontier(scores) for name, scores in valid_by_sampler.items()}
    everyone = [s for front in fronts.values() for s in front]
    if everyone:
        allpts = np.array([[OBJECTIVE_SIGNS[k] * getattr(s, k) for k in OBJECTIVE_SIGNS] for s in everyone])
        lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    else:
        lo = hi = np.zeros(len(OBJECTIVE_SIGNS))
    keep = hi > lo
    span = np.where(keep, hi - lo, 1.0)
    joint = stats.pareto_frontier(
        stats.CandidateScore(key=f"{name}/{s.key}", mean_pnl=s.mean_pnl, kill_ucb=s.kill_ucb, dd_cvar=s.dd_cvar,
                             pnl_lcb=s.pnl_lcb) for name, front in fronts.items() for s in front)
    out: dict[str, dict[str, Any]] = {}
    for name, front in fronts.items():
        others = [o for other, f in fronts.items() if other != name for o in f]
        out[name] = {
            "pareto_size": len(front),
            "hypervolume": hypervolume(scaled(front, lo, span, keep)),
            "dominated_by_others": sum(1 for s in front if any(stats.dominates(o, s) for o in others)),
            "joint_frontier_share": sum(1 for s in joint if s.key.startswith(f"{name}/")),
            "best_mean_pnl": max((s.mean_pnl for s in valid_by_sampler[name]), default=None),
        }
    return out


def plot_frontiers(path: Path, studies: Mapping[tuple[str, int], list[stats.CandidateScore]],
                   fronts: Mapping[tuple[str, int], list[stats.CandidateScore]], samplers: Sequence[str],
                   seeds: Sequence[int], hv: Mapping[tuple[str, int], float]) -> None:
    """frontiers.png: one panel per seed (mean PnL against drawdown CVaR) and the hypervolumes."""
    import matplotlib
    from matplotlib.figure import Figure

    from paraphina.research.plots import PALETTE, RC

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(4.2 * (len(seeds) + 1), 3.6), dpi=100, layout="constrained")
        axes = fig.subplots(1, len(seeds) + 1, squeeze=False)[0]
        for ax, seed in zip(axes, seeds):
            for i, name in enumerate(samplers):
                colour = PALETTE[i % len(PALETTE)]
                pts = studies[(name, seed)]
                ax.scatter([s.dd_cvar for s in pts], [s.mean_pnl for s in pts], s=10, color=colour, alpha=0.25)
                front = sorted(fronts[(name, seed)], key=lambda s: (s.dd_cvar, -s.mean_pnl))
                ax.plot([s.dd_cvar for s in front], [s.mean_pnl for s in front], "o-", color=colour, markersize=4,
                        label=f"{name} (hv {hv[(name, seed)]:.3f})")
            ax.set_title(f"seed {seed}")
            ax.set_xlabel("drawdown CVaR (USD, lower is better)")
            ax.set_ylabel("mean PnL (USD)")
            ax.legend()
        ax = axes[-1]
        width = 0.8 / len(samplers)
        for i, name in enumerate(samplers):
            ax.bar([j + i * width for j in range(len(seeds))], [hv[(name, s)] for s in seeds], width=width,
                   color=PALETTE[i % len(PALETTE)], label=name)
        ax.set_xticks([j + width * (len(samplers) - 1) / 2 for j in range(len(seeds))], [str(s) for s in seeds])
        ax.set_xlabel("seed")
        ax.set_title("hypervolume (higher is better)")
        ax.legend()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    write_atomic(path, buf.getvalue())


def run_compare(out: str | Path, *, samplers: Sequence[str], seeds: Sequence[int], trials: int, runs: int, ticks: int,
                evaluate: str = DEFAULT_EVALUATE, evaluate_args: Sequence[str] = (), knobs: str | None = None,
                budgets: str | None = None, scenario: str | None = None, policy: str | None = None,
                config: str | None = None, batch: int = DEFAULT_BATCH, jobs: int = 1, force: bool = False,
                quiet: bool = False, command: str = PROG) -> dict[str, Any]:
    """Run the studies and write the comparison; returns comparison.json's content."""
    samplers = list(dict.fromkeys(samplers))
    seeds = list(dict.fromkeys(seeds))
    if len(samplers) < 2:
        raise SpecError("a comparison needs two different samplers (--baseline and --sampler)")
    for name in samplers:
        if name not in SAMPLERS:
            raise SpecError(f"--sampler {name!r}: expected one of {', '.join(SAMPLERS)}")
    if not seeds or any(s < 0 for s in seeds):
        raise SpecError("--seed must be >= 0 (give one or more)")
    # Bad inputs are refused before the directory is claimed (the studies check the rest).
    _, tiers = load_budgets(budgets or DEFAULT_BUDGETS)
    if knobs is not None:
        load_knob_spec(knobs)
    resolve_function(evaluate)
    for flag, path in (("--scenario", scenario), ("--config", config)):
        if path is not None and path.endswith((".yaml", ".yml", ".toml", ".json")) and not Path(path).is_file():
            raise SpecError(f"{flag} {path}: no such file")
    out = Path(out)
    inputs = {"schema_version": 1, "samplers": samplers, "seeds": seeds, "trials": trials, "runs": runs,
              "ticks": ticks, "evaluate": evaluate, "evaluate_args": list(evaluate_args), "knobs": knobs,
              "budgets": budgets, "scenario": scenario, "policy": policy, "config": config, "batch": batch,
              "suites": [], "versions": versions()}
    claim(out, COMPARE_FILE, inputs, force=force, what="a sampler comparison", error=SpecError,
          hint="use another -o/--out, or --force to start over")
    studies: dict[tuple[str, int], list[stats.CandidateScore]] = {}
    counts: dict[tuple[str, int], dict[str, int]] = {}
    for seed in seeds:
        for name in samplers:
            sdir = out / name / f"seed_{seed}"
            if not quiet:
                print(f"phase-a-compare: {name} seed {seed}: {trials} trials x {runs} runs -> {sdir}", file=sys.stderr)
            with contextlib.redirect_stdout(io.StringIO()):  # the studies' own summaries: read back below
                code = run_pipeline(study=f"{name}_seed_{seed}", study_dir=str(sdir), trials=trials, runs=runs,
                                    ticks=ticks, seed=seed, budgets=budgets, knobs=knobs, evaluate=evaluate,
                                    evaluate_args=evaluate_args, scenario=scenario, policy=policy, config=config,
                                    suites=[], jobs=jobs, force=force, quiet=True, report=False,
                                    command=f"{command} (study {name} seed {seed})", sampler=name, batch=batch)
            if code != 0:
                raise UserError(f"{sdir}: the study's evidence did not verify (exit {code})")
            rows = load_trials(sdir)
            valid = [score_of(r) for r in rows if r["valid"]]
            studies[(name, seed)] = valid
            counts[(name, seed)] = {"trials": len(rows), "valid": len(valid),
                                    "feasible": sum(1 for s in valid
                                                    if any(stats.passes_budget(s, b) for b in tiers.values()))}
    table: list[dict[str, Any]] = []
    fronts: dict[tuple[str, int], list[stats.CandidateScore]] = {}
    hv: dict[tuple[str, int], float] = {}
    frontier_rows: list[dict[str, Any]] = []
    for seed in seeds:
        figures = compare_seed({name: studies[(name, seed)] for name in samplers})
        for name in samplers:
            fronts[(name, seed)] = stats.pareto_frontier(studies[(name, seed)])
            hv[(name, seed)] = figures[name]["hypervolume"]
            table.append({"sampler": name, "seed": seed, **counts[(name, seed)], **figures[name]})
            frontier_rows += [{"sampler": name, "seed": seed, "candidate_id": s.key, "mean_pnl": s.mean_pnl,
                               "kill_ucb": s.kill_ucb, "dd_cvar": s.dd_cvar, "pnl_lcb": s.pnl_lcb}
                              for s in fronts[(name, seed)]]
    means = {name: {k: float(np.mean([r[k] for r in table if r["sampler"] == name]))
                    for k in ("hypervolume", "dominated_by_others", "joint_frontier_share", "pareto_size", "feasible")}
             for name in samplers}
    base, other = samplers[0], samplers[1:]
    lines = []
    for name in other:
        wins = sum(1 for s in seeds if hv[(name, s)] > hv[(base, s)])
        diff = means[name]["hypervolume"] - means[base]["hypervolume"]
        lines.append(f"{name} vs {base}: mean hypervolume {means[name]['hypervolume']:.4f} vs "
                     f"{means[base]['hypervolume']:.4f} ({diff:+.4f}), higher on {wins} of {len(seeds)} seeds; "
                     f"frontier points dominated by the other: {means[name]['dominated_by_others']:.2f} vs "
                     f"{means[base]['dominated_by_others']:.2f} (mean per seed)")
    write_csv([{k: _fmt(v) for k, v in r.items()} for r in frontier_rows], out / "frontiers.csv",
              columns=["sampler", "seed", "candidate_id", "mean_pnl", "kill_ucb", "dd_cvar", "pnl_lcb"])
    write_csv([{k: _fmt(v) for k, v in r.items()} for r in table], out / "comparison.csv",
              columns=["sampler", "seed", "trials", "valid", "feasible", "pareto_size", "hypervolume",
                       "dominated_by_others", "joint_frontier_share", "best_mean_pnl"])
    result = {"schema_version": 1, "baseline": base, "samplers": samplers, "seeds": seeds, "trials": trials,
              "runs": runs, "per_seed": table, "mean": means, "verdict": lines,
              "hypervolume": {"objectives": "-mean_pnl, kill_ucb, dd_cvar scaled by the per-seed ideal and nadir of "
                                            "the union of the samplers' frontiers; constant objectives dropped",
                              "reference": REFERENCE, "library": "moocore.hypervolume"}}
    write_atomic(out / "comparison.json", canonical_json(result))
    plot_frontiers(out / "frontiers.png", studies, fronts, samplers, seeds, hv)
    write_evidence_pack(out, {"commands": [command], "seeds": {"studies": seeds}})
    return result


def _fmt(v: Any) -> Any:
    return f"{v:.6f}" if isinstance(v, float) else v


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python3 -m batch_runs.phase_a.sampler_study",
                                 description="Compare a Phase A sampler against the random baseline at equal budget.")
    ap.add_argument("-o", "--out", required=True, help="comparison directory")
    ap.add_argument("--sampler", default="tpe", choices=SAMPLERS, help="the sampler compared (default tpe)")
    ap.add_argument("--baseline", default="random", choices=SAMPLERS, help="the baseline (default random)")
    ap.add_argument("--seed", type=int, action="append", default=None, help="study seed, repeatable (default 42)")
    ap.add_argument("--trials", type=int, default=DEFAULTS["trials"])
    ap.add_argument("--runs", type=int, default=DEFAULTS["mc_runs"])
    ap.add_argument("--ticks", type=int, default=DEFAULTS["mc_ticks"])
    ap.add_argument("--evaluate", default=DEFAULT_EVALUATE)
    ap.add_argument("--evaluate-arg", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--knobs", default=None)
    ap.add_argument("--budgets", default=None)
    ap.add_argument("--scenario", default=None)
    ap.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--quiet", "-q", action="store_true")
    return ap


def print_result(out: str | Path, result: Mapping[str, Any]) -> None:
    print(f"comparison: {out}")
    for line in result["verdict"]:
        print(line)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = run_compare(args.out, samplers=[args.baseline, args.sampler], seeds=args.seed or [42],
                             trials=args.trials, runs=args.runs, ticks=args.ticks, evaluate=args.evaluate,
                             evaluate_args=args.evaluate_arg, knobs=args.knobs, budgets=args.budgets,
                             scenario=args.scenario, batch=args.batch, jobs=args.jobs, force=args.force,
                             quiet=args.quiet, command=recorded_command(
                                 "python3 -m batch_runs.phase_a.sampler_study",
                                 argv if argv is not None else sys.argv[1:], dir_flags=("-o", "--out")))
    except (UserError, ConfigError) as exc:
        print(f"sampler_study: error: {exc}", file=sys.stderr)
        return 2
    print_result(args.out, result)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
