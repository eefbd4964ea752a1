"""The runner: one log in step order that replays byte for byte; tested with a fake engine (a test
double standing in for paraphina.engine.Engine) and once with the real engine."""

from __future__ import annotations

import math

import msgspec
import pytest
from simtools import SCENARIOS

from paraphina import events as ev
from paraphina.actions import PlaceOrder, SetKillSwitch, StreamHasher
from paraphina.config import load_config
from paraphina.eventlog import LogReader
from paraphina.sim.runner import run_simulation, steps_for_ticks, with_scenario_fees
from paraphina.sim.scenario import load_scenario, parse_scenario


class FakeEngine:
    """Test double: one post-only bid per timer on venue 0, one tick under the best bid, and a
    kill switch at ``kill_at_tick``. Numbers events itself, like the real engine."""

    def __init__(self, config, instruments, kill_at_tick=None):
        self.instruments = list(instruments)
        self.seen: list[ev.Event] = []
        self.bids: dict[int, int] = {}
        self.ticks = 0
        self.position = 0
        self.cash = 0.0
        self.killed = False
        self.kill_at_tick = kill_at_tick

    def step(self, e):
        seq = len(self.seen)
        self.seen.append(e)
        if isinstance(e, ev.BookSnapshot) and e.venue == 0:
            self.bids = dict(zip(e.bid_px, e.bid_sz))
        elif isinstance(e, ev.BookDelta) and e.venue == 0:
            for p, s in zip(e.bid_px, e.bid_sz):
                if s:
                    self.bids[p] = s
                else:
                    self.bids.pop(p, None)
        elif isinstance(e, ev.Fill):
            self.position += e.side * e.size
            self.cash -= e.side * e.size * e.price * 1e-4 + e.fee
        elif isinstance(e, ev.Timer):
            self.ticks += 1
            if self.killed:
                return []
            if self.kill_at_tick is not None and self.ticks == self.kill_at_tick:
                self.killed = True
                return [SetKillSwitch(seq=seq, venue=-1, active=True, reason="TestKill")]
            if self.bids:
                return [PlaceOrder(seq=seq, venue=0, client_order_id=f"t{self.ticks}", side=1,
                                   price=max(self.bids) - 1, size=20)]
        return []

    def summary(self):
        return {"realised": self.cash, "unrealised": 0.0, "total": self.cash, "kill_switch": self.killed,
                "kill_reason": "TestKill" if self.killed else "", "risk_regime": "Normal"}


SC = parse_scenario({"scenario_id": "runner", "horizon": {"steps": 240, "dt_ms": 250},
                     "venues": [{"name": "a", "latency_ms": 30, "trades_per_step": 3.0, "trade_size": 0.1},
                                {"name": "b"}]})
CFG = load_config()


def run(tmp_path, name, engines, seed=5, ticks=None, scenario=SC, fake=None, **kw):
    def factory(config, instruments):
        engines.append(FakeEngine(config, instruments, **(fake or {})))
        return engines[-1]
    return run_simulation(scenario, CFG, "fake", seed, ticks, str(tmp_path / name), factory, **kw)


def test_the_log_holds_exactly_the_stepped_events_and_replays_to_the_same_actions(tmp_path):
    engines: list[FakeEngine] = []
    r = run(tmp_path, "a.arrow", engines)
    eng = engines[0]
    logged = [e for _, e in LogReader(r.log_path).events()]
    assert [msgspec.msgpack.encode(e) for e in logged] == [msgspec.msgpack.encode(e) for e in eng.seen]
    assert r.events == len(logged) and r.ticks == 240 and r.steps == 240
    replay = FakeEngine(CFG, SC.instruments())
    h = StreamHasher()
    for e in logged:
        h.add(replay.step(e))
    assert (h.hexdigest(), h.count) == (r.sha256, r.actions)
    assert r.actions == 240
    kinds = {type(e).__name__ for e in logged}
    assert {"SessionStart", "BookSnapshot", "BookDelta", "Trade", "Timer", "OrderAccepted", "Fill",
            "PositionSnapshot", "BalanceUpdate"} <= kinds
    ts = [e.ts_ns for e in logged]
    assert ts == sorted(ts)


def test_fills_in_the_log_add_up_to_the_exchange_position(tmp_path):
    r = run(tmp_path, "a.arrow", [])
    logged = [e for _, e in LogReader(r.log_path).events()]
    fills = [e for e in logged if isinstance(e, ev.Fill)]
    assert fills and all(f.liquidity == "maker" for f in fills)
    assert sum(f.side * f.size for f in fills if f.venue == 0) * 0.001 == pytest.approx(r.positions[0])
    assert r.fills == len(fills)
    last_snap = [e for e in logged if isinstance(e, ev.PositionSnapshot) and e.venue == 0][-1]
    assert last_snap.position == round(r.positions[0] / 0.001)
    # acks come one venue latency after the timer that caused them
    timers = {e.ts_ns for e in logged if isinstance(e, ev.Timer)}
    acks = [e for e in logged if isinstance(e, ev.OrderAccepted)]
    assert acks and all(a.ts_ns - 30_000_000 in timers for a in acks)


def test_same_run_twice_writes_identical_logs_and_another_seed_does_not(tmp_path):
    a = run(tmp_path, "a.arrow", [])
    b = run(tmp_path, "b.arrow", [])
    c = run(tmp_path, "c.arrow", [], seed=6)
    bytes_a = (tmp_path / "a.arrow").read_bytes()
    assert bytes_a == (tmp_path / "b.arrow").read_bytes()
    assert a.sha256 == b.sha256
    assert bytes_a != (tmp_path / "c.arrow").read_bytes()
    assert c.sha256 != a.sha256


def test_stop_on_kill_ends_the_run_at_the_kill_tick(tmp_path):
    r = run(tmp_path, "k.arrow", [], fake={"kill_at_tick": 40})
    assert r.killed_at_tick == 40 and r.ticks == 40 and r.summary["kill_switch"]
    r2 = run(tmp_path, "k2.arrow", [], fake={"kill_at_tick": 40}, stop_on_kill=False)
    assert r2.killed_at_tick == 40 and r2.ticks == 240


def test_ticks_override_the_horizon_and_existing_logs_are_kept(tmp_path):
    assert steps_for_ticks(SC, CFG, None) == 240
    r = run(tmp_path, "t.arrow", [], ticks=50)
    assert r.ticks == 50 and r.steps == 50
    from paraphina.eventlog import LogError
    with pytest.raises(LogError, match="already exists"):
        run(tmp_path, "t.arrow", [], ticks=50)
    assert run(tmp_path, "t.arrow", [], ticks=10, overwrite=True).ticks == 10


def test_initial_inventory_is_opened_at_the_exchange_and_logged(tmp_path):
    sc = parse_scenario({"scenario_id": "inv", "horizon": {"steps": 20},
                         "initial_state": {"inventory": -0.25, "inventory_venue": 1},
                         "venues": [{"name": "a"}, {"name": "b"}]})
    r = run(tmp_path, "i.arrow", [], scenario=sc)
    logged = [e for _, e in LogReader(r.log_path).events()]
    assert isinstance(logged[0], ev.SessionStart)
    assert isinstance(logged[1], ev.PositionSnapshot) and (logged[1].venue, logged[1].position) == (1, -250)
    assert r.positions[1] == pytest.approx(-0.25)


def test_drawdown_tracking_and_finite_pnl(tmp_path):
    r = run(tmp_path, "d.arrow", [])
    assert r.pnl_finite and math.isfinite(r.max_drawdown_usd) and r.max_drawdown_usd >= 0


def test_with_the_real_engine_replay_gives_the_same_action_stream(tmp_path):
    from paraphina.engine import Engine
    from paraphina.policies import load_policy
    from paraphina.replay import replay_log

    sc = load_scenario(SCENARIOS / "venue_outage.yaml")
    cfg = load_config(overrides={"fixed_spread.size": 0.01})
    r = run_simulation(sc, cfg, "fixed-spread", 6000, 500, str(tmp_path / "real.arrow"),
                       lambda c, i: Engine(c, i, load_policy("fixed-spread")), stop_on_kill=False)
    assert r.actions > 0 and r.fills > 0
    rr = replay_log(r.log_path, "fixed-spread", cfg)
    assert (rr.sha256, rr.actions, rr.events) == (r.sha256, r.actions, r.events)
    logged = [e for _, e in LogReader(r.log_path).events()]
    rejected = [e for e in logged if isinstance(e, ev.OrderRejected) and e.reason == "venue_unavailable"]
    assert all(e.venue == 0 for e in rejected)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_library_scenario_runs_and_replays_to_the_same_hash(tmp_path, path):
    from paraphina.engine import Engine
    from paraphina.policies import load_policy
    from paraphina.replay import replay_log

    sc = load_scenario(path)
    cfg = load_config(profile=sc.initial_state.profile, overrides={"fixed_spread.size": 0.01})
    r = run_simulation(sc, cfg, "fixed-spread", sc.seeds.base_seed, 120, str(tmp_path / "run.arrow"),
                       lambda c, i: Engine(c, i, load_policy("fixed-spread")))
    rr = replay_log(r.log_path, "fixed-spread", cfg)
    assert (rr.sha256, rr.actions, rr.events) == (r.sha256, r.actions, r.events)
    assert r.actions > 0


class PerEventEngine:
    """The real engine seen only through ``step``/``summary``: the runner must step it one event
    at a time. Records the kind of every event whose step returned actions."""

    def __init__(self, engine):
        self.engine = engine
        self.acting: set[int] = set()

    def step(self, e):
        actions = self.engine.step(e)
        if actions:
            self.acting.add(e.KIND)
        return actions

    def summary(self):
        return self.engine.summary()


@pytest.mark.parametrize("policy,overrides", [("heuristic", {}), ("heuristic", {"initial_q_tao": 2.0, "risk.daily_loss_limit": 1.0}),
                                              ("fixed-spread", {"fixed_spread.size": 0.01})])
def test_engine_stepped_once_per_tick_gives_the_log_and_actions_of_stepping_each_event(tmp_path, policy, overrides):
    """The runner hands the engine each tick's quiet events together with the Timer
    (Engine.ACTING_KINDS); that must be exactly the run of stepping every event alone, kill
    switch included, and only the kinds it lists may act."""
    from paraphina.commands.common import load_cli_config
    from paraphina.engine import Engine
    from paraphina.policies import load_policy

    sc = load_scenario(SCENARIOS / "venue_outage.yaml")
    cfg = with_scenario_fees(load_cli_config(None, None, overrides), sc)
    wrapped: list[PerEventEngine] = []

    def per_event(c, i):
        wrapped.append(PerEventEngine(Engine(c, i, load_policy(policy))))
        return wrapped[-1]

    results = [run_simulation(sc, cfg, policy, 3, 300, str(tmp_path / f"{name}.arrow"), factory,
                              actions_path=str(tmp_path / f"{name}.actions"))
               for name, factory in (("batched", lambda c, i: Engine(c, i, load_policy(policy))),
                                     ("per_event", per_event))]
    batched, single = results
    assert batched.actions > 0 and wrapped[0].acting <= Engine.ACTING_KINDS
    assert (batched.sha256, batched.events, batched.ticks, batched.killed_at_tick, batched.fills) == \
        (single.sha256, single.events, single.ticks, single.killed_at_tick, single.fills)
    for ext in ("arrow", "actions"):
        assert (tmp_path / f"batched.{ext}").read_bytes() == (tmp_path / f"per_event.{ext}").read_bytes()
    if overrides.get("risk.daily_loss_limit"):
        assert batched.killed_at_tick is not None
