"""Config layering: defaults < preset (instrument scale) < profile (risk appetite, scaled to the
preset) < file < env < CLI; and the one default config rule of every command."""

from __future__ import annotations

import pytest

from paraphina.config import ConfigError, config_hash, load_config
from paraphina.errors import UserError
from paraphina.presets import build_config, preset_data

BTC = preset_data("btc")


def test_at_the_spec_scale_the_profile_table_comes_out_exactly():
    for name in ("conservative", "balanced", "aggressive"):
        assert load_config(profile=name, preset_data={}) == load_config(profile=name)
    c = load_config(profile="conservative")
    assert (c.risk.delta_hard_limit_usd_base, c.risk.daily_loss_limit, c.hedge.band_base_tao, c.mm.size_eta) == \
        (46_600.0, 2000.0, 2.62125, 0.0466)


def test_a_profile_scales_what_the_preset_set_by_hand():
    # STRATEGY.md 2.1 as ratios to balanced: conservative 0.466 (delta base, band, eta) and 0.4
    # (loss limit); aggressive 0.864 and 0.4. The preset's own numbers are the balanced column.
    base = (BTC["risk"]["delta_hard_limit_usd_base"], BTC["risk"]["daily_loss_limit"],
            BTC["hedge"]["band_base_tao"], BTC["mm"]["size_eta"])
    bal = load_config(profile="balanced", preset_data=BTC)
    cons = load_config(profile="conservative", preset_data=BTC)
    agg = load_config(profile="aggressive", preset_data=BTC)

    def knobs(c):
        return (c.risk.delta_hard_limit_usd_base, c.risk.daily_loss_limit, c.hedge.band_base_tao, c.mm.size_eta)

    assert knobs(bal) == base
    assert knobs(cons) == pytest.approx((base[0] * 0.466, base[1] * 0.4, base[2] * 0.466, base[3] * 0.466))
    assert knobs(agg) == pytest.approx((base[0] * 0.864, base[1] * 0.4, base[2] * 0.864, base[3] * 0.864))
    # vol_ref is the same in every profile: the preset's (here the default) value stands.
    assert cons.volatility.vol_ref == bal.volatility.vol_ref == agg.volatility.vol_ref
    # Everything else is the preset's.
    assert cons.venue_defaults == bal.venue_defaults and cons.exit == bal.exit
    assert len({config_hash(bal), config_hash(cons), config_hash(agg)}) == 3


def test_file_env_and_cli_sit_above_the_profile():
    file_data = {"hedge": {"band_base_tao": 0.5}}  # over the profile: taken as given
    c = load_config(file_data, profile="conservative", preset_data=BTC)
    assert c.hedge.band_base_tao == 0.5 and c.mm.size_eta == pytest.approx(BTC["mm"]["size_eta"] * 0.466)
    c = load_config(file_data, env={"PARAPHINA_MM_SIZE_ETA": "7"}, profile="conservative", preset_data=BTC,
                    overrides={"hedge.band_base_tao": 0.9})
    assert (c.hedge.band_base_tao, c.mm.size_eta) == (0.9, 7.0)


def test_a_preset_cannot_carry_a_profile_and_a_file_preset_key_needs_the_loader():
    with pytest.raises(ConfigError, match="profile"):
        load_config(preset_data={"profile": "aggressive"})
    with pytest.raises(ConfigError, match="preset"):
        load_config({"preset": "btc"})


def test_build_config_default_preset_names_and_files(tmp_path):
    default, source = build_config(None, {})
    assert source == "preset btc" and default == load_config(preset_data=BTC)
    spec, source = build_config("spec", {})
    assert source == "preset spec" and spec == load_config()
    f = tmp_path / "mine.toml"
    f.write_text('preset = "btc"\nprofile = "aggressive"\n[mm]\nlambda_inv = 0.5\n')
    mine, source = build_config(str(f), {})
    assert source == f"{f} (on preset btc)"
    assert mine.mm.lambda_inv == 0.5 and mine.profile == "aggressive"
    assert mine.mm.size_eta == pytest.approx(BTC["mm"]["size_eta"] * 0.864)  # the file's profile scales the preset's
    plain = tmp_path / "plain.toml"
    plain.write_text("[mm]\nlambda_inv = 0.5\n")
    assert build_config(str(plain), {})[0].mm.size_eta == 0.10  # no preset key: the built-in defaults
    with pytest.raises(UserError, match="not a preset"):
        build_config("eth", {})
    bad = tmp_path / "bad.toml"
    bad.write_text('preset = "nope"\n')
    with pytest.raises(UserError, match="bad.toml: preset 'nope'"):
        build_config(str(bad), {})
