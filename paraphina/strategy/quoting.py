"""Market-making quotes per venue: targets, reservation price, half-spread, passivity, edge
filter and size (STRATEGY.md 4.6-4.8; decisions 3, 10, 14).

Prices leave here as floats at least one tick behind the touch; the shield snaps them to the
venue's ticks (post-only rounds passive) and sizes to lots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from paraphina.config import Config
from paraphina.intents import OrderIntent
from paraphina.strategy.common import (
    WARNING,
    VenueInput,
    clip,
    floor_to_step,
    has_valid_book,
    is_fresh,
    is_tradeable,
)
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
    if not enabled or v.funding_received_ms is None or not math.isfinite(v.funding_8h):
        return 0.0
    if now_ms - v.funding_received_ms > stale_ms:
        return 0.0
    if v.next_funding_ms is not None and abs(v.next_funding_ms - now_ms) <= avoid_window_ms:
        return 0.0
    return v.funding_8h


def funding_per_tao(funding_8h: float, horizon_sec: float, fair_value: float) -> float:
    """USD per TAO of funding over ``horizon_sec``: ``rate * (tau/28800) * S``."""
    return funding_8h * (horizon_sec / FUNDING_INTERVAL_SEC) * fair_value


def funding_target_phi(funding_8h: float, rate_scale: float, max_tao: float) -> float:
    """Funding tilt of a venue target: ``clip(f/scale, -1, 1) * max_tao``."""
    return clip(funding_8h / rate_scale, -1.0, 1.0) * max_tao


def venue_targets(
    venues: Sequence[VenueInput], statuses: Sequence[str], q: float, funding: Sequence[float], *, rate_scale: float, max_tao: float
) -> list[float]:
    """Per-venue inventory targets ``q_target_v = w_liq_v * q + w_fund_v * phi(f_v)``.

    ``w_liq_v`` is the venue's configured liquidity weight times its depth, normalised over
    venues that can trade and have depth; others get weight 0 (and no funding tilt).
    """
    weights = [
        v.depth_usd * v.w_liq if is_tradeable(st) and v.depth_usd > 0.0 else 0.0 for v, st in zip(venues, statuses)
    ]
    total = sum(weights)
    out: list[float] = []
    for v, st, w, f in zip(venues, statuses, weights, funding):
        if total <= 0.0 or w <= 0.0:
            out.append(0.0)
            continue
        out.append(w / total * q + v.w_fund * funding_target_phi(f, rate_scale, max_tao))
    return out


def reservation_price(
    *,
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


def as_half_spread(gamma: float, k: float) -> float:
    """Avellaneda-Stoikov optimal half-spread ``(1/gamma) * ln(1 + gamma/k)``."""
    return math.log1p(gamma / k) / gamma


def half_spread(
    *,
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


def passive_prices(raw_bid: float, raw_ask: float, best_bid: float, best_ask: float, tick: float) -> tuple[float, float] | None:
    """Bid at most one tick under the best bid and ask one tick over the best ask; None if the
    result is not a valid two-sided quote (``bid <= 0`` or ``ask <= bid``)."""
    bid = min(raw_bid, best_bid - tick)
    ask = max(raw_ask, best_ask + tick)
    if bid <= 0.0 or ask <= bid:
        return None
    return bid, ask


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


def liq_size_factor(dist: float, warn: float, crit: float) -> float:
    """1 outside the warn zone, falling linearly to 0 at the critical distance."""
    if not math.isfinite(dist) or dist >= warn:
        return 1.0
    return clip((dist - crit) / (warn - crit + 1e-9), 0.0, 1.0)


def quote_size(
    *,
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


def quote(tick: TickModel, cfg: Config, venues: Sequence[VenueInput]) -> tuple[list[OrderIntent], list[VenueQuote]]:
    """MM intents for every venue (venue order, buy before sell) and the per-venue workings."""
    s = tick.fair_value
    if (
        s is None
        or not tick.fv_available
        or tick.kill_switch
        or tick.regime == HARD_LIMIT
        or tick.vol.size_mult <= 0.0
    ):
        return [], []
    mm, risk = cfg.mm, cfg.risk
    tau = max(mm.quote_horizon_sec, 1.0)
    spx = sigma_px(tick.vol.sigma_eff, s, tick.tick_sec)
    v_buf = mm.edge_vol_mult * spx * math.sqrt(tau)
    warning_regime = tick.regime == WARNING_REGIME
    funding = [
        usable_funding_rate(
            v, tick.now_ms, enabled=mm.funding_enabled, stale_ms=cfg.funding.stale_ms, avoid_window_ms=cfg.funding.avoid_window_ms
        )
        for v in venues
    ]
    targets = venue_targets(
        venues, tick.statuses, tick.q, funding, rate_scale=mm.funding_target_rate_scale, max_tao=mm.funding_target_max_tao
    )
    sign = 1 if mm.venue_target_sign == "intent" else -1
    dr = abs(tick.delta_usd) / max(tick.delta_limit_usd, 1.0)
    intents: list[OrderIntent] = []
    details: list[VenueQuote] = []
    for i, v in enumerate(venues):
        status, tox, dist = tick.statuses[i], tick.toxicity[i], tick.dist_liq[i]
        max_age = mm.quote_max_age_ms or v.stale_ms_override or cfg.book.stale_ms
        if (
            not is_tradeable(status)
            or dist <= risk.liq_crit_sigma
            or tox >= cfg.toxicity.tox_high_threshold
            or not has_valid_book(v)
            or v.depth_usd <= 0.0
            or not is_fresh(v, tick.now_ms, max_age)
            or dr >= 2.0
        ):
            continue
        mid = v.mid
        assert mid is not None
        c_maker = (v.maker_fee_bps - v.maker_rebate_bps) / 1e4 * s
        r = reservation_price(
            fair_value=s, basis=mid - s, funding_usd=funding_per_tao(funding[i], tau, s), gamma=v.gamma, sigma_px_=spx,
            tau=tau, q=tick.q, q_v=v.position, q_target=targets[i], basis_weight=mm.basis_weight,
            funding_weight=mm.funding_weight, lambda_inv=mm.lambda_inv, venue_target_sign=sign,
        )
        h = half_spread(
            gamma=v.gamma, k=v.k, spread_mult=tick.vol.spread_mult, c_maker=c_maker, v_buf=v_buf,
            edge_local_min=mm.edge_local_min, warning_regime=warning_regime, spread_warn_mult=risk.spread_warn_mult,
            dist_liq=dist, liq_warn=risk.liq_warn_sigma, liq_widening=mm.liq_spread_widening,
            liq_widening_max=mm.liq_spread_widening_max,
        )
        best_bid = v.best_bid if v.best_bid > 0.0 else mid - v.spread / 2.0
        best_ask = v.best_ask if v.best_ask > 0.0 else mid + v.spread / 2.0
        prices = passive_prices(r - h, r + h, best_bid, best_ask, v.tick_size)
        if prices is None:
            continue
        bid, ask = prices
        buf = v_buf if mm.edge_subtracts_vol_buffer else 0.0
        e_bid = expected_capture(s - bid, v.spread, mm.edge_capture_cap) - c_maker - buf
        e_ask = expected_capture(ask - s, v.spread, mm.edge_capture_cap) - c_maker - buf
        # Delta throttle between 1x and 2x the limit: only the side that cuts |q| survives.
        bid_throttle = ask_throttle = 1.0
        if dr > 1.0:
            f = 2.0 - dr
            bid_throttle = 0.0 if tick.q > 0.0 else f
            ask_throttle = 0.0 if tick.q < 0.0 else f
        common = dict(
            eta=mm.size_eta, size_mult=tick.vol.size_mult, lot=v.lot_size, margin_available=v.margin_available_usd,
            max_leverage=risk.mm_max_leverage, margin_safety=risk.mm_margin_safety, dist_liq=dist,
            liq_warn=risk.liq_warn_sigma, liq_crit=risk.liq_crit_sigma, venue_warning=status == WARNING,
            warning_size_mult=mm.warning_status_size_mult, toxicity=tox, tox_med=cfg.toxicity.tox_med_threshold,
            tox_high=cfg.toxicity.tox_high_threshold, tox_floor=mm.tox_size_floor, warning_regime=warning_regime,
            q_warn_cap=risk.q_warn_cap, max_order_size=v.max_order_size,
        )
        bid_size = quote_size(edge=e_bid, eligible=e_bid >= mm.edge_local_min, price=bid, throttle=bid_throttle, **common)
        ask_size = quote_size(edge=e_ask, eligible=e_ask >= mm.edge_local_min, price=ask, throttle=ask_throttle, **common)
        details.append(
            VenueQuote(venue=v.venue, reservation=r, half_spread=h, q_target=targets[i], bid_price=bid, bid_size=bid_size,
                       ask_price=ask, ask_size=ask_size)
        )
        if bid_size > 0.0:
            intents.append(OrderIntent(venue=v.venue, side=1, price=bid, size=bid_size))
        if ask_size > 0.0:
            intents.append(OrderIntent(venue=v.venue, side=-1, price=ask, size=ask_size))
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
    "quote_size",
    "reservation_price",
    "usable_funding_rate",
    "venue_targets",
]
