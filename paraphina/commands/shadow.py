"""``paraphina shadow``: a baseline trades on the simulated exchange, a candidate proposes."""

from __future__ import annotations

import click

from paraphina.cli import cli
from paraphina.commands.common import force_option, output_option, policy_spec, resolve_config
from paraphina.outputs import check_input, check_output, sidecars

# The files a shadow session writes beside SESSION.arrow.
SHADOW_SIDECARS = (".baseline.actions", ".candidate.actions", ".shadow.json", ".candidate-backtest.arrow")


@cli.command()
@click.argument("log")
@click.option("--baseline", default="heuristic", show_default=True, help="Policy whose orders execute.")
@click.option("--candidate", default="onnx", show_default=True, help="Policy whose orders are only recorded.")
@click.option("--model", "model_path", default=None, metavar="FILE", help="Model file of an onnx candidate (or baseline).")
@output_option(metavar="SESSION.arrow", help="The session log.", required=True)
@click.option("--config", "config_path", default=None, metavar="FILE", help="Config file or preset (default: LOG's own, else btc).")
@click.option("--profile", default=None)
@click.option("--realtime", "speed", type=float, default=None, metavar="X",
              help="Pace the feed at X times real time (default: full speed).")
@click.option("--inference-timeout-ms", "--timeout-ms", "timeout_ms", type=click.FloatRange(min=0, min_open=True),
              default=None, metavar="MS", help="Record a policy_fault (timeout) when a policy's decision hooks take "
              "longer than this on a main tick (default: untimed).")
@force_option("SESSION.arrow or file beside it")
def shadow(log, baseline, candidate, model_path, out, config_path, profile, speed, timeout_ms, force) -> None:
    """Shadow session over LOG's market: BASELINE trades, CANDIDATE is recorded beside it.

    Writes SESSION.arrow, both action streams beside it (.baseline.actions, .candidate.actions),
    SESSION.arrow.shadow.json (hashes, divergence, counterfactual PnL) and the candidate's
    counterfactual backtest log (.candidate-backtest.arrow).
    """
    from paraphina.config import config_hash
    from paraphina.shadow import LogFeed, report_lines, run_shadow
    from paraphina.sim.exchange import VenueParams

    check_input(log)
    inputs = (log, config_path, model_path)
    check_output(out, inputs=inputs, force=force)
    for side in sidecars(out, SHADOW_SIDECARS):
        check_output(side, inputs=inputs, force=force)
    cfg, cfg_source = resolve_config(config_path, profile, log=log)
    b_spec = policy_spec(baseline, model_path if baseline == "onnx" else None)
    c_spec = policy_spec(candidate, model_path if candidate == "onnx" else None)
    feed = LogFeed(log, speed=speed)
    params = [VenueParams(maker_fee_bps=cfg.venue(i.venue).maker_fee_bps, taker_fee_bps=cfg.venue(i.venue).taker_fee_bps)
              for i in feed.instruments]
    r = run_shadow(feed, cfg, out, baseline=b_spec, candidate=c_spec, params=params, timeout_ms=timeout_ms,
                   overwrite=force, input_log=log)
    click.echo(f"session: {out} ({feed.description})")
    click.echo(f"config_hash: {config_hash(cfg)[:16]} | profile: {cfg.profile} | config: {cfg_source}")
    why = baseline_quiet(out, r.baseline["actions_file"], b_spec, cfg)
    if why:
        click.echo(why)
    for line in report_lines(r):
        click.echo(line)


def baseline_quiet(session: str, actions_file: str, b_spec, cfg) -> str | None:
    """Why the baseline placed no MM order, or None if it did. Only a quiet session pays for the
    diagnosis: its log is replayed with the baseline and the diagnosis observer."""
    from paraphina.actions import PlaceOrder
    from paraphina.diagnosis import QuietObserver, why_quiet
    from paraphina.diff import read_actions
    from paraphina.replay import replay_log

    if any(isinstance(a, PlaceOrder) and a.purpose == "mm" for a in read_actions(actions_file)):
        return None
    quiet = QuietObserver()
    r = replay_log(session, b_spec() if callable(b_spec) else b_spec, cfg, observers=[quiet])
    return why_quiet(quiet.tally, r.summary, cfg)
