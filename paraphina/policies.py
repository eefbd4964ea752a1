"""Policy plugins: discovery by name, the plugin manager, and the built-in policies.

A policy is chosen by explicit name, never by registration order. Names resolve first to the
built-ins below, then to the ``paraphina.policies`` entry-point group (third-party packages,
see ``plugins/``). Exactly one policy is registered per engine; observers may be added.
"""

from __future__ import annotations

import math

from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from paraphina.errors import UserError
from paraphina.host import PolicyHost
from paraphina.hookspecs import hookimpl
from paraphina.intents import OrderIntent
from paraphina.strategy import model

ENTRY_POINT_GROUP = "paraphina.policies"


class FixedSpreadPolicy:
    """Quotes ``half_spread_ticks`` around each venue's mid, skewed against inventory.

    The skew moves both quotes down by ``skew_ticks_per_unit`` ticks per base unit long (up when
    short), so a long position sells more eagerly. At ``max_position`` (base units, per venue)
    the side that would grow the position is not quoted. Never hedges or exits.
    """

    name = "fixed-spread"
    version = "1.0"

    @hookimpl
    def paraphina_quotes(self, ctx) -> list[OrderIntent]:
        cfg = ctx.config.fixed_spread
        out: list[OrderIntent] = []
        for v in ctx.venues:
            if not v.quotable:
                continue
            skew = -cfg.skew_ticks_per_unit * v.position * v.tick
            half = cfg.half_spread_ticks * v.tick
            bid, ask = v.mid - half + skew, v.mid + half + skew
            if v.position < cfg.max_position:
                out.append(OrderIntent(venue=v.index, side=1, price=bid, size=_at_least_min_notional(cfg.size, bid, v)))
            if v.position > -cfg.max_position:
                out.append(OrderIntent(venue=v.index, side=-1, price=ask, size=_at_least_min_notional(cfg.size, ask, v)))
        return out


def _at_least_min_notional(size: float, price: float, v) -> float:
    """``size``, raised to the whole lots that reach the venue's minimum notional at ``price`` (one
    base unit of a 2 USD coin is below a 5 USD minimum: the shield would drop every quote)."""
    if price <= 0.0 or size * price >= v.config.min_notional_usd:
        return size
    return math.ceil(v.config.min_notional_usd / price / v.lot - 1e-9) * v.lot


class HeuristicPolicy:
    """The canonical multi-venue strategy of STRATEGY.md (``paraphina.strategy``).

    Fair value, volatility, toxicity and risk are the core's (the engine runs them every main
    tick and hands the result over as ``ctx.model``); this plugin turns them into quotes
    (Avellaneda-Stoikov reservation price per venue, vol-scaled half-spread, edge filters,
    sizes), exits after fills and the global LQ hedge.
    """

    name = "heuristic"
    version = "1.0"

    @hookimpl
    def paraphina_quotes(self, ctx) -> list[OrderIntent] | None:
        return model.quote(ctx.model, ctx.config, ctx.venue_inputs) if ctx.model is not None else None

    @hookimpl
    def paraphina_exits(self, ctx) -> list[OrderIntent] | None:
        return model.exits(ctx.model, ctx.config, ctx.venue_inputs) if ctx.model is not None else None

    @hookimpl
    def paraphina_hedges(self, ctx) -> list[OrderIntent] | None:
        return model.hedge(ctx.model, ctx.config, ctx.venue_inputs) if ctx.model is not None else None


def _onnx_without_model() -> object:
    # The learned policy needs its model file: the CLI builds it with --model FILE
    # (paraphina.rl.policy.onnx_factory) and passes the plugin object instead of the name.
    raise UserError("policy 'onnx' needs --model FILE")


def _rl_teacher() -> object:
    # The scripted knob teacher behaviour cloning learns (docs/rl.md); needs no model file.
    from paraphina.rl.teacher import TeacherPolicy

    return TeacherPolicy()


# Built-in policies that cannot be made from their name alone: they need a model file (--model).
NEEDS_MODEL = frozenset({"onnx"})

BUILTIN_POLICIES: dict[str, Callable[[], object]] = {
    "fixed-spread": FixedSpreadPolicy,
    "heuristic": HeuristicPolicy,
    "onnx": _onnx_without_model,
    "rl-teacher": _rl_teacher,
}


def _entry_points() -> dict[str, object]:
    eps = entry_points(group=ENTRY_POINT_GROUP)
    return {ep.name: ep for ep in sorted(eps, key=lambda e: e.name)}


def available_policies() -> dict[str, str]:
    """name -> where it comes from ("builtin" or the entry point's module), sorted by name."""
    found = {name: "builtin" for name in BUILTIN_POLICIES}
    for name, ep in _entry_points().items():
        found.setdefault(name, ep.value)
    return dict(sorted(found.items()))


def make_policy(name: str) -> object:
    if name in BUILTIN_POLICIES:
        return BUILTIN_POLICIES[name]()
    eps = _entry_points()
    if name not in eps:
        raise UserError(f"unknown policy {name!r} (available: {', '.join(available_policies())})")
    try:
        factory = eps[name].load()
        plugin = factory() if callable(factory) else factory
    except Exception as exc:  # noqa: BLE001 - a broken third-party plugin is the user's input
        raise UserError(f"policy {name!r} failed to load from {eps[name].value}: {exc}") from None
    if not getattr(plugin, "name", None):
        raise UserError(f"policy {name!r} from {eps[name].value} has no 'name' attribute")
    return plugin


def load_policy(policy: str | object, observers: Sequence[object] = ()) -> PolicyHost:
    plugin = make_policy(policy) if isinstance(policy, str) else policy
    return PolicyHost(plugin, observers)
