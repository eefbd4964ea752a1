"""Order management: the desired MM quotes against the live ones -> cancel/place actions.

Per venue (ascending) and side (buy before sell), with cancels before places
(STRATEGY.md 4.9, decision 9, invariants 15-16):

* no desired quote, a live one: cancel it;
* a desired quote, none live: place it;
* both: keep the live order while it is younger than ``min_quote_lifetime_ms`` and still
  passive (a bid below the best ask, an ask above the best bid); otherwise keep it when the price
  moved at most ``price_tol_ticks`` and the size at most ``size_tol_rel`` (integer comparisons,
  boundary inclusive), else cancel and place the new one.

At most one MM order lives per venue and side. Cancels take effect in the engine's order table
at once (an exchange's later cancel/fill events for a forgotten order are harmless).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from paraphina.actions import Action, CancelOrder, PlaceOrder
from paraphina.config import OrderConfig
from paraphina.state import OpenOrder, VenueAccount

_PPM = 1_000_000


def keep_live_order(live: OpenOrder, want: PlaceOrder, now_ns: int, passive: bool, cfg: OrderConfig) -> bool:
    if now_ns - live.placed_ns < cfg.min_quote_lifetime_ms * 1_000_000 and passive:
        return True
    if abs(want.price - live.price) > cfg.price_tol_ticks:
        return False
    return abs(want.size - live.size) * _PPM <= round(cfg.size_tol_rel * _PPM) * live.size


def manage_venue_quotes(v: int, acct: VenueAccount, want_bid: PlaceOrder | None, want_ask: PlaceOrder | None,
                        top: tuple | None, now_ns: int, seq: int, cfg: OrderConfig,
                        next_id: Callable[[PlaceOrder], str]) -> list[Action]:
    """Actions for venue ``v``; ``next_id`` names each order actually placed."""
    cancels: list[Action] = []
    places: list[Action] = []
    for side, want in ((1, want_bid), (-1, want_ask)):
        cid = acct.mm_bid if side > 0 else acct.mm_ask
        live = acct.open_orders.get(cid) if cid is not None else None
        if live is not None and want is not None:
            if top is None:
                passive = False
            else:
                passive = live.price < top[2] if side > 0 else live.price > top[0]
            if keep_live_order(live, want, now_ns, passive, cfg):
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
