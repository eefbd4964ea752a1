"""Volatility of fair value, the control scalars derived from it, and the unit conversions.

One unit (decision 3): ``sigma_tick`` is the standard deviation of log fair-value returns per
main tick. Daily-calibrated constants (``vol_ref``, ``sigma_min``) are scaled to that unit, and
every consumer that needs another unit converts through a named function here:
:func:`sigma_px` (USD per sqrt second) and :func:`dist_liq_sigma` (liquidation cushion in
sigmas over a horizon).
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from paraphina.strategy.common import C_HAS_MID, C_MID, C_POSITION, C_PRICE_LIQ, clip
from paraphina.strategy.jit import kernel


@kernel
def per_tick(value: float, tick_sec: float, cadence_sec: float) -> float:
    """A vol calibrated over ``cadence_sec`` expressed per main tick (random-walk sqrt scaling)."""
    return value * math.sqrt(tick_sec / cadence_sec)


@kernel
def ewma_vol(prev_vol: float, ret: float, alpha: float) -> float:
    """One EWMA step of a volatility: ``sqrt((1-a)*prev^2 + a*ret^2)``."""
    return math.sqrt((1.0 - alpha) * prev_vol * prev_vol + alpha * ret * ret)


def local_vol_update(
    prev_ln_mid: float | None, var_s: float, var_l: float, mid: float, alpha_s: float, alpha_l: float
) -> tuple[float, float, float]:
    """Per-venue local vol after one book update that produced ``mid``.

    Returns ``(ln_mid, var_s, var_l)``: the new log mid and the short/long EWMA variances of
    per-update log-mid returns (take ``math.sqrt`` for the vols). The first mid only seeds
    ``ln_mid``; the variances are unchanged.
    """
    ln_mid = math.log(max(mid, 1e-6))
    if prev_ln_mid is None:
        return ln_mid, var_s, var_l
    r = ln_mid - prev_ln_mid
    return ln_mid, (1.0 - alpha_s) * var_s + alpha_s * r * r, (1.0 - alpha_l) * var_l + alpha_l * r * r


@kernel
def sigma_px(sigma_tick: float, fair_value: float, tick_sec: float) -> float:
    """Price volatility in USD per sqrt(second): ``sigma_tick * S / sqrt(tick_sec)``."""
    return sigma_tick * fair_value / math.sqrt(tick_sec)


def dist_liq_sigma(
    mid: float, price_liq: float | None, sigma_tick: float, fair_value: float, horizon_sec: float, tick_sec: float
) -> float:
    """Distance to liquidation in sigmas of the price move over ``horizon_sec``.

    ``|m - p_liq| / (sigma_tick * sqrt(H / tick_sec) * S)``. An unknown (None) or non-positive
    liquidation price, or a degenerate sigma, means no liquidation constraint: ``inf``.
    """
    return liq_distance(mid, math.nan if price_liq is None else price_liq, sigma_tick, fair_value, horizon_sec, tick_sec)


@kernel
def liq_distance(mid: float, price_liq: float, sigma_tick: float, fair_value: float, horizon_sec: float,
                 tick_sec: float) -> float:
    """:func:`dist_liq_sigma` with NaN for an unknown liquidation price."""
    if price_liq <= 0.0 or not math.isfinite(price_liq):
        return math.inf
    denom = sigma_tick * math.sqrt(horizon_sec / tick_sec) * fair_value
    if not (denom > 0.0) or not math.isfinite(denom):
        return math.inf
    return abs(mid - price_liq) / denom


@kernel
def liq_distances(f: np.ndarray, ints: np.ndarray, fair_value: float, sigma_tick: float, horizon_sec: float,
                  tick_sec: float) -> np.ndarray:
    """Every venue's :func:`liq_distance` at its mid (S without a mid); ``inf`` without a fair
    value (NaN) or without a position."""
    n = f.shape[0]
    out = np.full(n, math.inf)
    if math.isnan(fair_value):
        return out
    for i in range(n):
        if abs(f[i, C_POSITION]) > 1e-9:
            mid = f[i, C_MID] if ints[i, C_HAS_MID] != 0 else fair_value
            out[i] = liq_distance(mid, f[i, C_PRICE_LIQ], sigma_tick, fair_value, horizon_sec, tick_sec)
    return out


@kernel
def delta_limit_usd(base: float, vol_ratio_clipped: float) -> float:
    """Hard dollar-delta limit, shrinking as vol rises: ``base / vol_ratio_clipped``."""
    return base / max(vol_ratio_clipped, 1e-6)


def hedge_band_tao(
    band_base: float, band_mult: float, vol_ratio_clipped: float, grows_with_vol: bool, band_vol_mult: float
) -> float:
    """Hedge dead band in TAO.

    Default (decision 13): ``band_base * band_mult``, narrowing as vol rises so the book
    hedges sooner in fast markets. ``grows_with_vol`` reproduces the reference code,
    ``band_base * (1 + band_vol_mult * vol_ratio_clipped)``.
    """
    if grows_with_vol:
        return band_base * (1.0 + band_vol_mult * vol_ratio_clipped)
    return band_base * band_mult


class VolScalars(msgspec.Struct, frozen=True, kw_only=True):
    sigma_short: float        # EWMA vol of log fair-value returns per tick (short)
    sigma_long: float         # same, long
    sigma_eff: float          # max(sigma_short, sigma_min_tick)
    vol_ratio: float
    vol_ratio_clipped: float
    spread_mult: float
    size_mult: float
    band_mult: float


def update_vol(
    sigma_short: float,
    sigma_long: float,
    ret: float,
    *,
    tick_sec: float,
    alpha_short: float,
    alpha_long: float,
    sigma_min: float,
    sigma_min_cadence_sec: float,
    vol_ref: float,
    vol_ref_cadence_sec: float,
    vol_ratio_min: float,
    vol_ratio_max: float,
    c_spread: float,
    c_size: float,
    c_band: float,
) -> VolScalars:
    """One main tick of fair-value vol and the multipliers (STRATEGY.md 4.2).

    ``bump = max(0, vr_clipped - 1)``; ``spread_mult = 1 + c_s*bump``;
    ``size_mult = 1/(1 + c_q*bump)``; ``band_mult = 1/(1 + c_band*bump)``: all 1 in calm markets.
    """
    return vol_scalars(vol_step(float(sigma_short), float(sigma_long), float(ret), tick_sec, alpha_short, alpha_long,
                                sigma_min, sigma_min_cadence_sec, vol_ref, vol_ref_cadence_sec, vol_ratio_min,
                                vol_ratio_max, c_spread, c_size, c_band))


def vol_scalars(t: tuple) -> VolScalars:
    """:func:`vol_step`'s tuple as :class:`VolScalars`."""
    s, lg, sigma_eff, vr, vrc, spread_mult, size_mult, band_mult = t
    return VolScalars(sigma_short=s, sigma_long=lg, sigma_eff=sigma_eff, vol_ratio=vr, vol_ratio_clipped=vrc,
                      spread_mult=spread_mult, size_mult=size_mult, band_mult=band_mult)


@kernel
def vol_step(sigma_short: float, sigma_long: float, ret: float, tick_sec: float, alpha_short: float, alpha_long: float,
             sigma_min: float, sigma_min_cadence_sec: float, vol_ref: float, vol_ref_cadence_sec: float,
             vol_ratio_min: float, vol_ratio_max: float, c_spread: float, c_size: float, c_band: float):
    """:func:`update_vol` as a tuple in :class:`VolScalars` field order."""
    sigma_min_tick = per_tick(sigma_min, tick_sec, sigma_min_cadence_sec)
    vol_ref_tick = per_tick(vol_ref, tick_sec, vol_ref_cadence_sec)
    if not math.isfinite(ret):
        ret = 0.0
    s = ewma_vol(sigma_short, ret, alpha_short)
    lg = ewma_vol(sigma_long, ret, alpha_long)
    if not math.isfinite(s):
        s = sigma_min_tick
    if not math.isfinite(lg):
        lg = sigma_min_tick
    sigma_eff = max(s, sigma_min_tick)
    vr = sigma_eff / vol_ref_tick
    vrc = clip(vr, vol_ratio_min, vol_ratio_max)
    bump = max(0.0, vrc - 1.0)
    return (s, lg, sigma_eff, vr, vrc, 1.0 + c_spread * bump, 1.0 / (1.0 + c_size * bump), 1.0 / (1.0 + c_band * bump))


def update_vol_cfg(sigma_short: float, sigma_long: float, ret: float, vol_cfg, tick_sec: float) -> VolScalars:
    """:func:`update_vol` with constants from a :class:`paraphina.config.VolatilityConfig`."""
    return update_vol(
        sigma_short,
        sigma_long,
        ret,
        tick_sec=tick_sec,
        alpha_short=vol_cfg.fv_vol_alpha_short,
        alpha_long=vol_cfg.fv_vol_alpha_long,
        sigma_min=vol_cfg.sigma_min,
        sigma_min_cadence_sec=vol_cfg.sigma_min_cadence_sec,
        vol_ref=vol_cfg.vol_ref,
        vol_ref_cadence_sec=vol_cfg.vol_ref_cadence_sec,
        vol_ratio_min=vol_cfg.vol_ratio_min,
        vol_ratio_max=vol_cfg.vol_ratio_max,
        c_spread=vol_cfg.spread_vol_mult_coeff,
        c_size=vol_cfg.size_vol_mult_coeff,
        c_band=vol_cfg.band_vol_mult_coeff,
    )
