"""Plain inputs shared by the strategy modules: the per-venue snapshot and venue status.

The engine builds one :class:`VenueInput` per venue per main tick from its state (books,
account, funding); prices and sizes here are floats in instrument units (USD per TAO, TAO).
"""

from __future__ import annotations

import math

import msgspec

from paraphina.strategy.jit import kernel

HEALTHY = "Healthy"
WARNING = "Warning"
DISABLED = "Disabled"
# Never had a two-sided book: nothing is known about the venue yet (decision 2). It takes no
# part in anything, like Disabled, but it is not a verdict on the venue.
NOT_YET_AVAILABLE = "NotYetAvailable"

STATUS_RANK = {HEALTHY: 0, WARNING: 1, DISABLED: 2, NOT_YET_AVAILABLE: 3}

BUY = 1
SELL = -1


def worst_status(*statuses: str) -> str:
    """The most restrictive of the given statuses."""
    return max(statuses, key=STATUS_RANK.__getitem__)


def is_tradeable(status: str) -> bool:
    """Healthy and Warning venues may trade; Disabled and not-yet-available ones may not."""
    return status == HEALTHY or status == WARNING


class VenueInput(msgspec.Struct, frozen=True, kw_only=True):
    """One venue as the strategy sees it at a main tick.

    ``mid`` is None while the venue has no two-sided book; ``last_mid_update_ms`` is None if it
    never had one. ``bids``/``asks`` are optional deeper levels (price, size), best first; when
    empty, the top of book (``best_bid``/``best_ask`` with their sizes) is the only level.
    ``price_liq`` None means the liquidation price is unknown: no liquidation constraint.
    Fees are in basis points of notional (positive = cost).
    """

    venue: int
    name: str = ""
    mid: float | None = None
    spread: float = 0.0
    best_bid: float = 0.0
    best_ask: float = 0.0
    bid_size: float = 0.0
    ask_size: float = 0.0
    bids: tuple[tuple[float, float], ...] = ()
    asks: tuple[tuple[float, float], ...] = ()
    depth_usd: float = 0.0
    last_mid_update_ms: int | None = None
    local_vol_short: float = 0.0
    local_vol_long: float = 0.0
    position: float = 0.0
    avg_entry: float = 0.0
    funding_8h: float = 0.0
    funding_received_ms: int | None = None
    next_funding_ms: int | None = None
    price_liq: float | None = None
    margin_available_usd: float = 0.0
    tick_size: float = 0.01
    lot_size: float = 0.01
    size_step: float = 0.01
    min_notional_usd: float = 10.0
    maker_fee_bps: float = 2.0
    maker_rebate_bps: float = 0.0
    taker_fee_bps: float = 5.0
    max_order_size: float = 20.0
    stale_ms_override: int | None = None
    is_hedge_allowed: bool = True
    # Per-venue strategy constants (STRATEGY.md 2.2)
    gamma: float = 0.10
    k: float = 1.5
    w_liq: float = 0.25
    w_fund: float = 0.25


def book_age_ms(v: VenueInput, now_ms: int) -> int | None:
    """Milliseconds since the venue's last valid mid, or None if it never had one."""
    if v.last_mid_update_ms is None:
        return None
    return now_ms - v.last_mid_update_ms


def is_fresh(v: VenueInput, now_ms: int, stale_ms: int) -> bool:
    """True if the venue has a mid no older than ``stale_ms`` (boundary inclusive)."""
    age = book_age_ms(v, now_ms)
    return age is not None and age <= stale_ms


def has_valid_book(v: VenueInput) -> bool:
    """A usable two-sided top of book: finite positive mid and spread."""
    return (
        v.mid is not None
        and math.isfinite(v.mid)
        and v.mid > 0.0
        and math.isfinite(v.spread)
        and v.spread > 0.0
    )


@kernel
def floor_to_step(x: float, step: float) -> float:
    """``x`` rounded down to a multiple of ``step``; a relative 1e-9 slack absorbs float noise
    so that e.g. 0.3 on a 0.1 step stays 0.3 instead of 0.2."""
    if step <= 0.0 or x <= 0.0:
        return 0.0
    n = math.floor(x / step + 1e-9)
    return n * step


@kernel
def sign(x: float) -> int:
    """+1, -1 or 0."""
    return 1 if x > 0.0 else (-1 if x < 0.0 else 0)


@kernel
def clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else (hi if x > hi else x)
