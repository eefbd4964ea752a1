"""``paraphina shadow``: a shadow session over a feed source, the baseline trading on the
simulated exchange.

A session is one closed loop (:func:`paraphina.sim.runner.closed_loop`): market events from a
:class:`FeedSource`, the baseline engine's orders executed by the
:class:`~paraphina.sim.exchange.SimExchange`, every event logged in the order it was stepped.
The candidate engine of the :class:`~paraphina.shadow.pair.ShadowPair` is stepped with exactly
the same events as an observer: its actions are recorded, never executed, so it sees the
baseline's fills and positions, as a shadow beside a live strategy would.

Policy faults: a policy's inference over ``timeout_ms`` (measured with the injected ``clock``,
:mod:`paraphina.shadow.budget`) is appended as a ``PolicyFault`` before the next market event.

Counterfactual PnL: a backtest of the candidate on the input's market
(:func:`paraphina.sim.runner.run_backtest`), its own log at ``SESSION.arrow.candidate-backtest.arrow``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from paraphina import events as ev
from paraphina.config import Config
from paraphina.engine import Engine
from paraphina.eventlog import LogReader
from paraphina.policies import load_policy
from paraphina.shadow.pair import ActionStream, PolicySpec, ShadowPair, make_plugin, plugin_info
from paraphina.shadow.report import ShadowReport, divergence, stream_info, write_sidecar
from paraphina.sim.exchange import SimExchange, VenueParams
from paraphina.sim.runner import MARKET_EVENTS, SimResult, exchange_seed, closed_loop, run_backtest


class FeedSource(Protocol):
    """Market events for a shadow session over a past market (a log)."""

    instruments: list[ev.Instrument]
    description: str

    def __iter__(self) -> Iterator[ev.Event]: ...


class LogFeed:
    """Market events of a log, at full speed or paced to event time.

    ``speed`` None means full speed; otherwise event ``ts_ns`` deltas are replayed at ``speed``
    times real time using the injected ``clock`` (seconds, monotonic) and ``sleep``. Pacing
    changes when events arrive, never which or in what order, so the session is the same.
    """

    def __init__(self, path: str, *, speed: float | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.path = path
        self.reader = LogReader(path)
        self.instruments = list(self.reader.info.instruments)
        self.description = f"log {path}" + (f" paced at {speed}x" if speed else " at full speed")
        self.speed = speed
        self.clock = clock
        self.sleep = sleep

    def __iter__(self) -> Iterator[ev.Event]:
        t0_wall = None
        t0_ev = None
        for _, e in self.reader.events():
            if not isinstance(e, MARKET_EVENTS):
                continue
            if self.speed:
                if t0_wall is None:
                    t0_wall, t0_ev = self.clock(), e.ts_ns
                due = t0_wall + (e.ts_ns - t0_ev) / 1e9 / self.speed
                wait = due - self.clock()
                if wait > 0:
                    self.sleep(wait)
            yield e


@dataclass
class ShadowResult(ShadowReport):
    baseline_result: SimResult | None = None


def _with_faults(feed: FeedSource, pair_ref: list[ShadowPair]) -> Iterator[ev.Event]:
    """The feed's events, with the policy faults owed by the last main tick before the next event."""
    for e in feed:
        if pair_ref:
            yield from pair_ref[0].take_faults(e.ts_ns)
        yield e


def run_shadow(feed: FeedSource, config: Config, session_path: str, *, baseline: PolicySpec, candidate: PolicySpec,
               params: Sequence[VenueParams] | None = None, timeout_ms: float | None = None,
               clock: Callable[[], float] = time.perf_counter, overwrite: bool = False,
               counterfactual_log: str | None = None, input_log: str | None = None,
               observers: Sequence[object] = ()) -> ShadowResult:
    instruments = feed.instruments
    b_plugin, c_plugin = make_plugin(baseline), make_plugin(candidate)
    b_info, c_info = plugin_info(b_plugin), plugin_info(c_plugin)
    params = list(params) if params is not None else [VenueParams() for _ in instruments]
    exchange = SimExchange(instruments, params, seed=exchange_seed(0))
    pair_ref: list[ShadowPair] = []
    base_path = f"{session_path}.baseline.actions"
    with ActionStream(f"{session_path}.candidate.actions", replace=True) as cand_stream:
        def factory(cfg, ins):
            pair = ShadowPair(cfg, ins, b_plugin, c_plugin, cand_stream, clock=clock, timeout_ms=timeout_ms,
                              observers=observers)
            pair_ref.append(pair)
            return pair

        session = {"source": "paraphina.shadow", "feed": feed.description, "policy": b_info["policy"],
                   "baseline": b_info, "candidate": c_info}
        r = closed_loop(_with_faults(feed, pair_ref), instruments, exchange, config, b_info["policy"],
                        session_path, factory, session=session, note=f"shadow: {b_info['policy']} trades, "
                        f"{c_info['policy']} proposes", stop_on_kill=False, overwrite=overwrite, actions_path=base_path)
    pair = pair_ref[0]
    summary, text = divergence(session_path, base_path, cand_stream.path)
    counterfactual = {}
    if input_log is not None:
        cf_path = counterfactual_log or f"{session_path}.candidate-backtest.arrow"

        def cf_factory(cfg, ins):
            return Engine(cfg, ins, load_policy(make_plugin(candidate)))

        cf = run_backtest(input_log, config, c_info["policy"], cf_path, cf_factory, params=params, overwrite=True,
                          session_extra={"policy_plugin": {c_info["policy"]: c_info["version"]}})
        counterfactual = {"log": cf_path, "pnl_total": cf.summary["total"], "kill_switch": cf.summary["kill_switch"],
                          "fills": cf.fills, "fees": cf.fees, "sha256": cf.sha256}
    b = pair.baseline
    res = ShadowResult(
        session=session_path, feed=feed.description,
        baseline={**b_info, "sha256": r.sha256, "actions": r.actions, "actions_file": base_path, "faults": b.faults,
                  "fallbacks": b.fallbacks(), "pnl_total": r.summary["total"], "kill_switch": r.summary["kill_switch"]},
        candidate=stream_info(pair.candidate, cand_stream),
        faults=pair.faults, report=summary, report_text=text, counterfactual=counterfactual,
        extra={"inference_timeout_ms": timeout_ms}, baseline_result=r,
    )
    write_sidecar(res)
    return res
