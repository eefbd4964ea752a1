"""The ``paraphina`` command line (click).

Every command turns bad input into one line on stderr and exit code 2: :func:`main` catches
:class:`~paraphina.errors.UserError`, config and log errors, and anything raised while decoding
input. Commands live next to the code they drive; this module only assembles the group.

Cold start: this module imports click and nothing heavy. Each command module (and with it
numpy, numba, pyarrow ...) is imported only when one of its commands runs; ``--help`` lists the
commands from :data:`COMMANDS` without importing them (``tests/unit/test_cli_cold_start.py``
checks that table against the commands themselves).
"""

from __future__ import annotations

import gc
import importlib
import sys

import click

from paraphina import __version__
from paraphina.errors import UserError

# name -> (module under paraphina.commands that registers it, its short help as ``--help`` lists it)
COMMANDS: dict[str, tuple[str, str]] = {
    "adversarial": ("adversarial", "Search a scenario's parameters for failures of a preset; write them and append "
                                   "them to a suite."),
    "backtest": ("sim", "Replay LOG's market with the simulated exchange in the loop, counterfactually, with POLICY."),
    "build-real": ("data", "Build the logs a real-data MANIFEST describes (sha256-checked sources, import, merge)."),
    "cat": ("log", "Print a log's events as JSON lines (with their seq)."),
    "diff": ("replay", "Compare two action streams (action files, or logs replayed with policies)."),
    "export": ("log", "Write LOG as plain tables (one per kind family, decoded, prices and sizes as decimals) that "
                      "DuckDB, Polars or pandas read without paraphina; see docs/log-format.md."),
    "golden": ("golden", "Pinned replays of the sample logs."),
    "import": ("data", "Import capture FILEs of one venue (in order) from SOURCE (binance, hyperliquid, bybit, tardis) "
                       "into the log OUT.arrow."),
    "log": ("log", "Work on a log file itself (see also verify, cat, export)."),
    "mc": ("research", "Monte Carlo of a scenario: N seeded simulated runs -> per-run JSONL, tail-risk summary, "
                       "evidence."),
    "mc-merge": ("research", "Join Monte Carlo shard directories; rejects duplicate and missing run indices (exit 2)."),
    "merge": ("data", "Merge single-venue logs into one multi-venue log ordered by ts_ns (ties: input order, then "
                      "seq)."),
    "phase-a": ("research", "Phase A promotion pipeline (python3 -m batch_runs.phase_a.promote_pipeline with CLI "
                            "option names)."),
    "phase-a-compare": ("research", "Compare a Phase A sampler with the random baseline at equal budget on the same "
                                    "seeds: frontiers, hypervolume."),
    "plugins": ("plugins", "List policy plugins (built-in and from the paraphina.policies entry points)."),
    "record": ("record", "Record live public feeds into OUT (prices and sizes as the importers read them)."),
    "replay": ("replay", "Replay LOG through the engine with POLICY; print the summary and the stream hash."),
    "report": ("research", "Render one run (an event log: run, backtest, shadow, record, or any log replayed) or a "
                           "Monte Carlo or Phase A study directory as an HTML page with plots."),
    "rl": ("rl", "Learned policies: behaviour cloning, PPO training, offline RL, evaluation gates (see docs/rl.md)."),
    "run": ("sim", "Simulate a scenario with the engine and the simulated exchange; print the research summary."),
    "sample": ("log", "Write a synthetic multi-venue market log (the project's own generator)."),
    "serve-capture": ("record", "Serve each capture FILE on 127.0.0.1 the way its venue would (one port per file, "
                                "the venue's paths, subscriptions, heartbeats and Binance REST depth), until Ctrl-C: "
                                "a dry run of `paraphina record` without a venue."),
    "shadow": ("shadow", "Shadow session over LOG's market: BASELINE trades, CANDIDATE is recorded beside it."),
    "suite": ("sim", "Run every scenario and seed of a suite, check its invariants; exit 1 if any fails."),
    "telemetry": ("telemetry", "Telemetry JSONL: research datasets and the Telemetry v1 contract."),
    "verify": ("log", "Check a log: hash chain, seq continuity, decodable records, clean close."),
    "verify-evidence": ("research", "Check an evidence pack: exit 0 ok, 3 a file is modified, missing or unexpected, "
                                    "2 error."),
    "warmup": ("warmup", "Compile and cache every numba kernel now (make install does), so no later command pays for "
                         "compilation."),
}


class LazyGroup(click.Group):
    """A click group whose commands are imported when one is resolved (run, or asked for its own
    ``--help``); the group's ``--help`` lists :data:`COMMANDS`' short help without importing."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            # The module registers its commands on ``cli`` as it is imported.
            importlib.import_module(f"paraphina.commands.{COMMANDS[name][0]}")
        return self.commands.get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        for name in names:
            # A command not imported yet is listed through a stand-in carrying its short help,
            # shortened by click's own rule so the listing is the same either way.
            cmd = self.commands.get(name) or click.Command(name, help=COMMANDS[name][1])
            if not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paraphina")
def cli() -> None:
    """paraphina: deterministic event-sourced replay for multi-venue market making."""


def _register() -> None:
    # Import every command module, for callers that walk ``cli.commands`` (tests, docs checks).
    for module in sorted({m for m, _ in COMMANDS.values()}):
        importlib.import_module(f"paraphina.commands.{module}")


def _input_errors() -> tuple[type[Exception], ...]:
    # Config and log errors are bad input like UserError; their modules are looked up rather
    # than imported (an exception of theirs can only come from a module already loaded), so
    # that ``--version`` and ``--help`` stay free of pyarrow and numpy.
    found: list[type[Exception]] = [UserError]
    for module, name in (("paraphina.config", "ConfigError"), ("paraphina.eventlog", "LogError")):
        loaded = sys.modules.get(module)
        if loaded is not None:
            found.append(getattr(loaded, name))
    return tuple(found)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="paraphina", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("paraphina: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        # A usage error is bad input like any other: one line, naming the command and the option.
        where = exc.ctx.command_path if exc.ctx is not None else "paraphina"
        click.echo(f"{where}: error: {exc.format_message()} (see '{where} --help')", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"paraphina: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except SystemExit:
        raise
    except Exception as exc:
        if isinstance(exc, _input_errors()):
            click.echo(f"paraphina: error: {exc}", err=True)
            sys.exit(getattr(exc, "exit_code", 2))
        _exit_on_os_error(exc)
        raise
    else:
        sys.exit(0)


def script() -> None:
    """The ``paraphina`` program: :func:`main`, then the process ends.

    Before it ends, every object is frozen out of the garbage collector: the interpreter's last
    collections would otherwise walk everything numba made while loading the kernels, about
    0.2 s of every command that replays or simulates (measured on the real 3-venue replay:
    1.23 s whole process, of which 0.17 s after the command had finished). Only the program
    does this; :func:`main` called in a longer-lived process (tests, notebooks) leaves the
    collector alone.
    """
    try:
        main()
    finally:
        gc.freeze()


def _exit_on_os_error(exc: Exception) -> None:
    if isinstance(exc, BrokenPipeError):
        sys.exit(0)
    if isinstance(exc, UnicodeDecodeError):
        # A binary file where text is expected, missed by the reader's own check.
        click.echo(f"paraphina: error: an input is not UTF-8 text ({exc.reason} at byte {exc.start})", err=True)
        sys.exit(2)
    if isinstance(exc, OSError):
        # The last net under the promise: a file the checks above missed (a permission, a
        # full disk) is still one line naming it, never a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"paraphina: error: {where}{exc.strerror or exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    # Through the package module, the ``cli`` group the command modules register on.
    from paraphina.cli import script as package_script

    package_script()
