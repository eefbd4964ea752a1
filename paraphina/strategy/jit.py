"""The one decorator for compiled strategy code (the "Research-scale speed" issue).

Every kernel of the decision path is a plain function compiled by numba with these options and
no others, so that it gives the same bits as the Python it replaces, on any machine:

* ``cache=True``: compiled once per machine (``make install`` warms every kernel,
  :mod:`paraphina.kernels_warmup`), loaded from ``__pycache__`` afterwards;
* no ``fastmath``, no ``parallel``, no ``error_model`` change: IEEE operations in source order,
  no reassociation, no fused multiply-add, no vector math library;
* ``nogil=True``: a worker thread may fold while another reads.

The kernel *is* the function: Python callers (tests, third-party policies, the thin wrappers
that turn strategy structs into arrays) call the same compiled code, never a Python twin.
"""

from __future__ import annotations

import numba


def kernel(fn):
    """Compile ``fn`` as a decision-path kernel (see the module docstring for the rules)."""
    return numba.njit(cache=True, nogil=True)(fn)
