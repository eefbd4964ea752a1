import math

import pytest

from paraphina.config import VolatilityConfig
from paraphina.strategy.volatility import (
    delta_limit_usd,
    dist_liq_sigma,
    ewma_vol,
    hedge_band_tao,
    local_vol_update,
    per_tick,
    sigma_px,
    update_vol_cfg,
)


def test_per_tick_scaling_matches_spec_numbers():
    assert per_tick(0.028125, 0.25, 86400.0) == pytest.approx(4.78416e-5, rel=1e-5)
    assert per_tick(0.001, 0.25, 86400.0) == pytest.approx(1.70103e-6, rel=1e-5)


def test_sigma_px_hand_value():
    # 1e-4 per 250 ms tick at S=300: 1e-4 * 300 / sqrt(0.25) = 0.06 USD per sqrt(s)
    assert sigma_px(1e-4, 300.0, 0.25) == pytest.approx(0.06)


def test_dist_liq_sigma_hand_value():
    # H/tick_sec = 10_000 -> sqrt = 100; sigma 0.001, S 100 -> one sigma = 0.001*100*100 = 10 USD
    assert dist_liq_sigma(100.0, 80.0, 0.001, 100.0, 2500.0, 0.25) == pytest.approx(2.0)
    # default horizon 86400 at 250 ms: sqrt(345600) = 587.8775...
    assert dist_liq_sigma(300.0, 270.0, 1e-4, 300.0, 86400.0, 0.25) == pytest.approx(30.0 / (1e-4 * 587.8775382679627 * 300.0))


def test_unknown_liquidation_price_is_no_constraint():
    assert dist_liq_sigma(100.0, None, 0.001, 100.0, 86400.0, 0.25) == math.inf
    assert dist_liq_sigma(100.0, 0.0, 0.001, 100.0, 86400.0, 0.25) == math.inf


def test_ewma_vol_step():
    assert ewma_vol(0.0, 0.01, 0.2) == pytest.approx(math.sqrt(0.2) * 0.01)


def test_local_vol_update_first_mid_only_seeds():
    ln, vs, vl = local_vol_update(None, 0.5, 0.25, 100.0, 0.2, 0.05)
    assert ln == pytest.approx(math.log(100.0)) and (vs, vl) == (0.5, 0.25)


def test_local_vol_update_hand_value():
    r = math.log(1.1)  # 0.0953102
    ln, vs, vl = local_vol_update(math.log(100.0), 0.0, 1e-4, 110.0, 0.2, 0.05)
    assert ln == pytest.approx(math.log(110.0))
    assert vs == pytest.approx(0.2 * r * r)  # 0.0018168
    assert vl == pytest.approx(0.95e-4 + 0.05 * r * r)


def test_calm_market_pins_ratio_and_multipliers():
    v = update_vol_cfg(0.0, 0.0, 0.0, VolatilityConfig(), 0.25)
    assert v.sigma_eff == pytest.approx(1.70103e-6, rel=1e-5)
    assert v.vol_ratio_clipped == 0.25
    assert (v.spread_mult, v.size_mult, v.band_mult) == (1.0, 1.0, 1.0)
    assert delta_limit_usd(100_000.0, v.vol_ratio_clipped) == 400_000.0


def test_high_vol_multipliers_at_clip():
    v = update_vol_cfg(1.0, 1.0, 0.0, VolatilityConfig(), 0.25)  # far above vol_ref_tick
    assert v.vol_ratio_clipped == 4.0
    assert v.spread_mult == 4.0 and v.size_mult == pytest.approx(1 / 7) and v.band_mult == 0.25
    assert delta_limit_usd(100_000.0, 4.0) == 25_000.0


def test_vol_ratio_two_gives_hand_multipliers():
    cfg = VolatilityConfig(fv_vol_alpha_short=0.0)  # keep sigma_short as given
    ref_tick = per_tick(0.028125, 0.25, 86400.0)
    v = update_vol_cfg(2.0 * ref_tick, 0.0, 0.0, cfg, 0.25)
    assert v.vol_ratio_clipped == pytest.approx(2.0)
    assert v.spread_mult == pytest.approx(2.0) and v.size_mult == pytest.approx(1 / 3) and v.band_mult == pytest.approx(0.5)


def test_hedge_band_decision_13_and_reference_flag():
    assert hedge_band_tao(5.625, 0.5, 2.0, False, 1.0) == pytest.approx(2.8125)
    assert hedge_band_tao(5.625, 1.0, 0.25, True, 1.0) == pytest.approx(7.03125)
    assert hedge_band_tao(5.625, 1.0, 1.0, True, 1.0) == pytest.approx(11.25)
