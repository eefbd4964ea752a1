"""``paraphina run``, ``backtest`` and ``suite``: the simulator with the engine in the loop."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import click

from paraphina import __version__
from paraphina.cli import cli
from paraphina.commands.common import force_option, model_option, output_option, policy_spec, resolve_config
from paraphina.config import Config, config_hash, resolve_profile
from paraphina.diagnosis import QuietObserver, why_quiet
from paraphina.errors import UserError
from paraphina.outputs import check_input, check_output, write_file
from paraphina.sim.exchange import VenueParams
from paraphina.sim.runner import policy_engine_factory, run_backtest, run_simulation, with_scenario_fees
from paraphina.sim.scenario import Scenario, load_scenario
from paraphina.sim.suite import load_suite, run_suite
from paraphina.sim.summary import format_run_output
from paraphina.telemetry import from_env, telemetry_path

CFG_VERSION = f"paraphina-{__version__}"


engine_factory = policy_engine_factory  # the name the CLI modules and benchmarks use


def policy_session(spec) -> dict:
    """Session metadata naming the policy plugin and its version (a learned policy's version
    carries its model's SHA-256 and schema versions)."""
    if callable(spec):
        plugin = spec()
        return {"policy_plugin": {plugin.name: str(plugin.version)}}
    return {}


def scenario_config(scenario: Scenario, config_path: str | None, profile: str | None) -> Config:
    """The engine's config for a scenario: the given file or preset (default: the ``btc`` preset,
    sized for the simulator's BTC-like market), with each scenario venue's fees unless the
    config lists it."""
    return with_scenario_fees(resolve_config(config_path, profile or None)[0], scenario)


@cli.command()
@click.option("--ticks", type=click.IntRange(min=1), default=None, help="Main-loop ticks (default: the scenario's horizon).")
@click.option("--profile", default=None, help="Risk profile (CLI > PARAPHINA_RISK_PROFILE > scenario > balanced).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed (default: the scenario's base seed).")
@click.option("--scenario", "scenario_path", default=None, metavar="FILE", help="Scenario YAML (default: a calm 5-venue market).")
@output_option("--log", dest="log_path", metavar="OUT.arrow", help="Where the run's event log goes (default: a temporary file).")
@click.option("--policy", default="heuristic", show_default=True)
@click.option("--config", "config_path", default=None, metavar="FILE", help="Config file or preset (default: btc).")
@force_option("OUT.arrow")
@click.option("--attribution", is_flag=True,
              help="Also report fair-value tracking, volatility and a PnL attribution against the simulator's latent price.")
@model_option
def run(ticks, profile, seed, scenario_path, log_path, policy, config_path, force, attribution, model_path) -> None:
    """Simulate a scenario with the engine and the simulated exchange; print the research summary."""
    if scenario_path is not None:
        check_input(scenario_path, what="--scenario")
    if log_path is not None:
        check_output(log_path, inputs=(scenario_path, config_path, model_path), force=force)
    if telemetry_path() is not None:
        check_output(telemetry_path(), flag="PARAPHINA_TELEMETRY_PATH",
                     inputs=(scenario_path, config_path, model_path, log_path), force=force)
    scenario = load_scenario(scenario_path) if scenario_path else Scenario(scenario_id="default")
    name, source = resolve_profile(profile, os.environ, scenario.initial_state.profile if scenario_path else None)
    click.echo(f"effective_risk_profile={name} source={source}", err=True)
    cfg = scenario_config(scenario, config_path, name)
    seed = scenario.seeds.base_seed if seed is None else seed
    spec = policy_spec(policy, model_path)
    telemetry = from_env()
    tmpdir = None
    if log_path is None:
        tmpdir = tempfile.TemporaryDirectory(prefix="paraphina-run-")
        log_path = os.path.join(tmpdir.name, "run.arrow")
    try:
        r = run_simulation(scenario, cfg, policy, seed, ticks, log_path,
                           engine_factory(spec, [telemetry] if telemetry else ()), overwrite=force,
                           session_extra=policy_session(spec), measure=attribution, telemetry=telemetry)
    finally:
        if telemetry:
            telemetry.close()
        if tmpdir:
            tmpdir.cleanup()
    if r.killed_at_tick is not None:
        click.echo(f"Kill switch active at tick {r.killed_at_tick} - stopping simulation early "
                   f"(reason: {r.summary['kill_reason']}).")
    click.echo(format_run_output(cfg_version=CFG_VERSION, cfg_hash=config_hash(cfg), profile=name, ticks=r.ticks,
                                 seed=seed, events=r.events, actions=r.actions, sha256=r.sha256, summary=r.summary,
                                 killed_at_tick=r.killed_at_tick), nl=False)
    if r.report is not None:
        click.echo("\n" + "\n".join(r.report.lines()))


@cli.command()
@click.argument("log")
@click.option("--policy", default="heuristic", show_default=True)
@output_option(metavar="OUT.arrow", help="The backtest's own log (replays byte for byte).", required=True)
@click.option("--config", "config_path", default=None, metavar="FILE", help="Config file or preset (default: LOG's own, else btc).")
@click.option("--profile", default=None)
@force_option("OUT.arrow")
@model_option
def backtest(log, policy, out, config_path, profile, force, model_path) -> None:
    """Replay LOG's market with the simulated exchange in the loop, counterfactually, with POLICY."""
    check_input(log)
    check_output(out, inputs=(log, config_path, model_path), force=force)
    cfg, cfg_source = resolve_config(config_path, profile, log=log)
    from paraphina.eventlog import LogReader

    params = [VenueParams(maker_fee_bps=cfg.venue(i.venue).maker_fee_bps, taker_fee_bps=cfg.venue(i.venue).taker_fee_bps)
              for i in LogReader(log).info.instruments]
    spec = policy_spec(policy, model_path)
    from paraphina.progress import position_reporter

    quiet = QuietObserver()
    update, close = position_reporter("backtest", os.path.getsize(log) if os.path.exists(log) else 0)
    try:
        r = run_backtest(log, cfg, policy, out, engine_factory(spec, [quiet]), params=params, overwrite=force,
                         session_extra=policy_session(spec), progress=update)
    finally:
        close()
    s = r.summary
    click.echo(f"backtest: {log} -> {out} | policy {policy} | fills {r.fills} | fees {r.fees:.2f} | funding {r.funding:+.2f}")
    click.echo(f"config_hash: {config_hash(cfg)[:16]} | profile: {cfg.profile} | config: {cfg_source}")
    from paraphina.replay import signed

    why = why_quiet(quiet.tally, s, cfg)
    if why:
        click.echo(why)
    click.echo(f"events: {r.events}\nactions: {r.actions}\naction_stream_sha256: {r.sha256}")
    click.echo(f"Daily PnL (realised / unrealised / total): {signed(s['realised'])} / {signed(s['unrealised'])} / {signed(s['total'])}")
    click.echo(f"Kill switch: {'true' if s['kill_switch'] else 'false'}\nRisk regime: {s['risk_regime']}")


@cli.command()
@click.argument("suite_path", metavar="SUITE.yaml")
@output_option("--output-dir", dest="output_dir", metavar="DIR", default="runs/suite",
               help="Directory for each run's JSON and summary.json.")
@click.option("--policy", default="heuristic", show_default=True)
@click.option("--config", "config_path", default=None, metavar="FILE", help="Config file or preset (default: btc).")
@force_option("suite run in DIR", help="Start over when DIR holds a suite run (other inputs are refused without it).")
@click.option("--quiet", is_flag=True, help="No progress lines.")
def suite(suite_path, output_dir, policy, config_path, force, quiet) -> None:
    """Run every scenario and seed of a suite, check its invariants; exit 1 if any fails.

    The output directory records its inputs (suite_config.json: the suite's and its scenarios'
    SHA-256, policy, each scenario's config hash, versions) and is sealed by an evidence pack."""
    from paraphina.progress import Progress
    from paraphina.research.evidence import canonical_json, versions, write_atomic, write_evidence_pack
    from paraphina.research.provenance import claim, file_hash

    check_input(suite_path, what="SUITE.yaml")
    check_output(output_dir, inputs=(suite_path, config_path), directory=True)
    s = load_suite(suite_path)
    configs = {r.path: scenario_config(r.scenario, config_path, r.scenario.initial_state.profile) for r in s.runs}
    record = {"schema_version": 1, "suite": suite_path, "suite_sha256": file_hash(suite_path),
              "suite_id": s.suite_id, "suite_version": s.suite_version, "policy": policy,
              "scenarios": [{"path": r.path, "sha256": file_hash(r.path), "seeds": r.seeds,
                             "config_hash": config_hash(configs[r.path])} for r in s.runs],
              "versions": versions()}
    claim(output_dir, "suite_config.json", record, force=force, what="a suite run",
          hint="use another -o/--out, or --force to start over")
    total = sum(len(r.seeds) for r in s.runs) * s.repeat_runs
    bar = Progress("suite", total, "runs", enabled=not quiet)

    def show(done: int, total: int, row: dict | None) -> None:
        bar.update()
        if row is None:
            return
        bar.describe(f"{row['scenario']} seed={row['seed']}")
        write_atomic(Path(output_dir) / f"{row['scenario']}-{row['seed']}.json", json.dumps(row, indent=2, sort_keys=True))
        status = "FAIL" if row["failures"] else "ok"
        click.echo(f"{status:4} {row['scenario']} seed={row['seed']} pnl={row['pnl_total']:+.2f} "
                   f"kill={str(row['kill_switch']).lower()} actions={row['actions']}" +
                   "".join(f"\n       {x}" for x in row["failures"]))

    with bar:
        report = run_suite(s, lambda sc: scenario_config(sc, config_path, sc.initial_state.profile), policy,
                           engine_factory(policy), output_dir, on_run=show)
    write_atomic(Path(output_dir) / "summary.json", canonical_json(report.to_json()))
    write_evidence_pack(output_dir, {"config_hash": {x["path"]: x["config_hash"] for x in record["scenarios"]},
                                     "commands": ["paraphina " + " ".join(sys.argv[1:])], "suite": record})
    n = len(report.rows)
    click.echo(f"{n - report.failed} of {n} runs passed their invariants ({output_dir}/summary.json)")
    click.echo(f"Wrote: {Path(output_dir) / 'evidence_pack' / 'SHA256SUMS'}")
    sys.exit(1 if report.failed else 0)


__all__ = ["run", "backtest", "suite", "UserError"]
