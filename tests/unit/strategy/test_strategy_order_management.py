from paraphina.strategy.order_management import CANCEL, KEEP, NONE, PLACE, REPLACE, is_dangerous, keep_or_replace, manage_side

BASE = dict(side=1, now_ms=10_000, order_ts_ms=0, cur_price=995, cur_size=10, des_price=995, des_size=10,
            best_bid=1000, best_ask=1002, min_lifetime_ms=500, price_tol_ticks=1, size_tol_rel=0.10)


def kor(**kw):
    return keep_or_replace(**{**BASE, **kw})


def test_price_tolerance_exactly_one_tick_keeps():
    assert kor(des_price=996) == KEEP
    assert kor(des_price=994) == KEEP
    assert kor(des_price=997) == REPLACE


def test_size_tolerance_exactly_ten_percent_keeps():
    assert kor(cur_size=10, des_size=11) == KEEP     # 1/11 of the desired size: under 10 %
    assert kor(cur_size=11, des_size=10) == KEEP     # |11-10|/10 = exactly 10 %
    assert kor(cur_size=12, des_size=10) == REPLACE
    assert kor(cur_size=33, des_size=30) == KEEP
    assert kor(cur_size=34, des_size=30) == REPLACE
    assert kor(cur_size=1, des_size=0) == REPLACE    # denominator at least one lot


def test_young_order_kept_unless_dangerous():
    assert kor(now_ms=499, des_price=900) == KEEP
    assert kor(now_ms=500, des_price=900) == REPLACE
    assert kor(now_ms=100, cur_price=1000) == REPLACE  # at the touch: dangerous


def test_dangerous_rules():
    assert not is_dangerous(1, 999, 1000, 1002)
    assert is_dangerous(1, 1000, 1000, 1002)
    assert is_dangerous(1, 999, 1000, 1000)      # >= best_ask - 1
    assert not is_dangerous(-1, 1003, 1000, 1002)
    assert is_dangerous(-1, 1002, 1000, 1002)
    assert is_dangerous(1, 900, None, 1002)


def test_manage_side():
    kw = dict(side=1, now_ms=0, best_bid=1000, best_ask=1002, min_lifetime_ms=500, price_tol_ticks=1, size_tol_rel=0.1)
    assert manage_side(resting=None, desired=(990, 5), **kw) == PLACE
    assert manage_side(resting=(990, 5, 0), desired=None, **kw) == CANCEL
    assert manage_side(resting=None, desired=None, **kw) == NONE
    assert manage_side(resting=(990, 5, 0), desired=(990, 5), killed=True, **kw) == CANCEL
    assert manage_side(resting=(990, 5, 0), desired=(990, 5), **kw) == KEEP
