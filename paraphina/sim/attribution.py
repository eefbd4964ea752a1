"""What a simulated run did, measured against the generator's latent price.

The simulator knows what no recorded session does: the true (latent) fair price behind every
venue's book. :class:`RunProbe` watches a closed-loop run (every event stepped, every action the
engine emitted, the engine's tick model on each main tick) and measures:

* **fair-value tracking**: ``|S - latent|`` on every main tick with an available fair value,
  fair-value availability after warm-up, re-seeds of the filter;
* **volatility**: the engine's ``sigma_eff`` against the latent price's realised volatility per
  main tick, and the ``vol_ratio`` the controls saw;
* **quoting**: the half-spread of every MM quote placed (``|price - S|``);
* **PnL attribution against the latent price**, fill by fill::

      total (marked at latent) = spread capture (MM fills: (latent - price) * signed size)
                               + exit edge + hedge edge (same, for EXIT and HEDGE fills; usually < 0)
                               - fees + funding
                               + inventory PnL (position held * latent moves)

  so a strategy's loss shows where it comes from: adverse selection (spread capture below
  zero), paying takers to hedge, fees, or carrying inventory through moves.

All arithmetic is on Python floats from event data and the generator's seeded path, so the
figures are as deterministic as the run. Nothing here changes what the engine does.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from paraphina import events as ev
from paraphina.actions import Action, PlaceOrder
from paraphina.engine import PURPOSE_CODE

NS_PER_MS = 1_000_000
#: The purpose of an order from its client id's first letter (the engine names orders by purpose).
PURPOSE_BY_PREFIX = {code: purpose for purpose, code in PURPOSE_CODE.items()}


def purpose_of(client_order_id: str) -> str:
    return PURPOSE_BY_PREFIX.get(client_order_id[:1], "other")


def fill_edge(side: int, price: float, size: float, reference: float | None) -> float:
    """What a fill earned against a reference price, before fees, in USD: ``side * (reference -
    price) * size`` (a buy below the reference earns). 0 without a reference. The one rule every
    PnL attribution uses (``run --attribution`` against the latent price, run reports against
    the engine's fair value)."""
    if reference is None or not math.isfinite(reference):
        return 0.0
    return side * (reference - price) * size


@dataclass
class Attribution:
    """PnL of a run split by source, in quote currency (USD), marked at the latent price."""

    spread_capture: float = 0.0
    exit_edge: float = 0.0
    hedge_edge: float = 0.0
    other_edge: float = 0.0            # fills of orders no purpose names (a plugin's own ids)
    fees: float = 0.0
    funding: float = 0.0
    inventory: float = 0.0
    volume: dict[str, float] = field(default_factory=lambda: {"mm": 0.0, "exit": 0.0, "hedge": 0.0, "other": 0.0})
    fills: dict[str, int] = field(default_factory=lambda: {"mm": 0, "exit": 0, "hedge": 0, "other": 0})

    @property
    def total(self) -> float:
        return (self.spread_capture + self.exit_edge + self.hedge_edge + self.other_edge - self.fees + self.funding
                + self.inventory)

    def add_fill(self, purpose: str, side: int, price: float, size: float, fee: float, reference: float | None) -> float:
        """Count one fill (price in USD, size in base units) against ``reference`` (the price it
        is measured against: the latent price, the engine's fair value; None or NaN: none, the
        fill counts in volume and fees only). Returns its edge (:func:`fill_edge`)."""
        edge = fill_edge(side, price, size, reference)
        if purpose == "mm":
            self.spread_capture += edge
        elif purpose == "exit":
            self.exit_edge += edge
        elif purpose == "hedge":
            self.hedge_edge += edge
        else:
            self.other_edge += edge
        self.fees += fee
        self.volume[purpose] += size
        self.fills[purpose] += 1
        return edge

    def edge_per_unit(self, purpose: str) -> float:
        """Edge against the latent price per unit traded (USD per base unit), before fees."""
        vol = self.volume[purpose]
        edge = {"mm": self.spread_capture, "exit": self.exit_edge, "hedge": self.hedge_edge}.get(purpose, self.other_edge)
        return edge / vol if vol > 0 else 0.0

    def to_json(self) -> dict:
        return {
            "spread_capture": self.spread_capture, "exit_edge": self.exit_edge, "hedge_edge": self.hedge_edge,
            "other_edge": self.other_edge,
            "fees": self.fees, "funding": self.funding, "inventory": self.inventory, "total": self.total,
            "volume": dict(self.volume), "fills": dict(self.fills),
            "mm_edge_per_unit": self.edge_per_unit("mm"), "hedge_edge_per_unit": self.edge_per_unit("hedge"),
            "exit_edge_per_unit": self.edge_per_unit("exit"),
        }


@dataclass
class RunReport:
    """Fair value, volatility and quoting measured against the latent price, plus attribution."""

    ticks: int
    fv_ticks: int                      # main ticks after warm-up with an available fair value
    warm_ticks: int                    # main ticks after warm-up
    reseeds: int
    abs_err: list[float]               # |S - latent| per tick with an available fair value (after warm-up)
    half_spreads: list[float]          # |price - S| of every MM quote placed
    sigma_eff: list[float]             # per tick (after warm-up)
    vol_ratio: list[float]
    latent_returns: list[float]        # log returns of the latent price per main tick
    attribution: Attribution

    @property
    def fv_availability(self) -> float:
        return self.fv_ticks / self.warm_ticks if self.warm_ticks else 0.0

    @property
    def median_abs_error(self) -> float:
        return statistics.median(self.abs_err) if self.abs_err else math.nan

    @property
    def median_half_spread(self) -> float:
        return statistics.median(self.half_spreads) if self.half_spreads else math.nan

    @property
    def realised_vol(self) -> float:
        """Latent price's realised volatility per main tick (RMS of log returns)."""
        r = self.latent_returns
        return math.sqrt(sum(x * x for x in r) / len(r)) if r else math.nan

    @property
    def rms_sigma_eff(self) -> float:
        """The engine's volatility estimate over the run: RMS of ``sigma_eff`` (an EWMA of squared
        returns is unbiased for the variance, so this is the figure to set against the realised)."""
        s = self.sigma_eff
        return math.sqrt(sum(x * x for x in s) / len(s)) if s else math.nan

    @property
    def vol_estimate_ratio(self) -> float:
        """Engine's RMS ``sigma_eff`` over the latent realised volatility (1 = exact)."""
        rv = self.realised_vol
        return self.rms_sigma_eff / rv if rv and rv > 0 else math.nan

    @property
    def mean_vol_ratio(self) -> float:
        return statistics.fmean(self.vol_ratio) if self.vol_ratio else math.nan

    def to_json(self) -> dict:
        return {
            "ticks": self.ticks, "fv_availability": self.fv_availability, "reseeds": self.reseeds,
            "median_abs_fv_error": self.median_abs_error, "median_half_spread": self.median_half_spread,
            "realised_vol_per_tick": self.realised_vol, "rms_sigma_eff": self.rms_sigma_eff,
            "vol_estimate_ratio": self.vol_estimate_ratio, "mean_vol_ratio": self.mean_vol_ratio,
            "attribution": self.attribution.to_json(),
        }

    def lines(self) -> list[str]:
        """Human-readable lines for ``paraphina run`` (printed after the contract's summary)."""
        a = self.attribution
        return [
            "=== Against the latent price ===",
            f"Fair value: median |S - latent| {self.median_abs_error:.4g}, available on {100 * self.fv_availability:.1f} % "
            f"of ticks after warm-up, {self.reseeds} re-seeds; median quoted half-spread {self.median_half_spread:.4g}",
            f"Volatility: sigma_eff / latent realised {self.vol_estimate_ratio:.3f}, mean vol_ratio {self.mean_vol_ratio:.3f}",
            f"Fills (mm / exit / hedge): {a.fills['mm']} / {a.fills['exit']} / {a.fills['hedge']}; "
            f"volume {a.volume['mm']:.4g} / {a.volume['exit']:.4g} / {a.volume['hedge']:.4g}",
            f"PnL attribution: spread capture {a.spread_capture:+.2f}, exits {a.exit_edge:+.2f}, hedges {a.hedge_edge:+.2f}, "
            f"fees {-a.fees:+.2f}, funding {a.funding:+.2f}, inventory {a.inventory:+.2f} = {a.total:+.2f}",
        ]


class RunProbe:
    """Collects a :class:`RunReport` while a closed loop runs.

    ``latent_at(ts_ns)`` gives the latent price at an event time; ``lots`` and ``ticks`` are the
    instruments' units (event prices are ticks, sizes lots). ``warmup_ticks`` main ticks are left
    out of the tracking, availability and volatility figures (the filters start cold).
    """

    def __init__(self, latent_at: Callable[[int], float], ticks: Sequence[float], lots: Sequence[float], *,
                 warmup_ticks: int = 40) -> None:
        self.latent_at = latent_at
        self.ticks = list(ticks)
        self.lots = list(lots)
        self.warmup = warmup_ticks
        self.attr = Attribution()
        self._pos: dict[int, float] = {}  # position per venue, base units (fills, venue snapshots)
        self._latent = math.nan        # latent price the position was last marked at
        self._tick_latent = math.nan   # latent at the previous main tick
        self._n = 0
        self._fv_ticks = 0
        self._warm = 0
        self._reseeds = 0
        self._seeded = False           # the filter had a fair value before (so a re-seed is a re-seed)
        self._abs_err: list[float] = []
        self._half: list[float] = []
        self._sigma: list[float] = []
        self._vr: list[float] = []
        self._rets: list[float] = []

    def _mark(self, latent: float) -> None:
        q = sum(self._pos.values())
        if math.isfinite(self._latent) and q != 0.0:
            self.attr.inventory += q * (latent - self._latent)
        self._latent = latent

    def on_event(self, e: ev.Event, actions: Sequence[Action], tick_model) -> None:
        latent = self.latent_at(e.ts_ns)
        if math.isfinite(latent):
            self._mark(latent)
        if isinstance(e, ev.Fill):
            self._on_fill(e, latent)
        elif isinstance(e, ev.FundingPayment):
            self.attr.funding += e.amount
        elif isinstance(e, ev.PositionSnapshot):
            # The venue's word on our position (a starting inventory has no fill behind it).
            self._pos[e.venue] = e.position * self.lots[e.venue]
        elif isinstance(e, ev.Timer) and tick_model is not None and tick_model.now_ms * NS_PER_MS == e.ts_ns:
            self._on_tick(tick_model, latent)
        if actions and tick_model is not None and tick_model.fair_value is not None:
            for a in actions:
                if isinstance(a, PlaceOrder) and a.purpose == "mm":
                    self._half.append(abs(a.price * self.ticks[a.venue] - tick_model.fair_value))

    def _on_fill(self, f: ev.Fill, latent: float) -> None:
        size = f.size * self.lots[f.venue]
        self.attr.add_fill(purpose_of(f.client_order_id), f.side, f.price * self.ticks[f.venue], size, f.fee, latent)
        self._pos[f.venue] = self._pos.get(f.venue, 0.0) + (size if f.side > 0 else -size)

    def _on_tick(self, tick, latent: float) -> None:
        self._n += 1
        if tick.reseeded and self._seeded:
            self._reseeds += 1
        self._seeded = self._seeded or tick.fair_value is not None
        if math.isfinite(self._tick_latent) and math.isfinite(latent) and self._n > self.warmup:
            self._rets.append(math.log(latent / self._tick_latent))
        self._tick_latent = latent
        if self._n <= self.warmup:
            return
        self._warm += 1
        self._sigma.append(tick.vol.sigma_eff)
        self._vr.append(tick.vol.vol_ratio)
        if tick.fv_available and tick.fair_value is not None:
            self._fv_ticks += 1
            if math.isfinite(latent):
                self._abs_err.append(abs(tick.fair_value - latent))

    def report(self) -> RunReport:
        return RunReport(ticks=self._n, fv_ticks=self._fv_ticks, warm_ticks=self._warm, reseeds=self._reseeds,
                         abs_err=self._abs_err, half_spreads=self._half, sigma_eff=self._sigma, vol_ratio=self._vr,
                         latent_returns=self._rets, attribution=self.attr)
