"""What a policy wants, before the shield turns it into orders.

An intent is a float price and size in the instrument's natural units (quote currency per base
unit, base units). The shield snaps it to the venue's integer ticks and lots (post-only rounds
passive, IOC rounds aggressive, sizes round down), validates it, and order management turns the
survivors into place/cancel actions.
"""

from __future__ import annotations

import msgspec


class OrderIntent(msgspec.Struct, frozen=True, kw_only=True):
    venue: int
    side: int            # +1 buy, -1 sell
    price: float         # quote currency per base unit (the shield snaps to ticks: post-only rounds passive, IOC rounds aggressive)
    size: float          # base units (the shield rounds down to lots)
    purpose: str = "mm"  # "mm" | "exit" | "hedge"
    time_in_force: str = "GTC"  # "GTC" | "IOC"
    post_only: bool = True
    reduce_only: bool = False
