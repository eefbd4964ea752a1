"""The inference budget: a slow policy tick becomes one PolicyFault, the next tick falls back, and
the events (faults included) replay to the same actions on an engine that times nothing."""

from __future__ import annotations

from paraphina import events as ev
from paraphina.config import load_config
from paraphina.engine import Engine
from paraphina.policies import load_policy
from paraphina.rl.policy import KnobPolicy
from paraphina.rl.schema import clip_action
from paraphina.shadow.budget import TimedEngine

MS = 1_000_000
V = 2
INSTRUMENTS = [ev.Instrument(venue=f"v{i}", symbol="X", tick_size="0.1", lot_size="0.01") for i in range(V)]


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class SlowKnobs(KnobPolicy):
    """Constant wide-spread knobs; inference "takes" 30 ms of ``clock`` on ``slow_ticks``, 1 ms otherwise."""

    name = "slow-knobs"

    def __init__(self, clock: FakeClock, slow_ticks=()) -> None:
        super().__init__()
        self.clock = clock
        self.slow_ticks = set(slow_ticks)
        self.inferred: list[int] = []

    def knobs(self, ctx):
        self.inferred.append(ctx.tick_index)
        self.clock.t += 0.030 if ctx.tick_index in self.slow_ticks else 0.001
        return clip_action([1.5] * V + [1.0] * V + [2.0] * V + [1.0] + [1.0 / V] * V, V)


def market(ticks: int = 10) -> list[ev.Event]:
    out: list[ev.Event] = []
    for k in range(ticks):
        t = (1 + k * 250) * MS
        for v, mid in enumerate((10_000, 10_010)):
            out.append(ev.BookSnapshot(ts_ns=t, venue=v, bid_px=[mid - 1 - k % 2, mid - 3], bid_sz=[500, 500],
                                       ask_px=[mid + 1, mid + 3], ask_sz=[500, 500]))
        out.append(ev.Timer(ts_ns=t))
    return out


def run_live(policy, budget_ms, clock) -> tuple[list[ev.Event], list]:
    """What a live runner does: step each event, append the faults it owes right after it."""
    timed = TimedEngine(load_config(), INSTRUMENTS, policy, budget_ms=budget_ms, clock=clock)
    log, actions = [], []
    for e in market():
        log.append(e)
        actions += timed.step(e)
        for fault in timed.take_faults(e.ts_ns):
            log.append(fault)
            actions += timed.step(fault)
    return log, actions


def test_an_overrun_tick_records_one_fault_and_the_next_tick_falls_back():
    clock = FakeClock()
    policy = SlowKnobs(clock, slow_ticks={3, 7})
    log, actions = run_live(policy, 10.0, clock)
    faults = [(log[i - 1], e) for i, e in enumerate(log) if isinstance(e, ev.PolicyFault)]
    assert [f.detail for _, f in faults] == ["slow-knobs took 30.000 ms on main tick 3 (budget 10 ms)",
                                             "slow-knobs took 30.000 ms on main tick 7 (budget 10 ms)"]
    assert all(isinstance(before, ev.Timer) and f.policy == "slow-knobs" for before, f in faults)
    assert policy.inferred == [1, 2, 3, 5, 6, 7, 9, 10]  # ticks 4 and 8 ran the heuristic
    assert policy.counters == {"policy_fault": 2}
    assert actions
    # Replay: an untimed engine on the logged events; the fallbacks come from the events alone.
    replay = Engine(load_config(), INSTRUMENTS, load_policy(SlowKnobs(FakeClock())))
    assert [a for e in log for a in replay.step(e)] == actions
    assert replay.host.policy.counters == {"policy_fault": 2}


def test_no_budget_times_nothing():
    clock = FakeClock()
    log, actions = run_live(SlowKnobs(clock, slow_ticks=set(range(1, 11))), None, clock)
    assert not any(isinstance(e, ev.PolicyFault) for e in log) and actions


def test_the_stopwatch_changes_no_action():
    log, timed_actions = run_live(load_policy("heuristic").policy, 10.0, FakeClock())
    assert timed_actions
    plain = Engine(load_config(), INSTRUMENTS, load_policy("heuristic"))
    assert [a for e in log for a in plain.step(e)] == timed_actions
