"""The policies of a recording session, run on the recorded events as they are logged.

``--policy P`` alone: one engine, its actions to ``SESSION.arrow.actions``. ``--policy B
--candidate C``: the shadow runner's :class:`~paraphina.shadow.pair.ShadowPair`, the streams and
the report laid out as ``paraphina shadow`` lays them out (``SESSION.arrow.baseline.actions``,
``.candidate.actions``, ``.shadow.json``). Nothing is ever sent, so nothing fills: both engines
see public market data only (open loop), unlike ``paraphina shadow``, whose baseline trades on
the simulated exchange.

Every policy is on the inference budget (:mod:`paraphina.shadow.budget`): after the event whose
main tick overran it, :attr:`LiveShadow.owes_fault` is true and the recorder appends the
``PolicyFault`` events from :meth:`LiveShadow.take_faults` at once, through the same path as
every event, so the log holds them where the live engines saw them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from paraphina import events as ev
from paraphina.config import Config
from paraphina.shadow.budget import TimedEngine
from paraphina.shadow.pair import ActionStream, PolicySpec, ShadowPair, make_plugin, plugin_info
from paraphina.shadow.report import ShadowReport, divergence, stream_info, write_sidecar


class LiveShadow:
    """``policy`` (the baseline) and an optional ``candidate``; plugins are built (and a model's
    fit to the venue count checked) here, before anything connects."""

    def __init__(self, out: str, policy: PolicySpec, candidate: PolicySpec | None, *, n_venues: int,
                 timeout_ms: float | None, clock: Callable[[], float], observers: Sequence[object] = ()) -> None:
        self.out = out
        self.observers = list(observers)  # telemetry: they watch the baseline
        self.plugins = [make_plugin(policy)] + ([make_plugin(candidate)] if candidate is not None else [])
        for plugin in self.plugins:
            check = getattr(plugin, "check_venue_count", None)
            if check is not None:
                check(n_venues)
        self.timeout_ms = timeout_ms or None
        self.clock = clock
        self.paired = candidate is not None
        self.baseline_path = f"{out}.baseline.actions" if self.paired else f"{out}.actions"
        self.candidate_path = f"{out}.candidate.actions" if self.paired else None
        self.runner: TimedEngine | ShadowPair | None = None
        self.streams: list[ActionStream] = []

    def session_metadata(self) -> dict:
        """What the log's session metadata says about the policies (``replay`` reads ``policy``)."""
        infos = [plugin_info(p) for p in self.plugins]
        meta = {"policy": infos[0]["policy"], "policy_plugin": {infos[0]["policy"]: infos[0]["version"]},
                "inference_timeout_ms": self.timeout_ms}
        if self.paired:
            meta |= {"baseline": infos[0], "candidate": infos[1]}
        return meta

    def start(self, config: Config, instruments: Sequence[ev.Instrument]) -> None:
        """Open the streams and build the engines (once the log exists)."""
        self.streams.append(ActionStream(self.baseline_path))
        if self.paired:
            self.streams.append(ActionStream(self.candidate_path))
            self.runner = ShadowPair(config, instruments, self.plugins[0], self.plugins[1], self.streams[1],
                                     clock=self.clock, timeout_ms=self.timeout_ms, observers=self.observers)
        else:
            self.runner = TimedEngine(config, instruments, self.plugins[0], budget_ms=self.timeout_ms, clock=self.clock,
                                      observers=self.observers)

    @property
    def baseline(self) -> TimedEngine:
        return self.runner.baseline if self.paired else self.runner

    @property
    def engine(self):
        """The baseline's engine (the operator view shows its regime and position)."""
        return self.baseline.engine

    @property
    def baseline_stream(self) -> ActionStream:
        return self.streams[0]

    def step(self, e: ev.Event) -> None:
        self.baseline_stream.write(self.runner.step(e))

    @property
    def owes_fault(self) -> bool:
        return self.runner.owes_fault

    def take_faults(self, ts_ns: int) -> list[ev.PolicyFault]:
        return self.runner.take_faults(ts_ns)

    @property
    def faults(self) -> int:
        return self.runner.faults if self.runner is not None else 0

    def flush(self) -> None:
        for s in self.streams:
            s.flush()

    def close(self) -> None:
        for s in self.streams:
            s.close()

    def report(self, feed: str) -> ShadowReport | None:
        """With a candidate: the divergence report, also written to ``SESSION.arrow.shadow.json``
        (after the log and the streams are closed)."""
        if not self.paired or self.runner is None:
            return None
        pair: ShadowPair = self.runner
        summary, text = divergence(self.out, self.baseline_path, self.candidate_path)
        r = ShadowReport(session=self.out, feed=feed, baseline=stream_info(pair.baseline, self.streams[0]),
                         candidate=stream_info(pair.candidate, self.streams[1]), faults=pair.faults, report=summary,
                         report_text=text, extra={"inference_timeout_ms": self.timeout_ms})
        write_sidecar(r)
        return r
