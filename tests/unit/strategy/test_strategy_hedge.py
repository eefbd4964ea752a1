import pytest

from paraphina.config import load_config
from paraphina.strategy.fixtures import make_tick, make_venue
from paraphina.strategy.hedge import default_chunk, hedge, hedge_step, margin_cap, venue_chunks

CFG = load_config()


def test_hedge_step_band_inclusive_gain_and_clamp():
    assert hedge_step(5.625, 5.625, 0.5, 20.0) == 0.0
    assert hedge_step(-5.625, 5.625, 0.5, 20.0) == 0.0
    assert hedge_step(10.0, 5.625, 0.5, 20.0) == 5.0
    assert hedge_step(-100.0, 5.625, 0.5, 20.0) == -20.0


def test_margin_cap_hand_values():
    assert margin_cap(0.0, 1, 0.0, 100.0, 10.0, 0.95) == 0.0
    assert margin_cap(3.0, -1, 0.0, 100.0, 10.0, 0.95) == 6.0   # down to -3: |q_v| unchanged
    assert margin_cap(0.0, 1, 100.0, 100.0, 10.0, 0.95) == pytest.approx(9.5)


def test_venue_chunks_split_at_reducible_with_liq_bonus_and_penalty():
    ch = venue_chunks(venue=0, name="a", position=-3.0, trade_sign=1, capacity=7.0, chunk_size=2.5, base_cost=0.1,
                      liq_term=0.2, frag_penalty=0.02, convexity_per_chunk=0.0)
    assert [round(c.size, 9) for c in ch] == [2.5, 0.5, 2.5, 1.5]
    assert [c.reduces for c in ch] == [True, True, False, False]
    assert [c.cost for c in ch] == pytest.approx([-0.1, -0.1, 0.3, 0.3])
    flat = venue_chunks(venue=0, name="a", position=0.0, trade_sign=1, capacity=2.0, chunk_size=2.5, base_cost=0.1,
                        liq_term=0.0, frag_penalty=0.02, convexity_per_chunk=0.001)
    assert [c.cost for c in flat] == pytest.approx([0.12])


def _two_venues(**kw0):
    return [make_venue(0, 100.0, spread=0.02, **kw0), make_venue(1, 100.0, spread=0.2)]


def test_hedge_sells_on_cheaper_venue_at_guard_price():
    vs = _two_venues()
    out = hedge(make_tick(2, q=20.0), CFG, vs)
    assert len(out) == 1
    o = out[0]
    assert (o.venue, o.side, o.purpose, o.time_in_force, o.post_only, o.reduce_only) == (0, -1, "hedge", "IOC", False, False)
    assert o.size == pytest.approx(10.0)
    assert o.price == pytest.approx(99.99 - 0.01)  # bid - 0.5*spread


def test_no_hedge_inside_band_or_without_fair_value_or_killed():
    vs = _two_venues()
    assert hedge(make_tick(2, q=5.625), CFG, vs) == []
    assert hedge(make_tick(2, q=20.0, fv_available=False), CFG, vs) == []
    assert hedge(make_tick(2, q=20.0, kill_switch=True), CFG, vs) == []


def test_step_split_when_cheap_venue_capacity_runs_out():
    vs = [make_venue(0, 100.0, spread=0.02, depth_usd=3000.0), make_venue(1, 100.0, spread=0.2)]
    out = hedge(make_tick(2, q=20.0), CFG, vs)   # venue 0 cap: 0.1*3000/100 = 3
    assert [(o.venue, round(o.size, 9)) for o in out] == [(0, 3.0), (1, 7.0)]


def test_near_liquidation_venue_only_reduces_with_bonus():
    # venue 0 at dist 1.5: flat -> excluded entirely
    vs = _two_venues()
    out = hedge(make_tick(2, q=20.0, dist_liq=(1.5, float("inf"))), CFG, vs)
    assert [o.venue for o in out] == [1]
    # holding 4 long there: selling reduces, allowed up to 4, preferred (bonus), reduce-only
    vs = [make_venue(0, 100.0, spread=0.2, position=4.0), make_venue(1, 100.0, spread=0.02)]
    out = hedge(make_tick(2, q=20.0, dist_liq=(1.5, float("inf"))), CFG, vs)
    assert [(o.venue, round(o.size, 9), o.reduce_only) for o in out] == [(0, 4.0, True), (1, 6.0, False)]


def test_zero_margin_only_reducing_hedges():
    vs = [make_venue(0, 100.0, margin_available_usd=0.0, position=2.0), make_venue(1, 100.0, spread=0.2, margin_available_usd=0.0)]
    out = hedge(make_tick(2, q=20.0), CFG, vs)
    assert [(o.venue, round(o.size, 9)) for o in out] == [(0, 4.0)]  # 2 -> -2: |q_v| never grows


def test_reduce_only_only_where_the_order_reduces():
    """Decision 12: a hedge that grows a flat venue's position is never flagged reduce-only."""
    assert not any(o.reduce_only for o in hedge(make_tick(2, q=20.0), CFG, _two_venues()))


def test_default_chunk_is_a_quarter_of_the_venue_cap():
    # spec 4.12 step 5: chunk_size 0 => max(max_venue_tao_per_tick/4, 0.1) = max(10/4, 0.1) = 2.5
    assert default_chunk(0.0, 10.0) == 2.5
    assert default_chunk(0.0, 0.2) == 0.1       # the floor
    assert default_chunk(1.5, 10.0) == 1.5      # configured
    # Hand-computed allocation: q = 20 long, band 5.625, k 0.5 => sell 10 TAO. Two identical venues
    # (capacity min(10, 20, 0.1*20000/100 = 20) = 10 each) are cut into 2.5-TAO chunks of equal
    # cost; the sort by venue name takes all four of v0's chunks first.
    same = [make_venue(0, 100.0), make_venue(1, 100.0)]
    out = hedge(make_tick(2, q=20.0), CFG, same)
    assert [(o.venue, o.side, o.size) for o in out] == [(0, -1, 10.0)]
    # A convexity cost per chunk index makes each venue's second chunk dearer than the other's
    # first: v0c0, v1c0, v0c1, v1c1 => 5 TAO on each.
    cfg = load_config(overrides={"hedge.chunk_convexity_cost_bps": 1.0})
    out = hedge(make_tick(2, q=20.0), cfg, same)
    assert [(o.venue, o.size) for o in out] == [(0, 5.0), (1, 5.0)]


def test_band_grows_with_vol_flag():
    tick = make_tick(2, q=7.0)  # vr 0.25: decision-13 band 5.625; reference band 7.03125
    assert hedge(tick, CFG, _two_venues()) != []
    assert hedge(tick, load_config(overrides={"hedge.band_grows_with_vol": True}), _two_venues()) == []


def test_tie_break_by_venue_name_then_chunk():
    vs = [make_venue(0, 100.0, name="zeta"), make_venue(1, 100.0, name="alpha")]
    out = hedge(make_tick(2, q=12.0), CFG, vs)   # step 6: identical costs -> "alpha" (venue 1) first
    assert [(o.venue, round(o.size, 9)) for o in out] == [(1, 6.0)]
