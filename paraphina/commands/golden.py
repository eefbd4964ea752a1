"""``paraphina golden check|update``: the CI story for behaviour changes."""

from __future__ import annotations

import sys

import click

from paraphina import golden as g
from paraphina.cli import cli

DEFAULT_MANIFEST = "event_logs/manifest.toml"


@cli.group()
def golden() -> None:
    """Pinned replays of the sample logs."""


@golden.command("check")
@click.argument("manifest", default=DEFAULT_MANIFEST)
def check_cmd(manifest: str) -> None:
    """Replay every entry; exit 0 all match, 1 some differ (with the first divergence), 2 error."""
    outcomes = g.check(manifest)
    bad = 0
    for o in outcomes:
        click.echo(f"{o.status:8} {o.entry.name}: {o.events} events, {o.actions} actions, {o.sha256[:16]}")
        for line in o.detail or []:
            click.echo(f"         {line}")
        bad += o.status == "differ"
    click.echo(f"{len(outcomes) - bad} of {len(outcomes)} golden entries match")
    sys.exit(1 if bad else 0)


@golden.command("update")
@click.argument("manifest", default=DEFAULT_MANIFEST)
def update_cmd(manifest: str) -> None:
    """Re-pin every entry after an intended change and print what moved."""
    moved = 0
    for o in g.update(manifest):
        if o.status == "differ":
            moved += 1
            click.echo(f"moved    {o.entry.name}")
            for line in o.detail or []:
                click.echo(f"         {line}")
        else:
            click.echo(f"{o.status:8} {o.entry.name}")
    click.echo(f"{moved} entries re-pinned")
