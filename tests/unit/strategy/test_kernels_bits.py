"""Compiled kernels give the bits Python gives (issue "Research-scale speed", DESIGN.md's
cross-machine rules): the math functions the kernels use, on the ranges the strategy feeds them,
and the rules every kernel is compiled under."""

from __future__ import annotations

import math

import numba
import numpy as np

from paraphina.strategy import jit

_RNG_SEED = 20261123


@numba.njit(cache=True)
def _math_in_kernel(xs: np.ndarray) -> np.ndarray:
    out = np.empty((xs.shape[0], 5))
    for i in range(xs.shape[0]):
        x = xs[i]
        out[i, 0] = math.log(x)
        out[i, 1] = math.exp(math.log(x) * 0.37)
        out[i, 2] = math.log1p(x)
        out[i, 3] = math.sqrt(x)
        out[i, 4] = math.floor(x * 3.3 + 1e-9)
    return out


@numba.njit(cache=True)
def _pow_in_kernel(base: np.ndarray, exp: np.ndarray) -> np.ndarray:
    out = np.empty(base.shape[0])
    for i in range(base.shape[0]):
        out[i] = jit.libm_pow(base[i], exp[i])
    return out


def _values() -> np.ndarray:
    rng = np.random.default_rng(_RNG_SEED)
    # prices (1e-3 .. 1e6), relative spreads, vols and variances (1e-12 .. 1), Kalman gains
    return np.concatenate([np.exp(rng.uniform(-28.0, 14.0, 60_000)), rng.uniform(1e-6, 1e-2, 20_000),
                           rng.uniform(0.5, 2.0, 20_000)])


def test_log_exp_log1p_sqrt_floor_match_python_bit_for_bit():
    xs = _values()
    got = _math_in_kernel(xs)
    want = np.array([(math.log(x), math.exp(math.log(x) * 0.37), math.log1p(x), math.sqrt(x), math.floor(x * 3.3 + 1e-9))
                     for x in xs.tolist()])
    assert got.tobytes() == want.tobytes()


def test_libm_pow_matches_python_power_and_math_pow():
    rng = np.random.default_rng(_RNG_SEED + 1)
    ratios = rng.uniform(1e-6, 1e-2, 200_000)          # (spread/mid) ** 2 in the filter's noise
    assert _pow_in_kernel(ratios, np.full(ratios.shape, 2.0)).tobytes() == np.array([r ** 2 for r in ratios.tolist()]).tobytes()
    dt = rng.integers(1, 600_000, 200_000) / 30_000     # 0.5 ** (dt / half_life) in toxicity decay
    got = _pow_in_kernel(np.full(dt.shape, 0.5), dt)
    assert got.tobytes() == np.array([math.pow(0.5, x) for x in dt.tolist()]).tobytes()


def test_every_kernel_is_cached_and_never_fast_math():
    from paraphina.strategy import model  # noqa: F401 - imports every strategy module, so every kernel

    assert len(jit.KERNELS) > 20
    for k in jit.KERNELS:
        opts = k.targetoptions
        assert not opts.get("fastmath"), k.py_func.__qualname__
        assert not opts.get("parallel"), k.py_func.__qualname__
        assert opts.get("error_model", "python") == "python", k.py_func.__qualname__
        assert type(k._cache).__name__ == "FunctionCache", k.py_func.__qualname__


def test_warm_up_reaches_every_kernel():
    from paraphina.kernels_warmup import warm

    warm()   # raises naming any kernel it did not call
    assert all(k.signatures for k in jit.KERNELS)
