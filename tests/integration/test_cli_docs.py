"""docs/cli.md lists every command of `paraphina --help` and every option of each (and no option
a command does not have)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from paraphina.cli import _register, cli

ROOT = Path(__file__).resolve().parents[2]


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
        assert real - documented == set(), (f"`paraphina {name}`: options missing from docs/cli.md "
                                            "(regenerate: python tests/integration/test_cli_docs.py)")
        assert documented - real == set(), f"`paraphina {name}`: docs/cli.md lists options it does not have"
    assert set(docs) - seen == set(), "docs/cli.md documents commands that do not exist"


FALLBACK = {"policy": "Policy plugin name (see `paraphina plugins`).",
            "profile": "Risk profile: conservative, balanced or aggressive.",
            "fmt": "Output format.", "backend": "Where the runs execute: inline/processes, or a Ray cluster.",
            "seed": "Seed.", "out": "Output path."}


def reference() -> str:
    """The per-command sections of docs/cli.md as --help describes them (to regenerate after a
    CLI change: `PYTHONPATH=. python tests/integration/test_cli_docs.py`, then paste from the first
    `### ` heading on)."""
    _register()
    out = []
    for path, cmd in walk_all(cli, []):
        ctx = click.Context(cmd, info_name=" ".join(["paraphina"] + path))
        usage = " ".join(cmd.collect_usage_pieces(ctx))
        out.append(f"### `paraphina {' '.join(path)}`\n")
        out.append(f"`paraphina {' '.join(path)} {usage}`\n")
        h = " ".join((cmd.help or "").strip().split("\n\n")[0].split())
        out.append(h + "\n")
        rows = []
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden and "--help" not in p.opts:
                names = ", ".join(f"`{o}`" for o in p.opts + p.secondary_opts)
                meta = "" if p.is_flag else f" {p.make_metavar(ctx)}"
                helpt = (p.help or FALLBACK.get(p.name, "")).replace("|", "\\|")
                meta = meta.replace("|", "\\|")
                if p.show_default and p.default is not None and not p.is_flag:
                    helpt += f" (default: {p.default})"
                rows.append(f"| {names}{meta} | {helpt} |")
        if rows:
            out.append("| option | meaning |\n|---|---|\n" + "\n".join(rows) + "\n")
        else:
            out.append("No options.\n")
    return "\n".join(out)


def walk_all(cmd, path):
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            yield from walk_all(cmd.commands[name], path + [name])
    else:
        yield path, cmd


if __name__ == "__main__":
    print(reference())
