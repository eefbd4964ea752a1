"""Random valid event sequences: the engine never raises, replays identically, and folding
event by event equals folding the whole run at once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from paraphina import events as ev
from paraphina.actions import encode_actions
from paraphina.columns import from_events
from paraphina.config import load_config
from paraphina.engine import Engine
from paraphina.policies import load_policy
from paraphina.state import dump_state, load_state

N_VENUES = 3
venue = st.integers(0, N_VENUES - 1)
px = st.integers(990, 1010)
sz = st.integers(0, 50)
levels = st.lists(st.tuples(px, sz), max_size=4)


@st.composite
def event_at(draw, ts):
    kind = draw(st.sampled_from(["delta", "delta", "delta", "snapshot", "trade", "timer", "timer", "fill",
                                 "cancel", "reject", "funding", "payment", "position", "balance", "gap", "kill", "mark"]))
    v = draw(venue)
    if kind in ("delta", "snapshot"):
        b, a = draw(levels), draw(levels)
        cls = ev.BookDelta if kind == "delta" else ev.BookSnapshot
        extra = {}
        if kind == "delta" and draw(st.booleans()):
            extra = {"venue_seq": draw(st.integers(0, 5)), "prev_venue_seq": draw(st.integers(-1, 5))}
        return cls(ts_ns=ts, venue=v, bid_px=[p for p, _ in b], bid_sz=[s for _, s in b],
                   ask_px=[p for p, _ in a], ask_sz=[s for _, s in a], **extra)
    if kind == "trade":
        return ev.Trade(ts_ns=ts, venue=v, price=draw(px), size=draw(st.integers(1, 9)), side=draw(st.sampled_from([1, -1])))
    if kind == "timer":
        return ev.Timer(ts_ns=ts)
    if kind == "fill":
        return ev.Fill(ts_ns=ts, venue=v, client_order_id=f"m{v}-{draw(st.integers(1, 6))}", side=draw(st.sampled_from([1, -1])),
                       price=draw(px), size=draw(st.integers(1, 300)), fee=draw(st.floats(-1, 1)))
    if kind == "cancel":
        return ev.OrderCanceled(ts_ns=ts, venue=v, client_order_id=f"m{v}-{draw(st.integers(1, 6))}")
    if kind == "reject":
        return ev.OrderRejected(ts_ns=ts, venue=v, client_order_id=f"m{v}-{draw(st.integers(1, 6))}", reason="x")
    if kind == "funding":
        return ev.FundingRate(ts_ns=ts, venue=v, rate=draw(st.floats(-0.01, 0.01)))
    if kind == "payment":
        return ev.FundingPayment(ts_ns=ts, venue=v, amount=draw(st.floats(-10, 10)))
    if kind == "position":
        return ev.PositionSnapshot(ts_ns=ts, venue=v, position=draw(st.integers(-500, 500)), avg_entry_price=draw(st.floats(90, 110)))
    if kind == "balance":
        return ev.BalanceUpdate(ts_ns=ts, venue=v, balance=1000.0, margin_available=draw(st.floats(0, 1e4)))
    if kind == "gap":
        return ev.GapDetected(ts_ns=ts, venue=v)
    if kind == "mark":
        return ev.MarkPrice(ts_ns=ts, venue=v, mark_price=draw(px))
    return ev.OperatorKill(ts_ns=ts, reason="p")


@st.composite
def sessions(draw):
    n = draw(st.integers(1, 80))
    ts = 1_000_000_000
    out = []
    for _ in range(n):
        ts += draw(st.integers(0, 400_000_000))
        out.append(draw(event_at(ts)))
    return out


def instruments():
    return [ev.Instrument(venue=f"v{i}", symbol="X", tick_size="0.1", lot_size="0.01") for i in range(N_VENUES)]


def fresh(policy="fixed-spread"):
    return Engine(load_config(), instruments(), load_policy(policy))


@settings(max_examples=150, deadline=None)
@given(sessions(), st.sampled_from(["fixed-spread", "touch-joiner"]))
def test_never_raises_and_replays_identically(events, policy):
    a = fresh(policy).apply_columns(from_events(events))
    e = fresh(policy)
    b = [x for event in events for x in e.step(event)]
    assert encode_actions(a) == encode_actions(b)
    for x in a:
        if hasattr(x, "price"):
            assert x.price > 0 and x.size > 0


@settings(max_examples=60, deadline=None)
@given(sessions(), st.data())
def test_checkpoint_anywhere_resumes_to_the_same_bytes(events, data):
    cut = data.draw(st.integers(0, len(events)))
    full = fresh().apply_columns(from_events(events))
    first = fresh()
    head = first.apply_columns(from_events(events[:cut])) if cut else []
    state, _ = load_state(dump_state(first.state, first.config_hash, "fixed-spread"))
    second = Engine(load_config(), instruments(), load_policy("fixed-spread"), state=state)
    tail = second.apply_columns(from_events(events[cut:], cut)) if cut < len(events) else []
    assert encode_actions(head) + encode_actions(tail) == encode_actions(full)
