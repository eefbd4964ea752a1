"""What a policy asks for. The engine decides how: the shield snaps, clips and validates each
intent, then order management turns the survivors into place/cancel actions."""

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
