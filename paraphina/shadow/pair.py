"""The two engines of a shadow session and the action streams they write.

:class:`ShadowPair` is what every shadow runner steps: the baseline engine, whose actions go
back to the runner (executed on the simulated exchange by ``paraphina shadow``, only recorded by
``paraphina record``), and the candidate engine, stepped with exactly the same events (same seq
numbers) and whose actions are written to its own stream. Both policies are on the inference
budget (:mod:`paraphina.shadow.budget`); the runner appends the faults they owe to the log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from paraphina import events as ev
from paraphina.actions import Action, StreamHasher
from paraphina.config import Config
from paraphina.shadow.budget import TimedEngine

PolicySpec = str | Callable[[], object]   # a policy name, or a zero-argument plugin factory (onnx + model)


def make_plugin(spec: PolicySpec) -> object:
    """A fresh plugin object for a policy name or a zero-argument plugin factory."""
    from paraphina.policies import make_policy

    return spec() if callable(spec) else make_policy(spec)


def plugin_info(plugin: object) -> dict:
    """Name and version (a learned policy's carries its model hash), as logs and reports show them."""
    return {"policy": plugin.name, "version": str(getattr(plugin, "version", "0"))}


class ActionStream:
    """An action stream being written: canonical bytes to ``path``, with running hash and count.

    ``replace``: written beside ``path`` and renamed into place when the ``with`` block completes
    (an offline session); otherwise in place, readable while it grows (a live recording)."""

    def __init__(self, path: str, *, replace: bool = False) -> None:
        from paraphina.outputs import ReplacingFile

        self.path = path
        self.hasher = StreamHasher()
        self._f = ReplacingFile(path) if replace else open(path, "wb")

    def write(self, actions: list[Action]) -> None:
        if actions:
            self._f.write(self.hasher.add(actions))

    @property
    def count(self) -> int:
        return self.hasher.count

    @property
    def sha256(self) -> str:
        return self.hasher.hexdigest()

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "ActionStream":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None and hasattr(self._f, "discard"):
            self._f.discard()  # a failed offline session leaves the previous stream alone
        else:
            self.close()


class ShadowPair:
    """The baseline engine (actions returned) and the candidate engine (actions to ``candidate_out``)."""

    def __init__(self, config: Config, instruments: Sequence[ev.Instrument], baseline: object, candidate: object,
                 candidate_out: ActionStream, *, clock: Callable[[], float], timeout_ms: float | None) -> None:
        self.baseline = TimedEngine(config, instruments, baseline, budget_ms=timeout_ms, clock=clock)
        self.candidate = TimedEngine(config, instruments, candidate, budget_ms=timeout_ms, clock=clock)
        self.candidate_out = candidate_out

    def step(self, e: ev.Event) -> list[Action]:
        out = self.baseline.step(e)
        self.candidate_out.write(self.candidate.step(e))
        return out

    @property
    def owes_fault(self) -> bool:
        return self.baseline.owes_fault or self.candidate.owes_fault

    def take_faults(self, ts_ns: int) -> list[ev.PolicyFault]:
        return self.baseline.take_faults(ts_ns) + self.candidate.take_faults(ts_ns)

    @property
    def faults(self) -> int:
        return self.baseline.faults + self.candidate.faults

    def summary(self) -> dict:
        return self.baseline.summary()
