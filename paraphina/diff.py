"""Comparing two action streams: where they first diverge, why, and how much moved.

The first divergence is the first index where the canonical lines differ. The counts are a
multiset difference per (action kind, venue): how many actions of that kind on that venue
are only in A, and only in B, so a reordering alone shows up as a divergence with zero counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import msgspec

from paraphina.actions import Action, decode_stream, encode_action


@dataclass
class StreamDiff:
    identical: bool
    count_a: int
    count_b: int
    first_index: int | None = None
    first_a: dict | None = None
    first_b: dict | None = None
    cause_seq: int | None = None
    only_in_a: dict[str, int] = field(default_factory=dict)
    only_in_b: dict[str, int] = field(default_factory=dict)
    context_a: list[dict] = field(default_factory=list)
    context_b: list[dict] = field(default_factory=list)
    cause_event: dict | None = None
    events_around: list[dict] = field(default_factory=list)

    def to_json(self) -> bytes:
        return msgspec.json.encode(self.__dict__)


def read_actions(path: str) -> list[Action]:
    with open(path, "rb") as f:
        data = f.read()
    return list(decode_stream(data))


def _key(a: Action) -> str:
    return f"{a.__struct_config__.tag}@venue{a.venue}"


def _as_dict(a: Action | None) -> dict | None:
    return None if a is None else msgspec.to_builtins(a)


def compare(a: list[Action], b: list[Action], context: int = 2) -> StreamDiff:
    la = [encode_action(x) for x in a]
    lb = [encode_action(x) for x in b]
    if la == lb:
        return StreamDiff(identical=True, count_a=len(a), count_b=len(b))
    k = 0
    while k < len(la) and k < len(lb) and la[k] == lb[k]:
        k += 1
    fa = a[k] if k < len(a) else None
    fb = b[k] if k < len(b) else None
    seqs = [x.seq for x in (fa, fb) if x is not None]
    ca = Counter((_key(x), line) for x, line in zip(a, la))
    cb = Counter((_key(x), line) for x, line in zip(b, lb))
    only_a: Counter = Counter()
    only_b: Counter = Counter()
    for (key, _), n in (ca - cb).items():
        only_a[key] += n
    for (key, _), n in (cb - ca).items():
        only_b[key] += n
    lo, hi = max(0, k - context), k + context + 1
    return StreamDiff(
        identical=False, count_a=len(a), count_b=len(b), first_index=k, first_a=_as_dict(fa), first_b=_as_dict(fb),
        cause_seq=min(seqs) if seqs else None,
        only_in_a=dict(sorted(only_a.items())), only_in_b=dict(sorted(only_b.items())),
        context_a=[_as_dict(x) for x in a[lo:hi]], context_b=[_as_dict(x) for x in b[lo:hi]],
    )


def attach_events(d: StreamDiff, log_path: str, around: int = 3) -> None:
    """Fill in the event that caused the first divergence and its neighbours from the log."""
    if d.cause_seq is None:
        return
    from paraphina.eventlog import LogReader

    lo, hi = max(0, d.cause_seq - around), d.cause_seq + around + 1
    for cols in LogReader(log_path).iter_columns():
        first, last = int(cols.seq[0]), int(cols.seq[-1])
        if last < lo:
            continue
        if first >= hi:
            break
        for i in range(max(0, lo - first), min(len(cols), hi - first)):
            row = {"seq": int(cols.seq[i])} | msgspec.to_builtins(cols.event(i))
            d.events_around.append(row)
            if row["seq"] == d.cause_seq:
                d.cause_event = row


def render_text(d: StreamDiff, label_a: str = "A", label_b: str = "B") -> list[str]:
    if d.identical:
        return [f"identical: {d.count_a} actions"]
    lines = [f"different: {label_a} has {d.count_a} actions, {label_b} has {d.count_b}",
             f"first divergence at action #{d.first_index} (caused by event seq {d.cause_seq})",
             f"  {label_a}: {_line(d.first_a)}", f"  {label_b}: {_line(d.first_b)}"]
    if d.cause_event is not None:
        lines.append(f"  cause: {msgspec.json.encode(d.cause_event).decode()}")
    if d.events_around:
        lines.append("  events around it:")
        lines += [f"    {msgspec.json.encode(e).decode()}" for e in d.events_around]
    lines.append(f"  {label_a} around it:")
    lines += [f"    {_line(x)}" for x in d.context_a]
    lines.append(f"  {label_b} around it:")
    lines += [f"    {_line(x)}" for x in d.context_b]
    keys = sorted(set(d.only_in_a) | set(d.only_in_b))
    if keys:
        lines.append(f"differences by kind and venue (only in {label_a} / only in {label_b}):")
        lines += [f"  {k}: {d.only_in_a.get(k, 0)} / {d.only_in_b.get(k, 0)}" for k in keys]
    return lines


def _line(x: dict | None) -> str:
    return "(end of stream)" if x is None else msgspec.json.encode(x).decode()
