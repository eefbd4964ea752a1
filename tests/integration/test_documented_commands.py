"""Every `paraphina` command the README and docs/ show exists as written: its subcommand path
resolves and each option it uses is one that command takes. The README's first block (the
in-repository walk) also runs, line by line, from a fresh directory; docs/tutorial.md runs in
test_tutorial.py.

A command is a line of a code block (fenced, or indented by four spaces) or a backticked cell
of a table that starts with ``paraphina``; synopsis notation (``[--opt X]``, ``A\\|B``,
``...``) is read as the options it names."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from conftest import ROOT
from paraphina.cli import cli

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"^(?:\$ )?(?:\.venv/bin/)?paraphina(?:\s|$)")


def code_lines(text: str) -> list[str]:
    """Lines of fenced and four-space-indented code blocks, continuation backslashes joined."""
    out, fenced, joined = [], False, ""
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or line.startswith("    "):
            line = joined + " " + line.strip() if joined else line.strip()
            if line.endswith("\\"):
                joined = line[:-1].rstrip()
                continue
            joined = ""
            out.append(line)
    return out


def table_commands(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\|\s*`(paraphina [^`]+)`", text, re.M)]


def documented() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for line in [*code_lines(text), *table_commands(text)]:
            line = line.split(" # ")[0].split("  #")[0].strip()
            for part in re.split(r"\s+/\s+(?=`?paraphina )", line):  # `a` / `b` in one cell
                part = part.strip("` ")
                if COMMAND.match(part):
                    found.append((path.relative_to(ROOT).as_posix(), part))
    return found


def resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    """The (sub)command the words name, and the words after its name."""
    cmd, ctx = cli, click.Context(cli, info_name="paraphina")
    i = 0
    while isinstance(cmd, click.Group) and i < len(words) and not words[i].startswith("-"):
        sub = cmd.get_command(ctx, words[i])
        if sub is None:
            break
        cmd, ctx, i = sub, click.Context(sub, info_name=words[i], parent=ctx), i + 1
    return cmd, words[i:]


def option_names(cmd: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for p in cmd.params:
        if isinstance(p, click.Option):
            names.update(p.opts)
            names.update(p.secondary_opts)
    return names


def test_the_docs_show_commands():
    assert len(documented()) > 60


@pytest.mark.parametrize("where,line", documented(), ids=lambda x: x if "/" in x or x.endswith(".md") else None)
def test_documented_command_exists_as_written(where, line):
    text = re.sub(r"[\[\]]", " ", line).replace("\\|", "|").replace("...", " ")
    words = shlex.split(text, comments=False)[1:]
    words = [w for w in words if w not in ("|", "||", "&&")]
    cmd, rest = resolve(words)
    if isinstance(cmd, click.Group):
        assert not rest or rest[0].startswith("-"), f"{where}: `{line}`: no command {rest[0]!r} under {cmd.name}"
        return
    known = option_names(cmd)
    for word in rest:
        if word.startswith("--") or re.fullmatch(r"-[a-zA-Z]", word):
            for name in word.split("=", 1)[0].split("|"):
                assert name in known, f"{where}: `{line}`: {cmd.name} has no option {name} (has {sorted(known)})"


def readme_first_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Using it", 1)[1]
    block = re.search(r"\n\n((?: {4}.*\n)+)", section).group(1)
    return [line.strip().split(" # ")[0].split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_first_block_runs_from_a_fresh_directory(tmp_path):
    (tmp_path / "event_logs").symlink_to(ROOT / "event_logs")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    printed_hash = None
    for line in readme_first_block():
        r = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
        differ_ok = " diff " in f" {line} " and r.returncode == 1  # the README: exit 1 = they differ
        assert r.returncode == 0 or differ_ok, f"`{line}` exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        m = re.search(r"action_stream_sha256: (\w+)", r.stdout)
        if m and printed_hash is None:
            printed_hash = m.group(1)
        if line.startswith("sha256sum demo.actions"):
            assert r.stdout.split()[0] == printed_hash  # what the README's comment promises
