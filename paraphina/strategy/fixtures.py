"""Small builders of strategy inputs for tests, docs and notebooks (no I/O, deterministic)."""

from __future__ import annotations

import math

from paraphina.strategy.common import HEALTHY, VenueInput
from paraphina.strategy.tick import TickModel
from paraphina.strategy.volatility import VolScalars


def make_venue(venue: int = 0, mid: float | None = 100.0, spread: float = 0.02, **kw) -> VenueInput:
    """A healthy, fresh venue quoting ``mid ± spread/2`` with 20k USD of top-of-book depth."""
    fields = dict(
        venue=venue, name=f"v{venue}", mid=mid, spread=spread, best_bid=mid - spread / 2.0 if mid else 0.0, best_ask=mid + spread / 2.0 if mid else 0.0,
        bid_size=50.0, ask_size=50.0, depth_usd=20_000.0, last_mid_update_ms=0, margin_available_usd=10_000.0,
    )
    fields.update(kw)
    return VenueInput(**fields)  # type: ignore[arg-type]


def calm_vol(sigma_eff: float = 1.70103e-6, vrc: float = 0.25, spread_mult: float = 1.0, size_mult: float = 1.0,
             band_mult: float = 1.0) -> VolScalars:
    return VolScalars(sigma_short=sigma_eff, sigma_long=sigma_eff, sigma_eff=sigma_eff, vol_ratio=vrc, vol_ratio_clipped=vrc,
                      spread_mult=spread_mult, size_mult=size_mult, band_mult=band_mult)


def make_tick(n: int, *, fair_value: float = 100.0, q: float = 0.0, now_ms: int = 0, vol: VolScalars | None = None,
              statuses: tuple[str, ...] | None = None, toxicity: tuple[float, ...] | None = None,
              dist_liq: tuple[float, ...] | None = None, regime: str = "Normal", kill_switch: bool = False,
              delta_usd: float | None = None, delta_limit_usd: float = 400_000.0, basis_usd: float = 0.0,
              fv_available: bool = True, tick_sec: float = 0.25) -> TickModel:
    return TickModel(
        now_ms=now_ms, tick_sec=tick_sec, fair_value=fair_value, fv_available=fv_available, venues_used=tuple(range(n)),
        vol=vol or calm_vol(), q=q, delta_usd=q * fair_value if delta_usd is None else delta_usd, basis_usd=basis_usd,
        basis_gross_usd=abs(basis_usd), unrealised=0.0, realised_daily=0.0, unrealised_daily=0.0, pnl_daily=0.0,
        statuses=statuses or (HEALTHY,) * n, toxicity=toxicity or (0.0,) * n, dist_liq=dist_liq or (math.inf,) * n,
        delta_limit_usd=delta_limit_usd, regime=regime, kill_switch=kill_switch, kill_reason=None, kill_transition=False,
    )
