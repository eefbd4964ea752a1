"""The engine fills each tick's venue columns as it builds the venue inputs (one template copy per
venue instead of reading every field back out of the structs): they must be, to the bit, what
:func:`paraphina.strategy.common.venue_columns` makes of those inputs."""

from __future__ import annotations

import numpy as np
import pytest

from paraphina import events as ev
from paraphina.columns import from_events
from paraphina.config import load_config
from paraphina.engine import Engine
from paraphina.policies import load_policy
from paraphina.strategy.common import C_HAS_MID, C_POSITION, VenueInputs, venue_columns
from paraphina.testing import conformance_events


def _bits(a: np.ndarray) -> bytes:
    return a.dtype.str.encode() + repr(a.shape).encode() + a.tobytes()


@pytest.mark.parametrize("policy", ["heuristic", "fixed-spread"])
def test_engine_columns_are_venue_columns_of_its_inputs(policy):
    events = []
    for k, e_ in enumerate(conformance_events(n=12000, n_venues=3, seed=11)):
        events.append(e_)
        if k % 700 == 350 and isinstance(e_, ev.BookDelta):   # fills of our own (no order: position only)
            events.append(ev.Fill(ts_ns=e_.ts_ns, venue=e_.venue, client_order_id=f"t{k}", side=1 if k % 1400 else -1,
                                  price=max(e_.bid_px or [1]), size=300, fee=0.01))
    ins = [ev.Instrument(venue=f"v{i}", symbol="X", tick_size="0.01", lot_size="0.001") for i in range(3)]
    e = Engine(load_config(), ins, load_policy(policy))
    checked = []
    real = e._venue_inputs

    def checking(tops):
        inputs = real(tops)
        f, i = inputs.columns
        ref_f, ref_i = venue_columns(list(inputs))      # a plain list: built from the structs
        assert _bits(f) == _bits(ref_f) and _bits(i) == _bits(ref_i)
        checked.append((int(i[:, C_HAS_MID].sum()), int((f[:, C_POSITION] != 0).sum())))
        return inputs

    e._venue_inputs = checking
    e.apply_columns(from_events(events, 0))
    assert len(checked) > 50
    assert any(p for _, p in checked)     # non-zero positions were among them
    assert isinstance(e.venue_inputs, VenueInputs)


def test_venue_inputs_read_late_are_what_the_tick_saw():
    """A policy may keep ``ctx.venue_inputs`` and read it after later events (a fill, a book
    change): the structs, built on first read, carry the values of their tick."""
    ins = [ev.Instrument(venue=f"v{i}", symbol="X", tick_size="0.1", lot_size="0.01") for i in range(2)]

    def session():
        e = Engine(load_config(), ins, load_policy("fixed-spread"))
        for v, m in enumerate((1000, 1010)):
            e.step(ev.BookSnapshot(ts_ns=1, venue=v, bid_px=[m - 1], bid_sz=[500], ask_px=[m + 1], ask_sz=[500]))
        e.step(ev.Timer(ts_ns=2))
        return e

    early, late = session(), session()
    seen = tuple(early.venue_inputs)                # read at once
    kept = late.venue_inputs                        # read after the fill and a new book
    late.step(ev.Fill(ts_ns=3, venue=0, client_order_id="x", side=1, price=999, size=200, fee=0.0))
    late.step(ev.BookSnapshot(ts_ns=4, venue=0, bid_px=[1100], bid_sz=[9], ask_px=[1102], ask_sz=[9]))
    assert kept == seen and tuple(kept) == seen and kept[-1] == seen[-1] and kept[:1] == seen[:1]
    assert seen[0].position == 0.0 and seen[0].mid == pytest.approx(100.0) and len(seen[0].bids) == 1
    assert late.venue_inputs is kept               # no tick since: the engine still holds the same one
