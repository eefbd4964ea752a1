"""Plain inputs shared by the strategy modules: the per-venue snapshot and venue status.

The engine builds one :class:`VenueInput` per venue per main tick from its state (books,
account, funding); prices and sizes here are floats in instrument units (USD per TAO, TAO).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import msgspec
import numpy as np

from paraphina.strategy.jit import kernel

HEALTHY = "Healthy"
WARNING = "Warning"
DISABLED = "Disabled"
# Never had a two-sided book: nothing is known about the venue yet (decision 2). It takes no
# part in anything, like Disabled, but it is not a verdict on the venue.
NOT_YET_AVAILABLE = "NotYetAvailable"

STATUS_RANK = {HEALTHY: 0, WARNING: 1, DISABLED: 2, NOT_YET_AVAILABLE: 3}

BUY = 1
SELL = -1


def worst_status(*statuses: str) -> str:
    """The most restrictive of the given statuses."""
    return max(statuses, key=STATUS_RANK.__getitem__)


def is_tradeable(status: str) -> bool:
    """Healthy and Warning venues may trade; Disabled and not-yet-available ones may not."""
    return tradeable_code(STATUS_RANK[status])


@kernel
def tradeable_code(code: int) -> bool:
    """:func:`is_tradeable` on a status code."""
    return code == S_HEALTHY or code == S_WARNING


class VenueInput(msgspec.Struct, frozen=True, kw_only=True):
    """One venue as the strategy sees it at a main tick.

    ``mid`` is None while the venue has no two-sided book; ``last_mid_update_ms`` is None if it
    never had one. ``bids``/``asks`` are optional deeper levels (price, size), best first; when
    empty, the top of book (``best_bid``/``best_ask`` with their sizes) is the only level.
    ``price_liq`` None means the liquidation price is unknown: no liquidation constraint.
    Fees are in basis points of notional (positive = cost).
    """

    venue: int
    name: str = ""
    mid: float | None = None
    spread: float = 0.0
    best_bid: float = 0.0
    best_ask: float = 0.0
    bid_size: float = 0.0
    ask_size: float = 0.0
    bids: tuple[tuple[float, float], ...] = ()
    asks: tuple[tuple[float, float], ...] = ()
    depth_usd: float = 0.0
    last_mid_update_ms: int | None = None
    local_vol_short: float = 0.0
    local_vol_long: float = 0.0
    position: float = 0.0
    avg_entry: float = 0.0
    funding_8h: float = 0.0
    funding_received_ms: int | None = None
    next_funding_ms: int | None = None
    price_liq: float | None = None
    margin_available_usd: float = 0.0
    tick_size: float = 0.01
    lot_size: float = 0.01
    size_step: float = 0.01
    min_notional_usd: float = 10.0
    maker_fee_bps: float = 2.0
    maker_rebate_bps: float = 0.0
    taker_fee_bps: float = 5.0
    max_order_size: float = 20.0
    stale_ms_override: int | None = None
    is_hedge_allowed: bool = True
    # Per-venue strategy constants (STRATEGY.md 2.2)
    gamma: float = 0.10
    k: float = 1.5
    w_liq: float = 0.25
    w_fund: float = 0.25


class BookLevels(Sequence):
    """One side of a venue's book as ``(price, size)`` float pairs, best first: a tuple that is
    built from the engine's level arrays only when something reads it (only exits walk the
    levels; building a hundred pairs every tick cost more than the rest of the venue input).
    Compares equal to the tuple of its pairs."""

    __slots__ = ("_arr", "_v", "_side", "_n", "_pairs")

    def __init__(self, arr: np.ndarray, v: int, side: int, n: int) -> None:
        self._arr, self._v, self._side, self._n, self._pairs = arr, v, side, n, None

    def pairs(self) -> tuple[tuple[float, float], ...]:
        if self._pairs is None:
            row = self._arr[self._v, self._side, :, : self._n].tolist()
            self._pairs = tuple(zip(row[0], row[1]))
        return self._pairs

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        return self.pairs()[i]

    def __iter__(self):
        return iter(self.pairs())

    def __eq__(self, other: object) -> bool:
        return self.pairs() == (other.pairs() if isinstance(other, BookLevels) else other)

    def __hash__(self) -> int:
        return hash(self.pairs())

    def __repr__(self) -> str:
        return repr(self.pairs())


def book_age_ms(v: VenueInput, now_ms: int) -> int | None:
    """Milliseconds since the venue's last valid mid, or None if it never had one."""
    if v.last_mid_update_ms is None:
        return None
    return now_ms - v.last_mid_update_ms


def is_fresh(v: VenueInput, now_ms: int, stale_ms: int) -> bool:
    """True if the venue has a mid no older than ``stale_ms`` (boundary inclusive)."""
    return mid_is_fresh(v.last_mid_update_ms is not None, v.last_mid_update_ms or 0, now_ms, stale_ms)


@kernel
def mid_is_fresh(has_mid_ms: bool, mid_ms: int, now_ms: int, stale_ms: int) -> bool:
    """:func:`is_fresh` on the last mid's time (``has_mid_ms`` False: never had one)."""
    return has_mid_ms and now_ms - mid_ms <= stale_ms


def has_valid_book(v: VenueInput) -> bool:
    """A usable two-sided top of book: finite positive mid and spread."""
    return v.mid is not None and book_is_valid(float(v.mid), float(v.spread))


@kernel
def book_is_valid(mid: float, spread: float) -> bool:
    """:func:`has_valid_book` on the numbers (a missing mid is NaN)."""
    return math.isfinite(mid) and mid > 0.0 and math.isfinite(spread) and spread > 0.0


@kernel
def floor_to_step(x: float, step: float) -> float:
    """``x`` rounded down to a multiple of ``step``; a relative 1e-9 slack absorbs float noise
    so that e.g. 0.3 on a 0.1 step stays 0.3 instead of 0.2."""
    if step <= 0.0 or x <= 0.0:
        return 0.0
    n = math.floor(x / step + 1e-9)
    return n * step


@kernel
def sign(x: float) -> int:
    """+1, -1 or 0."""
    return 1 if x > 0.0 else (-1 if x < 0.0 else 0)


@kernel
def clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else (hi if x > hi else x)


# --- the venues as arrays, for the compiled kernels ------------------------------------------
# One row per venue. Float columns (None prices are NaN):
(C_MID, C_SPREAD, C_BEST_BID, C_BEST_ASK, C_DEPTH, C_POSITION, C_MARGIN, C_TICK, C_LOT, C_MAX_ORDER, C_MAKER_FEE,
 C_MAKER_REBATE, C_GAMMA, C_K, C_W_LIQ, C_W_FUND, C_FUNDING_8H, C_VOL_SHORT, C_AVG_ENTRY, C_PRICE_LIQ) = range(20)
N_FLOAT_COLUMNS = 20
# Integer columns (an optional time is a value and a "has" flag; a stale override of None is 0,
# which every caller already reads as "none"):
(C_MID_MS, C_HAS_MID_MS, C_STALE_OVERRIDE, C_FUND_MS, C_HAS_FUND_MS, C_NEXT_FUND_MS, C_HAS_NEXT_FUND,
 C_VENUE, C_HAS_MID) = range(9)
N_INT_COLUMNS = 9
_NAN = math.nan


class VenueInputs(Sequence):
    """An immutable sequence of :class:`VenueInput` (what the engine hands policies each tick)
    that keeps its :func:`venue_columns` once built: the model, quoting, exits and hedge of a
    tick read the same arrays instead of rebuilding them. Both it and its items are immutable,
    so the cache cannot go stale.

    ``make`` (with ``n``) builds item ``i`` on its first read instead of up front: the engine
    fills the columns itself and captures each venue's values at the tick, so a tick whose
    policy reads only the columns (or nothing) builds no struct. Compares equal to the tuple
    of its items."""

    __slots__ = ("_items", "_make", "columns")

    def __init__(self, items: Iterable[VenueInput] = (), *, make: Callable[[int], VenueInput] | None = None,
                 n: int = 0, columns: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self._items: list[VenueInput | None] = list(items) if make is None else [None] * n
        self._make = make
        self.columns = columns

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self._items))))
        item = self._items[i]
        if item is None:
            item = self._make(i if i >= 0 else i + len(self._items))
            self._items[i] = item
        return item

    def __iter__(self) -> Iterator[VenueInput]:
        for i in range(len(self._items)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (VenueInputs, tuple)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"VenueInputs({tuple(self)!r})"


def venue_columns(venues: Sequence[VenueInput]) -> tuple[np.ndarray, np.ndarray]:
    """The venues' float and integer columns (``C_*``), one row per venue, in venue order.

    The arrays of a :class:`VenueInputs` are built once and shared: callers never write to them.
    """
    if isinstance(venues, VenueInputs):
        if venues.columns is None:
            venues.columns = _build_columns(venues)
        return venues.columns
    return _build_columns(venues)


def _build_columns(venues: Sequence[VenueInput]) -> tuple[np.ndarray, np.ndarray]:
    f = np.array([
        (_NAN if v.mid is None else v.mid, v.spread, v.best_bid, v.best_ask, v.depth_usd, v.position,
         v.margin_available_usd, v.tick_size, v.lot_size, v.max_order_size, v.maker_fee_bps, v.maker_rebate_bps,
         v.gamma, v.k, v.w_liq, v.w_fund, v.funding_8h, v.local_vol_short, v.avg_entry,
         _NAN if v.price_liq is None else v.price_liq)
        for v in venues
    ], dtype=np.float64).reshape(len(venues), N_FLOAT_COLUMNS)
    ints = np.array([
        (v.last_mid_update_ms or 0, v.last_mid_update_ms is not None, v.stale_ms_override or 0,
         v.funding_received_ms or 0, v.funding_received_ms is not None, v.next_funding_ms or 0,
         v.next_funding_ms is not None, v.venue, v.mid is not None)
        for v in venues
    ], dtype=np.int64).reshape(len(venues), N_INT_COLUMNS)
    return f, ints


def status_codes(statuses: Sequence[str]) -> np.ndarray:
    """Statuses as their :data:`STATUS_RANK` codes (what kernels compare)."""
    return np.array([STATUS_RANK[s] for s in statuses], dtype=np.int64).reshape(len(statuses))


STATUS_NAMES = tuple(sorted(STATUS_RANK, key=STATUS_RANK.__getitem__))   # code -> status
S_HEALTHY, S_WARNING, S_DISABLED, S_NOT_YET_AVAILABLE = (STATUS_RANK[s] for s in STATUS_NAMES)
