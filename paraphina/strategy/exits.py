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
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from paraphina.config import Config
from paraphina.intents import OrderIntent
from paraphina.strategy.common import VenueInput, floor_to_step, has_valid_book, is_fresh, is_tradeable
from paraphina.strategy.quoting import funding_per_tao, usable_funding_rate
from paraphina.strategy.risk import HARD_LIMIT
from paraphina.strategy.tick import TickModel
from paraphina.strategy.volatility import sigma_px


class ExitCandidate(msgspec.Struct, frozen=True, kw_only=True):
    venue: int
    level: int
    price: float
    level_size: float    # TAO available at this level (inf = unknown)
    base: float          # USD/TAO edge after fee and vol buffer, before slippage
    score: float         # ranking score
    reduces: bool        # trades against the venue's own position
    closes: bool         # the venue's whole position fits in this tick's venue cap


def entry_reference(venues: Sequence[VenueInput], q: float, fair_value: float) -> float:
    """|q_v|-weighted average entry over venues holding the global position's side (S if none)."""
    num = den = 0.0
    for v in venues:
        if v.avg_entry > 0.0 and v.position * q > 0.0:
            num += abs(v.position) * v.avg_entry
            den += abs(v.position)
    return num / den if den > 0.0 else fair_value


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


def basis_risk_penalty(basis_usd: float, trade_sign: int, mid: float, fair_value: float, weight: float) -> float:
    """Penalty for trades that grow the global basis, half-weight credit for ones that shrink it.
    (``copysign`` so that B = +0.0 counts as positive, as the reference's ``signum``.)"""
    chg = math.copysign(1.0, basis_usd) * trade_sign * (mid - fair_value)
    return weight * chg if chg > 0.0 else 0.5 * weight * chg


def _levels(v: VenueInput, trade_sign: int) -> list[tuple[float, float]]:
    levels = v.bids if trade_sign < 0 else v.asks
    if levels:
        return [(p, sz if sz > 0.0 else math.inf) for p, sz in levels]
    top = (v.best_bid, v.bid_size) if trade_sign < 0 else (v.best_ask, v.ask_size)
    return [(top[0], top[1] if top[1] > 0.0 else math.inf)]


def exit_candidates(tick: TickModel, cfg: Config, venues: Sequence[VenueInput]) -> tuple[list[ExitCandidate], dict[int, float], float]:
    """Ranked candidates, per-venue size caps and the profit threshold for the current position."""
    ex = cfg.exit
    s = tick.fair_value
    assert s is not None
    q = tick.q
    trade_sign = -1 if q > 0.0 else 1
    thr = ex.edge_min_usd + ex.edge_vol_mult * tick.vol.vol_ratio_clipped
    v_buf = ex.vol_buffer_mult * sigma_px(tick.vol.sigma_eff, s, tick.tick_sec) * math.sqrt(ex.funding_horizon_sec)
    entry = entry_reference(venues, q, s)
    warn, crit = cfg.risk.liq_warn_sigma, cfg.risk.liq_crit_sigma
    caps: dict[int, float] = {}
    cands: list[ExitCandidate] = []
    for i, v in enumerate(venues):
        if (
            not is_tradeable(tick.statuses[i])
            or not is_fresh(v, tick.now_ms, cfg.book.stale_ms)
            or tick.toxicity[i] >= cfg.toxicity.tox_high_threshold
            or not has_valid_book(v)
            or v.depth_usd < ex.min_depth_usd
        ):
            continue
        mid = v.mid
        assert mid is not None
        dist = tick.dist_liq[i]
        reduces = v.position * trade_sign < 0.0
        if dist <= crit and not reduces:
            continue  # decision 6: never grow a position at the critical distance
        cap = min(ex.max_venue_tao_per_tick, v.max_order_size, ex.depth_fraction * v.depth_usd / s)
        if dist <= crit:
            cap = min(cap, abs(v.position))
        if cap <= 0.0:
            continue
        caps[i] = cap
        rate = usable_funding_rate(
            v, tick.now_ms, enabled=ex.funding_enabled, stale_ms=cfg.funding.stale_ms, avoid_window_ms=cfg.funding.avoid_window_ms
        )
        funding_benefit = -trade_sign * funding_per_tao(rate, ex.funding_horizon_sec, s)
        frag = ex.fragmentation_reduction_bonus if reduces else -ex.fragmentation_penalty_per_tao
        liq = 0.0
        if math.isfinite(dist) and dist < warn:
            liq = ex.liq_penalty_scale * (warn - dist) * (1.0 if reduces else -1.0)
        brisk = basis_risk_penalty(tick.basis_usd, trade_sign, mid, s, ex.basis_risk_penalty_weight)
        fee_rate = v.taker_fee_bps / 1e4
        closes = reduces and abs(v.position) <= cap
        for lvl, (px, size) in enumerate(_levels(v, trade_sign)):
            if not (px > 0.0):
                continue
            edge = (px - entry) if trade_sign < 0 else (entry - px)
            base = edge - fee_rate * px - v_buf
            if not base > thr:
                continue
            basis_term = (px - s) if trade_sign < 0 else (s - px)
            score = base + ex.basis_weight * basis_term + ex.funding_weight * funding_benefit + frag - brisk + liq
            cands.append(
                ExitCandidate(venue=i, level=lvl, price=px, level_size=size, base=base, score=score, reduces=reduces, closes=closes)
            )
    # Best score first; ties: positions that close, then ones that reduce, then venue, level.
    cands.sort(key=lambda c: (-c.score, not c.closes, not c.reduces, c.venue, c.level))
    return cands, caps, thr


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
    cands, caps, thr = exit_candidates(tick, cfg, venues)
    trade_sign = -1 if tick.q > 0.0 else 1
    remaining = min(abs(tick.q), ex.max_total_tao_per_tick)
    taken: dict[int, float] = {}
    worst_px: dict[int, float] = {}
    for c in cands:
        v = venues[c.venue]
        step = max(v.size_step, v.lot_size)
        if remaining < step:
            break
        done = taken.get(c.venue, 0.0)
        lin = ex.slippage_linear_coeff + ex.slippage_spread_mult * s * v.spread / v.depth_usd
        profit_cap = max_size_for_profit(c.base, thr, lin, ex.slippage_quadratic_coeff) - done
        size = min(caps[c.venue] - done, c.level_size, remaining, profit_cap)
        size = floor_to_step(size, step)
        if size < v.lot_size or size < ex.min_intent_size_tao:
            continue
        taken[c.venue] = done + size
        remaining -= size
        prev = worst_px.get(c.venue)
        worst_px[c.venue] = c.price if prev is None else (min(prev, c.price) if trade_sign < 0 else max(prev, c.price))
    out: list[OrderIntent] = []
    for i in sorted(taken):
        v, size, px = venues[i], taken[i], worst_px[i]
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
