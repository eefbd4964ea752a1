"""``python3 -m batch_runs.phase_a.promote_pipeline``: Phase A as the reference's guide runs it.

    python3 -m batch_runs.phase_a.promote_pipeline --smoke --study-dir runs/phaseA/smoke
    python3 -m batch_runs.phase_a.promote_pipeline --trials 100 --mc-runs 200 --mc-ticks 1200 \\
        --seed 42 --study full_research

Options and defaults are the guide's: ``--smoke`` (3 trials, 10 Monte Carlo runs, 100 ticks),
``--study NAME`` (default: the study directory's name, else a timestamped one), ``--study-dir
DIR`` (default ``runs/phaseA/<study>``), ``--trials`` 10, ``--mc-runs`` 50, ``--mc-ticks`` 600,
``--seed`` 42, ``--budgets batch_runs/phase_a/budgets.yaml``, ``--quiet/-q``, ``--sampler
random|pareto-mutation|tpe|cmaes`` (default random, see :mod:`batch_runs.phase_a.samplers`) and
``--batch`` (4: candidates an adaptive sampler proposes between updates). The evaluator is the
simulator (``paraphina.research.simrun:candidate_run`` over ``--scenario``, default
``scenarios/synth_baseline.yaml``), and every candidate then runs two out-of-sample suites, in
order: research, then adversarial regression (``scenarios/suites/research.yaml`` and
``adversarial_regression.yaml``, into ``oos/research_v1`` and ``oos/adversarial_regression_v1``).
``--smoke`` runs the suites at the Monte Carlo's tick count. ``paraphina phase-a`` is the same
pipeline with the CLI's option names (``--runs``, ``--ticks``). Budgets whose kill bound no
candidate can meet at the chosen run count are reported before anything runs and recorded.

Exit 0 when the study finished and its evidence tree verifies, 3 when verification failed,
2 on bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from paraphina.config import ConfigError
from paraphina.errors import UserError

from batch_runs.phase_a.pipeline import StudySuite, run_study
from batch_runs.phase_a.samplers import DEFAULT_BATCH, DEFAULT_SAMPLER, SAMPLERS
from batch_runs.phase_a.spec import DEFAULT_BUDGETS, HERE, SpecError, load_budgets, load_knob_spec

PROG = "python3 -m batch_runs.phase_a.promote_pipeline"
DEFAULT_EVALUATE = "paraphina.research.simrun:candidate_run"
DEFAULT_SCENARIO = "scenarios/synth_baseline.yaml"
DEFAULT_KNOBS_SIM = HERE / "knobs_btc.yaml"
DEFAULT_SUITES = ("scenarios/suites/research.yaml", "scenarios/suites/adversarial_regression.yaml")
SMOKE = {"trials": 3, "mc_runs": 10, "mc_ticks": 100}
DEFAULTS = {"trials": 10, "mc_runs": 50, "mc_ticks": 600}


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


def evaluate_kwargs(pairs: Sequence[str]) -> dict[str, str | int]:
    """``KEY=VALUE`` strings to keywords (integers where they parse as one)."""
    out: dict[str, str | int] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise SpecError(f"--evaluate-arg {pair!r}: expected KEY=VALUE")
        out[key] = int(value) if value.lstrip("-").isdigit() else value
    return out


def recorded_command(prog: str, argv: Sequence[str], dir_flags: Sequence[str] = ("--study-dir",)) -> str:
    """The command line with the study directory written as STUDY_DIR, so two identical studies
    in different directories have identical artefacts."""
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            out.append("STUDY_DIR")
            continue
        flag, eq, _ = a.partition("=")
        if flag in dir_flags and eq:
            out.append(f"{flag}=STUDY_DIR")
        elif a in dir_flags:
            out.append(a)
            skip = True
        else:
            out.append(a)
    return " ".join([prog, *out])


def _need_file(path: str, what: str) -> None:
    if not Path(path).is_file():
        raise SpecError(f"{what} {path}: no such file (run from the repository root, or give a path)")


def run_pipeline(*, study: str | None, study_dir: str | None, trials: int, runs: int, ticks: int, seed: int,
                 budgets: str | None, knobs: str | None, evaluate: str = DEFAULT_EVALUATE,
                 evaluate_args: Sequence[str] = (), scenario: str | None = None, policy: str | None = None,
                 config: str | None = None, suites: Sequence[str] | None = None, suite_ticks: int | None = None,
                 jobs: int = 1, backend: str = "local", ray_address: str | None = None, force: bool = False,
                 quiet: bool = False, report: bool = True, command: str = PROG, chunk: int | None = None,
                 sampler: str = DEFAULT_SAMPLER, batch: int = DEFAULT_BATCH) -> int:
    """The whole pipeline behind both front ends; returns the exit code (UserError: exit 2)."""
    for name, v in (("trials", trials), ("runs", runs), ("ticks", ticks), ("jobs", jobs), ("suite-ticks", suite_ticks),
                    ("chunk-size", chunk), ("batch", batch)):
        if v is not None and v < 1:
            raise SpecError(f"--{name} must be >= 1 (got {v})")
    if seed < 0:
        raise SpecError(f"--seed must be >= 0 (got {seed})")
    if study is None:
        study = Path(study_dir).name if study_dir else time.strftime("study_%Y%m%d_%H%M%S", time.gmtime())
    out = Path(study_dir) if study_dir else Path("runs") / "phaseA" / study
    fn = resolve_function(evaluate)
    simulator = fn is resolve_function(DEFAULT_EVALUATE)
    bound: dict[str, Any] = evaluate_kwargs(evaluate_args)
    if simulator:
        bound.setdefault("scenario", scenario or DEFAULT_SCENARIO)
        bound.setdefault("ticks", ticks)
        if policy:
            bound.setdefault("policy", policy)
        if config:
            bound.setdefault("config", config)
        _need_file(str(bound["scenario"]), "--scenario")
    elif scenario or policy or config:
        raise SpecError("--scenario, --policy and --config are for the simulator evaluator")
    spec = load_knob_spec(knobs or (DEFAULT_KNOBS_SIM if simulator else HERE / "knobs.yaml"))
    alpha, tiers = load_budgets(budgets or DEFAULT_BUDGETS)
    evaluate_fn = functools.partial(fn, **bound) if bound else fn
    suite_paths = list(DEFAULT_SUITES if suites is None and simulator else (suites or ()))
    study_suites: list[StudySuite] = []
    config_hash_fn = None
    reproduce = None
    if simulator:
        from paraphina.research.simrun import candidate_config_hash, candidate_suite

        config_hash_fn = functools.partial(candidate_config_hash, **bound)
        sim_args = {k: bound[k] for k in ("policy", "config") if k in bound}
        for path in suite_paths:
            _need_file(path, "--suite")
            study_suites.append(StudySuite(path=path, ticks=suite_ticks,
                                           run=functools.partial(candidate_suite, suite=path, ticks=suite_ticks,
                                                                 **sim_args)))
        reproduce = ("( . {env_file} && paraphina mc"
                     f" --scenario {bound['scenario']} --ticks {bound['ticks']} --runs {runs} --seed {seed}"
                     + (f" --policy {bound['policy']}" if "policy" in bound else "")
                     + (f" --config {bound['config']}" if "config" in bound else "")
                     + " --output-dir {out} )")
    elif suite_paths:
        raise SpecError("--suite runs the simulator: use it with the simulator evaluator")

    def announce(unreachable: Mapping[str, str]) -> None:
        """Up front (once the study directory accepted the inputs): what runs, what cannot pass."""
        if quiet:
            return
        for tier, why in unreachable.items():
            print(f"phase_a: warning: tier {tier}: {why}; it cannot promote in this study", file=sys.stderr)
        print(f"phase_a: study {study} -> {out}: {trials} trials ({sampler} sampler) x {runs} runs"
              + (f" x {bound['ticks']} ticks" if simulator else "")
              + (f", suites {', '.join(suite_paths)}" if suite_paths else ""), file=sys.stderr)

    res = run_study(out, evaluate_fn, seed=seed, candidates=trials, runs=runs, knob_spec=spec, alpha=alpha,
                    budgets=tiers, study_name=study, jobs=jobs, backend=backend, ray_address=ray_address,
                    chunk=chunk, commands=[command], progress=False if quiet else None, report=report, suites=study_suites,
                    config_hash_fn=config_hash_fn, force=force, reproduce=reproduce, on_start=announce,
                    sampler=sampler, batch=batch)
    print(f"study: {res.study_dir} ({res.trials} trials)")
    print(f"pareto: {len(res.pareto)} candidates: {', '.join(res.pareto)}")
    for tier, cid in res.winners.items():
        note = f" ({res.unreachable[tier]})" if tier in res.unreachable else ""
        print(f"tier {tier}: {cid or 'no winner'}{note}")
    print(f"evidence: {'verified' if res.evidence_ok else 'FAILED'}")
    return 0 if res.evidence_ok else 3


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description="Phase A promotion pipeline (the guide's interface).")
    ap.add_argument("--smoke", action="store_true", help="3 trials, 10 Monte Carlo runs, 100 ticks (suites too)")
    ap.add_argument("--study", default=None, help="study name (default: the study directory's name, else timestamped)")
    ap.add_argument("--study-dir", default=None, help="study directory (default: runs/phaseA/<study>)")
    ap.add_argument("--trials", type=int, default=None, help=f"candidates (default {DEFAULTS['trials']})")
    ap.add_argument("--mc-runs", type=int, default=None, help=f"Monte Carlo runs per candidate (default {DEFAULTS['mc_runs']})")
    ap.add_argument("--mc-ticks", type=int, default=None, help=f"ticks per run (default {DEFAULTS['mc_ticks']})")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--budgets", default=None, help="risk budgets per tier (default batch_runs/phase_a/budgets.yaml)")
    ap.add_argument("--knobs", default=None, help="knob ranges (default batch_runs/phase_a/knobs_btc.yaml)")
    ap.add_argument("--evaluate", default=DEFAULT_EVALUATE, help="module:function evaluate(env, run_index, seed)")
    ap.add_argument("--evaluate-arg", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--scenario", default=None, help=f"Monte Carlo scenario (default {DEFAULT_SCENARIO})")
    ap.add_argument("--suite", action="append", default=None, metavar="SUITE.yaml",
                    help="out-of-sample suite per candidate, repeatable, in order (default: research, adversarial regression)")
    ap.add_argument("--no-suites", action="store_true", help="run no out-of-sample suite")
    ap.add_argument("--suite-ticks", type=int, default=None, help="ticks per suite run (default: the suite's; --smoke: --mc-ticks)")
    ap.add_argument("--sampler", choices=SAMPLERS, default=DEFAULT_SAMPLER,
                    help="candidate generation (default random; see batch_runs/phase_a/samplers.py)")
    ap.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                    help=f"candidates an adaptive sampler proposes between updates (default {DEFAULT_BATCH})")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--backend", choices=("local", "ray"), default="local")
    ap.add_argument("--ray-address", default=None)
    ap.add_argument("--chunk-size", type=int, default=None,
                    help="runs per worker task (default: about 4 tasks per job, at most 64); never changes a byte")
    ap.add_argument("--force", action="store_true", help="start over when the study directory holds other inputs")
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--quiet", "-q", action="store_true", help="no progress, no warnings")
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    sizes = {**(SMOKE if args.smoke else DEFAULTS),
             **{k: v for k, v in (("trials", args.trials), ("mc_runs", args.mc_runs), ("mc_ticks", args.mc_ticks))
                if v is not None}}
    ticks = sizes["mc_ticks"]
    try:
        return run_pipeline(
            study=args.study, study_dir=args.study_dir, trials=sizes["trials"], runs=sizes["mc_runs"], ticks=ticks, seed=args.seed, budgets=args.budgets,
            knobs=args.knobs, evaluate=args.evaluate, evaluate_args=args.evaluate_arg, scenario=args.scenario,
            suites=[] if args.no_suites else args.suite,
            suite_ticks=args.suite_ticks if args.suite_ticks is not None else (ticks if args.smoke else None), jobs=args.jobs, backend=args.backend,
            ray_address=args.ray_address, force=args.force, quiet=args.quiet, report=not args.no_report,
            command=recorded_command(PROG, argv), chunk=args.chunk_size, sampler=args.sampler, batch=args.batch)
    except (UserError, ConfigError) as exc:
        print(f"phase_a: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
