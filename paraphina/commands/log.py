"""``paraphina verify``, ``cat`` and ``sample``: a log's integrity, its contents, and new logs."""

from __future__ import annotations

import sys

import click
import msgspec

from paraphina import events as ev
from paraphina.cli import cli
from paraphina.commands.common import force_option, output_option
from paraphina.errors import UserError
from paraphina.eventlog import LogDamaged, LogError, LogReader, LogWriter, read_info
from paraphina.outputs import check_output, replacing


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
    if lo < 0 or (hi is not None and hi <= lo):
        raise UserError(f"--seq {text!r}: selects nothing (A:B needs 0 <= A < B; B exclusive)")
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
            if not 0 <= int(v) < len(names):
                raise UserError(f"--venue {v}: {log} has venues 0..{len(names) - 1} ({', '.join(names)})")
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
@click.argument("out_arg", required=False, metavar="[OUT]")
@output_option(metavar="OUT.arrow", help="The log to write (also accepted as the argument OUT).")
@click.option("--events", "n_events", type=click.IntRange(1, 100_000_000), default=10_000, show_default=True)
@click.option("--venues", "n_venues", type=click.IntRange(1, 64), default=5, show_default=True)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@force_option("OUT.arrow")
def sample(out_arg: str | None, out: str | None, n_events: int, n_venues: int, seed: int, force: bool) -> None:
    """Write a synthetic multi-venue market log (the project's own generator)."""
    from paraphina import samplegen

    if out_arg is not None and out is not None and out_arg != out:
        raise click.UsageError("give the output once: -o/--out or the argument OUT", ctx=click.get_current_context())
    out = out or out_arg
    if out is None:
        raise click.UsageError("Missing option '-o' / '--out'.", ctx=click.get_current_context())
    check_output(out, force=force)
    with replacing(out) as tmp, LogWriter.create(tmp, samplegen.instruments(n_venues),
                                                 {"source": "paraphina sample", "seed": seed}) as w:
        for cols in samplegen.generate(n_events, n_venues, seed):
            w.append_columns(cols)
    click.echo(f"wrote {out}: {n_events} events, {n_venues} venues, seed {seed}")
