"""Compile every kernel of the decision path once (``make install`` runs it after installing).

numba compiles a kernel on its first call and, with ``cache=True``, stores the machine code
under ``__pycache__``; every later process loads it in milliseconds. :func:`warm` makes those
first calls on a tiny hand-made session so that a fresh clone pays compilation at install time,
not in the first replay or test: a two-venue heuristic engine run (book kernels, the model's
step, quoting, order management, exits after a fill, the hedge), then the scalar kernels that
Python code calls directly, with the argument types it uses.

No I/O and no clock: the session is built in memory, so warming twice gives the same state.
"""

from __future__ import annotations

from paraphina import events as ev
from paraphina.config import load_config
from paraphina.engine import Engine
from paraphina.policies import load_policy

MS = 1_000_000


def warm() -> None:
    """Compile (or load from the cache) every decision-path kernel; raises if one was missed."""
    from paraphina.strategy import jit

    _engine_session()
    _scalar_kernels()
    missed = [k.py_func.__qualname__ for k in jit.KERNELS if not k.signatures]  # a kernel added without a call here
    if missed:
        raise RuntimeError(f"kernels not reached by the warm-up: {', '.join(missed)}")


def _engine_session() -> None:
    ins = [ev.Instrument(venue=f"w{i}", symbol="X", tick_size="0.1", lot_size="0.001", min_notional="5")
           for i in range(2)]
    e = Engine(load_config(), ins, load_policy("heuristic"))
    e.step(ev.SessionStart(ts_ns=1, source="warmup"))
    for v, mid in enumerate((600_000, 600_010)):
        e.step(ev.BookSnapshot(ts_ns=1, venue=v, bid_px=[mid - 1, mid - 2], bid_sz=[500, 500],
                               ask_px=[mid + 1, mid + 2], ask_sz=[500, 500]))
    t = 10 * MS
    for k in range(8):
        t = (10 + 250 * k) * MS
        e.step(ev.BookDelta(ts_ns=t - MS, venue=k % 2, bid_px=[600_000 + k], bid_sz=[400], ask_px=[], ask_sz=[]))
        e.step(ev.Trade(ts_ns=t - MS // 2, venue=k % 2, price=600_000, size=3, side=1))
        e.step(ev.Timer(ts_ns=t))
        if k == 2:
            e.step(ev.Fill(ts_ns=t + 1, venue=0, client_order_id="warm", side=1, price=600_000, size=50))


def _scalar_kernels() -> None:
    """Every kernel Python calls directly, with Python floats, ints and bools, and the array
    kernels on two fixture venues (kernels called only from other kernels are compiled into
    their callers; calling them here also fills their own cache entry)."""
    import numpy as np

    from paraphina.strategy import accounting, common, exits, fair_value, quoting, risk, toxicity, volatility
    from paraphina.strategy.fixtures import make_venue

    venues = [make_venue(0, position=1.0, price_liq=80.0), make_venue(1, mid=None, last_mid_update_ms=None)]
    f, ints = common.venue_columns(venues)
    codes = common.status_codes([common.HEALTHY, common.NOT_YET_AVAILABLE])
    stale = np.array([1000, 1000], dtype=np.int64)
    flagged = np.zeros(2, dtype=np.bool_)
    fair_value.kalman_step(fair_value.KalmanState(), None, venues, [common.HEALTHY] * 2, 0, q_base=1e-8, r_a=1e-6,
                           r_b=1e2, r_min=1e-8, r_max=1e-2, p_init=1e-4, stale_ms=1000, min_healthy=1,
                           max_mid_jump_pct=0.05)
    fair_value.relative_observation_variance(6.0, 60_000.0, 1e5, 2e5, 0.25, 1e-8, 1e-8, 1e-2)
    volatility.liq_distances(f, ints, 100.0, 1e-3, 2500.0, 0.25)
    volatility.per_tick(1e-2, 0.25, 86400.0)
    volatility.ewma_vol(1e-3, 1e-3, 0.1)
    volatility.sigma_px(1e-3, 100.0, 0.25)
    volatility.delta_limit_usd(1e5, 1.0)
    toxicity.health_codes(f, ints, stale, 0, 120_000, flagged)
    dev = np.zeros((2, 3), dtype=np.int64)
    toxicity.venue_statuses(f, ints, np.zeros(2), dev, stale, 0, 1e-3, 100.0, True, 120_000, 1e-3, 0.5, 0.02, 3, 3,
                            0.6, 0.9)
    toxicity.health_status(venues[0], 0, stale_ms=1000, catastrophic_stale_ms=120_000, deviation_flagged=False)
    toxicity.vol_toxicity(1e-3, 1e-3, 1e-4, 0.5)
    toxicity.decay_toxicity(0.5, 250, 30_000)
    accounting.unrealised_pnl(1.0, 100.0, 99.0)
    quoting.usable_funding_rate(venues[0], 0, enabled=True, stale_ms=1000, avoid_window_ms=1000)
    quoting.funding_per_tao(1e-4, 30.0, 100.0)
    quoting.funding_target_phi(1e-4, 1e-4, 1.0)
    quoting.reservation_price(fair_value=100.0, basis=0.0, funding_usd=0.0, gamma=0.1, sigma_px_=0.1, tau=30.0, q=0.0,
                              q_v=0.0, q_target=0.0, basis_weight=0.3, funding_weight=0.3, lambda_inv=0.3)
    quoting.half_spread(gamma=0.1, k=1.5, spread_mult=1.0, c_maker=0.0, v_buf=0.0, edge_local_min=0.0,
                        warning_regime=False, spread_warn_mult=1.5, dist_liq=float("inf"), liq_warn=5.0,
                        liq_widening=True, liq_widening_max=1.0)
    quoting.expected_capture(0.5, 0.1, 1.0)
    quoting.liq_size_factor(3.0, 5.0, 2.0)
    quoting.quote_size(edge=1.0, eligible=True, eta=0.1, size_mult=1.0, lot=0.01, price=100.0, margin_available=1e4,
                       max_leverage=10.0, margin_safety=0.5, dist_liq=float("inf"), liq_warn=5.0, liq_crit=2.0,
                       venue_warning=False, warning_size_mult=0.5, toxicity=0.0, tox_med=0.6, tox_high=0.9,
                       tox_floor=0.25, warning_regime=False, q_warn_cap=5.0, max_order_size=20.0)

    exits.max_size_for_profit(1.0, 0.25, 0.01, 0.001)
    exits.basis_risk_penalty(1.0, -1, 100.0, 99.0, 0.5)
    exits._py_min(1.0, 2.0)
    exits._py_max(1.0, 2.0)
    two = np.array([0, 1], dtype=np.int64)
    exits._ranks_before(0, 1, np.zeros(2), two, two, two, flagged, flagged)
    # the fixture venues, one book level each: the ranking and the greedy fill run
    exits.exit_plan(f, ints, np.zeros((2, 2)), codes, np.zeros(2), np.full(2, float("inf")), np.ones(2, dtype=np.int64),
                    np.array([[102.0, 1.0], [103.0, 0.0]]), np.full(len(exits.EXIT_PARAMS), 0.1), 0, 1000, True, 1000,
                    1000, 0.9, 100.0, 10.0, 0.0, 99.0, 0.1, 0.0, 5.0, 2.0, 10.0)
    risk.limit_breaches(0.0, 0.0, 0.0, np.array([3.0, float("inf")]), flagged, 1e5, 0.8, 1e4, 0.5, 1e3, 0.5, 5.0, 2.0,
                        False)
    common.clip(0.5, 0.0, 1.0)
    common.floor_to_step(0.3, 0.1)
    common.sign(-1.0)
    common.is_tradeable(common.HEALTHY)
    common.is_fresh(make_venue(0), 0, 1000)
    common.has_valid_book(make_venue(0))
    accounting.aggregates([1.0, -1.0], [100.0, None], [99.0, 101.0], 100.0)
    fair_value.initial_fair_value([], [], 0, 1000)
    fair_value.observation_variance(0.02, 100.0, 1e6, 1e-6, 1e2, 1e-8, 1e-2)
    quoting.venue_targets([], [], 0.0, [], rate_scale=1e-4, max_tao=1.0)
    quoting.as_half_spread(0.1, 1.5)
    quoting.passive_prices(99.0, 101.0, 99.5, 100.5, 0.1)
    toxicity.toxicity_status(0.5, 0.6, 0.9)
    toxicity.update_deviation(toxicity.DeviationFlag(), 100.0, 100.0, limit=0.02, breach_count=3, clean_count=3)
    volatility.dist_liq_sigma(100.0, 80.0, 0.001, 100.0, 2500.0, 0.25)
    volatility.update_vol(0.0, 0.0, 0.0, tick_sec=0.25, alpha_short=0.1, alpha_long=0.01, sigma_min=1e-4,
                          sigma_min_cadence_sec=86400.0, vol_ref=1e-2, vol_ref_cadence_sec=86400.0, vol_ratio_min=0.25,
                          vol_ratio_max=4.0, c_spread=0.5, c_size=0.5, c_band=0.5)
