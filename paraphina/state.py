"""Engine state: per-venue accounts and orders, global clock/risk, and the books.

Everything is plain data (msgspec Structs, mutable for speed, plus the numpy arrays of
:class:`~paraphina.book.Books`) so :func:`dump_state` / :func:`load_state` round-trip it exactly:
a checkpoint at seq N plus the rest of the log replays to the same bytes as the full log.

Positions are integer lots (exact); money is float quote currency.
"""

from __future__ import annotations

from typing import Any

import msgspec

from paraphina.book import Books
from paraphina.strategy.model import StrategyModel, new_model


class OpenOrder(msgspec.Struct, kw_only=True):
    client_order_id: str
    side: int
    price: int
    size: int
    remaining: int
    placed_ns: int
    purpose: str = "mm"
    acked: bool = False


class VenueAccount(msgspec.Struct, kw_only=True):
    position: int = 0               # lots, signed
    avg_entry: float = 0.0          # price units; 0 when flat
    realised: float = 0.0           # quote currency, fees and funding included
    fees: float = 0.0
    funding: float = 0.0
    fills: int = 0
    balance: float = 0.0
    margin_used: float = 0.0
    margin_available: float = 10_000.0
    liquidation_price: int = -1     # ticks; -1 unknown
    funding_rate: float = 0.0
    funding_interval_ms: int = 28_800_000
    funding_received_ns: int = -1
    next_funding_ns: int = -1
    mark_price: int = -1
    rejects: int = 0
    open_orders: dict[str, OpenOrder] = {}
    mm_bid: str | None = None       # client id of the live MM bid
    mm_ask: str | None = None


class GapReport(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    venue: int
    ts_ns: int
    source: str = "engine"


class CoreState(msgspec.Struct, kw_only=True):
    next_seq: int = 0
    now_ns: int = -1
    tick_index: int = 0
    next_main_ns: int = -1
    next_hedge_ns: int = -1
    next_risk_ns: int = -1
    last_fill_flush_ns: int = -1
    fills_pending: bool = False
    order_counter: int = 0
    kill_switch: bool = False
    kill_reason: str = ""
    kill_handled: bool = False
    risk_regime: str = "Normal"
    policy_fault_seq: int = -1      # seq of the last PolicyFault event naming this engine's policy
    last_main_seq: int = -1         # seq of the event that ran the previous main tick
    fair_value: float = 0.0
    fv_available: bool = False
    day_index: int = -1
    realised_at_day_start: float = 0.0
    daily_realised: float = 0.0
    daily_unrealised: float = 0.0
    daily_total: float = 0.0
    gap_reports: list[GapReport] = []
    gaps_total: int = 0
    venues: list[VenueAccount] = []
    memory: dict[str, Any] = {}     # policy memory (msgpack-serialisable values only)
    model: StrategyModel = msgspec.field(default_factory=StrategyModel)  # fair value, vol, toxicity, risk memory
    # The last main tick's exposure, kept for the kill report (an operator kill can arrive between
    # ticks, and after a checkpoint resume there is no tick model yet).
    delta_usd: float = 0.0
    basis_usd: float = 0.0
    dist_liq: list[float] = []


MAX_GAP_REPORTS = 1000


class EngineState:
    """The whole state: ``core`` (Structs) and ``books`` (arrays)."""

    __slots__ = ("core", "books")

    def __init__(self, core: CoreState, books: Books) -> None:
        self.core = core
        self.books = books

    @classmethod
    def new(cls, n_venues: int, capacity: int, ticks: list[float]) -> "EngineState":
        core = CoreState(venues=[VenueAccount() for _ in range(n_venues)], model=new_model(n_venues))
        return cls(core, Books(n_venues, capacity, ticks))


_encoder = msgspec.msgpack.Encoder()


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """A serialised engine state plus what it must be resumed with."""

    format: int
    config_hash: str
    policy: str
    core: CoreState
    books: dict[str, Any]


def dump_state(state: EngineState, config_hash: str, policy: str) -> bytes:
    return _encoder.encode(Checkpoint(format=1, config_hash=config_hash, policy=policy,
                                      core=state.core, books=state.books.to_dict()))


def load_state(data: bytes) -> tuple[EngineState, Checkpoint]:
    cp = msgspec.msgpack.decode(data, type=Checkpoint)
    return EngineState(cp.core, Books.from_dict(cp.books)), cp
