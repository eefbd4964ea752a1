"""Where Monte Carlo runs execute: inline, on a process pool, or on Ray, in chunks of runs.

A task is a chunk of ``(run_index, seed)`` pairs run one after the other by one worker, so what a
task costs beyond its runs (shipping the run function, scheduling, a result message) is paid once
per chunk rather than once per run. The run function travels as pickled bytes with a key; a
worker unpickles it once and keeps it for later chunks (and later calls) with the same key, so a
run function holding a scenario and a config, or caches of its own, is rebuilt once per worker.

A :class:`WorkerPool` outlives one Monte Carlo: Phase A opens one for a whole study, so worker
processes start, import paraphina and load the compiled kernels once, not once per candidate.

Results do not depend on any of this: a run's record is a function of ``(run_index, seed)``
alone, and the driver writes records sorted by run index, so any job count, chunk size and
backend give the same bytes (``tests/research/test_workers.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import pickle
from collections.abc import Callable, Sequence
from typing import Any

from paraphina.errors import UserError

BACKENDS = ("local", "ray")
MAX_CHUNK = 64  # runs per task at most: records reach the file (resume, progress) chunk by chunk
CHUNKS_PER_WORKER = 4  # enough tasks per worker to even out runs of unequal length

Task = tuple[int, int]  # (run_index, seed)
Emit = Callable[[int, int, Any], None]


class MCError(UserError):
    """A Monte Carlo problem reported in one line (bad result from run_fn, a failed run, shard
    mismatch, a backend that cannot start ...)."""


def chunk_size(n_tasks: int, jobs: int, chunk: int | None = None) -> int:
    """Runs per task: ``chunk`` if given, else about :data:`CHUNKS_PER_WORKER` tasks per worker,
    at most :data:`MAX_CHUNK` runs each."""
    if chunk is not None:
        if chunk < 1:
            raise MCError(f"--chunk-size must be >= 1 (got {chunk})")
        return chunk
    return max(1, min(MAX_CHUNK, math.ceil(n_tasks / (jobs * CHUNKS_PER_WORKER))))


def chunks(tasks: Sequence[Task], size: int) -> list[list[Task]]:
    return [list(tasks[i:i + size]) for i in range(0, len(tasks), size)]


def run_chunk(run_fn: Callable[[int, int], Any], tasks: Sequence[Task]) -> list[tuple[int, int, Any]]:
    """Run each task in order; the first failure is one line naming its run index and seed."""
    out = []
    for idx, seed in tasks:
        try:
            out.append((idx, seed, run_fn(idx, seed)))
        except Exception as exc:  # noqa: BLE001 - reported with its run index, in one line
            raise MCError(f"run {idx} (seed {seed}) failed: {type(exc).__name__}: {exc}") from None
    return out


# The run functions this worker process has unpickled, by key (a worker serves one driver).
_RUN_FNS: dict[str, Callable[[int, int], Any]] = {}
_KEEP_RUN_FNS = 8


def run_pickled_chunk(key: str, blob: bytes, tasks: Sequence[Task]) -> list[tuple[int, int, Any]]:
    """The worker side of a task: the run function is unpickled on its first chunk only."""
    fn = _RUN_FNS.get(key)
    if fn is None:
        if len(_RUN_FNS) >= _KEEP_RUN_FNS:
            _RUN_FNS.pop(next(iter(_RUN_FNS)))
        fn = _RUN_FNS[key] = pickle.loads(blob)
    return run_chunk(fn, tasks)


def pickled(run_fn: Callable[[int, int], Any]) -> tuple[str, bytes]:
    try:
        blob = pickle.dumps(run_fn, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - a closure or lambda: say what is needed
        raise MCError(f"the run function cannot go to other processes ({type(exc).__name__}: {exc}); "
                          "use a module-level function or a functools.partial of one") from None
    return hashlib.sha256(blob).hexdigest(), blob


def _import_ray():
    try:
        import ray
    except ImportError:
        raise MCError("the ray backend needs Ray: pip install 'paraphina[ray]'") from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None, jobs: int):
    """Connect to Ray (``address``, e.g. ``auto`` or ``ray://host:10001``) or start a local Ray with
    ``jobs`` CPUs, unless Ray is already initialised; shut down only what was started here."""
    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = jobs
        try:
            ray.init(**kwargs)
        except Exception as exc:  # noqa: BLE001 - connection problems are user-facing
            raise MCError(f"ray.init({address or 'local'}) failed: {type(exc).__name__}: {exc}") from None
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


class WorkerPool:
    """``jobs`` workers of ``backend`` (``local``: inline for one job, else a process pool;
    ``ray``), started on the first :meth:`run` that needs them and kept for any later one until
    :meth:`close`; a context manager."""

    def __init__(self, jobs: int = 1, backend: str = "local", ray_address: str | None = None):
        if jobs < 1:
            raise MCError(f"--jobs must be >= 1 (got {jobs})")
        if backend not in BACKENDS:
            raise MCError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
        self.jobs = jobs
        self.backend = backend
        self.ray_address = ray_address
        self._stack = contextlib.ExitStack()
        self._pool = None  # the process pool, started on first use
        self._ray = None
        self._remote = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._stack.close()

    def run(self, run_fn: Callable[[int, int], Any], tasks: Sequence[Task], emit: Emit,
            chunk: int | None = None) -> None:
        """Run every task; ``emit(run_index, seed, result)`` is called in the driver as each
        chunk completes (chunks finishing together in run-index order)."""
        if not tasks:
            return
        if self.backend == "local" and self.jobs == 1:
            for item in run_chunk(run_fn, tasks):  # one at a time: each record reaches the file at once
                emit(*item)
            return
        parts = chunks(tasks, chunk_size(len(tasks), self.jobs, chunk))
        key, blob = pickled(run_fn)
        if self.backend == "ray":
            self._run_ray(key, blob, parts, emit)
        else:
            self._run_local(key, blob, parts, emit)

    def _run_local(self, key: str, blob: bytes, parts: list[list[Task]], emit: Emit) -> None:
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.jobs)
        first_index = {self._pool.submit(run_pickled_chunk, key, blob, p): p[0][0] for p in parts}
        pending = set(first_index)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=first_index.__getitem__):
                    for item in fut.result():
                        emit(*item)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise

    def _run_ray(self, key: str, blob: bytes, parts: list[list[Task]], emit: Emit) -> None:
        if self._ray is None:  # started on first use, like the process pool
            self._ray = self._stack.enter_context(ray_session(self.ray_address, self.jobs))
            self._remote = self._ray.remote(num_cpus=1)(run_pickled_chunk)
        ray = self._ray
        blob_ref = ray.put(blob)
        first_index = {self._remote.remote(key, blob_ref, p): p[0][0] for p in parts}
        pending = list(first_index)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in sorted(done, key=first_index.__getitem__):
                try:
                    items = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if isinstance(getattr(exc, "cause", None), UserError) else None
                    raise cause or MCError(f"ray task failed: {str(exc).strip().splitlines()[-1]}") from None
                for item in items:
                    emit(*item)
