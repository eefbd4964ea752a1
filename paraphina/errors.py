"""User-facing errors: one line naming the file, record or field; the CLI exits 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (a file, a flag, a config value). Never shown as a traceback."""

    exit_code = 2
