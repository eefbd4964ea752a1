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
import numpy as np

from paraphina.config import Config
from paraphina.intents import OrderIntent
from paraphina.strategy import exits as _exits
from paraphina.strategy import hedge as _hedge
from paraphina.strategy import quoting as _quoting
from paraphina.strategy.accounting import aggregate_columns
from paraphina.strategy.common import (
    C_AVG_ENTRY,
    C_DEPTH,
    C_HAS_MID,
    C_HAS_MID_MS,
    C_MID,
    C_MID_MS,
    C_POSITION,
    C_SPREAD,
    C_STALE_OVERRIDE,
    HEALTHY,
    NOT_YET_AVAILABLE,
    STATUS_NAMES,
    STATUS_RANK,
    VenueInput,
    book_is_valid,
    clip,
    mid_is_fresh,
    tradeable_code,
    venue_columns,
)
from paraphina.strategy.fair_value import KalmanState, kalman_kernel, venues_used
from paraphina.strategy.jit import kernel
from paraphina.strategy.risk import (
    KillLatch,
    PnlDay,
    daily_pnl,
    effective_regime,
    latch_kill,
    parse_day_boundary,
    risk_result,
    roll_pnl_day,
)
from paraphina.strategy.tick import TickModel
from paraphina.strategy.toxicity import (
    DeviationFlag,
    PendingMarkout,
    decay_toxicity,
    health_codes,
    mature_markouts,
    schedule_markout,
    venue_statuses,
)
from paraphina.strategy.volatility import delta_limit_usd, liq_distances, vol_scalars, vol_step


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


# Constants of :func:`model_step`, packed once per config (configs are frozen).
(P_Q_BASE, P_R_A, P_R_B, P_R_MIN, P_R_MAX, P_P_INIT, P_MAX_JUMP, P_R_SPREAD, P_R_DEPTH, P_TICK_SEC, P_ALPHA_S,
 P_ALPHA_L, P_SIGMA_MIN, P_SIGMA_MIN_CAD, P_VOL_REF, P_VOL_REF_CAD, P_VR_MIN, P_VR_MAX, P_C_SPREAD, P_C_SIZE,
 P_C_BAND, P_LIQ_HORIZON, P_VOL_FLOOR, P_VOL_TOX_SCALE, P_DEV_LIMIT, P_TOX_MED, P_TOX_HIGH, P_MIN_DEPTH) = range(28)
(PI_STALE, PI_CATASTROPHIC, PI_MIN_HEALTHY, PI_RELATIVE, PI_BREACH_COUNT, PI_CLEAN_COUNT) = range(6)
_PARAMS_CACHE: dict[int, tuple[Config, tuple[np.ndarray, np.ndarray]]] = {}


def model_params(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """The float (``P_*``) and integer (``PI_*``) constants :func:`model_step` reads."""
    hit = _PARAMS_CACHE.get(id(cfg))
    if hit is not None and hit[0] is cfg:
        return hit[1]
    kc, bc, tc, vc = cfg.kalman, cfg.book, cfg.toxicity, cfg.volatility
    fp = np.array([
        kc.q_base, kc.r_a, kc.r_b, kc.r_min, kc.r_max, kc.p_init, bc.max_mid_jump_pct, kc.r_spread, kc.r_depth,
        cfg.loops.main_loop_interval_ms / 1000.0, vc.fv_vol_alpha_short, vc.fv_vol_alpha_long, vc.sigma_min,
        vc.sigma_min_cadence_sec, vc.vol_ref, vc.vol_ref_cadence_sec, vc.vol_ratio_min, vc.vol_ratio_max,
        vc.spread_vol_mult_coeff, vc.size_vol_mult_coeff, vc.band_vol_mult_coeff, cfg.risk.liq_sigma_horizon_sec,
        tc.vol_floor, tc.vol_tox_scale, tc.dev_limit, tc.tox_med_threshold, tc.tox_high_threshold,
        min(cfg.hedge.min_depth_usd, cfg.exit.min_depth_usd),
    ], dtype=np.float64)
    ip = np.array([bc.stale_ms, tc.catastrophic_stale_ms, bc.min_healthy_for_kf, kc.noise_model == "relative",
                   tc.dev_breach_count, tc.dev_clean_count], dtype=np.int64)
    if len(_PARAMS_CACHE) > 64:
        _PARAMS_CACHE.clear()
    _PARAMS_CACHE[id(cfg)] = (cfg, (fp, ip))
    return fp, ip


@kernel
def model_step(f: np.ndarray, ints: np.ndarray, mem_i: np.ndarray, markout_tox: np.ndarray, now_ms: int, x: float,
               p: float, initialised: bool, last_update_ms: int, prev_fair: float, prev_available: bool,
               sigma_short: float, sigma_long: float, fp: np.ndarray, ip: np.ndarray):
    """Steps 1-4 of the main tick on venue columns, in the canonical order: fair value (the
    filter sees last tick's toxicity status and this tick's health), volatility, inventory and
    liquidation distances, toxicity and status. ``mem_i`` rows are each venue's deviation flag
    (breaches, cleans, flagged) and last toxicity status code; the flag columns and the status
    code are updated in place. ``markout_tox`` is each venue's markout toxicity after this
    tick's markouts matured. Returns the filter's tuple (:func:`kalman_kernel`), the vol tuple
    (:func:`vol_step`), the aggregates tuple (:func:`aggregate_columns`), and per venue the
    liquidation distance, toxicity, toxicity status, effective status and whether a position
    near liquidation could be reduced now."""
    n = f.shape[0]
    stale_ms = np.empty(n, dtype=np.int64)
    for i in range(n):
        over = ints[i, C_STALE_OVERRIDE]
        stale_ms[i] = over if over != 0 else ip[PI_STALE]
    health = health_codes(f, ints, stale_ms, now_ms, ip[PI_CATASTROPHIC], mem_i[:, 2] != 0)
    kf_status = np.maximum(mem_i[:, 3], health)
    fv = kalman_kernel(
        f, ints, kf_status, now_ms, x, p, initialised, last_update_ms, prev_fair, prev_available, fp[P_Q_BASE],
        fp[P_R_A], fp[P_R_B], fp[P_R_MIN], fp[P_R_MAX], fp[P_P_INIT], ip[PI_STALE], ip[PI_MIN_HEALTHY],
        fp[P_MAX_JUMP], ip[PI_RELATIVE] != 0, fp[P_R_SPREAD], fp[P_R_DEPTH],
    )
    s, available = fv[0], fv[1]
    tick_sec = fp[P_TICK_SEC]
    vol = vol_step(sigma_short, sigma_long, fv[4], tick_sec, fp[P_ALPHA_S], fp[P_ALPHA_L], fp[P_SIGMA_MIN],
                   fp[P_SIGMA_MIN_CAD], fp[P_VOL_REF], fp[P_VOL_REF_CAD], fp[P_VR_MIN], fp[P_VR_MAX], fp[P_C_SPREAD],
                   fp[P_C_SIZE], fp[P_C_BAND])
    sigma_eff = vol[2]
    mids = np.empty(n)
    for i in range(n):
        mids[i] = f[i, C_MID] if ints[i, C_HAS_MID] != 0 else math.nan
    agg = aggregate_columns(f[:, C_POSITION], mids, f[:, C_AVG_ENTRY], s)
    dists = liq_distances(f, ints, s, sigma_eff, fp[P_LIQ_HORIZON], tick_sec)
    dev = mem_i[:, :3].copy()
    tox, tox_codes, codes = venue_statuses(
        f, ints, markout_tox, dev, stale_ms, now_ms, sigma_eff, s, available, ip[PI_CATASTROPHIC], fp[P_VOL_FLOOR],
        fp[P_VOL_TOX_SCALE], fp[P_DEV_LIMIT], ip[PI_BREACH_COUNT], ip[PI_CLEAN_COUNT], fp[P_TOX_MED], fp[P_TOX_HIGH],
    )
    reducible = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        mem_i[i, 0] = dev[i, 0]
        mem_i[i, 1] = dev[i, 1]
        mem_i[i, 2] = dev[i, 2]
        mem_i[i, 3] = tox_codes[i]
        # A venue near liquidation is "reducible" when a trade could cut it now: a fair value to
        # price it, a fresh two-sided book deep enough for the hedge or an exit, not toxic.
        mid, spread, depth = f[i, C_MID], f[i, C_SPREAD], f[i, C_DEPTH]
        reducible[i] = (
            available and tradeable_code(codes[i])
            and ints[i, C_HAS_MID] != 0 and book_is_valid(mid, spread)
            and mid_is_fresh(ints[i, C_HAS_MID_MS] != 0, ints[i, C_MID_MS], now_ms, ip[PI_STALE])
            and tox[i] < fp[P_TOX_HIGH] and depth >= fp[P_MIN_DEPTH]
        )
    return fv, vol, agg, dists, tox, tox_codes, codes, reducible


class TickConstants(msgspec.Struct, frozen=True):
    """What :func:`main_tick` reads from the config, read and parsed once per config (configs
    are frozen) instead of on every tick."""

    fp: np.ndarray
    ip: np.ndarray
    tick_sec: float
    day_boundary_ms: int | None
    decay_half_life_ms: int
    markout_alpha: float
    markout_scale: float
    delta_hard_limit_usd_base: float


_CONSTANTS_CACHE: dict[int, tuple[Config, TickConstants]] = {}


def tick_constants(cfg: Config) -> TickConstants:
    hit = _CONSTANTS_CACHE.get(id(cfg))
    if hit is not None and hit[0] is cfg:
        return hit[1]
    fp, ip = model_params(cfg)
    tc = cfg.toxicity
    k = TickConstants(
        fp=fp, ip=ip, tick_sec=cfg.loops.main_loop_interval_ms / 1000.0,
        day_boundary_ms=parse_day_boundary(cfg.risk.pnl_day_boundary_utc), decay_half_life_ms=tc.decay_half_life_ms,
        markout_alpha=tc.markout_alpha, markout_scale=tc.markout_scale_usd_per_tao,
        delta_hard_limit_usd_base=cfg.risk.delta_hard_limit_usd_base,
    )
    if len(_CONSTANTS_CACHE) > 64:
        _CONSTANTS_CACHE.clear()
    _CONSTANTS_CACHE[id(cfg)] = (cfg, k)
    return k


def main_tick(model: StrategyModel, cfg: Config, now_ms: int, venues: Sequence[VenueInput], realised_pnl: float = 0.0) -> TickModel:
    """Advance the model by one main tick and return what this tick decided.

    ``realised_pnl`` is the run-cumulative realised PnL (fees and funding included) that the
    engine's accounting holds; the daily window is applied here.
    """
    n = len(venues)
    if len(model.venues) < n:
        _ensure_venues(model, n)
    mems = model.venues[:n]
    k = tick_constants(cfg)
    f, ints = venue_columns(venues)
    fp, ip = k.fp, k.ip

    # Markouts first: they read only the venue mids and event time, and nothing before the
    # toxicity step reads them, so this is the canonical order's result.
    markout_tox = np.empty(n, dtype=np.float64)
    for i, mem in enumerate(mems):
        t = mem.markout_tox
        # A zero toxicity with nothing pending stays exactly what it is (decay multiplies it,
        # the clip keeps it): the common case skips both.
        if mem.pending or t != 0.0:
            if mem.tox_clock_ms is not None:
                t = decay_toxicity(t, now_ms - mem.tox_clock_ms, k.decay_half_life_ms)
            if mem.pending:
                mid = float(f[i, C_MID]) if ints[i, C_HAS_MID] else None   # the venue's mid (columns: no struct read)
                mo = mature_markouts(mem.pending, now_ms, mid, t, mem.markout_ewma, alpha=k.markout_alpha,
                                     scale=k.markout_scale)
                mem.pending, t, mem.markout_ewma = mo.queue, mo.toxicity, mo.markout_ewma
            else:
                t = clip(t, 0.0, 1.0)   # what maturing an empty queue does
            mem.markout_tox = t
        mem.tox_clock_ms = now_ms
        markout_tox[i] = t
    mem_i = np.array([(m.deviation.breaches, m.deviation.cleans, m.deviation.flagged, STATUS_RANK[m.tox_status])
                      for m in mems], dtype=np.int64).reshape(n, 4)
    kf = model.kf
    (fv_t, vol_t, agg_t, dists_a, tox_a, tox_codes, codes, reducible) = model_step(
        f, ints, mem_i, markout_tox, now_ms, float(kf.x), float(kf.p),
        kf.initialised, kf.last_update_ms, math.nan if model.fair_value is None else model.fair_value,
        model.fv_available, float(model.sigma_short), float(model.sigma_long), fp, ip,
    )
    s_, available, reseeded, used, _ret, x, p, initialised = fv_t
    s = None if math.isnan(s_) else s_
    model.kf = KalmanState(initialised=initialised, x=x, p=p, last_update_ms=now_ms if initialised else 0)
    model.fair_value = s
    model.fv_available = available
    vol = vol_scalars(vol_t)
    model.sigma_short, model.sigma_long = vol.sigma_short, vol.sigma_long
    q, delta_usd, basis_usd, basis_gross_usd, unrealised = agg_t
    toxes = tox_a.tolist()
    statuses = [STATUS_NAMES[c] for c in codes.tolist()]
    for mem, (b_, c_, fl, ts), st, t in zip(mems, mem_i.tolist(), statuses, toxes):
        d = mem.deviation
        if d.breaches != b_ or d.cleans != c_ or d.flagged != bool(fl):
            mem.deviation = DeviationFlag(breaches=b_, cleans=c_, flagged=bool(fl))
        mem.status, mem.tox_status, mem.toxicity = st, STATUS_NAMES[ts], t
    dists = tuple(dists_a.tolist())

    # 5. PnL day and risk.
    model.pnl_day = roll_pnl_day(model.pnl_day, now_ms, k.day_boundary_ms, realised_pnl, unrealised)
    r_day, u_day, pnl_day = daily_pnl(model.pnl_day, realised_pnl, unrealised)
    rc = cfg.risk
    limit = delta_limit_usd(k.delta_hard_limit_usd_base, vol.vol_ratio_clipped)
    risk = risk_result(
        delta_usd, basis_usd, pnl_day, dists_a, reducible, delta_limit_usd=limit,
        delta_warn_frac=rc.delta_warn_frac, basis_hard_usd=rc.basis_hard_limit_usd, basis_warn_frac=rc.basis_warn_frac,
        daily_loss_limit=rc.daily_loss_limit, pnl_warn_frac=rc.pnl_warn_frac, liq_warn_sigma=rc.liq_warn_sigma,
        liq_crit_sigma=rc.liq_crit_sigma, comparison=rc.limit_comparison,
    )
    was_killed = model.kill.kill_switch
    model.kill = latch_kill(model.kill, risk)
    model.last_tick_ms = now_ms
    return TickModel(
        now_ms=now_ms, tick_sec=k.tick_sec, fair_value=s, fv_available=available, reseeded=reseeded,
        venues_used=venues_used(used, ints), vol=vol,
        q=q, delta_usd=delta_usd, basis_usd=basis_usd, basis_gross_usd=basis_gross_usd,
        unrealised=unrealised, realised_daily=r_day, unrealised_daily=u_day, pnl_daily=pnl_day,
        statuses=tuple(statuses), toxicity=tuple(toxes), dist_liq=dists, delta_limit_usd=limit,
        regime=effective_regime(model.kill, risk), kill_switch=model.kill.kill_switch, kill_reason=model.kill.kill_reason,
        kill_transition=model.kill.kill_switch and not was_killed, hard_breaches=risk.hard_breaches, warnings=risk.warnings,
    )


def quote(tick: TickModel, cfg: Config, venues: Sequence[VenueInput]) -> list[OrderIntent]:
    """MM intents for this tick (see :func:`paraphina.strategy.quoting.quote`)."""
    return _quoting.quote_intents(tick, cfg, venues)


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
