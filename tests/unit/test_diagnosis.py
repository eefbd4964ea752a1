"""Never silent: each reason a replay quotes nothing comes out as one line, from a small
constructed log (paraphina.diagnosis.why_quiet)."""

from __future__ import annotations

import sys
from pathlib import Path

from paraphina import events as ev
from paraphina import samplegen
from paraphina.config import load_config
from paraphina.diagnosis import OUTLIER, STALE, QuietObserver, QuietTally, fv_unavailable_reason, why_quiet
from paraphina.eventlog import write_events
from paraphina.presets import build_config
from paraphina.replay import replay_log
from paraphina.strategy.common import VenueInput

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import run_cli  # noqa: E402

T0 = samplegen.T0_NS
MS = 1_000_000
BTC = build_config("btc", {})[0]


def market(n: int = 3000, venues: int = 3) -> list[ev.Event]:
    """samplegen's market (snapshots, deltas, trades, a Timer every 250 ms)."""
    return [e for cols in samplegen.generate(n, venues, seed=3) for e in cols.events()]


def snapshot(venue: int, mid: int, ts_ns: int) -> ev.BookSnapshot:
    return ev.BookSnapshot(ts_ns=ts_ns, venue=venue, bid_px=[mid - 1, mid - 2, mid - 3], bid_sz=[2000, 3000, 4000],
                           ask_px=[mid + 1, mid + 2, mid + 3], ask_sz=[2000, 3000, 4000])


def timers(start_ns: int, n: int) -> list[ev.Timer]:
    return [ev.Timer(ts_ns=start_ns + k * 250 * MS) for k in range(n)]


def diagnose(tmp_path, events, cfg=BTC, venues: int = 3, policy: str = "heuristic"):
    path = tmp_path / "constructed.arrow"
    write_events(path, samplegen.instruments(venues), events, {"source": "test"})
    quiet = QuietObserver()
    r = replay_log(str(path), policy, cfg, observers=[quiet])
    return why_quiet(quiet.tally, r.summary, cfg), quiet.tally, r


def test_a_market_that_quotes_has_nothing_to_explain(tmp_path):
    why, tally, r = diagnose(tmp_path, market())
    assert tally.mm_places > 0 and r.actions > 0
    assert why is None


def test_no_timer_events_says_the_main_loop_never_ran_and_how_to_add_timers(tmp_path):
    why, tally, r = diagnose(tmp_path, [e for e in market() if not isinstance(e, ev.Timer)])
    assert tally.main_ticks == 0 and r.actions == 0
    assert "no Timer events" in why and "--timer-ms" in why


def test_stale_books_name_the_staleness_and_the_share_of_ticks(tmp_path):
    # Books once at T0, then 20 main ticks from 5 s later: every book is older than stale_ms.
    events = [snapshot(v, 600_000 + v, T0) for v in range(3)] + timers(T0 + 5000 * MS, 20)
    why, tally, _ = diagnose(tmp_path, events)
    assert tally.fv_reasons == {STALE: 20}
    assert why == ("no quotes: fair value unavailable on 100.0 % of 20 main ticks, mostly because fewer than "
                   "book.min_healthy_for_kf=2 venues had a book updated within book.stale_ms=1000 ms")


def test_venues_far_apart_are_outliers_of_the_fair_value(tmp_path):
    # Two venues 10 % apart, refreshed every 100 ms: both are always outside the 2 % gate
    # around the fair value between them.
    events: list[ev.Event] = []
    for k in range(100):
        t = T0 + k * 100 * MS
        events += [snapshot(0, 600_000, t), snapshot(1, 660_000, t)]
        if k % 5 == 4:
            events.append(ev.Timer(ts_ns=t + MS))
    why, tally, _ = diagnose(tmp_path, events, venues=2)
    assert tally.main_ticks == 20 and tally.fv_unavailable == 20
    assert max(tally.fv_reasons, key=tally.fv_reasons.get) == OUTLIER
    assert why.startswith("no quotes: fair value unavailable on 100.0 % of 20 main ticks, mostly because")
    assert "max_mid_jump_pct=0.02" in why and "outlier gate" in why


def test_a_kill_names_the_tick_and_the_reason(tmp_path):
    events = market()
    first_timer = next(i for i, e in enumerate(events) if isinstance(e, ev.Timer))
    events.insert(first_timer, ev.OperatorKill(ts_ns=events[first_timer].ts_ns, reason="desk says stop"))
    why, tally, r = diagnose(tmp_path, events)
    assert r.summary["kill_switch"] and tally.kill_tick == 1
    assert why.startswith(f"no quotes: the kill switch latched at main tick 1 of {tally.main_ticks} (")
    assert r.summary["kill_reason"] in why


def test_every_intent_rejected_by_the_shield_names_the_rule(tmp_path):
    cfg = build_config("btc", {}, overrides={"venue_defaults.min_notional_usd": 1e12})[0]
    why, tally, r = diagnose(tmp_path, market(), cfg=cfg)
    assert tally.mm_places == 0 and r.summary["shield"]["min_notional"] > 0
    assert why == f"no quotes: the shield rejected every intent (min_notional={r.summary['shield']['min_notional']})"


def test_reason_classifier_by_hand():
    cfg = load_config()
    fresh = dict(spread=1.0, depth_usd=1e5, last_mid_update_ms=10_000)
    two_close = [VenueInput(venue=0, mid=100.0, **fresh), VenueInput(venue=1, mid=101.0, **fresh)]
    # 1 % from the reference is inside the 2 % gate: the filter had its venues, so health held them out.
    assert fv_unavailable_reason(two_close, 100.0, 10_500, cfg) == "unhealthy"
    assert fv_unavailable_reason(two_close, 110.0, 10_500, cfg) == OUTLIER
    assert fv_unavailable_reason(two_close, 100.0, 11_001, cfg) == STALE
    assert fv_unavailable_reason([VenueInput(venue=0), VenueInput(venue=1)], None, 0, cfg) == "no_book"


def test_the_dominant_reason_wins_and_a_policy_that_proposes_nothing_is_named():
    cfg = load_config()
    tally = QuietTally(main_ticks=10, fv_unavailable=4, fv_reasons={STALE: 1, OUTLIER: 3})
    why = why_quiet(tally, {"kill_switch": False, "shield": {}}, cfg)
    assert why.startswith("no quotes: the policy proposed none on 10 main ticks; fair value unavailable on 40.0 %")
    assert "outlier gate" in why
    assert why_quiet(QuietTally(main_ticks=3, mm_places=1), {}, cfg) is None


def test_replay_prints_the_reason_before_the_summary_block(tmp_path):
    path = tmp_path / "no-timers.arrow"
    write_events(path, samplegen.instruments(3), [e for e in market() if not isinstance(e, ev.Timer)], {"source": "t"})
    r = run_cli("replay", str(path), "--policy", "heuristic")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    at = lines.index("=== Replay Summary ===")
    assert lines[at - 1].startswith("no quotes: the log has no Timer events")


def test_backtest_and_shadow_print_the_reason(tmp_path):
    path = tmp_path / "stale.arrow"
    write_events(path, samplegen.instruments(3),
                 [snapshot(v, 600_000 + v, T0) for v in range(3)] + timers(T0 + 5000 * MS, 12), {"source": "t"})
    bt = run_cli("backtest", str(path), "-o", str(tmp_path / "bt.arrow"))
    assert bt.returncode == 0, bt.stderr
    assert "no quotes: fair value unavailable on 100.0 % of 12 main ticks, mostly because fewer than" in bt.stdout
    sh = run_cli("shadow", str(path), "--baseline", "heuristic", "--candidate", "fixed-spread",
                 "-o", str(tmp_path / "session.arrow"))
    assert sh.returncode == 0, sh.stderr
    assert "no quotes: fair value unavailable on 100.0 % of 12 main ticks" in sh.stdout
