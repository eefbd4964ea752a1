"""docs/tutorial.md: every ```sh block, in order, as one bash script from a fresh directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

TUTORIAL = ROOT / "docs" / "tutorial.md"


def tutorial_script() -> str:
    blocks = re.findall(r"^```sh\n(.*?)^```", TUTORIAL.read_text(encoding="utf-8"), re.S | re.M)
    assert blocks, "docs/tutorial.md has no ```sh blocks"
    return "set -euo pipefail\n" + "\n".join(blocks)


@pytest.mark.real_data
@pytest.mark.slow
def test_tutorial_runs_in_order_from_a_fresh_directory(real_data_dir, tmp_path):
    assert real_data_dir == ROOT.parent / "shared" / "data" / "real"  # the tutorial's $REPO/../shared
    env = dict(os.environ)
    # `source .venv/bin/activate` puts this interpreter's scripts first; TMPDIR keeps mktemp here.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["REPO"] = str(ROOT)
    env["TMPDIR"] = str(tmp_path)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    r = subprocess.run(["bash", "-c", tutorial_script()], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=1200)
    assert r.returncode == 0, f"stdout:\n{r.stdout[-4000:]}\nstderr:\n{r.stderr[-4000:]}"
    work = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(work) == 1  # the fresh directory the tutorial made
    d = work[0]
    for name in ("market.arrow", "bt_heuristic.report.html", "bt_joiner.report.html", "mc.report.html", "golden.toml"):
        assert (d / name).is_file(), name
    assert "1 of 1 golden entries match" in r.stdout
    assert "different: A has" in r.stdout  # the diff of two policies
    assert "ok: 1 evidence pack verified" in r.stdout
