"""Per-pool work across worker processes: :func:`map_pools`, :func:`fit_pools`; other callers map
independent tasks of several seconds each the same way (the sizing record's scoring, one task per
origin and pool; the price of safety's LPs, one per bound, with ``n_workers(n, min_tasks=2)``).

Forecasting an estate is linear in pools, and per pool most of the time is the model-choice
backtest (every candidate fitted at every origin) and the winner's fit on the whole history. Those
steps read only their own pool's series, so they run in a process pool when there are enough pools
to pay for starting the workers (:data:`MIN_POOLS`), one task per pool, results in pool order.

**Same results.** A pool's backtest, fit and noise-scale calibration depend only on its series and
the candidate list (the calibration's draws are seeded by backtest origin; the scenario
simulation, which draws from the run's seeded generator, stays in the parent), so the forecast is
identical whatever the number of workers; the tests check it bit for bit.

Workers: ``PLANNER_WORKERS`` (``1`` turns this off), else the CPUs this process may use. Each
worker runs its numerical libraries single-threaded (``OMP/OPENBLAS/MKL_NUM_THREADS=1``) so that
workers × threads does not exceed the cores. Workers are spawned (a fresh interpreter: safe with
the threads duckdb and BLAS may hold in the parent, and their CPU time is counted in the parent's
``RUSAGE_CHILDREN``). A spawned worker takes 1.5–3 s to import the libraries, and one run maps
several times (the forecast, each sizing origin's forecast, the sizing record, the price of
safety), so the workers are kept for the process's life and reused by every map that needs no
more workers than they are (:func:`_executor`); a pool a crashed worker broke is replaced on the
next map.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
#: fewer pools than this run in the calling process (starting workers costs ~1-3 s)
MIN_POOLS = 4
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def n_workers(n_tasks: int, *, min_tasks: int = MIN_POOLS) -> int:
    """Worker processes for ``n_tasks`` tasks: 1 (serial) below ``min_tasks`` (default
    :data:`MIN_POOLS`; tasks of several seconds each, such as LP solves, pay for workers sooner),
    and 1 inside a worker process (a price-of-safety LP solved in a worker does not start
    workers of its own: that would be workers² processes on the same cores)."""
    if multiprocessing.parent_process() is not None:
        return 1  # already a worker: its maps run serially (no workers of workers)
    env = os.environ.get("PLANNER_WORKERS", "").strip()
    if env:
        try:
            cap = max(1, int(env))
        except ValueError:
            cap = 1
    else:
        try:
            cap = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cap = os.cpu_count() or 1
    if n_tasks < min_tasks or cap <= 1:
        return 1
    return min(cap, n_tasks)


#: the process's worker pool and its size, kept between maps (module docstring)
_POOL: list[tuple[int, ProcessPoolExecutor]] = []


def _executor(k: int) -> ProcessPoolExecutor:
    """A kept pool of at least ``k`` spawned workers (a smaller pool is shut down first)."""
    if _POOL and _POOL[0][0] >= k:
        return _POOL[0][1]
    shutdown_workers()
    pool = ProcessPoolExecutor(max_workers=k, mp_context=multiprocessing.get_context("spawn"))
    _POOL.append((k, pool))
    return pool


def shutdown_workers() -> None:
    """Stop the kept workers (at exit, or to free their memory)."""
    while _POOL:
        _POOL.pop()[1].shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_workers)


def map_pools(
    fn: Callable[..., T],
    tasks: Sequence[tuple[Any, ...]],
    *,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[T]:
    """``[fn(*task) for task in tasks]``, in worker processes when worth it; results in order.

    ``fn`` must be a module-level function (it is pickled by name). ``workers`` overrides
    :func:`n_workers`.
    """
    k = n_workers(len(tasks)) if workers is None else max(1, min(workers, len(tasks)))
    if k <= 1:
        out_serial = []
        for i, t in enumerate(tasks):
            if progress:
                progress(f"fitting pool {i + 1}/{len(tasks)}")
            out_serial.append(fn(*t))
        return out_serial
    if progress:
        progress(f"fitting {len(tasks)} pools in {k} worker processes")
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    os.environ.update({v: "1" for v in _THREAD_VARS})  # inherited by the spawned workers
    try:
        pool = _executor(k)
        futures = [pool.submit(fn, *t) for t in tasks]
        out = []
        try:
            for i, f in enumerate(futures):
                out.append(f.result())
                if progress:
                    progress(f"fitted pool {i + 1}/{len(tasks)}")
        except BrokenProcessPool:
            shutdown_workers()  # a worker died: the next map starts a fresh pool
            raise
        except BaseException:
            for f in futures:  # a task failed: the rest of this map is not wanted
                f.cancel()
            raise
        return out
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def fit_pools(
    fit_pool: Callable[..., T],
    y_fit: np.ndarray,
    y_actual: np.ndarray,
    missing: np.ndarray,
    models: Sequence[str],
    *,
    n_origins: int,
    step_h: int,
    progress: Callable[[str], None] | None = None,
) -> list[T]:
    """``fit_pool(y_fit, y_actual, missing, models, n_origins, step_h)`` for every column of the
    ``(hours, pools)`` arrays, in parallel if worth it (``fit_pool`` is module-level, pickled by
    name: :func:`forecasting.forecast.fit_pool`, passed in so this module imports no model code)."""
    tasks = [
        (
            y_fit[:, j].copy(),
            y_actual[:, j].copy(),
            missing[:, j].copy(),
            tuple(models),
            n_origins,
            step_h,
        )
        for j in range(y_fit.shape[1])
    ]
    return map_pools(fit_pool, tasks, progress=progress)
