"""Domain randomisation: a scenario per episode, drawn within declared bounds from the episode seed.

A policy trained on one market learns that market. :func:`randomised_scenario` takes a base
:class:`~paraphina.sim.scenario.Scenario` and an episode seed and returns a new scenario with,
per venue, fees, spread, displayed depth, slippage (order latency and the size of the trades
that sweep the book), funding rate and basis drawn within :class:`Randomisation`'s bounds, a
volatility regime for the fair value (calm, normal or stressed, a daily vol drawn log-uniformly
inside the regime's range; stressed regimes also jump), and, with declared probabilities, one
venue going stale and one venue going down for a window of the episode (scenario shocks
``venue_outage`` with ``mode: stale`` / ``outage``).

Determinism: every draw comes from one ``numpy.random.Generator`` (PCG64) seeded with
``SeedSequence([seed, RANDOMISATION_STREAM])``, so it is independent of the market generator's
own stream (seeded with the bare episode seed) and the same seed always gives the same scenario
(the draws are made in a fixed order: globals, then venues in order, then the shocks). Values
are rounded (fees and spreads to 1e-4 bp, vols to 1e-6) so a scenario reads back from YAML or
JSON exactly as drawn.

The engine's config is not randomised: the engine keeps believing the preset's fees while the
simulated exchange charges the drawn ones, one more way the training market differs from the
model's picture of it.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from paraphina.sim.scenario import Scenario, VenueOutage

RANDOMISATION_STREAM = 0x5EED_D0
Range = tuple[float, float]


class VolRegime(msgspec.Struct, frozen=True, kw_only=True):
    """A volatility regime: daily vol drawn log-uniformly in ``vol_daily``; jumps per hour drawn
    uniformly in ``jumps_per_hour`` (no jumps when its upper end is 0), log-size std ``jump_std``."""

    name: str
    weight: float
    vol_daily: Range
    jumps_per_hour: Range = (0.0, 0.0)
    jump_std: float = 0.0


def _default_regimes() -> list[VolRegime]:
    return [
        VolRegime(name="calm", weight=0.4, vol_daily=(0.005, 0.02)),
        VolRegime(name="normal", weight=0.4, vol_daily=(0.02, 0.05)),
        VolRegime(name="stressed", weight=0.2, vol_daily=(0.05, 0.15), jumps_per_hour=(2.0, 20.0), jump_std=0.003),
    ]


class Randomisation(msgspec.Struct, frozen=True, kw_only=True):
    """Bounds of every randomised quantity. Multipliers apply to the base scenario's values;
    ``*_add`` ranges are added to them; probabilities are per episode."""

    fee_mult: Range = (0.5, 1.5)                   # maker and taker fee (one draw per venue)
    spread_mult: Range = (0.7, 2.5)
    depth_mult: Range = (0.3, 1.5)                 # displayed size per level
    latency_add_ms: Range = (0.0, 80.0)            # slippage: orders rest / cross later
    trade_size_mult: Range = (0.5, 2.5)            # slippage: bigger sweeps of the book
    trades_mult: Range = (0.5, 2.0)                # trades per step
    funding_rate: Range = (-0.0005, 0.0005)        # per settlement
    basis_add_bps: Range = (-3.0, 3.0)
    regimes: list[VolRegime] = msgspec.field(default_factory=_default_regimes)
    stale_prob: float = 0.15                       # one venue's feed goes silent for a window
    outage_prob: float = 0.1                       # one venue goes down for a window
    window_frac: Range = (0.05, 0.3)               # window length, as a fraction of the episode

    def check(self) -> None:
        for name in ("fee_mult", "spread_mult", "depth_mult", "latency_add_ms", "trade_size_mult", "trades_mult",
                     "funding_rate", "basis_add_bps", "window_frac"):
            lo, hi = getattr(self, name)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise ValueError(f"randomisation.{name}: expected low <= high, got ({lo}, {hi})")
        if not self.regimes or any(r.weight < 0 for r in self.regimes) or sum(r.weight for r in self.regimes) <= 0:
            raise ValueError("randomisation.regimes: need at least one regime with a positive weight")
        for p in ("stale_prob", "outage_prob"):
            if not 0.0 <= getattr(self, p) <= 1.0:
                raise ValueError(f"randomisation.{p}: expected a probability")


def _uniform(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def _log_uniform(rng: np.random.Generator, r: Range) -> float:
    return math.exp(_uniform(rng, (math.log(r[0]), math.log(r[1])))) if r[0] > 0 else _uniform(rng, r)


def _round(x: float, step: float) -> float:
    return round(round(x / step) * step, 10)


def _window(rng: np.random.Generator, steps: int, frac: Range, venue: int, **kw) -> VenueOutage:
    length = max(1, int(_uniform(rng, frac) * steps))
    start = int(rng.integers(0, max(1, steps - length)))
    return VenueOutage(start_step=start, end_step=start + length, venue=venue, **kw)


def randomised_scenario(base: Scenario, seed: int, steps: int, bounds: Randomisation | None = None) -> Scenario:
    """``base`` with its parameters drawn within ``bounds`` from ``seed`` (see the module docstring);
    ``steps`` is the episode's length in generator steps (outage windows fall inside it)."""
    b = bounds or Randomisation()
    b.check()
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), RANDOMISATION_STREAM])))
    weights = np.asarray([r.weight for r in b.regimes], np.float64)
    regime = b.regimes[int(rng.choice(len(b.regimes), p=weights / weights.sum()))]
    vol = _round(_log_uniform(rng, regime.vol_daily), 1e-6)
    jumps = _round(_uniform(rng, regime.jumps_per_hour), 1e-4)
    market = msgspec.structs.replace(
        base.market, vol_daily=vol, vol_schedule=[], vol_markov=None,
        process="jump_diffusion" if jumps > 0 else "gbm", jumps_per_hour=jumps,
        jump_std=regime.jump_std if jumps > 0 else 0.0, jump_mean=0.0)
    venues = []
    for v in base.venues:
        fee = _uniform(rng, b.fee_mult)
        venues.append(msgspec.structs.replace(
            v,
            maker_fee_bps=_round(v.maker_fee_bps * fee, 1e-4), taker_fee_bps=_round(v.taker_fee_bps * fee, 1e-4),
            spread_bps=_round(v.spread_bps * _uniform(rng, b.spread_mult), 1e-4),
            level_size=_round(v.level_size * _uniform(rng, b.depth_mult), 1e-6) or v.level_size,
            latency_ms=min(60_000, v.latency_ms + int(_uniform(rng, b.latency_add_ms))),
            trade_size=_round(v.trade_size * _uniform(rng, b.trade_size_mult), 1e-6) or v.trade_size,
            trades_per_step=_round(v.trades_per_step * _uniform(rng, b.trades_mult), 1e-6),
            funding=msgspec.structs.replace(v.funding, rate=_round(_uniform(rng, b.funding_rate), 1e-8)),
            basis_bps=_round(v.basis_bps + _uniform(rng, b.basis_add_bps), 1e-4),
        ))
    shocks = list(base.shocks)
    n = len(venues)
    if rng.uniform() < b.stale_prob:
        shocks.append(_window(rng, steps, b.window_frac, int(rng.integers(0, n)), mode="stale"))
    if rng.uniform() < b.outage_prob:
        shocks.append(_window(rng, steps, b.window_frac, int(rng.integers(0, n)), mode="outage"))
    return msgspec.structs.replace(
        base, scenario_id=f"{base.scenario_id}~dr{seed}", market=market, venues=venues, shocks=shocks,
        description=f"{base.scenario_id} randomised with seed {seed} (regime {regime.name})")


def regime_of(scenario: Scenario) -> str:
    """The regime name a randomised scenario was drawn in (from its description), or ``""``."""
    marker = "(regime "
    d = scenario.description
    return d[d.find(marker) + len(marker):-1] if marker in d else ""

