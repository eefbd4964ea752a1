"""CLI commands, one module per family; importing this package registers them on ``cli``."""

from paraphina.commands import log  # noqa: F401
