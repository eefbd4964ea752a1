"""Every paraphina hook, in one place.

A policy is a pluggy plugin: any object (a class instance or a module) with a ``name`` and a
``version`` attribute that implements some of the hooks below with ``@hookimpl``. Policies are
chosen by explicit name (``--policy NAME``); exactly one policy is registered per engine, plus
any number of observers. Third-party policies are found through the ``paraphina.policies``
entry-point group (entry-point name = policy name, object = a zero-argument callable returning
the plugin, usually its class).

Decision hooks are ``firstresult``: the first non-None result wins, and ``None`` means "this
plugin has no opinion" (the engine then does nothing for that decision). Every intent returned
passes through the deterministic shield (:mod:`paraphina.shield`); a policy cannot bypass it.
Policies must be deterministic functions of the context: no clocks, no unseeded randomness,
no iteration over unordered containers. Per-run memory belongs in ``ctx.memory`` (a dict
checkpointed with the engine state; values must be msgpack-serialisable).
"""

from __future__ import annotations

import pluggy

PROJECT = "paraphina"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- decisions: first non-None result wins ----------------------------------------------------


@hookspec(firstresult=True)
def paraphina_quotes(ctx):
    """Market-making quotes wanted now, on the main loop.

    Receives the :class:`~paraphina.context.TickContext` of this main tick. Returns a list of
    :class:`~paraphina.intents.OrderIntent` (purpose ``"mm"``, at most one bid and one ask per
    venue: the desired resting quotes; a venue/side without an intent means "no quote there",
    so a resting quote is canceled), or ``None`` for no opinion. Not called while the kill
    switch is latched or in HardLimit.
    """


@hookspec(firstresult=True)
def paraphina_hedges(ctx):
    """Hedge orders wanted now, on the hedge loop.

    Receives the TickContext. Returns a list of IOC OrderIntents (purpose ``"hedge"``), or
    ``None``. Not called while killed.
    """


@hookspec(firstresult=True)
def paraphina_exits(ctx):
    """Exit orders wanted after new fills (at most once per ``fill_agg_interval_ms``).

    Receives the TickContext. Returns a list of IOC OrderIntents (purpose ``"exit"``), or
    ``None``. Not called while killed or in HardLimit.
    """


# --- observers: every implementation is called, results ignored --------------------------------


@hookspec
def paraphina_on_tick(ctx, telemetry):
    """After each main tick. Receives the TickContext and the tick's telemetry dict
    (research-contract fields). Returns nothing."""


@hookspec
def paraphina_on_actions(ctx, actions):
    """After the engine emitted actions for an event. Receives the TickContext (or ``None``
    for actions not caused by a tick) and the list of actions. Returns nothing."""
