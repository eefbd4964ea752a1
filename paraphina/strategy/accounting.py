"""Perp position accounting: position, average entry, realised PnL, fees, funding, aggregates.

STRATEGY.md 4.11 and 4.3, decisions 4 (a fill is accounted on its own event) and 11 (funding
accrues into realised PnL at each settlement). Sizes in TAO, prices in USD per TAO, PnL in USD.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np

from paraphina.strategy.jit import kernel

FLAT_EPS = 1e-12


class PositionFill(msgspec.Struct, frozen=True, kw_only=True):
    """A venue position after one fill and what the fill realised."""

    position: float
    avg_entry: float
    realised: float   # USD realised by this fill, fee already subtracted
    fee: float        # USD fee paid (negative = rebate received)


def apply_fill(position: float, avg_entry: float, side: int, price: float, size: float, fee_bps: float) -> PositionFill:
    """Fold one fill into a venue position with the perp VWAP rules.

    Same direction: the entry becomes the size-weighted average. Opposite direction: the
    closed part realises ``(price - entry)`` per TAO for a long (mirror for a short); a flip
    opens the remainder at ``price``; exactly flat resets the entry to 0. The fee
    ``fee_bps/1e4 * price * size`` always comes off realised.
    """
    trade = size if side > 0 else -size
    fee = fee_bps / 1e4 * price * size
    realised = 0.0
    if abs(position) <= FLAT_EPS:
        new_q, new_entry = trade, price
    elif (position > 0.0) == (trade > 0.0):
        new_q = position + trade
        new_entry = (avg_entry * abs(position) + price * abs(trade)) / (abs(position) + abs(trade))
    else:
        close = min(abs(trade), abs(position))
        realised = (price - avg_entry) * close if position > 0.0 else (avg_entry - price) * close
        new_q = position + trade
        if abs(new_q) <= FLAT_EPS:
            new_q, new_entry = 0.0, 0.0
        elif (new_q > 0.0) != (position > 0.0):
            new_entry = price  # flipped: the remainder opened at this fill's price
        else:
            new_entry = avg_entry  # partial close keeps the entry
    return PositionFill(position=new_q, avg_entry=new_entry, realised=realised - fee, fee=fee)


@kernel
def unrealised_pnl(position: float, fair_value: float, avg_entry: float) -> float:
    """Mark-to-fair PnL of an open position: ``q * (S - entry)`` (0 when flat)."""
    if position == 0.0:
        return 0.0
    return position * (fair_value - avg_entry)


def funding_payment(position: float, mark: float, rate_per_interval: float) -> float:
    """USD credited to realised PnL at a funding settlement (decision 11).

    ``-q * mark * rate``: with a positive rate longs pay and shorts receive.
    """
    return -position * mark * rate_per_interval


class Aggregates(msgspec.Struct, frozen=True, kw_only=True):
    """Global exposure at fair value S (STRATEGY.md 4.3)."""

    q: float            # TAO, sum of venue positions
    delta_usd: float    # q * S
    basis_usd: float    # sum q_v * (m_v - S)
    basis_gross_usd: float  # sum |q_v| * |m_v - S|
    unrealised: float   # sum q_v * (S - entry_v)


def aggregates(
    positions: Sequence[float],
    mids: Sequence[float | None],
    entries: Sequence[float],
    fair_value: float | None,
) -> Aggregates:
    """Inventory, dollar delta, basis and unrealised PnL over venues, in venue order.

    A venue without a mid contributes no basis (its mid is taken as S). Without a valid
    fair value everything is zero: nothing can be marked.
    """
    n = len(positions)
    q, delta, basis, gross, unreal = aggregate_columns(
        np.array(positions, dtype=np.float64).reshape(n), np.array([math.nan if m is None else m for m in mids], dtype=np.float64).reshape(n),
        np.array(entries, dtype=np.float64).reshape(n), math.nan if fair_value is None else float(fair_value))
    return Aggregates(q=q, delta_usd=delta, basis_usd=basis, basis_gross_usd=gross, unrealised=unreal)


@kernel
def aggregate_columns(positions: np.ndarray, mids: np.ndarray, entries: np.ndarray, fair_value: float):
    """:func:`aggregates` on arrays (NaN: no mid / no fair value); returns ``(q, delta_usd,
    basis_usd, basis_gross_usd, unrealised)``."""
    if not math.isfinite(fair_value) or fair_value <= 0.0:
        return 0.0, 0.0, 0.0, 0.0, 0.0
    s = fair_value
    q = delta = basis = gross = unreal = 0.0
    for i in range(positions.shape[0]):
        q_v = positions[i]
        mid = mids[i]
        q += q_v
        delta += q_v * s
        b_v = (mid if math.isfinite(mid) else s) - s
        basis += q_v * b_v
        gross += abs(q_v) * abs(b_v)
        unreal += unrealised_pnl(q_v, s, entries[i])
    return q, delta, basis, gross, unreal
