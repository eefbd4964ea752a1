"""Helpers for the RL tests (imported by name; kept out of conftest.py so the module name
``conftest`` stays the top-level one)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RL_MISSING = [m for m in ("onnxruntime", "onnx", "gymnasium") if importlib.util.find_spec(m) is None]
RL_SKIP_REASON = f"RL tests need the rl extra ({', '.join(RL_MISSING)} missing): pip install 'paraphina[rl]'"
needs_rl = pytest.mark.skipif(bool(RL_MISSING), reason=RL_SKIP_REASON)

N_VENUES = 5
SIM_TICKS = 160


def write_model(path, values, n_venues: int = N_VENUES) -> str:
    from paraphina.rl.export import constant_model
    from paraphina.rl.schema import obs_dim

    with open(path, "wb") as f:
        f.write(constant_model(values, obs_dim(n_venues)))
    return str(path)


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``paraphina ARGS`` in a separate process (as tests/conftest.py's run_cli)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "paraphina", *args], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=300)
