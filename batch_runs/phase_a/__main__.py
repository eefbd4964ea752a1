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
import sys

from paraphina.config import ConfigError
from paraphina.errors import UserError

from batch_runs.phase_a.pipeline import StudySuite, run_study
from batch_runs.phase_a.samplers import DEFAULT_BATCH, DEFAULT_SAMPLER, SAMPLERS
from batch_runs.phase_a.promote_pipeline import evaluate_kwargs, recorded_command, resolve_function
from batch_runs.phase_a.spec import DEFAULT_BUDGETS, DEFAULT_KNOBS, SpecError, load_budgets, load_knob_spec


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
    ap.add_argument("--suite", action="append", default=[], metavar="SUITE.yaml",
                    help="also run this scenario suite per candidate (simulator evaluate only; repeatable, run "
                         "in order into trials/<id>/oos/<suite_id>_v<version>/); a failure disqualifies the candidate")
    ap.add_argument("--force", action="store_true", help="start over when the study directory holds other inputs")
    ap.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--backend", choices=("local", "ray"), default="local")
    ap.add_argument("--ray-address", default=None)
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--sampler", choices=SAMPLERS, default=DEFAULT_SAMPLER, help="candidate generation (default random)")
    ap.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="candidates an adaptive sampler proposes between updates")
    args = ap.parse_args(argv)
    if args.study_dir is None:
        ap.error("the following arguments are required: -o/--out")
    try:
        spec = load_knob_spec(args.knobs)
        alpha, budgets = load_budgets(args.budgets)
        evaluate = resolve_function(args.evaluate)
        bound = evaluate_kwargs(args.evaluate_arg)
        if bound:
            evaluate = functools.partial(evaluate, **bound)
        suites = []
        config_hash_fn = None
        if args.suite or args.evaluate == "paraphina.research.simrun:candidate_run":
            from paraphina.research.simrun import candidate_config_hash, candidate_run, candidate_suite

            if args.suite and resolve_function(args.evaluate) is not candidate_run:
                raise SpecError("--suite runs the simulator: use it with paraphina.research.simrun:candidate_run")
            config_hash_fn = functools.partial(candidate_config_hash, **bound)
            sim_args = {k: bound[k] for k in ("policy", "config") if k in bound}
            suites = [StudySuite(path=p, run=functools.partial(candidate_suite, suite=p, **sim_args))
                      for p in args.suite]
        res = run_study(args.study_dir, evaluate, seed=args.seed, candidates=args.candidates, runs=args.runs,
                        knob_spec=spec, alpha=alpha, budgets=budgets, study_name=args.study_name, jobs=args.jobs,
                        backend=args.backend, ray_address=args.ray_address,
                        commands=[recorded_command("python -m batch_runs.phase_a", argv, ("-o", "--out", "--study-dir"))],
                        report=not args.no_report, suites=suites, config_hash_fn=config_hash_fn, force=args.force,
                        progress=False if args.quiet else None, sampler=args.sampler, batch=args.batch)
    except (UserError, ConfigError) as exc:
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
