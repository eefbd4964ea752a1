"""``--units human``: events and actions with prices and sizes as decimal strings (from the log's
instrument table, exactly: no binary floats) and times as ISO-8601 UTC.

Raw rows (``msgspec.to_builtins`` of an event or action) go in, rows with the same keys come
out, except that ``ts_ns`` becomes ``time`` and other ``*_ts_ns`` keys lose their ``_ns``. Values
that mean "none" in the log (``-1`` prices, times) are left as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from paraphina.decimals import Grid
from paraphina.events import Instrument

PRICE_KEYS = ("price", "mark_price", "index_price", "liquidation_price")
SIZE_KEYS = ("size", "position")
PRICE_LISTS = ("bid_px", "ask_px")
SIZE_LISTS = ("bid_sz", "ask_sz")


def iso_ns(ts_ns: int) -> str:
    """ISO-8601 UTC with nanoseconds (event times order events: no digit is dropped)."""
    sec, ns = divmod(ts_ns, 1_000_000_000)
    return datetime.fromtimestamp(sec, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"


class HumanUnits:
    def __init__(self, instruments: Sequence[Instrument]) -> None:
        self.px = [Grid(i.tick_size) for i in instruments]
        self.sz = [Grid(i.lot_size) for i in instruments]

    def row(self, row: dict) -> dict:
        """An event or action row in human units (rows without a known venue keep their ints)."""
        v = row.get("venue")
        known = isinstance(v, int) and 0 <= v < len(self.px)
        out: dict = {}
        for k, x in row.items():
            if k == "ts_ns":
                out["time"] = iso_ns(x)
            elif k.endswith("_ts_ns") and isinstance(x, int) and x >= 0:
                out[k[:-3]] = iso_ns(x)
            elif known and k in PRICE_KEYS and isinstance(x, int) and x >= 0:
                out[k] = self.px[v].to_string(x)
            elif known and k in SIZE_KEYS and isinstance(x, int):
                out[k] = self.sz[v].to_string(x)
            elif known and k in PRICE_LISTS and isinstance(x, list):
                out[k] = [self.px[v].to_string(p) for p in x]
            elif known and k in SIZE_LISTS and isinstance(x, list):
                out[k] = [self.sz[v].to_string(s) for s in x]
            else:
                out[k] = x
        return out
