"""A reusable conformance suite for policy plugins.

Subclass :class:`PolicyConformance` in your plugin's tests and set ``policy_name`` (the entry
point name); pytest collects the inherited tests::

    from paraphina.testing import PolicyConformance

    class TestMyPolicy(PolicyConformance):
        policy_name = "my-policy"

What it checks: the policy is discoverable by name with a version; its hooks return ``None`` or
lists of :class:`~paraphina.intents.OrderIntent`; it replays a synthetic multi-venue session
with fills, a sequence gap, a one-sided book and an operator kill without raising; it is
deterministic (a fresh instance on the same events gives byte-identical actions); every order
that leaves the engine is exact and safe (positive integer price and size, post-only quotes
never cross the touch, nothing is placed after the kill switch).
"""

from __future__ import annotations

import math

from paraphina import events as ev
from paraphina import samplegen
from paraphina.actions import PlaceOrder, StreamHasher
from paraphina.columns import from_events
from paraphina.config import load_config, parse_config_text
from paraphina.engine import Engine
from paraphina.hookspecs import hookimpl
from paraphina.intents import OrderIntent
from paraphina.policies import available_policies, load_policy, make_policy


def conformance_events(n: int = 4000, n_venues: int = 3, seed: int = 7) -> list[ev.Event]:
    """A synthetic session exercising fills, a gap, a one-sided book and a kill at the end."""
    base: list[ev.Event] = []
    for cols in samplegen.generate(n, n_venues, seed):
        base.extend(cols.events())
    out: list[ev.Event] = []
    for i, e in enumerate(base):
        out.append(e)
        if i and i % 500 == 0 and isinstance(e, ev.BookDelta):
            side = 1 if (i // 500) % 2 else -1
            out.append(ev.Fill(ts_ns=e.ts_ns, venue=e.venue, client_order_id=f"ext-{i}", side=side,
                               price=e.bid_px[1] if side > 0 else e.ask_px[1], size=500, fee=0.02))
        if i == n // 2:
            out.append(ev.BookDelta(ts_ns=e.ts_ns, venue=0, venue_seq=99, prev_venue_seq=98))  # a gap
            out.append(ev.BookSnapshot(ts_ns=e.ts_ns, venue=1, bid_px=[600_000], bid_sz=[10]))  # one-sided
    out.append(ev.OperatorKill(ts_ns=out[-1].ts_ns, reason="conformance"))
    last = out[-1].ts_ns
    out.extend(ev.Timer(ts_ns=last + k * 250_000_000) for k in range(1, 5))
    return out


class _Inspector:
    """Observer that checks every hook result and every emitted order against the rules."""

    name = "conformance-inspector"
    version = "1"

    def __init__(self, policy) -> None:
        self.policy = policy
        self.problems: list[str] = []
        self.killed_before = False

    @hookimpl
    def paraphina_on_tick(self, ctx, telemetry):
        for hook in ("paraphina_quotes", "paraphina_hedges", "paraphina_exits"):
            fn = getattr(self.policy, hook, None)
            if fn is None:
                continue
            result = fn(ctx=ctx)
            if result is None:
                continue
            if not isinstance(result, list) or not all(isinstance(x, OrderIntent) for x in result):
                self.problems.append(f"{hook} returned {type(result).__name__}, not a list of OrderIntent")

    @hookimpl
    def paraphina_on_actions(self, ctx, actions):
        for a in actions:
            if not isinstance(a, PlaceOrder):
                continue
            if ctx.state.kill_switch and self.killed_before:
                self.problems.append(f"placed after kill: {a}")
            if a.price <= 0 or a.size <= 0:
                self.problems.append(f"non-positive price or size: {a}")
            v = ctx.venues[a.venue]
            if a.post_only and v.best_bid is not None and v.best_ask is not None:
                px = a.price * v.tick
                crosses = px >= v.best_ask - v.tick / 2 if a.side > 0 else px <= v.best_bid + v.tick / 2
                if crosses:
                    self.problems.append(f"post-only order crosses the touch: {a}")
        self.killed_before = ctx.state.kill_switch


class PolicyConformance:
    """Inherit and set ``policy_name``; pytest runs the ``test_*`` methods below."""

    policy_name: str = ""
    #: optional config file (TOML/YAML) for the synthetic BTC-like session
    config_path: str | None = None

    def _config(self):
        if not self.config_path:
            return load_config()
        with open(self.config_path, encoding="utf-8") as f:
            return load_config(parse_config_text(f.read(), self.config_path))

    def _run(self, observers=()):
        events = conformance_events()
        instruments = samplegen.instruments(3)
        engine = Engine(self._config(), instruments, load_policy(self.policy_name, observers))
        hasher = StreamHasher()
        hasher.add(engine.apply_columns(from_events(events)))
        return engine, hasher

    def test_discoverable_by_name(self):
        assert self.policy_name, "set policy_name on your PolicyConformance subclass"
        assert self.policy_name in available_policies()
        plugin = make_policy(self.policy_name)
        assert plugin.name == self.policy_name
        assert isinstance(getattr(plugin, "version", None), str) and plugin.version

    def test_replays_a_session_and_places_orders(self):
        engine, hasher = self._run()
        assert engine.state.core.next_seq > 0
        assert engine.state.core.kill_switch
        assert hasher.count > 0, "the policy never produced an action on a quotable session"

    def test_deterministic(self):
        _, a = self._run()
        _, b = self._run()
        assert a.hexdigest() == b.hexdigest()

    def test_hook_results_and_orders_are_well_formed(self):
        inspector = _Inspector(make_policy(self.policy_name))
        self._run(observers=[inspector])
        assert inspector.problems == []

    def test_telemetry_is_finite(self):
        engine, _ = self._run()
        t = engine.telemetry()
        for key in ("pnl_realised", "pnl_unrealised", "pnl_total", "q_global_tao", "dollar_delta_usd", "basis_usd"):
            assert math.isfinite(t[key]), key
