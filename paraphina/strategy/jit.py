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

import ctypes

import numba
from numba import types


# Every kernel made by :func:`kernel`, in definition order (the warm-up checks it reached them all).
KERNELS: list = []


def kernel(fn):
    """Compile ``fn`` as a decision-path kernel (see the module docstring for the rules)."""
    compiled = numba.njit(cache=True, nogil=True)(fn)
    KERNELS.append(compiled)
    return compiled


# Powers go through the C library's pow, the function CPython's ``**`` and ``math.pow`` call:
# numba compiles ``x ** 2`` as ``x * x`` and its ``math.pow`` differs from glibc's in the last bit
# on about 1 value in 1,000 (tests/unit/strategy/test_kernels_bits.py). ``powf64`` is glibc's
# public alias of ``pow``; under that name LLVM does not rewrite the call (``pow(x, 2.0)`` to
# ``x * x``). A C library without the alias gets ``pow`` itself.
def _pow_symbol() -> str:
    try:
        ctypes.CDLL(None).powf64  # noqa: B018 - the lookup is the test
    except (AttributeError, OSError):
        return "pow"
    return "powf64"


libm_pow = types.ExternalFunction(_pow_symbol(), types.float64(types.float64, types.float64))
