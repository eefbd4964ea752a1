"""Every input the engine folds: one tagged union of small frozen msgspec Structs.

Conventions (DESIGN.md, "Events"):

* ``ts_ns`` is the local receive time in nanoseconds. It is informational for ordering
  across venues when a log is *built* (merge sorts by it); replay order is the log's ``seq``.
* ``venue`` is the index of the venue in the log's instrument table (``Instrument`` list in
  the log metadata); ``-1`` means "not venue specific".
* Prices are integer **ticks** and sizes integer **lots** of that venue's instrument. Decimal
  strings from venues are converted exactly by :mod:`paraphina.decimals`, never via floats.
* Sides are ``+1`` (bid / buy) and ``-1`` (ask / sell).
* Money amounts (fees, balances, funding payments) are floats in the quote currency: they
  only ever feed PnL arithmetic, never a price or size.

Evolution follows msgspec's rules: append fields with defaults; a changed event gets an
upcaster in :data:`UPCASTERS` keyed by the schema version it was written with.

The ``KIND`` class constant is the stable one-byte code stored in the log's ``kind`` column.
Codes never change meaning; new kinds take new codes.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

SCHEMA_VERSION = 1

BID = 1
ASK = -1
BUY = 1
SELL = -1


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    KIND: ClassVar[int] = 0
    ts_ns: int


# --- market -------------------------------------------------------------------------------


class BookSnapshot(_Event, tag="book_snapshot"):
    """A full L2 book for one venue: replaces every level and makes the book valid again.

    Levels are parallel lists; bids in any order, asks in any order (the engine sorts).
    ``venue_seq`` is the venue's update id the snapshot corresponds to (``-1`` if none).
    """

    KIND: ClassVar[int] = 1
    venue: int
    venue_seq: int = -1
    bid_px: list[int] = []
    bid_sz: list[int] = []
    ask_px: list[int] = []
    ask_sz: list[int] = []


class BookDelta(_Event, tag="book_delta"):
    """One venue message's level changes (size 0 deletes the level).

    ``venue_seq`` is the update id after this message; ``prev_venue_seq`` the update id of
    the book state it applies onto (importers normalise each venue's continuity rule to this
    one), or ``-1`` when the venue gives no continuity information. A mismatch is a gap: the
    book is invalid until the next snapshot. ``last_in_batch`` is ``False`` on all but the
    last delta of a venue message split into several events.
    """

    KIND: ClassVar[int] = 2
    venue: int
    venue_seq: int = -1
    prev_venue_seq: int = -1
    bid_px: list[int] = []
    bid_sz: list[int] = []
    ask_px: list[int] = []
    ask_sz: list[int] = []
    last_in_batch: bool = True


class Trade(_Event, tag="trade"):
    """A public trade; ``side`` is the aggressor's side."""

    KIND: ClassVar[int] = 3
    venue: int
    price: int
    size: int
    side: int
    trade_id: str = ""


class FundingRate(_Event, tag="funding_rate"):
    """The venue's current funding rate per settlement interval (dimensionless)."""

    KIND: ClassVar[int] = 4
    venue: int
    rate: float
    interval_ms: int = 28_800_000
    next_funding_ts_ns: int = -1


class MarkPrice(_Event, tag="mark_price"):
    """The venue's mark and index price (``-1``: not given).

    Venues publish these off the order grid (Bybit's documented ticker has ``"markPrice":
    "17217.33"`` for a 0.1-tick contract), so they are kept exactly on a finer grid: both count
    units of ``tick_size / 10**sub_tick_digits`` (``0``: whole ticks, as every log written before
    the field existed). :meth:`mark_ticks` is the mark on the order grid.
    """

    KIND: ClassVar[int] = 5
    venue: int
    mark_price: int
    index_price: int = -1
    sub_tick_digits: int = 0

    def mark_ticks(self) -> int:
        """The mark price in whole ticks, rounded half to even."""
        return ticks_of_fine(self.mark_price, self.sub_tick_digits)


def ticks_of_fine(units: int, sub_tick_digits: int) -> int:
    """``units`` of ``tick / 10**sub_tick_digits`` in whole ticks, rounded half to even (exact integers)."""
    if sub_tick_digits <= 0 or units < 0:
        return units
    q, r = divmod(units, 10**sub_tick_digits)
    half = 5 * 10 ** (sub_tick_digits - 1)
    return q + 1 if r > half or (r == half and q % 2) else q


# --- account ------------------------------------------------------------------------------


class Fill(_Event, tag="fill"):
    """One execution of our own order. ``fee`` is paid (positive) or received (negative)."""

    KIND: ClassVar[int] = 10
    venue: int
    client_order_id: str
    side: int
    price: int
    size: int
    fee: float = 0.0
    liquidity: str = "maker"
    trade_id: str = ""


class OrderAccepted(_Event, tag="order_accepted"):
    KIND: ClassVar[int] = 11
    venue: int
    client_order_id: str
    exchange_order_id: str = ""


class OrderRejected(_Event, tag="order_rejected"):
    KIND: ClassVar[int] = 12
    venue: int
    client_order_id: str
    reason: str = ""


class OrderCanceled(_Event, tag="order_canceled"):
    KIND: ClassVar[int] = 13
    venue: int
    client_order_id: str
    reason: str = ""


class BalanceUpdate(_Event, tag="balance_update"):
    KIND: ClassVar[int] = 14
    venue: int
    balance: float
    margin_used: float = 0.0
    margin_available: float = 0.0


class PositionSnapshot(_Event, tag="position_snapshot"):
    """The venue's view of our position; overrides the engine's own accounting."""

    KIND: ClassVar[int] = 15
    venue: int
    position: int
    avg_entry_price: float = 0.0
    liquidation_price: int = -1


class FundingPayment(_Event, tag="funding_payment"):
    """Funding settled on our position: ``amount`` is received (positive) or paid (negative)."""

    KIND: ClassVar[int] = 16
    venue: int
    amount: float
    rate: float = 0.0
    position: int = 0
    mark_price: int = -1


# --- clock --------------------------------------------------------------------------------


class Timer(_Event, tag="timer"):
    """The clock: the engine runs whichever loops are due at ``ts_ns``. It never reads a wall clock."""

    KIND: ClassVar[int] = 20


# --- session / control --------------------------------------------------------------------


class SessionStart(_Event, tag="session_start"):
    KIND: ClassVar[int] = 30
    source: str = ""
    config_hash: str = ""
    versions: dict[str, str] = {}
    note: str = ""


class BookReset(_Event, tag="book_reset"):
    """The book of ``venue`` is invalid until its next snapshot (reconnect, resubscribe)."""

    KIND: ClassVar[int] = 31
    venue: int
    reason: str = ""


class GapDetected(_Event, tag="gap_detected"):
    """A recorder or importer saw a venue sequence gap; the book is invalid until a snapshot."""

    KIND: ClassVar[int] = 32
    venue: int
    expected: int = -1
    received: int = -1
    source: str = ""


class OperatorKill(_Event, tag="operator_kill"):
    KIND: ClassVar[int] = 33
    reason: str = "operator"


class PolicyFault(_Event, tag="policy_fault"):
    """A live or shadow runner's nondeterministic fact (timeout, bad output), recorded so
    that replay takes the same fallback."""

    KIND: ClassVar[int] = 34
    policy: str
    fault: str
    detail: str = ""


Event = (
    BookSnapshot
    | BookDelta
    | Trade
    | FundingRate
    | MarkPrice
    | Fill
    | OrderAccepted
    | OrderRejected
    | OrderCanceled
    | BalanceUpdate
    | PositionSnapshot
    | FundingPayment
    | Timer
    | SessionStart
    | BookReset
    | GapDetected
    | OperatorKill
    | PolicyFault
)

EVENT_TYPES: tuple[type, ...] = Event.__args__  # type: ignore[attr-defined]
KIND_CODE: dict[type, int] = {t: t.KIND for t in EVENT_TYPES}
TYPE_BY_CODE: dict[int, type] = {t.KIND: t for t in EVENT_TYPES}
TYPE_BY_TAG: dict[str, type] = {t.__struct_config__.tag: t for t in EVENT_TYPES}
TAG_BY_CODE: dict[int, str] = {t.KIND: t.__struct_config__.tag for t in EVENT_TYPES}

MARKET_KINDS = frozenset({BookSnapshot.KIND, BookDelta.KIND, Trade.KIND})
"""Kinds stored in typed columns and folded by the compiled book kernel."""

# Upcasters: schema version -> function(dict) -> dict, applied to cold payloads written with
# an older version before decoding. Version 1 is the first; nothing to upcast yet.
UPCASTERS: dict[int, object] = {}


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """One venue's instrument: the units every integer price and size in the log is in.

    ``tick_size`` and ``lot_size`` are decimal strings (exact). ``contract_size`` converts one
    lot to the base asset when a venue trades contracts (Binance COIN-M: 100 USD per contract
    is *not* a base-asset size; importers convert where the config asks for it).
    """

    venue: str
    symbol: str
    tick_size: str
    lot_size: str
    min_notional: str = "0"
    kind: str = "perp"
    quote: str = "USD"
    base: str = ""
    contract_size: str = ""
    """Empty: sizes are in the base asset. Otherwise one unit of size is a contract worth
    ``contract_size`` units of ``quote`` (inverse contracts, e.g. Binance COIN-M BTCUSD_PERP: "100")."""

    @property
    def tick(self) -> float:
        return float(self.tick_size)

    @property
    def lot(self) -> float:
        return float(self.lot_size)


def event_venue(ev: _Event) -> int:
    return getattr(ev, "venue", -1)
