"""``paraphina record``: public market-data feeds into an event log, a policy in shadow."""

from __future__ import annotations

import re

import click

from paraphina.cli import cli
from paraphina.commands.common import (config_options, force_option, output_option, policy_spec, resolve_config,
                                       telemetry_observers)
from paraphina.errors import UserError
from paraphina.outputs import check_output, sidecars
from paraphina.shadow.budget import DEFAULT_INFERENCE_TIMEOUT_MS

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str, what: str = "--duration") -> float:
    """``"10m"``, ``"90s"``, ``"1.5h"``, ``"500ms"`` or plain seconds -> seconds."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise UserError(f"{what} {text!r}: expected a positive duration like 90s, 10m, 2h")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def _policy_specs(policy: str | None, candidate: str | None, model_path: str | None):
    """(baseline, candidate) specs; unknown names, a missing or unreadable model and --model
    without an onnx policy are one-line errors before anything connects."""
    if candidate and not policy:
        raise UserError("--candidate needs --policy (the baseline it is compared with)")
    if model_path and "onnx" not in (policy, candidate):
        raise UserError("--model is for an onnx --policy or --candidate")
    from paraphina.policies import make_policy

    specs = []
    for name in (policy, candidate):
        if name is None:
            specs.append(None)
        elif name == "onnx":
            specs.append(policy_spec(name, model_path))
        else:
            make_policy(name)  # an unknown name fails here
            specs.append(name)
    return specs


def venue_grids(specs, tick_sizes, lot_sizes) -> dict[str, tuple[str | None, str | None]]:
    """``--tick-size``/``--lot-size`` values (``D`` for every venue, ``VENUE=D`` for one) ->
    ``{venue: (tick, lot)}``."""
    names = [s.venue for s in specs]
    out = {n: [None, None] for n in names}
    for k, (opt, values) in enumerate((("--tick-size", tick_sizes), ("--lot-size", lot_sizes))):
        for text in values:
            venue, sep, value = text.rpartition("=")
            targets = [venue] if sep else names
            if sep and venue not in out:
                raise UserError(f"{opt} {text!r}: {venue!r} is not a --venue of this session ({', '.join(names)})")
            for t in targets:
                out[t][k] = value
    return {n: (t, l) for n, (t, l) in out.items() if t is not None or l is not None}


@cli.command()
@click.option("--venue", "venues", multiple=True, required=True, metavar="VENUE:SYMBOL",
              help="A feed to record (repeat): binance-usdm:BTCUSDT, binance-coinm:BTCUSD_PERP, "
                   "binance-spot:BTCUSDT, hyperliquid:BTC, bybit:BTCUSDT.")
@output_option(metavar="SESSION.arrow", help="The log to write.", required=True)
@click.option("--policy", default=None, help="Run this policy in shadow on the recorded events; its actions go "
              "to SESSION.arrow.actions (never sent).")
@click.option("--candidate", default=None, help="A second policy beside --policy: both streams are recorded "
              "(SESSION.arrow.baseline.actions, .candidate.actions) and their divergence is reported at the end.")
@click.option("--model", "model_path", default=None, metavar="FILE", help="Model file of an onnx --policy or --candidate.")
@click.option("--inference-timeout-ms", type=click.FloatRange(min=0), default=DEFAULT_INFERENCE_TIMEOUT_MS,
              show_default=True, metavar="MS", help="A policy whose decision hooks take longer than this on a main "
              "tick gets a policy_fault (timeout) recorded; a learned policy falls back on its next tick. 0: off.")
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
@click.option("--tick-size", "tick_sizes", multiple=True, metavar="[VENUE=]D",
              help="Price tick (decimal) for a symbol without defaults, or to override them; VENUE= for one venue.")
@click.option("--lot-size", "lot_sizes", multiple=True, metavar="[VENUE=]D", help="Size lot, as --tick-size.")
@force_option("SESSION.arrow or action file")
def record(venues, out, policy, candidate, model_path, inference_timeout_ms, duration, config_path, profile, endpoints, stale_after, flush_interval, backoff,
           status, tick_sizes, lot_sizes, force) -> None:
    """Record live public feeds into OUT (prices and sizes as the importers read them).

    Ends on --duration, SIGINT or SIGTERM: the log is flushed and closed. With --policy,
    `paraphina replay OUT` reproduces OUT.actions byte for byte. With --candidate as well, both
    streams are recorded as `paraphina shadow` records them and the divergence is printed.
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
    inputs = (config_path, model_path)
    check_output(out, inputs=inputs, force=force)
    if policy is not None:  # the action streams and report beside the log (docs/recording.md)
        suffixes = (".baseline.actions", ".candidate.actions", ".shadow.json") if candidate else (".actions",)
        for side in sidecars(out, suffixes):
            check_output(side, inputs=inputs, force=force)
    policy_spec, candidate_spec = _policy_specs(policy, candidate, model_path)
    cfg, _ = resolve_config(config_path, profile)
    specs = [parse_venue(v) for v in venues]
    settings = RecordSettings(
        out=out, venues=specs, config=cfg, policy=policy_spec, candidate=candidate_spec,
        grids=venue_grids(specs, tick_sizes, lot_sizes),
        inference_timeout_ms=inference_timeout_ms or None,
        duration_s=parse_duration(duration) if duration else None, endpoints=parse_endpoints(list(endpoints)),
        flush_interval_s=parse_duration(flush_interval, "--flush-interval"),
        feed=FeedSettings(stale_after_s=parse_duration(stale_after, "--stale-after"),
                          backoff_initial_s=parse_duration(backoff, "--backoff")),
        status=status, overwrite=force,
    )

    async def main(rec):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, rec.request_stop)
        return await rec.run()

    with telemetry_observers(inputs=(*inputs, out), force=force) as observers:
        if observers and policy_spec is None:
            click.echo("telemetry: no policy runs without --policy, so nothing is written to "
                       "PARAPHINA_TELEMETRY_PATH", err=True)
        settings.observers = observers
        result = asyncio.run(main(Recorder(settings, log=get_logger("record"))))
    for line in result_lines(result):
        click.echo(line)


@cli.command("serve-capture")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Frames at this multiple of the recorded pace.")
@click.option("--repeat", is_flag=True, help="Play the capture again (a new session) after its end.")
@click.option("--tick-size", default=None, metavar="D", help="Price tick, as paraphina import.")
@click.option("--lot-size", default=None, metavar="D", help="Size lot, as paraphina import.")
def serve_capture(files, speed, repeat, tick_size, lot_size) -> None:
    """Serve each capture FILE on 127.0.0.1 the way its venue would (one port per file, the
    venue's paths, subscriptions, heartbeats and Binance REST depth), until Ctrl-C: a dry run of
    `paraphina record` without a venue. Prints the --endpoint and --venue options to use."""
    import asyncio
    import signal

    from paraphina.importers import source_module
    from paraphina.importers.common import ImportContext, ImportOptions, check_files, peek_objects
    from paraphina.live.capture_server import CaptureServer, load_capture

    served = []
    for path in check_files(files):
        kind = _capture_kind(path, peek_objects)
        opts = ImportOptions(tick_size=tick_size, lot_size=lot_size)
        ins = source_module(kind).describe([path], opts, ImportContext(kind, opts))
        served.append((path, load_capture(path, kind), ins))

    async def main():
        servers = []
        for path, cap, ins in served:
            if not cap.frames:
                raise UserError(f"{path}: no frames a {ins.venue} subscriber would get")
            srv = await CaptureServer(cap, ins, speed=speed, repeat=repeat).start()
            servers.append(srv)
            grid = f" --tick-size {ins.venue}={ins.tick_size} --lot-size {ins.venue}={ins.lot_size}"
            click.echo(f"{ins.venue} {ins.symbol}: {srv.url} ({len(cap.frames)} frames) <- {path}")
            click.echo(f"  paraphina record --venue {ins.venue}:{ins.symbol} --endpoint {ins.venue}={srv.url}{grid} "
                       "-o SESSION.arrow")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo("serving until Ctrl-C", err=True)
        await stop.wait()
        for srv in servers:
            await srv.close()
        return servers

    servers = asyncio.run(main())
    for srv in servers:
        st = srv.stats
        click.echo(f"{srv.venue}: connections {st.connections} | frames sent {st.sent} | REST {st.rest_requests} | "
                   f"refused {len(srv.refused)}" + (f" (first: {srv.refused[0]})" if srv.refused else ""))


def _capture_kind(path: str, peek_objects) -> str:
    """binance, hyperliquid or bybit, from the first JSON objects of the capture."""
    for _ts, _js, obj in peek_objects([path], "serve-capture", 50):
        if "stream" in obj or "lastUpdateId" in obj:
            return "binance"
        if "channel" in obj:
            return "hyperliquid"
        if "topic" in obj:
            return "bybit"
    raise UserError(f"{path}: not a Binance, Hyperliquid or Bybit capture (no stream, channel or topic in the first lines)")
