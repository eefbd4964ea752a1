"""The strategy's venue columns of a main tick, from the book and the accounts (engine glue).

The model, quoting, exits and hedge read each venue as a row of :func:`paraphina.strategy.common.venue_columns`
(``C_*``). Most of a row is constant (the venue's config and units: the engine's template row);
the rest is this tick's book and account. :func:`fill_venue_columns` writes every venue's row in
one compiled call, with the arithmetic the structs' fields are defined by.
"""

from __future__ import annotations

import math

import numpy as np

from paraphina.book import F_VAR_LONG, F_VAR_SHORT, I_LAST_MID_TS
from paraphina.strategy.common import (
    C_AVG_ENTRY,
    C_BEST_ASK,
    C_BEST_BID,
    C_DEPTH,
    C_FUND_MS,
    C_FUNDING_8H,
    C_HAS_FUND_MS,
    C_HAS_MID,
    C_HAS_MID_MS,
    C_HAS_NEXT_FUND,
    C_LOT,
    C_MARGIN,
    C_MID,
    C_MID_MS,
    C_NEXT_FUND_MS,
    C_POSITION,
    C_PRICE_LIQ,
    C_SPREAD,
    C_TICK,
    C_VOL_SHORT,
)
from paraphina.strategy.jit import kernel

# Account columns :func:`fill_venue_columns` reads: floats, then integers.
A_MARGIN, A_FUNDING_RATE, A_AVG_ENTRY = range(3)
A_POSITION, A_LIQ_PRICE, A_FUNDING_INTERVAL_MS, A_FUNDING_RECEIVED_NS, A_NEXT_FUNDING_NS = range(5)
NS_PER_MS = 1_000_000


@kernel
def fill_venue_columns(tmpl_f: np.ndarray, tmpl_i: np.ndarray, tops: np.ndarray, levels: np.ndarray,
                       book_f: np.ndarray, book_i: np.ndarray, acct_f: np.ndarray, acct_i: np.ndarray, f: np.ndarray,
                       ints: np.ndarray, vol_long: np.ndarray) -> None:
    """A tick's venue columns (``C_*``) in ``f``/``ints``: each venue's template row (its
    config and units), then the live values: the book's (``tops``, ``book_f``, ``book_i``:
    :meth:`~paraphina.book.Books.tops_rows`, ``Books.floats``, ``Books.ints``; the touch is
    level 0 of ``levels``, :meth:`~paraphina.book.Books.float_levels`; a venue without a
    two-sided book keeps the template's empty book columns) and the accounts' (``acct_f``,
    ``acct_i``: the ``A_*`` columns, prices in ticks, position in lots). ``vol_long`` gets each
    venue's long local vol (not a column: only the struct carries it)."""
    for v in range(tmpl_f.shape[0]):
        for c in range(tmpl_f.shape[1]):
            f[v, c] = tmpl_f[v, c]
        for c in range(tmpl_i.shape[1]):
            ints[v, c] = tmpl_i[v, c]
        if tops[v, 0] != 0:
            bid = levels[v, 0, 0, 0]
            ask = levels[v, 1, 0, 0]
            f[v, C_MID] = 0.5 * (bid + ask)
            f[v, C_SPREAD] = ask - bid
            f[v, C_BEST_BID] = bid
            f[v, C_BEST_ASK] = ask
            f[v, C_DEPTH] = bid * levels[v, 0, 1, 0] + ask * levels[v, 1, 1, 0]
            ints[v, C_HAS_MID] = 1
        f[v, C_POSITION] = acct_i[v, A_POSITION] * tmpl_f[v, C_LOT]
        f[v, C_MARGIN] = acct_f[v, A_MARGIN]
        f[v, C_FUNDING_8H] = acct_f[v, A_FUNDING_RATE] * (28_800_000 / acct_i[v, A_FUNDING_INTERVAL_MS])
        f[v, C_VOL_SHORT] = math.sqrt(book_f[v, F_VAR_SHORT])
        vol_long[v] = math.sqrt(book_f[v, F_VAR_LONG])
        f[v, C_AVG_ENTRY] = acct_f[v, A_AVG_ENTRY]
        if acct_i[v, A_LIQ_PRICE] >= 0:
            f[v, C_PRICE_LIQ] = acct_i[v, A_LIQ_PRICE] * tmpl_f[v, C_TICK]
        if book_i[v, I_LAST_MID_TS] >= 0:
            ints[v, C_MID_MS] = book_i[v, I_LAST_MID_TS] // NS_PER_MS
            ints[v, C_HAS_MID_MS] = 1
        if acct_i[v, A_FUNDING_RECEIVED_NS] >= 0:
            ints[v, C_FUND_MS] = acct_i[v, A_FUNDING_RECEIVED_NS] // NS_PER_MS
            ints[v, C_HAS_FUND_MS] = 1
        if acct_i[v, A_NEXT_FUNDING_NS] >= 0:
            ints[v, C_NEXT_FUND_MS] = acct_i[v, A_NEXT_FUNDING_NS] // NS_PER_MS
            ints[v, C_HAS_NEXT_FUND] = 1
