"""Keep or replace a resting MM order, on integer ticks and lots (STRATEGY.md 4.9; decision 9).

Prices are integer ticks and sizes integer lots here, so "moved more than one tick" and "size
changed more than 10 %" are exact comparisons with no float boundary: exactly one tick or
exactly 10 % keeps the order, strictly more replaces it. EXIT and HEDGE orders are IOC and never
rest, so this applies to MM orders only.
"""

from __future__ import annotations

from fractions import Fraction

KEEP = "keep"
REPLACE = "replace"
PLACE = "place"
CANCEL = "cancel"
NONE = "none"


def _exact(x: float) -> Fraction:
    # The decimal the user wrote (0.10), not the binary float nearest to it.
    return Fraction(repr(x))


def is_dangerous(side: int, price: int, best_bid: int | None, best_ask: int | None) -> bool:
    """A resting quote that is no longer at least one tick behind the touch (or whose touch is
    unknown) must go whatever its age."""
    if best_bid is None or best_ask is None:
        return True
    if side > 0:
        return price > best_bid - 1 or price >= best_ask - 1
    return price < best_ask + 1 or price <= best_bid + 1


def keep_or_replace(
    *,
    side: int,
    now_ms: int,
    order_ts_ms: int,
    cur_price: int,
    cur_size: int,
    des_price: int,
    des_size: int,
    best_bid: int | None,
    best_ask: int | None,
    min_lifetime_ms: int,
    price_tol_ticks: int,
    size_tol_rel: float,
) -> str:
    """``"keep"`` or ``"replace"`` for a resting MM order against the desired one.

    A young order (``age < min_lifetime_ms``) is kept unless dangerous. Otherwise replace if
    dangerous, if the price differs by more than ``price_tol_ticks`` ticks, or if the size
    differs by more than ``size_tol_rel`` of the desired size (at least one lot).
    """
    dangerous = is_dangerous(side, cur_price, best_bid, best_ask)
    if now_ms - order_ts_ms < min_lifetime_ms and not dangerous:
        return KEEP
    if dangerous or abs(cur_price - des_price) > price_tol_ticks:
        return REPLACE
    tol = _exact(size_tol_rel)
    # |cur - des| / max(des, 1) > tol, multiplied out in integers.
    if abs(cur_size - des_size) * tol.denominator > tol.numerator * max(des_size, 1):
        return REPLACE
    return KEEP


def manage_side(
    *,
    side: int,
    now_ms: int,
    resting: tuple[int, int, int] | None,
    desired: tuple[int, int] | None,
    best_bid: int | None,
    best_ask: int | None,
    min_lifetime_ms: int,
    price_tol_ticks: int,
    size_tol_rel: float,
    killed: bool = False,
) -> str:
    """What to do on one venue side. ``resting`` = (price, size, ts_ms) of the live MM order,
    ``desired`` = (price, size) after the shield, both in ticks/lots.

    Returns ``"place"``, ``"cancel"``, ``"replace"``, ``"keep"`` or ``"none"``. Killed: only cancels.
    """
    if killed or desired is None:
        return CANCEL if resting is not None else NONE
    if resting is None:
        return PLACE
    price, size, ts = resting
    return keep_or_replace(
        side=side, now_ms=now_ms, order_ts_ms=ts, cur_price=price, cur_size=size, des_price=desired[0],
        des_size=desired[1], best_bid=best_bid, best_ask=best_ask, min_lifetime_ms=min_lifetime_ms,
        price_tol_ticks=price_tol_ticks, size_tol_rel=size_tol_rel,
    )
