"""Statistics against hand-computed values, and properties of VaR/CVaR."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paraphina.research import stats
from paraphina.research.stats import Budget, CandidateScore


# --- Wilson, normal bound (reference values from RESEARCH_CONTRACTS.md section 2) -------------

@pytest.mark.parametrize("k,n,expected", [(5, 100, 0.099161), (0, 50, 0.051333), (2, 100, 0.058648)])
def test_wilson_ucb_reference_values(k, n, expected):
    assert stats.wilson_ucb(k, n, 0.05) == pytest.approx(expected, abs=5e-7)


def test_wilson_ucb_zero_kills_closed_form():
    # k = 0: ucb = (z^2/n) / (1 + z^2/n) exactly.
    z2 = 1.6448536269514722 ** 2
    assert stats.wilson_ucb(0, 50) == pytest.approx((z2 / 50) / (1 + z2 / 50), rel=1e-12)


def test_wilson_interval_reference_and_edges():
    lo, hi = stats.wilson_interval(50, 100, 0.95)
    assert (lo, hi) == (pytest.approx(0.403832, abs=5e-7), pytest.approx(0.596168, abs=5e-7))
    assert stats.wilson_interval(0, 10)[0] == 0.0
    assert stats.wilson_interval(10, 10)[1] == 1.0
    lo, hi = stats.wilson_interval(3, 40)
    assert lo < 3 / 40 < hi


@pytest.mark.parametrize("k,n", [(0, 0), (-1, 5), (6, 5)])
def test_wilson_rejects_bad_counts(k, n):
    with pytest.raises(ValueError):
        stats.wilson_ucb(k, n)


def test_normal_lcb():
    assert stats.normal_lcb(100, 20, 50, 0.05) == pytest.approx(95.34765, abs=5e-6)
    assert stats.normal_lcb(7.0, 3.0, 1) == 7.0
    assert stats.normal_lcb(7.0, 0.0, 9) == 7.0
    assert math.isnan(stats.normal_lcb(math.nan, 1.0, 9))


# --- VaR / CVaR -------------------------------------------------------------------------------

def test_tail_risk_integer_tail():
    # Losses 1..100 at 95 %: VaR = 95 (F(95) = 0.95), CVaR = mean(96..100) = 98.
    t = stats.tail_risk(range(1, 101), 0.95)
    assert (t.var, t.cvar, t.tail_mass_runs) == (95.0, 98.0, 5.0)


def test_tail_risk_fractional_tail_weights_the_var_run():
    # n = 50: tail mass 2.5 runs = 50, 49 in full and half of 48.
    t = stats.tail_risk(range(1, 51), 0.95)
    assert t.var == 48.0
    assert t.cvar == pytest.approx((50 + 49 + 0.5 * 48) / 2.5)


def test_tail_risk_small_sample_is_the_worst_run():
    t = stats.tail_risk([3.0, -1.0, 2.0], 0.95)
    assert (t.var, t.cvar) == (3.0, 3.0)


def test_tail_risk_level_09_of_30_is_exactly_three_runs():
    # 30 * 0.1 is 3.0000000000000004 in binary; the tail must still be exactly 3 runs.
    t = stats.tail_risk(range(1, 31), 0.9)
    assert (t.var, t.cvar) == (27.0, 29.0)


def test_pnl_tail_risk_is_in_losses():
    pnl = [10.0, 5.0, -20.0, 3.0, 1.0, 8.0, 9.0, 4.0, 2.0, 7.0]
    t = stats.pnl_tail_risk(pnl, 0.9)
    # Tail mass 1 run: CVaR is the worst run (a 20 USD loss); VaR is the loss 90 % of runs do not
    # exceed, the second worst, here a 1 USD gain (-1 as a loss).
    assert (t.var, t.cvar) == (-1.0, 20.0)


def test_drawdown_tail_uses_the_largest_drawdowns():
    t = stats.drawdown_tail_risk([0.0, 1.0, 2.0, 3.0, 100.0], 0.8)
    assert t.cvar == 100.0  # reference quirk would have given the smallest


def test_drawdown_negative_rejected():
    with pytest.raises(ValueError):
        stats.drawdown_tail_risk([1.0, -0.5])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
       st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99]))
def test_tail_risk_properties(xs, level):
    t = stats.tail_risk(xs, level)
    assert min(xs) <= t.var <= t.cvar <= max(xs)
    # Rockafellar-Uryasev: CVaR = VaR + E[(L - VaR)+] / (1 - level)
    ru = t.var + math.fsum(max(x - t.var, 0.0) for x in xs) / len(xs) / (1 - level)
    assert t.cvar == pytest.approx(ru, rel=1e-9, abs=1e-6)
    # VaR is the inverse empirical CDF: at least `level` of the runs are <= VaR, fewer are < VaR
    n = len(xs)
    assert sum(x <= t.var for x in xs) >= level * n - 1e-9
    assert sum(x < t.var for x in xs) < level * n + 1e-9


def test_describe_and_quantile():
    m = stats.describe([1.0, 2.0, 3.0, 4.0])
    assert (m.mean, m.min, m.max) == (2.5, 1.0, 4.0)
    assert m.std == pytest.approx(math.sqrt(5 / 3))
    assert m.std_pop == pytest.approx(math.sqrt(1.25))
    assert stats.quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert stats.describe([5.0]).std == 0.0
    with pytest.raises(ValueError):
        stats.describe([])
    with pytest.raises(ValueError):
        stats.describe([1.0, math.inf])


def test_max_drawdown():
    assert stats.max_drawdown([0.0, 5.0, 2.0, 7.0, 1.0, 3.0]) == 6.0
    assert stats.max_drawdown([1.0, 2.0, 3.0]) == 0.0
    assert stats.max_drawdown([]) == 0.0
    assert stats.max_drawdown([-1.0, -4.0]) == 3.0  # from the first value, not from 0


# --- Pareto, budgets, winners -----------------------------------------------------------------

def S(key, pnl, kill, dd, lcb=None):
    return CandidateScore(key=key, mean_pnl=pnl, kill_ucb=kill, dd_cvar=dd, pnl_lcb=pnl if lcb is None else lcb)


def test_dominance():
    a = S("a", 10, 0.1, 100)
    assert stats.dominates(a, S("b", 9, 0.1, 100))
    assert stats.dominates(a, S("b", 10, 0.2, 100))
    assert stats.dominates(a, S("b", 10, 0.1, 101))
    assert not stats.dominates(a, S("b", 10, 0.1, 100))  # equal: neither dominates
    assert not stats.dominates(a, S("b", 11, 0.2, 50))  # trade-off


def test_frontier_ties_nan_and_order():
    pts = [S("z", 10, 0.1, 100), S("b", 10, 0.1, 100), S("c", 9, 0.1, 100), S("d", 12, 0.5, 300),
           S("e", math.nan, 0.0, 0.0)]
    front = stats.pareto_frontier(pts)
    assert [p.key for p in front] == ["b", "d", "z"]  # exact ties both kept, sorted by key
    assert [p.key for p in stats.pareto_frontier(list(reversed(pts)))] == ["b", "d", "z"]


B = Budget(tier="t", max_kill_ucb=0.1, max_dd_cvar=500.0, min_pnl_lcb_usd=20.0)


def test_budget_boundaries_are_inclusive():
    assert stats.passes_budget(S("a", 30, 0.1, 500.0, lcb=20.0), B)  # exactly at every bound
    assert not stats.passes_budget(S("a", 30, math.nextafter(0.1, 1), 500.0, lcb=20.0), B)
    assert not stats.passes_budget(S("a", 30, 0.1, math.nextafter(500.0, 1e9), lcb=20.0), B)
    assert not stats.passes_budget(S("a", 30, 0.1, 500.0, lcb=math.nextafter(20.0, 0)), B)
    assert not stats.passes_budget(S("a", 30, 0.1, 500.0, lcb=math.nan), B)


def test_winner_tie_breaks():
    pts = [S("c", 50, 0.05, 200, 30), S("a", 50, 0.05, 200, 30), S("b", 50, 0.01, 200, 30),
           S("d", 50, 0.09, 100, 30), S("x", 90, 0.5, 100, 30)]
    # x fails the budget; among equal mean PnL the lowest drawdown CVaR wins (d) ...
    assert stats.pick_winner(pts, B).key == "d"
    # ... then the lowest kill bound (b), then the candidate id (a before c).
    assert stats.pick_winner(pts[:3], B).key == "b"
    assert stats.pick_winner([pts[0], pts[1]], B).key == "a"
    assert stats.pick_winner([pts[4]], B) is None
