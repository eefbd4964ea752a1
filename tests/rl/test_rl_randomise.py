"""Domain randomisation: seeded, within bounds, varied, and used by the environment per episode."""

from __future__ import annotations

import msgspec
import pytest

from rltools import needs_rl


def _base():
    from paraphina.sim.scenario import Scenario

    return Scenario(scenario_id="default")


def test_same_seed_same_scenario_and_seeds_differ():
    from paraphina.rl.randomise import randomised_scenario

    base = _base()
    a, b = randomised_scenario(base, 7, 1000), randomised_scenario(base, 7, 1000)
    assert msgspec.json.encode(a) == msgspec.json.encode(b)
    others = {msgspec.json.encode(randomised_scenario(base, s, 1000)) for s in range(8, 16)}
    assert len(others) == 8 and msgspec.json.encode(a) not in others


def test_draws_stay_within_the_declared_bounds_and_cover_regimes_and_outages():
    from paraphina.rl.randomise import Randomisation, randomised_scenario, regime_of
    from paraphina.sim.scenario import VenueOutage, parse_scenario

    b = Randomisation()
    base = _base()
    regimes, modes = set(), set()
    for seed in range(200):
        sc = randomised_scenario(base, seed, 1000, b)
        # the result is a valid scenario (the same rules a YAML file passes)
        parse_scenario(msgspec.to_builtins(sc))
        regime = next(r for r in b.regimes if r.name == regime_of(sc))
        regimes.add(regime.name)
        assert regime.vol_daily[0] - 1e-6 <= sc.market.vol_daily <= regime.vol_daily[1] + 1e-6
        for v0, v in zip(base.venues, sc.venues):
            assert b.spread_mult[0] * v0.spread_bps - 1e-3 <= v.spread_bps <= b.spread_mult[1] * v0.spread_bps + 1e-3
            assert b.funding_rate[0] <= v.funding.rate <= b.funding_rate[1]
            assert v0.latency_ms <= v.latency_ms <= v0.latency_ms + b.latency_add_ms[1]
        for s in sc.shocks:
            assert isinstance(s, VenueOutage) and 0 <= s.start_step < s.end_step <= 1000
            modes.add(s.mode)
    assert regimes == {"calm", "normal", "stressed"} and modes == {"stale", "outage"}


def test_bad_bounds_are_refused():
    from paraphina.rl.randomise import Randomisation

    with pytest.raises(ValueError, match="spread_mult"):
        Randomisation(spread_mult=(2.0, 1.0)).check()
    with pytest.raises(ValueError, match="stale_prob"):
        Randomisation(stale_prob=1.5).check()


@needs_rl
def test_environment_runs_the_randomised_market_of_each_episode_seed():
    from paraphina.rl.env import ParaphinaEnv
    from paraphina.rl.randomise import Randomisation

    env = ParaphinaEnv(max_ticks=20, randomisation=Randomisation())
    _, info_a = env.reset(seed=3)
    assert info_a["scenario_id"] == "default~dr3" and info_a["regime"]
    _, info_b = env.reset(seed=4)
    assert info_b["scenario_id"] == "default~dr4"
    plain = ParaphinaEnv(max_ticks=20)
    assert plain.reset(seed=3)[1]["scenario_id"] == "default"
