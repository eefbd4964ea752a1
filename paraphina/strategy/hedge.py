"""Global hedge: an LQ step outside a dead band, allocated over venues by cost
(STRATEGY.md 4.12; decisions 6, 7, 12, 13).

``|q| <= band`` does nothing (boundary inclusive). Outside it the step ``dH = k*q`` (positive =
sell), clamped to ``max_step``, is split into chunks on every hedge-allowed venue that can
trade, each chunk costed per TAO (half spread, taker fee, slippage buffer, funding and basis
credits, liquidation penalty or bonus, a fragmentation penalty on flat venues, optional
convexity), and the cheapest chunks are taken until the step is covered. Per venue: at most
``min(max_venue, max_order_size, depth_fraction*depth/S)`` and, where the hedge grows the
venue's exposure, what its margin allows. Orders are IOC at a guard price past the touch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from paraphina.config import Config
from paraphina.intents import OrderIntent
from paraphina.strategy.common import VenueInput, clip, floor_to_step, has_valid_book, is_fresh, is_tradeable
from paraphina.strategy.quoting import funding_per_tao, usable_funding_rate
from paraphina.strategy.tick import TickModel
from paraphina.strategy.volatility import hedge_band_tao


def hedge_step(q: float, band: float, k_hedge: float, max_step: float) -> float:
    """Exposure to remove this step (positive = sell): 0 inside the band, else ``k*q``
    clamped to ``±max_step``."""
    if abs(q) <= band:
        return 0.0
    dh = clip(k_hedge * q, -max_step, max_step)
    return 0.0 if abs(dh) < 1e-9 else dh


def margin_cap(position: float, trade_sign: int, margin_available: float, fair_value: float, leverage: float, safety: float) -> float:
    """Largest trade size with ``|q_v + dq| <= |q_v| + margin*leverage*safety/S``: a trade that
    only shrinks |q_v| is never capped by margin; with no margin nothing may grow."""
    growth = margin_available * leverage * safety / fair_value if margin_available > 0.0 else 0.0
    return max(abs(position) + growth - trade_sign * position, 0.0)


def default_chunk(chunk_size: float, max_venue: float) -> float:
    """Chunk size of the allocation: the configured one, else a quarter of what one venue may
    take per tick (``max(max_venue/4, 0.1)``, spec 4.12 step 5: 2.5 TAO by default)."""
    return chunk_size if chunk_size > 0.0 else max(max_venue / 4.0, 0.1)


class HedgeChunk(msgspec.Struct, frozen=True, kw_only=True):
    venue: int
    name: str
    index: int
    size: float
    cost: float          # USD per TAO
    reduces: bool        # this chunk only cuts the venue's own |q_v|


def venue_chunks(
    *,
    venue: int,
    name: str,
    position: float,
    trade_sign: int,
    capacity: float,
    chunk_size: float,
    base_cost: float,
    liq_term: float,
    frag_penalty: float,
    convexity_per_chunk: float,
) -> list[HedgeChunk]:
    """Split a venue's capacity into chunks of ``chunk_size``, also cutting at the point where the
    hedge stops reducing the venue's position and starts growing it: reducing chunks earn the
    liquidation bonus ``-liq_term``, growing ones pay ``+liq_term`` and, on a flat venue, the
    fragmentation penalty."""
    reducible = abs(position) if position * trade_sign < 0.0 else 0.0
    out: list[HedgeChunk] = []
    a, i = 0.0, 0
    while capacity - a > 1e-9:
        b = min(a + chunk_size, capacity)
        if a < reducible < b:
            b = reducible
        reduces = b <= reducible + 1e-12
        cost = base_cost + (-liq_term if reduces else liq_term + (frag_penalty if abs(position) < 1e-9 else 0.0))
        out.append(HedgeChunk(venue=venue, name=name, index=i, size=b - a, cost=cost + i * convexity_per_chunk, reduces=reduces))
        a, i = b, i + 1
    return out


def hedge_band(tick: TickModel, cfg: Config) -> float:
    h = cfg.hedge
    return hedge_band_tao(h.band_base_tao, tick.vol.band_mult, tick.vol.vol_ratio_clipped, h.band_grows_with_vol, h.band_vol_mult)


def hedge(tick: TickModel, cfg: Config, venues: Sequence[VenueInput]) -> list[OrderIntent]:
    """Hedge intents (one IOC per venue, venue order)."""
    h = cfg.hedge
    s = tick.fair_value
    if tick.kill_switch or not tick.fv_available or s is None or not (s > 0.0):
        return []
    dh = hedge_step(tick.q, hedge_band(tick, cfg), h.k_hedge, h.max_step_tao)
    if dh == 0.0:
        return []
    trade_sign = -1 if dh > 0.0 else 1
    target = abs(dh)
    chunk = default_chunk(h.chunk_size_tao, h.max_venue_tao_per_tick)
    chunks: list[HedgeChunk] = []
    guards: dict[int, float] = {}
    for i, v in enumerate(venues):
        if (
            not v.is_hedge_allowed
            or not is_tradeable(tick.statuses[i])
            or not is_fresh(v, tick.now_ms, cfg.book.stale_ms)
            or tick.toxicity[i] >= cfg.toxicity.tox_high_threshold
            or not has_valid_book(v)
            or v.depth_usd < h.min_depth_usd
        ):
            continue
        mid = v.mid
        assert mid is not None
        dist = tick.dist_liq[i]
        reduces = v.position * trade_sign < 0.0
        if dist <= h.liq_crit_sigma and not reduces:
            continue
        bid = v.best_bid if v.best_bid > 0.0 else mid - v.spread / 2.0
        ask = v.best_ask if v.best_ask > 0.0 else mid + v.spread / 2.0
        guard = ask + h.guard_mult * v.spread if trade_sign > 0 else bid - h.guard_mult * v.spread
        if not guard > 0.0:
            continue
        capacity = min(h.max_venue_tao_per_tick, v.max_order_size, h.depth_fraction * v.depth_usd / s)
        capacity = min(capacity, margin_cap(v.position, trade_sign, v.margin_available_usd, s, h.max_leverage, h.margin_safety_buffer))
        if dist <= h.liq_crit_sigma:
            capacity = min(capacity, abs(v.position))  # decision 6: may only cut it there
        if capacity <= 1e-9:
            continue
        rate = usable_funding_rate(
            v, tick.now_ms, enabled=h.funding_enabled, stale_ms=cfg.funding.stale_ms, avoid_window_ms=cfg.funding.avoid_window_ms
        )
        funding_benefit = -trade_sign * funding_per_tao(rate, h.funding_horizon_sec, s)
        basis_edge = (bid - s) if trade_sign < 0 else (s - ask)
        exec_cost = v.spread / 2.0 + abs(v.taker_fee_bps) / 1e4 * mid + h.slippage_buffer
        base_cost = exec_cost - h.funding_weight * funding_benefit - h.basis_weight * basis_edge
        liq_term = h.liq_penalty_scale * (h.liq_warn_sigma - dist) if math.isfinite(dist) and dist < h.liq_warn_sigma else 0.0
        guards[i] = guard
        chunks.extend(
            venue_chunks(
                venue=i, name=v.name, position=v.position, trade_sign=trade_sign, capacity=capacity, chunk_size=chunk,
                base_cost=base_cost, liq_term=liq_term, frag_penalty=h.frag_penalty,
                convexity_per_chunk=h.chunk_convexity_cost_bps / 1e4,
            )
        )
    chunks.sort(key=lambda c: (c.cost, c.name, c.venue, c.index))
    alloc: dict[int, float] = {}
    left = target
    for c in chunks:
        if left <= 1e-9:
            break
        take = min(c.size, left)
        alloc[c.venue] = alloc.get(c.venue, 0.0) + take
        left -= take
    out: list[OrderIntent] = []
    for i in sorted(alloc):
        v = venues[i]
        size = floor_to_step(alloc[i], max(v.size_step, v.lot_size))
        px = guards[i]
        if size < v.lot_size or size < 1e-6 or size * px < v.min_notional_usd:
            continue
        truly_reduces = v.position * trade_sign < 0.0 and size <= abs(v.position) + 1e-12
        out.append(
            OrderIntent(
                venue=v.venue, side=trade_sign, price=px, size=size, purpose="hedge", time_in_force="IOC",
                post_only=False, reduce_only=truly_reduces,
            )
        )
    return out
