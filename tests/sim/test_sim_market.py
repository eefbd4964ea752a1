"""The synthetic market: deterministic, well-formed, and every shock changes what it generates."""

from __future__ import annotations

import copy
import math
import statistics

import msgspec
import pytest
from simtools import fold

from paraphina import events as ev
from paraphina.sim.market import T0_NS, MarketGenerator
from paraphina.sim.scenario import parse_scenario

STEPS = 400
WINDOW = (150, 300)


def scenario(shocks=(), market=None, venues=None, **kw):
    data = {"scenario_id": "t", "horizon": {"steps": STEPS, "dt_ms": 250},
            "market": market or {"vol_daily": 0.02},
            "venues": venues or [{"name": "a"}, {"name": "b", "basis_bps": 2.0},
                                 {"name": "c", "funding": {"rate": 0.0001, "interval_ms": 60000}}],
            "shocks": list(shocks), **kw}
    return parse_scenario(data)


def generate(sc, seed=7, **kw):
    return list(MarketGenerator(sc, seed, **kw).events())


def encoded(events):
    return [msgspec.msgpack.encode(e) for e in events]


# --- form --------------------------------------------------------------------------------------


def test_same_seed_same_events_and_different_seed_different_events():
    sc = scenario()
    a, b, c = generate(sc, 1), generate(sc, 1), generate(sc, 2)
    assert encoded(a) == encoded(b)
    assert encoded(a) != encoded(c)


def test_events_are_ordered_well_formed_and_books_never_cross():
    sc = scenario()
    events = generate(sc)
    ts = [e.ts_ns for e in events]
    assert ts == sorted(ts) and ts[0] == T0_NS
    first = {}
    seqs = {}
    for e in events:
        v = getattr(e, "venue", -1)
        if v >= 0:
            first.setdefault(v, e)
        if isinstance(e, ev.BookDelta):
            assert e.prev_venue_seq == seqs[e.venue]
        if isinstance(e, (ev.BookDelta, ev.BookSnapshot)):
            seqs[e.venue] = e.venue_seq
            assert all(isinstance(x, int) and x > 0 for x in e.bid_px + e.ask_px)
            assert all(isinstance(x, int) and x >= 0 for x in e.bid_sz + e.ask_sz)
        if isinstance(e, ev.Trade):
            assert isinstance(e.price, int) and e.size >= 1 and e.side in (1, -1)
    assert all(isinstance(first[v], ev.BookSnapshot) for v in range(3))
    books = fold(events, 3)
    assert len(books.samples) == STEPS
    for row in books.samples:
        for bid, ask, bd, ad in row:
            assert bid < ask
            assert bd > 0 and ad > 0


def test_timers_every_interval_and_trades_at_the_touch():
    events = generate(scenario(), timer_ms=100)
    timers = [e.ts_ns for e in events if isinstance(e, ev.Timer)]
    assert timers == [T0_NS + i * 100_000_000 for i in range(len(timers))]
    assert len(timers) == STEPS * 250 // 100
    books = fold([], 3)
    for e in events:
        if isinstance(e, ev.Trade):
            touch = min(books.asks[e.venue]) if e.side > 0 else max(books.bids[e.venue])
            assert e.price == touch
        books.apply(e)


def test_feed_latency_delays_a_venues_events_and_keeps_order():
    base = scenario()
    slow = scenario(venues=[{"name": "a"}, {"name": "b", "basis_bps": 2.0, "feed_latency_ms": 600},
                            {"name": "c", "funding": {"rate": 0.0001, "interval_ms": 60000}}])
    a = [e for e in generate(base) if getattr(e, "venue", -1) == 1]
    events = generate(slow)
    b = [e for e in events if getattr(e, "venue", -1) == 1]
    assert [e.ts_ns + 600_000_000 for e in a] == [e.ts_ns for e in b]
    assert [e.ts_ns for e in events] == sorted(e.ts_ns for e in events)


def test_generator_state_can_be_checkpointed_mid_run():
    gen = MarketGenerator(scenario(), 3)
    head = []
    for _ in range(100):
        head.extend(gen.step())
    saved = copy.deepcopy(gen)
    state = gen.rng.bit_generator.state
    rest = list(gen.events())
    assert saved.rng.bit_generator.state == state
    assert encoded(list(saved.events())) == encoded(rest)
    assert encoded(head + rest) == encoded(generate(scenario(), 3))


def test_markov_and_schedule_regimes_are_used():
    sc = scenario(market={"vol_markov": {"vol_daily": [0.001, 0.2], "switch_prob": [[0.9, 0.1], [0.1, 0.9]]}})
    gen = MarketGenerator(sc, 5)
    seen = set()
    for _ in range(200):
        gen.step()
        seen.add(gen.regime)
    assert seen == {0, 1}


# --- shocks vs the baseline -------------------------------------------------------------------


def mids(events, venue, n=3):
    return [(r[venue][0] + r[venue][1]) / 2 if r[venue] else None for r in fold(events, n).samples]


def realised_vol(series, lo, hi):
    xs = series[lo:hi]
    return statistics.pstdev([math.log(b / a) for a, b in zip(xs, xs[1:])])


def test_vol_spike_raises_realised_volatility_in_its_window_only():
    base = mids(generate(scenario()), 0)
    spiked = mids(generate(scenario([{"type": "vol_spike", "start_step": WINDOW[0], "end_step": WINDOW[1],
                                      "mult": 4.0}])), 0)
    assert realised_vol(spiked, *WINDOW) > 3.0 * realised_vol(base, *WINDOW)
    assert realised_vol(spiked, 20, WINDOW[0]) == pytest.approx(realised_vol(base, 20, WINDOW[0]), rel=0.05)


def test_vol_schedule_and_high_vol_raise_realised_volatility():
    base = mids(generate(scenario()), 0)
    sched = mids(generate(scenario(market={"vol_daily": 0.02, "vol_schedule": [{"start_step": 200, "vol_daily": 0.1}]})), 0)
    assert realised_vol(sched, 220, 380) > 3.0 * realised_vol(base, 220, 380)
    high = mids(generate(scenario(market={"vol_daily": 0.08})), 0)
    assert realised_vol(high, 10, 390) > 3.0 * realised_vol(base, 10, 390)


def test_jumps_fatten_the_tails():
    base = mids(generate(scenario()), 0)
    jumpy = mids(generate(scenario(market={"process": "jump_diffusion", "vol_daily": 0.02, "jumps_per_hour": 200,
                                           "jump_std": 0.004})), 0)
    worst = lambda xs: max(abs(math.log(b / a)) for a, b in zip(xs, xs[1:]))  # noqa: E731
    assert worst(jumpy) > 5 * worst(base)


def basis_bps(events, lo, hi):
    b = fold(events, 3).samples[lo:hi]
    return statistics.fmean(((r[1][0] + r[1][1]) / (r[0][0] + r[0][1]) - 1) * 1e4 for r in b)


def test_basis_spike_moves_the_venue_mid_by_its_size():
    base = generate(scenario())
    up = generate(scenario([{"type": "basis_spike", "venue": 1, "start_step": WINDOW[0], "end_step": WINDOW[1],
                             "add_bps": 100}]))
    down = generate(scenario([{"type": "basis_spike", "venue": 1, "start_step": WINDOW[0], "end_step": WINDOW[1],
                               "add_bps": -100}]))
    assert basis_bps(base, *WINDOW) == pytest.approx(2.0, abs=1.0)
    assert basis_bps(up, *WINDOW) == pytest.approx(102.0, abs=1.0)
    assert basis_bps(down, *WINDOW) == pytest.approx(-98.0, abs=1.0)
    assert basis_bps(up, 320, 400) == pytest.approx(2.0, abs=1.0)


def test_basis_drift_moves_the_basis_every_step():
    drift = generate(scenario(venues=[{"name": "a"}, {"name": "b", "basis_drift_bps_per_step": 0.1}, {"name": "c"}]))
    assert basis_bps(drift, 300, 400) - basis_bps(drift, 0, 100) == pytest.approx(30.0, abs=2.0)


def rates(events, venue):
    return [(e.ts_ns - T0_NS) // 250_000_000 for e in events if isinstance(e, ev.FundingRate) and e.venue == venue], \
           [e.rate for e in events if isinstance(e, ev.FundingRate) and e.venue == venue]


def test_funding_flip_flips_the_sign_in_its_window():
    steps, base = rates(generate(scenario()), 2)
    steps2, flipped = rates(generate(scenario([{"type": "funding_flip", "venue": 2, "start_step": WINDOW[0],
                                                "end_step": WINDOW[1]}])), 2)
    assert steps == steps2
    for k, r0, r1 in zip(steps, base, flipped):
        assert r0 == 0.0001
        assert r1 == (-0.0001 if WINDOW[0] <= k < WINDOW[1] else 0.0001)


def test_funding_drift_moves_the_rate():
    steps, drifted = rates(generate(scenario([{"type": "funding_drift", "start_step": 100, "end_step": 400,
                                               "per_step": 1e-6}])), 0)
    for k, r in zip(steps, drifted):
        expected = 0.0001 + (1e-6 * (k - 100 + 1) if k >= 100 else 0.0)
        assert r == pytest.approx(expected)
    assert drifted[-1] > 3 * drifted[0]


def spread_and_depth(events, lo, hi, venue=0):
    rows = fold(events, 3).samples[lo:hi]
    return (statistics.fmean(r[venue][1] - r[venue][0] for r in rows),
            statistics.fmean(r[venue][2] + r[venue][3] for r in rows))


def test_liquidity_drain_widens_spread_and_thins_depth():
    base = generate(scenario())
    wide = generate(scenario([{"type": "liquidity_drain", "start_step": WINDOW[0], "end_step": WINDOW[1],
                               "spread_mult": 5.0}]))
    thin = generate(scenario([{"type": "liquidity_drain", "venue": 0, "start_step": WINDOW[0], "end_step": WINDOW[1],
                               "depth_mult": 0.4}]))
    s0, d0 = spread_and_depth(base, *WINDOW)
    s1, _ = spread_and_depth(wide, *WINDOW)
    s2, d2 = spread_and_depth(thin, *WINDOW)
    assert s1 == pytest.approx(5 * s0, rel=0.05)
    assert d2 == pytest.approx(0.4 * d0, rel=0.05)
    assert s2 == s0
    assert spread_and_depth(thin, *WINDOW, venue=1)[1] == spread_and_depth(base, *WINDOW, venue=1)[1]


@pytest.mark.parametrize("mode", ["outage", "stale"])
def test_outage_silences_the_venue_and_a_snapshot_follows(mode):
    base = generate(scenario())
    shocked = generate(scenario([{"type": "venue_outage", "venue": 0, "start_step": WINDOW[0],
                                  "end_step": WINDOW[1], "mode": mode}]))
    lo, hi = T0_NS + WINDOW[0] * 250_000_000, T0_NS + WINDOW[1] * 250_000_000

    def venue0(events):
        return [e for e in events if getattr(e, "venue", -1) == 0 and lo <= e.ts_ns < hi]

    assert len(venue0(base)) > 200
    silent = venue0(shocked)
    if mode == "outage":
        assert [type(e) for e in silent] == [ev.BookReset] and silent[0].ts_ns == lo
    else:
        assert silent == []
    after = [e for e in shocked if getattr(e, "venue", -1) == 0 and e.ts_ns >= hi]
    assert isinstance(after[0], ev.BookSnapshot) and after[0].ts_ns == hi
    others = lambda events: [e for e in events if getattr(e, "venue", -1) == 1]  # noqa: E731
    assert len(others(shocked)) > 0


GENERATOR_FIELDS = [
    ("market", {"initial_price": 50_000.0}), ("market", {"drift_daily": 5.0}), ("market", {"vol_daily": 0.03}),
    ("venue", {"tick_size": "0.5"}), ("venue", {"lot_size": "0.01"}),
    ("venue", {"spread_bps": 2.0}), ("venue", {"depth_levels": 5}), ("venue", {"level_spacing_bps": 1.0}),
    ("venue", {"level_size": 1.0}), ("venue", {"size_refresh_prob": 0.5}), ("venue", {"trades_per_step": 2.0}),
    ("venue", {"trade_size": 0.2}), ("venue", {"basis_bps": 10.0}), ("venue", {"basis_drift_bps_per_step": 0.01}),
    ("venue", {"funding": {"rate": 0.0003}}), ("venue", {"funding": {"interval_ms": 3_600_000}}),
    ("venue", {"funding": {"publish_ms": 500}}), ("venue", {"funding": {"drift_per_step": 1e-7}}),
    ("venue", {"feed_latency_ms": 30}),
]


@pytest.mark.parametrize("where, change", GENERATOR_FIELDS, ids=[str(c) for _, c in GENERATOR_FIELDS])
def test_every_market_field_changes_what_is_generated(where, change):
    def sc(extra):
        if where == "market":
            return scenario(market={"vol_daily": 0.02, **extra})
        return scenario(venues=[{"name": "a", **extra}])

    base = scenario(venues=[{"name": "a"}])
    assert encoded(generate(sc({}) if where == "market" else base)) != encoded(generate(sc(change)))


def test_instrument_fields_reach_the_log_instrument_table():
    sc = scenario(venues=[{"name": "a", "symbol": "ETH-PERP", "tick_size": "0.01", "lot_size": "0.1",
                           "min_notional": "10"}])
    (ins,) = MarketGenerator(sc, 1).instruments
    assert (ins.venue, ins.symbol, ins.tick_size, ins.lot_size, ins.min_notional, ins.base) == \
        ("a", "ETH-PERP", "0.01", "0.1", "10", "ETH")


# --- compiled blocks ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["markov_jumps", "shocks"])
def test_block_size_does_not_change_the_events_or_the_generator_state(monkeypatch, case):
    """The kernel generates BLOCK_STEPS steps per call; how the run is cut into blocks must not
    change one byte or one draw (windows of shocks and outages straddle block edges here)."""
    import paraphina.sim.market as market

    if case == "markov_jumps":
        sc = scenario(market={"process": "jump_diffusion", "jumps_per_hour": 400.0, "jump_std": 0.002,
                              "vol_markov": {"vol_daily": [0.01, 0.3], "switch_prob": [[0.95, 0.05], [0.2, 0.8]]}})
    else:
        sc = scenario(shocks=[
            {"type": "venue_outage", "start_step": 3, "end_step": 70, "venue": 0},
            {"type": "venue_outage", "start_step": 60, "end_step": 140, "venue": 1, "mode": "stale"},
            {"type": "vol_spike", "start_step": 10, "end_step": 90, "mult": 4.0},
            {"type": "vol_spike", "start_step": 50, "end_step": 200, "mult": 1.5},
            {"type": "basis_spike", "start_step": 63, "end_step": 129, "add_bps": 7.5},
            {"type": "liquidity_drain", "start_step": 100, "end_step": 260, "spread_mult": 3.0, "depth_mult": 0.3},
            {"type": "liquidity_drain", "start_step": 120, "end_step": 130, "venue": 2, "spread_mult": 2.0},
        ], market={"vol_daily": 0.05, "vol_schedule": [{"start_step": 64, "vol_daily": 0.2}]})
    runs = []
    for block in (1, 7, 64, 1000):
        monkeypatch.setattr(market, "BLOCK_STEPS", block)
        gen = MarketGenerator(sc, 11)
        runs.append((encoded(list(gen.events())), gen.rng.bit_generator.state, gen.regime, gen.fair))
    assert len(runs[0][0]) > STEPS
    assert all(r == runs[0] for r in runs[1:])
