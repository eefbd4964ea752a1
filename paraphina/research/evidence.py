"""Evidence packs: a hash of every artefact in a directory, checkable later by anyone.

``write_evidence_pack(root)`` writes ``root/evidence_pack/``:

* ``manifest.json``: pack schema, versions (paraphina, python, numpy, pyarrow), config hash, seeds,
  commands, caller extras, and the file list ``[{path, bytes, sha256}]`` sorted by path.
* ``SHA256SUMS``: ``sha256sum`` format (``<64 hex>  <path>``, LF), sorted by path, paths relative
  to ``root``; it lists every file of the manifest *and* ``evidence_pack/manifest.json``, so
  ``cd root && sha256sum -c evidence_pack/SHA256SUMS`` works too.

Which files: every regular file under ``root`` except ``root/evidence_pack/`` itself, names
starting with a dot, and the directories ``__pycache__``, ``.git``, ``.venv``, ``venv``,
``node_modules``. Nested packs (``root/trials/x/evidence_pack/``) are covered like any other file,
so the root pack seals the whole tree. Symbolic links are refused (the pack would not say what
they point at). No timestamps: the same files give the same pack bytes.

``verify_evidence(root, recursive)`` re-hashes and reports; exit codes: 0 ok, 3 mismatch (a
modified, missing or unexpected file, or a pack that disagrees with itself), 2 could not verify
(no pack, unreadable directory).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
from paraphina.digest import sha256_file

PACK_DIR = "evidence_pack"
SUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
PACK_SCHEMA = "paraphina-evidence-v1"
SKIP_DIRS = frozenset({"__pycache__", ".git", ".venv", "venv", "node_modules"})

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_MISMATCH = 3

_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


class EvidenceError(Exception):
    """The pack cannot be written (e.g. a symlink in the tree); one line naming the path."""

    exit_code = 2


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    code: int  # 0 ok, 3 mismatch, 2 error
    packs: tuple[str, ...]  # the roots checked
    problems: tuple[str, ...]  # one line each, naming the file




def canonical_json(obj: Any, indent: int | None = 2) -> str:
    """Sorted keys, no NaN, trailing newline: the one way artefact JSON is written."""
    if indent is None:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return json.dumps(obj, sort_keys=True, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file."""
    from paraphina.outputs import write_file

    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, data)


def versions() -> dict[str, str]:
    """Versions that matter for reproducing numbers; no git, no host name, no clock."""
    import numpy
    import pyarrow

    from paraphina import __version__

    return {"paraphina": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "pyarrow": pyarrow.__version__}


def _walk(root: Path, symlinks: list[str]) -> list[str]:
    """Relative POSIX paths of the files a pack at ``root`` covers, sorted."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        keep = []
        for d in dirnames:
            if d.startswith(".") or d in SKIP_DIRS or (rel_dir == Path(".") and d == PACK_DIR):
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                symlinks.append((rel_dir / d).as_posix())
                continue
            keep.append(d)
        dirnames[:] = sorted(keep)
        for f in filenames:
            if f.startswith("."):
                continue
            full = os.path.join(dirpath, f)
            rel = (rel_dir / f).as_posix()
            if os.path.islink(full):
                symlinks.append(rel)
            elif os.path.isfile(full):
                out.append(rel)
    return sorted(out)


def covered_files(root: str | Path) -> list[str]:
    """Files a pack at ``root`` would cover; raises EvidenceError on a symlink."""
    root = Path(root)
    links: list[str] = []
    files = _walk(root, links)
    if links:
        raise EvidenceError(f"{root / links[0]}: symbolic link inside an evidence tree")
    return files


def write_evidence_pack(root: str | Path, manifest_extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``root/evidence_pack/{manifest.json,SHA256SUMS}``; returns the pack directory.

    ``manifest_extra`` may hold ``config_hash``, ``seeds``, ``commands`` (lifted to the top level
    of the manifest) and anything else JSON-serialisable (kept under ``extra``).
    """
    root = Path(root)
    if not root.is_dir():
        raise EvidenceError(f"{root}: not a directory")
    extra = dict(manifest_extra or {})
    files = covered_files(root)
    entries = []
    for rel in files:
        p = root / rel
        entries.append({"path": rel, "bytes": p.stat().st_size, "sha256": sha256_file(p)})
    manifest = {
        "schema": PACK_SCHEMA,
        "versions": versions(),
        "config_hash": extra.pop("config_hash", None),
        "seeds": extra.pop("seeds", None),
        "commands": extra.pop("commands", None),
        "extra": extra,
        "files": entries,
    }
    pack = root / PACK_DIR
    manifest_text = canonical_json(manifest)
    write_atomic(pack / MANIFEST, manifest_text)
    sums = {e["path"]: e["sha256"] for e in entries}
    sums[f"{PACK_DIR}/{MANIFEST}"] = hashlib.sha256(manifest_text.encode("utf-8")).hexdigest()
    write_atomic(pack / SUMS, "".join(f"{sums[p]}  {p}\n" for p in sorted(sums)))
    return pack


def _verify_one(root: Path) -> tuple[int, list[str]]:
    pack = root / PACK_DIR
    sums_path = pack / SUMS
    if not sums_path.is_file():
        return EXIT_ERROR, [f"{sums_path}: no evidence pack here"]
    try:
        text = sums_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return EXIT_ERROR, [f"{sums_path}: cannot read ({exc})"]
    problems: list[str] = []
    listed: dict[str, str] = {}
    for lineno, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        m = _SUM_LINE.match(line)
        rel = m.group(2).removeprefix("./") if m else ""
        if not m or rel.startswith("/") or ".." in Path(rel).parts or "\\" in rel or "\x00" in rel:
            problems.append(f"{sums_path} line {lineno}: malformed entry")
            continue
        if rel in listed:
            problems.append(f"{sums_path} line {lineno}: duplicate entry for {rel}")
            continue
        listed[rel] = m.group(1).lower()
    manifest_rel = f"{PACK_DIR}/{MANIFEST}"
    if manifest_rel not in listed:
        problems.append(f"{sums_path}: does not list {manifest_rel}")
    for rel in sorted(listed):
        p = root / rel
        if p.is_symlink():
            problems.append(f"symlink: {p}")
        elif not p.exists():
            problems.append(f"missing: {p}")
        elif not p.is_file():
            problems.append(f"not a regular file: {p}")
        elif sha256_file(p) != listed[rel]:
            problems.append(f"modified: {p} (sha256 differs from {sums_path})")
    # The manifest must agree with SHA256SUMS (both describe the same files).
    mpath = pack / MANIFEST
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
            mfiles = {e["path"]: (e["sha256"], e["bytes"]) for e in manifest["files"]}
            if manifest.get("schema") != PACK_SCHEMA:
                problems.append(f"{mpath}: unknown pack schema {manifest.get('schema')!r}")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            problems.append(f"{mpath}: not a valid manifest")
            mfiles = None
        if mfiles is not None:
            for rel in sorted(set(mfiles) ^ (set(listed) - {manifest_rel})):
                problems.append(f"{mpath}: file list disagrees with {SUMS} on {rel}")
            for rel in sorted(set(mfiles) & set(listed)):
                p = root / rel
                if mfiles[rel][0] != listed[rel] or (p.is_file() and p.stat().st_size != mfiles[rel][1]):
                    problems.append(f"{mpath}: entry for {rel} disagrees with {SUMS} or the file")
    links: list[str] = []
    try:
        present = _walk(root, links)
    except OSError as exc:
        return EXIT_ERROR, problems + [f"{root}: cannot list ({exc})"]
    for rel in links:
        problems.append(f"symlink: {root / rel}")
    for rel in present:
        if rel not in listed:
            problems.append(f"unexpected file: {root / rel}")
    for name in sorted(os.listdir(pack)):
        rel = f"{PACK_DIR}/{name}"
        if name not in (SUMS, MANIFEST) and not name.startswith("."):
            problems.append(f"unexpected file: {root / rel}")
    return (EXIT_MISMATCH if problems else EXIT_OK), problems


def find_packs(root: str | Path) -> list[Path]:
    """Every directory under ``root`` (itself included) holding ``evidence_pack/SHA256SUMS``, sorted."""
    root = Path(root)
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS and d != PACK_DIR)
        if (Path(dirpath) / PACK_DIR / SUMS).is_file():
            found.append(Path(dirpath))
    return sorted(found)


def verify_evidence(root: str | Path, recursive: bool = False) -> VerifyReport:
    """Check the pack at ``root`` (or every pack below it). Code 3 if any file mismatches, else 2
    if some pack could not be checked, else 0."""
    root = Path(root)
    if not root.is_dir():
        return VerifyReport(code=EXIT_ERROR, packs=(), problems=(f"{root}: not a directory",))
    roots = find_packs(root) if recursive else [root]
    if not roots:
        return VerifyReport(code=EXIT_ERROR, packs=(), problems=(f"{root}: no evidence pack found below it",))
    codes, problems = [], []
    for r in roots:
        code, probs = _verify_one(r)
        codes.append(code)
        problems.extend(probs)
    code = EXIT_MISMATCH if EXIT_MISMATCH in codes else (EXIT_ERROR if EXIT_ERROR in codes else EXIT_OK)
    return VerifyReport(code=code, packs=tuple(str(r) for r in roots), problems=tuple(problems))
