"""The CLI: each module registers its commands on the ``paraphina`` click group."""

from paraphina.commands import golden, log, plugins, replay, sim  # noqa: F401
from paraphina.commands import data  # noqa: F401
from paraphina.commands import research  # noqa: F401
from paraphina.commands import rl  # noqa: F401
from paraphina.commands import shadow  # noqa: F401
from paraphina.commands import record  # noqa: F401
from paraphina.commands import telemetry  # noqa: F401
from paraphina.commands import adversarial  # noqa: F401
