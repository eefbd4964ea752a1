"""The learned-policy plugin: knobs on the heuristic, the shield, fallbacks and policy faults."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rltools import N_VENUES, needs_rl, sim_log, write_model  # noqa: F401 - fixtures

pytestmark = needs_rl
V = N_VENUES


def replay_actions(log, plugin, config):
    from paraphina.replay import replay_log

    got = []
    r = replay_log(log, plugin, config, sink=got.extend)
    return got, r


class IdentityOfHeuristic:
    """A KnobPolicy whose knobs are exactly the heuristic's (hedge weights = its shares)."""

    @staticmethod
    def make():
        from paraphina.rl.knobs import heuristic_hedge_weights
        from paraphina.rl.policy import KnobPolicy
        from paraphina.rl.schema import identity_action
        from paraphina.strategy import model as strategy

        class P(KnobPolicy):
            name = "identity-knobs"

            def knobs(self, ctx):
                hedges = strategy.hedge(ctx.model, ctx.config, ctx.venue_inputs)
                return identity_action(V, heuristic_hedge_weights(hedges, V))

        return P()


def test_identity_knobs_reproduce_the_heuristic(sim_log):
    from paraphina.policies import HeuristicPolicy

    base, rb = replay_actions(sim_log.path, HeuristicPolicy(), sim_log.config)
    same, rs = replay_actions(sim_log.path, IdentityOfHeuristic.make(), sim_log.config)
    assert rb.sha256 == rs.sha256 and len(base) > 50


def test_nan_model_falls_back_to_the_heuristic_every_tick(sim_log, tmp_path):
    from paraphina.policies import HeuristicPolicy
    from paraphina.rl.policy import OnnxPolicy

    p = OnnxPolicy(write_model(tmp_path / "nan.onnx", [math.nan] * (4 * V + 1)))
    _, r = replay_actions(sim_log.path, p, sim_log.config)
    _, rb = replay_actions(sim_log.path, HeuristicPolicy(), sim_log.config)
    assert r.sha256 == rb.sha256
    assert p.counters == {"invalid_output": p.ticks} and p.ticks == r.summary["ticks"] - 0
    assert "model.sha256." in p.version and p.model_sha256 in r.plugins["onnx"]


def test_knobs_move_quotes_within_bounds(sim_log, tmp_path):
    """Spread x2 widens every quote pair; size 0 leaves no quote; hedge 0 leaves no hedge."""
    from paraphina.actions import PlaceOrder
    from paraphina.rl.policy import OnnxPolicy

    wide = [2.0] * V + [1.0] * V + [0.0] * V + [1.0] + [0.2] * V
    none = [1.0] * V + [0.0] * V + [0.0] * V + [0.0] + [0.2] * V
    acts_w, _ = replay_actions(sim_log.path, OnnxPolicy(write_model(tmp_path / "w.onnx", wide)), sim_log.config)
    acts_n, _ = replay_actions(sim_log.path, OnnxPolicy(write_model(tmp_path / "n.onnx", none)), sim_log.config)
    from paraphina.policies import HeuristicPolicy

    acts_h, _ = replay_actions(sim_log.path, HeuristicPolicy(), sim_log.config)

    def first_quotes(acts):
        out = {}
        for a in acts:
            if isinstance(a, PlaceOrder) and a.purpose == "mm":
                out.setdefault((a.venue, a.side), (a.seq, a.price))
        return out

    h, w = first_quotes(acts_h), first_quotes(acts_w)
    # The heuristic quotes where it sees an edge after fees (the zero-fee venues of the scenario,
    # docs/strategy.md "Calibration"), and the wide policy on the same venue sides.
    assert sorted(h) == sorted(w) and len(h) >= 4
    same_tick = [key for key in h if h[key][0] == w[key][0]]
    assert len(same_tick) >= 3
    for key in same_tick:
        assert (w[key][1] - h[key][1]) * -key[1] > 0       # bids lower, asks higher
    assert not [a for a in acts_n if isinstance(a, PlaceOrder) and a.purpose in ("mm", "hedge")]


@pytest.fixture(scope="module")
def contexts(sim_log):
    """Real tick contexts (model, venue inputs) captured from the log."""
    from paraphina.policies import HeuristicPolicy
    from paraphina.hookspecs import hookimpl

    seen = []

    class Grab(HeuristicPolicy):
        @hookimpl
        def paraphina_quotes(self, ctx):
            if len(seen) < 40:
                seen.append(SimpleNamespace(seq=ctx.seq, model=ctx.model, venue_inputs=ctx.venue_inputs,
                                            config=ctx.config, policy_fault=False))
            return super().paraphina_quotes(ctx)

    replay_actions(sim_log.path, Grab(), sim_log.config)
    return seen[::8]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32),
                                 st.sampled_from([1e30, -1e30, 3.0, -3.0, 0.5, 2.0])),
                       min_size=4 * V + 1, max_size=4 * V + 1))
def test_no_model_output_gets_past_the_shield(values, contexts, tmp_path_factory):
    """Whatever a model outputs, every action the policy applies satisfies the shield's rules,
    and a non-finite output is a counted fallback."""
    from paraphina.rl.policy import OnnxPolicy
    from paraphina.rl.schema import action_ok

    path = write_model(tmp_path_factory.mktemp("m") / "m.onnx", values)
    p = OnnxPolicy(path)
    finite = all(math.isfinite(np.float32(x)) for x in values)
    for ctx in contexts:
        a = p.action(ctx)
        if finite:
            assert a is not None and action_ok(a, V)
        else:
            assert a is None
    assert p.counters.get("invalid_output", 0) == (0 if finite else len(contexts))


def test_policy_fault_event_forces_one_fallback_tick(sim_log, tmp_path):
    """A PolicyFault for the policy makes it fall back on the next main tick, in replay."""
    from paraphina import events as ev
    from paraphina.eventlog import LogReader, LogWriter
    from paraphina.rl.policy import OnnxPolicy

    model = write_model(tmp_path / "wide.onnx", [2.0] * V + [1.0] * V + [0.0] * V + [1.0] + [0.2] * V)
    reader = LogReader(sim_log.path)
    faulted = tmp_path / "faulted.arrow"
    timers = 0
    with LogWriter.create(faulted, reader.info.instruments, reader.info.session) as w:
        for _, e in reader.events():
            if isinstance(e, ev.Timer):
                timers += 1
                if timers == 60:         # two faults before the same tick: one fallback
                    w.append(ev.PolicyFault(ts_ns=e.ts_ns, policy="onnx", fault="timeout", detail="test"))
                    w.append(ev.PolicyFault(ts_ns=e.ts_ns, policy="onnx", fault="invalid_output"))
                if timers == 90:         # another policy's fault changes nothing
                    w.append(ev.PolicyFault(ts_ns=e.ts_ns, policy="other", fault="timeout"))
            w.append(e)
    p_plain, p_fault = OnnxPolicy(model), OnnxPolicy(model)
    _, r_plain = replay_actions(sim_log.path, p_plain, sim_log.config)
    _, r_fault = replay_actions(str(faulted), p_fault, sim_log.config)
    assert p_plain.counters == {}
    assert p_fault.counters == {"policy_fault": 1}
    assert r_plain.sha256 != r_fault.sha256
