"""The ``paraphina`` command line (click).

Every command turns bad input into one line on stderr and exit code 2: :func:`main` catches
:class:`~paraphina.errors.UserError`, config and log errors, and anything raised while decoding
input. Commands live next to the code they drive; this module only assembles the group.
"""

from __future__ import annotations

import sys

import click

from paraphina import __version__
from paraphina.config import ConfigError
from paraphina.errors import UserError
from paraphina.eventlog import LogError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paraphina")
def cli() -> None:
    """paraphina: deterministic event-sourced replay for multi-venue market making."""


def _register() -> None:
    # Each command module adds its commands to ``cli``; imported here so that the group is
    # complete whichever entry point runs.
    from paraphina import commands  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    _register()
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
    except (UserError, ConfigError, LogError) as exc:
        click.echo(f"paraphina: error: {exc}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except BrokenPipeError:
        sys.exit(0)
    except UnicodeDecodeError as exc:
        # A binary file where text is expected, missed by the reader's own check.
        click.echo(f"paraphina: error: an input is not UTF-8 text ({exc.reason} at byte {exc.start})", err=True)
        sys.exit(2)
    except OSError as exc:
        # The last net under the promise: a file the checks above missed (a permission, a
        # full disk) is still one line naming it, never a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"paraphina: error: {where}{exc.strerror or exc}", err=True)
        sys.exit(2)
    except SystemExit:
        raise
    else:
        sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
