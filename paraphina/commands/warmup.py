"""``paraphina warmup``: compile and cache the numba kernels (``make install`` runs it)."""

from __future__ import annotations

import click

from paraphina.cli import cli


@cli.command("warmup")
def warmup_cmd() -> None:
    """Compile and cache every numba kernel now (make install does), so no later command pays for compilation."""
    from paraphina import warmup

    warmup.run(click.echo)
