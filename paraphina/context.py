"""What a policy sees on a tick: a read-only view of the engine state in float units."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from paraphina.config import Config, VenueConfig
from paraphina.events import Instrument


class VenueView(msgspec.Struct, frozen=True, kw_only=True):
    """One venue at this tick. Prices in quote currency, sizes in base units (floats)."""

    index: int
    name: str
    tick: float
    lot: float
    config: VenueConfig
    book_valid: bool
    best_bid: float | None
    best_ask: float | None
    bid_size: float
    ask_size: float
    mid: float | None
    spread: float | None
    last_book_ns: int
    last_mid_ns: int
    local_vol_short: float
    local_vol_long: float
    position: float
    avg_entry: float
    margin_available: float
    liquidation_price: float | None
    funding_rate: float
    mm_bid_price: float | None
    mm_ask_price: float | None

    @property
    def quotable(self) -> bool:
        return self.book_valid and self.mid is not None


class TickContext:
    """Passed to every hook. Attributes are read-only by convention except ``memory``.

    ``state`` and ``books`` give full access for advanced policies (e.g. ``books.levels``);
    most policies need only ``venues``, ``fair_value``, ``position`` and ``config``.
    """

    __slots__ = ("now_ns", "seq", "tick_index", "config", "instruments", "_venues", "fair_value",
                 "fv_available", "position", "risk_regime", "state", "books", "memory", "model",
                 "venue_inputs", "policy_fault")

    def __init__(self, *, now_ns: int, seq: int, tick_index: int, config: Config,
                 instruments: list[Instrument], venues: list[VenueView] | Callable[[], list[VenueView]],
                 fair_value: float | None,
                 fv_available: bool, position: float, risk_regime: str, state: Any, books: Any,
                 memory: dict, model: Any = None, venue_inputs: Any = (), policy_fault: bool = False) -> None:
        self.now_ns = now_ns
        self.seq = seq
        self.tick_index = tick_index
        self.config = config
        self.instruments = instruments
        self._venues = venues  # built on first use: policies that read only the model skip the cost
        self.fair_value = fair_value
        self.fv_available = fv_available
        self.position = position
        self.risk_regime = risk_regime
        self.state = state
        self.books = books
        self.memory = memory
        self.model = model                # the core's TickModel of this tick (fair value, vol, risk)
        self.venue_inputs = venue_inputs  # per-venue strategy inputs (paraphina.strategy.common.VenueInput)
        # True when a PolicyFault event for this policy arrived since the previous main tick: a
        # live or shadow runner recorded that the policy failed (timeout, bad output) here, so a
        # learned policy must take its fallback on this tick to replay what really happened.
        self.policy_fault = policy_fault

    @property
    def venues(self) -> list[VenueView]:
        """One :class:`VenueView` per venue, in venue order."""
        if callable(self._venues):
            self._venues = self._venues()
        return self._venues

    @property
    def now_ms(self) -> int:
        return self.now_ns // 1_000_000
