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

import itertools
import math
from collections.abc import Sequence

import msgspec
import numpy as np

from paraphina.strategy.common import (
    C_DEPTH,
    C_HAS_MID_MS,
    C_MID,
    C_MID_MS,
    C_SPREAD,
    C_VENUE,
    S_HEALTHY,
    VenueInput,
    book_is_valid,
    mid_is_fresh,
    status_codes,
    venue_columns,
)
from paraphina.strategy.jit import kernel, libm_pow


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


@kernel
def observation_variance(spread: float, mid: float, depth_usd: float, r_a: float, r_b: float, r_min: float, r_max: float) -> float:
    """Noise of one venue's log-mid observation: ``r_min + r_a*(spread/mid)^2 + r_b/depth``.

    Clamped to ``[r_min, r_max]``; a non-finite value means "no information": ``r_max``.
    """
    r = r_min + r_a * libm_pow(spread / mid, 2.0) + r_b / (depth_usd + 1e-9)
    if not math.isfinite(r):
        return r_max
    return min(max(r, r_min), r_max)


@kernel
def relative_observation_variance(spread: float, mid: float, depth_usd: float, depth_ref: float, r_spread: float,
                                  r_depth: float, r_min: float, r_max: float) -> float:
    """Scale-free noise of one log-mid observation:
    ``r_min + r_spread*(spread/mid)^2 + r_depth*depth_ref/depth`` clamped to ``[r_min, r_max]``."""
    r = r_min + r_spread * libm_pow(spread / mid, 2.0) + r_depth * depth_ref / depth_usd
    if not math.isfinite(r):
        return r_max
    return min(max(r, r_min), r_max)


@kernel
def median_of(values: np.ndarray, mask: np.ndarray) -> float:
    """Median of ``values[mask]`` (mean of the middle two for an even count); NaN when empty."""
    vals = np.sort(values[mask])
    n = vals.shape[0]
    if n == 0:
        return math.nan
    mid = n // 2
    return vals[mid] if n % 2 else 0.5 * (vals[mid - 1] + vals[mid])


@kernel
def usable_mids(f: np.ndarray, ints: np.ndarray, status: np.ndarray, now_ms: int, stale_ms: int) -> np.ndarray:
    """Which venues may feed the filter: Healthy, fresh (global ``stale_ms``), finite positive
    mid, spread and depth."""
    n = f.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        mid, spread, depth = f[i, C_MID], f[i, C_SPREAD], f[i, C_DEPTH]
        out[i] = (
            status[i] == S_HEALTHY
            and mid_is_fresh(ints[i, C_HAS_MID_MS] != 0, ints[i, C_MID_MS], now_ms, stale_ms)
            and book_is_valid(mid, spread)
            and math.isfinite(depth) and depth > 0.0
        )
    return out


def initial_fair_value(venues: Sequence[VenueInput], statuses: Sequence[str], now_ms: int, stale_ms: int) -> float | None:
    """S0 = median mid over Healthy, fresh venues with positive spread and depth (spec 5.1).

    None when no venue qualifies: the filter stays uninitialised rather than inventing a price.
    """
    f, ints = venue_columns(venues)
    s0 = median_of(f[:, C_MID], usable_mids(f, ints, status_codes(statuses), now_ms, stale_ms))
    return None if math.isnan(s0) else s0


@kernel
def kalman_kernel(
    f: np.ndarray, ints: np.ndarray, status: np.ndarray, now_ms: int, x: float, p: float, initialised: bool,
    last_update_ms: int, prev_fair: float, prev_available: bool, q_base: float, r_a: float, r_b: float, r_min: float,
    r_max: float, p_init: float, stale_ms: int, min_healthy: int, max_mid_jump_pct: float, relative: bool,
    r_spread: float, r_depth: float,
):
    """The filter's tick on venue columns (:func:`kalman_step` documents it; ``prev_fair`` NaN
    means none). Returns ``(fair_value (NaN: none), available, reseeded, used mask, log_return,
    x, p, initialised)``."""
    n = f.shape[0]
    has_prev = not math.isnan(prev_fair)
    dt_ms = max(now_ms - last_update_ms, 1) if initialised else 1000
    gate_ref = prev_fair
    reseeded = False
    used = np.zeros(n, dtype=np.bool_)
    usable = usable_mids(f, ints, status, now_ms, stale_ms)
    if not initialised or not prev_available:
        s0 = median_of(f[:, C_MID], usable)
        if math.isnan(s0) and not initialised and has_prev and prev_fair > 0.0:
            s0 = prev_fair
        if math.isnan(s0) and not initialised:
            return math.nan, False, False, used, 0.0, 0.0, p_init, False
        if not math.isnan(s0):
            # Start over from the market as it is now, and gate against S0 (decision 8).
            x, p, initialised, gate_ref, reseeded = math.log(s0), p_init, True, s0, True
    if not math.isfinite(p) or p <= 0.0:
        p = p_init
    p += q_base * dt_ms / 1000.0

    depth_ref = 0.0
    if relative:
        depth_ref = median_of(f[:, C_DEPTH], usable)
        if math.isnan(depth_ref):
            depth_ref = 0.0
    ys = np.zeros(n)
    rs = np.zeros(n)
    n_obs = 0
    for i in range(n):
        if not usable[i]:
            continue
        mid = f[i, C_MID]
        if not math.isnan(gate_ref) and gate_ref > 0.0 and abs(mid - gate_ref) / gate_ref > max_mid_jump_pct:
            continue
        if relative:
            r = relative_observation_variance(f[i, C_SPREAD], mid, f[i, C_DEPTH], depth_ref, r_spread, r_depth, r_min, r_max)
        else:
            r = observation_variance(f[i, C_SPREAD], mid, f[i, C_DEPTH], r_a, r_b, r_min, r_max)
        used[i] = True
        ys[n_obs] = math.log(mid)
        rs[n_obs] = r
        n_obs += 1

    available = n_obs >= min_healthy
    if available:
        for j in range(n_obs):
            k_gain = p / (p + rs[j])
            x += k_gain * (ys[j] - x)
            p *= 1.0 - k_gain
    if not math.isfinite(p) or p <= 0.0:
        p = p_init
    s = math.exp(x)
    if not math.isfinite(s) or s <= 0.0:
        s = prev_fair if has_prev else s
        x = math.log(s) if s > 0.0 and math.isfinite(s) else x
    ret = math.log(s / prev_fair) if has_prev and prev_fair > 0.0 else 0.0
    return s, available, reseeded, used, ret, x, p, initialised


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
    f, ints = venue_columns(venues)
    return fair_value_result(kalman_kernel(
        f, ints, status_codes(statuses), now_ms, float(kf.x), float(kf.p), kf.initialised, kf.last_update_ms,
        math.nan if prev_fair is None else float(prev_fair), prev_available, q_base, r_a, r_b, r_min, r_max, p_init,
        stale_ms, min_healthy, max_mid_jump_pct, noise_model == "relative", r_spread, r_depth,
    ), ints)


def fair_value_result(out: tuple, ints: np.ndarray) -> FairValueResult:
    """:func:`kalman_kernel`'s tuple as a :class:`FairValueResult` (venue indices from ``ints``)."""
    s, available, reseeded, used, ret, x, p, initialised = out
    return FairValueResult(
        fair_value=None if math.isnan(s) else s,
        available=available,
        reseeded=reseeded,
        venues_used=venues_used(used, ints),
        log_return=ret,
        x=x,
        p=p,
        initialised=initialised,
    )


def venues_used(used: np.ndarray, ints: np.ndarray) -> tuple[int, ...]:
    """The venue indices (``ints``' venue column) where the kernel's ``used`` mask is set, in
    row order (Python lists: a boolean index into a 2-D array costs more than the tick's filter)."""
    return tuple(itertools.compress(ints[:, C_VENUE].tolist(), used.tolist()))
