"""``paraphina telemetry``: condense telemetry JSONL files into a dataset, summarise it, check files.

Bad input is a UserError: one line on stderr, exit 2 (``paraphina.cli.main``). ``check`` exits 1
when it read the file and found violations.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paraphina.cli import cli
from paraphina.commands.common import force_option
from paraphina.outputs import check_output, write_file
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
@force_option("DATASET.csv")
def condense_cmd(files: tuple[str, ...], out: Path, label_from_path: bool, force: bool) -> None:
    """Condense telemetry JSONL FILEs into one dataset CSV (rows sorted by file)."""
    from paraphina.research.telemetry_dataset import condense, dataset_csv

    check_output(out, inputs=files, force=force)

    ds = condense(files, label_from_path=label_from_path)
    _write(out, dataset_csv(ds))
    click.echo(f"Wrote: {out} ({len(ds.rows)} run{'s' if len(ds.rows) != 1 else ''}, {len(ds.columns)} columns)")


@telemetry_group.command("summarise")
@click.argument("dataset", metavar="DATASET.csv")
@click.option("--group-by", "group_by", multiple=True, metavar="COL", help="Group runs by this column (repeatable).")
@click.option("-o", "--out", "outs", multiple=True, metavar="OUT.json|OUT.csv",
              help="Also write the summary here, as JSON or CSV by the file's suffix (repeatable).")
@click.option("--json", "json_out", default=None, hidden=True)  # old spelling of -o OUT.json
@click.option("--csv", "csv_out", default=None, hidden=True)  # old spelling of -o OUT.csv
@force_option("output file")
def summarise_cmd(dataset: str, group_by: tuple[str, ...], outs: tuple[str, ...], json_out: str | None,
                  csv_out: str | None, force: bool) -> None:
    """Per-group count, mean, std, min, p05/p50/p95, max of every numeric column of DATASET."""
    from paraphina.research.dataset_summary import format_table, summarise, summary_csv, summary_json
    from paraphina.research.telemetry_dataset import read_dataset

    targets: list[tuple[str, str]] = []  # (path, format)
    for path in outs:
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in ("json", "csv"):
            raise UserError(f"--out {path}: name a .json or .csv file (the suffix picks the format)")
        targets.append((path, fmt))
    targets += [(p, f) for p, f in ((json_out, "json"), (csv_out, "csv")) if p is not None]
    for path, _ in targets:
        check_output(path, inputs=(dataset, *(p for p, _ in targets if p is not path)), force=force)
    summary = summarise(read_dataset(dataset), group_by)
    for line in format_table(summary):
        click.echo(line)
    for path, fmt in targets:
        _write(Path(path), summary_json(summary) if fmt == "json" else summary_csv(summary))
        click.echo(f"Wrote: {path}")


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
    try:
        write_file(path, text)
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror})") from None
