"""``python -m batch_runs.phase_a``: run a Phase A study from one command.

Examples: a study on the simulator (each candidate: Monte Carlo over a scenario, then a suite)::

    python -m batch_runs.phase_a -o runs/phaseA_btc --seed 7 --candidates 6 --runs 30 \\
        --knobs batch_runs/phase_a/knobs_btc.yaml --evaluate paraphina.research.simrun:candidate_run \\
        --evaluate-arg scenario=scenarios/synth_baseline.yaml --evaluate-arg ticks=400 \\
        --suite scenarios/suites/smoke.yaml --jobs 2

and a synthetic smoke study of the pipeline itself with the toy evaluate function::

    python -m batch_runs.phase_a -o runs/phaseA_smoke --seed 7 --candidates 4 --runs 20 \\
        --evaluate paraphina.research.toy:toy_candidate_run

Exit 0 when the study finished and its evidence tree verifies, 3 when verification failed,
2 on bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys

from paraphina.errors import UserError

from batch_runs.phase_a.pipeline import run_study
from batch_runs.phase_a.spec import DEFAULT_BUDGETS, DEFAULT_KNOBS, SpecError, load_budgets, load_knob_spec


def resolve_function(spec: str):
    """``module:function`` to the function; SpecError in one line otherwise."""
    mod_name, _, attr = spec.partition(":")
    if not mod_name or not attr:
        raise SpecError(f"--evaluate {spec!r}: expected module:function")
    try:
        obj = importlib.import_module(mod_name)
    except ImportError as exc:
        raise SpecError(f"--evaluate {spec!r}: cannot import {mod_name} ({exc})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SpecError(f"--evaluate {spec!r}: {mod_name} has no {attr}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise SpecError(f"--evaluate {spec!r}: not callable")
    return obj


def evaluate_kwargs(pairs: list[str]) -> dict[str, str | int]:
    """``KEY=VALUE`` strings to keywords (integers where they parse as one)."""
    out: dict[str, str | int] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise SpecError(f"--evaluate-arg {pair!r}: expected KEY=VALUE")
        out[key] = int(value) if value.lstrip("-").isdigit() else value
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m batch_runs.phase_a", description="Phase A promotion study.")
    ap.add_argument("-o", "--out", dest="study_dir", metavar="STUDY_DIR", help="the study directory")
    ap.add_argument("--study-dir", dest="study_dir", help=argparse.SUPPRESS)  # old spelling of -o/--out
    ap.add_argument("--study-name", default="study")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--runs", type=int, default=50, help="Monte Carlo runs per candidate")
    ap.add_argument("--knobs", default=str(DEFAULT_KNOBS), help="knob ranges (YAML or TOML)")
    ap.add_argument("--budgets", default=str(DEFAULT_BUDGETS), help="risk budgets per tier (YAML)")
    ap.add_argument("--evaluate", required=True,
                    help="module:function, evaluate(env, run_index, seed) -> dict for one simulated run")
    ap.add_argument("--evaluate-arg", action="append", default=[], metavar="KEY=VALUE",
                    help="keyword bound to the evaluate function (repeatable), e.g. scenario=FILE, ticks=400")
    ap.add_argument("--suite", default=None, metavar="SUITE.yaml",
                    help="also run this scenario suite per candidate (simulator evaluate only); a failure "
                         "disqualifies the candidate")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--backend", choices=("local", "ray"), default="local")
    ap.add_argument("--ray-address", default=None)
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args(argv)
    if args.study_dir is None:
        ap.error("the following arguments are required: -o/--out")
    # The recorded command names the study directory generically so that two identical studies in
    # different directories have identical artefacts.
    recorded = []
    skip = False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            recorded.append("STUDY_DIR")
        elif a in ("--study-dir", "-o", "--out"):
            recorded.append(a)
            skip = True
        elif a.startswith(("--study-dir=", "--out=")):
            recorded.append(a.split("=", 1)[0] + "=STUDY_DIR")
        else:
            recorded.append(a)
    try:
        spec = load_knob_spec(args.knobs)
        alpha, budgets = load_budgets(args.budgets)
        evaluate = resolve_function(args.evaluate)
        bound = evaluate_kwargs(args.evaluate_arg)
        if bound:
            evaluate = functools.partial(evaluate, **bound)
        suite = None
        if args.suite:
            from paraphina.research.simrun import candidate_suite

            suite = functools.partial(candidate_suite, suite=args.suite,
                                      **{k: bound[k] for k in ("policy", "config") if k in bound})
        res = run_study(args.study_dir, evaluate, seed=args.seed, candidates=args.candidates, runs=args.runs,
                        knob_spec=spec, alpha=alpha, budgets=budgets, study_name=args.study_name, jobs=args.jobs,
                        backend=args.backend, ray_address=args.ray_address,
                        commands=[" ".join(["python -m batch_runs.phase_a", *recorded])],
                        report=not args.no_report, suite=suite)
    except UserError as exc:
        print(f"phase_a: error: {exc}", file=sys.stderr)
        return 2
    print(f"study: {res.study_dir} ({res.trials} trials)")
    print(f"pareto: {len(res.pareto)} candidates: {', '.join(res.pareto)}")
    for tier, cid in res.winners.items():
        print(f"tier {tier}: {cid or 'no winner'}")
    print(f"evidence: {'verified' if res.evidence_ok else 'FAILED'}")
    return 0 if res.evidence_ok else 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
