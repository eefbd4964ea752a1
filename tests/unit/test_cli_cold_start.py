"""Cold start: ``--version`` and ``--help`` import no command module (numpy, numba, pyarrow),
and the lazy group's command table says what the commands themselves say."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from paraphina.cli import COMMANDS, _register, cli

HEAVY = ("numpy", "numba", "pyarrow", "msgspec", "paraphina.commands.sim", "paraphina.eventlog", "paraphina.engine")

PROBE = """
import json, sys
from paraphina.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _probe(*argv: str) -> tuple[int, set[str], str]:
    code, modules, out, _ = _probe_all(*argv)
    return code, modules, out


def _probe_all(*argv: str) -> tuple[int, set[str], str, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=False,
                          env={"COLUMNS": "80", "PATH": ""} | _pythonpath())
    *errors, last = done.stderr.strip().splitlines()
    report = json.loads(last)
    return report["code"], set(report["modules"]), done.stdout, errors


def _pythonpath() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME", "VIRTUAL_ENV")}


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["-h"]])
def test_version_and_help_import_nothing_heavy(argv):
    code, modules, out = _probe(*argv)
    assert code == 0 and out
    assert sorted(m for m in HEAVY if m in modules) == []


def test_a_command_imports_only_its_module():
    code, modules, _ = _probe("golden", "--help")
    assert code == 0
    assert "paraphina.commands.golden" in modules
    assert not {"paraphina.commands.sim", "paraphina.commands.record", "paraphina.commands.rl"} & modules


def test_table_matches_the_commands():
    _register()
    assert sorted(cli.commands) == sorted(COMMANDS)
    for name, cmd in cli.commands.items():
        module, short = COMMANDS[name]
        assert cmd.callback.__module__ == f"paraphina.commands.{module}", name
        assert cmd.get_short_help_str(limit=10_000) == short, f"COMMANDS[{name!r}] is stale"


def test_help_lists_the_same_with_or_without_imports():
    _, _, cold = _probe("--help")
    _register()
    warm = CliRunner().invoke(cli, ["--help"], prog_name="paraphina", terminal_width=78)
    assert warm.exit_code == 0
    assert cold == warm.output


def test_unknown_command_is_one_line():
    code, _, _, errors = _probe_all("no-such-command")
    assert code == 2
    assert len(errors) == 1 and "no-such-command" in errors[0]


EXIT_PROBE = """
import atexit, gc, sys
atexit.register(lambda: print(f"frozen={gc.get_freeze_count()}", file=sys.stderr))
import paraphina.cli
entry = getattr(paraphina.cli, sys.argv[1])
sys.argv = ["paraphina", *sys.argv[2:]]
entry()
"""


def test_the_program_freezes_the_collector_on_its_way_out():
    # The program (console script and ``python -m paraphina``) skips the interpreter's last
    # garbage collections over numba's objects; ``main`` alone leaves the collector alone.
    def frozen_at_exit(entry: str) -> int:
        done = subprocess.run([sys.executable, "-c", EXIT_PROBE, entry, "--version"], capture_output=True,
                              text=True, check=False, env=_pythonpath())
        assert done.returncode == 0 and "paraphina" in done.stdout
        return int(done.stderr.strip().splitlines()[-1].removeprefix("frozen="))

    assert frozen_at_exit("script") > 0
    assert frozen_at_exit("main") == 0


def test_the_console_script_is_the_program():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "paraphina"]
    assert ep.value == "paraphina.cli:script"
