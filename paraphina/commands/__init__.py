"""CLI commands, one module per family; importing this package registers them on ``cli``."""

from paraphina.commands import golden, log, plugins, replay, sim  # noqa: F401
from paraphina.commands import data  # noqa: F401
from paraphina.commands import record  # noqa: F401
