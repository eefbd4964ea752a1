"""``paraphina shadow``: a baseline trades on the simulated exchange, a candidate proposes."""

from __future__ import annotations

import click

from paraphina.cli import cli
from paraphina.commands.common import force_option, output_option, policy_spec
from paraphina.outputs import check_input, check_output, sidecars

# The files a shadow session writes beside SESSION.arrow.
SHADOW_SIDECARS = (".baseline.actions", ".candidate.actions", ".shadow.json", ".candidate-backtest.arrow")


@cli.command()
@click.argument("log")
@click.option("--baseline", default="heuristic", show_default=True, help="Policy whose orders execute.")
@click.option("--candidate", default="onnx", show_default=True, help="Policy whose orders are only recorded.")
@click.option("--model", "model_path", default=None, metavar="FILE", help="Model file of an onnx candidate (or baseline).")
@output_option(metavar="SESSION.arrow", help="The session log.", required=True)
@click.option("--config", "config_path", default=None, metavar="FILE", help="Config file or preset (default: LOG's own).")
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
    from paraphina.commands.replay import config_for_log
    from paraphina.shadow import LogFeed, report_lines, run_shadow
    from paraphina.sim.exchange import VenueParams

    check_input(log)
    inputs = (log, config_path, model_path)
    check_output(out, inputs=inputs, force=force)
    for side in sidecars(out, SHADOW_SIDECARS):
        check_output(side, inputs=inputs, force=force)
    cfg, _ = config_for_log(log, config_path, profile)
    b_spec = policy_spec(baseline, model_path if baseline == "onnx" else None)
    c_spec = policy_spec(candidate, model_path if candidate == "onnx" else None)
    feed = LogFeed(log, speed=speed)
    params = [VenueParams(maker_fee_bps=cfg.venue(i.venue).maker_fee_bps, taker_fee_bps=cfg.venue(i.venue).taker_fee_bps)
              for i in feed.instruments]
    r = run_shadow(feed, cfg, out, baseline=b_spec, candidate=c_spec, params=params, timeout_ms=timeout_ms,
                   overwrite=force, input_log=log)
    click.echo(f"session: {out} ({feed.description})")
    for line in report_lines(r):
        click.echo(line)
