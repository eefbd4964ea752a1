"""Applying a shielded :class:`~paraphina.rl.schema.KnobAction` to the heuristic's intents.

Pure functions on Python floats. A learned policy never writes orders of its own: it takes the
heuristic's quotes and hedges and moves only the bounded knobs, and everything still passes the
engine's shield afterwards (ticks, lots, caps, post-only, regime, kill).

Quotes, per venue: with a bid and an ask, the centre ``r = (bid + ask) / 2`` and the half-spread
``h = (ask - bid) / 2`` become ``r + offset_ticks * tick`` and ``h * spread_scale``; a lone quote
keeps its distance ``d`` to the venue mid (the fair value when the venue has no mid) scaled the
same way. Sizes are multiplied by ``size_scale``; a quote scaled below one lot is dropped.

Hedge: the heuristic's hedge total ``T`` (signed, over its IOC intents) becomes
``hedge_scale * T``, shared over the venues the heuristic chose in proportion to the action's
weights there (the heuristic's own shares when the weights give those venues nothing); each
venue keeps the heuristic's guard price, and no venue gets more than ``|T|``. A learned policy
cannot hedge where or when the heuristic would not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from paraphina.intents import OrderIntent
from paraphina.rl.schema import KnobAction

_replace = msgspec.structs.replace


def _floor_lots(x: float, lot: float) -> float:
    if lot <= 0.0 or x <= 0.0:
        return 0.0
    return math.floor(x / lot + 1e-9) * lot


def apply_quote_knobs(intents: Sequence[OrderIntent], action: KnobAction, venue_inputs: Sequence,
                      fair_value: float | None) -> list[OrderIntent]:
    def is_quote(it: OrderIntent) -> bool:
        return it.purpose == "mm" and 0 <= it.venue < len(venue_inputs)

    by_venue: dict[int, list[OrderIntent]] = {}
    for it in intents:
        if is_quote(it):
            by_venue.setdefault(it.venue, []).append(it)
    out: list[OrderIntent] = []
    for it in intents:
        if not is_quote(it):
            out.append(it)
            continue
        v = it.venue
        group = by_venue[v]
        vi = venue_inputs[v]
        s = action.spread_scale[v]
        shift = action.offset_ticks[v] * vi.tick_size
        bids = [x for x in group if x.side > 0]
        asks = [x for x in group if x.side < 0]
        if len(bids) == 1 and len(asks) == 1:
            centre = 0.5 * (bids[0].price + asks[0].price)
        else:
            centre = vi.mid if vi.mid is not None else fair_value
        if centre is None:
            out.append(it)
            continue
        dist = abs(it.price - centre) * s
        price = centre + shift - dist if it.side > 0 else centre + shift + dist
        size = _floor_lots(it.size * action.size_scale[v], vi.lot_size)
        if size <= 0.0 or not price > 0.0:
            continue
        out.append(_replace(it, price=price, size=size))
    return out


def apply_hedge_knobs(intents: Sequence[OrderIntent], action: KnobAction, venue_inputs: Sequence) -> list[OrderIntent]:
    hedges = [it for it in intents if it.purpose == "hedge" and 0 <= it.venue < len(venue_inputs)]
    if not hedges:
        return list(intents)
    sides = {it.side for it in hedges}
    if len(sides) != 1:  # the heuristic hedges one way per tick; anything else passes untouched
        return list(intents)
    total = math.fsum(it.size for it in hedges)
    target = action.hedge_scale * total
    weights = [action.hedge_weights[it.venue] for it in hedges]
    wsum = math.fsum(weights)
    shares = [w / wsum for w in weights] if wsum > 0.0 else [it.size / total for it in hedges]
    out: list[OrderIntent] = [it for it in intents if it not in hedges]
    for it, share in zip(hedges, shares):
        size = _floor_lots(min(target * share, total), venue_inputs[it.venue].lot_size)
        if size > 0.0:
            out.append(_replace(it, size=size))
    return out


def heuristic_hedge_weights(hedges: Sequence[OrderIntent], n_venues: int) -> list[float]:
    """The heuristic's hedge allocation as shares over venues (uniform when it does not hedge):
    the hedge weights of the identity action that behaviour cloning learns."""
    sizes = [0.0] * n_venues
    for it in hedges:
        if it.purpose == "hedge" and 0 <= it.venue < n_venues:
            sizes[it.venue] += it.size
    total = math.fsum(sizes)
    if total <= 0.0:
        return [1.0 / n_venues] * n_venues
    return [x / total for x in sizes]
