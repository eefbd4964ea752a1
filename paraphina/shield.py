"""The deterministic safety shield: every policy intent is snapped, clipped and validated here.

Rules, in order (an intent that fails one is dropped and counted under that rule's name):

1. ``no_book``: the venue's book is invalid or one-sided.
2. ``bad_number``: price or size is NaN, infinite or not positive.
3. Snapping. Price to ticks: post-only orders round *passive* (bid down, ask up), IOC orders
   round *aggressive* (buy up, sell down) so a guard price is never tightened. A tolerance of
   1e-9 tick absorbs float noise (``100.3 / 0.1 = 1002.999...`` is 1003 ticks). Size rounds
   down to lots; ``zero_size`` when nothing is left.
4. ``size_cap``: size clipped to the venue's ``max_order_size``, and in Warning to ``q_warn_cap``
   for maker quotes and for any order that would grow the global |position| (decision 17: exits
   and hedges that cut the risk are not shrunk by the regime meant to cut it).
5. ``post_only_cross``: a post-only bid at or above the best ask (ask at or below the best bid)
   is moved one tick inside the opposite touch, never across it.
6. ``position_cap``: an order that grows |position| beyond the venue's ``max_position`` is cut to
   what fits (dropped when nothing fits).
7. ``min_notional``: price x size below the venue's ``min_notional_usd``.
8. Regime: in HardLimit nothing new is placed; when killed nothing at all (``regime``).
9. ``reduce_only`` is set only when the order really reduces the venue's position (never on an
   order that grows or flips it), whatever the policy asked.

The shield only sees integers once it is done, so what leaves it is exact.
"""

from __future__ import annotations

import math

from paraphina.actions import PlaceOrder
from paraphina.config import Config
from paraphina.intents import OrderIntent
from paraphina.state import CoreState

_EPS = 1e-9


def to_ticks(price: float, tick: float, up: bool) -> int:
    x = price / tick
    return math.ceil(x - _EPS) if up else math.floor(x + _EPS)


def to_lots(size: float, lot: float) -> int:
    return math.floor(size / lot + _EPS)


class Shield:
    """Turns intents into exact, safe order parameters; keeps per-rule drop/clip counters."""

    def __init__(self, config: Config, venue_configs: list, ticks: list[float], lots: list[float]) -> None:
        self.config = config
        self.ticks = ticks
        self.lots = lots
        self.counters: dict[str, int] = {}
        # Per-venue limits, precomputed: (max order size, max position in lots, min notional).
        self._limits = [(vc.max_order_size, to_lots(vc.max_position, lot), vc.min_notional_usd)
                        for vc, lot in zip(venue_configs, lots)]
        self._q_warn_cap = config.risk.q_warn_cap
        # What check() reads per venue, in one tuple: (tick, lot, max order size, max position in
        # lots, min notional).
        self._venues = [(t, lot, *lim) for t, lot, lim in zip(ticks, lots, self._limits)]
        self._n = len(ticks)

    def _reduces_global(self, core: CoreState, side: int) -> bool:
        """Whether trading on ``side`` cuts the global position (base units, all venues)."""
        q = sum(a.position * lot for a, lot in zip(core.venues, self.lots))
        return q * side < 0.0

    def _count(self, rule: str) -> None:
        self.counters[rule] = self.counters.get(rule, 0) + 1

    def check(self, intent: OrderIntent, core: CoreState, tops: list, seq: int, client_order_id: str) -> PlaceOrder | None:
        """The safe order for ``intent``, or None; ``tops`` is :meth:`Books.tops` of this tick."""
        v = intent.venue
        regime = core.risk_regime
        if core.kill_switch or regime == "HardLimit":
            self._count("regime")
            return None
        if v < 0 or v >= self._n:
            self._count("bad_venue")
            return None
        top = tops[v]
        if top is None:
            self._count("no_book")
            return None
        price, size, side = intent.price, intent.size, intent.side
        if not (math.isfinite(price) and math.isfinite(size)) or price <= 0 or size <= 0 or (side != 1 and side != -1):
            self._count("bad_number")
            return None
        tick, lot, max_size, cap, min_notional = self._venues[v]
        post_only = intent.post_only and intent.time_in_force == "GTC"
        buy = side > 0
        x = price / tick
        if post_only != buy:  # post-only sell or IOC buy: round up
            px = math.ceil(x - _EPS)
        else:
            px = math.floor(x + _EPS)
        if regime == "Warning" and self._q_warn_cap < max_size and (
            intent.purpose == "mm" or not self._reduces_global(core, side)
        ):
            max_size = self._q_warn_cap
        if size > max_size:
            self._count("size_cap")
            size = max_size
        lots = math.floor(size / lot + _EPS)
        if lots <= 0:
            self._count("zero_size")
            return None
        if post_only:
            if buy and px >= top[2]:
                self._count("post_only_cross")
                px = top[2] - 1
            elif not buy and px <= top[0]:
                self._count("post_only_cross")
                px = top[0] + 1
        if px <= 0:
            self._count("bad_number")
            return None
        pos = core.venues[v].position
        new_pos = pos + side * lots
        if abs(new_pos) > cap and abs(new_pos) > abs(pos):
            fit = cap - pos if buy else cap + pos
            self._count("position_cap")
            if fit <= 0:
                return None
            lots = fit
        if px * tick * lots * lot < min_notional:
            self._count("min_notional")
            return None
        reduces = pos != 0 and (pos > 0) != buy and lots <= abs(pos)
        return PlaceOrder(
            seq=seq, venue=v, client_order_id=client_order_id, side=side, price=px, size=lots,
            purpose=intent.purpose, time_in_force="GTC" if post_only else intent.time_in_force,
            post_only=post_only, reduce_only=reduces,
        )
