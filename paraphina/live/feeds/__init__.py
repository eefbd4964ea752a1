"""Live feeds, one per venue: ``VENUE:SYMBOL`` specs, instruments and endpoints.

Venues: ``binance-usdm``, ``binance-coinm``, ``binance-spot`` (:mod:`.binance`), ``hyperliquid``
(:mod:`.hyperliquid`), ``bybit`` (:mod:`.bybit`). Instruments (tick and lot) are the importers'
defaults for the symbol; a symbol without defaults is an error naming the known ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from paraphina import events as ev
from paraphina.errors import UserError
from paraphina.live.feeds import binance, bybit, hyperliquid
from paraphina.live.feeds.base import Feed, FeedSettings, FeedStats, Sink

VENUES = ("binance-usdm", "binance-coinm", "binance-spot", "hyperliquid", "bybit")


@dataclass(frozen=True)
class VenueSpec:
    venue: str
    symbol: str

    def __str__(self) -> str:
        return f"{self.venue}:{self.symbol}"


def parse_venue(text: str) -> VenueSpec:
    venue, sep, symbol = text.partition(":")
    if not sep or not symbol:
        raise UserError(f"--venue {text!r}: expected VENUE:SYMBOL, e.g. binance-usdm:BTCUSDT")
    if venue not in VENUES:
        raise UserError(f"--venue {text!r}: unknown venue {venue!r} (known: {', '.join(VENUES)})")
    return VenueSpec(venue, symbol)


def _module(venue: str):
    return binance if venue.startswith("binance-") else hyperliquid if venue == "hyperliquid" else bybit


KINDS = {"binance-usdm": "perp", "binance-coinm": "inverse-perp", "binance-spot": "spot", "hyperliquid": "perp",
         "bybit": "perp"}


def instrument_for(spec: VenueSpec, tick_size: str | None = None, lot_size: str | None = None) -> ev.Instrument:
    """The instrument of a feed: the importer's defaults for the symbol, with ``--tick-size`` /
    ``--lot-size`` overriding them (any symbol, as ``paraphina import`` takes them)."""
    from paraphina.decimals import DecimalError, Grid

    for opt, value in (("--tick-size", tick_size), ("--lot-size", lot_size)):
        if value is not None:
            try:
                Grid(value)
            except DecimalError as exc:
                raise UserError(f"{opt} {value!r} for {spec}: {exc}") from None
    ins = _module(spec.venue).instrument(spec.venue, spec.symbol)
    if ins is None:
        if tick_size is None or lot_size is None:
            known = _known_symbols(spec.venue)
            raise UserError(f"--venue {spec}: no tick/lot defaults for {spec.symbol!r} on {spec.venue} (known: "
                            f"{', '.join(known)}); pass --tick-size and --lot-size")
        return ev.Instrument(venue=spec.venue, symbol=spec.symbol, tick_size=tick_size, lot_size=lot_size,
                             kind=KINDS[spec.venue])
    changes = {k: v for k, v in (("tick_size", tick_size), ("lot_size", lot_size)) if v is not None}
    return msgspec.structs.replace(ins, **changes) if changes else ins


def _known_symbols(venue: str) -> list[str]:
    if venue.startswith("binance-"):
        market = binance.MARKETS[venue][0]
        return sorted(s for m, s in binance.imp.DEFAULTS if m == market)
    return sorted(_module(venue).imp.DEFAULTS)


def default_endpoint(venue: str) -> str:
    if venue.startswith("binance-"):
        return binance.MARKETS[venue][1]
    return _module(venue).DEFAULT_URL


def parse_endpoints(items: list[str]) -> dict[str, str]:
    """``VENUE=URL`` options -> dict (``binance-usdm-rest=URL`` for Binance's REST base)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, url = item.partition("=")
        known = set(VENUES) | {f"{v}-rest" for v in VENUES if v.startswith("binance-")}
        if not sep or not url:
            raise UserError(f"--endpoint {item!r}: expected VENUE=URL")
        if key not in known:
            raise UserError(f"--endpoint {item!r}: unknown venue {key!r} (known: {', '.join(sorted(known))})")
        if not url.startswith(("ws://", "wss://", "http://", "https://")):
            raise UserError(f"--endpoint {item!r}: URL must start with ws://, wss://, http:// or https://")
        out[key] = url
    return out


def make_feed(index: int, spec: VenueSpec, instrument: ev.Instrument, endpoints: dict[str, str], **kw) -> Feed:
    url = endpoints.get(spec.venue, default_endpoint(spec.venue))
    if spec.venue.startswith("binance-"):
        if f"{spec.venue}-rest" in endpoints:
            rest = endpoints[f"{spec.venue}-rest"]
        elif spec.venue in endpoints:
            rest = binance.rest_base_for(url)
        else:
            rest = binance.MARKETS[spec.venue][2]
        return binance.BinanceFeed(index, instrument, url, rest_url=rest, **kw)
    if spec.venue == "hyperliquid":
        return hyperliquid.HyperliquidFeed(index, instrument, url, **kw)
    return bybit.BybitFeed(index, instrument, url, **kw)


__all__ = ["Feed", "FeedSettings", "FeedStats", "Sink", "VENUES", "VenueSpec", "instrument_for", "make_feed",
           "parse_endpoints", "parse_venue", "default_endpoint"]
