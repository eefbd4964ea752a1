import math

import pytest

from paraphina.strategy.risk import (
    BASIS_HARD_BREACH,
    DELTA_HARD_BREACH,
    HARD_LIMIT,
    LIQUIDATION_DISTANCE_BREACH,
    NORMAL,
    PNL_HARD_BREACH,
    WARNING,
    KillLatch,
    LiqExposure,
    PnlDay,
    daily_pnl,
    effective_regime,
    evaluate_risk,
    latch_kill,
    parse_day_boundary,
    pnl_day_index,
    roll_pnl_day,
)

L = 100_000.0


def risk(delta=0.0, basis=0.0, pnl=0.0, liq=(), comparison="spec"):
    return evaluate_risk(
        delta_usd=delta, basis_usd=basis, pnl_usd=pnl, liq=list(liq), delta_limit_usd=L, delta_warn_frac=0.7,
        basis_hard_usd=10_000.0, basis_warn_frac=0.7, daily_loss_limit=5000.0, pnl_warn_frac=0.5,
        liq_warn_sigma=5.0, liq_crit_sigma=2.0, comparison=comparison,
    )


def test_exactly_at_daily_loss_limit_kills_in_both_modes():
    for mode in ("spec", "reference"):
        r = risk(pnl=-5000.0, comparison=mode)
        assert r.regime == HARD_LIMIT and r.hard_breaches == (PNL_HARD_BREACH,)
    assert risk(pnl=-4999.99).regime == WARNING


@pytest.mark.parametrize(
    "kw, spec, ref",
    [
        (dict(delta=L), WARNING, HARD_LIMIT),
        (dict(delta=-0.7 * L), NORMAL, WARNING),
        (dict(basis=10_000.0), WARNING, HARD_LIMIT),
        (dict(basis=7000.0), NORMAL, WARNING),
        (dict(pnl=-2500.0), NORMAL, WARNING),
        (dict(liq=[LiqExposure(dist=5.0, reducible=True)]), NORMAL, WARNING),
        (dict(liq=[LiqExposure(dist=2.0, reducible=False)]), HARD_LIMIT, HARD_LIMIT),
        (dict(liq=[LiqExposure(dist=2.0, reducible=True)]), WARNING, HARD_LIMIT),
        (dict(delta=L + 1), HARD_LIMIT, HARD_LIMIT),
        (dict(basis=-10_000.5), HARD_LIMIT, HARD_LIMIT),
    ],
)
def test_boundaries_spec_vs_reference(kw, spec, ref):
    assert risk(**kw).regime == spec
    assert risk(comparison="reference", **kw).regime == ref


def test_kill_priority_and_latch():
    r = risk(delta=2 * L, basis=20_000.0, pnl=-6000.0, liq=[LiqExposure(dist=1.0, reducible=False)])
    assert r.hard_breaches == (PNL_HARD_BREACH, DELTA_HARD_BREACH, BASIS_HARD_BREACH, LIQUIDATION_DISTANCE_BREACH)
    k = latch_kill(KillLatch(), r)
    assert k == KillLatch(kill_switch=True, kill_reason=PNL_HARD_BREACH)
    k2 = latch_kill(k, risk(basis=20_000.0))
    assert k2.kill_reason == PNL_HARD_BREACH
    calm = risk()
    assert latch_kill(k2, calm).kill_switch and effective_regime(k2, calm) == HARD_LIMIT
    assert latch_kill(KillLatch(), risk(delta=2 * L, basis=20_000.0)).kill_reason == DELTA_HARD_BREACH


def test_infinite_distance_is_ignored():
    assert risk(liq=[LiqExposure(dist=math.inf, reducible=False)]).regime == NORMAL


def test_day_boundary_parse_and_index():
    assert parse_day_boundary("00:00") == 0
    assert parse_day_boundary("13:30") == 48_600_000
    assert parse_day_boundary(None) is None
    with pytest.raises(ValueError):
        parse_day_boundary("25:00")
    assert pnl_day_index(86_399_999, 0) == 0
    assert pnl_day_index(86_400_000, 0) == 1
    assert pnl_day_index(10**13, None) == 0


def test_day_roll_restarts_realised_and_remarks_positions():
    d = roll_pnl_day(PnlDay(), 1000, 0, realised_cum=0.0, unrealised_now=0.0)
    assert daily_pnl(d, -4000.0, -500.0) == (-4000.0, -500.0, -4500.0)
    d2 = roll_pnl_day(d, 86_400_000, 0, realised_cum=-4000.0, unrealised_now=-500.0)
    assert daily_pnl(d2, -4000.0, -500.0) == (0.0, 0.0, 0.0)
    assert daily_pnl(d2, -4100.0, -450.0) == (-100.0, 50.0, -50.0)
    assert roll_pnl_day(d2, 86_400_001, 0, -1.0, -1.0) is d2  # same day: unchanged


def test_cumulative_when_no_boundary():
    d = roll_pnl_day(PnlDay(), 0, None, 0.0, 0.0)
    assert roll_pnl_day(d, 10 * 86_400_000, None, -4000.0, 0.0) is d
