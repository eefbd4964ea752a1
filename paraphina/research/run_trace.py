"""What one run did, tick by tick: replay its log with an observer and collect the series a
per-run report plots (:mod:`paraphina.research.run_report`).

Any log that replays works: ``replay --out``, ``backtest``, ``run``, ``shadow`` and ``record``
sessions. The observer (:class:`TraceObserver`) rides the engine's ``paraphina_on_tick`` hook,
so nothing needs telemetry files; fills and funding payments are read from the log itself, and
each fill's purpose (mm, hedge, exit) comes from the order that the replayed action stream placed.

PnL attribution (USD), all from event time:

* spread capture, hedge cost, exit cost: per fill ``side * (fair value - price) * size`` at the
  fill (the engine's fair value on the last main tick at or before the fill, else the venue mid),
  summed by purpose: what the fill earned or paid against fair value (the same
  :func:`~paraphina.sim.attribution.fill_edge` and accumulator as ``run --attribution``, which
  measures against the simulator's latent price instead);
* fees: minus the fees paid (rebates count positive); funding: the funding payments;
* inventory: the rest of the engine's total PnL (what holding the position earned as fair
  value moved);
* markouts: per purpose, ``side * (fair value at fill + h - price) * size`` for a few horizons h.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import msgspec

from paraphina import events as ev
from paraphina.actions import PlaceOrder, SetKillSwitch
from paraphina.errors import UserError
from paraphina.hookspecs import hookimpl
from paraphina.sim.attribution import Attribution, fill_edge

PURPOSES = ("mm", "hedge", "exit")


@dataclass
class TickSeries:
    """One row per main tick (venue lists are indexed by venue)."""

    ts_ns: list[int] = field(default_factory=list)
    realised: list[float] = field(default_factory=list)
    unrealised: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    position: list[float] = field(default_factory=list)
    fair_value: list[float] = field(default_factory=list)          # NaN while unavailable
    latent: list[float] = field(default_factory=list)              # NaN unless the telemetry has it
    regime: list[str] = field(default_factory=list)
    venue_position: list[list[float]] = field(default_factory=list)
    venue_mid: list[list[float]] = field(default_factory=list)
    venue_bid: list[list[float]] = field(default_factory=list)     # our resting mm bid (NaN: none)
    venue_ask: list[list[float]] = field(default_factory=list)


class TraceObserver:
    """Observer plugin: appends the tick's state to a :class:`TickSeries`."""

    name = "run-trace"
    version = "1"

    def __init__(self, venues: int, latent_by_tick: dict[int, float] | None = None) -> None:
        self.s = TickSeries(venue_position=[[] for _ in range(venues)], venue_mid=[[] for _ in range(venues)],
                            venue_bid=[[] for _ in range(venues)], venue_ask=[[] for _ in range(venues)])
        self.kill_reason: str | None = None
        self._latent = latent_by_tick or {}

    @hookimpl
    def paraphina_on_tick(self, ctx, telemetry):
        s, nan = self.s, math.nan
        s.ts_ns.append(ctx.now_ns)
        s.realised.append(telemetry["pnl_realised"])
        s.unrealised.append(telemetry["pnl_unrealised"])
        s.total.append(telemetry["pnl_total"])
        s.position.append(telemetry["q_global_tao"])
        fv = telemetry.get("fair_value")
        s.fair_value.append(fv if fv is not None else nan)
        latent = telemetry.get("latent_price", self._latent.get(telemetry["t"]))
        s.latent.append(latent if latent is not None else nan)
        s.regime.append("Kill" if telemetry["kill_switch"] else telemetry["risk_regime"])
        if telemetry["kill_switch"] and self.kill_reason is None:
            self.kill_reason = telemetry.get("kill_reason")
        for v in ctx.venues:
            s.venue_position[v.index].append(v.position)
            s.venue_mid[v.index].append(v.mid if v.mid is not None else nan)
            s.venue_bid[v.index].append(v.mm_bid_price if v.mm_bid_price is not None else nan)
            s.venue_ask[v.index].append(v.mm_ask_price if v.mm_ask_price is not None else nan)


@dataclass(frozen=True)
class FillRow:
    ts_ns: int
    venue: int
    purpose: str
    side: int
    price: float
    size: float
    fee: float
    reference: float | None       # fair value at the fill (else the venue mid), USD; None: neither

    @property
    def edge(self) -> float | None:
        """``side * (reference - price) * size``, USD (None: no reference)."""
        return None if self.reference is None else fill_edge(self.side, self.price, self.size, self.reference)


@dataclass
class RunTrace:
    log: str
    log_sha256: str
    session: dict[str, Any]
    venues: list[str]
    policy: str
    plugins: dict[str, str]
    config_hash: str
    events: int
    actions: int
    action_sha256: str
    summary: dict[str, Any]
    ticks: TickSeries
    fills: list[FillRow]
    funding: float
    kill_reason: str | None
    kill_action_ts_ns: int | None
    markout_horizons_ms: list[int]
    markouts: dict[str, dict[int, float]]       # purpose -> horizon -> USD
    versions: dict[str, str] = field(default_factory=dict)   # from the log's session start
    actions_file_check: str | None = None        # what comparing with a recorded actions file found


def file_sha256(path: str) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_latent(path: str | None) -> dict[int, float]:
    """``t -> latent_price`` from a telemetry JSONL file (records without it are skipped)."""
    if not path:
        return {}
    out: dict[int, float] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    raise UserError(f"{path}: line {lineno}: not JSON") from None
                if isinstance(rec, dict) and rec.get("latent_price") is not None and "t" in rec:
                    out[int(rec["t"])] = float(rec["latent_price"])
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    return out


def trace_run(log: str, policy, config, *, telemetry: str | None = None, actions_file: str | None = None,
              horizons_ms: tuple[int, ...] = (1_000, 10_000)) -> RunTrace:
    """Replay ``log`` with ``policy`` (a name or plugin) and ``config`` under the trace observer."""
    from paraphina.actions import StreamHasher
    from paraphina.eventlog import LogReader
    from paraphina.replay import replay_log

    info = LogReader(log).info
    names = [i.venue for i in info.instruments]
    obs = TraceObserver(len(names), read_latent(telemetry))
    purposes: dict[tuple[int, str], str] = {}
    kill_ts: list[int] = []
    hasher = StreamHasher()

    def sink(actions) -> None:
        hasher.add(actions)
        for a in actions:
            if isinstance(a, PlaceOrder):
                purposes[(a.venue, a.client_order_id)] = a.purpose
            elif isinstance(a, SetKillSwitch) and a.active and not kill_ts:
                kill_ts.append(a.seq)

    r = replay_log(log, policy, config, observers=[obs], sink=sink)
    ticks = obs.s
    ts_of_seq, fills_raw, funding, start = _scan_log(log, set(kill_ts))
    tick_of = [Fraction(i.tick_size) for i in info.instruments]
    lot_of = [Fraction(i.lot_size) for i in info.instruments]
    fills = []
    for e in fills_raw:
        price = float(e.price * tick_of[e.venue])
        size = float(e.size * lot_of[e.venue])
        ref = _reference(ticks, e.ts_ns, e.venue)
        fills.append(FillRow(ts_ns=e.ts_ns, venue=e.venue, purpose=purposes.get((e.venue, e.client_order_id), "other"),
                             side=e.side, price=price, size=size, fee=e.fee, reference=ref))
    cfg_horizon = int(config.toxicity.markout_horizon_ms)
    horizons = sorted({*horizons_ms, cfg_horizon})
    check = None
    if actions_file:
        recorded = file_sha256(actions_file)
        check = (f"{actions_file}: matches the replay ({recorded[:16]})" if recorded == hasher.hexdigest()
                 else f"{actions_file}: DIFFERS from the replay ({recorded[:16]} vs {hasher.hexdigest()[:16]})")
    return RunTrace(
        log=log, log_sha256=file_sha256(log), session=dict(info.session), venues=names, policy=r.policy,
        plugins=r.plugins, config_hash=r.config_hash, events=r.events, actions=r.actions, action_sha256=r.sha256,
        summary=r.summary, ticks=ticks, fills=fills, funding=funding, kill_reason=obs.kill_reason or r.summary.get("kill_reason") or None,
        kill_action_ts_ns=ts_of_seq.get(kill_ts[0]) if kill_ts else None, markout_horizons_ms=horizons,
        markouts=markouts(ticks, fills, horizons), versions=dict(start.versions) if start else {},
        actions_file_check=check)


def _scan_log(log: str, seqs: set[int]) -> tuple[dict[int, int], list[ev.Fill], float, ev.SessionStart | None]:
    """(ts_ns of the wanted seqs, the fills, total funding paid to us, the first session start)
    from the log's events."""
    from paraphina.eventlog import LogReader

    fill_code, funding_code, start_code = ev.Fill.KIND, ev.FundingPayment.KIND, ev.SessionStart.KIND
    start = None
    ts_of: dict[int, int] = {}
    fills: list[ev.Fill] = []
    funding = 0.0
    try:
        for cols in LogReader(log).iter_columns():
            kinds = cols.kind
            for i in range(len(cols)):
                k = int(kinds[i])
                if k == fill_code:
                    fills.append(cols.event(i))
                elif k == funding_code:
                    funding += cols.event(i).amount
                elif k == start_code and start is None:
                    start = cols.event(i)
                if seqs and int(cols.seq[i]) in seqs:
                    ts_of[int(cols.seq[i])] = int(cols.ts_ns[i])
    except msgspec.DecodeError as exc:
        raise UserError(f"{log}: {exc}") from None
    return ts_of, fills, funding, start


def _reference(ticks: TickSeries, ts_ns: int, venue: int) -> float | None:
    """Fair value on the last tick at or before ``ts_ns`` (else that venue's mid there)."""
    i = bisect.bisect_right(ticks.ts_ns, ts_ns) - 1
    if i < 0:
        return None
    fv = ticks.fair_value[i]
    if not math.isnan(fv):
        return fv
    mid = ticks.venue_mid[venue][i]
    return None if math.isnan(mid) else mid


def markouts(ticks: TickSeries, fills: list[FillRow], horizons_ms: list[int]) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    for f in fills:
        row = out.setdefault(f.purpose, {h: 0.0 for h in horizons_ms})
        for h in horizons_ms:
            i = bisect.bisect_left(ticks.ts_ns, f.ts_ns + h * 1_000_000)
            if i >= len(ticks.ts_ns):
                continue  # the run ended before the horizon
            ref = ticks.fair_value[i]
            if math.isnan(ref):
                ref = ticks.venue_mid[f.venue][i]
            if not math.isnan(ref):
                row[h] += f.side * (ref - f.price) * f.size
    return {p: out[p] for p in sorted(out)}


def attribution(t: RunTrace) -> list[tuple[str, float]]:
    """The PnL attribution rows (label, USD); they sum to the engine's total. The fills are
    counted by the same :class:`~paraphina.sim.attribution.Attribution` as ``run --attribution``,
    against the engine's fair value instead of the latent price; inventory is the rest."""
    a = Attribution()
    for f in t.fills:
        a.add_fill(f.purpose, f.side, f.price, f.size, f.fee, f.reference)
    total = float(t.summary["total"])
    rows = [("spread capture (mm fills vs fair value)", a.spread_capture),
            ("hedge cost (hedge fills vs fair value)", a.hedge_edge),
            ("exit cost (exit fills vs fair value)", a.exit_edge)]
    if a.other_edge:
        rows.append(("other fills vs fair value", a.other_edge))
    rows += [("fees (rebates +)", -a.fees), ("funding", t.funding)]
    rows.append(("inventory (the rest: position held as fair value moved)", total - sum(v for _, v in rows)))
    rows.append(("total (engine)", total))
    return rows
