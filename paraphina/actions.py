"""Every output of the engine, their canonical bytes, and the stream hash.

An action stream is one canonical JSON object per line: msgspec's encoding of the tagged
Struct, keys in field-declaration order, no whitespace, ``\n`` after each. Orders hold only
integers, strings and booleans (prices in ticks, sizes in lots); the kill report's USD figures
are floats, which msgspec writes in their shortest round-trip form. Either way there is one
encoding only, so equal actions always give equal bytes, and the file stays greppable and diffable. The SHA-256 of those bytes is the
``action_stream_sha256`` that replay prints and golden manifests pin; ``sha256sum`` of an
actions file gives the same value because the file *is* the stream.

Every action records ``seq``: the log sequence number of the event that caused it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

import msgspec

PURPOSES = ("mm", "exit", "hedge")
TIME_IN_FORCE = ("GTC", "IOC")


class _Action(msgspec.Struct, frozen=True, kw_only=True, tag_field="action"):
    seq: int
    venue: int


class PlaceOrder(_Action, tag="place"):
    """A new order. ``price`` in ticks, ``size`` in lots, ``side`` +1 buy / -1 sell."""

    client_order_id: str
    side: int
    price: int
    size: int
    purpose: str = "mm"
    time_in_force: str = "GTC"
    post_only: bool = True
    reduce_only: bool = False


class CancelOrder(_Action, tag="cancel"):
    client_order_id: str


class CancelAll(_Action, tag="cancel_all"):
    """Cancel every open order on ``venue`` (``-1``: on every venue)."""


class KillVenue(msgspec.Struct, frozen=True, kw_only=True):
    """One venue in the kill report: position in lots, liquidation distance in sigmas (None:
    no liquidation constraint), effective status."""

    venue: int
    position: int
    dist_liq: float | None
    status: str


class SetKillSwitch(_Action, tag="kill_switch"):
    """The kill switch latched (``active``) with its reason; nothing new is placed after it.

    The rest is the kill event of spec 4.14: the main tick, the regime, dollar delta, basis and
    daily PnL (USD) that caused it, each venue's state, and the config hash (``config_id``).
    """

    active: bool
    reason: str
    tick: int = 0
    regime: str = ""
    delta_usd: float = 0.0
    basis_usd: float = 0.0
    pnl_usd: float = 0.0
    venues: list[KillVenue] = []
    config_id: str = ""


Action = PlaceOrder | CancelOrder | CancelAll | SetKillSwitch

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Action)


def encode_action(action: Action) -> bytes:
    return _encoder.encode(action) + b"\n"


def encode_actions(actions: Iterable[Action]) -> bytes:
    return b"".join(map(encode_action, actions))


def decode_stream(data: bytes) -> Iterator[Action]:
    """Split an actions file back into actions; raises ``msgspec.DecodeError`` naming the line."""
    for lineno, line in enumerate(data.splitlines(), 1):
        if not line:
            continue
        try:
            yield _decoder.decode(line)
        except msgspec.DecodeError as exc:
            raise msgspec.DecodeError(f"line {lineno}: {exc}") from None


class StreamHasher:
    """Running SHA-256 and count over an action stream, fed tick by tick."""

    __slots__ = ("_h", "count")

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.count = 0

    def add(self, actions: list[Action]) -> bytes:
        data = encode_actions(actions)
        self._h.update(data)
        self.count += len(actions)
        return data

    def hexdigest(self) -> str:
        return self._h.hexdigest()
