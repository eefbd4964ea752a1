"""Versioned observation and action vectors for learned policies, and the action shield.

Pure: ``math`` on Python floats for every value, numpy only to hold the finished observation
(float32) for a model. Nothing here reads a clock, a file or a random number.

Observation (``OBS_VERSION``): ``len(GLOBAL_FIELDS) + n_venues * len(VENUE_FIELDS)`` float32
values, globals first, then each venue's block in venue order. Every value is normalised as its
field's comment says, a non-finite value becomes 0, and everything is clipped to
``[-OBS_CLIP, OBS_CLIP]``, so a model never sees an unbounded or NaN input.

Action (``ACTION_VERSION``): ``4 * n_venues + 1`` values, in raw units (not normalised)::

    [spread_scale_v] * V   half-spread multiplier per venue, in [0.5, 2]
    [size_scale_v]   * V   quote size multiplier per venue, in [0, 1]
    [offset_ticks_v] * V   reservation price shift per venue, in ticks, in [-10, 10]
    hedge_scale            multiplier of the heuristic's hedge size, in [0, 1]
    [hedge_weight_v] * V   hedge allocation over venues, on the simplex

:func:`clip_action` is the shield for learned outputs: a wrong shape or any NaN/inf gives
``None`` (the caller falls back to the heuristic for that tick); otherwise every value is clipped
to its bounds, the weights are clipped to [0, 1] and renormalised (all zero: uniform), and every
value is rounded to ``ACTION_QUANTUM`` so last-bit differences of a model's float arithmetic
between machines do not reach the orders (the same idea as integer ticks and lots).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np

from paraphina.strategy.common import DISABLED, HEALTHY, NOT_YET_AVAILABLE, WARNING

OBS_VERSION = 1
ACTION_VERSION = 1
OBS_CLIP = 10.0

# (name, what it is and how it is normalised); the order is the vector's order.
GLOBAL_FIELDS: tuple[tuple[str, str], ...] = (
    ("fair_value_log10", "log10(fair value), 0 while unavailable"),
    ("fv_available", "1 when the Kalman fair value is available, else 0"),
    ("sigma_eff_bps", "effective per-tick volatility of log fair value, x 1e4"),
    ("vol_ratio", "clipped vol ratio (sigma_short / sigma_long), as the strategy uses it"),
    ("regime_warning", "1 in the Warning regime"),
    ("regime_hard", "1 in HardLimit"),
    ("kill", "1 when the kill switch is latched"),
    ("delta_use", "dollar delta / delta limit (signed inventory use)"),
    ("basis_use", "net basis (USD) / basis hard limit"),
    ("basis_gross_use", "gross basis (USD) / basis hard limit"),
    ("pnl_daily_use", "daily total PnL / daily loss limit"),
)
VENUE_FIELDS: tuple[tuple[str, str], ...] = (
    ("mid_offset_bps", "(venue mid - fair value) / fair value x 1e4; 0 without a mid or fair value"),
    ("spread_bps", "spread / mid x 1e4; 0 without a book"),
    ("depth_log10", "log10(1 + near-mid depth in USD)"),
    ("basis_use", "position x (mid - fair value) / basis hard limit"),
    ("funding_bps", "8h funding rate x 1e4"),
    ("toxicity", "effective toxicity (0 clean .. 1 toxic)"),
    ("position_use", "position x fair value / delta limit"),
    ("margin_log10", "log10(1 + available margin in USD)"),
    ("liq_distance", "min(distance to liquidation in sigmas, 10) / 10; 1 when flat or unknown"),
    ("status_healthy", "1 when the venue's status is Healthy"),
    ("status_warning", "1 when Warning"),
    ("status_disabled", "1 when Disabled or not yet available"),
)

SPREAD_SCALE = (0.5, 2.0)
SIZE_SCALE = (0.0, 1.0)
MAX_OFFSET_TICKS = 10.0
OFFSET_TICKS = (-MAX_OFFSET_TICKS, MAX_OFFSET_TICKS)
HEDGE_SCALE = (0.0, 1.0)
WEIGHT = (0.0, 1.0)
ACTION_DIGITS = 6
ACTION_QUANTUM = 10.0 ** -ACTION_DIGITS


def obs_dim(n_venues: int) -> int:
    return len(GLOBAL_FIELDS) + n_venues * len(VENUE_FIELDS)


def action_dim(n_venues: int) -> int:
    return 4 * n_venues + 1


def obs_names(n_venues: int) -> list[str]:
    return [n for n, _ in GLOBAL_FIELDS] + [f"v{v}.{n}" for v in range(n_venues) for n, _ in VENUE_FIELDS]


def action_names(n_venues: int) -> list[str]:
    v = range(n_venues)
    return ([f"spread_scale.v{i}" for i in v] + [f"size_scale.v{i}" for i in v] + [f"offset_ticks.v{i}" for i in v]
            + ["hedge_scale"] + [f"hedge_weight.v{i}" for i in v])


def action_bounds(n_venues: int) -> tuple[list[float], list[float]]:
    """(low, high) per action dimension."""
    per = [SPREAD_SCALE, SIZE_SCALE, OFFSET_TICKS]
    lo = [b[0] for b in per for _ in range(n_venues)] + [HEDGE_SCALE[0]] + [WEIGHT[0]] * n_venues
    hi = [b[1] for b in per for _ in range(n_venues)] + [HEDGE_SCALE[1]] + [WEIGHT[1]] * n_venues
    return lo, hi


class KnobAction(msgspec.Struct, frozen=True, kw_only=True):
    """A shielded action: every value a Python float inside its bounds, weights on the simplex."""

    spread_scale: tuple[float, ...]
    size_scale: tuple[float, ...]
    offset_ticks: tuple[float, ...]
    hedge_scale: float
    hedge_weights: tuple[float, ...]

    def to_list(self) -> list[float]:
        return [*self.spread_scale, *self.size_scale, *self.offset_ticks, self.hedge_scale, *self.hedge_weights]


def identity_action(n_venues: int, hedge_weights: Sequence[float] | None = None) -> KnobAction:
    """The heuristic's own knobs: scales 1, offsets 0, hedge 1, weights as given (else uniform)."""
    w = tuple(hedge_weights) if hedge_weights is not None else tuple(1.0 / n_venues for _ in range(n_venues))
    return KnobAction(spread_scale=(1.0,) * n_venues, size_scale=(1.0,) * n_venues, offset_ticks=(0.0,) * n_venues,
                      hedge_scale=1.0, hedge_weights=w)


def _q(x: float) -> float:
    # Round to the quantum (decimal rounding, so 0.2 stays 0.2); "+ 0.0" turns -0.0 into 0.0.
    return round(x, ACTION_DIGITS) + 0.0


def _clip(x: float, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return lo if x < lo else (hi if x > hi else x)


def clip_action(raw: object, n_venues: int) -> KnobAction | None:
    """The shield for a learned policy's output.

    ``raw`` is anything indexable with ``4 * n_venues + 1`` numbers (a list, a numpy array of
    shape ``(dim,)`` or ``(1, dim)``). Returns None (fall back) on a wrong shape, a non-number,
    NaN or infinity; else the clipped, renormalised, quantised :class:`KnobAction`.
    """
    dim = action_dim(n_venues)
    try:
        if isinstance(raw, np.ndarray):
            if raw.ndim == 2 and raw.shape[0] == 1:
                raw = raw[0]
            if raw.ndim != 1:
                return None
            values = [float(x) for x in raw.tolist()]
        else:
            values = [float(x) for x in raw]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    if len(values) != dim or not all(math.isfinite(x) for x in values):
        return None
    n = n_venues
    spread = tuple(_q(_clip(x, SPREAD_SCALE)) for x in values[0:n])
    size = tuple(_q(_clip(x, SIZE_SCALE)) for x in values[n:2 * n])
    offset = tuple(_q(_clip(x, OFFSET_TICKS)) for x in values[2 * n:3 * n])
    hedge = _q(_clip(values[3 * n], HEDGE_SCALE))
    w = [_clip(x, WEIGHT) for x in values[3 * n + 1:]]
    total = math.fsum(w)
    w = [x / total for x in w] if total > 0.0 else [1.0 / n] * n
    return KnobAction(spread_scale=spread, size_scale=size, offset_ticks=offset, hedge_scale=hedge,
                      hedge_weights=tuple(_q(x) for x in w))


def action_ok(a: KnobAction, n_venues: int) -> bool:
    """The shield's rules, checked: shapes, bounds, finite values, weights on the simplex."""
    n = n_venues
    if not (len(a.spread_scale) == len(a.size_scale) == len(a.offset_ticks) == len(a.hedge_weights) == n):
        return False
    vals = a.to_list()
    if not all(isinstance(x, float) and math.isfinite(x) for x in vals):
        return False
    inside = (all(SPREAD_SCALE[0] <= x <= SPREAD_SCALE[1] for x in a.spread_scale)
              and all(SIZE_SCALE[0] <= x <= SIZE_SCALE[1] for x in a.size_scale)
              and all(OFFSET_TICKS[0] <= x <= OFFSET_TICKS[1] for x in a.offset_ticks)
              and HEDGE_SCALE[0] <= a.hedge_scale <= HEDGE_SCALE[1]
              and all(0.0 <= x <= 1.0 for x in a.hedge_weights))
    return inside and abs(math.fsum(a.hedge_weights) - 1.0) <= n * ACTION_QUANTUM


def _ratio(x: float, limit: float) -> float:
    return x / limit if limit > 0.0 else 0.0


def observation_list(model, venue_inputs: Sequence, config) -> list[float]:
    """The observation as Python floats (see the module docstring for layout and scaling).

    ``model`` is the core's :class:`~paraphina.strategy.tick.TickModel` of this tick and
    ``venue_inputs`` its per-venue :class:`~paraphina.strategy.common.VenueInput` list.
    """
    risk = config.risk
    fv = model.fair_value if model.fair_value is not None and model.fair_value > 0.0 else None
    dlim = model.delta_limit_usd
    bhard = risk.basis_hard_limit_usd
    out = [
        math.log10(fv) if fv is not None else 0.0,
        1.0 if model.fv_available else 0.0,
        model.vol.sigma_eff * 1e4,
        model.vol.vol_ratio_clipped,
        1.0 if model.regime == "Warning" else 0.0,
        1.0 if model.regime == "HardLimit" else 0.0,
        1.0 if model.kill_switch else 0.0,
        _ratio(model.delta_usd, dlim),
        _ratio(model.basis_usd, bhard),
        _ratio(model.basis_gross_usd, bhard),
        _ratio(model.pnl_daily, risk.daily_loss_limit),
    ]
    for i, v in enumerate(venue_inputs):
        mid = v.mid if v.mid is not None and v.mid > 0.0 else None
        status = model.statuses[i] if i < len(model.statuses) else NOT_YET_AVAILABLE
        dist = model.dist_liq[i] if i < len(model.dist_liq) else math.inf
        px = fv if fv is not None else (mid or 0.0)
        out += [
            (mid - fv) / fv * 1e4 if mid is not None and fv is not None else 0.0,
            v.spread / mid * 1e4 if mid is not None else 0.0,
            math.log10(1.0 + max(v.depth_usd, 0.0)),
            _ratio(v.position * (mid - fv), bhard) if mid is not None and fv is not None else 0.0,
            v.funding_8h * 1e4,
            model.toxicity[i] if i < len(model.toxicity) else 0.0,
            _ratio(v.position * px, dlim),
            math.log10(1.0 + max(v.margin_available_usd, 0.0)),
            min(dist, 10.0) / 10.0 if math.isfinite(dist) else 1.0,
            1.0 if status == HEALTHY else 0.0,
            1.0 if status == WARNING else 0.0,
            1.0 if status in (DISABLED, NOT_YET_AVAILABLE) else 0.0,
        ]
    lo, hi = -OBS_CLIP, OBS_CLIP
    return [0.0 if not math.isfinite(x) else (lo if x < lo else (hi if x > hi else float(x))) for x in out]


def observation(model, venue_inputs: Sequence, config) -> np.ndarray:
    """The observation as a float32 vector of length :func:`obs_dim` (a model's input)."""
    return np.asarray(observation_list(model, venue_inputs, config), dtype=np.float32)
