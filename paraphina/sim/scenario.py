"""Scenarios: one YAML file decoded into typed, frozen msgspec Structs.

A scenario says everything the synthetic market and the simulated exchange need: the horizon,
the seeds, the starting state, the fair-value process, each venue's microstructure, and shocks
that change any of those over a window of steps. Unknown keys and bad values are errors naming
the file and the key (:class:`ScenarioError`, one line); nothing is silently ignored, and
every field changes what is generated (tests in ``tests/sim`` check each shock against the
baseline).

Units, chosen so that every name says what it is:

* time: ``dt_ms`` per step; a step is the generator's unit of market time;
* volatility and drift of the fair value: per day (``vol_daily`` is the standard deviation of
  the daily log return, so one step's is ``vol_daily * sqrt(dt_ms / 86_400_000)``);
* jumps: ``jumps_per_hour`` (Poisson intensity), log-size ``jump_mean`` / ``jump_std``;
* prices and spreads in basis points of the venue mid; sizes in base units (converted to the
  venue's integer lots when events are made);
* funding rates per settlement interval (dimensionless, as venues publish them).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from paraphina.errors import UserError
from paraphina.events import Instrument

NonNeg = Annotated[float, Meta(ge=0)]
Pos = Annotated[float, Meta(gt=0)]
PosInt = Annotated[int, Meta(gt=0)]
NonNegInt = Annotated[int, Meta(ge=0)]
Prob = Annotated[float, Meta(ge=0, le=1)]
# Ranges no real market or session needs: beyond them a value is a typo (1e308), and the
# generator's arithmetic would overflow or run for ever.
DailyVol = Annotated[float, Meta(ge=0, le=10)]           # 1000 % a day
DailyDrift = Annotated[float, Meta(ge=-10, le=10)]
Price = Annotated[float, Meta(gt=0, le=1e9)]
StepMs = Annotated[int, Meta(gt=0, le=3_600_000)]        # an hour
Steps = Annotated[int, Meta(gt=0, le=100_000_000)]
PeriodMs = Annotated[int, Meta(gt=0, le=30 * 86_400_000)]  # thirty days
Rate = Annotated[float, Meta(ge=-1, le=1)]               # funding per settlement
PerStep = Annotated[float, Meta(ge=0, le=10_000)]
LatencyMs = Annotated[int, Meta(ge=0, le=60_000)]
Profile = Literal["conservative", "balanced", "aggressive"]


class ScenarioError(UserError):
    """A scenario or suite file that cannot be used; the message names the file and key."""


class _S(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class Horizon(_S):
    steps: Steps = 1500
    dt_ms: StepMs = 250


class Seeds(_S):
    """Runs use seeds ``base_seed, base_seed + 1, ..., base_seed + count - 1``."""

    base_seed: NonNegInt = 42
    count: PosInt = 1

    def all(self) -> list[int]:
        return [self.base_seed + k for k in range(self.count)]


class InitialState(_S):
    """Risk profile of the run, and a starting position (base units) held on one venue."""

    profile: Profile = "balanced"
    inventory: float = 0.0
    inventory_venue: NonNegInt = 0


class VolRegimeStep(_S):
    """From ``start_step`` on, the fair value's daily volatility is ``vol_daily``."""

    start_step: NonNegInt
    vol_daily: DailyVol


class MarkovRegimes(_S):
    """Markov-switching volatility: state ``i`` has ``vol_daily[i]``; ``switch_prob[i][j]`` is the
    per-step probability of moving from ``i`` to ``j`` (each row sums to 1)."""

    vol_daily: list[DailyVol]
    switch_prob: list[list[Prob]]
    initial: NonNegInt = 0


class MarketProcess(_S):
    """The fair value (index price): GBM, optionally with Poisson log-normal jumps."""

    process: Literal["gbm", "jump_diffusion"] = "gbm"
    initial_price: Price = 60_000.0
    drift_daily: DailyDrift = 0.0
    vol_daily: DailyVol = 0.02
    jumps_per_hour: Annotated[float, Meta(ge=0, le=3600)] = 0.0
    jump_mean: float = 0.0
    jump_std: NonNeg = 0.0
    vol_schedule: list[VolRegimeStep] = []
    vol_markov: MarkovRegimes | None = None


class Funding(_S):
    """The venue's funding: ``rate`` per settlement every ``interval_ms`` (published with the mark
    price every ``publish_ms``); ``drift_per_step`` moves the rate every step."""

    rate: Rate = 0.0001
    interval_ms: PeriodMs = 28_800_000
    publish_ms: PeriodMs = 1000
    drift_per_step: float = 0.0


class VenueSpec(_S):
    """One venue: its instrument, book shape, basis, funding, fees and latencies."""

    name: str
    symbol: str = "BTC-PERP"
    tick_size: str = "0.1"
    lot_size: str = "0.001"
    min_notional: str = "5"
    spread_bps: NonNeg = 1.0
    depth_levels: PosInt = 10
    level_spacing_bps: Pos = 0.5
    level_size: Pos = 0.5
    size_refresh_prob: Prob = 0.1
    trades_per_step: PerStep = 0.5
    trade_size: Pos = 0.05
    basis_bps: float = 0.0
    basis_drift_bps_per_step: float = 0.0
    funding: Funding = Funding()
    maker_fee_bps: float = 2.0
    taker_fee_bps: float = 5.0
    latency_ms: LatencyMs = 20
    feed_latency_ms: LatencyMs = 0
    initial_balance: Pos = 10_000.0
    maintenance_margin: Prob = 0.005
    leverage: Pos = 10.0

    def instrument(self) -> Instrument:
        return Instrument(venue=self.name, symbol=self.symbol, tick_size=self.tick_size, lot_size=self.lot_size,
                          min_notional=self.min_notional, base=self.symbol.split("-")[0], quote="USD")


class _Shock(_S, kw_only=True, tag_field="type"):
    """Active for steps ``start_step <= k < end_step``; ``venue`` (index) or every venue if absent."""

    start_step: NonNegInt
    end_step: PosInt
    venue: NonNegInt | None = None


class VolSpike(_Shock, kw_only=True, tag="vol_spike"):
    """The fair value's per-step volatility times ``mult`` (market wide: no ``venue``)."""

    mult: Pos


class BasisSpike(_Shock, kw_only=True, tag="basis_spike"):
    """``add_bps`` added to the venue's basis."""

    add_bps: float


class FundingFlip(_Shock, kw_only=True, tag="funding_flip"):
    """The venue's funding rate times ``mult`` (``-1`` flips its sign)."""

    mult: float = -1.0


class FundingDrift(_Shock, kw_only=True, tag="funding_drift"):
    """``per_step * (k - start_step + 1)`` added to the funding rate at step ``k``."""

    per_step: float


class LiquidityDrain(_Shock, kw_only=True, tag="liquidity_drain"):
    """Spread times ``spread_mult`` (>= 1), displayed sizes times ``depth_mult`` (<= 1)."""

    spread_mult: Annotated[float, Meta(ge=1)] = 1.0
    depth_mult: Annotated[float, Meta(gt=0, le=1)] = 1.0


class VenueOutage(_Shock, kw_only=True, tag="venue_outage"):
    """``outage``: the venue's feed stops with a BookReset, orders are rejected, a snapshot follows
    the end. ``stale``: the feed goes silent but the venue keeps trading on its last book."""

    mode: Literal["outage", "stale"] = "outage"


Shock = VolSpike | BasisSpike | FundingFlip | FundingDrift | LiquidityDrain | VenueOutage


def _default_venues() -> list[VenueSpec]:
    """The five venues of ``scenarios/synth_baseline.yaml``: BTC perpetuals about 1 bp wide with
    maker fees from 0 to 1.5 bp, so a market maker has venues where it can earn the spread."""
    return [
        VenueSpec(name=name, maker_fee_bps=maker, taker_fee_bps=taker, latency_ms=latency, spread_bps=spread, basis_bps=basis)
        for name, maker, taker, latency, spread, basis in (
            ("extended", 1.0, 2.5, 25, 1.0, 0.0),
            ("hyperliquid", 1.5, 4.5, 40, 0.8, 1.0),
            ("aster", 0.5, 3.5, 30, 1.2, -1.0),
            ("lighter", 0.0, 2.0, 60, 1.5, 0.5),
            ("paradex", 0.0, 3.0, 50, 1.1, -0.5),
        )
    ]


class Scenario(_S):
    scenario_id: str
    scenario_version: PosInt = 1
    description: str = ""
    horizon: Horizon = Horizon()
    seeds: Seeds = Seeds()
    initial_state: InitialState = InitialState()
    market: MarketProcess = MarketProcess()
    venues: list[VenueSpec] = msgspec.field(default_factory=_default_venues)
    shocks: list[Shock] = []

    def instruments(self) -> list[Instrument]:
        return [v.instrument() for v in self.venues]


def parse_scenario(data: object, source: str = "<scenario>") -> Scenario:
    """Decode and validate already-parsed YAML; raises :class:`ScenarioError` naming ``source``."""
    try:
        # Lenient on scalars: PyYAML reads "1e-4" (no dot) as a string.
        sc = msgspec.convert(data, Scenario, strict=False)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{source}: {_one_line(exc)}") from None
    problems = _check(sc)
    if problems:
        raise ScenarioError(f"{source}: {problems[0]}")
    return sc


def load_scenario(path: str | Path) -> Scenario:
    return parse_scenario(read_yaml(path), str(path))


def read_yaml(path: str | Path) -> object:
    import yaml

    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a text file (expected YAML)") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {_one_line(exc)}") from None


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text.replace("`$.", "`").replace("at `$`", "at the top level") or type(exc).__name__


def _check(sc: Scenario) -> list[str]:
    """Cross-field rules msgspec's per-field constraints cannot say."""
    out: list[str] = []
    if not sc.scenario_id.strip():
        out.append("`scenario_id` must not be empty")
    if not sc.venues:
        out.append("`venues` must list at least one venue")
    names = [v.name for v in sc.venues]
    if len(set(names)) != len(names):
        out.append(f"`venues`: duplicate venue names in {names}")
    for i, v in enumerate(sc.venues):
        for key in ("tick_size", "lot_size", "min_notional"):
            raw = getattr(v, key)
            try:
                ok = Decimal(raw) > 0 or (key == "min_notional" and Decimal(raw) == 0)
            except InvalidOperation:
                ok = False
            if not ok:
                out.append(f"`venues[{i}].{key}`: expected a positive decimal string, got {raw!r}")
    if sc.initial_state.inventory_venue >= len(sc.venues):
        out.append(f"`initial_state.inventory_venue`: {sc.initial_state.inventory_venue} is not a venue index")
    m = sc.market
    if m.process == "gbm" and m.jumps_per_hour > 0:
        out.append("`market.jumps_per_hour`: jumps need `process: jump_diffusion`")
    if m.vol_schedule and m.vol_markov is not None:
        out.append("`market`: give `vol_schedule` or `vol_markov`, not both")
    starts = [r.start_step for r in m.vol_schedule]
    if starts != sorted(set(starts)):
        out.append("`market.vol_schedule`: start_step values must increase")
    if m.vol_markov is not None:
        mk = m.vol_markov
        n = len(mk.vol_daily)
        if n == 0 or len(mk.switch_prob) != n or any(len(row) != n for row in mk.switch_prob):
            out.append("`market.vol_markov.switch_prob`: must be an n x n matrix for n = len(vol_daily) > 0")
        elif any(abs(sum(row) - 1.0) > 1e-9 for row in mk.switch_prob):
            out.append("`market.vol_markov.switch_prob`: every row must sum to 1")
        if mk.initial >= max(n, 1):
            out.append("`market.vol_markov.initial`: not a state index")
    for i, s in enumerate(sc.shocks):
        if s.end_step <= s.start_step:
            out.append(f"`shocks[{i}].end_step`: must be greater than start_step")
        if s.venue is not None and s.venue >= len(sc.venues):
            out.append(f"`shocks[{i}].venue`: {s.venue} is not a venue index (0..{len(sc.venues) - 1})")
        if isinstance(s, VolSpike) and s.venue is not None:
            out.append(f"`shocks[{i}].venue`: a vol_spike moves the fair value of every venue")
    return out
