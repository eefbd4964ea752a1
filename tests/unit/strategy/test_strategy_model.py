import msgspec
import pytest

from paraphina.config import load_config
from paraphina.strategy.common import DISABLED, HEALTHY, NOT_YET_AVAILABLE, WARNING
from paraphina.strategy.fixtures import make_venue
from paraphina.strategy.model import decode_model, encode_model, main_tick, new_model, quote, record_fill
from paraphina.strategy.risk import PNL_HARD_BREACH

CFG = load_config(overrides={"risk.pnl_day_boundary_utc": None})


def fresh(vs, now):
    return [msgspec.structs.replace(v, last_mid_update_ms=now) for v in vs]


def three(mids=(100.0, 100.0, 100.0)):
    return [make_venue(i, m) for i, m in enumerate(mids)]


def test_first_tick_initialises_fair_value():
    m = new_model(3)
    t = main_tick(m, CFG, 1000, fresh(three(), 1000))
    assert t.fair_value == pytest.approx(100.0) and t.fv_available
    assert t.statuses == (HEALTHY,) * 3 and t.regime == "Normal"


def test_not_yet_available_and_staleness_not_sticky():
    m = new_model(3)
    vs = three()
    vs[2] = make_venue(2, None, last_mid_update_ms=None)
    t = main_tick(m, CFG, 1000, fresh(vs[:2], 1000) + [vs[2]])
    assert t.statuses[2] == NOT_YET_AVAILABLE
    stale = fresh(three(), 1000)
    t = main_tick(m, CFG, 2001, stale)  # 1001 ms old
    assert t.statuses == (DISABLED,) * 3 and not t.fv_available
    t = main_tick(m, CFG, 2250, fresh(three(), 2250))
    assert t.statuses == (HEALTHY,) * 3 and t.fv_available


def test_price_deviation_disables_after_three_ticks_and_recovers_after_three():
    m = new_model(4)
    seen = []
    for k in range(7):
        now = 1000 + 250 * k
        mid3 = 103.0 if k < 4 else 100.0
        seen.append(main_tick(m, CFG, now, fresh(three() + [make_venue(3, mid3)], now)).statuses[3])
    # tick 0 initialises (the 103 outlier is gated); breaches on ticks 0..3 -> flagged from tick 2
    assert seen == [HEALTHY, HEALTHY, DISABLED, DISABLED, DISABLED, DISABLED, HEALTHY]


def test_markout_raises_toxicity_then_it_decays():
    m = new_model(3)
    main_tick(m, CFG, 1000, fresh(three(), 1000))
    record_fill(m, CFG, venue=0, side=1, price=102.0, size=1.0, t_fill_ms=1000, mid=100.0, fair_value=100.0)
    t = main_tick(m, CFG, 6000, fresh(three(), 6000))
    assert t.toxicity[0] == pytest.approx(0.1)  # buy at 102, mid 100: markout -2 -> inst 1
    t = main_tick(m, CFG, 66_000, fresh(three(), 66_000))
    assert t.toxicity[0] == pytest.approx(0.05)  # one half-life later


def test_kill_at_exactly_daily_loss_limit_and_latch():
    m = new_model(3)
    t = main_tick(m, CFG, 1000, fresh(three(), 1000), realised_pnl=-4999.0)
    assert not t.kill_switch and t.regime == WARNING
    t = main_tick(m, CFG, 1250, fresh(three(), 1250), realised_pnl=-5000.0)
    assert t.kill_switch and t.kill_transition and t.kill_reason == PNL_HARD_BREACH and t.regime == "HardLimit"
    assert quote(t, CFG, fresh(three(), 1250)) == []
    t = main_tick(m, CFG, 1500, fresh(three(), 1500), realised_pnl=0.0)
    assert t.kill_switch and not t.kill_transition and t.regime == "HardLimit"


def test_daily_reset_at_utc_midnight_in_event_time():
    cfg = load_config()
    m = new_model(3)
    day = 86_400_000
    t = main_tick(m, cfg, day - 250, fresh(three(), day - 250), realised_pnl=-4000.0)
    assert t.pnl_daily == -4000.0
    t = main_tick(m, cfg, day, fresh(three(), day), realised_pnl=-4000.0)
    assert t.pnl_daily == 0.0
    t = main_tick(m, cfg, day + 250, fresh(three(), day + 250), realised_pnl=-5000.0)
    assert t.pnl_daily == -1000.0 and not t.kill_switch


def test_checkpoint_round_trip_continues_identically():
    m = new_model(3)
    mids = [(100.0, 100.1, 99.9), (100.2, 100.3, 100.1), (100.1, 100.0, 99.95)]
    for k, ms in enumerate(mids):
        main_tick(m, CFG, 1000 + 250 * k, fresh(three(ms), 1000 + 250 * k))
    record_fill(m, CFG, venue=1, side=-1, price=100.5, size=2.0, t_fill_ms=1500, mid=100.3, fair_value=100.2)
    m2 = decode_model(encode_model(m))
    assert m2 == m
    a = main_tick(m, CFG, 7000, fresh(three(), 7000))
    b = main_tick(m2, CFG, 7000, fresh(three(), 7000))
    assert msgspec.msgpack.encode(a) == msgspec.msgpack.encode(b)
