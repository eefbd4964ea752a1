"""Importers: real market data captures -> paraphina event logs, one module per source.

Each source module has ``SOURCE`` (its name on the command line), ``describe(paths, opts, ctx)``
returning the log's :class:`~paraphina.events.Instrument`, and ``read(paths, opts, ctx,
instrument)`` yielding events in log order. Its docstring lists the traps of the format and what
the importer does about each. :func:`run_import` drives one import into a log file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from paraphina.importers.common import BadInput, ImportContext, ImportOptions, ImportSummary, check_files, write_log
from paraphina.importers.timers import check_timer_ms, with_timers

SOURCES = ("binance", "hyperliquid", "bybit", "tardis")
IMPORTER_VERSION = "1"


def source_module(name: str):
    if name not in SOURCES:
        raise BadInput(f"unknown source {name!r} (known: {', '.join(SOURCES)})")
    return importlib.import_module(f"paraphina.importers.{name}")


def run_import(source: str, paths: list[str], out: str, opts: ImportOptions | None = None, *,
               progress: Callable[[int], None] | None = None, force: bool = False) -> ImportSummary:
    """Import ``paths`` (one venue's capture, in order) from ``source`` into the log ``out``."""
    import os

    opts = opts or ImportOptions()
    mod = source_module(source)
    paths = check_files(paths)
    ctx = ImportContext(source, opts, progress)
    instrument = mod.describe(paths, opts, ctx)
    ctx.summary.instrument = instrument
    session = {"source": f"import:{source}", "importer_version": IMPORTER_VERSION,
               "files": [os.path.basename(p) for p in paths]}
    check_timer_ms(opts.timer_ms)
    session["timer_ms"] = opts.timer_ms
    events = with_timers(mod.read(paths, opts, ctx, instrument), opts.timer_ms)
    write_log(out, instrument, events, session, ctx, force=force)
    return ctx.summary


def import_events(source: str, paths: list[str], opts: ImportOptions | None = None):
    """``(instrument, events, summary)`` without writing a log (tests, notebooks): the source's
    events only, without the timer grid :func:`run_import` lays over them."""
    opts = opts or ImportOptions()
    mod = source_module(source)
    paths = check_files(paths)
    ctx = ImportContext(source, opts)
    instrument = mod.describe(paths, opts, ctx)
    ctx.summary.instrument = instrument
    events = [ctx.record(e) for e in mod.read(paths, opts, ctx, instrument)]
    return instrument, events, ctx.summary
