"""Order management (STRATEGY.md 4.9, decision 9): hand-computed cases of the one rule the
engine applies to every policy's quotes."""

from paraphina.actions import CancelOrder, PlaceOrder
from paraphina.config import OrderConfig
from paraphina.orders import is_dangerous, keep_live_order, manage_venue_quotes
from paraphina.state import OpenOrder, VenueAccount

CFG = OrderConfig(min_quote_lifetime_ms=500, price_tol_ticks=1, size_tol_rel=0.10)
MS = 1_000_000
BASE = dict(side=1, age_ns=10_000 * MS, cur_price=995, cur_size=10, des_price=995, des_size=10,
            best_bid=1000, best_ask=1002, cfg=CFG)


def keep(**kw) -> bool:
    return keep_live_order(**{**BASE, **kw})


def test_price_tolerance_exactly_one_tick_keeps():
    assert keep(des_price=996) and keep(des_price=994)
    assert not keep(des_price=997)


def test_size_tolerance_is_relative_to_the_desired_size():
    assert keep(cur_size=10, des_size=11)        # 1/11 = 9.1 % of the desired size
    assert keep(cur_size=11, des_size=10)        # exactly 10 %: kept
    assert not keep(cur_size=12, des_size=10)    # 20 %
    assert keep(cur_size=33, des_size=30)        # exactly 10 %
    assert not keep(cur_size=34, des_size=30)    # 13.3 %
    # Measured against the live size instead, 10 -> 11.2 lots would be 12 % and replaced.
    assert keep(cur_size=100, des_size=111)      # 11/111 = 9.9 % of the desired size
    assert not keep(cur_size=1, des_size=0)      # the denominator is at least one lot


def test_young_order_kept_unless_dangerous():
    assert keep(age_ns=499 * MS, des_price=900)
    assert not keep(age_ns=500 * MS, des_price=900)
    assert not keep(age_ns=100 * MS, cur_price=1000)   # at the touch: dangerous, replaced at any age
    assert not keep(age_ns=100 * MS, cur_price=1001)   # inside the spread


def test_dangerous_rules():
    assert not is_dangerous(1, 999, 1000, 1002)
    assert is_dangerous(1, 1000, 1000, 1002)           # at the best bid
    assert is_dangerous(1, 999, 1000, 1000)            # >= best_ask - 1
    assert not is_dangerous(-1, 1003, 1000, 1002)
    assert is_dangerous(-1, 1002, 1000, 1002)
    assert is_dangerous(-1, 1003, 1002, 1003)          # <= best_bid + 1
    assert is_dangerous(1, 900, None, 1002)            # touch unknown


def _acct_with_bid(price: int, size: int, placed_ns: int) -> VenueAccount:
    acct = VenueAccount()
    acct.open_orders["m0-1"] = OpenOrder(client_order_id="m0-1", side=1, price=price, size=size, remaining=size,
                                         placed_ns=placed_ns)
    acct.mm_bid = "m0-1"
    return acct


def _want(side: int, price: int, size: int) -> PlaceOrder:
    return PlaceOrder(seq=7, venue=0, client_order_id="", side=side, price=price, size=size, purpose="mm",
                      time_in_force="GTC", post_only=True)


def test_manage_venue_quotes_keeps_replaces_cancels_and_places():
    ids = iter(f"m0-{i}" for i in range(2, 10))
    top = (1000, 5, 1002, 5)
    acct = _acct_with_bid(995, 10, placed_ns=0)
    assert manage_venue_quotes(0, acct, _want(1, 996, 10), None, top, 10_000 * MS, 7, CFG, lambda o: next(ids)) == []
    out = manage_venue_quotes(0, acct, _want(1, 990, 10), _want(-1, 1010, 4), top, 10_000 * MS, 7, CFG, lambda o: next(ids))
    assert [type(a) for a in out] == [CancelOrder, PlaceOrder, PlaceOrder]     # cancels first, then buy, sell
    assert out[0].client_order_id == "m0-1" and (out[1].price, out[2].price) == (990, 1010)
    assert acct.mm_bid == "m0-2" and acct.mm_ask == "m0-3"
    out = manage_venue_quotes(0, acct, None, None, top, 11_000 * MS, 8, CFG, lambda o: next(ids))
    assert [a.client_order_id for a in out] == ["m0-2", "m0-3"] and acct.open_orders == {}


def test_a_young_quote_the_touch_reached_is_replaced():
    acct = _acct_with_bid(999, 10, placed_ns=0)
    top = (999, 5, 1001, 5)    # the best bid rose to our price 100 ms after we placed it
    out = manage_venue_quotes(0, acct, _want(1, 998, 10), None, top, 100 * MS, 7, CFG, lambda o: "m0-2")
    assert [type(a) for a in out] == [CancelOrder, PlaceOrder]
