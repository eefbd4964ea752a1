"""Where commands write: inputs are never outputs, nothing is replaced without ``--force``, and
every file is written beside its destination and renamed into place when complete.

One rule for every command (docs/cli.md, "Outputs"):

* :func:`check_output` refuses, before any work, an output that resolves to one of the
  command's inputs, a directory where a file goes (or the reverse), a missing parent directory,
  and an existing output without ``--force``; each is one line naming the flag (exit 2).
* :func:`replacing` gives the path to write to: ``OUT.partial-PID`` in OUT's own directory,
  renamed over OUT when the write completes. A kill at any moment leaves the previous OUT intact
  (what a killed writer had written stays in the ``.partial-PID`` file); a failed write removes
  its partial file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from paraphina.errors import UserError

PARTIAL = ".partial-"


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file (same resolved path, or the same inode:
    symlinks and hard links included)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | os.PathLike, *, flag: str = "--out", inputs: Iterable[str | os.PathLike | None] = (),
                 force: bool = False, directory: bool = False) -> str:
    """Refuse ``path`` as an output of a command reading ``inputs``; returns it as a string.

    ``directory``: the output is a directory that the command fills (``--force`` is then the
    command's own business: resuming or replacing what is inside); otherwise a file.
    """
    path = str(path)
    if not path.strip():
        raise UserError(f"{flag}: empty path")
    for inp in inputs:
        if inp is not None and same_file(path, inp):
            raise UserError(f"{flag} {path}: is also an input of this command ({inp}); write somewhere else")
    parent = os.path.dirname(os.path.abspath(path))
    if directory:
        if os.path.exists(path) and not os.path.isdir(path):
            raise UserError(f"{flag} {path}: not a directory")
        return path
    if os.path.isdir(path):
        raise UserError(f"{flag} {path}: is a directory (give a file name)")
    if not os.path.isdir(parent):
        what = "is not a directory" if os.path.exists(parent) else "does not exist"
        raise UserError(f"{flag} {path}: directory {parent} {what}")
    if not os.access(parent, os.W_OK):
        raise UserError(f"{flag} {path}: directory {parent} is not writable")
    if os.path.lexists(path) and not force:
        raise UserError(f"{flag} {path}: already exists (add --force to replace it)")
    return path


def check_input(path: str | os.PathLike, *, what: str = "", directory: bool = False) -> str:
    """A file (or directory) the command reads: it exists, is of the right sort and is readable."""
    path = str(path)
    label = f"{what} {path}" if what else path
    if not os.path.exists(path):
        raise UserError(f"{label}: no such {'directory' if directory else 'file'}")
    if directory and not os.path.isdir(path):
        raise UserError(f"{label}: not a directory")
    if not directory and os.path.isdir(path):
        raise UserError(f"{label}: is a directory (expected a file)")
    if not os.access(path, os.R_OK):
        raise UserError(f"{label}: not readable (permission denied)")
    return path


def partial_path(path: str | os.PathLike) -> str:
    """Where a write of ``path`` goes until it is complete (same directory, so the rename is atomic)."""
    return f"{path}{PARTIAL}{os.getpid()}"


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block completes.

    An exception removes the partial file (a failed write leaves nothing but the old file); an
    interrupt (Ctrl-C) keeps it, since it holds what the interrupted writer had finished."""
    path = str(path)
    tmp = partial_path(path)
    if os.path.lexists(tmp):
        os.unlink(tmp)  # left by an earlier process with the same id
    try:
        yield tmp
    except Exception:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    os.replace(tmp, path)


def write_file(path: str | os.PathLike, data: str | bytes) -> None:
    """Write a whole file through :func:`replacing`."""
    with replacing(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


def open_replacing(path: str | os.PathLike | None):
    """A binary file object for a streamed output, or None for no path: closes into place with
    :meth:`ReplacingFile.commit`, or is removed by :meth:`ReplacingFile.discard`."""
    return None if path is None else ReplacingFile(str(path))


class ReplacingFile:
    """A streamed output written to ``PATH.partial-PID`` and renamed over ``PATH`` by
    :meth:`commit` (for writers that cannot be one ``with`` block)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tmp = partial_path(path)
        if os.path.lexists(self.tmp):
            os.unlink(self.tmp)
        self._f = open(self.tmp, "wb")

    def write(self, data: bytes) -> int:
        return self._f.write(data)

    def flush(self) -> None:
        self._f.flush()

    def commit(self) -> None:
        if not self._f.closed:
            self._f.close()
            os.replace(self.tmp, self.path)

    close = commit  # a file-like whose close means "complete"

    def discard(self) -> None:
        if not self._f.closed:
            self._f.close()
            if os.path.lexists(self.tmp):
                os.unlink(self.tmp)

    @property
    def closed(self) -> bool:
        return self._f.closed


def sidecars(path: str | os.PathLike, suffixes: Iterable[str]) -> list[str]:
    """The files a command writes beside ``path`` (``SESSION.arrow.actions`` ...)."""
    return [f"{path}{s}" for s in suffixes]


__all__ = ["check_input", "check_output", "open_replacing", "partial_path", "replacing", "same_file", "sidecars",
           "write_file", "ReplacingFile"]
