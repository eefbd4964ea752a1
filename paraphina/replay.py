"""Replaying a log: the streaming driver around the pure engine (I/O lives here, not in it).

Memory stays flat: the reader yields one record batch at a time, the engine folds it, the
actions are encoded, hashed and written before the next batch is read.

Checkpoints: ``checkpoint_at=N`` writes the engine state once exactly ``N`` events (seq
``0..N-1``) are applied; ``resume`` loads such a state and replays from seq ``N``. The actions of
the first run followed by those of the resumed run are byte-identical to a full replay.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import msgspec

from paraphina.actions import Action, StreamHasher
from paraphina.columns import EventColumns
from paraphina.config import Config, adapt_to_instruments, config_hash
from paraphina.engine import Engine
from paraphina.errors import UserError
from paraphina.eventlog import LogError, LogReader
from paraphina.outputs import open_replacing, write_file
from paraphina.policies import load_policy
from paraphina.state import CHECKPOINT_FORMAT, LogPosition, dump_state, load_state


@dataclass
class ReplayResult:
    log: str
    policy: str
    plugins: dict[str, str]
    config_hash: str
    events: int
    actions: int
    sha256: str
    summary: dict
    warnings: list[str] = field(default_factory=list)
    first_seq: int = 0
    gap_reports: list = field(default_factory=list)
    policy_counters: dict = field(default_factory=dict)   # a learned policy's fallbacks by cause


def load_checkpoint(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise UserError(f"{path}: cannot read checkpoint ({exc.strerror})") from None


def iter_from(reader: LogReader, first_seq: int) -> Iterator[EventColumns]:
    """Batches of the log starting at ``first_seq`` (earlier events are skipped)."""
    for cols in reader.iter_columns():
        last = int(cols.seq[-1])
        if last < first_seq:
            continue
        start = first_seq - int(cols.seq[0])
        yield cols.slice(start, len(cols)) if start > 0 else cols


def replay_log(log_path: str, policy: str | object, config: Config, *, out: str | None = None,
               checkpoint_at: int | None = None, checkpoint_path: str | None = None,
               resume: str | None = None, observers=(), progress: Callable[[int], None] | None = None,  # called with bytes read so far
               sink: Callable[[list[Action]], None] | None = None) -> ReplayResult:
    reader = LogReader(log_path)
    instruments = reader.info.instruments
    if not instruments:
        raise UserError(f"{log_path}: the log declares no instruments")
    host = load_policy(policy, observers)
    chash = config_hash(adapt_to_instruments(config, instruments))  # the config the engine runs with
    state = None
    first_seq = 0
    bound: LogPosition | None = None
    if resume:
        try:
            state, cp = load_state(load_checkpoint(resume))
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, ValueError) as exc:
            raise UserError(f"{resume}: not a paraphina checkpoint ({exc})") from None
        if cp.format < CHECKPOINT_FORMAT:
            raise UserError(f"{resume}: a format-{cp.format} checkpoint (not bound to its log); make it again with --checkpoint-at")
        if state.books.n_venues != len(instruments):
            raise UserError(f"{resume}: checkpoint holds {state.books.n_venues} venues, {log_path} has "
                            f"{len(instruments)}: it was made from another log")
        if cp.log_id != reader.info.log_id:
            raise UserError(f"{resume}: checkpoint was made on another log (log id {cp.log_id[:16]}, {log_path} is {reader.info.log_id[:16]})")
        if cp.config_hash != chash:
            raise UserError(f"{resume}: checkpoint was made with config {cp.config_hash[:16]}, not {chash[:16]}")
        if cp.policy != host.name:
            raise UserError(f"{resume}: checkpoint was made with policy {cp.policy!r}, not {host.name!r}")
        if cp.plugins != host.plugins():
            raise UserError(f"{resume}: checkpoint was made with plugins {_versions(cp.plugins)}, not {_versions(host.plugins())}")
        first_seq = state.core.next_seq
        bound = LogPosition(cp.log_id, cp.log_prefix_end, cp.log_prefix_hash)
    engine = Engine(config, instruments, host, state=state)
    hasher = StreamHasher()
    out_f = open_replacing(out)
    result_warnings: list[str] = []

    def checkpoint(batch_end: int) -> None:
        position = LogPosition(reader.info.log_id, batch_end, reader.chain_after[batch_end])
        _write_checkpoint(engine, chash, host, position, checkpoint_path or f"{log_path}.ckpt-{checkpoint_at}")

    try:
        for cols in iter_from(reader, first_seq):
            if bound is not None:
                _check_bound(reader, bound, resume)
                bound = None
            # Bound to the batch holding the last applied event (the first batch for N=0).
            if checkpoint_at is not None and int(cols.seq[0]) <= checkpoint_at <= int(cols.seq[-1]) + 1 \
                    and (checkpoint_at > int(cols.seq[0]) or checkpoint_at == 0):
                cut = checkpoint_at - int(cols.seq[0])
                head, tail = cols.slice(0, cut), cols.slice(cut, len(cols))
                _emit(engine.apply_columns(head), hasher, out_f, sink)
                checkpoint(int(cols.seq[-1]) + 1)
                checkpoint_at = None
                cols = tail
            if len(cols):
                _emit(engine.apply_columns(cols), hasher, out_f, sink)
            if progress:
                progress(reader.info.end_offset)
        if bound is not None:   # nothing left to replay after the checkpoint
            _check_bound(reader, bound, resume)
        if checkpoint_at == 0 and reader.info.events == 0:   # an empty log
            checkpoint(0)
            checkpoint_at = None
    except msgspec.DecodeError as exc:
        if out_f:
            out_f.discard()
        raise LogError(f"{log_path}: {exc}") from None
    except Exception:
        if out_f:
            out_f.discard()
        raise
    if out_f:
        out_f.commit()
    if checkpoint_at is not None:
        raise UserError(f"--checkpoint-at {checkpoint_at}: the log has only {engine.state.core.next_seq} events")
    if reader.info.damage is not None:
        result_warnings.append(f"warning: {reader.info.damage}; replayed the intact prefix ({reader.info.events} events)")
    return ReplayResult(
        log=log_path, policy=host.name, plugins=host.plugins(), config_hash=chash,
        events=engine.state.core.next_seq - first_seq, actions=hasher.count, sha256=hasher.hexdigest(),
        summary=engine.summary(), warnings=result_warnings, first_seq=first_seq,
        gap_reports=list(engine.state.core.gap_reports),
        policy_counters=dict(sorted(getattr(host.policy, "counters", {}).items())),
    )


def _emit(actions: list[Action], hasher: StreamHasher, out_f, sink) -> None:
    if not actions:
        return
    data = hasher.add(actions)
    if out_f is not None:
        out_f.write(data)
    if sink is not None:
        sink(actions)


def _write_checkpoint(engine: Engine, chash: str, host, position: LogPosition, path: str) -> None:
    write_file(path, dump_state(engine.state, chash, host.name, plugins=host.plugins(), position=position))


def _check_bound(reader: LogReader, bound: LogPosition, resume: str) -> None:
    """The log's bytes up to the checkpoint's batch are those the checkpoint was taken on."""
    got = reader.chain_after.get(bound.prefix_end)
    if got is None:
        raise UserError(f"{resume}: checkpoint was made on a log with a batch ending at seq {bound.prefix_end}; "
                        f"{reader.path} is framed differently or shorter")
    if got != bound.prefix_hash:
        raise UserError(f"{resume}: checkpoint was made on another log (its events up to seq {bound.prefix_end} differ)")


def _versions(plugins: dict[str, str]) -> str:
    return ", ".join(f"{k}=={v}" for k, v in sorted(plugins.items())) or "none"


def signed(x: float) -> str:
    """Two decimals with an explicit ``+`` when >= 0 (the research stdout contract)."""
    x = 0.0 if abs(x) < 0.005 else x
    return f"+{x:.2f}" if x >= 0 else f"{x:.2f}"


def summary_lines(r: ReplayResult) -> list[str]:
    s = r.summary
    return [
        "=== Replay Summary ===",
        f"events: {r.events}",
        f"actions: {r.actions}",
        f"action_stream_sha256: {r.sha256}",
        f"Daily PnL (realised / unrealised / total): {signed(s['realised'])} / {signed(s['unrealised'])} / {signed(s['total'])}",
        f"Kill switch: {'true' if s['kill_switch'] else 'false'}",
        f"Risk regime: {s['risk_regime']}",
    ]


def progress_reporter(log_path: str, enabled: bool = True):
    """Progress over the log's bytes (paraphina.progress): a bar on a terminal; off a terminal,
    lines on stderr once the replay runs longer than the progress interval (a long replay).

    Returns ``(update(bytes_read_so_far), close)``.
    """
    from paraphina.progress import position_reporter

    size = os.path.getsize(log_path) if os.path.exists(log_path) else 0
    return position_reporter("replay", size, enabled=enabled)
