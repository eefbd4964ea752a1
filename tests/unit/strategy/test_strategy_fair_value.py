import math

import pytest

from paraphina.strategy.common import DISABLED, HEALTHY, WARNING
from paraphina.strategy.fair_value import (
    KalmanState,
    initial_fair_value,
    kalman_step,
    observation_variance,
    relative_observation_variance,
)
from paraphina.strategy.fixtures import make_venue

KW = dict(q_base=1e-6, r_a=1e-6, r_b=1e2, r_min=1e-8, r_max=1e-2, p_init=1.0, stale_ms=1000, min_healthy=2, max_mid_jump_pct=0.02,
          noise_model="reference")


def test_observation_variance_hand_values():
    # 1e-8 + 1e-6*(0.02/100)^2 + 100/1e6
    assert observation_variance(0.02, 100.0, 1e6, 1e-6, 1e2, 1e-8, 1e-2) == pytest.approx(1e-8 + 4e-14 + 1e-4)
    assert observation_variance(0.02, 100.0, 5000.0, 1e-6, 1e2, 1e-8, 1e-2) == 1e-2  # clamped at r_max
    assert observation_variance(0.0, 100.0, 1e30, 0.0, 0.0, 1e-8, 1e-2) == 1e-8      # clamped at r_min


def test_initial_median_odd_even_and_filters():
    vs = [make_venue(0, 100.0), make_venue(1, 102.0), make_venue(2, 104.0)]
    assert initial_fair_value(vs, [HEALTHY] * 3, 0, 1000) == 102.0
    assert initial_fair_value(vs[:2], [HEALTHY] * 2, 0, 1000) == 101.0
    assert initial_fair_value(vs, [HEALTHY, WARNING, DISABLED], 0, 1000) == 100.0
    assert initial_fair_value(vs, [HEALTHY] * 3, 5000, 1000) is None  # all stale


def test_uninitialised_without_venues_reports_nothing():
    r = kalman_step(KalmanState(), None, [], [], 0, **KW)
    assert r.fair_value is None and not r.available and not r.initialised


def test_exactly_min_healthy_updates_one_fewer_time_update_only():
    kf = KalmanState(initialised=True, x=math.log(100.0), p=1e-4, last_update_ms=0)
    two = [make_venue(0, 101.0, last_mid_update_ms=1000), make_venue(1, 101.0, last_mid_update_ms=1000)]
    r2 = kalman_step(kf, 100.0, two, [HEALTHY] * 2, 1000, **KW)
    assert r2.available and r2.venues_used == (0, 1) and r2.fair_value > 100.0
    r1 = kalman_step(kf, 100.0, two[:1], [HEALTHY], 1000, **KW)
    assert not r1.available and r1.fair_value == pytest.approx(100.0)
    assert r1.p == pytest.approx(1e-4 + 1e-6)  # time update only: P += q_base * 1 s
    assert r1.venues_used == (0,)


def test_sequential_update_hand_computed():
    kf = KalmanState(initialised=True, x=math.log(100.0), p=1e-4, last_update_ms=0)
    vs = [make_venue(0, 101.0, last_mid_update_ms=1000, depth_usd=5000.0), make_venue(1, 101.0, last_mid_update_ms=1000, depth_usd=5000.0)]
    r = kalman_step(kf, 100.0, vs, [HEALTHY] * 2, 1000, **KW)
    x, p, y = math.log(100.0), 1e-4 + 1e-6, math.log(101.0)
    for _ in range(2):  # both observations have r = r_max = 0.01 (depth 5000 USD)
        k = p / (p + 0.01)
        x += k * (y - x)
        p *= 1 - k
    assert r.x == pytest.approx(x) and r.p == pytest.approx(p)
    assert r.log_return == pytest.approx(x - math.log(100.0))


def test_stale_warning_disabled_and_outlier_venues_are_excluded():
    kf = KalmanState(initialised=True, x=math.log(100.0), p=1e-4, last_update_ms=0)
    vs = [
        make_venue(0, 100.1, last_mid_update_ms=1000),
        make_venue(1, 100.1, last_mid_update_ms=1000),
        make_venue(2, 100.1, last_mid_update_ms=0),       # 1000 ms old at now=1001: stale
        make_venue(3, 100.1, last_mid_update_ms=1000),    # Warning
        make_venue(4, 100.1, last_mid_update_ms=1000),    # Disabled
        make_venue(5, 102.5, last_mid_update_ms=1000),    # 2.5 % from S: outlier
    ]
    r = kalman_step(kf, 100.0, vs, [HEALTHY, HEALTHY, HEALTHY, WARNING, DISABLED, HEALTHY], 1001, **KW)
    assert r.venues_used == (0, 1)


def test_stale_boundary_is_inclusive():
    kf = KalmanState(initialised=True, x=math.log(100.0), p=1e-4, last_update_ms=0)
    vs = [make_venue(0, 100.0, last_mid_update_ms=0), make_venue(1, 100.0, last_mid_update_ms=0)]
    assert kalman_step(kf, 100.0, vs, [HEALTHY] * 2, 1000, **KW).available
    assert not kalman_step(kf, 100.0, vs, [HEALTHY] * 2, 1001, **KW).available


def test_outlier_gate_applies_right_after_initialisation():
    vs = [make_venue(0, 100.0), make_venue(1, 100.5), make_venue(2, 110.0)]
    r = kalman_step(KalmanState(), None, vs, [HEALTHY] * 3, 0, **KW)
    assert r.initialised and r.available
    assert r.venues_used == (0, 1)  # 110 is 9.5 % from S0 = 100.5
    assert r.log_return == 0.0     # first tick: no previous S


def test_relative_observation_variance_hand_values():
    # 1e-8 + 0.25*(6/60000)^2 + 1e-8*(2e5/1e5): a BTC venue 1 bp wide with half the median depth
    r = relative_observation_variance(6.0, 60_000.0, 1e5, 2e5, 0.25, 1e-8, 1e-8, 1e-2)
    assert r == pytest.approx(1e-8 + 0.25 * 1e-8 + 2e-8)
    # scale-free: the same venue at 1/1000 of the price and depth has the same noise
    assert relative_observation_variance(0.006, 60.0, 100.0, 200.0, 0.25, 1e-8, 1e-8, 1e-2) == pytest.approx(r)


def test_relative_noise_tracks_btc_mids_where_the_reference_lags():
    """At BTC depth the spec's r_b/depth says every mid is ~3 % noisy: the filter barely moves
    towards a 10 USD move of every venue; the relative model follows it."""
    kf = KalmanState(initialised=True, x=math.log(60_000.0), p=2.5e-7, last_update_ms=0)
    vs = [make_venue(i, 60_010.0, spread=6.0, depth_usd=120_000.0, last_mid_update_ms=250) for i in range(5)]
    ref = kalman_step(kf, 60_000.0, vs, [HEALTHY] * 5, 250, **KW)
    rel = kalman_step(kf, 60_000.0, vs, [HEALTHY] * 5, 250, **{**KW, "noise_model": "relative"})
    assert ref.fair_value - 60_000.0 < 0.05         # 0.3 % of the move
    assert rel.fair_value == pytest.approx(60_010.0, abs=0.5)


def test_reseed_after_a_tick_without_fair_value():
    """Decision 8: after a blind tick the filter starts over from the median of the eligible mids
    (P = p_init) and gates against that, so a market 3 % away is picked up at once."""
    kf = KalmanState(initialised=True, x=math.log(100.0), p=1e-6, last_update_ms=0)
    moved = [make_venue(i, m, last_mid_update_ms=1000) for i, m in enumerate((103.0, 103.2, 102.9))]
    gated = kalman_step(kf, 100.0, moved, [HEALTHY] * 3, 1000, **KW)                 # S was available
    assert not gated.available and gated.venues_used == () and not gated.reseeded
    r = kalman_step(kf, 100.0, moved, [HEALTHY] * 3, 1000, prev_available=False, **KW)
    assert r.reseeded and r.available and r.venues_used == (0, 1, 2)
    # hand-computed: x0 = ln(103.0) (median), P = 1.0 + 1e-6*1 s, then three updates, each with
    # r = 1e-8 + 1e-6*(0.02/m)^2 + 100/20000 (spread 0.02, depth 20k USD)
    x, p = math.log(103.0), 1.0 + 1e-6
    for m in (103.0, 103.2, 102.9):
        k = p / (p + 1e-8 + 1e-6 * (0.02 / m) ** 2 + 100 / 20_000)
        x, p = x + k * (math.log(m) - x), p * (1 - k)
    assert r.x == pytest.approx(x) and r.p == pytest.approx(p)
    assert r.log_return == pytest.approx(x - math.log(100.0))


def test_reseed_waits_for_eligible_mids():
    kf = KalmanState(initialised=True, x=math.log(100.0), p=1e-6, last_update_ms=0)
    r = kalman_step(kf, 100.0, [], [], 1000, prev_available=False, **KW)
    assert not r.reseeded and not r.available and r.fair_value == pytest.approx(100.0)
