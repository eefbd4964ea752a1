"""The plugin manager around one policy (and optional observers): what the engine talks to.

Pure: pluggy and the hook specifications only. Finding a policy by name (entry points,
built-ins) is :mod:`paraphina.policies`' job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pluggy

from paraphina import hookspecs


class PolicyHost:
    """The plugin manager around one policy (and optional observers)."""

    def __init__(self, policy: object, observers: Sequence[object] = ()) -> None:
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        pm.register(policy, name=f"policy:{policy.name}")
        for i, obs in enumerate(observers):
            pm.register(obs, name=f"observer:{i}:{getattr(obs, 'name', type(obs).__name__)}")
        pm.check_pending()
        self.pm = pm
        self.hook = pm.hook
        self.policy = policy
        self.name: str = policy.name
        self.version: str = str(getattr(policy, "version", "0"))
        self.observes_ticks = bool(pm.hook.paraphina_on_tick.get_hookimpls())
        self.observes_actions = bool(pm.hook.paraphina_on_actions.get_hookimpls())
        # The decision hooks, called once or more per main tick: ``quotes(ctx)`` and so on.
        self.quotes = _decision_caller(pm.hook.paraphina_quotes)
        self.exits = _decision_caller(pm.hook.paraphina_exits)
        self.hedges = _decision_caller(pm.hook.paraphina_hedges)

    def plugins(self) -> dict[str, str]:
        """Loaded plugin names and versions (recorded in logs and replay output)."""
        out = {self.name: self.version}
        for name, plugin in self.pm.list_name_plugin():
            if name.startswith("observer:"):
                out[getattr(plugin, "name", name)] = str(getattr(plugin, "version", "0"))
        return dict(sorted(out.items()))


def _decision_caller(caller: pluggy.HookCaller) -> Callable[[Any], Any]:
    """A function of ``ctx`` giving what ``caller(ctx=ctx)`` gives.

    A decision hook is ``firstresult``: with a single plain implementation taking exactly
    ``ctx`` (the usual case: the policy, no observer answering decisions), pluggy's answer is
    that implementation's return value, so it is called directly and the dispatch's cost (a few
    microseconds, several times a tick) is skipped. Anything else (several implementations,
    wrappers, fewer arguments) goes through pluggy.
    """
    impls = caller.get_hookimpls()
    if len(impls) == 1:
        impl = impls[0]
        if not (impl.hookwrapper or impl.wrapper) and tuple(impl.argnames) == ("ctx",):
            return impl.function
    return lambda ctx: caller(ctx=ctx)
