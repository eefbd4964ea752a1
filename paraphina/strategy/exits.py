"""Cross-venue exits: take profit on the global position where the book pays best
(STRATEGY.md 4.10; decisions 3, 6, 7, 12).

Once per fill batch, for a global position ``q`` the exit sells (q > 0) or buys back (q < 0)
on whichever venues' book levels pay more than the entry reference by a margin: the base edge
after taker fee and a vol buffer must beat ``edge_min + edge_vol_mult * vol_ratio`` and still
beat it after slippage at the chosen size. Candidates (venue, book level) are ranked by an
adjusted score that adds basis and funding terms and penalises fragmentation, basis risk and
growing a position near liquidation; the greedy fill walks the ranking, respecting per-venue
and total caps, whole lots and the minimum notional, then aggregates to one IOC per venue at
the worst level taken. Reduce-only is set only on orders that really reduce the venue.

The arithmetic (candidates, ranking, the greedy fill) is one compiled kernel, :func:`exit_plan`;
:func:`exits` only gathers the venues' numbers into arrays and turns the plan into intents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import chain

import numpy as np

from paraphina.config import Config
from paraphina.intents import OrderIntent
from paraphina.strategy.common import (
    C_DEPTH,
    C_FUND_MS,
    C_FUNDING_8H,
    C_HAS_FUND_MS,
    C_HAS_MID_MS,
    C_HAS_NEXT_FUND,
    C_LOT,
    C_MAX_ORDER,
    C_MID,
    C_MID_MS,
    C_NEXT_FUND_MS,
    C_POSITION,
    C_SPREAD,
    VenueInput,
    book_is_valid,
    floor_to_step,
    mid_is_fresh,
    status_codes,
    tradeable_code,
    venue_columns,
)
from paraphina.strategy.jit import kernel
from paraphina.strategy.quoting import funding_per_tao, funding_rate_if_usable
from paraphina.strategy.risk import HARD_LIMIT
from paraphina.strategy.tick import TickModel
from paraphina.strategy.volatility import sigma_px


def entry_reference(venues: Sequence[VenueInput], q: float, fair_value: float) -> float:
    """|q_v|-weighted average entry over venues holding the global position's side (S if none)."""
    num = den = 0.0
    for v in venues:
        if v.avg_entry > 0.0 and v.position * q > 0.0:
            num += abs(v.position) * v.avg_entry
            den += abs(v.position)
    return num / den if den > 0.0 else fair_value


@kernel
def max_size_for_profit(base: float, thr: float, lin: float, quad: float) -> float:
    """Largest total size T with ``base - lin*T - quad*T^2 >= thr`` (0 if none)."""
    room = base - thr
    if room < 0.0:
        return 0.0
    if quad > 0.0:
        return (-lin + math.sqrt(lin * lin + 4.0 * quad * room)) / (2.0 * quad)
    if lin > 0.0:
        return room / lin
    return math.inf


@kernel
def basis_risk_penalty(basis_usd: float, trade_sign: int, mid: float, fair_value: float, weight: float) -> float:
    """Penalty for trades that grow the global basis, half-weight credit for ones that shrink it.
    (``copysign`` so that B = +0.0 counts as positive, as the reference's ``signum``.)"""
    chg = math.copysign(1.0, basis_usd) * trade_sign * (mid - fair_value)
    return weight * chg if chg > 0.0 else 0.5 * weight * chg


def _levels(v: VenueInput, trade_sign: int) -> tuple[tuple[float, float], ...]:
    """The book side an exit takes, best first (the top of book when no depth is known)."""
    levels = v.bids if trade_sign < 0 else v.asks
    if levels:
        return levels
    return ((v.best_bid, v.bid_size),) if trade_sign < 0 else ((v.best_ask, v.ask_size),)


# Python's min/max keep the first argument on ties and NaN; the kernel keeps their semantics.
@kernel
def _py_min(a: float, b: float) -> float:
    return b if b < a else a


@kernel
def _py_max(a: float, b: float) -> float:
    return b if b > a else a


# Columns of the per-venue array of what :func:`paraphina.strategy.common.venue_columns` lacks.
X_TAKER_BPS, X_SIZE_STEP = range(2)
# Scalars of the exit configuration handed to :func:`exit_plan`, in this order.
EXIT_PARAMS = (
    "max_venue_tao_per_tick", "depth_fraction", "funding_horizon_sec", "fragmentation_reduction_bonus",
    "fragmentation_penalty_per_tao", "liq_penalty_scale", "basis_risk_penalty_weight", "basis_weight", "funding_weight",
    "slippage_linear_coeff", "slippage_spread_mult", "slippage_quadratic_coeff", "min_intent_size_tao", "min_depth_usd",
)


@kernel
def exit_plan(
    f: np.ndarray, ints: np.ndarray, extra: np.ndarray, status: np.ndarray, tox: np.ndarray, dist_liq: np.ndarray,
    counts: np.ndarray, levels: np.ndarray, params: np.ndarray, now_ms: int, stale_ms: int, funding_enabled: bool,
    funding_stale_ms: int, avoid_window_ms: int, tox_high: float, fair_value: float, q: float, basis_usd: float,
    entry: float, thr: float, v_buf: float, liq_warn: float, liq_crit: float, max_total: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Size taken and worst price per venue (and whether the venue trades) for the exit of the
    global position ``q``: the venues that may trade, their caps and score terms, the candidates
    (venue, book level) that beat the threshold, ranked best score first (ties: positions that
    close, then ones that reduce, then venue, level), and the greedy fill.

    ``f``/``ints`` are :func:`~paraphina.strategy.common.venue_columns`; ``levels`` holds every
    venue's book side the exit takes, ``counts[i]`` rows each, venue order, best first."""
    (max_venue, depth_fraction, horizon, frag_bonus, frag_penalty, liq_scale, brisk_weight, basis_weight,
     funding_weight, slip_lin, slip_spread, slip_quad, min_intent, min_depth) = (
        params[0], params[1], params[2], params[3], params[4], params[5], params[6], params[7], params[8], params[9],
        params[10], params[11], params[12], params[13])
    s = fair_value
    n = f.shape[0]
    trade_sign = -1 if q > 0.0 else 1
    caps = np.zeros(n)
    has_cap = np.zeros(n, dtype=np.bool_)
    reduces = np.zeros(n, dtype=np.bool_)
    closes = np.zeros(n, dtype=np.bool_)
    fee_rate = np.zeros(n)
    funding_term = np.zeros(n)
    frag = np.zeros(n)
    brisk = np.zeros(n)
    liq = np.zeros(n)
    for i in range(n):
        if (
            not tradeable_code(status[i])
            or not mid_is_fresh(ints[i, C_HAS_MID_MS] != 0, ints[i, C_MID_MS], now_ms, stale_ms)
            or tox[i] >= tox_high
            or not book_is_valid(f[i, C_MID], f[i, C_SPREAD])
            or f[i, C_DEPTH] < min_depth
        ):
            continue
        position = f[i, C_POSITION]
        dist = dist_liq[i]
        red = position * trade_sign < 0.0
        if dist <= liq_crit and not red:
            continue  # decision 6: never grow a position at the critical distance
        cap = _py_min(_py_min(max_venue, f[i, C_MAX_ORDER]), depth_fraction * f[i, C_DEPTH] / s)
        if dist <= liq_crit:
            cap = _py_min(cap, abs(position))
        if cap <= 0.0:
            continue
        caps[i] = cap
        has_cap[i] = True
        reduces[i] = red
        rate = funding_rate_if_usable(f[i, C_FUNDING_8H], ints[i, C_HAS_FUND_MS] != 0, ints[i, C_FUND_MS],
                                      ints[i, C_HAS_NEXT_FUND] != 0, ints[i, C_NEXT_FUND_MS], now_ms, funding_enabled,
                                      funding_stale_ms, avoid_window_ms)
        funding_term[i] = funding_weight * (-trade_sign * funding_per_tao(rate, horizon, s))
        frag[i] = frag_bonus if red else -frag_penalty
        if math.isfinite(dist) and dist < liq_warn:
            liq[i] = liq_scale * (liq_warn - dist) * (1.0 if red else -1.0)
        brisk[i] = basis_risk_penalty(basis_usd, trade_sign, f[i, C_MID], s, brisk_weight)
        fee_rate[i] = extra[i, X_TAKER_BPS] / 1e4
        closes[i] = red and abs(position) <= cap
    m = levels.shape[0]
    lvl_venue = np.empty(m, dtype=np.int64)
    lvl_index = np.empty(m, dtype=np.int64)
    j = 0
    for i in range(n):
        for lvl in range(counts[i]):
            lvl_venue[j] = i
            lvl_index[j] = lvl
            j += 1
    lvl_px = levels[:, 0]
    lvl_size = levels[:, 1]
    m = lvl_px.shape[0]
    c_idx = np.empty(m, dtype=np.int64)
    c_base = np.empty(m)
    c_score = np.empty(m)
    k = 0
    for j in range(m):
        i = lvl_venue[j]
        px = lvl_px[j]
        if not has_cap[i] or not (px > 0.0):
            continue
        edge = (px - entry) if trade_sign < 0 else (entry - px)
        base = edge - fee_rate[i] * px - v_buf
        if not base > thr:
            continue
        basis_term = (px - s) if trade_sign < 0 else (s - px)
        c_idx[k] = j
        c_base[k] = base
        c_score[k] = base + basis_weight * basis_term + funding_term[i] + frag[i] - brisk[i] + liq[i]
        k += 1
    # Insertion sort (stable, a few dozen candidates) on the ranking key.
    order = np.arange(k)
    for a in range(1, k):
        cur = order[a]
        b = a - 1
        while b >= 0 and _ranks_before(cur, order[b], c_score, c_idx, lvl_venue, lvl_index, closes, reduces):
            order[b + 1] = order[b]
            b -= 1
        order[b + 1] = cur
    remaining = _py_min(abs(q), max_total)
    taken = np.zeros(n)
    worst = np.zeros(n)
    took = np.zeros(n, dtype=np.bool_)
    for r in range(k):
        c = order[r]
        j = c_idx[c]
        i = lvl_venue[j]
        step = _py_max(extra[i, X_SIZE_STEP], f[i, C_LOT])
        if remaining < step:
            break
        done = taken[i]
        lin = slip_lin + slip_spread * s * f[i, C_SPREAD] / f[i, C_DEPTH]
        profit_cap = max_size_for_profit(c_base[c], thr, lin, slip_quad) - done
        level_size = lvl_size[j] if lvl_size[j] > 0.0 else math.inf
        size = _py_min(_py_min(_py_min(caps[i] - done, level_size), remaining), profit_cap)
        size = floor_to_step(size, step)
        if size < f[i, C_LOT] or size < min_intent:
            continue
        taken[i] = done + size
        remaining -= size
        px = lvl_px[j]
        if not took[i]:
            worst[i] = px
        else:
            worst[i] = _py_min(worst[i], px) if trade_sign < 0 else _py_max(worst[i], px)
        took[i] = True
    return taken, worst, took


@kernel
def _ranks_before(a: int, b: int, score: np.ndarray, idx: np.ndarray, venue: np.ndarray, level: np.ndarray,
                  closes: np.ndarray, reduces: np.ndarray) -> bool:
    """Candidate ``a`` strictly before ``b``: higher score, then closes, then reduces, then venue, level."""
    if score[a] != score[b]:
        return score[a] > score[b]
    ja, jb = idx[a], idx[b]
    va, vb = venue[ja], venue[jb]
    if closes[va] != closes[vb]:
        return closes[va]
    if reduces[va] != reduces[vb]:
        return reduces[va]
    if va != vb:
        return va < vb
    return level[ja] < level[jb]


def exits(tick: TickModel, cfg: Config, venues: Sequence[VenueInput]) -> list[OrderIntent]:
    """Exit intents (one IOC per venue, venue order) for the current global position."""
    ex = cfg.exit
    s = tick.fair_value
    if (
        not ex.enabled
        or tick.kill_switch
        or tick.regime == HARD_LIMIT
        or not tick.fv_available
        or s is None
        or not (s > 0.0)
        or abs(tick.q) < ex.min_global_abs_tao
    ):
        return []
    q = tick.q
    trade_sign = -1 if q > 0.0 else 1
    n = len(venues)
    f, ints = venue_columns(venues)
    flat: list[tuple[float, float]] = []
    counts: list[int] = []
    for v in venues:
        side = _levels(v, trade_sign)
        flat.extend(side)
        counts.append(len(side))
    thr = ex.edge_min_usd + ex.edge_vol_mult * tick.vol.vol_ratio_clipped
    v_buf = ex.vol_buffer_mult * sigma_px(tick.vol.sigma_eff, s, tick.tick_sec) * math.sqrt(ex.funding_horizon_sec)
    taken, worst, took = exit_plan(
        f, ints, np.array([(v.taker_fee_bps, v.size_step) for v in venues], dtype=np.float64).reshape(n, 2),
        status_codes(tick.statuses), np.array(tick.toxicity, dtype=np.float64).reshape(n),
        np.array(tick.dist_liq, dtype=np.float64).reshape(n), np.array(counts, dtype=np.int64).reshape(n),
        np.fromiter(chain.from_iterable(flat), dtype=np.float64, count=2 * len(flat)).reshape(len(flat), 2), exit_params(cfg), tick.now_ms, cfg.book.stale_ms,
        ex.funding_enabled, cfg.funding.stale_ms, cfg.funding.avoid_window_ms, float(cfg.toxicity.tox_high_threshold),
        float(s), float(q), float(tick.basis_usd), float(entry_reference(venues, q, s)), float(thr), float(v_buf),
        float(cfg.risk.liq_warn_sigma), float(cfg.risk.liq_crit_sigma), float(ex.max_total_tao_per_tick),
    )
    out: list[OrderIntent] = []
    for i in range(n):
        if not took[i]:
            continue
        v, size, px = venues[i], float(taken[i]), float(worst[i])
        if size * px < v.min_notional_usd:
            continue
        truly_reduces = v.position * trade_sign < 0.0 and size <= abs(v.position) + 1e-12
        out.append(
            OrderIntent(
                venue=v.venue, side=trade_sign, price=px, size=size, purpose="exit", time_in_force="IOC",
                post_only=False, reduce_only=truly_reduces,
            )
        )
    return out


def exit_params(cfg: Config) -> np.ndarray:
    """The exit configuration's scalars in :data:`EXIT_PARAMS` order (what :func:`exit_plan` reads)."""
    ex = cfg.exit
    return np.array([float(getattr(ex, name)) for name in EXIT_PARAMS], dtype=np.float64)
