"""One simulated run: the market generator, the engine and the simulated exchange, one log.

Every event the engine sees is appended to the log in exactly the order it is stepped, so the
log alone replays the run byte for byte (``paraphina replay`` gives the same action stream).
Per market event ``e`` the loop (:func:`loop`) is:

1. ``exchange.advance(e.ts_ns)``: queued actions that took effect by now; their acks and fills
   are delivered first (they happened before ``e``);
2. ``e`` is logged and stepped; the exchange folds it (``on_market``: trade and book-move fills,
   funding) and then receives the engine's actions (``on_actions``), so an order never fills
   against the very event that caused it;
3. the resulting events are logged and stepped in time order (then arrival order), and any
   actions they cause go back to the exchange, until nothing is left.

The market arrives as :class:`~paraphina.columns.EventColumns` (the generator makes them so).
For an engine that folds columns and never acts on books and trades, a run of book and trade
rows with nothing queued at the exchange before them is stepped in one piece: the exchange
folds the rows compiled (:meth:`SimExchange.fold_rows`) and the engine gets the very columns,
so no event object is made for them; what the exchange makes (acks, fills) is few.

The engine interface assumed (``paraphina.engine.Engine`` satisfies it)::

    engine = engine_factory(config, instruments)
    engine.step(event) -> list[Action]     # numbers events itself, in log order
    engine.summary() -> dict               # realised, unrealised, total, kill_switch, kill_reason, risk_regime,
                                           # position (optional: net base units)
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
import numpy as np

import paraphina
from paraphina import events as ev
from paraphina.actions import Action, SetKillSwitch, StreamHasher
from paraphina.columns import EventColumns, from_events
from paraphina.config import Config, config_hash
from paraphina.eventlog import LogError, LogWriter
from paraphina.outputs import open_replacing, replacing
from paraphina.sim.exchange import SimExchange, VenueParams
from paraphina.sim.market import T0_NS, MarketGenerator
from paraphina.sim.scenario import Scenario, VenueSpec
from paraphina.sim.tick_columns import join


class SimEngine(Protocol):
    def step(self, event: ev.Event) -> list[Action]: ...

    def summary(self) -> dict: ...


EngineFactory = Callable[[Config, Sequence[ev.Instrument]], SimEngine]


@dataclass
class SimResult:
    log_path: str | None   # None: the run kept no log
    scenario_id: str
    seed: int
    policy: str
    config_hash: str
    ticks: int                       # timer events delivered (engine main-loop ticks)
    steps: int                       # generator steps run
    events: int
    actions: int
    sha256: str
    summary: dict
    killed_at_tick: int | None = None
    max_drawdown_usd: float = 0.0    # largest fall of daily total PnL from its running peak, per tick
    pnl_finite: bool = True
    positions: list[float] = field(default_factory=list)   # exchange's positions, base units per venue
    fills: int = 0
    fees: float = 0.0
    funding: float = 0.0
    max_abs_position: float = 0.0   # largest net position (base units, engine's view) at a tick
    report: Any = None               # paraphina.sim.attribution.RunReport when the run was probed
    stopped_at_ns: int | None = None  # the last market event's time when the kill switch stopped the run early


def policy_engine_factory(policy, observers=()) -> EngineFactory:
    """An engine factory for ``policy``: a registered name, or a zero-argument factory of a
    plugin object (what ``paraphina.commands.common.policy_spec`` gives for ``--model``)."""
    from paraphina.engine import Engine
    from paraphina.policies import load_policy

    def make(cfg: Config, instruments):
        return Engine(cfg, instruments, load_policy(policy() if callable(policy) else policy, observers))

    return make


def with_scenario_fees(cfg: Config, scenario: Scenario) -> Config:
    """``cfg`` plus each scenario venue's fees for the venues the config does not list itself."""
    listed = {v.name for v in cfg.venues}
    extra = [msgspec.structs.replace(cfg.venue(v.name), maker_fee_bps=v.maker_fee_bps, taker_fee_bps=v.taker_fee_bps)
             for v in scenario.venues if v.name not in listed]
    return msgspec.structs.replace(cfg, venues=[*cfg.venues, *extra])


def venue_params(spec: VenueSpec) -> VenueParams:
    return VenueParams(maker_fee_bps=spec.maker_fee_bps, taker_fee_bps=spec.taker_fee_bps, latency_ms=spec.latency_ms,
                       initial_balance=spec.initial_balance, maintenance_margin=spec.maintenance_margin,
                       leverage=spec.leverage)


def steps_for_ticks(scenario: Scenario, config: Config, ticks: int | None) -> int:
    """Generator steps needed for ``ticks`` main-loop ticks (the scenario's horizon when ``None``)."""
    if ticks is None:
        return scenario.horizon.steps
    return max(1, math.ceil(ticks * config.loops.main_loop_interval_ms / scenario.horizon.dt_ms))


def starting_inventory(scenario: Scenario, config: Config) -> tuple[float, int]:
    """(base units, venue index) a simulated run starts holding, bought at the market's first
    fair value (``market.initial_price``). The config's ``initial_q_tao`` (``PARAPHINA_INIT_Q_TAO``)
    wins when nonzero and goes on venue 0 (STRATEGY.md: sim only, venue 0); otherwise the
    scenario's ``initial_state.inventory`` on its ``inventory_venue``. It is part of the config, so
    the config hash of a run covers it."""
    if config.initial_q_tao:
        return float(config.initial_q_tao), 0
    return float(scenario.initial_state.inventory), scenario.initial_state.inventory_venue


def run_simulation(scenario: Scenario, config: Config, policy_name: str, seed: int, ticks: int | None,
                   log_path: str | None, engine_factory: EngineFactory, *, stop_on_kill: bool = True,
                   overwrite: bool = False, actions_path: str | None = None,
                   session_extra: dict | None = None, measure: bool = False, telemetry=None) -> SimResult:
    """Run one scenario with one seed; write the log to ``log_path`` (``None``: no log, for
    callers that keep only the result, such as Monte Carlo); return the result.

    ``measure`` also measures the run against the generator's latent price
    (:mod:`paraphina.sim.attribution`): ``SimResult.report``. ``telemetry`` (the run's
    :class:`~paraphina.telemetry.TelemetryWriter`, if any) gets the latent price in its records.

    ``ticks`` (main-loop ticks) overrides the scenario's horizon. With ``stop_on_kill`` the run
    ends once the events caused by the kill switch's actions are delivered (the contract's
    "stopping simulation early"). ``actions_path`` also writes the action stream.
    """
    instruments = scenario.instruments()
    steps = steps_for_ticks(scenario, config, ticks)
    gen = MarketGenerator(scenario, seed, timer_ms=config.loops.main_loop_interval_ms, steps=steps)
    exchange = SimExchange(instruments, [venue_params(v) for v in scenario.venues], seed=exchange_seed(seed))
    session = {"source": "paraphina.sim", "scenario_id": scenario.scenario_id,
               "scenario_version": scenario.scenario_version, "seed": seed, "policy": policy_name, "steps": steps, **(session_extra or {})}
    inventory, venue = starting_inventory(scenario, config)
    lots = round(inventory / gen.lots[venue])
    opening = (exchange.set_position(venue, lots, scenario.market.initial_price, T0_NS) if lots else [])
    if telemetry is not None:
        telemetry.extra_fields["latent_price"] = lambda ctx: gen.latent_at(ctx.now_ns)
    probe = None
    if measure:
        from paraphina.sim.attribution import RunProbe

        probe = RunProbe(gen.latent_at, gen.ticks, gen.lots)
    r = closed_loop(gen.chunks(), instruments, exchange, config, policy_name, log_path, engine_factory,
                    session=session, opening=opening, note=f"scenario={scenario.scenario_id} seed={seed} policy={policy_name}",
                    stop_on_kill=stop_on_kill, overwrite=overwrite, actions_path=actions_path, probe=probe)
    r.scenario_id, r.seed = scenario.scenario_id, seed
    r.steps = gen.step_index if r.stopped_at_ns is None else gen.steps_through(r.stopped_at_ns)
    return r


def closed_loop(market: Iterable[EventColumns | ev.Event], instruments: Sequence[ev.Instrument], exchange: SimExchange, config: Config,
                policy_name: str, log_path: str | None, engine_factory: EngineFactory, *, session: dict,
                opening: list[ev.Event] = (), note: str = "", stop_on_kill: bool = True, overwrite: bool = False,
                actions_path: str | None = None, probe=None) -> SimResult:
    """The engine and the simulated exchange in a loop over ``market`` (columns of events: a
    generator's or a recorded log's; or single events, a feed's), every event logged in the
    order it is stepped."""
    chash = config_hash(config)
    # The full resolved config travels with the log, so `paraphina replay` reproduces the run
    # without being told how it was configured.
    session = {**session, "config_hash": chash, "config": msgspec.to_builtins(config)}
    engine = engine_factory(config, instruments)
    hasher = StreamHasher()
    if not overwrite:
        for p in (log_path, actions_path):
            if p is not None and os.path.lexists(p):
                raise LogError(f"{p}: already exists (pass overwrite=True to replace it)")
    actions_f = open_replacing(actions_path)
    st = _RunState()
    # Events the engine cannot act on wait here and are stepped (and logged) as one columnar
    # run with the next event it can act on: one engine call per tick instead of per event,
    # same actions. Only for an engine that says which kinds act, and not when a probe must see
    # each event's actions. ``waiting`` holds market rows as (columns, start, stop) and
    # exchange-made events as lists.
    acting = getattr(engine, "ACTING_KINDS", None) if probe is None and hasattr(engine, "apply_columns") else None
    waiting: list = []
    n_waiting = [0]
    arena: list = [None]
    batch_rows = acting is not None and not (acting & ev.MARKET_KINDS)

    def step_waiting() -> list[Action]:
        cols = join(waiting, st.events - n_waiting[0], arena, exchange.packer)
        waiting.clear()
        n_waiting[0] = 0
        writer.append_columns(cols)
        return engine.apply_columns(cols)

    def wait_rows(cols: EventColumns, i: int, j: int) -> None:
        st.events += j - i
        n_waiting[0] += j - i
        last = waiting[-1] if waiting else None
        if type(last) is tuple and last[0] is cols and last[2] == i:
            waiting[-1] = (cols, last[1], j)
        else:
            waiting.append((cols, i, j))

    def done(e: ev.Event, actions: list[Action]) -> list[Action]:
        if probe is not None:
            probe.on_event(e, actions, getattr(engine, "tick_model", None))
        if isinstance(e, ev.Timer):
            st.ticks += 1
            st.track(engine.summary())
        if actions:
            data = hasher.add(actions)
            if actions_f is not None:
                actions_f.write(data)
            if st.killed_at_tick is None and any(isinstance(a, SetKillSwitch) for a in actions):
                st.killed_at_tick = st.ticks
        return actions

    def step(e: ev.Event) -> list[Action]:
        if acting is not None:
            st.events += 1
            n_waiting[0] += 1
            last = waiting[-1] if waiting else None
            if type(last) is list:
                last.append(e)
            else:
                waiting.append([e])
            if e.KIND not in acting:
                return []   # nothing to track: not a timer, no actions, no probe
            return done(e, step_waiting())
        st.events += 1
        writer.append(e)
        return done(e, engine.step(e))

    def step_row(cols: EventColumns, i: int, e: ev.Event) -> list[Action]:
        if acting is None:
            return step(e)
        wait_rows(cols, i, i + 1)
        return done(e, step_waiting() if e.KIND in acting else [])

    def opening_events(ts_ns: int) -> list[ev.Event]:
        return [ev.SessionStart(ts_ns=min(ts_ns, T0_NS), source=session.get("source", ""), config_hash=chash,
                                versions=_versions(), note=note), *opening]

    # Both files are written beside their destination and renamed into place once complete:
    # a kill leaves whatever was there before intact.
    try:
        with _log_writer(log_path, instruments, session) as writer:
            for ts_ns in loop(_as_columns(market), exchange, step, opening_events, step_row=step_row,
                              rows=wait_rows if batch_rows else None):
                if stop_on_kill and st.killed_at_tick is not None:
                    st.stopped_at_ns = ts_ns
                    break
            if waiting and step_waiting():
                raise RuntimeError("the engine acted on an event of a kind it does not list in ACTING_KINDS")
    except Exception:
        if actions_f is not None:
            actions_f.discard()
        raise
    if actions_f is not None:
        actions_f.commit()
    acc = exchange.venues
    lots = [float(i.lot_size) for i in instruments]
    return SimResult(
        log_path=log_path, scenario_id="", seed=0, policy=policy_name, config_hash=chash,
        ticks=st.ticks, steps=0, events=st.events, actions=hasher.count, sha256=hasher.hexdigest(),
        summary=engine.summary(), killed_at_tick=st.killed_at_tick, max_drawdown_usd=st.max_dd,
        pnl_finite=st.finite, positions=[a.position * lots[v] for v, a in enumerate(acc)],
        fills=exchange.fill_count, fees=sum(a.fees for a in acc),
        funding=sum(a.funding_paid for a in acc), max_abs_position=st.max_abs_position,
        report=probe.report() if probe is not None else None, stopped_at_ns=st.stopped_at_ns,
    )


class _NoLog:
    """The log writer of a run that keeps no log: the events go to the engine only."""

    def append(self, e: ev.Event) -> None:
        pass

    def append_columns(self, cols: EventColumns) -> None:
        pass


@contextlib.contextmanager
def _log_writer(log_path: str | None, instruments: Sequence[ev.Instrument], session: dict) -> Iterator:
    if log_path is None:
        yield _NoLog()
        return
    with replacing(log_path) as tmp, LogWriter.create(tmp, instruments, session) as writer:
        yield writer


def loop(market: Iterable[EventColumns], exchange: SimExchange, step: Callable[[ev.Event], list[Action]],
         opening: Callable[[int], list[ev.Event]], *,
         step_row: Callable[[EventColumns, int, ev.Event], list[Action]] | None = None,
         rows: Callable[[EventColumns, int, int], None] | None = None) -> Iterator[int]:
    """The engine (behind ``step``) and the exchange stepped together over ``market``, in the
    order of the module docstring; yields each market event's time once it and everything it
    caused have been stepped. ``opening(ts_ns)`` gives the events delivered before the first
    market event (at ``ts_ns``): the session start, a starting position.

    ``step_row(cols, i, e)`` steps market row ``i`` (``e`` is it as an event; default
    ``step(e)``). With ``rows(cols, i, j)``, runs of book and trade rows are stepped through it
    in one piece (they must cause no actions) while the exchange folds them compiled; such a
    run yields once, its last row's time."""
    work: list[tuple[int, int, ev.Event]] = []   # (ts_ns, arrival, event): delivered in time order
    arrivals = itertools.count()
    if step_row is None:
        def step_row(cols: EventColumns, i: int, e: ev.Event) -> list[Action]:
            return step(e)

    def push(events: Iterable[ev.Event]) -> None:
        for x in events:
            heapq.heappush(work, (x.ts_ns, next(arrivals), x))

    def drain() -> None:
        while work:
            x = heapq.heappop(work)[2]
            actions = step(x)
            if actions:
                push(exchange.on_actions(actions, x.ts_ns))

    first = True
    for cols in market:
        n = len(cols)
        if first and n:
            push(opening(int(cols.ts_ns[0])))
            drain()
            first = False
        ts, kind = cols.ts_ns.tolist(), cols.kind.tolist()   # read row by row: Python ints are cheaper
        i = 0
        while i < n:
            if rows is not None and kind[i] in ev.MARKET_KINDS and (
                    (due := exchange.next_due_ns()) is None or ts[i] < due):
                out: list[ev.Event] = []
                j = exchange.fold_rows(cols, i, n, out)
                if j > i:
                    rows(cols, i, j)
                    if out:
                        push(out)
                        drain()
                    i = j
                    yield ts[j - 1]
                    continue
            t = ts[i]
            push(exchange.advance(t))
            drain()
            if rows is not None and kind[i] in ev.MARKET_KINDS:
                due = exchange.next_due_ns()
                if due is not None and due <= t:   # advance runs everything due by t: never
                    raise RuntimeError(f"an action due at {due} is still queued at {t}")
                continue   # nothing is due before it now: the compiled fold takes it
            e = cols.event(i)
            actions = step_row(cols, i, e)
            if kind[i] in ev.MARKET_KINDS:
                out = []
                if exchange.fold_rows(cols, i, i + 1, out) != i + 1:   # advance ran what was due: never
                    raise RuntimeError(f"the exchange did not fold row {i} at {t}")
                push(out)
            else:
                push(exchange.on_market(e))
            if actions:
                push(exchange.on_actions(actions, t))
            drain()
            i += 1
            yield t


def _as_columns(market: Iterable[EventColumns | ev.Event]) -> Iterator[EventColumns]:
    for x in market:
        yield x if isinstance(x, EventColumns) else from_events([x])


MARKET_EVENTS = (ev.BookSnapshot, ev.BookDelta, ev.Trade, ev.FundingRate, ev.MarkPrice, ev.Timer, ev.BookReset, ev.GapDetected)


def run_backtest(in_log: str, config: Config, policy_name: str, out_log: str, engine_factory: EngineFactory, *,
                 params: Sequence[VenueParams] | None = None, overwrite: bool = False, stop_on_kill: bool = False,
                 actions_path: str | None = None, session_extra: dict | None = None,
                 progress: Callable[[int], None] | None = None) -> SimResult:
    """Counterfactual replay: the market of any log (recorded or simulated) with the simulated
    exchange in the loop. Account events of the input (its own fills, acks) are dropped; the
    exchange answers this policy's orders instead. The output log replays byte for byte.
    ``progress(bytes_read)`` is told how far into the input log the backtest is."""
    from paraphina.eventlog import LogReader

    reader = LogReader(in_log)
    instruments = reader.info.instruments
    params = list(params) if params is not None else [VenueParams() for _ in instruments]
    exchange = SimExchange(instruments, params, seed=exchange_seed(0))
    market = _reporting(_market_columns(reader), reader, progress)
    session = {"source": "paraphina.backtest", "input": str(in_log), "policy": policy_name, **(session_extra or {})}
    return closed_loop(market, instruments, exchange, config, policy_name, out_log, engine_factory, session=session,
                       note=f"backtest of {in_log} with {policy_name}", stop_on_kill=stop_on_kill,
                       overwrite=overwrite, actions_path=actions_path)


def _market_columns(reader) -> Iterator[EventColumns]:
    """The market events of a log, as columns made from its decoded events (the bytes a
    simulated run writes for them, whatever wrote the input)."""
    for cols in reader.iter_columns():
        events = [e for e in cols.events() if isinstance(e, MARKET_EVENTS)]
        if events:
            yield from_events(events)


def _reporting(chunks: Iterator[EventColumns], reader, progress: Callable[[int], None] | None) -> Iterator[EventColumns]:
    if progress is None:
        yield from chunks
        return
    for cols in chunks:
        yield cols
        progress(reader.info.end_offset)
    progress(reader.info.end_offset)


class _RunState:
    __slots__ = ("events", "ticks", "killed_at_tick", "peak", "max_dd", "finite", "max_abs_position", "stopped_at_ns")

    def __init__(self) -> None:
        self.events = 0
        self.ticks = 0
        self.killed_at_tick: int | None = None
        self.peak = -math.inf
        self.max_dd = 0.0
        self.finite = True
        self.max_abs_position = 0.0
        self.stopped_at_ns: int | None = None

    def track(self, summary: dict) -> None:
        self.max_abs_position = max(self.max_abs_position, abs(float(summary.get("position", 0.0))))
        x = float(summary["total"])
        if not math.isfinite(x):
            self.finite = False
            return
        self.peak = max(self.peak, x)
        self.max_dd = max(self.max_dd, self.peak - x)


def exchange_seed(seed: int) -> int:
    """A stream independent of the generator's (same run seed, different SeedSequence)."""
    return int(np.random.SeedSequence([seed, 0x5E]).generate_state(1, np.uint64)[0])


def _versions() -> dict[str, str]:
    import msgspec

    return {"paraphina": paraphina.__version__, "numpy": np.__version__, "msgspec": msgspec.__version__}
