"""Statistics of Monte Carlo results: moments, tail risk, drawdowns, Wilson bounds, Pareto, budgets.

Conventions (docs/research.md has the long form):

* **Losses.** VaR and CVaR are stated as *losses*: ``loss = -pnl`` for PnL, ``loss = max_drawdown``
  for drawdowns (a drawdown is already a loss). A positive VaR means money lost. Level ``a``
  (default 0.95) is the confidence level; the tail is the worst ``1 - a`` of the probability mass.
* **VaR** is the empirical loss quantile ``inf{l : F(l) >= a}`` (the inverse of the empirical CDF,
  no interpolation between runs): the smallest loss that at least a fraction ``a`` of runs do not
  exceed.
* **CVaR** (expected shortfall, Acerbi-Tasche) is the mean of the worst tail of mass exactly
  ``1 - a``: the ``floor(n(1-a))`` worst runs in full plus the VaR run with the fractional weight
  that makes the tail mass exact. Equivalently ``VaR + E[(L - VaR)+] / (1 - a)`` (Rockafellar-
  Uryasev). It is coherent, never below VaR, and for ``n(1-a) < 1`` it is the worst run.
* **Wilson** intervals use the exact normal quantile from :class:`statistics.NormalDist`.
* **Pareto**: maximise mean PnL, minimise the one-sided Wilson upper bound of the kill probability
  and the drawdown CVaR. Points with a NaN objective are excluded (fail closed).

Every function is pure; sums use :func:`math.fsum` so results do not depend on summation order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from statistics import NormalDist

import msgspec
import numpy as np

DEFAULT_LEVEL = 0.95
DEFAULT_ALPHA = 0.05


class Moments(msgspec.Struct, frozen=True, kw_only=True):
    """Location and spread of a sample. ``std`` is the sample (n-1) deviation, ``std_pop`` the
    population (n) one; both are 0.0 for a single value."""

    n: int
    mean: float
    std: float
    std_pop: float
    min: float
    max: float


class TailRisk(msgspec.Struct, frozen=True, kw_only=True):
    """VaR and CVaR of a loss sample at confidence ``level`` (losses: larger is worse)."""

    level: float
    var: float
    cvar: float
    tail_mass_runs: float  # n * (1 - level): how many runs the tail is worth


def _finite_array(values: Iterable[float], what: str) -> np.ndarray:
    x = np.asarray(list(values), dtype=float)
    if x.ndim != 1:
        raise ValueError(f"{what}: expected a flat sequence of numbers")
    if x.size == 0:
        raise ValueError(f"{what}: no values")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what}: non-finite value")
    return x


def describe(values: Iterable[float]) -> Moments:
    x = _finite_array(values, "describe")
    n = int(x.size)
    mean = math.fsum(x.tolist()) / n
    ss = math.fsum(((v - mean) ** 2 for v in x.tolist()))
    return Moments(
        n=n,
        mean=mean,
        std=math.sqrt(ss / (n - 1)) if n > 1 else 0.0,
        std_pop=math.sqrt(ss / n),
        min=float(x.min()),
        max=float(x.max()),
    )


def quantile(values: Iterable[float], p: float) -> float:
    """Descriptive quantile, linear interpolation at ``p (n-1)`` (Hyndman-Fan type 7, numpy's
    default). Used for the p05/p50/p95 columns of summaries, not for VaR."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"quantile: p={p} outside [0, 1]")
    x = np.sort(_finite_array(values, "quantile"))
    h = p * (x.size - 1)
    lo = math.floor(h)
    hi = min(lo + 1, x.size - 1)
    return float(x[lo] + (h - lo) * (x[hi] - x[lo]))


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level} must be in (0, 1)")


def tail_risk(losses: Iterable[float], level: float = DEFAULT_LEVEL) -> TailRisk:
    """VaR and CVaR of ``losses`` (larger is worse) at ``level``; see the module docstring."""
    _check_level(level)
    worst_first = np.sort(_finite_array(losses, "tail_risk"))[::-1].tolist()
    n = len(worst_first)
    # n(1-a) can land a hair off an integer in binary (e.g. 0.1 * 30); rounding to 1e-9 runs keeps
    # "the worst 5 of 100" exactly 5 and not 5.000000000000001.
    m = round(n * (1.0 - level), 9)
    k = min(math.floor(m), n - 1)
    var = worst_first[k]
    frac = m - k
    cvar = (math.fsum(worst_first[:k]) + frac * var) / m
    # Guard the last bit: a mean of values in [var, worst] lies in [var, worst].
    return TailRisk(level=level, var=var, cvar=min(max(cvar, var), worst_first[0]), tail_mass_runs=m)


def pnl_tail_risk(pnl: Iterable[float], level: float = DEFAULT_LEVEL) -> TailRisk:
    """Tail risk of PnL, as losses (``-pnl``)."""
    return tail_risk((-v for v in pnl), level)


def max_drawdown(path: Sequence[float]) -> float:
    """Largest fall from a running peak of a PnL path (0.0 for an empty or rising path).

    The path is taken as given: prepend the starting PnL (usually 0.0) if a loss on the very
    first step should count.
    """
    if len(path) == 0:
        return 0.0
    x = np.asarray(path, dtype=float)
    if not np.all(np.isfinite(x)):
        raise ValueError("max_drawdown: non-finite value in the path")
    return float(np.max(np.maximum.accumulate(x) - x))


def drawdown_tail_risk(max_drawdowns: Iterable[float], level: float = DEFAULT_LEVEL) -> TailRisk:
    """Tail risk of per-run max drawdowns: the *largest* drawdowns are the tail."""
    dd = list(max_drawdowns)
    if any(v < 0 for v in dd):
        raise ValueError("drawdown_tail_risk: a max drawdown is negative")
    return tail_risk(dd, level)


def _check_counts(k: int, n: int) -> None:
    if n <= 0:
        raise ValueError(f"Wilson bound needs n > 0 (got n={n})")
    if not 0 <= k <= n:
        raise ValueError(f"Wilson bound needs 0 <= k <= n (got k={k}, n={n})")


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def wilson_interval(k: int, n: int, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """Two-sided Wilson score interval for a proportion k/n at confidence ``level``."""
    _check_counts(k, n)
    _check_level(level)
    return _wilson(k, n, NormalDist().inv_cdf(1.0 - (1.0 - level) / 2.0))


def wilson_ucb(k: int, n: int, alpha: float = DEFAULT_ALPHA) -> float:
    """One-sided Wilson upper confidence bound at level ``1 - alpha`` (z = Phi^-1(1 - alpha))."""
    _check_counts(k, n)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha={alpha} must be in (0, 1)")
    return _wilson(k, n, NormalDist().inv_cdf(1.0 - alpha))[1]


def runs_for_kill_bound(bound: float, alpha: float = DEFAULT_ALPHA) -> int | None:
    """Fewest runs whose one-sided Wilson upper bound with *zero* kills is <= ``bound``.

    With no kill the bound is ``z^2 / (n + z^2)``, so ``n >= z^2 (1 - bound) / bound``; fewer runs
    can never pass a kill budget of ``bound`` (52 at bound 0.05, alpha 0.05). ``None`` for a bound
    <= 0 (no run count reaches it); 1 for a bound >= 1."""
    if bound >= 1.0:
        return 1
    if bound <= 0.0:
        return None
    z = NormalDist().inv_cdf(1.0 - alpha)
    n = max(1, math.ceil(z * z * (1.0 - bound) / bound))
    while n > 1 and wilson_ucb(0, n - 1, alpha) <= bound:  # guard the float edge both ways
        n -= 1
    while wilson_ucb(0, n, alpha) > bound:
        n += 1
    return n


def normal_lcb(mean: float, sd: float, n: int, alpha: float = DEFAULT_ALPHA) -> float:
    """One-sided normal lower confidence bound of a mean: ``mean - z sd / sqrt(n)``.

    ``sd`` should be the sample standard deviation. n == 1 or sd == 0 gives the mean; NaN in, NaN out.
    """
    if n < 1:
        raise ValueError(f"normal_lcb needs n >= 1 (got {n})")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha={alpha} must be in (0, 1)")
    if math.isnan(mean) or math.isnan(sd):
        return math.nan
    if n == 1 or sd == 0:
        return mean
    return mean - NormalDist().inv_cdf(1.0 - alpha) * sd / math.sqrt(n)


# --- Pareto frontier, budgets, winners ------------------------------------------------------


class CandidateScore(msgspec.Struct, frozen=True, kw_only=True):
    """What the promotion pipeline compares: objectives plus the PnL lower bound for budgets."""

    key: str  # candidate id: the final tie-break everywhere
    mean_pnl: float
    kill_ucb: float
    dd_cvar: float
    pnl_lcb: float


def is_valid(s: CandidateScore) -> bool:
    """Fail closed: any NaN objective or bound makes a candidate ineligible everywhere."""
    return not any(math.isnan(v) for v in (s.mean_pnl, s.kill_ucb, s.dd_cvar, s.pnl_lcb))


def dominates(a: CandidateScore, b: CandidateScore) -> bool:
    """``a`` is at least as good as ``b`` on every objective and strictly better on one."""
    weakly = a.mean_pnl >= b.mean_pnl and a.kill_ucb <= b.kill_ucb and a.dd_cvar <= b.dd_cvar
    strictly = a.mean_pnl > b.mean_pnl or a.kill_ucb < b.kill_ucb or a.dd_cvar < b.dd_cvar
    return weakly and strictly


def pareto_frontier(scores: Iterable[CandidateScore]) -> list[CandidateScore]:
    """Non-dominated valid candidates, sorted by ``key``.

    Ties: candidates with identical objectives do not dominate each other, so all of them stay on
    the frontier; the ``key`` order makes the list deterministic whatever the input order.
    """
    valid = sorted((s for s in scores if is_valid(s)), key=lambda s: s.key)
    return [s for s in valid if not any(dominates(o, s) for o in valid if o is not s)]


class Budget(msgspec.Struct, frozen=True, kw_only=True):
    """Risk budget of one tier. Every bound is inclusive."""

    tier: str
    max_kill_ucb: float
    max_dd_cvar: float
    min_pnl_lcb_usd: float


def passes_budget(s: CandidateScore, b: Budget) -> bool:
    """kill_ucb <= max_kill_ucb and dd_cvar <= max_dd_cvar and pnl_lcb >= min_pnl_lcb_usd (all
    inclusive: a candidate exactly at a bound passes); NaN fails."""
    return (is_valid(s) and s.kill_ucb <= b.max_kill_ucb and s.dd_cvar <= b.max_dd_cvar
            and s.pnl_lcb >= b.min_pnl_lcb_usd)


def winner_sort_key(s: CandidateScore) -> tuple[float, float, float, str]:
    """Best first: higher mean PnL, then lower drawdown CVaR, then lower kill UCB, then key."""
    return (-s.mean_pnl, s.dd_cvar, s.kill_ucb, s.key)


def pick_winner(scores: Iterable[CandidateScore], budget: Budget) -> CandidateScore | None:
    """The best candidate that passes ``budget`` (by :func:`winner_sort_key`), or None."""
    passing = [s for s in scores if passes_budget(s, budget)]
    return min(passing, key=winner_sort_key) if passing else None
