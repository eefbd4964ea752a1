"""A preset sized at one price, resized to an instrument at another (issue "Real data end to
end": the btc preset on XRP at ~2 USD quoted 50 % away with an order cap under one lot)."""

from __future__ import annotations

import math

import msgspec
import pytest

from paraphina.config import (
    PRICE_SCALED_KNOBS,
    PRICE_SCALED_VENUE_KNOBS,
    Config,
    ConfigError,
    scale_to_price,
)
from paraphina.presets import build_config, price_reference
from paraphina.strategy.quoting import as_half_spread


def knob(cfg: Config, path: str) -> float:
    obj = cfg
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def btc() -> Config:
    return build_config("btc", {})[0]


def test_factor_one_is_the_config_itself():
    cfg = btc()
    assert scale_to_price(cfg, 1.0) is cfg


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_bad_factor_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="price scale factor"):
        scale_to_price(btc(), bad)


def test_every_listed_knob_moves_by_its_power_and_nothing_else_moves():
    cfg, f = btc(), 1e-3
    out = scale_to_price(cfg, f)
    for path, power in PRICE_SCALED_KNOBS.items():
        assert knob(out, path) == pytest.approx(knob(cfg, path) * f ** power, rel=1e-12), path
    for v_in, v_out in zip([*cfg.venues, cfg.venue_defaults], [*out.venues, out.venue_defaults]):
        for key, power in PRICE_SCALED_VENUE_KNOBS.items():
            assert getattr(v_out, key) == pytest.approx(getattr(v_in, key) * f ** power, rel=1e-12), key
    # Everything else (USD limits, fees, gamma, ticks, time) is untouched.
    before, after = msgspec.to_builtins(cfg), msgspec.to_builtins(out)
    for path in PRICE_SCALED_KNOBS:
        for d in (before, after):
            *parents, leaf = path.split(".")
            for p in parents:
                d = d[p]
            d.pop(leaf)
    for d in (before, after):
        for venue in [*d["venues"], d["venue_defaults"]]:
            for key in PRICE_SCALED_VENUE_KNOBS:
                venue.pop(key)
    assert before == after


def test_notionals_and_quote_geometry_keep_their_bps():
    cfg, price, f = btc(), 60_000.0, 2.0 / 60_000.0
    out = scale_to_price(cfg, f)
    v, w = cfg.venue_defaults, out.venue_defaults
    # The same order cap in USD, the same hedge band in USD, the same edge floor in bps.
    assert w.max_order_size * price * f == pytest.approx(v.max_order_size * price)
    assert out.hedge.band_base_tao * price * f == pytest.approx(cfg.hedge.band_base_tao * price)
    assert out.mm.edge_local_min / (price * f) == pytest.approx(cfg.mm.edge_local_min / price)
    # The Avellaneda-Stoikov half-spread keeps its bps to within a few percent (gamma stays).
    bps = as_half_spread(v.gamma, v.k) / price
    assert as_half_spread(w.gamma, w.k) / (price * f) == pytest.approx(bps, rel=0.05)


def test_round_trip():
    cfg = btc()
    back = scale_to_price(scale_to_price(cfg, 1e-4), 1e4)
    for path in PRICE_SCALED_KNOBS:
        assert knob(back, path) == pytest.approx(knob(cfg, path), rel=1e-9), path


def test_the_btc_preset_is_used_as_it_is_within_its_band_and_resized_outside():
    reference, band = price_reference("btc")
    plain, source = build_config("btc", {})
    assert source == "preset btc"
    for price in (reference / band, 57_000.0, reference * band):
        assert build_config(None, {}, price=price) == (plain, "preset btc")
    xrp, source = build_config(None, {}, price=2.0)
    assert source.startswith("preset btc resized to 2 USD")
    assert xrp == scale_to_price(plain, 2.0 / reference)


def test_profile_acts_on_the_resized_preset():
    cons, _ = build_config("btc", {}, "conservative", price=2.0)
    plain_cons, _ = build_config("btc", {}, "conservative")
    f = 2.0 / price_reference("btc")[0]
    assert cons.hedge.band_base_tao == pytest.approx(plain_cons.hedge.band_base_tao / f)
    assert cons.risk.daily_loss_limit == plain_cons.risk.daily_loss_limit  # USD: unchanged


def test_a_files_own_numbers_are_never_resized_the_preset_under_it_is(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('preset = "btc"\n[hedge]\nband_base_tao = 3000.0\n')
    cfg, source = build_config(str(path), {}, price=2.0)
    assert cfg.hedge.band_base_tao == 3000.0
    assert source == f"{path} (on preset btc resized to 2 USD (x3.333e-05 of its 60000))"
    assert cfg.venue_defaults.max_order_size == pytest.approx(btc().venue_defaults.max_order_size * 30_000)
    standalone = tmp_path / "standalone.toml"
    standalone.write_text('[hedge]\nband_base_tao = 3000.0\n')
    assert build_config(str(standalone), {}, price=2.0)[1] == str(standalone)


def test_spec_preset_names_no_price():
    assert price_reference("spec") is None
    assert build_config("spec", {}, price=2.0)[1] == "preset spec"


def _first_snapshot_mid(path) -> float:
    from paraphina import events as ev
    from paraphina.eventlog import LogReader

    reader = LogReader(str(path))
    ticks = [float(i.tick_size) for i in reader.info.instruments]
    for _, e in reader.events():
        if isinstance(e, ev.BookSnapshot) and e.bid_px and e.ask_px:
            return (max(e.bid_px) + min(e.ask_px)) / 2.0 * ticks[e.venue]
    raise AssertionError("no snapshot")


def test_a_logs_price_is_its_first_two_sided_snapshots_mid(tmp_path):
    # Read from the Arrow stream without the hash chain's check; the checked reader agrees.
    from conftest import write_sample

    from paraphina.commands.common import log_price_usd

    log = write_sample(tmp_path / "s.arrow", n=3000, batch_events=500)
    assert log_price_usd(str(log)) == _first_snapshot_mid(log)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_log_has_no_price_and_raises_nothing(tmp_path, damage):
    # The command then reads the log through its checked reader, which reports the damage.
    from conftest import write_sample

    from paraphina.commands.common import log_price_usd

    log = write_sample(tmp_path / "s.arrow", n=3000, batch_events=500)
    data = log.read_bytes()
    cut = {"truncated": data[:300], "garbage": data[:200] + b"\xff" * 5000, "empty": b""}[damage]
    log.write_bytes(cut)
    assert log_price_usd(str(log)) is None
