import pytest

from paraphina.config import load_config
from paraphina.strategy.exits import entry_reference, exits, max_size_for_profit
from paraphina.strategy.fixtures import make_tick, make_venue

CFG = load_config()


def test_entry_reference_weights_same_side_positions():
    vs = [make_venue(0, position=2.0, avg_entry=95.0), make_venue(1, position=1.0, avg_entry=98.0),
          make_venue(2, position=-1.0, avg_entry=110.0)]
    assert entry_reference(vs, 2.0, 100.0) == pytest.approx(96.0)
    assert entry_reference([make_venue(0)], 2.0, 100.0) == 100.0


def test_max_size_for_profit_quadratic_root():
    # 0.001 T^2 + 0.01 T - 0.75 = 0
    assert max_size_for_profit(1.0, 0.25, 0.01, 0.001) == pytest.approx((-0.01 + (0.0001 + 0.003) ** 0.5) / 0.002)
    assert max_size_for_profit(0.2, 0.25, 0.01, 0.001) == 0.0
    assert max_size_for_profit(1.0, 0.25, 0.5, 0.0) == pytest.approx(1.5)


def _book(q0=5.0):
    return [
        make_venue(0, 99.0, position=q0, avg_entry=99.0),
        make_venue(1, 101.01),
        make_venue(2, 100.51),
    ]


def test_exit_sells_at_best_bid_venue():
    out = exits(make_tick(3, q=5.0), CFG, _book())
    assert len(out) == 1
    o = out[0]
    assert (o.venue, o.side, o.size, o.purpose, o.time_in_force, o.post_only) == (1, -1, 5.0, "exit", "IOC", False)
    assert o.price == pytest.approx(101.0)
    assert o.reduce_only is False  # venue 1 is flat: selling there opens a short


def test_best_edge_first_then_next_venue_when_capped():
    vs = _book()
    vs[1] = make_venue(1, 101.01, depth_usd=3000.0)   # cap 0.1*3000/100 = 3
    out = exits(make_tick(3, q=5.0), CFG, vs)
    assert [(o.venue, o.size) for o in out] == [(1, 3.0), (2, 2.0)]


def test_walks_book_levels_and_prices_at_worst_level():
    vs = _book()
    vs[1] = make_venue(1, 101.01, bids=((101.0, 1.0), (100.95, 10.0)))
    vs[2] = make_venue(2, 100.0)
    out = exits(make_tick(3, q=5.0), CFG, vs)
    assert [(o.venue, o.size) for o in out] == [(1, 5.0)]
    assert out[0].price == pytest.approx(100.95)


def test_fragmentation_breaks_ties_toward_reducing_venue():
    cfg = load_config(overrides={"exit.max_total_tao_per_tick": 2.0})
    vs = [make_venue(0, 101.01, position=3.0, avg_entry=99.0), make_venue(1, 101.01, position=2.0, avg_entry=99.0),
          make_venue(2, 101.01)]
    out = exits(make_tick(3, q=5.0), cfg, vs)
    assert [(o.venue, o.size, o.reduce_only) for o in out] == [(0, 2.0, True)]


def test_no_exit_when_not_profitable_or_gated():
    vs = _book()
    vs[1] = make_venue(1, 99.2)
    vs[2] = make_venue(2, 99.1)
    assert exits(make_tick(3, q=5.0), CFG, vs) == []   # best bid 99.19 - 99 - fee < thr
    assert exits(make_tick(3, q=5.0, regime="HardLimit"), CFG, _book()) == []
    assert exits(make_tick(3, q=5.0, fv_available=False), CFG, _book()) == []
    assert exits(make_tick(3, q=0.2), CFG, _book()) == []
    assert exits(make_tick(3, q=5.0), load_config(overrides={"exit.enabled": False}), _book()) == []


def test_near_liquidation_exits_only_reduce():
    vs = _book()
    out = exits(make_tick(3, q=5.0, dist_liq=(float("inf"), 1.5, float("inf"))), CFG, vs)
    assert [o.venue for o in out] == [2]  # venue 1 is flat at the critical distance: it may not grow


def test_min_notional_drops_tiny_exit():
    vs = [make_venue(0, 99.0, position=0.3, avg_entry=50.0), make_venue(1, 101.01, min_notional_usd=50.0)]
    assert exits(make_tick(2, q=0.3), CFG, vs) == []


def test_buy_back_short():
    vs = [make_venue(0, 101.0, position=-3.0, avg_entry=101.0), make_venue(1, 99.01)]
    out = exits(make_tick(2, q=-3.0), CFG, vs)
    assert [(o.venue, o.side, o.size) for o in out] == [(1, 1, 3.0)]
    assert out[0].price == pytest.approx(99.02)


def _plan(positions, prices, q, max_total):
    """exit_plan on identical venues that differ only in position and one book level's price."""
    import numpy as np

    from paraphina.strategy import exits as ex
    from paraphina.strategy.common import HEALTHY, status_codes, venue_columns

    vs = [make_venue(i, position=p) for i, p in enumerate(positions)]
    f, ints = venue_columns(vs)
    n = len(vs)
    params = np.array([getattr(CFG.exit, k) for k in ex.EXIT_PARAMS], dtype=np.float64)
    params[ex.EXIT_PARAMS.index("min_depth_usd")] = 0.0
    return ex.exit_plan(
        f, ints, np.array([(0.0, v.size_step) for v in vs]), status_codes([HEALTHY] * n), np.zeros(n),
        np.full(n, float("inf")), np.ones(n, dtype=np.int64), np.array([(p, 100.0) for p in prices]), params,
        vs[0].last_mid_update_ms, 10_000, False, 10_000, 0, 0.9, 100.0, q, 0.0, 90.0, 0.0, 0.0, 5.0, 2.0, max_total,
    )


def test_exit_plan_ranks_reducing_venues_then_price_then_venue_order():
    # equal prices: venue 1 holds the long being sold (fragmentation bonus), the others are flat
    taken, _, took = _plan([0.0, 3.0, 0.0], [101.0, 101.0, 101.0], 3.0, 0.5)
    assert took.tolist() == [False, True, False]
    # nobody reduces: venue order breaks the tie
    taken, _, took = _plan([0.0, 0.0], [101.0, 101.0], 3.0, 0.5)
    assert took.tolist() == [True, False]
    # a better price wins over venue order
    taken, worst, took = _plan([0.0, 0.0], [101.0, 102.0], 3.0, 0.5)
    assert took.tolist() == [False, True] and worst[1] == 102.0 and taken[1] > 0.0
