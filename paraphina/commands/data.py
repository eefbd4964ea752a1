"""``paraphina import`` and ``paraphina merge``: real market data into event logs."""

from __future__ import annotations

import os

import click

from paraphina.cli import cli
from paraphina.commands.common import force_option, output_option
from paraphina.importers import SOURCES, run_import
from paraphina.importers.common import ImportOptions
from paraphina.importers.timers import DEFAULT_TIMER_MS
from paraphina.outputs import check_input, check_output


def _progress(label: str, total: int):
    """Progress over input bytes (paraphina.progress): a bar on a terminal, lines on stderr off
    it once the work runs longer than the progress interval."""
    from paraphina.progress import position_reporter

    return position_reporter(label, total)


def timer_ms_option(f):
    return click.option("--timer-ms", type=click.IntRange(0, 3_600_000), default=DEFAULT_TIMER_MS, show_default=True,
                        metavar="N", help="A Timer event every N ms of event time: the engine's loops run only on "
                        "them (default: the main-loop interval; 0: none; at most an hour).")(f)


@cli.command("import")
@click.argument("source", metavar="SOURCE")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@output_option(metavar="OUT.arrow", help="The log to write.", required=True)
@click.option("--venue", default=None, metavar="NAME", help="Venue name in the instrument table (default per source).")
@click.option("--instrument", default=None, metavar="SYMBOL", help="Symbol to import (default: the first one seen).")
@click.option("--tick-size", default=None, metavar="D", help="Price tick (decimal string); default per source and symbol.")
@click.option("--lot-size", default=None, metavar="D", help="Size lot (decimal string); default per source and symbol.")
@click.option("--skip-bad", is_flag=True, help="Count malformed lines and continue (default: stop with exit 2).")
@click.option("--contract-size-to-base", is_flag=True, help="Convert contract sizes (Binance COIN-M) to the base asset.")
@timer_ms_option
@force_option("OUT.arrow")
def import_cmd(source, files, out, venue, instrument, tick_size, lot_size, skip_bad, contract_size_to_base, timer_ms,
               force) -> None:
    """Import capture FILEs of one venue (in order) from SOURCE into the log OUT.arrow."""
    check_output(out, inputs=files, force=force)
    opts = ImportOptions(venue=venue, instrument=instrument, tick_size=tick_size, lot_size=lot_size,
                         skip_bad=skip_bad, contract_size_to_base=contract_size_to_base, timer_ms=timer_ms)
    total = sum(os.path.getsize(f) for f in files if os.path.isfile(f))
    update, close = _progress(f"importing {source}", total)
    try:
        summary = run_import(source, list(files), out, opts, progress=update, force=force)
    finally:
        if close:
            close()
    click.echo(f"wrote {out}")
    for line in summary.lines():
        click.echo(line)


import_cmd.help = (f"Import capture FILEs of one venue (in order) from SOURCE ({', '.join(SOURCES)}) into the "
                   "log OUT.arrow. Malformed lines stop the import (exit 2) unless --skip-bad.")


@cli.command("merge")
@click.argument("logs", nargs=-1, required=True, metavar="LOG...")
@output_option(metavar="OUT.arrow", help="The merged log to write.", required=True)
@timer_ms_option
@force_option("OUT.arrow")
def merge_cmd(logs, out, timer_ms, force) -> None:
    """Merge single-venue logs into one multi-venue log ordered by ts_ns (ties: input order, then seq)."""
    for p in logs:
        check_input(p)
    check_output(out, inputs=logs, force=force)
    from paraphina.importers.merge import merge_logs

    update, close = _progress("merging", 0)
    try:
        summary = merge_logs(list(logs), out, force=force, timer_ms=timer_ms, progress=update)
    finally:
        if close:
            close()
    click.echo(f"wrote {out}")
    for line in summary:
        click.echo(line)


@cli.command("build-real")
@click.argument("manifest", default="event_logs/real_manifest.toml")
@click.option("--data", "data_dir", default=None, metavar="DIR", help="Real data directory (default: <repo>/../shared/data/real).")
@output_option("--out-dir", dest="out_dir", metavar="DIR", default="build/real", help="Where the built logs go.")
@click.option("--name", "names", multiple=True, help="Build only this log (repeatable).")
@force_option("log in DIR")
def build_real_cmd(manifest, data_dir, out_dir, names, force) -> None:
    """Build the logs a real-data MANIFEST describes (sha256-checked sources, import, merge)."""
    from pathlib import Path

    from paraphina.importers.manifest import build

    check_input(manifest, what="MANIFEST")
    check_output(out_dir, inputs=(manifest, data_dir), directory=True)

    build(Path(manifest), Path(data_dir) if data_dir else None, Path(out_dir), list(names), force, echo=click.echo)
