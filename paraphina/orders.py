"""Order management: the desired MM quotes against the live ones -> cancel/place actions.

The one implementation of STRATEGY.md 4.9 (decision 9, invariants 15-16), applied to every
policy's quotes after the shield. Prices are integer ticks and sizes integer lots here, so
"moved more than one tick" and "size changed more than 10 %" are exact comparisons: exactly one
tick or exactly 10 % keeps the order, strictly more replaces it.

Per venue (ascending) and side (buy before sell), cancels before places:

* no desired quote, a live one: cancel it (no lifetime gate);
* a desired quote, none live: place it;
* both: a *dangerous* live order (the touch unknown, or a bid no longer at least one tick under
  the best bid and the best ask, an ask likewise) is replaced whatever its age; a young one
  (``age < min_quote_lifetime_ms``) is kept; otherwise it is replaced when the price differs by
  more than ``price_tol_ticks`` or the size by more than ``size_tol_rel`` of the *desired* size
  (at least one lot), else kept.

At most one MM order lives per venue and side. Cancels take effect in the engine's order table
at once (an exchange's later cancel/fill events for a forgotten order are harmless). EXIT and
HEDGE orders are IOC and never rest, so none of this applies to them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from fractions import Fraction

import msgspec

from paraphina.actions import Action, CancelOrder, PlaceOrder
from paraphina.config import OrderConfig
from paraphina.state import OpenOrder, VenueAccount


@functools.lru_cache(maxsize=64)
def exact_fraction(x: float) -> Fraction:
    """The decimal the user wrote (0.10), not the binary float nearest to it (cached: the
    tolerance is one config value, asked for on every quote kept or replaced)."""
    return Fraction(repr(x))


def is_dangerous(side: int, price: int, best_bid: int | None, best_ask: int | None) -> bool:
    """A resting quote that is no longer at least one tick behind the touch (or whose touch is
    unknown) must go whatever its age."""
    if best_bid is None or best_ask is None:
        return True
    if side > 0:
        return price > best_bid - 1 or price >= best_ask - 1
    return price < best_ask + 1 or price <= best_bid + 1


def keep_live_order(*, side: int, age_ns: int, cur_price: int, cur_size: int, des_price: int, des_size: int,
                    best_bid: int | None, best_ask: int | None, cfg: OrderConfig) -> bool:
    """True to keep a resting MM order against the desired one (see the module docstring)."""
    return _keep(side, age_ns, cur_price, cur_size, des_price, des_size, best_bid, best_ask, cfg)


def _keep(side: int, age_ns: int, cur_price: int, cur_size: int, des_price: int, des_size: int,
          best_bid: int | None, best_ask: int | None, cfg: OrderConfig) -> bool:
    """:func:`keep_live_order`, positional (it runs for every live quote on every tick)."""
    if is_dangerous(side, cur_price, best_bid, best_ask):
        return False
    min_life_ns, price_tol, num, den = _tolerances(cfg)
    if age_ns < min_life_ns:
        return True
    if abs(cur_price - des_price) > price_tol:
        return False
    # |cur - des| / max(des, 1 lot) <= tol, multiplied out in integers.
    return abs(cur_size - des_size) * den <= num * max(des_size, 1)


_TOLERANCES: dict[int, tuple[OrderConfig, tuple[int, int, int, int]]] = {}


def _tolerances(cfg: OrderConfig) -> tuple[int, int, int, int]:
    """(min lifetime in ns, price tolerance in ticks, size tolerance's numerator and denominator)
    of ``cfg``, worked out once per config (configs are frozen)."""
    hit = _TOLERANCES.get(id(cfg))
    if hit is not None and hit[0] is cfg:
        return hit[1]
    tol = exact_fraction(cfg.size_tol_rel)
    out = (cfg.min_quote_lifetime_ms * 1_000_000, cfg.price_tol_ticks, tol.numerator, tol.denominator)
    if len(_TOLERANCES) > 64:
        _TOLERANCES.clear()
    _TOLERANCES[id(cfg)] = (cfg, out)
    return out


def manage_venue_quotes(v: int, acct: VenueAccount, want_bid: PlaceOrder | None, want_ask: PlaceOrder | None,
                        top: tuple | None, now_ns: int, seq: int, cfg: OrderConfig,
                        next_id: Callable[[PlaceOrder], str]) -> list[Action]:
    """Actions for venue ``v``; ``top`` is ``(best_bid, bid_size, best_ask, ask_size)`` in ticks
    and lots or None; ``next_id`` names each order actually placed."""
    cancels: list[Action] = []
    places: list[Action] = []
    best_bid, best_ask = (top[0], top[2]) if top is not None else (None, None)
    for side, want in ((1, want_bid), (-1, want_ask)):
        cid = acct.mm_bid if side > 0 else acct.mm_ask
        live = acct.open_orders.get(cid) if cid is not None else None
        if live is not None and want is not None and _keep(
            side, now_ns - live.placed_ns, live.price, live.remaining, want.price, want.size, best_bid, best_ask, cfg,
        ):
            continue
        if live is not None:
            cancels.append(CancelOrder(seq=seq, venue=v, client_order_id=live.client_order_id))
            del acct.open_orders[live.client_order_id]
            if side > 0:
                acct.mm_bid = None
            else:
                acct.mm_ask = None
        if want is not None:
            want = msgspec.structs.replace(want, client_order_id=next_id(want))
            places.append(want)
            acct.open_orders[want.client_order_id] = OpenOrder(
                client_order_id=want.client_order_id, side=side, price=want.price, size=want.size,
                remaining=want.size, placed_ns=now_ns, purpose="mm",
            )
            if side > 0:
                acct.mm_bid = want.client_order_id
            else:
                acct.mm_ask = want.client_order_id
    return cancels + places
