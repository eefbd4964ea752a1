"""Provenance of research directories: what determined their bytes, and refusing to mix inputs.

A Monte Carlo, a study or a suite directory keeps one JSON record of every input that
determines its bytes (scenario content hash, ticks, policy, profile, resolved config hash,
seeds, evaluator and its arguments, suite files and their hashes, package versions). Running
into a directory that already holds a record is a *resume*: allowed only when the new record is
equal, otherwise a one-line error naming the first difference (exit 2) before anything in the
directory is touched. ``force=True`` starts over: the directory's previous contents are removed
first (only when it carries a record, so an unrelated directory is never wiped).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from paraphina.digest import sha256_file
from paraphina.errors import UserError
from paraphina.research.evidence import canonical_json, write_atomic


class ProvenanceError(UserError):
    """A directory holds other work than the one asked for; the message names the first difference."""


def file_hash(path: str | Path) -> str:
    """``sha256:<hex>`` of a file's bytes (scenarios, suites, knob and budget files)."""
    try:
        return "sha256:" + sha256_file(str(path))
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None


def first_difference(have: Any, want: Any, where: str = "") -> str | None:
    """Dotted path and both values of the first difference between two JSON values (keys in
    sorted order, list items in order), or ``None`` when equal."""
    if isinstance(have, Mapping) and isinstance(want, Mapping):
        for key in sorted(set(have) | set(want)):
            path = f"{where}.{key}" if where else str(key)
            if key not in have:
                return f"{path}: absent in the directory, {_show(want[key])} now"
            if key not in want:
                return f"{path}: {_show(have[key])} in the directory, absent now"
            found = first_difference(have[key], want[key], path)
            if found:
                return found
        return None
    if isinstance(have, list) and isinstance(want, list):
        for i, (a, b) in enumerate(zip(have, want)):
            found = first_difference(a, b, f"{where}[{i}]")
            if found:
                return found
        if len(have) != len(want):
            return f"{where}: {len(have)} items in the directory, {len(want)} now"
        return None
    if have != want or type(have) is not type(want):
        return f"{where or 'record'}: {_show(have)} in the directory, {_show(want)} now"
    return None


def _show(v: Any) -> str:
    text = json.dumps(v, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def normalise(record: Mapping[str, Any]) -> Any:
    """The record as it reads back from its file (tuples become lists, keys strings)."""
    return json.loads(canonical_json(record))


def claim(directory: str | Path, filename: str, record: Mapping[str, Any], *, force: bool = False,
          what: str = "this directory", hint: str = "use another directory, or --force to start over",
          error: type[UserError] = ProvenanceError) -> bool:
    """Check ``directory/filename`` against ``record`` and write it when absent.

    Returns True when the directory already held the same record (a resume). Raises
    ``error`` (:class:`ProvenanceError`) naming the first difference when it differs, without touching
    anything. With ``force`` a directory holding a record is emptied and the record written
    afresh (a directory without one is left as it is: it holds nothing of ours).
    """
    out = Path(directory)
    path = out / filename
    want = normalise(record)
    if path.exists() and force:
        clear(out)
    elif path.exists():
        try:
            have = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise error(f"{path}: not valid JSON; {hint}") from None
        if have == want:
            return True
        raise error(f"{out}: holds {what} with other inputs ({first_difference(have, want)}); {hint}")
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(path, canonical_json(want))
    return False


def clear(directory: Path) -> None:
    """Remove everything inside ``directory`` (the directory itself stays)."""
    for child in sorted(directory.iterdir()):
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
