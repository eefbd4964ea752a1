"""Research commands: ``mc``, ``mc-merge``, ``verify-evidence``, ``report``.

``paraphina mc`` runs the simulator (:class:`paraphina.research.simrun.ScenarioRun`) through the
Monte Carlo driver; :func:`mc_command_impl` is its body without the simulator, so another run
function (a plugin's own simulator, the toy in tests) can be driven the same way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from paraphina import __version__
from paraphina.cli import cli
from paraphina.commands.common import config_options, force_option, model_option, output_option, policy_spec
from paraphina.errors import UserError
from paraphina.outputs import check_output
from paraphina.research.evidence import EXIT_OK, verify_evidence, write_atomic


@cli.command("verify-evidence")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--recursive", "-r", is_flag=True, help="Verify every evidence_pack found below DIRECTORY.")
def verify_evidence_cmd(directory: Path, recursive: bool) -> None:
    """Check an evidence pack: exit 0 ok, 3 a file is modified, missing or unexpected, 2 error."""
    rep = verify_evidence(directory, recursive=recursive)
    for p in rep.problems:
        click.echo(p, err=True)
    if rep.code == EXIT_OK:
        click.echo(f"ok: {len(rep.packs)} evidence pack{'s' if len(rep.packs) != 1 else ''} verified")
    else:
        click.echo(f"{'MISMATCH' if rep.code == 3 else 'ERROR'}: {len(rep.problems)} problem(s) "
                   f"in {len(rep.packs)} pack(s)", err=True)
    sys.exit(rep.code)


@cli.command("report")
@click.argument("target", metavar="LOG|DIR", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output HTML (default: beside the input: LOG's name or DIR's name + .report.html).")
@click.option("--policy", default=None, help="Policy to replay LOG with (default: the one it was recorded with).")
@config_options
@model_option
@click.option("--actions", "actions_path", default=None, metavar="ACTIONS",
              help="The run's recorded action stream, checked against the replay (default: LOG.actions or "
                   "LOG.baseline.actions if present).")
@click.option("--telemetry", "telemetry_path", default=None, metavar="FILE",
              help="A telemetry JSONL of the run: its latent_price (simulated runs) is drawn against the fair value.")
@force_option("HTML file")
def report_cmd(target: Path, out: Path | None, policy, config_path, profile, model_path, actions_path,
               telemetry_path, force: bool) -> None:
    """Render one run (an event log: run, backtest, shadow, record, or any log replayed) or a Monte Carlo or
    Phase A study directory as an HTML page with plots.

    The page is written beside its input, never into an evidence pack (which it would break).
    """
    if not target.exists():
        raise UserError(f"{target}: no such file or directory")
    out = out or target.parent / f"{target.stem if target.is_file() else target.name}.report.html"
    pack = enclosing_evidence_pack(out)
    if pack is not None:
        raise UserError(f"{out}: inside the evidence pack of {pack} (writing there breaks verify-evidence); "
                        "choose -o outside it")
    if target.is_dir():
        if any(x is not None for x in (policy, config_path, profile, model_path, actions_path, telemetry_path)):
            raise UserError(f"{target}: --policy, --config, --profile, --model, --actions and --telemetry are for a "
                            "log, not a directory")
        from paraphina.research.report import render_report

        # Every file of the study is an input but earlier pages (an HTML file is never read).
        check_output(out, inputs=[p for p in sorted(target.rglob("*")) if p.is_file() and p.suffix != ".html"],
                     force=force)
        page = render_report(target)
    else:
        check_output(out, inputs=(target, config_path, model_path, actions_path, telemetry_path), force=force)
        page = _run_report_page(str(target), policy, config_path, profile, model_path, actions_path, telemetry_path)
    try:
        write_atomic(out, page)
    except OSError as exc:
        raise UserError(f"{out}: cannot write ({exc.strerror})") from None
    sealed = target.is_dir() and (target / "evidence_pack").is_dir()
    click.echo(f"Wrote: {out}" + (f" (outside {target}: its evidence pack is left as it was)" if sealed else ""))


def enclosing_evidence_pack(path: Path) -> Path | None:
    """The outermost directory above ``path`` that holds an evidence pack, if any."""
    found = None
    for parent in Path(os.path.abspath(path)).parents:
        if (parent / "evidence_pack" / "SHA256SUMS").is_file():
            found = parent
    return found


def _run_report_page(log: str, policy, config_path, profile, model_path, actions_path, telemetry_path) -> str:
    from paraphina.commands.common import resolve_config
    from paraphina.commands.replay import policy_for_log
    from paraphina.research.run_report import render_run_report
    from paraphina.research.run_trace import trace_run

    cfg, _ = resolve_config(config_path, profile, log=log)
    spec = policy_spec(policy or policy_for_log(log), model_path)
    if actions_path is None:  # what record and shadow write beside a session: the baseline's stream
        actions_path = next((p for p in (f"{log}.actions", f"{log}.baseline.actions") if os.path.isfile(p)), None)
    trace = trace_run(log, spec() if callable(spec) else spec, cfg, telemetry=telemetry_path, actions_file=actions_path)
    return render_run_report(trace)


@cli.command("mc-merge")
@click.argument("shards", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the merged Monte Carlo (must not already hold runs).")
def mc_merge_cmd(shards: tuple[Path, ...], out: Path) -> None:
    """Join Monte Carlo shard directories; rejects duplicate and missing run indices (exit 2)."""
    from paraphina.research.montecarlo import format_summary, merge_shards

    summary = merge_shards(shards, out, manifest_extra={"commands": [_command_line()],
                                                        "merged_from": [str(s) for s in shards]})
    for line in format_summary(summary):
        click.echo(line)
    for name in ("mc_runs.jsonl", "mc_summary.json", "evidence_pack/SHA256SUMS"):
        click.echo(f"Wrote: {out / name}")


def _command_line() -> str:
    return " ".join(["paraphina", *sys.argv[1:]])


def mc_options(f):
    """The Monte Carlo flags; the decorated command receives them as keyword arguments matching
    :func:`mc_command_impl`."""
    opts = [
        click.option("--runs", type=click.IntRange(min=1), default=50, show_default=True, help="Total runs of the Monte Carlo."),
        click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Base seed (run seeds derive from it)."),
        click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Parallel workers (1 = inline)."),
        click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True),
        click.option("--ray-address", default=None, help="Ray cluster address (default: start a local Ray)."),
        click.option("--chunk-size", "chunk", type=click.IntRange(min=1), default=None,
                     help="Runs per worker task (default: about 4 tasks per job, at most 64 runs); never changes a byte."),
        click.option("--run-start-index", "start_index", type=click.IntRange(min=0), default=0, show_default=True,
                     help="First run index of this shard."),
        click.option("--run-count", "count", type=click.IntRange(min=1), default=None, help="Runs in this shard (default: to the end)."),
        click.option("--print-every", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Print every N-th run's line (run i/n, seed, pnl, maxDD, kill, ticks); 0: none."),
        click.option("--quiet", is_flag=True, help="Only errors (no progress either)."),
        click.option("--force", is_flag=True,
                     help="Start over when the output directory holds a Monte Carlo with other inputs."),
    ]
    for o in reversed(opts):
        f = o(f)
    return output_option("--output-dir", dest="output_dir", metavar="DIR", default="runs/mc",
                         help="The Monte Carlo directory (re-running the same inputs resumes it).")(f)


def mc_command_impl(run_fn, *, runs: int, seed: int, jobs: int = 1, backend: str = "local",
                    ray_address: str | None = None, chunk: int | None = None, output_dir: str = "runs/mc",
                    start_index: int = 0,
                    count: int | None = None, quiet: bool = False, force: bool = False, print_every: int = 0,
                    config_hash: str | None = None,
                    config_extra: Mapping[str, Any] | None = None, commands: Sequence[str] | None = None) -> int:
    """Everything ``paraphina mc`` does except simulating: run, summarise, print, evidence.

    ``run_fn(run_index, seed) -> dict`` is one simulated run (see paraphina.research.montecarlo).
    Returns the exit code (0). Errors raise UserError subclasses (the CLI prints one line, exit 2).
    """
    from paraphina.research.montecarlo import format_summary, run_mc

    end = start_index + (count if count is not None else runs - start_index)
    if not quiet:
        click.echo(f"paraphina-mc v{__version__} | runs={runs} | range=[{start_index},{end}) | seed={seed} | "
                   f"backend={backend} | jobs={jobs}" + (f" | config_hash={config_hash}" if config_hash else ""))
    extra: dict[str, Any] = {"commands": list(commands) if commands is not None else [_command_line()]}
    if config_hash is not None:
        extra["config_hash"] = config_hash
    cfg_extra = dict(config_extra or {})
    if config_hash is not None:
        cfg_extra.setdefault("config_hash", config_hash)
    res = run_mc(run_fn, runs, seed, jobs=jobs, backend=backend, output_dir=output_dir, start_index=start_index,
                 count=count, ray_address=ray_address, chunk=chunk, progress=None if not quiet else False,
                 manifest_extra=extra, config_extra=cfg_extra, force=force)
    if not quiet:
        if res.runs_skipped:
            click.echo(f"resumed: {res.runs_skipped} runs already present, {res.runs_executed} run now")
        if print_every:
            for line in run_lines(Path(output_dir) / "mc_runs.jsonl", start_index, end, print_every):
                click.echo(line)
        for line in format_summary(res.summary):
            click.echo(line)
        for name in ("mc_runs.jsonl", "mc_summary.json", "evidence_pack/SHA256SUMS"):
            click.echo(f"Wrote: {Path(output_dir) / name}")
    return 0


def run_lines(runs_jsonl: Path, start_index: int, end: int, every: int) -> list[str]:
    """The contract's per-run lines, in run order (printed once the runs are in: with several
    jobs they finish out of order)."""
    import json

    out = []
    for line in runs_jsonl.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        i = r["run_index"]
        if (i - start_index) % every:
            continue
        out.append(f"run {i - start_index + 1}/{end - start_index} (global={i}) seed={r['seed']} "
                   f"pnl={r['pnl_total']:.2f} maxDD={r['max_drawdown']:.2f} kill={str(r['kill_switch']).lower()} "
                   f"ticks={r['ticks_executed']}")
    return out


@cli.command("mc")
@click.option("--scenario", "scenario_path", required=True, metavar="FILE", help="Scenario YAML.")
@click.option("--ticks", type=click.IntRange(min=1), default=None, help="Main-loop ticks per run (default: the scenario's horizon).")
@click.option("--policy", default="heuristic", show_default=True)
@click.option("--config", "config_path", default=None, metavar="FILE", help="Config file or preset (default: btc).")
@click.option("--profile", default=None, help="Risk profile (CLI > PARAPHINA_RISK_PROFILE > scenario > balanced).")
@mc_options
def mc_cmd(scenario_path, ticks, policy, config_path, profile, **kw) -> None:
    """Monte Carlo of a scenario: N seeded simulated runs -> per-run JSONL, tail-risk summary, evidence."""
    from paraphina.commands.sim import scenario_config
    from paraphina.config import config_hash, resolve_profile
    from paraphina.policies import load_policy
    from paraphina.research.provenance import file_hash
    from paraphina.research.simrun import ScenarioRun
    from paraphina.sim.scenario import load_scenario

    check_output(kw["output_dir"], inputs=(scenario_path, config_path), directory=True)
    scenario = load_scenario(scenario_path)
    name, _ = resolve_profile(profile, os.environ, scenario.initial_state.profile)
    cfg = scenario_config(scenario, config_path, name)
    load_policy(policy)  # an unknown policy is a one-line error now, not one per worker
    run_fn = ScenarioRun(scenario=scenario, config=cfg, policy=policy, ticks=ticks)
    extra = {"scenario": scenario_path, "scenario_sha256": file_hash(scenario_path),
             "scenario_id": scenario.scenario_id, "ticks": ticks, "policy": policy, "profile": name}
    sys.exit(mc_command_impl(run_fn, config_hash=config_hash(cfg), config_extra=extra, **kw))


@cli.command("phase-a")
@click.option("--smoke", is_flag=True, help="3 trials, 10 runs, 100 ticks (the suites too).")
@click.option("--study", default=None, help="Study name (default: the study directory's name, else timestamped).")
@output_option("--study-dir", dest="study_dir", metavar="DIR", help="The study directory (default: runs/phaseA/<study>).")
@click.option("--trials", type=click.IntRange(min=1), default=None, help="Candidates (default 10).")
@click.option("--runs", type=click.IntRange(min=1), default=None, help="Monte Carlo runs per candidate (default 50).")
@click.option("--ticks", type=click.IntRange(min=1), default=None, help="Main-loop ticks per run (default 600).")
@click.option("--seed", type=click.IntRange(min=0), default=42, show_default=True)
@click.option("--scenario", "scenario_path", default=None, metavar="FILE", help="Monte Carlo scenario (default: scenarios/synth_baseline.yaml).")
@click.option("--policy", default=None, help="Policy (default: heuristic).")
@click.option("--config", "config_path", default=None, metavar="FILE", help="Config file under the knobs (default: the btc preset).")
@click.option("--knobs", default=None, metavar="FILE", help="Knob ranges (default: batch_runs/phase_a/knobs_btc.yaml).")
@click.option("--budgets", default=None, metavar="FILE", help="Risk budgets (default: batch_runs/phase_a/budgets.yaml).")
@click.option("--suite", "suites", multiple=True, metavar="SUITE.yaml",
              help="Out-of-sample suite per candidate, repeatable, in order (default: research, adversarial regression).")
@click.option("--no-suites", is_flag=True, help="Run no out-of-sample suite.")
@click.option("--suite-ticks", type=click.IntRange(min=1), default=None, help="Ticks per suite run (default: the suite's; --smoke: --ticks).")
@click.option("--evaluate", default=None, metavar="MODULE:FUNCTION", help="Evaluate function (default: the simulator).")
@click.option("--evaluate-arg", "evaluate_args", multiple=True, metavar="KEY=VALUE")
@click.option("--sampler", type=click.Choice(["random", "pareto-mutation", "tpe", "cmaes"]), default="random",
              show_default=True, help="Candidate generation: random draws, mutation around the Pareto set, Optuna TPE or CMA-ES.")
@click.option("--batch", type=click.IntRange(min=1), default=4, show_default=True,
              help="Candidates an adaptive sampler proposes between updates.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--ray-address", default=None)
@click.option("--chunk-size", "chunk", type=click.IntRange(min=1), default=None,
              help="Runs per worker task (default: about 4 tasks per job, at most 64 runs); never changes a byte.")
@click.option("--force", is_flag=True, help="Start over when the study directory holds other inputs.")
@click.option("--no-report", is_flag=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress, no warnings.")
def phase_a_cmd(smoke, study, study_dir, trials, runs, ticks, seed, scenario_path, policy, config_path, knobs, budgets,
                suites, no_suites, suite_ticks, evaluate, evaluate_args, sampler, batch, jobs, backend, ray_address,
                chunk, force, no_report, quiet) -> None:
    """Phase A promotion pipeline (python3 -m batch_runs.phase_a.promote_pipeline with CLI option names)."""
    from batch_runs.phase_a.promote_pipeline import DEFAULT_EVALUATE, DEFAULTS, SMOKE, recorded_command, run_pipeline

    sizes = SMOKE if smoke else DEFAULTS
    ticks = ticks or sizes["mc_ticks"]
    sys.exit(run_pipeline(
        study=study, study_dir=study_dir, trials=trials or sizes["trials"], runs=runs or sizes["mc_runs"],
        ticks=ticks, seed=seed, budgets=budgets, knobs=knobs, evaluate=evaluate or DEFAULT_EVALUATE,
        evaluate_args=evaluate_args, scenario=scenario_path, policy=policy, config=config_path,
        suites=[] if no_suites else (list(suites) or None), suite_ticks=suite_ticks or (ticks if smoke else None),
        jobs=jobs, backend=backend, ray_address=ray_address, chunk=chunk, force=force, quiet=quiet,
        report=not no_report,
        command=recorded_command("paraphina phase-a", sys.argv[2:] if len(sys.argv) > 1 else []),
        sampler=sampler, batch=batch))


@cli.command("phase-a-compare")
@output_option(metavar="DIR", required=True, help="The comparison directory.")
@click.option("--sampler", type=click.Choice(["pareto-mutation", "tpe", "cmaes", "random"]), default="tpe",
              show_default=True, help="The sampler compared against the baseline.")
@click.option("--baseline", type=click.Choice(["random", "pareto-mutation", "tpe", "cmaes"]), default="random",
              show_default=True)
@click.option("--seed", "seeds", type=click.IntRange(min=0), multiple=True, help="Study seed, repeatable (default 42).")
@click.option("--trials", type=click.IntRange(min=1), default=10, show_default=True, help="Candidates per study.")
@click.option("--runs", type=click.IntRange(min=1), default=50, show_default=True, help="Monte Carlo runs per candidate.")
@click.option("--ticks", type=click.IntRange(min=1), default=600, show_default=True, help="Main-loop ticks per run.")
@click.option("--scenario", "scenario_path", default=None, metavar="FILE", help="Monte Carlo scenario (default: scenarios/synth_baseline.yaml).")
@click.option("--policy", default=None, help="Policy (default: heuristic).")
@click.option("--config", "config_path", default=None, metavar="FILE", help="Config file under the knobs (default: the btc preset).")
@click.option("--knobs", default=None, metavar="FILE", help="Knob ranges (default: batch_runs/phase_a/knobs_btc.yaml).")
@click.option("--budgets", default=None, metavar="FILE", help="Risk budgets (default: batch_runs/phase_a/budgets.yaml).")
@click.option("--evaluate", default=None, metavar="MODULE:FUNCTION", help="Evaluate function (default: the simulator).")
@click.option("--evaluate-arg", "evaluate_args", multiple=True, metavar="KEY=VALUE")
@click.option("--batch", type=click.IntRange(min=1), default=4, show_default=True,
              help="Candidates an adaptive sampler proposes between updates.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--force", is_flag=True, help="Start over when the directory holds other inputs.")
@click.option("--quiet", "-q", is_flag=True, help="No progress.")
def phase_a_compare_cmd(out, sampler, baseline, seeds, trials, runs, ticks, scenario_path, policy, config_path, knobs,
                        budgets, evaluate, evaluate_args, batch, jobs, force, quiet) -> None:
    """Compare a Phase A sampler with the random baseline at equal budget on the same seeds: frontiers, hypervolume."""
    from batch_runs.phase_a.promote_pipeline import DEFAULT_EVALUATE, recorded_command
    from batch_runs.phase_a.sampler_study import print_result, run_compare

    result = run_compare(out, samplers=[baseline, sampler], seeds=list(seeds) or [42], trials=trials, runs=runs,
                         ticks=ticks, evaluate=evaluate or DEFAULT_EVALUATE, evaluate_args=evaluate_args,
                         knobs=knobs, budgets=budgets, scenario=scenario_path, policy=policy, config=config_path,
                         batch=batch, jobs=jobs, force=force, quiet=quiet,
                         command=recorded_command("paraphina phase-a-compare", sys.argv[2:] if len(sys.argv) > 1 else [],
                                                  dir_flags=("-o", "--out")))
    print_result(out, result)
