"""docs/cli.md lists every command of `paraphina --help` and every option of each (and no option
a command does not have)."""

from __future__ import annotations

import re

import click

from paraphina.cli import _register, cli

from conftest import ROOT


def commands(group: click.Group, path: tuple[str, ...] = ()):
    for name in sorted(group.commands):
        cmd = group.commands[name]
        if isinstance(cmd, click.Group):
            yield from commands(cmd, (*path, name))
        elif not cmd.hidden:
            yield (*path, name), cmd


def sections(text: str) -> dict[str, str]:
    parts = re.split(r"^### `paraphina ([^`]+)`\n", text, flags=re.M)
    return {parts[i]: parts[i + 1].split("\n## ")[0] for i in range(1, len(parts), 2)}


def test_cli_md_lists_every_command_and_option():
    _register()
    docs = sections((ROOT / "docs" / "cli.md").read_text(encoding="utf-8"))
    seen = set()
    for path, cmd in commands(cli):
        name = " ".join(path)
        seen.add(name)
        assert name in docs, f"docs/cli.md has no section for `paraphina {name}`"
        documented = set(re.findall(r"`(--?[a-z][a-z0-9-]*)`", docs[name].split("| option |", 1)[-1]))
        real = {o for p in cmd.params if isinstance(p, click.Option) and not p.hidden
                for o in (*p.opts, *p.secondary_opts) if o not in ("-h", "--help")}
        assert real - documented == set(), f"`paraphina {name}`: options missing from docs/cli.md"
        assert documented - real == set(), f"`paraphina {name}`: docs/cli.md lists options it does not have"
    assert set(docs) - seen == set(), "docs/cli.md documents commands that do not exist"
