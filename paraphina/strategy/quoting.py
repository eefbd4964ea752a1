"""Market-making quotes per venue: targets, reservation price, half-spread, passivity, edge
filter and size (STRATEGY.md 4.6-4.8; decisions 3, 10, 14).

Prices leave here as floats at least one tick behind the touch; the shield snaps them to the
venue's ticks (post-only rounds passive) and sizes to lots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np

from paraphina.config import Config
from paraphina.intents import OrderIntent
from paraphina.strategy.common import (
    C_BEST_ASK,
    C_BEST_BID,
    C_DEPTH,
    C_FUND_MS,
    C_FUNDING_8H,
    C_GAMMA,
    C_HAS_FUND_MS,
    C_HAS_MID_MS,
    C_HAS_NEXT_FUND,
    C_K,
    C_LOT,
    C_MAKER_FEE,
    C_MAKER_REBATE,
    C_MARGIN,
    C_MAX_ORDER,
    C_MID,
    C_MID_MS,
    C_NEXT_FUND_MS,
    C_POSITION,
    C_SPREAD,
    C_STALE_OVERRIDE,
    C_TICK,
    C_VENUE,
    C_W_FUND,
    C_W_LIQ,
    S_WARNING,
    STATUS_RANK,
    VenueInput,
    book_is_valid,
    clip,
    mid_is_fresh,
    tradeable_code,
    floor_to_step,
    status_codes,
    venue_columns,
)
from paraphina.strategy.jit import kernel
from paraphina.strategy.risk import HARD_LIMIT
from paraphina.strategy.risk import WARNING as WARNING_REGIME
from paraphina.strategy.tick import TickModel
from paraphina.strategy.volatility import sigma_px

FUNDING_INTERVAL_SEC = 28_800.0


def usable_funding_rate(v: VenueInput, now_ms: int, *, enabled: bool, stale_ms: int, avoid_window_ms: int) -> float:
    """The venue's 8h funding rate if it may feed a decision, else 0.

    Usable when the feature is enabled, the rate was received at most ``stale_ms`` ago and the
    next settlement (if known) is more than ``avoid_window_ms`` away.
    """
    return funding_rate_if_usable(
        float(v.funding_8h), v.funding_received_ms is not None, v.funding_received_ms or 0, v.next_funding_ms is not None,
        v.next_funding_ms or 0, now_ms, enabled, stale_ms, avoid_window_ms,
    )


@kernel
def funding_rate_if_usable(funding_8h: float, has_received: bool, received_ms: int, has_next: bool, next_ms: int,
                           now_ms: int, enabled: bool, stale_ms: int, avoid_window_ms: int) -> float:
    """The 8h funding rate if it may feed a decision, else 0 (see :func:`usable_funding_rate`)."""
    if not enabled or not has_received or not math.isfinite(funding_8h):
        return 0.0
    if now_ms - received_ms > stale_ms:
        return 0.0
    if has_next and abs(next_ms - now_ms) <= avoid_window_ms:
        return 0.0
    return funding_8h


@kernel
def funding_per_tao(funding_8h: float, horizon_sec: float, fair_value: float) -> float:
    """USD per TAO of funding over ``horizon_sec``: ``rate * (tau/28800) * S``."""
    return funding_8h * (horizon_sec / FUNDING_INTERVAL_SEC) * fair_value


@kernel
def funding_target_phi(funding_8h: float, rate_scale: float, max_tao: float) -> float:
    """Funding tilt of a venue target: ``clip(f/scale, -1, 1) * max_tao``."""
    return clip(funding_8h / rate_scale, -1.0, 1.0) * max_tao


def venue_targets(
    venues: Sequence[VenueInput], statuses: Sequence[str], q: float, funding: Sequence[float], *, rate_scale: float, max_tao: float
) -> list[float]:
    """Per-venue inventory targets ``q_target_v = w_liq_v * q + w_fund_v * phi(f_v)``
    (:func:`venue_target_array` on the venues' fields)."""
    status = np.array([STATUS_RANK[st] for st in statuses], dtype=np.int64)
    depth = np.array([v.depth_usd for v in venues], dtype=np.float64)
    w_liq = np.array([v.w_liq for v in venues], dtype=np.float64)
    w_fund = np.array([v.w_fund for v in venues], dtype=np.float64)
    return venue_target_array(status, depth, w_liq, w_fund, np.array(funding, dtype=np.float64).reshape(len(venues)),
                              float(q), rate_scale, max_tao).tolist()


@kernel
def venue_target_array(status: np.ndarray, depth: np.ndarray, w_liq: np.ndarray, w_fund: np.ndarray,
                       funding: np.ndarray, q: float, rate_scale: float, max_tao: float) -> np.ndarray:
    """Per-venue inventory targets ``q_target_v = w_liq_v * q + w_fund_v * phi(f_v)``.

    ``w_liq_v`` is the venue's configured liquidity weight times its depth, normalised over
    venues that can trade and have depth; others get weight 0 (and no funding tilt).
    """
    n = depth.shape[0]
    weights = np.zeros(n)
    total = 0.0
    for i in range(n):
        st = status[i]
        weights[i] = depth[i] * w_liq[i] if tradeable_code(st) and depth[i] > 0.0 else 0.0
        total += weights[i]
    targets = np.zeros(n)
    for i in range(n):
        w = weights[i]
        if total <= 0.0 or w <= 0.0:
            continue
        targets[i] = w / total * q + w_fund[i] * funding_target_phi(funding[i], rate_scale, max_tao)
    return targets


@kernel
def reservation_price(
    fair_value: float,
    basis: float,
    funding_usd: float,
    gamma: float,
    sigma_px_: float,
    tau: float,
    q: float,
    q_v: float,
    q_target: float,
    basis_weight: float,
    funding_weight: float,
    lambda_inv: float,
    venue_target_sign: int = 1,
) -> float:
    """Avellaneda-Stoikov reservation price in price units (decision 3 with decision 14's sign).

    ``r = S + b_w*b + f_w*f - gamma * sigma_px^2 * tau * (q + sign*lambda*(q_v - q_target))``.
    ``venue_target_sign = +1`` (intent): a venue above its target quotes lower; ``-1`` is the
    spec's literal sign.
    """
    skew = gamma * sigma_px_ * sigma_px_ * tau * (q + venue_target_sign * lambda_inv * (q_v - q_target))
    return fair_value + basis_weight * basis + funding_weight * funding_usd - skew


@kernel
def as_half_spread(gamma: float, k: float) -> float:
    """Avellaneda-Stoikov optimal half-spread ``(1/gamma) * ln(1 + gamma/k)``."""
    return math.log1p(gamma / k) / gamma


@kernel
def half_spread(
    gamma: float,
    k: float,
    spread_mult: float,
    c_maker: float,
    v_buf: float,
    edge_local_min: float,
    warning_regime: bool,
    spread_warn_mult: float,
    dist_liq: float,
    liq_warn: float,
    liq_widening: bool,
    liq_widening_max: float,
) -> float:
    """Quoted half-spread in USD per TAO.

    ``max(delta* * spread_mult, (edge_local_min + c_maker + v_buf)/2, 0)``; Warning regime
    multiplies by ``spread_warn_mult``; inside the liquidation warn zone it widens by up to
    ``1 + liq_widening_max`` (reference behaviour, on by default).
    """
    h = max(as_half_spread(gamma, k) * spread_mult, (edge_local_min + c_maker + v_buf) / 2.0, 0.0)
    if warning_regime:
        h *= spread_warn_mult
    if liq_widening and 0.0 < dist_liq < liq_warn:
        h *= 1.0 + liq_widening_max * clip((liq_warn - dist_liq) / liq_warn, 0.0, 1.0)
    return h


@kernel
def passive_prices(raw_bid: float, raw_ask: float, best_bid: float, best_ask: float, tick: float) -> tuple[float, float] | None:
    """Bid at most one tick under the best bid and ask one tick over the best ask; None if the
    result is not a valid two-sided quote (``bid <= 0`` or ``ask <= bid``)."""
    bid = min(raw_bid, best_bid - tick)
    ask = max(raw_ask, best_ask + tick)
    if bid <= 0.0 or ask <= bid:
        return None
    return bid, ask


@kernel
def expected_capture(distance: float, venue_spread: float, cap_half_spreads: float) -> float:
    """What a passive quote ``distance`` from fair value can expect to earn per unit, before fees.

    The spec counts the whole distance. A quote behind the touch only fills once the venue's
    touch has come to it, that is once the market has moved against it, so measured against the
    fair value after the fill it earns at most about the venue's half-spread, however far out it
    sits (decision 16; measured on the simulator against the latent price). ``cap_half_spreads``
    caps the counted distance at that many venue half-spreads; 0 restores the spec.
    """
    if cap_half_spreads <= 0.0:
        return distance
    return min(distance, cap_half_spreads * venue_spread / 2.0)


@kernel
def liq_size_factor(dist: float, warn: float, crit: float) -> float:
    """1 outside the warn zone, falling linearly to 0 at the critical distance."""
    if not math.isfinite(dist) or dist >= warn:
        return 1.0
    return clip((dist - crit) / (warn - crit + 1e-9), 0.0, 1.0)


@kernel
def quote_size(
    edge: float,
    eligible: bool,
    eta: float,
    size_mult: float,
    lot: float,
    price: float,
    margin_available: float,
    max_leverage: float,
    margin_safety: float,
    dist_liq: float,
    liq_warn: float,
    liq_crit: float,
    venue_warning: bool,
    warning_size_mult: float,
    toxicity: float,
    tox_med: float,
    tox_high: float,
    tox_floor: float,
    warning_regime: bool,
    q_warn_cap: float,
    max_order_size: float,
    throttle: float = 1.0,
) -> float:
    """Quote size in TAO for one side (0 = do not quote), in the reference's order:
    ``e/eta * size_mult``, at least one lot, margin cap, liquidation shrink, venue Warning
    halving, medium-toxicity shrink, delta throttle, Warning-regime cap, max order size,
    then down to whole lots."""
    if not eligible or edge <= 0.0:
        return 0.0
    size = edge / eta * size_mult
    size = max(size, lot)
    if price > 0.0:
        size = min(size, max(margin_available, 0.0) * max_leverage * margin_safety / price)
    size *= liq_size_factor(dist_liq, liq_warn, liq_crit)
    if venue_warning:
        size *= warning_size_mult
    if tox_med <= toxicity < tox_high:
        size *= clip(1.0 - (toxicity - tox_med) / (tox_high - tox_med), tox_floor, 1.0)
    size *= throttle
    if warning_regime:
        size = min(size, q_warn_cap)
    size = min(size, max_order_size)
    size = floor_to_step(size, lot)
    return size if size >= lot else 0.0


class VenueQuote(msgspec.Struct, frozen=True, kw_only=True):
    venue: int
    reservation: float
    half_spread: float
    q_target: float
    bid_price: float
    bid_size: float
    ask_price: float
    ask_size: float


# Columns of the per-venue result of :func:`quote_venues`.
Q_QUOTED, Q_RESERVATION, Q_HALF, Q_TARGET, Q_BID, Q_BID_SIZE, Q_ASK, Q_ASK_SIZE = range(8)
N_Q = 8


@kernel
def quote_venues(
    f: np.ndarray, ints: np.ndarray, status: np.ndarray, toxicity: np.ndarray, dist_liq: np.ndarray,
    quote_max_age_ms: int, stale_ms: int, fair: float, sigma_eff: float, tick_sec: float, spread_mult: float,
    size_mult: float, q: float, delta_usd: float, delta_limit: float, now_ms: int, warning_regime: bool,
    mm_p: np.ndarray, funding_enabled: bool, funding_stale_ms: int, funding_avoid_ms: int, sign: int,
    edge_subtracts_vol_buffer: bool, liq_widening: bool,
) -> np.ndarray:
    """Reservation price, half-spread, prices and sizes of every venue (STRATEGY.md 4.6-4.8).

    ``f``/``ints`` hold one row per venue (:func:`paraphina.strategy.common.venue_columns`);
    ``status`` (codes), ``toxicity``, ``dist_liq`` come from the tick; a venue's book may be
    ``quote_max_age_ms`` old (0: its stale override, else ``stale_ms``); ``mm_p`` the constants of :func:`mm_params`. Returns one row per venue (columns ``Q_*``); a venue that
    does not quote has ``Q_QUOTED = 0``.
    """
    (quote_horizon_sec, edge_vol_mult, rate_scale, max_tao, basis_weight, funding_weight, lambda_inv,
     edge_local_min, spread_warn_mult, liq_warn, liq_crit, liq_widening_max, edge_capture_cap, size_eta,
     max_leverage, margin_safety, warning_size_mult, tox_med, tox_high, tox_floor, q_warn_cap) = (
        mm_p[0], mm_p[1], mm_p[2], mm_p[3], mm_p[4], mm_p[5], mm_p[6], mm_p[7], mm_p[8], mm_p[9], mm_p[10],
        mm_p[11], mm_p[12], mm_p[13], mm_p[14], mm_p[15], mm_p[16], mm_p[17], mm_p[18], mm_p[19], mm_p[20])
    n = f.shape[0]
    out = np.zeros((n, N_Q))
    tau = max(quote_horizon_sec, 1.0)
    spx = sigma_px(sigma_eff, fair, tick_sec)
    v_buf = edge_vol_mult * spx * math.sqrt(tau)
    funding = np.zeros(n)
    for i in range(n):
        funding[i] = funding_rate_if_usable(
            f[i, C_FUNDING_8H], ints[i, C_HAS_FUND_MS] != 0, ints[i, C_FUND_MS], ints[i, C_HAS_NEXT_FUND] != 0,
            ints[i, C_NEXT_FUND_MS], now_ms, funding_enabled, funding_stale_ms, funding_avoid_ms)
    targets = venue_target_array(status, f[:, C_DEPTH], f[:, C_W_LIQ], f[:, C_W_FUND], funding, q, rate_scale,
                                 max_tao)
    dr = abs(delta_usd) / max(delta_limit, 1.0)
    for i in range(n):
        st = status[i]
        tox = toxicity[i]
        dist = dist_liq[i]
        mid = f[i, C_MID]
        spread = f[i, C_SPREAD]
        over = ints[i, C_STALE_OVERRIDE]
        max_age = quote_max_age_ms if quote_max_age_ms != 0 else (over if over != 0 else stale_ms)
        fresh = mid_is_fresh(ints[i, C_HAS_MID_MS] != 0, ints[i, C_MID_MS], now_ms, max_age)
        valid_book = book_is_valid(mid, spread)
        if (
            not tradeable_code(st)
            or dist <= liq_crit
            or tox >= tox_high
            or not valid_book
            or f[i, C_DEPTH] <= 0.0
            or not fresh
            or dr >= 2.0
        ):
            continue
        c_maker = (f[i, C_MAKER_FEE] - f[i, C_MAKER_REBATE]) / 1e4 * fair
        r = reservation_price(
            fair_value=fair, basis=mid - fair, funding_usd=funding_per_tao(funding[i], tau, fair), gamma=f[i, C_GAMMA],
            sigma_px_=spx, tau=tau, q=q, q_v=f[i, C_POSITION], q_target=targets[i], basis_weight=basis_weight,
            funding_weight=funding_weight, lambda_inv=lambda_inv, venue_target_sign=sign,
        )
        h = half_spread(
            gamma=f[i, C_GAMMA], k=f[i, C_K], spread_mult=spread_mult, c_maker=c_maker, v_buf=v_buf,
            edge_local_min=edge_local_min, warning_regime=warning_regime, spread_warn_mult=spread_warn_mult,
            dist_liq=dist, liq_warn=liq_warn, liq_widening=liq_widening, liq_widening_max=liq_widening_max,
        )
        best_bid = f[i, C_BEST_BID] if f[i, C_BEST_BID] > 0.0 else mid - spread / 2.0
        best_ask = f[i, C_BEST_ASK] if f[i, C_BEST_ASK] > 0.0 else mid + spread / 2.0
        prices = passive_prices(r - h, r + h, best_bid, best_ask, f[i, C_TICK])
        if prices is None:
            continue
        bid, ask = prices
        buf = v_buf if edge_subtracts_vol_buffer else 0.0
        e_bid = expected_capture(fair - bid, spread, edge_capture_cap) - c_maker - buf
        e_ask = expected_capture(ask - fair, spread, edge_capture_cap) - c_maker - buf
        # Delta throttle between 1x and 2x the limit: only the side that cuts |q| survives.
        bid_throttle = 1.0
        ask_throttle = 1.0
        if dr > 1.0:
            g = 2.0 - dr
            bid_throttle = 0.0 if q > 0.0 else g
            ask_throttle = 0.0 if q < 0.0 else g
        lot = f[i, C_LOT]
        venue_warning = st == S_WARNING
        bid_size = quote_size(
            edge=e_bid, eligible=e_bid >= edge_local_min, eta=size_eta, size_mult=size_mult, lot=lot, price=bid,
            margin_available=f[i, C_MARGIN], max_leverage=max_leverage, margin_safety=margin_safety, dist_liq=dist,
            liq_warn=liq_warn, liq_crit=liq_crit, venue_warning=venue_warning, warning_size_mult=warning_size_mult,
            toxicity=tox, tox_med=tox_med, tox_high=tox_high, tox_floor=tox_floor, warning_regime=warning_regime,
            q_warn_cap=q_warn_cap, max_order_size=f[i, C_MAX_ORDER], throttle=bid_throttle,
        )
        ask_size = quote_size(
            edge=e_ask, eligible=e_ask >= edge_local_min, eta=size_eta, size_mult=size_mult, lot=lot, price=ask,
            margin_available=f[i, C_MARGIN], max_leverage=max_leverage, margin_safety=margin_safety, dist_liq=dist,
            liq_warn=liq_warn, liq_crit=liq_crit, venue_warning=venue_warning, warning_size_mult=warning_size_mult,
            toxicity=tox, tox_med=tox_med, tox_high=tox_high, tox_floor=tox_floor, warning_regime=warning_regime,
            q_warn_cap=q_warn_cap, max_order_size=f[i, C_MAX_ORDER], throttle=ask_throttle,
        )
        out[i, Q_QUOTED] = 1.0
        out[i, Q_RESERVATION] = r
        out[i, Q_HALF] = h
        out[i, Q_TARGET] = targets[i]
        out[i, Q_BID] = bid
        out[i, Q_BID_SIZE] = bid_size
        out[i, Q_ASK] = ask
        out[i, Q_ASK_SIZE] = ask_size
    return out


def mm_params(cfg: Config) -> np.ndarray:
    """The market-making constants :func:`quote_venues` reads, in its order (cached per config:
    configs are frozen)."""
    p = _MM_PARAMS_CACHE.get(id(cfg))
    if p is not None and p[0] is cfg:
        return p[1]
    mm, risk, tc = cfg.mm, cfg.risk, cfg.toxicity
    arr = np.array([
        mm.quote_horizon_sec, mm.edge_vol_mult, mm.funding_target_rate_scale, mm.funding_target_max_tao,
        mm.basis_weight, mm.funding_weight, mm.lambda_inv, mm.edge_local_min, risk.spread_warn_mult,
        risk.liq_warn_sigma, risk.liq_crit_sigma, mm.liq_spread_widening_max, mm.edge_capture_cap, mm.size_eta,
        risk.mm_max_leverage, risk.mm_margin_safety, mm.warning_status_size_mult, tc.tox_med_threshold,
        tc.tox_high_threshold, mm.tox_size_floor, risk.q_warn_cap,
    ], dtype=np.float64)
    if len(_MM_PARAMS_CACHE) > 64:
        _MM_PARAMS_CACHE.clear()
    _MM_PARAMS_CACHE[id(cfg)] = (cfg, arr)
    return arr


_MM_PARAMS_CACHE: dict[int, tuple[Config, np.ndarray]] = {}
def quote(tick: TickModel, cfg: Config, venues: Sequence[VenueInput]) -> tuple[list[OrderIntent], list[VenueQuote]]:
    """MM intents for every venue (venue order, buy before sell) and the per-venue workings."""
    return _quote(tick, cfg, venues, True)


def quote_intents(tick: TickModel, cfg: Config, venues: Sequence[VenueInput]) -> list[OrderIntent]:
    """The intents of :func:`quote` without the workings (what a tick needs: no
    :class:`VenueQuote` is built)."""
    return _quote(tick, cfg, venues, False)[0]


def _quote(tick: TickModel, cfg: Config, venues: Sequence[VenueInput], with_details: bool) -> tuple[list[OrderIntent], list[VenueQuote]]:
    s = tick.fair_value
    if (
        s is None
        or not tick.fv_available
        or tick.kill_switch
        or tick.regime == HARD_LIMIT
        or tick.vol.size_mult <= 0.0
    ):
        return [], []
    mm = cfg.mm
    f, ints = venue_columns(venues)
    res = quote_venues(
        f, ints, status_codes(tick.statuses), np.array(tick.toxicity, dtype=np.float64).reshape(len(venues)),
        np.array(tick.dist_liq, dtype=np.float64).reshape(len(venues)), mm.quote_max_age_ms or 0, cfg.book.stale_ms, s, tick.vol.sigma_eff, tick.tick_sec, tick.vol.spread_mult, tick.vol.size_mult, tick.q,
        tick.delta_usd, tick.delta_limit_usd, tick.now_ms, tick.regime == WARNING_REGIME, mm_params(cfg),
        mm.funding_enabled, cfg.funding.stale_ms, cfg.funding.avoid_window_ms, 1 if mm.venue_target_sign == "intent" else -1,
        mm.edge_subtracts_vol_buffer, mm.liq_spread_widening,
    ).tolist()
    intents: list[OrderIntent] = []
    details: list[VenueQuote] = []
    for venue, row in zip(ints[:, C_VENUE].tolist(), res):   # the venue column: no struct is read
        if not row[Q_QUOTED]:
            continue
        quoted, r, h, target, bid, bid_size, ask, ask_size = row
        if with_details:
            details.append(VenueQuote(venue=venue, reservation=r, half_spread=h, q_target=target, bid_price=bid,
                                      bid_size=bid_size, ask_price=ask, ask_size=ask_size))
        if bid_size > 0.0:
            intents.append(OrderIntent(venue=venue, side=1, price=bid, size=bid_size))
        if ask_size > 0.0:
            intents.append(OrderIntent(venue=venue, side=-1, price=ask, size=ask_size))
    return intents, details


__all__ = [
    "VenueQuote",
    "as_half_spread",
    "expected_capture",
    "funding_per_tao",
    "funding_target_phi",
    "half_spread",
    "liq_size_factor",
    "passive_prices",
    "quote",
    "quote_intents",
    "quote_size",
    "reservation_price",
    "usable_funding_rate",
    "venue_targets",
]
