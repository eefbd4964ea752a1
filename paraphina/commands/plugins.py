"""``paraphina plugins``: the policies this installation can run."""

from __future__ import annotations

import click

from paraphina.cli import cli
from paraphina.errors import UserError
from paraphina.policies import available_policies, make_policy


@cli.command()
def plugins() -> None:
    """List policy plugins (built-in and from the paraphina.policies entry points)."""
    for name, source in available_policies().items():
        try:
            version = getattr(make_policy(name), "version", "?")
            click.echo(f"{name}\t{version}\t{source}")
        except UserError as exc:
            click.echo(f"{name}\t(broken: {exc})\t{source}")
