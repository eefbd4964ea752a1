"""``paraphina verify``, ``cat`` and ``sample``: a log's integrity, its contents, and new logs."""

from __future__ import annotations

import sys

import click
import msgspec

from paraphina import events as ev
from paraphina.cli import cli
from paraphina.errors import UserError
from paraphina.eventlog import LogDamaged, LogError, LogReader, LogWriter, read_info


@cli.command()
@click.argument("log")
def verify(log: str) -> None:
    """Check a log: hash chain, seq continuity, decodable records, clean close.

    Exit 0 clean, 1 damaged (naming the first bad batch and seq), 2 could not run.
    """
    try:
        info = read_info(log)
    except LogDamaged as exc:
        click.echo(f"damaged: {exc}")
        sys.exit(1)
    if info.damage is not None:
        click.echo(f"damaged: {info.damage} (intact prefix: {info.events} events in {info.batches} batches)")
        sys.exit(1)
    state = "closed cleanly" if info.closed_cleanly else "not closed (the writer is still open or stopped after a complete batch)"
    click.echo(f"ok: {log}: {info.events} events in {info.batches} batches, {len(info.instruments)} venues, {state}")


def _parse_seq_range(text: str | None) -> tuple[int, int | None]:
    if not text:
        return 0, None
    a, sep, b = text.partition(":")
    try:
        lo = int(a) if a else 0
        hi = int(b) if b else None
    except ValueError:
        raise UserError(f"--seq {text!r}: expected A:B with integers (B exclusive)") from None
    if not sep:
        hi = lo + 1
    return lo, hi


@cli.command()
@click.argument("log")
@click.option("--kind", "kinds", multiple=True, help="Only these event kinds (e.g. trade, book_delta); repeatable.")
@click.option("--venue", "venues", multiple=True, help="Only these venues, by index or name; repeatable.")
@click.option("--seq", "seq_range", default=None, metavar="A:B", help="Only seq A (inclusive) to B (exclusive).")
def cat(log: str, kinds: tuple[str, ...], venues: tuple[str, ...], seq_range: str | None) -> None:
    """Print a log's events as JSON lines (with their seq)."""
    unknown = [k for k in kinds if k not in ev.TYPE_BY_TAG]
    if unknown:
        raise UserError(f"--kind {unknown[0]!r}: unknown event kind (known: {', '.join(sorted(ev.TYPE_BY_TAG))})")
    reader = LogReader(log)
    names = [i.venue for i in reader.info.instruments]
    wanted_venues: set[int] = set()
    for v in venues:
        if v.lstrip("-").isdigit():
            wanted_venues.add(int(v))
        elif v in names:
            wanted_venues.add(names.index(v))
        else:
            raise UserError(f"--venue {v!r}: not a venue of {log} ({', '.join(names)})")
    codes = {ev.TYPE_BY_TAG[k].KIND for k in kinds}
    lo, hi = _parse_seq_range(seq_range)
    out = sys.stdout.buffer
    enc = msgspec.json.Encoder()
    try:
        for cols in reader.iter_columns():
            first, last = int(cols.seq[0]), int(cols.seq[-1])
            if last < lo:
                continue
            if hi is not None and first >= hi:
                break
            for i in range(max(0, lo - first), len(cols) if hi is None else min(len(cols), hi - first)):
                if codes and int(cols.kind[i]) not in codes:
                    continue
                if wanted_venues and int(cols.venue[i]) not in wanted_venues:
                    continue
                out.write(enc.encode({"seq": int(cols.seq[i])} | msgspec.to_builtins(cols.event(i))) + b"\n")
    except msgspec.DecodeError as exc:
        raise LogError(f"{log}: {exc}") from None
    out.flush()
    if reader.info.damage is not None:
        click.echo(f"warning: {reader.info.damage}; printed the intact prefix", err=True)


@cli.command()
@click.argument("out")
@click.option("--events", "n_events", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--venues", "n_venues", type=click.IntRange(1, 64), default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def sample(out: str, n_events: int, n_venues: int, seed: int, force: bool) -> None:
    """Write a synthetic multi-venue market log (the project's own generator)."""
    from paraphina import samplegen

    with LogWriter.create(out, samplegen.instruments(n_venues), {"source": "paraphina sample", "seed": seed},
                          overwrite=force) as w:
        for cols in samplegen.generate(n_events, n_venues, seed):
            w.append_columns(cols)
    click.echo(f"wrote {out}: {n_events} events, {n_venues} venues, seed {seed}")


@cli.command("export")
@click.argument("log")
@click.option("--to", "fmt", type=click.Choice(["parquet", "arrow-file"]), required=True,
              help="Parquet, or Arrow IPC files (random access; polars.scan_ipc opens them).")
@click.option("-o", "--out", "out_dir", required=True, metavar="DIR", help="The directory to create (one file per table).")
@click.option("--force", is_flag=True, help="Replace DIR if it exists.")
def export(log: str, fmt: str, out_dir: str, force: bool) -> None:
    """Write LOG as plain tables (one per kind family, decoded, prices and sizes as decimals)
    that DuckDB, Polars or pandas read without paraphina; see docs/log-format.md."""
    import os

    from paraphina.export import export_atomically

    if os.path.exists(log) and os.path.exists(out_dir) and os.path.samefile(log, out_dir):
        raise UserError(f"--out {out_dir}: is the input log")
    if os.path.exists(out_dir) and not force:
        raise UserError(f"--out {out_dir}: already exists (use --force to replace it)")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UserError(f"--out {out_dir}: exists and is not a directory")
    parent = os.path.dirname(os.path.abspath(out_dir))
    if not os.path.isdir(parent):
        raise UserError(f"--out {out_dir}: no such directory {parent}")
    LogReader(log).close()   # a missing or foreign file fails here, before anything is created
    try:
        r = export_atomically(log, out_dir, fmt, force)
    except OSError as exc:
        raise UserError(f"--out {out_dir}: cannot write ({exc.strerror})") from None
    if r.warning:
        click.echo(f"warning: {r.warning}", err=True)
    tables = ", ".join(f"{name} {n}" for name, n in r.rows.items() if n)
    click.echo(f"wrote {out_dir}: {r.events} events as {fmt} tables ({tables or 'no rows'})")


@cli.group("log")
def log_group() -> None:
    """Work on a log file itself (see also verify, cat, export)."""


@log_group.command("continue")
@click.argument("log")
def log_continue(log: str) -> None:
    """Close a log whose writer stopped (a killed run, a crashed recorder) so it verifies clean.

    Every intact batch stays; a torn last batch is moved to LOG.torn-OFFSET first; the closing
    record and end-of-stream marker are written. Mid-log damage is refused (exit 1).
    """
    try:
        info = read_info(log)
    except LogDamaged as exc:
        click.echo(f"damaged: {exc} (mid-log damage: nothing appended)")
        sys.exit(1)
    if info.closed_cleanly:
        click.echo(f"nothing to do: {log} is closed cleanly ({info.events} events)")
        return
    torn = info.damage is not None
    try:
        LogWriter.append_to(log, flush_interval_s=None).close()
    except OSError as exc:
        raise UserError(f"{log}: cannot write ({exc.strerror})") from None
    aside = f"; the torn tail is in {log}.torn-{info.end_offset}" if torn else ""
    click.echo(f"closed {log}: {info.events} events in {info.batches} batches{aside}")
