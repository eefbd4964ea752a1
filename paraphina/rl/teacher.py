"""A scripted teacher whose knobs vary with the market: what behaviour cloning learns.

The heuristic's own knobs are the identity (spread and size scale 1, offset 0, hedge scale 1),
so cloning it teaches a model a constant. The teacher instead adapts the knobs to volatility,
toxicity and inventory, as a risk-aware desk would turn the heuristic's dials, and it does so as a
smooth function of the **observation vector alone** (``paraphina.rl.schema``), so a model that
sees the same vector can learn it exactly; only the hedge weights come from outside the vector
(the heuristic's allocation shares, as in the identity action). Per venue ``v``::

    spread_scale_v = clip(1 + 1.2 (vol_ratio - 0.75) + 2.0 toxicity_v, 0.5, 2)   wider when vol or flow is bad
    size_scale_v   = clip(1 - 1.0 toxicity_v - 2.0 |position_use_v|, 0.2, 1)     smaller when toxic or loaded
    offset_ticks_v = clip(-60 delta_use - 20 position_use_v, -10, 10)            lean against inventory
    hedge_scale    = clip(0.4 + 10 |delta_use|, 0, 1)                            hedge harder when loaded

Every value is then shielded by :func:`~paraphina.rl.schema.clip_action` like any learned output.
``TEACHER_VERSION`` names this formula; a change to a coefficient is a new version.
"""

from __future__ import annotations

from collections.abc import Sequence

from paraphina.rl.knobs import heuristic_hedge_weights
from paraphina.rl.policy import KnobPolicy
from paraphina.rl.schema import GLOBAL_FIELDS, VENUE_FIELDS, KnobAction, clip_action, observation_list
from paraphina.strategy import model as strategy

TEACHER_VERSION = 1

_G = {name: i for i, (name, _) in enumerate(GLOBAL_FIELDS)}
_V = {name: i for i, (name, _) in enumerate(VENUE_FIELDS)}


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else (hi if x > hi else x)


def teacher_knobs(obs: Sequence[float], n_venues: int, hedge_weights: Sequence[float]) -> list[float]:
    """The teacher's raw action (``4V + 1`` values) for one observation (module docstring)."""
    vol_ratio = obs[_G["vol_ratio"]]
    delta_use = obs[_G["delta_use"]]
    base = len(GLOBAL_FIELDS)
    block = len(VENUE_FIELDS)
    spread, size, offset = [], [], []
    for v in range(n_venues):
        tox = obs[base + v * block + _V["toxicity"]]
        pos = obs[base + v * block + _V["position_use"]]
        spread.append(_clip(1.0 + 1.2 * (vol_ratio - 0.75) + 2.0 * tox, 0.5, 2.0))
        size.append(_clip(1.0 - 1.0 * tox - 2.0 * abs(pos), 0.2, 1.0))
        offset.append(_clip(-60.0 * delta_use - 20.0 * pos, -10.0, 10.0))
    hedge = _clip(0.4 + 10.0 * abs(delta_use), 0.0, 1.0)
    return [*spread, *size, *offset, hedge, *hedge_weights]


def teacher_action(ctx) -> tuple[list[float], KnobAction]:
    """(observation as floats, shielded teacher action) for a policy context's main tick."""
    n = len(ctx.venue_inputs)
    obs = observation_list(ctx.model, ctx.venue_inputs, ctx.config)
    hedges = strategy.hedge(ctx.model, ctx.config, ctx.venue_inputs)
    raw = teacher_knobs(obs, n, heuristic_hedge_weights(hedges, n))
    action = clip_action(raw, n)
    assert action is not None  # finite by construction
    return obs, action


class TeacherPolicy(KnobPolicy):
    """``--policy rl-teacher``: the heuristic with the teacher's knobs (module docstring).
    With ``record=True`` it keeps every main tick's (observation, action) for a dataset."""

    name = "rl-teacher"
    version = f"1.0+teacher{TEACHER_VERSION}"

    def __init__(self, record: bool = False) -> None:
        super().__init__()
        self.record = record
        self.obs: list[list[float]] = []
        self.labels: list[list[float]] = []

    def knobs(self, ctx) -> KnobAction | None:
        obs, action = teacher_action(ctx)
        if self.record:
            self.obs.append(obs)
            self.labels.append(action.to_list())
        return action
