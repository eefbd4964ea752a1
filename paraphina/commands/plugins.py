"""``paraphina plugins``: the policies this installation can run."""

from __future__ import annotations

import importlib.util

import click

from paraphina.cli import cli
from paraphina.errors import UserError
from paraphina.policies import NEEDS_MODEL, available_policies, make_policy


def model_policy_line(name: str) -> tuple[str, str]:
    """(version, note) of a policy that needs a model: it cannot be built from its name, which is
    not a fault; it is unusable only when its runtime is missing."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "-", "(unavailable: needs onnxruntime: pip install 'paraphina[rl]')"
    from paraphina.rl.policy import POLICY_VERSION

    return f"{POLICY_VERSION}+model", "(needs --model FILE)"


@cli.command()
def plugins() -> None:
    """List policy plugins (built-in and from the paraphina.policies entry points)."""
    for name, source in available_policies().items():
        if name in NEEDS_MODEL:
            version, note = model_policy_line(name)
            click.echo(f"{name}\t{version} {note}\t{source}")
            continue
        try:
            version = getattr(make_policy(name), "version", "?")
            click.echo(f"{name}\t{version}\t{source}")
        except UserError as exc:
            click.echo(f"{name}\t(broken: {exc})\t{source}")
