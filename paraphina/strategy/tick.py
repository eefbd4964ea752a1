"""The result of one main tick: everything quoting, exits and hedging read."""

from __future__ import annotations

import msgspec

from paraphina.strategy.volatility import VolScalars


class TickModel(msgspec.Struct, frozen=True, kw_only=True):
    now_ms: int
    tick_sec: float
    fair_value: float | None
    fv_available: bool
    reseeded: bool = False      # the fair-value filter (re-)initialised from the mids this tick
    venues_used: tuple[int, ...]
    vol: VolScalars
    # inventory and PnL (4.3)
    q: float
    delta_usd: float
    basis_usd: float
    basis_gross_usd: float
    unrealised: float
    realised_daily: float
    unrealised_daily: float
    pnl_daily: float
    # per venue, in venue order
    statuses: tuple[str, ...]
    toxicity: tuple[float, ...]
    dist_liq: tuple[float, ...]
    # risk
    delta_limit_usd: float
    regime: str
    kill_switch: bool
    kill_reason: str | None
    kill_transition: bool       # the kill latched on this very tick
    hard_breaches: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
