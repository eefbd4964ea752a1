"""Observation and action schemas; the action shield (clip_action) as a property."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rltools import sim_log  # noqa: F401 - fixture

from paraphina.rl.schema import (
    ACTION_QUANTUM,
    GLOBAL_FIELDS,
    OBS_CLIP,
    VENUE_FIELDS,
    action_bounds,
    action_dim,
    action_names,
    action_ok,
    clip_action,
    identity_action,
    obs_dim,
    obs_names,
)

V = 5
any_float = st.floats(allow_nan=True, allow_infinity=True, width=32)


def test_dimensions_and_names_agree():
    assert obs_dim(V) == len(GLOBAL_FIELDS) + V * len(VENUE_FIELDS) == len(obs_names(V))
    assert action_dim(V) == 4 * V + 1 == len(action_names(V)) == len(action_bounds(V)[0])


def test_identity_passes_the_shield_unchanged():
    a = identity_action(V)
    assert clip_action(a.to_list(), V) == a
    assert action_ok(a, V)


@pytest.mark.parametrize("bad", [
    [math.nan] * (4 * V + 1),
    [1.0] * (4 * V) + [math.inf],
    [1.0] * (4 * V),                      # one value short
    np.ones((2, 4 * V + 1), np.float32),  # a batch of two
    "not numbers",
    None,
])
def test_invalid_outputs_fall_back(bad):
    assert clip_action(bad, V) is None


def test_out_of_range_is_clipped_and_weights_renormalised():
    raw = [9.0] * V + [-3.0] * V + [1e9] * V + [7.0] + [-1.0, 0.0, 3.0, 1.0, 0.0]
    a = clip_action(np.asarray([raw], np.float32), V)
    assert a.spread_scale == (2.0,) * V and a.size_scale == (0.0,) * V and a.offset_ticks == (10.0,) * V
    assert a.hedge_scale == 1.0
    assert a.hedge_weights == (0.0, 0.0, 0.5, 0.5, 0.0)
    zero = clip_action([1.0] * (3 * V) + [0.5] + [-1.0] * V, V)
    assert zero.hedge_weights == (0.2,) * V


@settings(max_examples=300, deadline=None)
@given(st.lists(any_float, min_size=4 * V + 1, max_size=4 * V + 1))
def test_shield_property(values):
    a = clip_action(np.asarray(values, np.float32), V)
    if all(math.isfinite(x) for x in values):
        assert a is not None and action_ok(a, V)
        lo, hi = action_bounds(V)
        # inside the bounds, the shield changes values only by the quantum (weights aside)
        for x, y, l_, h in zip(values[:3 * V + 1], a.to_list()[:3 * V + 1], lo, hi):
            if l_ <= x <= h:
                assert abs(x - y) <= ACTION_QUANTUM
    else:
        assert a is None


def test_observation_is_finite_and_bounded(sim_log):
    from paraphina.engine import Engine
    from paraphina.eventlog import LogReader
    from paraphina.policies import load_policy
    from paraphina.rl.schema import observation

    reader = LogReader(sim_log.path)
    eng = Engine(sim_log.config, reader.info.instruments, load_policy("heuristic"))
    seen = 0
    for cols in reader.iter_columns():
        eng.apply_columns(cols)
        if eng.tick_model is not None:
            o = observation(eng.tick_model, eng.venue_inputs, sim_log.config)
            assert o.dtype == np.float32 and o.shape == (obs_dim(V),)
            assert np.all(np.isfinite(o)) and np.all(np.abs(o) <= OBS_CLIP)
            seen += 1
    assert seen > 0
    names = obs_names(V)
    assert o[names.index("fv_available")] == 1.0
    assert 4.0 < o[names.index("fair_value_log10")] < 5.5   # a BTC-like price
