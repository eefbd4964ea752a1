"""``paraphina run``, ``backtest`` and ``suite``: the simulator with the engine in the loop."""

from __future__ import annotations

import json
import os
import sys
import tempfile

import click

from paraphina import __version__
from paraphina.cli import cli
from paraphina.commands.common import (check_telemetry_output, force_option, load_cli_config, model_option,
                                       output_option, policy_spec, telemetry_observers)
from paraphina.config import Config, config_hash, resolve_profile
from paraphina.errors import UserError
from paraphina.outputs import check_input, check_output, write_file
from paraphina.presets import preset_path
from paraphina.sim.exchange import VenueParams
from paraphina.sim.runner import policy_engine_factory, run_backtest, run_simulation, with_scenario_fees
from paraphina.sim.scenario import Scenario, load_scenario
from paraphina.sim.suite import load_suite, run_suite
from paraphina.sim.summary import format_run_output

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
    """The engine's config for a scenario: the given file (default: the ``btc`` preset, sized for
    the simulator's BTC-like market), with each scenario venue's fees unless the file lists it."""
    return with_scenario_fees(load_cli_config(config_path or str(preset_path("btc")), profile or None), scenario)


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
    check_telemetry_output(inputs=(scenario_path, config_path, model_path, log_path), force=force)
    scenario = load_scenario(scenario_path) if scenario_path else Scenario(scenario_id="default")
    name, source = resolve_profile(profile, os.environ, scenario.initial_state.profile if scenario_path else None)
    click.echo(f"effective_risk_profile={name} source={source}", err=True)
    cfg = scenario_config(scenario, config_path, name)
    seed = scenario.seeds.base_seed if seed is None else seed
    spec = policy_spec(policy, model_path)
    tmpdir = None
    if log_path is None:
        tmpdir = tempfile.TemporaryDirectory(prefix="paraphina-run-")
        log_path = os.path.join(tmpdir.name, "run.arrow")
    try:
        with telemetry_observers(inputs=(scenario_path, config_path, model_path, log_path), force=force) as observers:
            r = run_simulation(scenario, cfg, policy, seed, ticks, log_path, engine_factory(spec, observers),
                               overwrite=force, session_extra=policy_session(spec), measure=attribution,
                               telemetry=observers[0] if observers else None)
    finally:
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
@click.option("--config", "config_path", default=None, metavar="FILE", help="Config file or preset.")
@click.option("--profile", default=None)
@force_option("OUT.arrow")
@model_option
def backtest(log, policy, out, config_path, profile, force, model_path) -> None:
    """Replay LOG's market with the simulated exchange in the loop, counterfactually, with POLICY."""
    check_input(log)
    check_output(out, inputs=(log, config_path, model_path), force=force)
    cfg = load_cli_config(config_path, profile)
    from paraphina.eventlog import LogReader

    params = [VenueParams(maker_fee_bps=cfg.venue(i.venue).maker_fee_bps, taker_fee_bps=cfg.venue(i.venue).taker_fee_bps)
              for i in LogReader(log).info.instruments]
    spec = policy_spec(policy, model_path)
    with telemetry_observers(inputs=(log, config_path, model_path, out), force=force) as observers:
        r = run_backtest(log, cfg, policy, out, engine_factory(spec, observers), params=params, overwrite=force,
                         session_extra=policy_session(spec))
    s = r.summary
    click.echo(f"backtest: {log} -> {out} | policy {policy} | fills {r.fills} | fees {r.fees:.2f} | funding {r.funding:+.2f}")
    from paraphina.replay import signed

    click.echo(f"events: {r.events}\nactions: {r.actions}\naction_stream_sha256: {r.sha256}")
    click.echo(f"Daily PnL (realised / unrealised / total): {signed(s['realised'])} / {signed(s['unrealised'])} / {signed(s['total'])}")
    click.echo(f"Kill switch: {'true' if s['kill_switch'] else 'false'}\nRisk regime: {s['risk_regime']}")


@cli.command()
@click.argument("suite_path", metavar="SUITE.yaml")
@output_option("--output-dir", dest="output_dir", metavar="DIR", default="runs/suite",
               help="Directory for each run's JSON and summary.json.")
@click.option("--policy", default="heuristic", show_default=True)
@click.option("--config", "config_path", default=None, metavar="FILE", help="Config file or preset (default: btc).")
@force_option("suite result in DIR")
def suite(suite_path, output_dir, policy, config_path, force) -> None:
    """Run every scenario and seed of a suite, check its invariants; exit 1 if any fails."""
    check_input(suite_path, what="SUITE.yaml")
    check_output(output_dir, inputs=(suite_path, config_path), directory=True)
    summary_path = os.path.join(output_dir, "summary.json")
    if os.path.exists(summary_path) and not force:
        raise UserError(f"--out {output_dir}: already holds a suite's results (add --force to replace them)")
    s = load_suite(suite_path)
    os.makedirs(output_dir, exist_ok=True)
    tty = sys.stderr.isatty()

    def show(done: int, total: int, row: dict | None) -> None:
        if tty:
            click.echo(f"\r[{done}/{total}]", err=True, nl=False)
        if row is None:
            return
        write_file(os.path.join(output_dir, f"{row['scenario']}-{row['seed']}.json"),
                   json.dumps(row, indent=2, sort_keys=True))
        status = "FAIL" if row["failures"] else "ok"
        click.echo(f"{status:4} {row['scenario']} seed={row['seed']} pnl={row['pnl_total']:+.2f} "
                   f"kill={str(row['kill_switch']).lower()} actions={row['actions']}" +
                   "".join(f"\n       {x}" for x in row["failures"]))

    report = run_suite(s, lambda sc: scenario_config(sc, config_path, sc.initial_state.profile), policy,
                       engine_factory(policy), output_dir, on_run=show)
    write_file(summary_path, json.dumps(report.to_json(), indent=2, sort_keys=True))
    n = len(report.rows)
    click.echo(f"{n - report.failed} of {n} runs passed their invariants ({output_dir}/summary.json)")
    sys.exit(1 if report.failed else 0)


__all__ = ["run", "backtest", "suite", "UserError"]
