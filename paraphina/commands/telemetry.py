"""``paraphina telemetry``: condense telemetry JSONL files into a dataset, summarise it, check files.

Bad input is a UserError: one line on stderr, exit 2 (``paraphina.cli.main``). ``check`` exits 1
when it read the file and found violations.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paraphina.cli import cli
from paraphina.errors import UserError

MAX_VIOLATIONS_SHOWN = 20


@cli.group("telemetry")
def telemetry_group() -> None:
    """Telemetry JSONL: research datasets and the Telemetry v1 contract."""


@telemetry_group.command("condense")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="DATASET.csv",
              help="The dataset: one CSV row of metrics per telemetry file.")
@click.option("--label-from-path", is_flag=True,
              help="Add a column per key=value component of each file's path (runs/profile=balanced/seed=3/...).")
def condense_cmd(files: tuple[str, ...], out: Path, label_from_path: bool) -> None:
    """Condense telemetry JSONL FILEs into one dataset CSV (rows sorted by file)."""
    from paraphina.research.telemetry_dataset import condense, dataset_csv

    ds = condense(files, label_from_path=label_from_path)
    _write(out, dataset_csv(ds))
    click.echo(f"Wrote: {out} ({len(ds.rows)} run{'s' if len(ds.rows) != 1 else ''}, {len(ds.columns)} columns)")


@telemetry_group.command("summarise")
@click.argument("dataset", metavar="DATASET.csv")
@click.option("--group-by", "group_by", multiple=True, metavar="COL", help="Group runs by this column (repeatable).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="OUT.json",
              help="Also write the summary as JSON.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="OUT.csv",
              help="Also write the summary table as CSV.")
def summarise_cmd(dataset: str, group_by: tuple[str, ...], json_out: Path | None, csv_out: Path | None) -> None:
    """Per-group count, mean, std, min, p05/p50/p95, max of every numeric column of DATASET."""
    from paraphina.research.dataset_summary import format_table, summarise, summary_csv, summary_json
    from paraphina.research.telemetry_dataset import read_dataset

    summary = summarise(read_dataset(dataset), group_by)
    for line in format_table(summary):
        click.echo(line)
    if json_out is not None:
        _write(json_out, summary_json(summary))
        click.echo(f"Wrote: {json_out}")
    if csv_out is not None:
        _write(csv_out, summary_csv(summary))
        click.echo(f"Wrote: {csv_out}")


@telemetry_group.command("check")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def check_cmd(files: tuple[str, ...]) -> None:
    """Validate telemetry JSONL FILEs against Telemetry v1: exit 0 ok, 1 a violation (each named
    by file, line and field), 2 a missing or unreadable file."""
    from paraphina.research.telemetry_contract import check_telemetry_v1

    reports = [(f, check_telemetry_v1(f)) for f in files]  # a missing file raises before any output: exit 2
    failed = 0
    for path, rep in reports:
        if rep.ok:
            click.echo(f"ok: {path}: {rep.records} record{'s' if rep.records != 1 else ''}, Telemetry v1")
            continue
        failed += 1
        for v in rep.violations[:MAX_VIOLATIONS_SHOWN]:
            click.echo(v.format(path), err=True)
        more = len(rep.violations) - MAX_VIOLATIONS_SHOWN
        if more > 0:
            click.echo(f"{path}: ... and {more} more", err=True)
        click.echo(f"FAILED: {path}: {len(rep.violations)} violation(s) in {rep.records} record(s)", err=True)
    sys.exit(1 if failed else 0)


def _write(path: Path, text: str) -> None:
    from paraphina.research.evidence import write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror})") from None
