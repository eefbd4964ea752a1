"""Shared fixtures: real data location, small sample logs, running the CLI in-process or as a
separate process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from paraphina import samplegen
from paraphina.eventlog import LogWriter

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """../shared/data/real, or a skip (a failure under PARAPHINA_REQUIRE_REAL_DATA=1)."""
    if not REAL_DATA.is_dir():
        if os.environ.get("PARAPHINA_REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"{REAL_DATA} not found and PARAPHINA_REQUIRE_REAL_DATA=1")
        pytest.skip(f"{REAL_DATA} not found (real recorded data lives in ../shared beside the repo)")
    return REAL_DATA


def write_sample(path: Path, n: int = 6000, venues: int = 3, seed: int = 1, batch_events: int = 1000) -> Path:
    with LogWriter.create(path, samplegen.instruments(venues), {"source": "test"}, batch_events=batch_events) as w:
        for cols in samplegen.generate(n, venues, seed):
            w.append_columns(cols)
    return path


@pytest.fixture
def sample_log(tmp_path) -> Path:
    return write_sample(tmp_path / "sample.arrow")


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``paraphina ARGS`` in a separate process (its own PYTHONHASHSEED if given)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "paraphina", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or ROOT, timeout=300)
