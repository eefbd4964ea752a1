"""The simulated exchange: the engine's actions in, acks, rejects, fills and account events out.

It watches the market through the same events the engine gets (:meth:`SimExchange.on_market`)
and keeps its own view of every venue's book, our resting orders, positions, balances and
funding. Fill model:

* **Latency.** An action sent at ``now`` takes effect at ``now + latency_ms`` (plus a seeded
  uniform jitter of up to ``latency_jitter_ms``). Until then it is queued; it is executed when
  the exchange's clock reaches that time (:meth:`advance`, or the next :meth:`on_market`), and
  the events it causes carry that time. Actions on one venue keep their order.
* **Post-only** orders that would cross the book when they take effect are rejected
  (``post_only_would_cross``); otherwise they rest as makers and never take liquidity.
* **Queue position.** A resting order joins the back of its level: ``ahead`` is the displayed
  size at its price when it takes effect. A trade at that price first consumes ``ahead``, then
  fills the order; trades at a worse price for the aggressor (through our price) fill it first.
  When the displayed size at the level shrinks below ``ahead`` (cancellations), ``ahead``
  shrinks with it. When the opposite side of the book moves through the order's price, it
  fills completely at its own price (the market traded through it).
* **IOC** (and any non-post-only order that crosses) walks the book from the touch up to its
  limit price, taking displayed size level by level; partial fills are normal; the unfilled
  remainder of an IOC is canceled (``ioc_remainder``), that of a GTC rests.
* **Fees**: ``fee = bps / 1e4 * price * size`` in quote currency, maker or taker rate by the
  liquidity the fill took (a negative maker rate is a rebate).
* **Funding** settles at each venue's ``next_funding_ts_ns`` (learned from FundingRate events),
  on the first Timer or FundingRate event at or after it: ``amount = -position * mark * rate``
  (longs pay a positive rate), as a FundingPayment. ``mark`` is the last MarkPrice, else the
  book mid. A FundingRate whose ``next_funding_ts_ns`` is not after its own time is a
  settlement record (Hyperliquid's funding history): it is paid at once, and nothing is
  scheduled after it.
* After fills or funding on a venue it reports a PositionSnapshot (with an estimated
  liquidation price) and a BalanceUpdate.

An outage (BookReset with reason ``venue_outage``) takes the venue down until its next
snapshot: actions on it are rejected (``venue_unavailable``); resting orders stay and are
checked against the book that comes back.

The books and resting orders live in arrays (:class:`_Arrays`) that one compiled kernel folds
over runs of market rows (:mod:`paraphina.sim.exchange_kernel`, :meth:`SimExchange.fold_rows`);
Python makes the events (acks, fills, account events) and folds the rare kinds.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from decimal import Decimal

import msgspec
import numpy as np

from paraphina import events as ev
from paraphina.actions import Action, CancelAll, CancelOrder, PlaceOrder, SetKillSwitch
from paraphina.columns import K_DELTA, K_SNAPSHOT, K_TRADE, EventColumns, from_events
from paraphina.sim.exchange_kernel import (
    B_APX, B_ASZ, B_BPX, B_BSZ, FILLS, GROW, NO_ASK, O_AHEAD, O_NO, O_PRICE, O_REM, O_SIDE, R_A0, R_A1, R_B0, R_B1,
    R_KIND, R_TS, R_VENUE, V_AN, V_BN, V_HAS_BOOK, V_OCOUNT, V_UP, fold_rows, rest_order,
)
from paraphina.sim.tick_columns import ChunkPacker

NS_PER_MS = 1_000_000


class VenueParams(msgspec.Struct, frozen=True, kw_only=True):
    """The simulated venue's fees, latency and margin rules."""

    maker_fee_bps: float = 2.0
    taker_fee_bps: float = 5.0
    latency_ms: int = 20
    latency_jitter_ms: int = 0
    initial_balance: float = 10_000.0
    maintenance_margin: float = 0.005
    leverage: float = 10.0


class SimOrder:
    """One of our orders resting at the exchange (a copy: the exchange keeps its orders in arrays)."""

    __slots__ = ("cid", "side", "price", "remaining", "ahead", "order_no", "exchange_id")

    def __init__(self, cid: str, side: int, price: int, remaining: int, ahead: int, order_no: int, exchange_id: str) -> None:
        self.cid = cid
        self.side = side
        self.price = price
        self.remaining = remaining
        self.ahead = ahead
        self.order_no = order_no
        self.exchange_id = exchange_id


class _Venue:
    __slots__ = ("orders", "position", "avg_entry", "balance", "realised",
                 "fees", "funding_paid", "filled_lots", "rate", "interval_ms", "next_funding_ns", "mark")

    def __init__(self, balance: float) -> None:
        self.orders: dict[str, int] = {}   # client order id -> order number, in the order placed
        self.position = 0            # lots, signed
        self.avg_entry = 0.0         # price units
        self.balance = balance       # quote: initial + realised - fees + funding
        self.realised = 0.0          # trading PnL, before fees
        self.fees = 0.0
        self.funding_paid = 0.0      # received (+) / paid (-)
        self.filled_lots = 0         # signed sum of all fills
        self.rate = 0.0
        self.interval_ms = 0
        self.next_funding_ns = -1
        self.mark = -1               # ticks

    def funding_due(self, t: int) -> bool:
        """Whether a funding payment falls due by ``t`` (:meth:`SimExchange._settle_funding`'s test)."""
        return self.next_funding_ns >= 0 and self.interval_ms > 0 and t >= self.next_funding_ns


class _Arrays:
    """What :func:`paraphina.sim.exchange_kernel.fold_rows` folds: every venue's book sides and
    our resting orders, packed (see that module), grown by doubling when a venue needs more room.
    ``queue[v]`` mirrors the order numbers of ``orders[O_NO, v, :count]``."""

    def __init__(self, n_venues: int, levels: int = 64, orders: int = 8) -> None:
        self.book = np.zeros((4, n_venues, levels), np.int64)
        self.vstate = np.zeros((5, n_venues), np.int64)
        self.vstate[V_UP] = 1
        self.orders = np.zeros((5, n_venues, orders), np.int64)
        self.fills = np.zeros((5, orders), np.int64)
        self.queue: list[list[int]] = [[] for _ in range(n_venues)]

    def grow_levels(self, need: int) -> None:
        b = self.book
        grown = np.zeros((4, b.shape[1], max(need, 2 * b.shape[2])), np.int64)
        grown[:, :, : b.shape[2]] = b
        self.book = grown

    def side(self, v: int, bid: bool) -> tuple[np.ndarray, np.ndarray]:
        """(prices, sizes) of a side, views into the arrays."""
        if bid:
            n = self.vstate[V_BN, v]
            return self.book[B_BPX, v, :n], self.book[B_BSZ, v, :n]
        n = self.vstate[V_AN, v]
        return self.book[B_APX, v, :n], self.book[B_ASZ, v, :n]

    def best(self, v: int, bid: bool) -> int | None:
        """The side's best price (its last level), ``None`` when it is empty."""
        n = self.vstate[V_BN if bid else V_AN, v]
        return int(self.book[B_BPX if bid else B_APX, v, n - 1]) if n else None

    def add_order(self, v: int, side: int, price: int, remaining: int, order_no: int) -> None:
        """A resting order at the back of its level's queue."""
        q = len(self.queue[v])
        if q == self.orders.shape[2]:
            o = self.orders
            grown = np.zeros((5, o.shape[1], 2 * o.shape[2]), np.int64)
            grown[:, :, : o.shape[2]] = o
            self.orders = grown
            self.fills = np.zeros((5, grown.shape[2]), np.int64)
        rest_order(self.book, self.vstate, self.orders, v, side, price, remaining, order_no)
        self.queue[v].append(order_no)

    def remove_order(self, v: int, order_no: int) -> None:
        qv = self.queue[v]
        q = qv.index(order_no)
        n = len(qv)
        if q < n - 1:
            self.orders[:, v, q : n - 1] = self.orders[:, v, q + 1 : n]
        del qv[q]
        self.vstate[V_OCOUNT, v] = n - 1

    def clear_orders(self, v: int) -> None:
        self.queue[v].clear()
        self.vstate[V_OCOUNT, v] = 0

    def drop_levels(self, v: int, bid: bool, prices: list[int]) -> None:
        """Remove these levels of a side, keeping the others' order."""
        px, sz = self.side(v, bid)
        keep = ~np.isin(px, prices)
        m = int(keep.sum())
        px[:m], sz[:m] = px[keep], sz[keep]
        self.vstate[V_BN if bid else V_AN, v] = m


class SimExchange:
    """Matches our orders against the simulated (or recorded) market; see the module docstring."""

    def __init__(self, instruments: Sequence[ev.Instrument], venues: Sequence[VenueParams], seed: int = 0) -> None:
        if len(instruments) != len(venues):
            raise ValueError("one VenueParams per instrument")
        self.instruments = list(instruments)
        self.params = list(venues)
        self.ticks = [float(Decimal(i.tick_size)) for i in instruments]
        self.lots = [float(Decimal(i.lot_size)) for i in instruments]
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.venues = [_Venue(p.initial_balance) for p in venues]
        self._a = _Arrays(len(venues))
        self.packer = ChunkPacker()   # the run's generator chunks, packed once (the join reads them too)
        self.now_ns = -1   # the exchange's clock: the latest time it has seen
        self._funding_check_ns = -1   # no venue's funding falls due before this (a timer skips the venues)
        self._ids: dict[int, tuple[str, str]] = {}   # order number -> (client id, exchange id) of resting orders
        self._queue: list[tuple[int, int, Action]] = []
        self._action_no = 0
        self._order_no = 0
        self._fill_no = 0

    # --- account views ------------------------------------------------------------------------

    def position(self, v: int) -> int:
        return self.venues[v].position

    def position_base(self) -> float:
        return sum(a.position * self.lots[v] for v, a in enumerate(self.venues))

    @property
    def fill_count(self) -> int:
        return self._fill_no

    def best_bid(self, v: int) -> int | None:
        return self._a.best(v, True)

    def best_ask(self, v: int) -> int | None:
        return self._a.best(v, False)

    def book(self, v: int) -> tuple[dict[int, int], dict[int, int]]:
        """The venue's book as the exchange holds it: ({bid price: size}, {ask price: size})."""
        return tuple(dict(zip(*(x.tolist() for x in self._a.side(v, bid)))) for bid in (True, False))

    def open_orders(self, v: int) -> list[SimOrder]:
        o = self._a.orders
        out = []
        for q in range(int(self._a.vstate[V_OCOUNT, v])):
            no = int(o[O_NO, v, q])
            cid, xid = self._ids[no]
            out.append(SimOrder(cid, int(o[O_SIDE, v, q]), int(o[O_PRICE, v, q]), int(o[O_REM, v, q]),
                                int(o[O_AHEAD, v, q]), no, xid))
        return out

    def set_position(self, v: int, lots: int, entry_price: float, ts_ns: int) -> list[ev.Event]:
        """Start a venue with a position (a scenario's initial inventory); returns the account events."""
        a = self.venues[v]
        a.position = lots
        a.avg_entry = entry_price if lots else 0.0
        return self._account_events(v, ts_ns)

    # --- input --------------------------------------------------------------------------------

    def on_actions(self, actions: Sequence[Action], now_ns: int) -> list[ev.Event]:
        """Queue the actions to take effect after each venue's latency; returns the events of
        those already due by the exchange's clock (zero latency, or sent at ``now_ns`` earlier
        than the clock, by the engine reacting to an event that happened in the past)."""
        for a in actions:
            if isinstance(a, SetKillSwitch):
                continue  # the engine's own latch; its CancelAll actions reach the venues
            if isinstance(a, CancelAll) and a.venue < 0:
                for v in range(len(self.venues)):
                    self._enqueue(CancelAll(seq=a.seq, venue=v), now_ns)
            else:
                self._enqueue(a, now_ns)
        return self.advance(max(now_ns, self.now_ns))

    def next_due_ns(self) -> int | None:
        """When the next queued action takes effect (``None``: nothing queued)."""
        return self._queue[0][0] if self._queue else None

    def advance(self, now_ns: int) -> list[ev.Event]:
        """Execute every queued action due at or before ``now_ns``; their events carry the time
        each took effect. Call it before delivering a market event stamped ``now_ns``."""
        out: list[ev.Event] = []
        q = self._queue
        while q and q[0][0] <= now_ns:
            eff, _, action = heapq.heappop(q)
            out.extend(self._execute(action, eff))
        if now_ns > self.now_ns:
            self.now_ns = now_ns
        return out

    def on_market(self, e: ev.Event) -> list[ev.Event]:
        """Fold one market or clock event; returns the fills, funding and account events it caused
        (after those of queued actions due by ``e.ts_ns``)."""
        t = e.ts_ns
        if self._queue and self._queue[0][0] <= t:
            out = self.advance(t)
        else:  # nothing due: advance's bookkeeping only
            out = []
            if t > self.now_ns:
                self.now_ns = t
        if e.KIND in _ROW_KINDS:
            cols = from_events([e])
            self.fold_rows(cols, 0, 1, out)
            return out
        fold = _FOLDS.get(type(e))
        if fold is not None:
            fold(self, e, out)
        return out

    def fold_rows(self, cols: EventColumns, i: int, n: int, out: list[ev.Event]) -> int:
        """Fold the book and trade rows ``i`` on of ``cols`` (compiled), up to row ``n``, a row of
        another kind or the first row stamped at or after the next queued action, whichever
        comes first, or just past a row that filled orders: its fills and account events are
        appended to ``out``. Returns the first row not folded. The caller has advanced the
        exchange to each row's time (nothing queued falls due before the rows folded)."""
        a = self._a
        until = self._queue[0][0] if self._queue else NO_ASK
        rows, blv, alv = self.packer(cols)
        while True:
            j, status, nf, latest = fold_rows(rows, blv, alv, i, n, until, a.book, a.vstate, a.orders, a.fills)
            if latest > self.now_ns:
                self.now_ns = latest
            if status != GROW:
                break
            v = int(rows[R_VENUE, j])
            a.grow_levels(max(int(a.vstate[V_BN, v] + rows[R_B1, j] - rows[R_B0, j]),
                              int(a.vstate[V_AN, v] + rows[R_A1, j] - rows[R_A0, j])))
            i = j
        if status == FILLS:
            r = j - 1
            v, t = int(rows[R_VENUE, r]), int(rows[R_TS, r])
            trade_id = (cols.text[r] or "") if rows[R_KIND, r] == K_TRADE else ""
            acct = self.venues[v]
            fills = a.fills[:, :nf].tolist()
            for no, side, price, qty, done in zip(*fills):
                cid = self._ids[no][0]
                out.append(self._fill(v, cid, side, price, qty, "maker", t, trade_id))
                if done:
                    del acct.orders[cid]
                    del self._ids[no]
                    a.queue[v].remove(no)
            out.extend(self._account_events(v, t))
        return j

    # One fold per kind of market event the kernel does not fold (``_FOLDS``, at the end of the
    # module); each appends what the event caused to ``out``.

    def _fold_timer(self, e: ev.Timer, out: list[ev.Event]) -> None:
        t = e.ts_ns
        if t < self._funding_check_ns:
            return
        for v, a in enumerate(self.venues):
            if a.funding_due(t):
                out.extend(self._settle_funding(v, t))
        self._funding_check_ns = self._next_funding_ns()

    def _fold_funding_rate(self, e: ev.FundingRate, out: list[ev.Event]) -> None:
        out.extend(self._settle_funding(e.venue, e.ts_ns))  # what fell due under the previous rate
        a = self.venues[e.venue]
        a.rate, a.interval_ms, a.next_funding_ns = e.rate, e.interval_ms, e.next_funding_ts_ns
        if 0 <= e.next_funding_ts_ns <= e.ts_ns:
            # A settlement record (a venue's funding history): this rate is paid now, and the
            # next record, not a schedule, says when the next payment is.
            out.extend(self._settle_funding(e.venue, e.ts_ns))
            a.next_funding_ns = -1
        self._funding_check_ns = self._next_funding_ns()

    def _next_funding_ns(self) -> int:
        """The earliest time a venue's funding falls due (``funding_due``), far future if none."""
        due = [a.next_funding_ns for a in self.venues if a.next_funding_ns >= 0 and a.interval_ms > 0]
        return min(due) if due else NO_ASK

    def _fold_mark(self, e: ev.MarkPrice, out: list[ev.Event]) -> None:
        self.venues[e.venue].mark = e.mark_ticks()

    def _fold_reset(self, e: ev.BookReset, out: list[ev.Event]) -> None:
        if e.reason == "venue_outage":
            self._a.vstate[V_UP, e.venue] = 0

    # --- actions ------------------------------------------------------------------------------

    def _enqueue(self, a: Action, now_ns: int) -> None:
        p = self.params[a.venue]
        delay = p.latency_ms * NS_PER_MS
        if p.latency_jitter_ms > 0:
            delay += int(self.rng.integers(0, p.latency_jitter_ms * NS_PER_MS + 1))
        self._action_no += 1
        heapq.heappush(self._queue, (now_ns + delay, self._action_no, a))

    def _execute(self, a: Action, t: int) -> list[ev.Event]:
        v = a.venue
        acct = self.venues[v]
        if isinstance(a, PlaceOrder):
            return self._place(a, t)
        if isinstance(a, CancelOrder):
            order_no = acct.orders.pop(a.client_order_id, None)
            if order_no is None:
                return [ev.OrderRejected(ts_ns=t, venue=v, client_order_id=a.client_order_id, reason="cancel_unknown_order")]
            self._a.remove_order(v, order_no)
            del self._ids[order_no]
            return [ev.OrderCanceled(ts_ns=t, venue=v, client_order_id=a.client_order_id, reason="canceled")]
        if isinstance(a, CancelAll):
            out: list[ev.Event] = [ev.OrderCanceled(ts_ns=t, venue=v, client_order_id=cid, reason="cancel_all")
                                   for cid in acct.orders]
            for order_no in acct.orders.values():
                del self._ids[order_no]
            acct.orders.clear()
            self._a.clear_orders(v)
            return out
        return []

    def _place(self, a: PlaceOrder, t: int) -> list[ev.Event]:
        v = a.venue
        acct = self.venues[v]

        def reject(reason: str) -> list[ev.Event]:
            return [ev.OrderRejected(ts_ns=t, venue=v, client_order_id=a.client_order_id, reason=reason)]

        arrays = self._a
        if not arrays.vstate[V_UP, v]:
            return reject("venue_unavailable")
        if not arrays.vstate[V_HAS_BOOK, v]:
            return reject("no_book")
        if a.size <= 0 or a.price <= 0 or a.side not in (1, -1):
            return reject("invalid_order")
        if a.client_order_id in acct.orders:
            return reject("duplicate_client_order_id")
        size = a.size
        if a.reduce_only:
            if acct.position == 0 or (acct.position > 0) == (a.side > 0):
                return reject("reduce_only_would_increase")
            size = min(size, abs(acct.position))
        best_opp = arrays.best(v, bid=a.side < 0)
        crosses = best_opp is not None and (a.price >= best_opp if a.side > 0 else a.price <= best_opp)
        if a.post_only and crosses:
            return reject("post_only_would_cross")
        self._order_no += 1
        xid = f"x{v}-{self._order_no}"
        out: list[ev.Event] = [ev.OrderAccepted(ts_ns=t, venue=v, client_order_id=a.client_order_id, exchange_order_id=xid)]
        remaining = size
        if crosses:
            fills = self._take(v, a, size, t)
            out.extend(fills)
            remaining -= sum(f.size for f in fills)
        if remaining > 0:
            if a.time_in_force == "IOC":
                out.append(ev.OrderCanceled(ts_ns=t, venue=v, client_order_id=a.client_order_id, reason="ioc_remainder"))
            else:
                acct.orders[a.client_order_id] = self._order_no
                self._ids[self._order_no] = (a.client_order_id, xid)
                arrays.add_order(v, a.side, a.price, remaining, self._order_no)
        if remaining < size:
            out.extend(self._account_events(v, t))
        return out

    def _take(self, v: int, a: PlaceOrder, size: int, t: int) -> list[ev.Fill]:
        """Walk the opposite side from the touch to the limit price, consuming displayed size."""
        arrays = self._a
        bid = a.side < 0
        px, sz = arrays.side(v, bid)
        # (price, slot) from the touch outwards; a level emptied here is removed after the walk
        # (prices are distinct, so the walk's order is the prices' alone)
        walk = sorted(zip(px.tolist(), range(len(px))), reverse=bid)
        fills: list[ev.Fill] = []
        emptied: list[int] = []
        left = size
        for p, slot in walk:
            if left == 0 or (p > a.price if a.side > 0 else p < a.price):
                break
            take = min(left, int(sz[slot]))
            if take <= 0:
                continue
            sz[slot] -= take
            if sz[slot] == 0:
                emptied.append(p)
            left -= take
            fills.append(self._fill(v, a.client_order_id, a.side, p, take, "taker", t))
        if emptied:
            arrays.drop_levels(v, bid, emptied)
        return fills

    # --- market -------------------------------------------------------------------------------

    def _settle_funding(self, v: int, t: int) -> list[ev.Event]:
        a = self.venues[v]
        out: list[ev.Event] = []
        while a.funding_due(t):
            mark = a.mark if a.mark > 0 else self._mid_ticks(v)
            if a.position and mark is not None:
                amount = -a.position * self.lots[v] * mark * self.ticks[v] * a.rate
                a.balance += amount
                a.funding_paid += amount
                out.append(ev.FundingPayment(ts_ns=t, venue=v, amount=amount, rate=a.rate, position=a.position,
                                             mark_price=round(mark)))
            a.next_funding_ns += a.interval_ms * NS_PER_MS
        if out:
            out.extend(self._account_events(v, t))
        return out

    # --- accounting ---------------------------------------------------------------------------

    def _fill(self, v: int, cid: str, side: int, price: int, lots: int, liquidity: str, t: int,
              trade_id: str = "") -> ev.Fill:
        p = self.params[v]
        a = self.venues[v]
        px = price * self.ticks[v]
        bps = p.maker_fee_bps if liquidity == "maker" else p.taker_fee_bps
        fee = bps / 1e4 * px * lots * self.lots[v]
        pos = a.position
        new_pos = pos + side * lots
        if pos == 0 or (pos > 0) == (side > 0):
            a.avg_entry = (abs(pos) * a.avg_entry + lots * px) / abs(new_pos)
        else:
            closed = min(lots, abs(pos))
            pnl = closed * self.lots[v] * (px - a.avg_entry) * (1.0 if pos > 0 else -1.0)
            a.realised += pnl
            a.balance += pnl
            if new_pos == 0:
                a.avg_entry = 0.0
            elif (new_pos > 0) != (pos > 0):
                a.avg_entry = px
        a.position = new_pos
        a.filled_lots += side * lots
        a.fees += fee
        a.balance -= fee
        self._fill_no += 1
        return ev.Fill(ts_ns=t, venue=v, client_order_id=cid, side=side, price=price, size=lots, fee=fee,
                       liquidity=liquidity, trade_id=trade_id or f"simfill-{self._fill_no}")

    def liquidation_price(self, v: int) -> float | None:
        """Where equity on the venue would meet maintenance margin (isolated margin, the venue's
        balance as collateral): ``balance + q (P - E) = m |q| P``; ``None`` when flat or never."""
        a = self.venues[v]
        q = a.position * self.lots[v]
        if q == 0:
            return None
        m = self.params[v].maintenance_margin
        denom = q - m * abs(q)
        if denom == 0:
            return None
        price = (q * a.avg_entry - a.balance) / denom
        return price if price > 0 else None

    def _account_events(self, v: int, t: int) -> list[ev.Event]:
        a = self.venues[v]
        tick, lot = self.ticks[v], self.lots[v]
        liq = self.liquidation_price(v)
        mark = a.mark * tick if a.mark > 0 else self._mid(v)
        unrealised = a.position * lot * (mark - a.avg_entry) if (a.position and mark is not None) else 0.0
        used = abs(a.position) * lot * (mark or a.avg_entry) / self.params[v].leverage
        return [
            ev.PositionSnapshot(ts_ns=t, venue=v, position=a.position, avg_entry_price=a.avg_entry,
                                liquidation_price=round(liq / tick) if liq is not None else -1),
            ev.BalanceUpdate(ts_ns=t, venue=v, balance=a.balance, margin_used=used,
                             margin_available=a.balance + unrealised - used),
        ]

    def _mid_ticks(self, v: int) -> float | None:
        """The venue's mid in ticks: the funding mark when the venue publishes none."""
        bb, ba = self._a.best(v, True), self._a.best(v, False)
        return None if bb is None or ba is None else 0.5 * (bb + ba)

    def _mid(self, v: int) -> float | None:
        bb, ba = self._a.best(v, True), self._a.best(v, False)
        return None if bb is None or ba is None else 0.5 * (bb + ba) * self.ticks[v]


# The kinds the compiled fold takes (SimExchange.fold_rows), and the Python fold of each other
# market event kind, by exact type (event kinds are final classes); the kinds in neither
# (GapDetected, account events) change nothing at the exchange.
_ROW_KINDS = frozenset({K_SNAPSHOT, K_DELTA, K_TRADE})
_FOLDS = {ev.Timer: SimExchange._fold_timer,
          ev.FundingRate: SimExchange._fold_funding_rate, ev.MarkPrice: SimExchange._fold_mark,
          ev.BookReset: SimExchange._fold_reset}
