"""Chunked execution: the same bytes for any job count, chunk size and backend; a pool kept across
Monte Carlos (Phase A) runs each one's own function; the chunk rule."""

from __future__ import annotations

import functools

import pytest

from batch_runs.phase_a.__main__ import main as phase_a_main
from paraphina.research.montecarlo import run_mc
from paraphina.research.toy import toy_run
from paraphina.research.workers import MAX_CHUNK, MCError, WorkerPool, chunk_size, chunks

RUN_FN = functools.partial(toy_run, ticks=60, drift=0.0, vol=1.0, loss_limit=8.0)
FILES = ("mc_runs.jsonl", "mc_summary.json", "mc_config.json")


def outputs(d) -> dict[str, bytes]:
    return {f: (d / f).read_bytes() for f in FILES}


def test_chunk_rule():
    assert chunk_size(1000, 2) == MAX_CHUNK
    assert chunk_size(40, 2) == 5  # about four tasks per worker
    assert chunk_size(3, 8) == 1
    assert chunk_size(40, 2, 7) == 7
    with pytest.raises(MCError, match="chunk-size"):
        chunk_size(40, 2, 0)
    tasks = [(i, 100 + i) for i in range(10)]
    assert [len(c) for c in chunks(tasks, 4)] == [4, 4, 2]
    assert [t for c in chunks(tasks, 4) for t in c] == tasks


@pytest.mark.parametrize("jobs,chunk", [(2, 1), (2, 7), (2, None), (2, 1000)])
def test_jobs_and_chunks_do_not_change_bytes(tmp_path, jobs, chunk):
    run_mc(RUN_FN, 37, 5, output_dir=tmp_path / "one", progress=False)
    run_mc(RUN_FN, 37, 5, jobs=jobs, chunk=chunk, output_dir=tmp_path / "many", progress=False)
    assert outputs(tmp_path / "one") == outputs(tmp_path / "many")


def test_a_kept_pool_runs_each_monte_carlo_with_its_own_function(tmp_path):
    other = functools.partial(toy_run, ticks=60, drift=0.3, vol=2.0, loss_limit=8.0)
    for name, fn in (("a", RUN_FN), ("b", other)):
        run_mc(fn, 20, 3, output_dir=tmp_path / f"fresh-{name}", progress=False)
    with WorkerPool(2) as pool:
        for name, fn in (("a", RUN_FN), ("b", other), ("a2", RUN_FN)):
            run_mc(fn, 20, 3, jobs=2, pool=pool, chunk=3, output_dir=tmp_path / f"kept-{name}", progress=False)
    assert outputs(tmp_path / "fresh-a") == outputs(tmp_path / "kept-a") == outputs(tmp_path / "kept-a2")
    assert outputs(tmp_path / "fresh-b") == outputs(tmp_path / "kept-b")
    assert outputs(tmp_path / "fresh-a")["mc_runs.jsonl"] != outputs(tmp_path / "fresh-b")["mc_runs.jsonl"]


def test_a_failing_run_in_a_chunk_is_named(tmp_path):
    bad = functools.partial(toy_run, ticks=-5)  # toy_run refuses a negative tick count
    with pytest.raises(MCError, match=r"run \d+ \(seed \d+\) failed"):
        run_mc(bad, 6, 1, jobs=2, chunk=2, output_dir=tmp_path / "x", progress=False)


def test_unpicklable_run_function_is_one_line(tmp_path):
    with pytest.raises(MCError, match="cannot go to other processes"):
        run_mc(lambda i, s: {}, 4, 1, jobs=2, output_dir=tmp_path / "x", progress=False)


def test_ray_chunks_byte_identical(tmp_path):
    pytest.importorskip("ray", reason="Ray not installed (optional extra paraphina[ray])")
    run_mc(RUN_FN, 23, 9, output_dir=tmp_path / "local", progress=False)
    run_mc(RUN_FN, 23, 9, jobs=2, backend="ray", chunk=4, output_dir=tmp_path / "ray", progress=False)
    assert outputs(tmp_path / "local") == outputs(tmp_path / "ray")


def test_phase_a_on_one_pool_matches_inline(tmp_path):
    args = ["--seed", "3", "--candidates", "3", "--runs", "24", "--evaluate",
            "paraphina.research.toy:toy_candidate_run", "--no-report"]
    assert phase_a_main(["--study-dir", str(tmp_path / "inline"), *args]) == 0
    assert phase_a_main(["--study-dir", str(tmp_path / "pool"), *args, "--jobs", "2"]) == 0
    trials = sorted(p.relative_to(tmp_path / "inline") for p in (tmp_path / "inline" / "trials").rglob("mc_*"))
    assert len(trials) == 3 * 3
    for rel in trials:
        assert (tmp_path / "inline" / rel).read_bytes() == (tmp_path / "pool" / rel).read_bytes(), rel
