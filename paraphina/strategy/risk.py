"""Risk limits, regime and the latched kill switch (STRATEGY.md 4.5; decisions 1, 5, 15).

Evaluated on every main tick after fair value, volatility and inventory. Boundaries follow the
spec by default: a hard breach is ``|delta| > L``, ``|B| > B_hard``, ``PnL <= -DLL`` (exactly at
the daily loss limit kills) or a liquidation distance ``<= LIQ_CRIT`` on a venue where the
position cannot be reduced; Warning is strictly past the warn fractions. ``limit_comparison =
"reference"`` switches to the Rust code's ``>=`` comparisons and its liquidation Warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np

from paraphina.strategy.jit import kernel

NORMAL = "Normal"
WARNING = "Warning"
HARD_LIMIT = "HardLimit"

PNL_HARD_BREACH = "PnlHardBreach"
DELTA_HARD_BREACH = "DeltaHardBreach"
BASIS_HARD_BREACH = "BasisHardBreach"
LIQUIDATION_DISTANCE_BREACH = "LiquidationDistanceBreach"

# First match wins when several hard limits break on the same tick.
KILL_PRIORITY = (PNL_HARD_BREACH, DELTA_HARD_BREACH, BASIS_HARD_BREACH, LIQUIDATION_DISTANCE_BREACH)

DAY_MS = 86_400_000


class LiqExposure(msgspec.Struct, frozen=True, kw_only=True):
    """One venue's liquidation distance (sigmas) and whether its position can be reduced now."""

    dist: float
    reducible: bool


class RiskResult(msgspec.Struct, frozen=True, kw_only=True):
    regime: str                 # regime from the limits alone
    hard_breaches: tuple[str, ...]  # in kill priority order
    warnings: tuple[str, ...]
    delta_limit_usd: float
    basis_warn_usd: float
    loss_limit_usd: float       # negative threshold


# Bits of :func:`limit_breaches`'s masks, in kill priority order (hard) and check order (warnings).
_HARD_BY_BIT = KILL_PRIORITY
_WARN_BY_BIT = ("Pnl", "Delta", "Basis", "Liquidation")


def _names(mask: int, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for bit, name in enumerate(names) if mask >> bit & 1)


_HARD_NAMES = tuple(_names(m, _HARD_BY_BIT) for m in range(16))
_WARN_NAMES = tuple(_names(m, _WARN_BY_BIT) for m in range(16))


@kernel
def limit_breaches(
    delta_usd: float, basis_usd: float, pnl_usd: float, dists: np.ndarray, reducible: np.ndarray,
    delta_limit_usd: float, delta_warn_frac: float, basis_hard_usd: float, basis_warn_frac: float,
    daily_loss_limit: float, pnl_warn_frac: float, liq_warn_sigma: float, liq_crit_sigma: float, ref: bool,
) -> tuple[int, int, float, float]:
    """(hard-breach bits, warning bits, basis warn USD, loss limit) of :func:`evaluate_risk`;
    bit k of the masks is ``KILL_PRIORITY[k]`` / the k-th of Pnl, Delta, Basis, Liquidation."""
    loss_limit = -abs(daily_loss_limit)
    pnl_warn = loss_limit * pnl_warn_frac
    basis_warn = basis_warn_frac * basis_hard_usd
    ad, ab = abs(delta_usd), abs(basis_usd)
    hard = 0
    warn = 0
    if pnl_usd <= loss_limit:
        hard |= 1
    elif (pnl_usd <= pnl_warn) if ref else (pnl_usd < pnl_warn):
        warn |= 1
    if (ad >= delta_limit_usd) if ref else (ad > delta_limit_usd):
        hard |= 2
    elif (ad >= delta_warn_frac * delta_limit_usd) if ref else (ad > delta_warn_frac * delta_limit_usd):
        warn |= 2
    if (ab >= basis_hard_usd) if ref else (ab > basis_hard_usd):
        hard |= 4
    elif (ab >= basis_warn) if ref else (ab > basis_warn):
        warn |= 4
    min_dist = math.inf
    any_critical = False
    critical_stuck = False
    for i in range(dists.shape[0]):
        d = dists[i]
        if not (math.isfinite(d) and d >= 0.0):
            continue
        if d < min_dist:
            min_dist = d
        if d <= liq_crit_sigma:
            any_critical = True
            if not reducible[i]:
                critical_stuck = True
    if ref:
        if min_dist <= liq_crit_sigma:
            hard |= 8
        elif min_dist <= liq_warn_sigma:
            warn |= 8
    elif critical_stuck:
        hard |= 8
    elif any_critical:
        warn |= 8  # critical but reducible: hedges/exits may cut it
    return hard, warn, basis_warn, loss_limit


def evaluate_risk(
    *,
    delta_usd: float,
    basis_usd: float,
    pnl_usd: float,
    liq: Sequence[LiqExposure],
    delta_limit_usd: float,
    delta_warn_frac: float,
    basis_hard_usd: float,
    basis_warn_frac: float,
    daily_loss_limit: float,
    pnl_warn_frac: float,
    liq_warn_sigma: float,
    liq_crit_sigma: float,
    comparison: str = "spec",
) -> RiskResult:
    """Regime from the limits; the kill latch is applied by :func:`latch_kill`."""
    n = len(liq)
    return risk_result(
        delta_usd, basis_usd, pnl_usd, np.array([e.dist for e in liq], dtype=np.float64).reshape(n),
        np.array([e.reducible for e in liq], dtype=np.bool_).reshape(n), delta_limit_usd=delta_limit_usd,
        delta_warn_frac=delta_warn_frac, basis_hard_usd=basis_hard_usd, basis_warn_frac=basis_warn_frac,
        daily_loss_limit=daily_loss_limit, pnl_warn_frac=pnl_warn_frac, liq_warn_sigma=liq_warn_sigma,
        liq_crit_sigma=liq_crit_sigma, comparison=comparison,
    )


def risk_result(
    delta_usd: float, basis_usd: float, pnl_usd: float, dists: np.ndarray, reducible: np.ndarray, *,
    delta_limit_usd: float, delta_warn_frac: float, basis_hard_usd: float, basis_warn_frac: float,
    daily_loss_limit: float, pnl_warn_frac: float, liq_warn_sigma: float, liq_crit_sigma: float, comparison: str,
) -> RiskResult:
    """:func:`evaluate_risk` on the venues' liquidation distances and reducibility as arrays."""
    hard, warn, basis_warn, loss_limit = limit_breaches(
        float(delta_usd), float(basis_usd), float(pnl_usd), dists, reducible, float(delta_limit_usd),
        float(delta_warn_frac), float(basis_hard_usd), float(basis_warn_frac), float(daily_loss_limit),
        float(pnl_warn_frac), float(liq_warn_sigma), float(liq_crit_sigma), comparison == "reference",
    )
    return RiskResult(
        regime=HARD_LIMIT if hard else (WARNING if warn else NORMAL),
        hard_breaches=_HARD_NAMES[hard],
        warnings=_WARN_NAMES[warn],
        delta_limit_usd=delta_limit_usd,
        basis_warn_usd=basis_warn,
        loss_limit_usd=loss_limit,
    )


class KillLatch(msgspec.Struct, frozen=True, kw_only=True):
    kill_switch: bool = False
    kill_reason: str | None = None


def latch_kill(latch: KillLatch, result: RiskResult) -> KillLatch:
    """Kill on the first hard breach (priority PnL > Delta > Basis > Liq); never un-latch,
    and keep the first reason."""
    if latch.kill_switch or not result.hard_breaches:
        return latch
    return KillLatch(kill_switch=True, kill_reason=result.hard_breaches[0])


def effective_regime(latch: KillLatch, result: RiskResult) -> str:
    """HardLimit whenever killed, else the regime from the limits."""
    return HARD_LIMIT if latch.kill_switch else result.regime


# --- daily PnL window (decision 5) ---------------------------------------------------------


def parse_day_boundary(boundary: str | None) -> int | None:
    """``"HH:MM"`` (UTC) to milliseconds after midnight; None = no daily reset."""
    if boundary is None:
        return None
    try:
        hh, mm = boundary.split(":")
        h, m = int(hh), int(mm)
    except ValueError:
        raise ValueError(f"pnl_day_boundary_utc {boundary!r}: expected HH:MM") from None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"pnl_day_boundary_utc {boundary!r}: expected HH:MM")
    return (h * 60 + m) * 60_000


def pnl_day_index(now_ms: int, boundary_offset_ms: int | None) -> int:
    """Which PnL day the event time ``now_ms`` (epoch ms) falls in; 0 forever when cumulative."""
    if boundary_offset_ms is None:
        return 0
    return (now_ms - boundary_offset_ms) // DAY_MS


class PnlDay(msgspec.Struct, frozen=True, kw_only=True):
    """Baselines subtracted from run-cumulative PnL to get today's."""

    day: int | None = None
    realised_base: float = 0.0
    unrealised_base: float = 0.0


def roll_pnl_day(day: PnlDay, now_ms: int, boundary_offset_ms: int | None, realised_cum: float, unrealised_now: float) -> PnlDay:
    """Start a new PnL day when ``now_ms`` crosses the boundary: realised restarts at 0 and open
    positions are re-marked at the current fair value. The first call only opens day one
    (baselines 0: the run's PnL so far counts)."""
    idx = pnl_day_index(now_ms, boundary_offset_ms)
    if day.day is None:
        return PnlDay(day=idx, realised_base=0.0, unrealised_base=0.0)
    if idx == day.day:
        return day
    return PnlDay(day=idx, realised_base=realised_cum, unrealised_base=unrealised_now)


def daily_pnl(day: PnlDay, realised_cum: float, unrealised_now: float) -> tuple[float, float, float]:
    """(daily realised, daily unrealised, daily total)."""
    r = realised_cum - day.realised_base
    u = unrealised_now - day.unrealised_base
    return r, u, r + u
