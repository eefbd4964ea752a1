"""touch-joiner: quote one tick behind each venue's touch; skip venues whose touch is thin.

A deliberately small but real policy, to show the whole shape of a plugin: a class with
``name`` and ``version``, hook implementations marked with ``paraphina.hookspecs.hookimpl``,
intents out, nothing else. The engine's shield and order management do the rest.
"""

from __future__ import annotations

from paraphina.hookspecs import hookimpl
from paraphina.intents import OrderIntent


class TouchJoiner:
    name = "touch-joiner"
    version = "0.1.0"

    #: quote only where both touches hold at least this many base units
    min_touch_size = 0.01
    #: order size, base units, shrunk as inventory grows (linear to zero at max_inventory)
    size = 0.5
    max_inventory = 5.0

    @hookimpl
    def paraphina_quotes(self, ctx):
        out = []
        for v in ctx.venues:
            if not v.quotable or min(v.bid_size, v.ask_size) < self.min_touch_size:
                continue
            room_long = max(0.0, 1.0 - max(0.0, v.position) / self.max_inventory)
            room_short = max(0.0, 1.0 - max(0.0, -v.position) / self.max_inventory)
            if room_long > 0:
                out.append(OrderIntent(venue=v.index, side=1, price=v.best_bid - v.tick, size=self.size * room_long))
            if room_short > 0:
                out.append(OrderIntent(venue=v.index, side=-1, price=v.best_ask + v.tick, size=self.size * room_short))
        return out
