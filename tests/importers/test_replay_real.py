"""The engine on reality: the three Binance captures merged, folded by the engine's own book
kernel (checked against the independent reference book at every message) and replayed with the
built-in policies."""

from __future__ import annotations

import pytest

from paraphina import events as ev
from paraphina.actions import PlaceOrder
from paraphina.book import I_CROSSED, I_GAPS
from paraphina.columns import from_events
from paraphina.config import load_config, parse_config_text
from paraphina.engine import Engine
from paraphina.eventlog import LogReader
from paraphina.importers import run_import
from paraphina.importers.merge import merge_logs
from paraphina.policies import load_policy
from paraphina.replay import replay_log

from helpers import RefBook
from conftest import ROOT

BTC = ROOT / "paraphina" / "presets" / "btc.toml"


@pytest.fixture(scope="module")
def merged(real_data_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("real3")
    parts = []
    for name, f, extra in (("usdm", "usdm_btcusdt_20240808.gz", {}), ("coinm", "cm_btcusd_perp_20240808.gz", {"contract_size_to_base": True}),
                           ("spot", "spot_btcusdt_20240808.gz", {})):
        from paraphina.importers.common import ImportOptions

        p = d / f"{name}.arrow"
        run_import("binance", [str(real_data_dir / "binance" / f)], str(p), ImportOptions(**extra))
        parts.append(str(p))
    out = d / "merged.arrow"
    merge_logs(parts, str(out), timer_ms=250)
    return out


def btc_config():
    return load_config(parse_config_text(BTC.read_text(), str(BTC)))


def test_engine_books_equal_the_reference_book_at_every_message(merged):
    reader = LogReader(merged)
    engine = Engine(btc_config(), reader.info.instruments, load_policy("fixed-spread"))
    refs = {v: RefBook() for v in range(3)}
    checked = 0
    for seq, e in LogReader(merged).events():
        engine.apply_columns(from_events([e], seq))
        if isinstance(e, ev.BookSnapshot):
            refs[e.venue].snapshot(e)
        elif isinstance(e, ev.BookDelta):
            refs[e.venue].delta(e)
        else:
            continue
        want = refs[e.venue].top()
        got = engine.state.books.top(e.venue)
        if want[0] is not None and want[1] is not None:
            assert got == (want[0][0], want[0][1], want[1][0], want[1][1]), (seq, e.venue)
            checked += 1
    assert checked > 36_000
    for v in range(3):
        assert engine.state.books.counter(v, I_GAPS) == 0
        assert engine.state.books.counter(v, I_CROSSED) == 0


@pytest.mark.parametrize("policy", ["fixed-spread", "heuristic"])
def test_replay_of_the_merged_log_quotes_on_all_three_venues(merged, policy):
    placed: set[int] = set()
    r = replay_log(str(merged), policy, btc_config(),
                   sink=lambda acts: placed.update(a.venue for a in acts if isinstance(a, PlaceOrder)))
    assert r.events == 71_562 and r.summary["gaps"] == 0
    assert placed == {0, 1, 2}
