"""Shadow sessions: the baseline policy trades (simulated exchange), a candidate proposes.

A session is one closed loop (:func:`paraphina.sim.runner.closed_loop`): market events from a
:class:`FeedSource`, the baseline engine's orders executed by the
:class:`~paraphina.sim.exchange.SimExchange`, every event logged in the order it was stepped.
A second engine with the candidate policy is stepped with exactly the same events (same seq
numbers) as an observer: its actions are recorded, never executed, so it sees the baseline's
fills and positions, as a shadow beside a live strategy would.

Outputs beside ``SESSION.arrow``:

* ``SESSION.arrow.baseline.actions`` and ``SESSION.arrow.candidate.actions``: both streams
  (canonical JSON lines);
* ``SESSION.arrow.shadow.json``: both policies with versions (a learned policy's carries its
  model hash), both stream hashes and counts, the recorded policy faults, the divergence
  report (:func:`paraphina.diff.compare`) and the counterfactual PnL. The candidate's hash
  cannot go into the log's own metadata (written when the session starts), hence the sidecar.

Replaying ``SESSION.arrow`` with the baseline gives the baseline stream byte for byte, and with
the candidate the candidate stream, because both engines saw the log's events, nothing else.

Timeouts: when a candidate's main tick takes longer than ``timeout_ms`` (measured with the
injected ``clock``), the runner appends a ``PolicyFault(fault="timeout")`` event before the next
market event; the candidate (a :class:`~paraphina.rl.policy.KnobPolicy`) falls back to the
heuristic on the next main tick, live and in replay alike. Invalid model output needs no event:
it is a deterministic function of the log and replays by itself.

Counterfactual PnL: a backtest of the candidate on the input's market
(:func:`paraphina.sim.runner.run_backtest`), its own log at ``SESSION.arrow.candidate-backtest.arrow``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from paraphina import events as ev
from paraphina.actions import Action, StreamHasher, decode_stream
from paraphina.config import Config
from paraphina.diff import attach_events, compare, render_text
from paraphina.engine import Engine
from paraphina.eventlog import LogReader
from paraphina.policies import load_policy
from paraphina.sim.exchange import SimExchange, VenueParams
from paraphina.sim.runner import MARKET_EVENTS, SimResult, _exchange_seed, closed_loop, run_backtest

PolicySpec = str | Callable[[], object]


class FeedSource(Protocol):
    """Market events for a shadow session: a log now, a live WebSocket feed later."""

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


def _make_policy(spec: PolicySpec) -> object:
    """A fresh plugin object for a policy name or a zero-argument plugin factory."""
    from paraphina.policies import make_policy

    return spec() if callable(spec) else make_policy(spec)


class ShadowPair:
    """The baseline engine (whose actions are returned and executed) and the candidate engine
    (stepped with the same events; actions recorded)."""

    def __init__(self, config: Config, instruments: Sequence[ev.Instrument], baseline: PolicySpec, candidate: PolicySpec,
                 candidate_out, *, clock: Callable[[], float], timeout_ms: float | None) -> None:
        self.baseline = Engine(config, instruments, load_policy(_make_policy(baseline)))
        self.candidate = Engine(config, instruments, load_policy(_make_policy(candidate)))
        self.candidate_hasher = StreamHasher()
        self.candidate_out = candidate_out
        self.clock = clock
        self.timeout_ms = timeout_ms
        self.pending_fault: str | None = None
        self.faults = 0

    def step(self, e: ev.Event) -> list[Action]:
        out = self.baseline.step(e)
        before = self.candidate.state.core.tick_index
        t0 = self.clock()
        acts = self.candidate.step(e)
        elapsed_ms = (self.clock() - t0) * 1000.0
        if self.timeout_ms is not None and self.candidate.state.core.tick_index != before and elapsed_ms > self.timeout_ms:
            self.pending_fault = f"candidate tick took {elapsed_ms:.3f} ms > {self.timeout_ms} ms"
        if acts:
            data = self.candidate_hasher.add(acts)
            self.candidate_out.write(data)
        return out

    def summary(self) -> dict:
        return self.baseline.summary()


@dataclass
class ShadowResult:
    session: str
    baseline: dict
    candidate: dict
    faults: int
    report: dict
    report_text: list[str]
    counterfactual: dict
    baseline_result: SimResult
    extra: dict = field(default_factory=dict)


def _with_faults(feed: FeedSource, pair_ref: list, candidate_name: str) -> Iterator[ev.Event]:
    """The feed's events, with a PolicyFault before the next event whenever the candidate's
    last main tick overran its budget."""
    for e in feed:
        pair = pair_ref[0] if pair_ref else None
        if pair is not None and pair.pending_fault is not None:
            yield ev.PolicyFault(ts_ns=e.ts_ns, policy=candidate_name, fault="timeout", detail=pair.pending_fault)
            pair.pending_fault = None
            pair.faults += 1
        yield e


def run_shadow(feed: FeedSource, config: Config, session_path: str, *, baseline: PolicySpec, candidate: PolicySpec,
               params: Sequence[VenueParams] | None = None, timeout_ms: float | None = None,
               clock: Callable[[], float] = time.perf_counter, overwrite: bool = False,
               counterfactual_log: str | None = None, input_log: str | None = None) -> ShadowResult:
    instruments = feed.instruments
    b_plugin, c_plugin = _make_policy(baseline), _make_policy(candidate)
    b_info = {"policy": b_plugin.name, "version": str(getattr(b_plugin, "version", "0"))}
    c_info = {"policy": c_plugin.name, "version": str(getattr(c_plugin, "version", "0"))}
    params = list(params) if params is not None else [VenueParams() for _ in instruments]
    exchange = SimExchange(instruments, params, seed=_exchange_seed(0))
    pair_ref: list[ShadowPair] = []
    cand_path = f"{session_path}.candidate.actions"
    base_path = f"{session_path}.baseline.actions"
    with open(cand_path, "wb") as cand_f:
        def factory(cfg, ins):
            pair = ShadowPair(cfg, ins, baseline, candidate, cand_f, clock=clock, timeout_ms=timeout_ms)
            pair_ref.append(pair)
            return pair

        session = {"source": "paraphina.shadow", "feed": feed.description, "policy": b_info["policy"],
                   "baseline": b_info, "candidate": c_info}
        r = closed_loop(_with_faults(feed, pair_ref, c_info["policy"]), instruments, exchange, config, b_info["policy"],
                        session_path, factory, session=session, note=f"shadow: {b_info['policy']} trades, "
                        f"{c_info['policy']} proposes", stop_on_kill=False, overwrite=overwrite, actions_path=base_path)
    pair = pair_ref[0]
    with open(base_path, "rb") as f:
        base_actions = list(decode_stream(f.read()))
    with open(cand_path, "rb") as f:
        cand_actions = list(decode_stream(f.read()))
    d = compare(base_actions, cand_actions)
    if not d.identical:
        attach_events(d, session_path)
    text = render_text(d, "baseline", "candidate")
    counterfactual = {}
    if input_log is not None:
        cf_path = counterfactual_log or f"{session_path}.candidate-backtest.arrow"
        def cf_factory(cfg, ins):
            return Engine(cfg, ins, load_policy(_make_policy(candidate)))

        cf = run_backtest(input_log, config, c_info["policy"], cf_path, cf_factory, params=params, overwrite=True,
                          session_extra={"policy_plugin": {c_info["policy"]: c_info["version"]}})
        counterfactual = {"log": cf_path, "pnl_total": cf.summary["total"], "kill_switch": cf.summary["kill_switch"],
                          "fills": cf.fills, "fees": cf.fees, "sha256": cf.sha256}
    res = ShadowResult(
        session=session_path,
        baseline={**b_info, "sha256": r.sha256, "actions": r.actions, "actions_file": base_path,
                  "pnl_total": r.summary["total"], "kill_switch": r.summary["kill_switch"]},
        candidate={**c_info, "sha256": pair.candidate_hasher.hexdigest(), "actions": pair.candidate_hasher.count,
                   "actions_file": cand_path, "fallbacks": dict(sorted(getattr(pair.candidate.host.policy, "counters", {}).items()))},
        faults=pair.faults,
        report={"identical": d.identical, "first_index": d.first_index, "cause_seq": d.cause_seq,
                "only_in_baseline": d.only_in_a, "only_in_candidate": d.only_in_b},
        report_text=text, counterfactual=counterfactual, baseline_result=r,
    )
    with open(f"{session_path}.shadow.json", "w") as f:
        json.dump({"session": session_path, "feed": feed.description, "baseline": res.baseline,
                   "candidate": res.candidate, "policy_faults": res.faults, "divergence": res.report,
                   "counterfactual": res.counterfactual}, f, indent=2, sort_keys=True)
    return res
