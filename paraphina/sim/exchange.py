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
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from decimal import Decimal

import msgspec
import numpy as np

from paraphina import events as ev
from paraphina.actions import Action, CancelAll, CancelOrder, PlaceOrder, SetKillSwitch

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
    """One of our orders resting at the exchange."""

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
    __slots__ = ("bids", "asks", "has_book", "up", "orders", "position", "avg_entry", "balance", "realised",
                 "fees", "funding_paid", "filled_lots", "rate", "interval_ms", "next_funding_ns", "mark")

    def __init__(self, balance: float) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.has_book = False
        self.up = True
        self.orders: dict[str, SimOrder] = {}
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

    def best_bid(self) -> int | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> int | None:
        return min(self.asks) if self.asks else None


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
        self.now_ns = -1
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

    def open_orders(self, v: int) -> list[SimOrder]:
        return list(self.venues[v].orders.values())

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
        fold = _FOLDS.get(type(e))
        if fold is not None:
            fold(self, e, out)
        return out

    # One fold per market event kind (``_FOLDS``, at the end of the module); each appends what
    # the event caused to ``out``.

    def _fold_trade(self, e: ev.Trade, out: list[ev.Event]) -> None:
        if self.venues[e.venue].orders:
            out.extend(self._on_trade(e))

    def _fold_timer(self, e: ev.Timer, out: list[ev.Event]) -> None:
        t = e.ts_ns
        for v, a in enumerate(self.venues):
            if a.funding_due(t):
                out.extend(self._settle_funding(v, t))

    def _fold_funding_rate(self, e: ev.FundingRate, out: list[ev.Event]) -> None:
        out.extend(self._settle_funding(e.venue, e.ts_ns))  # what fell due under the previous rate
        a = self.venues[e.venue]
        a.rate, a.interval_ms, a.next_funding_ns = e.rate, e.interval_ms, e.next_funding_ts_ns
        if 0 <= e.next_funding_ts_ns <= e.ts_ns:
            # A settlement record (a venue's funding history): this rate is paid now, and the
            # next record, not a schedule, says when the next payment is.
            out.extend(self._settle_funding(e.venue, e.ts_ns))
            a.next_funding_ns = -1

    def _fold_mark(self, e: ev.MarkPrice, out: list[ev.Event]) -> None:
        self.venues[e.venue].mark = e.mark_ticks()

    def _fold_reset(self, e: ev.BookReset, out: list[ev.Event]) -> None:
        if e.reason == "venue_outage":
            self.venues[e.venue].up = False

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
            order = acct.orders.pop(a.client_order_id, None)
            if order is None:
                return [ev.OrderRejected(ts_ns=t, venue=v, client_order_id=a.client_order_id, reason="cancel_unknown_order")]
            return [ev.OrderCanceled(ts_ns=t, venue=v, client_order_id=a.client_order_id, reason="canceled")]
        if isinstance(a, CancelAll):
            out: list[ev.Event] = [ev.OrderCanceled(ts_ns=t, venue=v, client_order_id=cid, reason="cancel_all")
                                   for cid in acct.orders]
            acct.orders.clear()
            return out
        return []

    def _place(self, a: PlaceOrder, t: int) -> list[ev.Event]:
        v = a.venue
        acct = self.venues[v]

        def reject(reason: str) -> list[ev.Event]:
            return [ev.OrderRejected(ts_ns=t, venue=v, client_order_id=a.client_order_id, reason=reason)]

        if not acct.up:
            return reject("venue_unavailable")
        if not acct.has_book:
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
        best_opp = acct.best_ask() if a.side > 0 else acct.best_bid()
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
                levels = acct.bids if a.side > 0 else acct.asks
                acct.orders[a.client_order_id] = SimOrder(a.client_order_id, a.side, a.price, remaining,
                                                          levels.get(a.price, 0), self._order_no, xid)
        if remaining < size:
            out.extend(self._account_events(v, t))
        return out

    def _take(self, v: int, a: PlaceOrder, size: int, t: int) -> list[ev.Fill]:
        """Walk the opposite side from the touch to the limit price, consuming displayed size."""
        acct = self.venues[v]
        levels = acct.asks if a.side > 0 else acct.bids
        prices = sorted(levels) if a.side > 0 else sorted(levels, reverse=True)
        fills: list[ev.Fill] = []
        left = size
        for p in prices:
            if left == 0 or (p > a.price if a.side > 0 else p < a.price):
                break
            take = min(left, levels[p])
            if take <= 0:
                continue
            levels[p] -= take
            if levels[p] == 0:
                del levels[p]
            left -= take
            fills.append(self._fill(v, a.client_order_id, a.side, p, take, "taker", t))
        return fills

    # --- market -------------------------------------------------------------------------------

    def _fold_book(self, e: ev.BookDelta | ev.BookSnapshot, out: list[ev.Event]) -> None:
        """Fold a book snapshot or delta, then fill the resting orders the book moved through and
        shrink the others' queue ahead to what their level shows (appended to ``out``)."""
        v = e.venue
        acct = self.venues[v]
        if type(e) is ev.BookSnapshot:
            acct.bids = dict(zip(e.bid_px, e.bid_sz))
            acct.asks = dict(zip(e.ask_px, e.ask_sz))
            acct.has_book = True
            acct.up = True
        else:
            # A level by level fold: a size above zero sets the level, any other removes it.
            bids, asks = acct.bids, acct.asks
            for p, s in zip(e.bid_px, e.bid_sz):
                if s > 0:
                    bids[p] = s
                else:
                    bids.pop(p, None)
            for p, s in zip(e.ask_px, e.ask_sz):
                if s > 0:
                    asks[p] = s
                else:
                    asks.pop(p, None)
        orders = acct.orders
        if not orders:
            return
        bids, asks = acct.bids, acct.asks
        best_bid = max(bids) if bids else None
        best_ask = min(asks) if asks else None
        filled = False
        for order in list(orders.values()):
            if order.side > 0:
                through = best_ask is not None and best_ask <= order.price
            else:
                through = best_bid is not None and best_bid >= order.price
            if through:
                out.append(self._fill(v, order.cid, order.side, order.price, order.remaining, "maker", e.ts_ns))
                del orders[order.cid]
                filled = True
            else:
                shown = (bids if order.side > 0 else asks).get(order.price, 0)
                if shown < order.ahead:
                    order.ahead = shown
        if filled:
            out.extend(self._account_events(v, e.ts_ns))

    def _on_trade(self, e: ev.Trade) -> list[ev.Event]:
        """A public trade fills our resting orders on its passive side, in price-time priority."""
        v = e.venue
        acct = self.venues[v]
        passive = -e.side
        eligible = [o for o in acct.orders.values()
                    if o.side == passive and (o.price <= e.price if passive < 0 else o.price >= e.price)]
        if not eligible:
            return []
        eligible.sort(key=lambda o: (o.price * -passive, o.order_no))
        budget = e.size
        out: list[ev.Event] = []
        for o in eligible:
            if budget <= 0:
                break
            if o.price == e.price:
                used = min(o.ahead, budget)
                o.ahead -= used
                budget -= used
            take = min(o.remaining, budget)
            if take <= 0:
                continue
            budget -= take
            o.remaining -= take
            out.append(self._fill(v, o.cid, o.side, o.price, take, "maker", e.ts_ns, e.trade_id))
            if o.remaining == 0:
                del acct.orders[o.cid]
        if out:
            out.extend(self._account_events(v, e.ts_ns))
        return out

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
        a = self.venues[v]
        bb, ba = a.best_bid(), a.best_ask()
        return None if bb is None or ba is None else 0.5 * (bb + ba)

    def _mid(self, v: int) -> float | None:
        a = self.venues[v]
        bb, ba = a.best_bid(), a.best_ask()
        return None if bb is None or ba is None else 0.5 * (bb + ba) * self.ticks[v]


# The fold of each market event kind, by exact type (event kinds are final classes); the kinds
# not here (GapDetected, account events) change nothing at the exchange.
_FOLDS = {ev.BookDelta: SimExchange._fold_book, ev.BookSnapshot: SimExchange._fold_book,
          ev.Trade: SimExchange._fold_trade, ev.Timer: SimExchange._fold_timer,
          ev.FundingRate: SimExchange._fold_funding_rate, ev.MarkPrice: SimExchange._fold_mark,
          ev.BookReset: SimExchange._fold_reset}
