import math

import pytest

from paraphina.config import load_config
from paraphina.strategy.common import WARNING
from paraphina.strategy.fixtures import calm_vol, make_tick, make_venue
from paraphina.strategy.quoting import (
    as_half_spread,
    funding_target_phi,
    half_spread,
    liq_size_factor,
    passive_prices,
    quote,
    quote_size,
    reservation_price,
    usable_funding_rate,
    venue_targets,
)

CFG = load_config()


@pytest.mark.parametrize("gamma, k, expected", [(0.10, 1.5, 0.645385), (0.09, 1.6, 0.608054), (0.11, 1.4, 0.687613)])
def test_as_half_spread_table(gamma, k, expected):
    assert as_half_spread(gamma, k) == pytest.approx(expected, abs=1e-6)


def test_reservation_price_hand_value_and_sign_flag():
    kw = dict(fair_value=100.0, basis=1.0, funding_usd=0.0, gamma=0.1, sigma_px_=0.1, tau=30.0, q=2.0, q_v=3.0,
              q_target=1.0, basis_weight=0.3, funding_weight=0.3, lambda_inv=0.3)
    # skew = 0.1 * 0.01 * 30 * (2 + 0.3*(3-1)) = 0.078
    assert reservation_price(**kw) == pytest.approx(100.3 - 0.078)
    # literal sign: 0.03 * (2 - 0.6) = 0.042
    assert reservation_price(venue_target_sign=-1, **kw) == pytest.approx(100.3 - 0.042)


def test_half_spread_floor_warning_and_liq_widening():
    base = dict(gamma=0.1, k=1.5, spread_mult=1.0, c_maker=0.02, v_buf=0.0, edge_local_min=0.5, warning_regime=False,
                spread_warn_mult=1.5, dist_liq=math.inf, liq_warn=5.0, liq_widening=True, liq_widening_max=2.0)
    assert half_spread(**base) == pytest.approx(0.645385, abs=1e-6)
    # floor: (0.5 + 0.02 + 1.0)/2 = 0.76 beats delta*
    assert half_spread(**{**base, "v_buf": 1.0}) == pytest.approx(0.76)
    assert half_spread(**{**base, "warning_regime": True}) == pytest.approx(1.5 * 0.645385, abs=1e-6)
    # dist 2.5: x(1 + 2*(2.5/5)) = x2
    assert half_spread(**{**base, "dist_liq": 2.5}) == pytest.approx(2 * 0.645385, abs=1e-6)
    assert half_spread(**{**base, "dist_liq": 2.5, "liq_widening": False}) == pytest.approx(0.645385, abs=1e-6)


def test_passive_prices_stay_behind_touch():
    assert passive_prices(99.99, 100.01, 99.99, 100.01, 0.01) == pytest.approx((99.98, 100.02))
    assert passive_prices(99.0, 101.0, 99.99, 100.01, 0.01) == (99.0, 101.0)
    assert passive_prices(-5.0, 1.0, 0.001, 0.002, 0.01) is None


SIZE_KW = dict(edge=0.585, eligible=True, eta=0.1, size_mult=1.0, lot=0.01, price=100.0, margin_available=10_000.0,
               max_leverage=10.0, margin_safety=0.5, dist_liq=math.inf, liq_warn=5.0, liq_crit=2.0, venue_warning=False,
               warning_size_mult=0.5, toxicity=0.0, tox_med=0.6, tox_high=0.9, tox_floor=0.1, warning_regime=False,
               q_warn_cap=5.0, max_order_size=20.0)


def test_quote_size_hand_values():
    assert quote_size(**SIZE_KW) == pytest.approx(5.85)
    assert quote_size(**{**SIZE_KW, "warning_regime": True}) == pytest.approx(5.0)
    assert quote_size(**{**SIZE_KW, "dist_liq": 3.5}) == pytest.approx(2.92)      # x0.5, floored to lots
    assert quote_size(**{**SIZE_KW, "margin_available": 20.0}) == pytest.approx(1.0)  # 20*10*0.5/100
    assert quote_size(**{**SIZE_KW, "toxicity": 0.75, "venue_warning": True}) == pytest.approx(1.46)  # x0.25
    assert quote_size(**{**SIZE_KW, "eligible": False}) == 0.0
    assert quote_size(**{**SIZE_KW, "edge": 5.0}) == 20.0


def test_liq_size_factor():
    assert liq_size_factor(math.inf, 5.0, 2.0) == 1.0
    assert liq_size_factor(2.0, 5.0, 2.0) == 0.0
    assert liq_size_factor(3.5, 5.0, 2.0) == pytest.approx(0.5)


def test_venue_targets_depth_weighted_and_funding_tilt():
    vs = [make_venue(0, w_liq=0.25, w_fund=0.25), make_venue(1, w_liq=0.25, w_fund=0.25), make_venue(2, depth_usd=0.0)]
    t = venue_targets(vs, ("Healthy", "Warning", "Healthy"), 4.0, [0.0, 0.002, 0.0], rate_scale=0.001, max_tao=5.0)
    assert t == pytest.approx([2.0, 2.0 + 0.25 * 5.0, 0.0])
    assert funding_target_phi(-0.0005, 0.001, 5.0) == pytest.approx(-2.5)


def test_usable_funding_rate_rules():
    v = make_venue(funding_8h=0.001, funding_received_ms=0, next_funding_ms=1_000_000)
    kw = dict(stale_ms=600_000, avoid_window_ms=60_000)
    assert usable_funding_rate(v, 1000, enabled=False, **kw) == 0.0
    assert usable_funding_rate(v, 1000, enabled=True, **kw) == 0.001
    assert usable_funding_rate(v, 600_001, enabled=True, **kw) == 0.0       # stale
    assert usable_funding_rate(v, 940_000, enabled=True, **kw) == 0.0       # 60 s before settlement


def test_quote_end_to_end_balanced_calm():
    vs = [make_venue(0, 300.0, w_liq=0.25)]
    intents = quote(make_tick(1, fair_value=300.0), CFG, vs)[0]
    assert [(i.side, i.purpose, i.time_in_force, i.post_only, i.reduce_only) for i in intents] == [
        (1, "mm", "GTC", True, False), (-1, "mm", "GTC", True, False)]
    bid, ask = intents
    h = as_half_spread(0.1, 1.5)
    assert bid.price == pytest.approx(300.0 - h, abs=1e-4) and ask.price == pytest.approx(300.0 + h, abs=1e-4)
    # edge = h - maker fee (2 bps of 300 = 0.06) = 0.585 -> 5.85 TAO at eta 0.1
    assert bid.size == pytest.approx(5.85) and ask.size == pytest.approx(5.85)


def test_quote_gates():
    vs = [make_venue(0, 300.0)]
    assert quote(make_tick(1, fair_value=300.0, fv_available=False), CFG, vs)[0] == []
    assert quote(make_tick(1, fair_value=300.0, dist_liq=(2.0,)), CFG, vs)[0] == []
    assert quote(make_tick(1, fair_value=300.0, toxicity=(0.9,)), CFG, vs)[0] == []
    assert quote(make_tick(1, fair_value=300.0, statuses=("Disabled",)), CFG, vs)[0] == []
    # decision 10: book older than the venue's stale limit (global 1000 ms; override 2000)
    assert quote(make_tick(1, fair_value=300.0, now_ms=1001), CFG, vs)[0] == []
    assert len(quote(make_tick(1, fair_value=300.0, now_ms=1001), CFG, [make_venue(0, 300.0, stale_ms_override=2000)])[0]) == 2


def test_warning_regime_widens_and_caps():
    vs = [make_venue(0, 300.0)]
    normal = quote(make_tick(1, fair_value=300.0), CFG, vs)[1][0]
    warn = quote(make_tick(1, fair_value=300.0, regime="Warning"), CFG, vs)[1][0]
    assert warn.half_spread == pytest.approx(1.5 * normal.half_spread)
    assert warn.bid_size <= 5.0 and warn.ask_size <= 5.0


def test_warning_status_halves_size():
    vs = [make_venue(0, 300.0)]
    d = quote(make_tick(1, fair_value=300.0, statuses=(WARNING,), toxicity=(0.0,)), CFG, vs)[1][0]
    assert d.bid_size == pytest.approx(2.92)


def test_delta_throttle_keeps_only_reducing_side():
    vs = [make_venue(0, 300.0)]
    ints = quote(make_tick(1, fair_value=300.0, q=10.0, delta_usd=150_000.0, delta_limit_usd=100_000.0), CFG, vs)[0]
    assert [i.side for i in ints] == [-1]
    assert quote(make_tick(1, fair_value=300.0, q=10.0, delta_usd=200_000.0, delta_limit_usd=100_000.0), CFG, vs)[0] == []


def test_vol_scales_half_spread():
    vs = [make_venue(0, 300.0)]
    hi = quote(make_tick(1, fair_value=300.0, vol=calm_vol(sigma_eff=1e-4, vrc=2.0, spread_mult=2.0, size_mult=1 / 3)), CFG, vs)[1][0]
    assert hi.half_spread == pytest.approx(2 * as_half_spread(0.1, 1.5))
