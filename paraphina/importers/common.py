"""What every importer shares: reading capture files, the bad-line policy, the import summary,
instrument defaults, and the driver that writes a log.

Bad input policy (never silent):

* A file that cannot be opened (missing, a directory, ``.gz`` that is not gzip, a zip without
  members) is fatal: :class:`BadInput`, one line, exit 2.
* A malformed line (undecodable JSON, a missing field, a decimal not on the instrument's grid)
  is reported as ``FILE:LINE: reason``. By default it is fatal (exit 2); with ``--skip-bad`` it
  is counted, the first few are listed in the summary, and the import continues.
* Corrupt compressed data mid-file (a truncated gzip from a recorder that crashed) ends that
  file: fatal by default, counted as one bad line with ``--skip-bad``.

Time: every event's ``ts_ns`` is the local receive time of the message it came from. Merge and
replay expect it non-decreasing within one log, so :meth:`ImportContext.stamp` clamps a time
that steps backwards to the previous one and counts it (``ts_clamped`` in the summary).
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import msgspec

from paraphina import events as ev
from paraphina.decimals import DecimalError, Grid, decimals_of, step_for_decimals, to_fraction
from paraphina.errors import UserError

MAX_BAD_EXAMPLES = 10
MAX_SUB_TICK_DIGITS = 12  # mark/index prices: at most 12 decimal digits finer than the tick


class BadInput(UserError):
    """Unusable input: the message names the file (and line) and says what is wrong."""


class BadRecord(Exception):
    """Raised inside an importer for one malformed line; turned into a report by the context."""


@dataclass(frozen=True)
class ImportOptions:
    venue: str | None = None
    instrument: str | None = None
    tick_size: str | None = None
    lot_size: str | None = None
    skip_bad: bool = False
    contract_size_to_base: bool = False
    # Timer grid of the written log (ms of event time; 0: none): see paraphina.importers.timers.
    timer_ms: int = 250


@dataclass
class ImportSummary:
    """Counts of one import; ``lines()`` is what the CLI prints at the end."""

    source: str
    files: list[str] = field(default_factory=list)
    messages: int = 0
    events: Counter = field(default_factory=Counter)
    gaps: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    bad_lines: int = 0
    bad_examples: list[str] = field(default_factory=list)
    checks: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    instrument: ev.Instrument | None = None

    def lines(self) -> list[str]:
        out = [f"source: {self.source} | files: {len(self.files)} | messages: {self.messages}"]
        if self.instrument is not None:
            i = self.instrument
            out.append(f"instrument: {i.venue} {i.symbol} tick {i.tick_size} lot {i.lot_size} ({i.kind})")
        kinds = ", ".join(f"{k}={n}" for k, n in sorted(self.events.items()))
        out.append(f"events: {sum(self.events.values())} ({kinds or 'none'})")
        out.append(f"gaps: {self.gaps}")
        if self.first_ts is not None and self.last_ts is not None:
            span = (self.last_ts - self.first_ts) / 1e9
            out.append(f"time span: {_iso(self.first_ts)} .. {_iso(self.last_ts)} ({span:.3f} s)")
        else:
            out.append("time span: (no events)")
        out.append(f"bad lines: {self.bad_lines}")
        out.extend(f"  {b}" for b in self.bad_examples)
        for k, v in self.checks.items():
            out.append(f"{k}: {v}")
        out.extend(f"note: {n}" for n in self.notes)
        return out


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


class ImportContext:
    """Passed to an importer's ``read``: bad-line policy, summary, time stamping, progress."""

    def __init__(self, source: str, opts: ImportOptions, progress: Callable[[int], None] | None = None) -> None:
        self.opts = opts
        self.summary = ImportSummary(source=source)
        self.progress = progress
        self._last_ts: int | None = None

    def bad(self, where: str, reason: str) -> None:
        """Report a malformed record at ``where`` (``file:line``): raise, or count with --skip-bad."""
        if not self.opts.skip_bad:
            raise BadInput(f"{where}: {reason} (use --skip-bad to count such lines and continue)")
        self.summary.bad_lines += 1
        if len(self.summary.bad_examples) < MAX_BAD_EXAMPLES:
            self.summary.bad_examples.append(f"{where}: {reason}")

    def check(self, name: str, value: object) -> None:
        self.summary.checks[name] = value

    def count(self, name: str, n: int = 1) -> None:
        self.summary.checks[name] = int(self.summary.checks.get(name, 0)) + n

    def note(self, text: str) -> None:
        if text not in self.summary.notes:
            self.summary.notes.append(text)

    def stamp(self, ts_ns: int) -> int:
        """``ts_ns`` made non-decreasing (see module docstring)."""
        last = self._last_ts
        if last is not None and ts_ns < last:
            self.count("ts_clamped")
            return last
        self._last_ts = ts_ns
        return ts_ns

    def record(self, event: ev.Event) -> ev.Event:
        s = self.summary
        s.events[event.__struct_config__.tag] += 1
        if event.KIND == ev.GapDetected.KIND:
            s.gaps += 1
        ts = event.ts_ns
        if s.first_ts is None or ts < s.first_ts:
            s.first_ts = ts
        if s.last_ts is None or ts > s.last_ts:
            s.last_ts = ts
        return event


# --- reading files ------------------------------------------------------------------------


def check_files(paths: Iterable[str]) -> list[str]:
    out = []
    for p in paths:
        if not os.path.exists(p):
            raise BadInput(f"{p}: no such file")
        if os.path.isdir(p):
            raise BadInput(f"{p}: is a directory, not a capture file")
        out.append(str(p))
    if not out:
        raise BadInput("no input files given")
    return out


class _Counting(io.RawIOBase):
    """A raw file wrapper that counts bytes read (progress over compressed input)."""

    def __init__(self, f) -> None:
        self._f = f
        self.pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._f.readinto(b)
        self.pos += n or 0
        return n


def open_text_members(path: str) -> Iterator[tuple[str, object, _Counting]]:
    """``(name, binary stream, counter)`` for the content of ``path``: gzip, zip or plain.

    The format is recognised by its magic bytes; a ``.gz``/``.zip`` name with other content is
    an error rather than a silent plain-text read.
    """
    with open(path, "rb") as raw:
        head = raw.read(4)
    lower = path.lower()
    if head[:2] == b"\x1f\x8b":
        f = open(path, "rb")
        counter = _Counting(f)
        try:
            yield path, gzip.GzipFile(fileobj=io.BufferedReader(counter, 1 << 16), mode="rb"), counter
        finally:
            f.close()
        return
    if head == b"PK\x03\x04":
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise BadInput(f"{path}: not a readable zip file ({exc})") from None
        with zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if not names:
                raise BadInput(f"{path}: zip file has no members")
            for name in names:
                with zf.open(name) as m:
                    counter = _Counting(m)
                    yield f"{path}!{name}", io.BufferedReader(counter, 1 << 16), counter
        return
    if lower.endswith(".gz"):
        raise BadInput(f"{path}: not a gzip file (name ends in .gz, content does not start with the gzip magic)")
    if lower.endswith(".zip"):
        raise BadInput(f"{path}: not a zip file")
    f = open(path, "rb")
    counter = _Counting(f)
    try:
        yield path, io.BufferedReader(counter, 1 << 16), counter
    finally:
        f.close()


def iter_lines(paths: list[str], ctx: ImportContext) -> Iterator[tuple[str, int, bytes]]:
    """``(file, line number from 1, line without newline)`` over every file in order.

    Blank lines are skipped. Progress is reported in bytes of the files as stored.
    """
    done = 0
    for path in paths:
        ctx.summary.files.append(os.path.basename(path))
        size = os.path.getsize(path)
        for name, stream, counter in open_text_members(path):
            lineno = 0
            try:
                for line in stream:
                    lineno += 1
                    if ctx.progress is not None and lineno % 4096 == 0:
                        ctx.progress(done + min(counter.pos, size))
                    line = line.rstrip(b"\r\n")
                    if line.strip():
                        yield name, lineno, line
            except (EOFError, OSError, zlib.error) as exc:
                ctx.bad(f"{name}:{lineno + 1}", f"corrupt or truncated compressed data ({type(exc).__name__}: {exc}); rest of file not read")
        done += size
        if ctx.progress is not None:
            ctx.progress(done)


def split_ts_line(line: bytes) -> tuple[int | None, bytes]:
    """``b"<ts_ns> <json>"`` -> ``(ts_ns, json)``; ``(None, line)`` when there is no prefix."""
    if line[:1].isdigit():
        head, sep, rest = line.partition(b" ")
        if sep and head.isdigit():
            return int(head), rest
    return None, line


_peek_decode = msgspec.json.Decoder().decode


def peek_objects(paths: list[str], source: str, limit: int | None = None) -> Iterator[tuple[int | None, bytes, dict]]:
    """``(receive ts_ns or None, JSON text, object)`` for the lines among the first ``limit``
    (all when None) that are JSON objects: what an importer looks at to learn the market and
    grid before importing. Other lines are passed over here, not lost: the import proper reads
    every line and reports them."""
    ctx = ImportContext(source, ImportOptions(skip_bad=True))
    for n, (_name, _ln, line) in enumerate(iter_lines(paths, ctx)):
        if limit is not None and n >= limit:
            return
        ts, js = split_ts_line(line)
        try:
            obj = _peek_decode(js)
        except msgspec.DecodeError:
            continue
        if isinstance(obj, dict):
            yield ts, js, obj


# --- instruments --------------------------------------------------------------------------


def make_instrument(default: dict, opts: ImportOptions, ctx: ImportContext, samples: tuple[list[str], list[str]] | None = None) -> ev.Instrument:
    """The log's instrument from a per-source default, the user's overrides, or inference.

    ``default`` holds ``venue``, ``symbol``, ``tick_size``, ``lot_size`` (either may be ``None``
    when the source does not know the symbol) and optional other Instrument fields. When a step
    is neither given nor known, it is inferred from ``samples`` (prices, sizes seen in the first
    messages) as the finest decimal present, and a note says so.
    """
    d = dict(default)
    if opts.venue:
        d["venue"] = opts.venue
    for key, given in (("tick_size", opts.tick_size), ("lot_size", opts.lot_size)):
        if given is not None:
            try:
                Grid(given)
            except DecimalError as exc:
                raise BadInput(f"--{key.replace('_', '-')}: {exc}") from None
            d[key] = given
    for key, idx in (("tick_size", 0), ("lot_size", 1)):
        if d.get(key) is None:
            values = samples[idx] if samples else []
            if not values:
                raise BadInput(f"cannot infer {key} for {d.get('symbol')!r}: pass --{key.replace('_', '-')}")
            d[key] = step_for_decimals(max(decimals_of(v) for v in values))
            ctx.note(f"{key} {d[key]} inferred from the finest decimals in the first messages; pass --{key.replace('_', '-')} to set it")
    return ev.Instrument(**d)


@dataclass
class Units:
    """Grids of one instrument, with the bad-decimal error turned into a BadRecord."""

    price: Grid
    size: Grid

    @classmethod
    def of(cls, ins: ev.Instrument) -> "Units":
        return cls(Grid(ins.tick_size), Grid(ins.lot_size))

    def px(self, text: str) -> int:
        try:
            return self.price.units(text)
        except DecimalError as exc:
            raise BadRecord(f"price {exc}") from None
        except TypeError:
            raise BadRecord(f"price is not a string: {text!r}") from None

    def sz(self, text: str) -> int:
        try:
            return self.size.units(text)
        except DecimalError as exc:
            raise BadRecord(f"size {exc}") from None
        except TypeError:
            raise BadRecord(f"size is not a string: {text!r}") from None

    def fine_px(self, *texts: str | None) -> tuple[list[int], int]:
        """Prices venues publish off the order grid (mark, index, oracle), kept exactly.

        Returns each value in units of ``tick / 10**digits`` and ``digits``: the fewest that
        hold all of them (``0`` when every one is on the tick grid). ``None`` gives ``-1``.
        Only book and trade prices must be on the grid (:meth:`px`); these never are rejected
        for being between ticks, only for not being decimals.
        """
        tick = self.price.step_fraction
        ratios = []
        for t in texts:
            if t is None:
                ratios.append(None)
                continue
            try:
                ratios.append(to_fraction(t) / tick)
            except (DecimalError, TypeError):
                raise BadRecord(f"price is not a decimal string: {t!r}") from None
        for digits in range(MAX_SUB_TICK_DIGITS + 1):
            scale = 10**digits
            if all(r is None or (r * scale).denominator == 1 for r in ratios):
                out = [-1 if r is None else int(r * scale) for r in ratios]
                if any(abs(v) >= 2**63 for v in out):
                    break
                return out, digits
        raise BadRecord(f"prices {', '.join(repr(t) for t in texts if t is not None)} are not expressible within "
                        f"{MAX_SUB_TICK_DIGITS} digits below the tick {self.price.step}")

    def levels(self, rows) -> tuple[list[int], list[int]]:
        """``[[px, sz], ...]`` (decimal strings) -> parallel tick and lot lists."""
        try:
            pxs = [self.price.units(r[0]) for r in rows]
            szs = [self.size.units(r[1]) for r in rows]
        except DecimalError as exc:
            raise BadRecord(f"level {exc}") from None
        except (TypeError, IndexError, KeyError, AttributeError):
            raise BadRecord("malformed price level list") from None
        return pxs, szs


# --- the driver ---------------------------------------------------------------------------


def write_log(out: str, instrument: ev.Instrument, events: Iterable[ev.Event], session: dict,
              ctx: ImportContext, *, force: bool = False) -> None:
    """Write ``events`` to ``out`` atomically (a ``.partial-PID`` file renamed at the end)."""
    from paraphina.eventlog import LogWriter
    from paraphina.outputs import replacing

    if os.path.exists(out) and not force:
        raise BadInput(f"{out}: already exists (use --force to replace it)")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with replacing(out) as tmp, LogWriter.create(tmp, [instrument], session) as w:
        append = w.append
        record = ctx.record
        for e in events:
            append(record(e))
