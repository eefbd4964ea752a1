"""Fair value: a robust one-dimensional Kalman filter on log price over venue mids.

STRATEGY.md 4.1 with decisions 2, 8 and 16. The state ``x = ln S`` is a random walk with variance
``q_base`` per second; each eligible venue contributes one observation ``ln m_v`` whose noise
grows with its relative spread and shrinks with its top-of-book depth. A venue is eligible only
if it is Healthy (Warning and Disabled are left out), its mid is no older than the global
``book.stale_ms``, mid/spread/depth are positive, and its mid is within ``max_mid_jump_pct`` of
the previous fair value (right after (re-)initialisation: of S0). With fewer than
``min_healthy_for_kf`` eligible venues the filter only does its time update, S stays where it
was and fair value is reported unavailable.

Re-seeding (decision 8): after a tick *without* an available fair value the filter starts over,
exactly as at the start (median of the eligible mids, ``P = p_init``), before gating, so a
market that moved while the filter was blind (a jump, an outage) is picked up at once instead of
being gated out for the rest of the run.

Observation noise (decision 16). The spec's ``r_a*(spread/mid)^2 + r_b/depth_usd`` was sized for
thin TAO books: at BTC depth it says every venue mid is a few percent noisy, and the filter lags
the market by seconds. The default ``relative`` model is scale-free:
``r_min + r_spread*(spread/mid)^2 + r_depth*(median depth / depth)``: a venue's mid is as noisy as
a fraction of its relative spread, and thinner-than-typical books count less, on any instrument.
``noise_model = "reference"`` restores the spec's formula.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from paraphina.strategy.common import HEALTHY, VenueInput, is_fresh


class KalmanState(msgspec.Struct, kw_only=True):
    """Filter memory across ticks (mutable, checkpointed with the strategy model)."""

    initialised: bool = False
    x: float = 0.0           # ln S
    p: float = 1.0           # variance of x
    last_update_ms: int = 0


class FairValueResult(msgspec.Struct, frozen=True, kw_only=True):
    fair_value: float | None      # S after this tick (None until the filter is initialised)
    available: bool               # a measurement update happened this tick
    reseeded: bool                # the filter (re-)initialised from the mids on this tick
    venues_used: tuple[int, ...]  # venue indices whose mids entered the update (venue order)
    log_return: float             # ln(S / previous S); 0 without a previous S
    x: float
    p: float
    initialised: bool


def observation_variance(spread: float, mid: float, depth_usd: float, r_a: float, r_b: float, r_min: float, r_max: float) -> float:
    """Noise of one venue's log-mid observation: ``r_min + r_a*(spread/mid)^2 + r_b/depth``.

    Clamped to ``[r_min, r_max]``; a non-finite value means "no information": ``r_max``.
    """
    r = r_min + r_a * (spread / mid) ** 2 + r_b / (depth_usd + 1e-9)
    if not math.isfinite(r):
        return r_max
    return min(max(r, r_min), r_max)


def relative_observation_variance(spread: float, mid: float, depth_usd: float, depth_ref: float, r_spread: float,
                                  r_depth: float, r_min: float, r_max: float) -> float:
    """Scale-free noise of one log-mid observation:
    ``r_min + r_spread*(spread/mid)^2 + r_depth*depth_ref/depth`` clamped to ``[r_min, r_max]``."""
    r = r_min + r_spread * (spread / mid) ** 2 + r_depth * depth_ref / depth_usd
    if not math.isfinite(r):
        return r_max
    return min(max(r, r_min), r_max)


def _median(values: list[float]) -> float:
    vals = sorted(values)
    n = len(vals)
    mid = n // 2
    return vals[mid] if n % 2 else 0.5 * (vals[mid - 1] + vals[mid])


def _usable_mid(v: VenueInput, status: str, now_ms: int, stale_ms: int) -> bool:
    return (
        status == HEALTHY
        and is_fresh(v, now_ms, stale_ms)
        and v.mid is not None
        and math.isfinite(v.mid)
        and v.mid > 0.0
        and math.isfinite(v.spread)
        and v.spread > 0.0
        and math.isfinite(v.depth_usd)
        and v.depth_usd > 0.0
    )


def initial_fair_value(venues: Sequence[VenueInput], statuses: Sequence[str], now_ms: int, stale_ms: int) -> float | None:
    """S0 = median mid over Healthy, fresh venues with positive spread and depth (spec 5.1).

    None when no venue qualifies: the filter stays uninitialised rather than inventing a price.
    """
    mids = [v.mid for v, st in zip(venues, statuses) if _usable_mid(v, st, now_ms, stale_ms)]
    return _median(mids) if mids else None  # type: ignore[arg-type]


def kalman_step(
    kf: KalmanState,
    prev_fair: float | None,
    venues: Sequence[VenueInput],
    statuses: Sequence[str],
    now_ms: int,
    *,
    q_base: float,
    r_a: float,
    r_b: float,
    r_min: float,
    r_max: float,
    p_init: float,
    stale_ms: int,
    min_healthy: int,
    max_mid_jump_pct: float,
    prev_available: bool = True,
    noise_model: str = "relative",
    r_spread: float = 0.25,
    r_depth: float = 1e-8,
) -> FairValueResult:
    """One main tick of the filter; returns the new filter values (``kf`` is not modified).

    ``statuses`` are the venues' effective statuses from the previous tick (the toxicity step
    runs after fair value in the canonical order). ``prev_available`` says whether the previous
    tick had an available fair value; if not, the filter re-seeds from the mids (decision 8).
    """
    x, p, initialised = kf.x, kf.p, kf.initialised
    dt_ms = max(now_ms - kf.last_update_ms, 1) if initialised else 1000
    gate_ref = prev_fair
    reseeded = False
    usable = [_usable_mid(v, st, now_ms, stale_ms) for v, st in zip(venues, statuses)]
    if not initialised or not prev_available:
        s0 = initial_fair_value(venues, statuses, now_ms, stale_ms)
        if s0 is None and not initialised and prev_fair is not None and prev_fair > 0.0:
            s0 = prev_fair
        if s0 is None and not initialised:
            return FairValueResult(
                fair_value=None, available=False, reseeded=False, venues_used=(), log_return=0.0, x=0.0, p=p_init,
                initialised=False,
            )
        if s0 is not None:
            # Start over from the market as it is now, and gate against S0 (decision 8).
            x, p, initialised, gate_ref, reseeded = math.log(s0), p_init, True, s0, True
    if not math.isfinite(p) or p <= 0.0:
        p = p_init
    p += q_base * dt_ms / 1000.0

    depth_ref = 0.0
    if noise_model == "relative":
        depths = [v.depth_usd for v, ok in zip(venues, usable) if ok]
        depth_ref = _median(depths) if depths else 0.0
    obs: list[tuple[int, float, float]] = []
    for v, ok in zip(venues, usable):
        if not ok:
            continue
        mid = v.mid
        assert mid is not None
        if gate_ref is not None and gate_ref > 0.0 and abs(mid - gate_ref) / gate_ref > max_mid_jump_pct:
            continue
        if noise_model == "relative":
            r = relative_observation_variance(v.spread, mid, v.depth_usd, depth_ref, r_spread, r_depth, r_min, r_max)
        else:
            r = observation_variance(v.spread, mid, v.depth_usd, r_a, r_b, r_min, r_max)
        obs.append((v.venue, math.log(mid), r))

    available = len(obs) >= min_healthy
    if available:
        for _, y, r in obs:
            k_gain = p / (p + r)
            x += k_gain * (y - x)
            p *= 1.0 - k_gain
    if not math.isfinite(p) or p <= 0.0:
        p = p_init
    s = math.exp(x)
    if not math.isfinite(s) or s <= 0.0:
        s = prev_fair if prev_fair is not None else s
        x = math.log(s) if s and s > 0.0 and math.isfinite(s) else x
    ret = math.log(s / prev_fair) if prev_fair is not None and prev_fair > 0.0 else 0.0
    return FairValueResult(
        fair_value=s,
        available=available,
        reseeded=reseeded,
        venues_used=tuple(i for i, _, _ in obs),
        log_return=ret,
        x=x,
        p=p,
        initialised=initialised,
    )
