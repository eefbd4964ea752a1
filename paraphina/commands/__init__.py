"""The CLI: each module registers its commands on the ``paraphina`` click group when imported.

Nothing is imported here: :class:`paraphina.cli.LazyGroup` imports a command's module when the
command is resolved, so that one command does not pay for every other's imports."""
