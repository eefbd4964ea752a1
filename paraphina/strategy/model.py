"""Per-run strategy memory and the canonical main tick (STRATEGY.md section 5, decision 1).

:class:`StrategyModel` is everything the strategy remembers between ticks: the Kalman filter,
fair-value vols, per-venue toxicity, pending markouts and health counters, the PnL day and the
kill latch. It is a mutable msgspec Struct so a checkpoint is ``msgspec.msgpack.encode(model)``.

:func:`main_tick` runs, in order: fair value (KF), volatility and control scalars, inventory /
basis / PnL, toxicity and venue status, then risk (limits, regime, kill), and returns a frozen
:class:`TickModel` that :func:`quote`, :func:`exits` and :func:`hedge` read to produce intents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from paraphina.config import Config
from paraphina.intents import OrderIntent
from paraphina.strategy import exits as _exits
from paraphina.strategy import hedge as _hedge
from paraphina.strategy import quoting as _quoting
from paraphina.strategy.accounting import aggregates
from paraphina.strategy.common import HEALTHY, NOT_YET_AVAILABLE, VenueInput, has_valid_book, is_fresh, is_tradeable
from paraphina.strategy.fair_value import KalmanState, kalman_step
from paraphina.strategy.risk import (
    KillLatch,
    LiqExposure,
    PnlDay,
    daily_pnl,
    effective_regime,
    evaluate_risk,
    latch_kill,
    parse_day_boundary,
    roll_pnl_day,
)
from paraphina.strategy.tick import TickModel
from paraphina.strategy.toxicity import (
    DeviationFlag,
    PendingMarkout,
    decay_toxicity,
    effective_status,
    health_status,
    mature_markouts,
    schedule_markout,
    toxicity_status,
    update_deviation,
    vol_toxicity,
)
from paraphina.strategy.volatility import delta_limit_usd, dist_liq_sigma, update_vol_cfg


class VenueMemory(msgspec.Struct, kw_only=True):
    markout_tox: float = 0.0
    markout_ewma: float = 0.0
    tox_clock_ms: int | None = None     # event time the markout toxicity was last decayed to
    pending: list[PendingMarkout] = []
    deviation: DeviationFlag = DeviationFlag()
    status: str = NOT_YET_AVAILABLE     # effective status of the last tick
    tox_status: str = HEALTHY           # toxicity-only status of the last tick
    toxicity: float = 0.0               # effective toxicity of the last tick


class StrategyModel(msgspec.Struct, kw_only=True):
    kf: KalmanState = msgspec.field(default_factory=KalmanState)
    fair_value: float | None = None
    fv_available: bool = False
    sigma_short: float = 0.0
    sigma_long: float = 0.0
    venues: list[VenueMemory] = []
    kill: KillLatch = KillLatch()
    pnl_day: PnlDay = PnlDay()
    last_tick_ms: int | None = None


def new_model(n_venues: int) -> StrategyModel:
    return StrategyModel(venues=[VenueMemory() for _ in range(n_venues)])


def encode_model(model: StrategyModel) -> bytes:
    """Checkpoint bytes (msgpack)."""
    return msgspec.msgpack.encode(model)


def decode_model(data: bytes) -> StrategyModel:
    return msgspec.msgpack.decode(data, type=StrategyModel)


def record_fill(
    model: StrategyModel, cfg: Config, *, venue: int, side: int, price: float, size: float, t_fill_ms: int,
    mid: float | None, fair_value: float | None,
) -> None:
    """Schedule the markout of a fill at its own event time (decision 4)."""
    _ensure_venues(model, venue + 1)
    mem = model.venues[venue]
    ref = fair_value if fair_value is not None else (mid if mid is not None else price)
    mem.pending = schedule_markout(
        mem.pending, t_fill=t_fill_ms, side=side, size=size, price=price, fair_at_fill=ref,
        mid_at_fill=mid if mid is not None else ref, horizon_ms=cfg.toxicity.markout_horizon_ms,
        cap=cfg.toxicity.max_pending_per_venue,
    )


def _ensure_venues(model: StrategyModel, n: int) -> None:
    while len(model.venues) < n:
        model.venues.append(VenueMemory())


def main_tick(model: StrategyModel, cfg: Config, now_ms: int, venues: Sequence[VenueInput], realised_pnl: float = 0.0) -> TickModel:
    """Advance the model by one main tick and return what this tick decided.

    ``realised_pnl`` is the run-cumulative realised PnL (fees and funding included) that the
    engine's accounting holds; the daily window is applied here.
    """
    _ensure_venues(model, len(venues))
    mems = model.venues
    tick_sec = cfg.loops.main_loop_interval_ms / 1000.0

    # 1. Fair value. Toxicity runs after fair value, so the filter sees last tick's toxicity
    # status; health flags (book presence, staleness) are recomputed now, as decision 2 wants.
    kc, bc, tc = cfg.kalman, cfg.book, cfg.toxicity
    kf_statuses = [
        effective_status(
            m.tox_status,
            health_status(v, now_ms, stale_ms=v.stale_ms_override or bc.stale_ms, catastrophic_stale_ms=tc.catastrophic_stale_ms,
                          deviation_flagged=m.deviation.flagged),
        )
        for v, m in zip(venues, mems)
    ]
    fv = kalman_step(
        model.kf, model.fair_value, venues, kf_statuses, now_ms,
        q_base=kc.q_base, r_a=kc.r_a, r_b=kc.r_b, r_min=kc.r_min, r_max=kc.r_max, p_init=kc.p_init,
        stale_ms=bc.stale_ms, min_healthy=bc.min_healthy_for_kf, max_mid_jump_pct=bc.max_mid_jump_pct,
        prev_available=model.fv_available, noise_model=kc.noise_model, r_spread=kc.r_spread, r_depth=kc.r_depth,
    )
    model.kf = KalmanState(initialised=fv.initialised, x=fv.x, p=fv.p, last_update_ms=now_ms if fv.initialised else 0)
    model.fair_value = fv.fair_value
    model.fv_available = fv.available
    s = fv.fair_value

    # 2. Volatility and control scalars.
    vol = update_vol_cfg(model.sigma_short, model.sigma_long, fv.log_return, cfg.volatility, tick_sec)
    model.sigma_short, model.sigma_long = vol.sigma_short, vol.sigma_long

    # 3. Inventory, basis, unrealised PnL; liquidation distances.
    agg = aggregates([v.position for v in venues], [v.mid for v in venues], [v.avg_entry for v in venues], s)
    dists = tuple(
        dist_liq_sigma(v.mid if v.mid is not None else (s or 0.0), v.price_liq, vol.sigma_eff, s, cfg.risk.liq_sigma_horizon_sec, tick_sec)
        if s is not None and abs(v.position) > 1e-9
        else math.inf
        for v in venues
    )

    # 4. Toxicity and venue status (recomputed, nothing sticky but the markout EWMA).
    statuses: list[str] = []
    toxes: list[float] = []
    for v, mem in zip(venues, mems):
        if mem.tox_clock_ms is not None:
            mem.markout_tox = decay_toxicity(mem.markout_tox, now_ms - mem.tox_clock_ms, tc.decay_half_life_ms)
        mem.tox_clock_ms = now_ms
        mo = mature_markouts(mem.pending, now_ms, v.mid, mem.markout_tox, mem.markout_ewma, alpha=tc.markout_alpha,
                             scale=tc.markout_scale_usd_per_tao)
        mem.pending, mem.markout_tox, mem.markout_ewma = mo.queue, mo.toxicity, mo.markout_ewma
        tox = max(mem.markout_tox, vol_toxicity(v.local_vol_short, vol.sigma_eff, tc.vol_floor, tc.vol_tox_scale))
        if fv.available:
            mem.deviation = update_deviation(mem.deviation, v.mid, s, limit=tc.dev_limit, breach_count=tc.dev_breach_count,
                                             clean_count=tc.dev_clean_count)
        health = health_status(v, now_ms, stale_ms=v.stale_ms_override or bc.stale_ms,
                               catastrophic_stale_ms=tc.catastrophic_stale_ms, deviation_flagged=mem.deviation.flagged)
        tox_status = toxicity_status(tox, tc.tox_med_threshold, tc.tox_high_threshold)
        status = effective_status(tox_status, health)
        mem.status, mem.tox_status, mem.toxicity = status, tox_status, tox
        statuses.append(status)
        toxes.append(tox)

    # 5. PnL day and risk.
    model.pnl_day = roll_pnl_day(model.pnl_day, now_ms, parse_day_boundary(cfg.risk.pnl_day_boundary_utc), realised_pnl, agg.unrealised)
    r_day, u_day, pnl_day = daily_pnl(model.pnl_day, realised_pnl, agg.unrealised)
    rc = cfg.risk
    # A venue near liquidation is "reducible" when a trade could cut it now: a fair value to
    # price it, a fresh two-sided book deep enough for the hedge or an exit, not toxic.
    min_depth = min(cfg.hedge.min_depth_usd, cfg.exit.min_depth_usd)
    liq = [
        LiqExposure(
            dist=d,
            reducible=fv.available and is_tradeable(st) and has_valid_book(v) and is_fresh(v, now_ms, bc.stale_ms)
            and t < tc.tox_high_threshold and v.depth_usd >= min_depth,
        )
        for v, d, st, t in zip(venues, dists, statuses, toxes)
    ]
    limit = delta_limit_usd(rc.delta_hard_limit_usd_base, vol.vol_ratio_clipped)
    risk = evaluate_risk(
        delta_usd=agg.delta_usd, basis_usd=agg.basis_usd, pnl_usd=pnl_day, liq=liq, delta_limit_usd=limit,
        delta_warn_frac=rc.delta_warn_frac, basis_hard_usd=rc.basis_hard_limit_usd, basis_warn_frac=rc.basis_warn_frac,
        daily_loss_limit=rc.daily_loss_limit, pnl_warn_frac=rc.pnl_warn_frac, liq_warn_sigma=rc.liq_warn_sigma,
        liq_crit_sigma=rc.liq_crit_sigma, comparison=rc.limit_comparison,
    )
    was_killed = model.kill.kill_switch
    model.kill = latch_kill(model.kill, risk)
    model.last_tick_ms = now_ms
    return TickModel(
        now_ms=now_ms, tick_sec=tick_sec, fair_value=s, fv_available=fv.available, reseeded=fv.reseeded,
        venues_used=fv.venues_used, vol=vol,
        q=agg.q, delta_usd=agg.delta_usd, basis_usd=agg.basis_usd, basis_gross_usd=agg.basis_gross_usd,
        unrealised=agg.unrealised, realised_daily=r_day, unrealised_daily=u_day, pnl_daily=pnl_day,
        statuses=tuple(statuses), toxicity=tuple(toxes), dist_liq=dists, delta_limit_usd=limit,
        regime=effective_regime(model.kill, risk), kill_switch=model.kill.kill_switch, kill_reason=model.kill.kill_reason,
        kill_transition=model.kill.kill_switch and not was_killed, hard_breaches=risk.hard_breaches, warnings=risk.warnings,
    )


def quote(tick: TickModel, cfg: Config, venues: Sequence[VenueInput]) -> list[OrderIntent]:
    """MM intents for this tick (see :func:`paraphina.strategy.quoting.quote`)."""
    return _quoting.quote(tick, cfg, venues)[0]


def exits(tick: TickModel, cfg: Config, venues: Sequence[VenueInput]) -> list[OrderIntent]:
    """Exit intents (see :func:`paraphina.strategy.exits.exits`)."""
    return _exits.exits(tick, cfg, venues)


def hedge(tick: TickModel, cfg: Config, venues: Sequence[VenueInput]) -> list[OrderIntent]:
    """Hedge intents (see :func:`paraphina.strategy.hedge.hedge`)."""
    return _hedge.hedge(tick, cfg, venues)


def venue_input_from_config(vcfg, **fields) -> VenueInput:
    """A :class:`VenueInput` with the venue's strategy constants from its
    :class:`paraphina.config.VenueConfig`; ``fields`` carry the live market and account values."""
    return VenueInput(
        name=vcfg.name, maker_fee_bps=vcfg.maker_fee_bps, maker_rebate_bps=vcfg.maker_rebate_bps,
        taker_fee_bps=vcfg.taker_fee_bps, max_order_size=vcfg.max_order_size, min_notional_usd=vcfg.min_notional_usd,
        stale_ms_override=vcfg.stale_ms_override, is_hedge_allowed=vcfg.is_hedge_allowed, gamma=vcfg.gamma, k=vcfg.k,
        w_liq=vcfg.w_liq, w_fund=vcfg.w_fund, **fields,
    )
