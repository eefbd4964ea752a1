"""Markout toxicity and venue health (STRATEGY.md 4.4, 4.13; decision 2).

Toxicity in [0, 1] says how much a venue's fills have been picked off. Each fill schedules a
markout ``markout_horizon_ms`` later (due when ``t_eval <= now``, inclusive); when it matures the
per-TAO markout against the venue mid pulls the markout toxicity toward
``min(1, max(0, -markout)/scale)``. Between markouts it decays toward 0 with a half-life in
event time, so a bad spell does not disable a venue for the rest of the run. The venue-vol
feature is recomputed every tick and never written back.

Health flags are recomputed too: a venue without a two-sided book, with a book older than its
stale limit, or silent past the catastrophic limit is Disabled *while* that holds; a venue whose
mid deviates from S by more than ``dev_limit`` on ``dev_breach_count`` consecutive ticks is
Disabled until ``dev_clean_count`` consecutive clean ticks. A venue that never had a two-sided
book is "not yet available". Effective status = the worst of toxicity status and health.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from paraphina.strategy.common import (
    C_DEPTH,
    C_HAS_MID,
    C_HAS_MID_MS,
    C_MID,
    C_MID_MS,
    C_VOL_SHORT,
    S_DISABLED,
    S_HEALTHY,
    S_NOT_YET_AVAILABLE,
    S_WARNING,
    STATUS_NAMES,
    VenueInput,
    clip,
    worst_status,
)
from paraphina.strategy.jit import kernel, libm_pow


class PendingMarkout(msgspec.Struct, frozen=True, kw_only=True):
    t_fill: int
    t_eval: int
    side: int
    size: float
    price: float
    fair_at_fill: float
    mid_at_fill: float


def schedule_markout(
    queue: list[PendingMarkout],
    *,
    t_fill: int,
    side: int,
    size: float,
    price: float,
    fair_at_fill: float,
    mid_at_fill: float,
    horizon_ms: int,
    cap: int,
) -> list[PendingMarkout]:
    """The queue with one more markout due at ``t_fill + horizon_ms``; oldest dropped past ``cap``."""
    item = PendingMarkout(
        t_fill=t_fill, t_eval=t_fill + horizon_ms, side=side, size=size, price=price,
        fair_at_fill=fair_at_fill, mid_at_fill=mid_at_fill,
    )
    out = [*queue, item]
    if len(out) > cap:
        out = out[len(out) - cap:]
    return out


def markout_per_tao(side: int, price: float, mid: float) -> float:
    """USD per TAO the fill has earned against ``mid``: ``mid - p`` for a buy, ``p - mid`` for a sell."""
    return mid - price if side > 0 else price - mid


def instant_toxicity(markout: float, scale: float) -> float:
    """0 for a favourable markout, ``min(1, -markout/scale)`` for an adverse one."""
    return 0.0 if markout >= 0.0 else min(1.0, -markout / scale)


@kernel
def decay_toxicity(tox: float, dt_ms: int, half_life_ms: int) -> float:
    """``tox * 0.5**(dt/half_life)``: exponential decay toward 0 in event time."""
    if dt_ms <= 0:
        return tox
    return tox * libm_pow(0.5, dt_ms / half_life_ms)


class MarkoutOutcome(msgspec.Struct, frozen=True, kw_only=True):
    queue: list[PendingMarkout]   # what is still pending
    toxicity: float
    markout_ewma: float
    evaluated: tuple[float, ...]  # per-TAO markouts applied this call, in FIFO order


def mature_markouts(
    queue: list[PendingMarkout],
    now_ms: int,
    mid: float | None,
    toxicity: float,
    markout_ewma: float,
    *,
    alpha: float,
    scale: float,
) -> MarkoutOutcome:
    """Apply every markout due at ``now_ms`` (``t_eval <= now``) in FIFO order.

    Without a valid venue mid the due markouts are dropped without touching toxicity.
    """
    due = [m for m in queue if m.t_eval <= now_ms]
    rest = [m for m in queue if m.t_eval > now_ms]
    evaluated: list[float] = []
    if mid is not None and math.isfinite(mid) and mid > 0.0:
        for m in due:
            mk = markout_per_tao(m.side, m.price, mid)
            toxicity = (1.0 - alpha) * toxicity + alpha * instant_toxicity(mk, scale)
            markout_ewma = (1.0 - alpha) * markout_ewma + alpha * mk
            evaluated.append(mk)
    return MarkoutOutcome(queue=rest, toxicity=clip(toxicity, 0.0, 1.0), markout_ewma=markout_ewma, evaluated=tuple(evaluated))


@kernel
def vol_toxicity(local_vol_short: float, sigma_eff: float, floor: float, vol_tox_scale: float) -> float:
    """Venue-vol feature: 0 while the venue's local vol is at most the fair-value vol, rising
    linearly to 1 at ``1 + vol_tox_scale`` times it (both floored at ``floor``)."""
    local = max(local_vol_short, floor)
    se = max(sigma_eff, floor)
    if local <= se:
        return 0.0
    return min(1.0, (local / se - 1.0) / vol_tox_scale)


@kernel
def toxicity_code(tox: float, med: float, high: float) -> int:
    """``tox >= high`` Disabled, ``tox >= med`` Warning, else Healthy (status codes)."""
    if tox >= high:
        return S_DISABLED
    if tox >= med:
        return S_WARNING
    return S_HEALTHY


def toxicity_status(tox: float, med: float, high: float) -> str:
    """``tox >= high`` Disabled, ``tox >= med`` Warning, else Healthy."""
    return STATUS_NAMES[toxicity_code(tox, med, high)]


class DeviationFlag(msgspec.Struct, frozen=True, kw_only=True):
    breaches: int = 0   # consecutive breaching ticks
    cleans: int = 0     # consecutive clean ticks while flagged
    flagged: bool = False


@kernel
def deviation_step(breaches: int, cleans: int, flagged: bool, mid: float, fair_value: float, limit: float,
                   breach_count: int, clean_count: int):
    """One tick of the price-deviation rule on the flag's fields (NaN mid or S: no information,
    counters unchanged); returns ``(breaches, cleans, flagged)``."""
    if math.isnan(mid) or math.isnan(fair_value) or fair_value <= 0.0:
        return breaches, cleans, flagged
    if abs(mid - fair_value) / fair_value > limit:
        n = breaches + 1
        return n, 0, flagged or n >= breach_count
    if flagged:
        c = cleans + 1
        if c >= clean_count:
            return 0, 0, False
        return 0, c, True
    return 0, 0, False


def update_deviation(
    state: DeviationFlag, mid: float | None, fair_value: float | None, *, limit: float, breach_count: int, clean_count: int
) -> DeviationFlag:
    """One tick of the price-deviation rule ``|m - S|/S > limit``.

    ``breach_count`` consecutive breaches raise the flag; while raised, ``clean_count``
    consecutive clean ticks clear it. A tick without mid or S leaves the counters as they are.
    """
    b, c, f = deviation_step(state.breaches, state.cleans, state.flagged, math.nan if mid is None else float(mid),
                             math.nan if fair_value is None else float(fair_value), limit, breach_count, clean_count)
    return DeviationFlag(breaches=b, cleans=c, flagged=f)


@kernel
def health_code(has_mid_ms: bool, mid_ms: int, has_mid: bool, depth_usd: float, now_ms: int, stale_ms: int,
                catastrophic_stale_ms: int, deviation_flagged: bool) -> int:
    """Status code from health flags alone (see :func:`health_status`)."""
    if not has_mid_ms:
        return S_NOT_YET_AVAILABLE
    age = now_ms - mid_ms
    if not has_mid or depth_usd <= 0.0 or age > stale_ms or age > catastrophic_stale_ms or deviation_flagged:
        return S_DISABLED
    return S_HEALTHY


def health_status(v: VenueInput, now_ms: int, *, stale_ms: int, catastrophic_stale_ms: int, deviation_flagged: bool) -> str:
    """Status from health flags alone, recomputed each tick (nothing sticky).

    ``stale_ms`` is the venue's effective limit (its override, else the global one).
    """
    return STATUS_NAMES[health_code(v.last_mid_update_ms is not None, v.last_mid_update_ms or 0, v.mid is not None,
                                    float(v.depth_usd), now_ms, stale_ms, catastrophic_stale_ms, deviation_flagged)]


def effective_status(tox_status: str, health: str) -> str:
    """Worst of the toxicity status and the health status."""
    return worst_status(tox_status, health)


@kernel
def health_codes(f: np.ndarray, ints: np.ndarray, stale_ms: np.ndarray, now_ms: int, catastrophic_stale_ms: int,
                 flagged: np.ndarray) -> np.ndarray:
    """:func:`health_code` of every venue (``stale_ms``: each venue's effective limit)."""
    n = f.shape[0]
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        out[i] = health_code(ints[i, C_HAS_MID_MS] != 0, ints[i, C_MID_MS], ints[i, C_HAS_MID] != 0, f[i, C_DEPTH],
                             now_ms, stale_ms[i], catastrophic_stale_ms, flagged[i])
    return out


@kernel
def venue_statuses(
    f: np.ndarray, ints: np.ndarray, markout_tox: np.ndarray, dev: np.ndarray, stale_ms: np.ndarray, now_ms: int,
    sigma_eff: float, fair_value: float, fv_available: bool, catastrophic_stale_ms: int, vol_floor: float,
    vol_tox_scale: float, dev_limit: float, breach_count: int, clean_count: int, tox_med: float, tox_high: float,
):
    """Step 4 of the main tick for every venue after its markouts matured: effective toxicity
    (the larger of markout and venue-vol toxicity), the deviation flag (``dev`` rows
    ``breaches, cleans, flagged``, updated in place when fair value is available), health and
    the effective status. Returns ``(toxicity, toxicity status codes, status codes)``."""
    n = f.shape[0]
    tox = np.zeros(n)
    tox_codes = np.zeros(n, dtype=np.int64)
    codes = np.zeros(n, dtype=np.int64)
    for i in range(n):
        t = max(markout_tox[i], vol_toxicity(f[i, C_VOL_SHORT], sigma_eff, vol_floor, vol_tox_scale))
        if fv_available:
            mid = f[i, C_MID] if ints[i, C_HAS_MID] != 0 else math.nan
            b, c, fl = deviation_step(dev[i, 0], dev[i, 1], dev[i, 2] != 0, mid, fair_value, dev_limit, breach_count,
                                      clean_count)
            dev[i, 0] = b
            dev[i, 1] = c
            dev[i, 2] = 1 if fl else 0
        health = health_code(ints[i, C_HAS_MID_MS] != 0, ints[i, C_MID_MS], ints[i, C_HAS_MID] != 0, f[i, C_DEPTH],
                             now_ms, stale_ms[i], catastrophic_stale_ms, dev[i, 2] != 0)
        tc = toxicity_code(t, tox_med, tox_high)
        tox[i] = t
        tox_codes[i] = tc
        codes[i] = max(tc, health)
    return tox, tox_codes, codes
