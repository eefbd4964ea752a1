"""``paraphina adversarial``: a seeded cross-entropy search for scenarios that break a preset."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from paraphina.cli import cli
from paraphina.commands.common import output_option
from paraphina.errors import UserError
from paraphina.outputs import check_input, check_output


@cli.command("adversarial")
@click.option("--scenario", "scenario_path", required=True, metavar="BASE.yaml", help="The scenario the search perturbs.")
@click.option("--bounds", "bounds_path", default=None, metavar="FILE",
              help="Parameters and their bounds (default: batch_runs/adversarial/bounds_btc.yaml).")
@click.option("--budget", type=click.IntRange(min=1), required=True, help="Evaluations in all (one simulated run each).")
@click.option("--seed", type=click.IntRange(min=0), default=42, show_default=True, help="Search seed.")
@click.option("--population", type=click.IntRange(min=2), default=None, help="Candidates per generation (default: the bounds file's).")
@click.option("--ticks", type=click.IntRange(min=1), default=None, help="Main-loop ticks per run (default: the scenario's horizon).")
@click.option("--policy", default="heuristic", show_default=True)
@click.option("--config", "config_path", default=None, metavar="FILE", help="Config file or preset under test (default: btc).")
@click.option("--profile", default=None, help="Risk profile (CLI > PARAPHINA_RISK_PROFILE > scenario > balanced).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Parallel workers (1 = inline).")
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--ray-address", default=None, help="Ray cluster address (default: start a local Ray).")
@output_option(metavar="DIR", required=True, help="The search directory (re-running the same inputs resumes it).")
@click.option("--suite-out", default=None, metavar="SUITE.yaml",
              help="Regression suite to append the failures to (default: scenarios/suites/adversarial_regression.yaml).")
@click.option("--promote", type=click.IntRange(min=0), default=3, show_default=True,
              help="How many of the best distinct failures to append to the suite.")
@click.option("--no-suite", is_flag=True, help="Append nothing to any suite.")
@click.option("--no-report", is_flag=True, help="No report.html.")
@click.option("--force", is_flag=True, help="Start over when DIR holds a search with other inputs.")
@click.option("--quiet", is_flag=True, help="Only errors (no progress either).")
def adversarial_cmd(scenario_path, bounds_path, budget, seed, population, ticks, policy, config_path, profile, jobs,
                    backend, ray_address, out, suite_out, promote, no_suite, no_report, force, quiet) -> None:
    """Search a scenario's parameters for failures of a preset; write them and append them to a suite.

    Deterministic for a seed (same files, byte for byte), resumable, on a process pool or Ray;
    see docs/research.md, "Adversarial scenario search"."""
    from paraphina.commands.sim import scenario_config
    from paraphina.config import config_hash, resolve_profile
    from paraphina.policies import load_policy
    from paraphina.research import adversarial as adv
    from paraphina.sim.scenario import load_scenario

    bounds_path = bounds_path or adv.DEFAULT_BOUNDS
    check_input(scenario_path, what="--scenario")
    check_input(bounds_path, what="--bounds")
    check_output(out, inputs=(scenario_path, bounds_path, config_path), directory=True)
    suite = None if no_suite or promote == 0 else (suite_out or adv.DEFAULT_SUITE)
    if suite is not None:
        if not Path(suite).parent.is_dir():
            raise UserError(f"--suite-out {suite}: directory {Path(suite).parent} does not exist "
                            "(run from the repository root, give --suite-out, or --no-suite)")
        check_output(suite, flag="--suite-out", inputs=(scenario_path, bounds_path, config_path), force=True)
    bounds = adv.load_bounds(bounds_path)
    base = load_scenario(scenario_path)
    name, _ = resolve_profile(profile, os.environ, base.initial_state.profile)
    cfg = scenario_config(base, config_path, name)
    load_policy(policy)  # an unknown policy is one line now, not one per worker
    # Every candidate must make a valid scenario: check the centre of the bounds before any run.
    centre = adv.Distribution.initial(bounds)
    adv.build_candidate(base, bounds, adv.candidate_values(bounds, centre.mean, [0] * len(bounds.categorical)), 0,
                        base.horizon.steps)
    if not quiet:
        click.echo(f"paraphina adversarial | base={scenario_path} | bounds={bounds_path} | budget={budget} | "
                   f"seed={seed} | population={population or bounds.spec.population} | backend={backend} | "
                   f"jobs={jobs} | config_hash={config_hash(cfg)}")
    res = adv.search(base_path=scenario_path, base=base, bounds=bounds, config=cfg, policy=policy, budget=budget,
                     seed=seed, output_dir=out, ticks=ticks, population=population, jobs=jobs, backend=backend,
                     ray_address=ray_address, progress=False if quiet else None, force=force, report=not no_report,
                     commands=["paraphina " + " ".join(sys.argv[1:])])
    added: list[str] = []
    present: list[str] = []
    if suite is not None and res.failures:
        added, present = adv.append_to_suite(suite, out, res.failures, bounds.invariants, limit=promote)
    if quiet:
        return
    if res.executed < res.evaluations:
        click.echo(f"resumed: {res.evaluations - res.executed} evaluations already present, {res.executed} run now")
    click.echo(f"evaluations: {res.evaluations} | failures: {len(res.failures)} distinct scenarios | "
               f"best score: {res.best_score:.4f}")
    for f in res.failures[:promote or 3]:
        click.echo(f"  {f['file']} seed={f['seed']} score={f['score']:.4f}: {'; '.join(f['failures'])}")
    if suite is None:
        click.echo(f"suite: nothing appended ({'--no-suite' if no_suite else '--promote 0'})")
    elif not res.failures:
        click.echo(f"suite: nothing appended to {suite} (no failure found within the budget)")
    else:
        click.echo(f"suite: {len(added)} appended to {suite}"
                   + (f", {len(present)} already there" if present else ""))
    for name in ("evaluations.jsonl", "evaluations.csv", "failures.json",
                 *(() if no_report else ("report.html",)), "evidence_pack/SHA256SUMS"):
        click.echo(f"Wrote: {Path(out) / name}")
