"""The canonical heuristic on synthetic multi-venue sessions, end to end through the engine."""

from __future__ import annotations

from pathlib import Path

from paraphina import events as ev
from paraphina.actions import CancelAll, PlaceOrder, SetKillSwitch
from paraphina.config import load_config, parse_config_text
from paraphina.engine import Engine
from paraphina.policies import load_policy

ROOT = Path(__file__).resolve().parents[2]
MS = 1_000_000
T0 = 1_722_000_000 * 1_000_000_000
MID = 600_000  # ticks of 0.1: 60,000 USD


def btc_config(**over):
    path = ROOT / "paraphina" / "presets" / "btc.toml"
    return load_config(parse_config_text(path.read_text(), str(path)), overrides=over)


def make_engine(n=3, **over):
    ins = [ev.Instrument(venue=f"v{i}", symbol="BTC-PERP", tick_size="0.1", lot_size="0.001") for i in range(n)]
    return Engine(btc_config(**over), ins, load_policy("heuristic"))


def book(v, t, mid, half=30):  # 6 USD wide: 1 bp, a BTC perpetual's touch
    return ev.BookSnapshot(ts_ns=t, venue=v, bid_px=[mid - half, mid - half - 1], bid_sz=[2000, 3000],
                           ask_px=[mid + half, mid + half + 1], ask_sz=[2000, 3000])


class Session:
    """Drives an engine tick by tick; fills every IOC order at its limit price (a test double for
    the simulated exchange) so hedges and exits change the position as they would."""

    def __init__(self, engine):
        self.e = engine
        self.t = T0
        self.actions: list = []

    def tick(self, mids: dict[int, int], fill_ioc=True):
        self.t += 250 * MS
        for v, m in mids.items():
            self.e.step(book(v, self.t - MS, m))
        out = self.e.step(ev.Timer(ts_ns=self.t))
        self.actions.extend(out)
        if fill_ioc:
            for a in out:
                if isinstance(a, PlaceOrder) and a.time_in_force == "IOC":
                    self.e.step(ev.Fill(ts_ns=self.t + 1, venue=a.venue, client_order_id=a.client_order_id, side=a.side,
                                        price=a.price, size=a.size, fee=0.0, liquidity="taker"))
        return out


def test_a_stale_venue_stops_being_quoted_and_leaves_the_fair_value():
    s = Session(make_engine())
    for _ in range(12):
        s.tick({0: MID, 1: MID + 2, 2: MID - 2})
    assert s.e.tick_model.venues_used == (0, 1, 2)
    quoted_before = {a.venue for a in s.actions if isinstance(a, PlaceOrder)}
    assert quoted_before == {0, 1, 2}
    s.actions.clear()
    for _ in range(12):  # venue 2 goes silent: 3 s > the 1 s stale limit
        s.tick({0: MID, 1: MID + 2})
    assert 2 not in s.e.tick_model.venues_used
    assert s.e.tick_model.statuses[2] == "Disabled"
    placed_on_2 = [a for a in s.actions if isinstance(a, PlaceOrder) and a.venue == 2]
    canceled_on_2 = [a for a in s.actions if type(a).__name__ == "CancelOrder" and a.venue == 2]
    assert placed_on_2 == [] and len(canceled_on_2) == 2


def test_a_toxic_venue_is_disabled_and_not_quoted():
    s = Session(make_engine())
    for _ in range(8):
        s.tick({0: MID, 1: MID, 2: MID})
    s.actions.clear()
    for k in range(16):  # venue 1's mid jumps 0.5 % up and down every message: its local vol explodes
        s.tick({0: MID, 1: MID + (3000 if k % 2 else -3000), 2: MID})
    assert s.e.tick_model.statuses[1] == "Disabled" and s.e.tick_model.toxicity[1] >= 0.9
    late = s.actions[len(s.actions) // 2:]
    assert not [a for a in late if isinstance(a, PlaceOrder) and a.venue == 1]
    assert 1 not in s.e.tick_model.venues_used


def test_a_large_inventory_is_hedged_down_into_the_band():
    e = make_engine()
    s = Session(e)
    s.tick({0: MID, 1: MID, 2: MID})
    e.step(ev.Fill(ts_ns=s.t + 2, venue=0, client_order_id="ext", side=1, price=MID, size=3000))  # +3 BTC
    band = e.config.hedge.band_base_tao
    sizes = []
    for _ in range(40):
        out = s.tick({0: MID, 1: MID, 2: MID})
        hedges = [a for a in out if isinstance(a, PlaceOrder) and a.purpose == "hedge"]
        assert all(a.side == -1 for a in hedges)
        step = sum(a.size for a in hedges) * 0.001
        assert step <= e.config.hedge.max_step_tao + 1e-9
        assert all(a.size * 0.001 <= e.config.hedge.max_venue_tao_per_tick + 1e-9 for a in hedges)
        sizes.append(step)
    q = e.position_base()
    assert abs(q) <= band + 1e-9 and sum(sizes) > 0


def test_a_loss_beyond_the_limit_kills_with_its_reason_and_places_nothing_after():
    e = make_engine()
    s = Session(e)
    for _ in range(6):
        s.tick({0: MID, 1: MID, 2: MID})
    e.step(ev.Fill(ts_ns=s.t + 2, venue=0, client_order_id="x", side=1, price=MID, size=100, fee=1500.0))
    e.step(ev.Fill(ts_ns=s.t + 3, venue=0, client_order_id="y", side=-1, price=MID, size=100, fee=600.0))
    out = s.tick({0: MID, 1: MID, 2: MID})
    kinds = [type(a) for a in out]
    assert kinds == [CancelAll, CancelAll, CancelAll, SetKillSwitch]
    assert out[-1].reason == "PnlHardBreach" and e.summary()["risk_regime"] == "HardLimit"
    after = [a for _ in range(10) for a in s.tick({0: MID + 5, 1: MID - 5, 2: MID})]
    assert after == []
