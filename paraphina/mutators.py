"""Pure mutator functions, one per non-market event kind: ``apply_<kind>(core, event, units)``.

Market events (books, trades) are folded by the compiled kernel in :mod:`paraphina.book`; the
clock (timer) drives the loops in :mod:`paraphina.engine`. Everything else changes the state
here, and nothing here emits actions. ``units`` gives each venue's tick and lot size.

Accounting (STRATEGY.md 4.11, decision 4): a fill updates position, average entry and realised
PnL (fees included) on the fill event itself, and leaves the open-order table at once when
filled; funding payments add to realised PnL (decision 11).
"""

from __future__ import annotations

from collections.abc import Callable

from paraphina import events as ev
from paraphina.state import CoreState, GapReport, MAX_GAP_REPORTS, VenueAccount


class Units:
    __slots__ = ("ticks", "lots")

    def __init__(self, ticks: list[float], lots: list[float]) -> None:
        self.ticks = ticks
        self.lots = lots


def apply_fill_accounting(acct: VenueAccount, side: int, price: float, lots: int, lot: float, fee: float) -> None:
    """Position, VWAP entry and realised PnL after one fill (exact position in lots)."""
    pos = acct.position
    new_pos = pos + side * lots
    if pos == 0 or (pos > 0) == (side > 0):
        acct.avg_entry = (abs(pos) * acct.avg_entry + lots * price) / abs(new_pos)
    else:
        closed = min(lots, abs(pos))
        direction = 1.0 if pos > 0 else -1.0
        acct.realised += closed * lot * (price - acct.avg_entry) * direction
        if new_pos == 0:
            acct.avg_entry = 0.0
        elif (new_pos > 0) != (pos > 0):
            acct.avg_entry = price  # flipped: the remainder opened at this price
    acct.position = new_pos
    acct.realised -= fee
    acct.fees += fee
    acct.fills += 1


def apply_fill(core: CoreState, e: ev.Fill, units: Units, seq: int) -> None:
    v = e.venue
    acct = core.venues[v]
    apply_fill_accounting(acct, e.side, e.price * units.ticks[v], e.size, units.lots[v], e.fee)
    order = acct.open_orders.get(e.client_order_id)
    if order is not None:
        order.remaining -= e.size
        if order.remaining <= 0:
            _forget(acct, e.client_order_id)
    core.fills_pending = True


def _forget(acct: VenueAccount, cid: str) -> None:
    acct.open_orders.pop(cid, None)
    if acct.mm_bid == cid:
        acct.mm_bid = None
    if acct.mm_ask == cid:
        acct.mm_ask = None


def apply_order_accepted(core: CoreState, e: ev.OrderAccepted, units: Units, seq: int) -> None:
    order = core.venues[e.venue].open_orders.get(e.client_order_id)
    if order is not None:
        order.acked = True


def apply_order_rejected(core: CoreState, e: ev.OrderRejected, units: Units, seq: int) -> None:
    acct = core.venues[e.venue]
    acct.rejects += 1
    _forget(acct, e.client_order_id)


def apply_order_canceled(core: CoreState, e: ev.OrderCanceled, units: Units, seq: int) -> None:
    _forget(core.venues[e.venue], e.client_order_id)


def apply_balance(core: CoreState, e: ev.BalanceUpdate, units: Units, seq: int) -> None:
    acct = core.venues[e.venue]
    acct.balance = e.balance
    acct.margin_used = e.margin_used
    acct.margin_available = e.margin_available


def apply_position(core: CoreState, e: ev.PositionSnapshot, units: Units, seq: int) -> None:
    acct = core.venues[e.venue]
    acct.position = e.position
    acct.avg_entry = e.avg_entry_price if e.position else 0.0
    acct.liquidation_price = e.liquidation_price


def apply_funding_rate(core: CoreState, e: ev.FundingRate, units: Units, seq: int) -> None:
    acct = core.venues[e.venue]
    acct.funding_rate = e.rate
    acct.funding_interval_ms = e.interval_ms
    acct.funding_received_ns = e.ts_ns
    acct.next_funding_ns = e.next_funding_ts_ns


def apply_mark_price(core: CoreState, e: ev.MarkPrice, units: Units, seq: int) -> None:
    core.venues[e.venue].mark_price = e.mark_ticks()


def apply_funding_payment(core: CoreState, e: ev.FundingPayment, units: Units, seq: int) -> None:
    acct = core.venues[e.venue]
    acct.realised += e.amount
    acct.funding += e.amount


def apply_gap(core: CoreState, e: ev.GapDetected | ev.BookReset, units: Units, seq: int) -> None:
    """Recorded gaps and resets are reported; the engine also invalidates the book."""
    core.gaps_total += 1
    if len(core.gap_reports) < MAX_GAP_REPORTS:
        core.gap_reports.append(GapReport(seq=seq, venue=e.venue, ts_ns=e.ts_ns, source=type(e).__name__))


def apply_operator_kill(core: CoreState, e: ev.OperatorKill, units: Units, seq: int) -> None:
    if not core.kill_switch:
        core.kill_switch = True
        core.kill_reason = f"OperatorKill: {e.reason}" if e.reason else "OperatorKill"
    core.risk_regime = "HardLimit"


def apply_nothing(core: CoreState, e: ev.Event, units: Units, seq: int) -> None:
    """Session start and policy faults change no core state (the engine reads faults itself)."""


MUTATORS: dict[type, Callable[[CoreState, ev.Event, Units, int], None]] = {
    ev.Fill: apply_fill,
    ev.OrderAccepted: apply_order_accepted,
    ev.OrderRejected: apply_order_rejected,
    ev.OrderCanceled: apply_order_canceled,
    ev.BalanceUpdate: apply_balance,
    ev.PositionSnapshot: apply_position,
    ev.FundingRate: apply_funding_rate,
    ev.MarkPrice: apply_mark_price,
    ev.FundingPayment: apply_funding_payment,
    ev.GapDetected: apply_gap,
    ev.BookReset: apply_gap,
    ev.OperatorKill: apply_operator_kill,
    ev.SessionStart: apply_nothing,
    ev.PolicyFault: apply_nothing,
}
