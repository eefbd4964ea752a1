import pytest

from paraphina.strategy.common import DISABLED, HEALTHY, NOT_YET_AVAILABLE, WARNING
from paraphina.strategy.fixtures import make_venue
from paraphina.strategy.toxicity import (
    DeviationFlag,
    decay_toxicity,
    effective_status,
    health_status,
    instant_toxicity,
    mature_markouts,
    schedule_markout,
    toxicity_status,
    update_deviation,
    vol_toxicity,
)


def _q(side=1, price=100.0, t_fill=1000, queue=None, cap=100):
    return schedule_markout(queue or [], t_fill=t_fill, side=side, size=1.0, price=price, fair_at_fill=100.0,
                            mid_at_fill=100.0, horizon_ms=5000, cap=cap)


def test_markout_due_exactly_at_horizon_inclusive():
    q = _q()
    before = mature_markouts(q, 5999, 98.0, 0.0, 0.0, alpha=0.1, scale=2.0)
    assert before.evaluated == () and len(before.queue) == 1
    at = mature_markouts(q, 6000, 98.0, 0.0, 0.0, alpha=0.1, scale=2.0)
    assert at.evaluated == (-2.0,) and at.queue == []
    assert at.toxicity == pytest.approx(0.1)  # inst = min(1, 2/2) = 1; 0.9*0 + 0.1*1
    assert at.markout_ewma == pytest.approx(-0.2)


def test_sell_markout_sign_and_favourable_only_lowers():
    q = _q(side=-1, price=100.0)
    r = mature_markouts(q, 6000, 99.0, 0.5, 0.0, alpha=0.1, scale=2.0)
    assert r.evaluated == (1.0,)
    assert r.toxicity == pytest.approx(0.45)


def test_markout_dropped_without_mid():
    r = mature_markouts(_q(), 6000, None, 0.3, 0.0, alpha=0.1, scale=2.0)
    assert r.queue == [] and r.toxicity == 0.3 and r.evaluated == ()


def test_queue_capped_oldest_dropped():
    q: list = []
    for t in range(101):
        q = _q(t_fill=t, queue=q)
    assert len(q) == 100 and q[0].t_fill == 1 and q[-1].t_fill == 100


def test_instant_toxicity_scale():
    assert instant_toxicity(0.5, 2.0) == 0.0
    assert instant_toxicity(-1.0, 2.0) == 0.5
    assert instant_toxicity(-5.0, 2.0) == 1.0


def test_decay_half_life():
    assert decay_toxicity(0.8, 60_000, 60_000) == pytest.approx(0.4)
    assert decay_toxicity(0.8, 120_000, 60_000) == pytest.approx(0.2)
    assert decay_toxicity(0.8, 0, 60_000) == 0.8


def test_status_thresholds():
    assert toxicity_status(0.59, 0.6, 0.9) == HEALTHY
    assert toxicity_status(0.6, 0.6, 0.9) == WARNING
    assert toxicity_status(0.9, 0.6, 0.9) == DISABLED


def test_vol_toxicity_hand_values():
    assert vol_toxicity(0.0015, 1e-6, 0.001, 0.5) == pytest.approx(1.0)
    assert vol_toxicity(0.00125, 1e-6, 0.001, 0.5) == pytest.approx(0.5)
    assert vol_toxicity(0.0005, 1e-6, 0.001, 0.5) == 0.0


def test_deviation_three_breaches_flag_three_cleans_clear():
    f = DeviationFlag()
    kw = dict(limit=0.02, breach_count=3, clean_count=3)
    for _ in range(2):
        f = update_deviation(f, 103.0, 100.0, **kw)
    assert not f.flagged
    f = update_deviation(f, 100.0, 100.0, **kw)  # a clean tick resets the count
    for _ in range(2):
        f = update_deviation(f, 103.0, 100.0, **kw)
    assert not f.flagged
    f = update_deviation(f, 103.0, 100.0, **kw)
    assert f.flagged
    for _ in range(2):
        f = update_deviation(f, 100.0, 100.0, **kw)
    assert f.flagged
    f = update_deviation(f, 100.0, 100.0, **kw)
    assert not f.flagged


def test_deviation_boundary_exactly_at_limit_is_clean():
    f = update_deviation(DeviationFlag(), 102.0, 100.0, limit=0.02, breach_count=1, clean_count=1)
    assert not f.flagged


def test_health_status_flags():
    kw = dict(stale_ms=1000, catastrophic_stale_ms=120_000, deviation_flagged=False)
    assert health_status(make_venue(last_mid_update_ms=None), 0, **kw) == NOT_YET_AVAILABLE
    assert health_status(make_venue(last_mid_update_ms=0), 1000, **kw) == HEALTHY
    assert health_status(make_venue(last_mid_update_ms=0), 1001, **kw) == DISABLED
    assert health_status(make_venue(mid=None, last_mid_update_ms=0), 0, **kw) == DISABLED
    assert health_status(make_venue(last_mid_update_ms=0), 0, stale_ms=1000, catastrophic_stale_ms=120_000,
                         deviation_flagged=True) == DISABLED


def test_effective_status_is_worst():
    assert effective_status(WARNING, HEALTHY) == WARNING
    assert effective_status(HEALTHY, DISABLED) == DISABLED
    assert effective_status(DISABLED, NOT_YET_AVAILABLE) == NOT_YET_AVAILABLE
