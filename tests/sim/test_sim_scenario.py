"""Scenario and suite files: the library loads, bad input is a one-line error naming file and key."""

from __future__ import annotations

import pytest
from simtools import ROOT, SCENARIOS

from paraphina.errors import UserError
from paraphina.sim.scenario import (
    BasisSpike, FundingDrift, FundingFlip, LiquidityDrain, ScenarioError, VenueOutage, VolSpike, load_scenario,
    parse_scenario,
)
from paraphina.sim.suite import INVARIANT_NAMES, Invariants, check_invariants, load_suite

REQUIRED = {"synth_baseline", "synth_jump", "vol_low", "vol_medium", "vol_high", "basis_positive", "basis_negative",
            "funding_flip", "funding_drift", "liquidity_spread", "liquidity_depth", "venue_outage"}


def test_library_has_the_required_scenarios_and_each_loads():
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert len(files) >= 12
    ids = set()
    for f in files:
        sc = load_scenario(f)
        assert sc.scenario_id == f.stem
        assert sc.description
        ids.add(sc.scenario_id)
    assert REQUIRED <= ids


def test_library_covers_every_shock_kind():
    kinds = {type(s) for f in SCENARIOS.glob("*.yaml") for s in load_scenario(f).shocks}
    assert {VolSpike, BasisSpike, FundingFlip, FundingDrift, LiquidityDrain, VenueOutage} <= kinds
    modes = {s.mode for f in SCENARIOS.glob("*.yaml") for s in load_scenario(f).shocks if isinstance(s, VenueOutage)}
    assert modes == {"outage", "stale"}


@pytest.mark.parametrize("data, needle", [
    ({"scenario_id": "x", "horizn": {}}, "horizn"),
    ({"scenario_id": "x", "horizon": {"steps": 0}}, "horizon.steps"),
    ({"scenario_id": "x", "horizon": {"steps": "many"}}, "horizon.steps"),
    ({"scenario_id": "x", "venues": [{"name": "a", "spread": 1}]}, "spread"),
    ({"scenario_id": "x", "venues": [{"name": "a", "tick_size": "abc"}]}, "venues[0].tick_size"),
    ({"scenario_id": "x", "venues": [{"name": "a"}, {"name": "a"}]}, "duplicate"),
    ({"scenario_id": "x", "market": {"vol_daily": -0.1}}, "market.vol_daily"),
    ({"scenario_id": "x", "market": {"jumps_per_hour": 5}}, "jump_diffusion"),
    ({"scenario_id": "x", "market": {"vol_markov": {"vol_daily": [0.1, 0.2], "switch_prob": [[0.5, 0.4], [0, 1]]}}},
     "sum to 1"),
    ({"scenario_id": "x", "shocks": [{"type": "meteor", "start_step": 0, "end_step": 1}]}, "shocks[0].type"),
    ({"scenario_id": "x", "shocks": [{"type": "vol_spike", "start_step": 5, "end_step": 5, "mult": 2}]},
     "shocks[0].end_step"),
    ({"scenario_id": "x", "shocks": [{"type": "basis_spike", "start_step": 0, "end_step": 5, "add_bps": 1,
                                       "venue": 7}]}, "shocks[0].venue"),
    ({"scenario_id": "x", "shocks": [{"type": "liquidity_drain", "start_step": 0, "end_step": 5,
                                       "depth_mult": 2}]}, "shocks[0].depth_mult"),
    ({"scenario_id": "x", "shocks": [{"type": "basis_spike", "start_step": 0, "end_step": 5}]}, "add_bps"),
    ({"scenario_id": ""}, "scenario_id"),
])
def test_bad_scenario_is_one_line_naming_file_and_key(data, needle):
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data, "my.yaml")
    msg = str(exc.value)
    assert msg.startswith("my.yaml: ")
    assert needle in msg
    assert "\n" not in msg
    assert isinstance(exc.value, UserError)


def test_bad_yaml_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenario_id: [unclosed\n")
    with pytest.raises(ScenarioError, match="bad.yaml: not valid YAML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="missing.yaml: cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_scientific_notation_without_a_dot_is_accepted():
    # PyYAML reads 1e-4 as a string; the scenario decoder converts it.
    sc = parse_scenario({"scenario_id": "x", "venues": [{"name": "a", "funding": {"rate": "1e-4"}}]})
    assert sc.venues[0].funding.rate == 1e-4


def test_suites_load_with_merged_invariants():
    for name in ("smoke", "research", "adversarial_regression"):
        suite = load_suite(SCENARIOS / "suites" / f"{name}.yaml", base_dir=ROOT)
        assert suite.suite_id == name
        assert suite.runs and all(r.seeds for r in suite.runs)
    adv = load_suite(SCENARIOS / "suites" / "adversarial_regression.yaml", base_dir=ROOT)
    stale = [r for r in adv.runs if r.scenario.scenario_id == "venue_stale"][0]
    assert stale.invariants.max_drawdown_usd == 8000      # entry override
    assert stale.invariants.position_within == 50         # suite default kept
    research = load_suite(SCENARIOS / "suites" / "research.yaml", base_dir=ROOT)
    assert len(research.runs) == len(list(SCENARIOS.glob("*.yaml")))
    assert research.runs[0].seeds == research.runs[0].scenario.seeds.all()


@pytest.mark.parametrize("body, needle", [
    ("suite_id: s\nscenarios: [{path: scenarios/nope.yaml}]\n", "scenarios[0].path"),
    ("suite_id: s\nscenarios: [{path: scenarios/vol_low.yaml, invariants: {no_kil: true}}]\n", "no_kil"),
    ("suite_id: s\ninvariants: {max_drawdown_usd: -3}\nscenarios: [{path: scenarios/vol_low.yaml}]\n",
     "max_drawdown_usd"),
    ("suite_id: s\nscenarios: []\n", "at least one"),
    ("suite_id: s\nbogus: 1\nscenarios: [{path: scenarios/vol_low.yaml}]\n", "bogus"),
])
def test_bad_suite_is_one_line(tmp_path, body, needle):
    f = tmp_path / "suite.yaml"
    f.write_text(body)
    with pytest.raises(ScenarioError) as exc:
        load_suite(f, base_dir=ROOT)
    assert str(exc.value).startswith(str(f)) and needle in str(exc.value) and "\n" not in str(exc.value)


class _Result:
    def __init__(self, total=10.0, kill=False, reason="", dd=0.0, finite=True, positions=(0.0,)):
        self.summary = {"total": total, "kill_switch": kill, "kill_reason": reason}
        self.max_drawdown_usd = dd
        self.pnl_finite = finite
        self.positions = list(positions)


def test_invariant_names_are_documented():
    assert set(INVARIANT_NAMES) == {"pnl_finite", "no_kill", "expect_kill_switch", "kill_reason_in",
                                    "max_drawdown_usd", "min_pnl_usd", "position_within"}


@pytest.mark.parametrize("inv, result, failed", [
    (Invariants(), _Result(), []),
    (Invariants(), _Result(finite=False), ["pnl_finite"]),
    (Invariants(no_kill=True), _Result(kill=True, reason="PnlHardBreach"), ["no_kill"]),
    (Invariants(expect_kill_switch="never"), _Result(kill=True), ["no_kill"]),
    (Invariants(expect_kill_switch="always"), _Result(), ["expect_kill_switch"]),
    (Invariants(kill_reason_in=["PnlHardBreach"]), _Result(kill=True, reason="DeltaHardBreach"), ["kill_reason_in"]),
    (Invariants(kill_reason_in=["PnlHardBreach"]), _Result(kill=True, reason="PnlHardBreach"), []),
    (Invariants(max_drawdown_usd=100), _Result(dd=100.0), []),
    (Invariants(max_drawdown_usd=100), _Result(dd=100.01), ["max_drawdown_usd"]),
    (Invariants(min_pnl_usd=-5), _Result(total=-5.5), ["min_pnl_usd"]),
    (Invariants(position_within=1.0), _Result(positions=(0.7, 0.4)), ["position_within"]),
    (Invariants(position_within=1.0), _Result(positions=(0.7, -0.4)), []),
])
def test_check_invariants(inv, result, failed):
    got = [f.split(":")[0] for f in check_invariants(inv, result)]
    assert got == failed
