"""Why a run quoted nothing, in one line (pure: no I/O; the commands print it).

A :class:`QuietObserver` rides along the engine as an observer plugin (it never changes an
action) and fills a :class:`QuietTally` per main tick: whether the fair value was available and,
when not, why; the risk regime; market-making places. :func:`why_quiet` turns the tally, the
engine summary (kill switch, shield counters) and the config into the one line ``replay``,
``backtest`` and ``shadow`` print when no MM order was placed, or None when one was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from paraphina.actions import PlaceOrder
from paraphina.config import Config
from paraphina.hookspecs import hookimpl
from paraphina.strategy.common import VenueInput, has_valid_book, is_fresh

# Why the fair value was unavailable on a main tick, most basic first.
NO_BOOK = "no_book"
STALE = "stale"
OUTLIER = "outlier"
UNHEALTHY = "unhealthy"
FV_REASONS = (NO_BOOK, STALE, OUTLIER, UNHEALTHY)

# Shield rules that drop an intent (the others clip it and let it through).
SHIELD_DROPS = ("regime", "bad_venue", "no_book", "bad_number", "zero_size", "min_notional", "not_a_quote",
                "duplicate_quote", "not_ioc")

MERGE_HINT = "paraphina merge LOG... -o OUT.arrow --timer-ms 250"


class QuietTally(msgspec.Struct, kw_only=True):
    main_ticks: int = 0
    fv_unavailable: int = 0
    fv_reasons: dict[str, int] = {}
    hardlimit_ticks: int = 0
    kill_tick: int = 0              # main tick on which the kill switch was first seen latched; 0 never
    mm_places: int = 0
    places: int = 0


def fv_unavailable_reason(venues: Sequence[VenueInput], gate_ref: float | None, now_ms: int, cfg: Config) -> str:
    """Why fewer than ``book.min_healthy_for_kf`` venue mids could enter the filter this tick:
    no two-sided book anywhere, too few fresh books, too few fresh mids inside the outlier gate
    around the previous fair value, else venues held out by their health status."""
    need = cfg.book.min_healthy_for_kf
    booked = [v for v in venues if has_valid_book(v)]
    if not booked:
        return NO_BOOK
    fresh = [v for v in booked if is_fresh(v, now_ms, cfg.book.stale_ms)]
    if len(fresh) < need:
        return STALE
    if gate_ref is not None and gate_ref > 0.0:
        inside = [v for v in fresh if v.mid is not None and abs(v.mid - gate_ref) / gate_ref <= cfg.book.max_mid_jump_pct]
        if len(inside) < need:
            return OUTLIER
    return UNHEALTHY


class QuietObserver:
    """Observer plugin filling a :class:`QuietTally` (hooks ``paraphina_on_tick`` and
    ``paraphina_on_actions``; results are ignored by the engine)."""

    name = "quiet-observer"
    version = "1"

    def __init__(self) -> None:
        self.tally = QuietTally(fv_reasons={})
        self._gate_ref: float | None = None

    @hookimpl
    def paraphina_on_tick(self, ctx, telemetry) -> None:
        t = self.tally
        t.main_ticks += 1
        core = ctx.state
        if core.kill_switch and not t.kill_tick:
            t.kill_tick = t.main_ticks
        if ctx.risk_regime == "HardLimit":
            t.hardlimit_ticks += 1
        if not ctx.fv_available:
            t.fv_unavailable += 1
            why = fv_unavailable_reason(ctx.venue_inputs, self._gate_ref, ctx.now_ns // 1_000_000, ctx.config)
            t.fv_reasons[why] = t.fv_reasons.get(why, 0) + 1
        if core.fair_value > 0.0:
            self._gate_ref = core.fair_value

    @hookimpl
    def paraphina_on_actions(self, ctx, actions) -> None:
        for a in actions:
            if isinstance(a, PlaceOrder):
                self.tally.places += 1
                if a.purpose == "mm":
                    self.tally.mm_places += 1


def why_quiet(tally: QuietTally, summary: Mapping, cfg: Config) -> str | None:
    """One line saying why no market-making order was placed, or None if one was.

    ``summary`` is :meth:`paraphina.engine.Engine.summary` (kill switch and reason, shield counters)."""
    if tally.mm_places:
        return None
    n = tally.main_ticks
    if n == 0:
        return ("no quotes: the log has no Timer events, so the main loop never ran; add them with "
                f"`{MERGE_HINT}`")
    fv = _fv_clause(tally, cfg)
    if tally.fv_unavailable == n:
        return f"no quotes: {fv}"
    if summary.get("kill_switch"):
        return (f"no quotes: the kill switch latched at main tick {tally.kill_tick or '?'} of {n} "
                f"({summary.get('kill_reason') or 'no reason recorded'})" + (f"; {fv}" if fv else ""))
    if tally.hardlimit_ticks == n:
        return "no quotes: the risk regime was HardLimit on every main tick" + (f"; {fv}" if fv else "")
    shield = summary.get("shield") or {}
    drops = [(rule, shield[rule]) for rule in SHIELD_DROPS if shield.get(rule)]
    if drops:
        return ("no quotes: the shield rejected every intent (" + ", ".join(f"{r}={c}" for r, c in drops) + ")"
                + (f"; {fv}" if fv else ""))
    return (f"no quotes: the policy proposed none on {n} main tick{'s' if n != 1 else ''}" + (f"; {fv}" if fv else ""))


def _fv_clause(tally: QuietTally, cfg: Config) -> str:
    """``fair value unavailable on P % of N main ticks, mostly <reason>`` or '' when always available."""
    if not tally.fv_unavailable:
        return ""
    counts = tally.fv_reasons
    dominant = max(FV_REASONS, key=lambda r: (counts.get(r, 0), -FV_REASONS.index(r)))
    pct = 100.0 * tally.fv_unavailable / tally.main_ticks
    return f"fair value unavailable on {pct:.1f} % of {tally.main_ticks} main ticks, mostly {_reason_text(dominant, cfg)}"


def _reason_text(reason: str, cfg: Config) -> str:
    b = cfg.book
    if reason == NO_BOOK:
        return "because no venue had a two-sided book"
    if reason == STALE:
        return (f"because fewer than book.min_healthy_for_kf={b.min_healthy_for_kf} venues had a book updated "
                f"within book.stale_ms={b.stale_ms} ms")
    if reason == OUTLIER:
        return (f"because fewer than book.min_healthy_for_kf={b.min_healthy_for_kf} fresh venue mids were within "
                f"book.max_mid_jump_pct={b.max_mid_jump_pct:g} of the previous fair value (outlier gate)")
    return (f"because fewer than book.min_healthy_for_kf={b.min_healthy_for_kf} fresh venues were healthy "
            "(toxicity or health status)")
