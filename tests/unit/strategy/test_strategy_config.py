import pytest

from paraphina.config import TAO_VENUES, ConfigError, load_config


def test_defaults_match_strategy_2_3():
    c = load_config()
    assert (c.kalman.q_base, c.kalman.r_max, c.volatility.vol_ratio_max) == (1e-6, 1e-2, 4.0)
    assert (c.hedge.max_step_tao, c.hedge.k_hedge, c.exit.max_venue_tao_per_tick) == (20.0, 0.5, 6.0)
    assert (c.toxicity.markout_horizon_ms, c.toxicity.decay_half_life_ms, c.funding.stale_ms) == (5000, 60_000, 600_000)
    assert not c.hedge.band_grows_with_vol and c.mm.venue_target_sign == "intent" and c.risk.limit_comparison == "spec"
    assert not (c.mm.funding_enabled or c.hedge.funding_enabled or c.exit.funding_enabled)


@pytest.mark.parametrize("profile, band, eta, dll", [("conservative", 2.62125, 0.0466, 2000.0),
                                                     ("balanced", 5.625, 0.10, 5000.0), ("aggressive", 4.86, 0.0864, 2000.0)])
def test_profiles(profile, band, eta, dll):
    c = load_config(profile=profile)
    assert (c.hedge.band_base_tao, c.mm.size_eta, c.risk.daily_loss_limit, c.volatility.vol_ref) == (band, eta, dll, 0.028125)


def test_tao_instrument_brings_venue_table():
    c = load_config({"instrument": "TAO-PERP"})
    assert [v.name for v in c.venues] == ["extended", "hyperliquid", "aster", "lighter", "paradex"]
    assert c.venues == TAO_VENUES
    assert c.venues[4].stale_ms_override == 3000 and c.venues[2].gamma == 0.11
    assert load_config().venues == []


def test_env_knobs():
    env = {"PARAPHINA_HEDGE_BAND_BASE": "3.5", "PARAPHINA_HEDGE_MAX_STEP": "12", "PARAPHINA_HEDGE_K_HEDGE": "0.25",
           "PARAPHINA_MM_SIZE_ETA": "0.2", "PARAPHINA_VOL_REF": "0.05", "PARAPHINA_INIT_Q_TAO": "-3",
           "PARAPHINA_EXIT_FUNDING_ENABLED": "true"}
    c = load_config(env=env, profile="conservative")
    assert (c.hedge.band_base_tao, c.hedge.max_step_tao, c.hedge.k_hedge) == (3.5, 12.0, 0.25)
    assert (c.mm.size_eta, c.volatility.vol_ref, c.initial_q_tao, c.exit.funding_enabled) == (0.2, 0.05, -3.0, True)
    with pytest.raises(ConfigError, match="PARAPHINA_EXIT_FUNDING_ENABLED"):
        load_config(env={"PARAPHINA_EXIT_FUNDING_ENABLED": "maybe"})


@pytest.mark.parametrize("path, value", [("hedge.max_step_tao", -1.0), ("exit.max_total_tao_per_tick", -0.5),
                                         ("mm.size_eta", 0.0), ("hedge.k_hedge", 1.5), ("risk.limit_comparison", "loose"),
                                         ("toxicity.decay_half_life_ms", 0)])
def test_invalid_values_are_errors_naming_the_key(path, value):
    with pytest.raises(ConfigError, match=path.split(".")[-1]):
        load_config(overrides={path: value})
