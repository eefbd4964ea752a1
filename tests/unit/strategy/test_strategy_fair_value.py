import math

import pytest

from paraphina.strategy.common import DISABLED, HEALTHY, WARNING
from paraphina.strategy.fair_value import KalmanState, initial_fair_value, kalman_step, observation_variance
from paraphina.strategy.fixtures import make_venue

KW = dict(q_base=1e-6, r_a=1e-6, r_b=1e2, r_min=1e-8, r_max=1e-2, p_init=1.0, stale_ms=1000, min_healthy=2, max_mid_jump_pct=0.02)


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
