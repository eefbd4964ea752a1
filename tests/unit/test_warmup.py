"""The warm-up compiles what the commands need: after it, a fresh process running the
commands compiles nothing (every kernel signature loads from numba's cache)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from paraphina import warmup

COMMANDS_THEN_MISSES = """
import json, sys
from paraphina.cli import main
from paraphina import warmup
scratch = sys.argv[1]
for argv in (["sample", "-o", f"{scratch}/s.arrow", "--events", "2000", "--venues", "2"],
             ["replay", f"{scratch}/s.arrow", "--policy", "heuristic"],
             ["run", "--ticks", "15", "-o", f"{scratch}/run.arrow"]):
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code == 0, (argv, exc.code)
print(json.dumps({"kernels": len(warmup.kernels()), "missed": warmup.cache_misses()}))
"""


def _python(args: list[str], cache: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, check=True)


def test_after_warmup_commands_compile_nothing(tmp_path):
    cache = str(tmp_path / "numba-cache")
    first = _python(["-m", "paraphina.warmup"], cache)
    assert "kernels ready" in first.stdout
    assert os.listdir(cache), "the warm-up wrote no cache files"
    assert " 0 signatures compiled" not in first.stdout, "a fresh cache compiled nothing: is caching off?"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    after = json.loads(_python(["-c", COMMANDS_THEN_MISSES, str(scratch)], cache).stdout.strip().splitlines()[-1])
    assert after["kernels"] > 0
    assert after["missed"] == {}, ("kernels compiled after the warm-up: declare them cache=True and reach "
                                   "them from a paraphina.warmup.WARMUPS function")


def test_registry_runs_in_order():
    names = [what for what, _ in warmup.WARMUPS]
    assert names and len(set(names)) == len(names)
