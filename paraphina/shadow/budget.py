"""A policy's inference on a wall-clock budget, in live and shadow sessions only.

Replay has no wall clock, so it can never decide that a policy was slow. A live or shadow
runner can: it times the policy's decision hooks on every main tick (:class:`PolicyStopwatch`)
and, when they took longer than the budget, records a ``PolicyFault(fault="timeout")`` event in
the log. The engine folds that event like any other; a policy that honours ``ctx.policy_fault``
(the learned ones, :class:`~paraphina.rl.policy.KnobPolicy`) falls back to the heuristic on its
next main tick, in the session and in every replay of its log. "Timed out" is decided once, by
the runner's clock, and read back from the log ever after.

Inference runs inline, in the engine's thread: pre-empting a slow tick would make that tick's
own output depend on thread timing, which no log could replay. So the overrunning tick's
actions stand and the fault makes the *next* main tick fall back (drift register D-REC-8).
Only the policy's hooks are timed, not the core's model, shield and order management: the
budget is the policy's, whatever the engine costs around it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from paraphina import events as ev
from paraphina.actions import Action
from paraphina.config import Config
from paraphina.engine import Engine
from paraphina.hookspecs import hookimpl
from paraphina.policies import load_policy

DEFAULT_INFERENCE_TIMEOUT_MS = 50.0   # a fifth of the default 250 ms main loop


class PolicyStopwatch:
    """An observer plugin that adds up the time spent in the policy's decision hooks (pluggy
    wrappers around quotes, exits and hedges): ``elapsed`` seconds of ``clock`` since reset."""

    name = "policy-stopwatch"
    version = "1"

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.elapsed = 0.0

    def _timed(self):
        t0 = self.clock()
        try:
            return (yield)
        finally:
            self.elapsed += self.clock() - t0

    @hookimpl(wrapper=True)
    def paraphina_quotes(self, ctx):
        return (yield from self._timed())

    @hookimpl(wrapper=True)
    def paraphina_exits(self, ctx):
        return (yield from self._timed())

    @hookimpl(wrapper=True)
    def paraphina_hedges(self, ctx):
        return (yield from self._timed())


class TimedEngine:
    """An engine whose policy is on an inference budget (``budget_ms`` None: untimed).

    After a step whose main tick spent more than the budget in the policy, :meth:`take_faults`
    hands out one ``PolicyFault`` naming the policy; the runner appends it to the log and steps
    it like any event.
    """

    def __init__(self, config: Config, instruments: Sequence[ev.Instrument], plugin: object, *,
                 budget_ms: float | None, clock: Callable[[], float], observers: Sequence[object] = ()) -> None:
        self.budget_ms = budget_ms or None
        self.stopwatch = PolicyStopwatch(clock) if self.budget_ms else None
        self.engine = Engine(config, instruments,
                             load_policy(plugin, [*observers, *([self.stopwatch] if self.stopwatch else [])]))
        self.policy = self.engine.host.name
        self.version = self.engine.host.version
        self.faults = 0
        self._overrun: str | None = None

    def step(self, e: ev.Event) -> list[Action]:
        sw = self.stopwatch
        if sw is None:
            return self.engine.step(e)
        sw.elapsed = 0.0
        actions = self.engine.step(e)
        ms = sw.elapsed * 1000.0
        if ms > self.budget_ms:
            self._overrun = (f"{self.policy} took {ms:.3f} ms on main tick {self.engine.state.core.tick_index} "
                             f"(budget {self.budget_ms:g} ms)")
        return actions

    @property
    def owes_fault(self) -> bool:
        return self._overrun is not None

    def take_faults(self, ts_ns: int) -> list[ev.PolicyFault]:
        """The fault owed for the last overrun (at most one), stamped ``ts_ns``."""
        if self._overrun is None:
            return []
        fault = ev.PolicyFault(ts_ns=ts_ns, policy=self.policy, fault="timeout", detail=self._overrun)
        self._overrun = None
        self.faults += 1
        return [fault]

    def fallbacks(self) -> dict[str, int]:
        """A learned policy's fallbacks by cause (``policy_fault``, ``invalid_output``)."""
        return dict(sorted(getattr(self.engine.host.policy, "counters", {}).items()))

    def summary(self) -> dict:
        return self.engine.summary()
