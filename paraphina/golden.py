"""Golden logs: pinned replays that CI re-checks, so any behaviour change is seen and explained.

A manifest (TOML) lists entries, each a log, a policy and an optional config (a file relative to
the manifest, or a preset name), with the pinned event count and action-stream hash, and the pinned action stream
itself (small: golden logs are small) so a mismatch can show *where* the stream moved, not only
that it did. ``update`` re-pins after an intended change and reports what moved.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass

import msgspec
import tomli_w

from paraphina.commands.common import resolve_config  # reads the config file + env
from paraphina.diff import attach_events, compare, read_actions, render_text
from paraphina.errors import UserError
from paraphina.outputs import write_file
from paraphina.replay import replay_log


class GoldenEntry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    name: str
    log: str
    policy: str
    # The pinned action stream (for showing where a mismatch starts). Empty for logs built from
    # real data: their outputs are not committed, only the hash.
    actions_file: str = ""
    config: str = ""
    profile: str = ""
    events: int = -1
    actions: int = -1
    action_stream_sha256: str = ""
    optional: bool = False          # skipped (not failed) when it cannot be built, unless PARAPHINA_REQUIRE_REAL_DATA=1
    build: str = ""                 # "MANIFEST.toml:NAME": build the log from ../shared when it is missing


class Manifest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    golden: list[GoldenEntry] = []


@dataclass
class Outcome:
    entry: GoldenEntry
    status: str            # "match" | "differ" | "skipped"
    events: int = 0
    actions: int = 0
    sha256: str = ""
    detail: list[str] | None = None


def load_manifest(path: str) -> Manifest:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise UserError(f"{path}: cannot read manifest ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file (expected a TOML manifest)") from None
    try:
        return msgspec.convert(data, Manifest)
    except msgspec.ValidationError as exc:
        raise UserError(f"{path}: {exc}") from None


def save_manifest(path: str, manifest: Manifest) -> None:
    header = "# Golden replays: `paraphina golden check` verifies, `paraphina golden update` re-pins.\n"
    body = tomli_w.dumps(msgspec.to_builtins(manifest))
    write_file(path, header + body)


def _replay(entry: GoldenEntry, base: str, out: str):
    config = entry.config
    if config and os.path.exists(os.path.join(base, config)):
        config = os.path.join(base, config)  # a file beside the manifest; otherwise a preset name
    log = os.path.join(base, entry.log)
    cfg, _ = resolve_config(config or None, entry.profile or None, log=log)
    return replay_log(log, entry.policy, cfg, out=out)


def run_entry(entry: GoldenEntry, base: str, keep_actions: str | None = None) -> Outcome:
    log = os.path.join(base, entry.log)
    if not os.path.exists(log) and entry.build:
        why = _build(entry, base, log)
        if why is not None:
            if entry.optional and os.environ.get("PARAPHINA_REQUIRE_REAL_DATA") != "1":
                return Outcome(entry, "skipped", detail=[f"{entry.log} not built: {why}"])
            raise UserError(f"{log}: golden log could not be built: {why}")
    if not os.path.exists(log):
        raise UserError(f"{log}: golden log missing")
    fd, tmp = tempfile.mkstemp(suffix=".actions")
    os.close(fd)
    try:
        r = _replay(entry, base, tmp)
        pinned = os.path.join(base, entry.actions_file) if entry.actions_file else ""
        ok = r.sha256 == entry.action_stream_sha256 and r.events == entry.events
        detail = None
        if not ok:
            detail = [f"events {entry.events} -> {r.events}, actions {entry.actions} -> {r.actions}",
                      f"sha256 {entry.action_stream_sha256[:16]} -> {r.sha256[:16]}"]
            if pinned and os.path.exists(pinned):
                d = compare(read_actions(pinned), read_actions(tmp))
                if not d.identical:
                    attach_events(d, log)
                detail += render_text(d, "pinned", "now")
        if keep_actions and pinned:
            os.replace(tmp, keep_actions)
        return Outcome(entry, "match" if ok else "differ", r.events, r.actions, r.sha256, detail)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _build(entry: GoldenEntry, base: str, log: str) -> str | None:
    """Build a real-data log from its manifest recipe; returns why it could not, or None."""
    from pathlib import Path

    from paraphina.importers.common import BadInput
    from paraphina.importers.manifest import build

    manifest, _, name = entry.build.partition(":")
    try:
        # force: the intermediate logs of a recipe may exist (an earlier or concurrent build);
        # the final one does not, or there would be nothing to build. Same inputs, same bytes.
        built = build(Path(base) / manifest, None, Path(log).parent, [name] if name else None, force=True,
                      echo=lambda *_: None)
    except BadInput as exc:
        return str(exc)
    if not any(os.path.samefile(p, log) for p in built if os.path.exists(p)):
        return f"{entry.build} does not produce {entry.log}"
    return None


def check(manifest_path: str) -> list[Outcome]:
    m = load_manifest(manifest_path)
    base = os.path.dirname(os.path.abspath(manifest_path))
    return [run_entry(e, base) for e in m.golden]


def update(manifest_path: str) -> list[Outcome]:
    m = load_manifest(manifest_path)
    base = os.path.dirname(os.path.abspath(manifest_path))
    outcomes = []
    for e in m.golden:
        pinned = os.path.join(base, e.actions_file) if e.actions_file else ""
        if pinned:
            os.makedirs(os.path.dirname(pinned), exist_ok=True)
        o = run_entry(e, base, keep_actions=pinned + ".new" if pinned else None)
        if o.status == "skipped":
            outcomes.append(o)
            continue
        if pinned:
            os.chmod(pinned + ".new", 0o644)
            os.replace(pinned + ".new", pinned)
        e.events, e.actions, e.action_stream_sha256 = o.events, o.actions, o.sha256
        outcomes.append(o)
    save_manifest(manifest_path, m)
    return outcomes
