"""``paraphina record``: public market-data feeds into an event log, a policy in shadow."""

from __future__ import annotations

import re

import click

from paraphina.cli import cli
from paraphina.commands.common import config_options, load_cli_config
from paraphina.errors import UserError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str, what: str = "--duration") -> float:
    """``"10m"``, ``"90s"``, ``"1.5h"``, ``"500ms"`` or plain seconds -> seconds."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise UserError(f"{what} {text!r}: expected a positive duration like 90s, 10m, 2h")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


@cli.command()
@click.option("--venue", "venues", multiple=True, required=True, metavar="VENUE:SYMBOL",
              help="A feed to record (repeat): binance-usdm:BTCUSDT, binance-coinm:BTCUSD_PERP, "
                   "binance-spot:BTCUSDT, hyperliquid:BTC, bybit:BTCUSDT.")
@click.option("-o", "--out", required=True, metavar="SESSION.arrow", help="The log to write.")
@click.option("--policy", default=None, help="Run this policy in shadow on the recorded events; its actions go "
              "to SESSION.arrow.actions (never sent).")
@click.option("--duration", default=None, metavar="DURATION", help="Stop after this long (90s, 10m, 2h); "
              "default: until SIGINT/SIGTERM.")
@config_options
@click.option("--endpoint", "endpoints", multiple=True, metavar="VENUE=URL",
              help="Base URL of a venue's feed (repeat); binance-*-rest=URL for Binance's REST snapshot.")
@click.option("--stale-after", default="15s", show_default=True, metavar="DURATION",
              help="A feed with no frame for this long is recorded as stale and reconnected.")
@click.option("--flush-interval", default="1s", show_default=True, metavar="DURATION",
              help="Write a log batch at least this often (what a kill -9 can lose).")
@click.option("--backoff", default="0.5s", show_default=True, metavar="DURATION",
              help="First reconnect delay (doubles up to 30 s).")
@click.option("--status", type=click.Choice(["auto", "off"]), default="auto", show_default=True,
              help="auto: a status line on a terminal, structured log lines otherwise.")
@click.option("--force", is_flag=True, help="Replace SESSION.arrow if it exists.")
def record(venues, out, policy, duration, config_path, profile, endpoints, stale_after, flush_interval, backoff,
           status, force) -> None:
    """Record live public feeds into OUT (prices and sizes as the importers read them).

    Ends on --duration, SIGINT or SIGTERM: the log is flushed and closed. With --policy,
    `paraphina replay OUT` reproduces OUT.actions byte for byte.
    """
    import asyncio
    import signal

    from paraphina.live.feeds import FeedSettings, parse_endpoints, parse_venue
    from paraphina.live.recorder import Recorder, RecordSettings, result_lines
    from paraphina.logs import get_logger

    try:
        import httpx  # noqa: F401
        import websockets  # noqa: F401
    except ImportError:
        raise UserError("record needs the live extra: pip install 'paraphina[live]'") from None
    if policy:
        from paraphina.policies import make_policy

        make_policy(policy)  # an unknown name is a one-line error before anything connects
    cfg = load_cli_config(config_path, profile)
    settings = RecordSettings(
        out=out, venues=[parse_venue(v) for v in venues], config=cfg, policy=policy,
        duration_s=parse_duration(duration) if duration else None, endpoints=parse_endpoints(list(endpoints)),
        flush_interval_s=parse_duration(flush_interval, "--flush-interval"),
        feed=FeedSettings(stale_after_s=parse_duration(stale_after, "--stale-after"),
                          backoff_initial_s=parse_duration(backoff, "--backoff")),
        status=status, overwrite=force,
    )
    rec = Recorder(settings, log=get_logger("record"))

    async def main():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, rec.request_stop)
        return await rec.run()

    result = asyncio.run(main())
    for line in result_lines(result):
        click.echo(line)
