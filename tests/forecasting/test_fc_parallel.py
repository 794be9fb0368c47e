"""Per-pool fitting in worker processes gives the serial forecast bit for bit."""

from __future__ import annotations

import os
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pandas as pd
import pytest

from forecasting import forecast
from forecasting.parallel import MIN_POOLS, _executor, map_pools, n_workers, shutdown_workers
from forecasting.pools import PooledUsage
from forecasting.scenarios import Pool


def pooled(n_pools: int, hours: int = 6 * 168, seed: int = 3) -> PooledUsage:
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    pools = tuple(Pool(gpu_type=g) for g in ("H100", "A100-80GB", "L4", "A10G", "L40S")[:n_pools])
    cols = {
        p.name: np.maximum(
            20 * (j + 1) * (1 + 0.2 * np.sin(2 * np.pi * t / 24)) + rng.normal(0, 3, hours), 0
        )
        for j, p in enumerate(pools)
    }
    idx = pd.date_range("2025-01-01", periods=hours, freq="h", tz="UTC")
    demand = pd.DataFrame(cols, index=idx)
    false = pd.DataFrame(False, index=idx, columns=demand.columns)
    return PooledUsage(demand_gpus=demand, pools=pools, outage_mask=false, gap_mask=false.copy())


def _square(x: int, y: int) -> int:
    if x < 0:
        raise ValueError(f"negative: {x}")
    return x * x + y


def test_workers_give_the_serial_forecast_bit_for_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    p = pooled(MIN_POOLS)
    kw = dict(horizon_hours=168, n_scenarios=20, seed=11, models=["snaive168", "ets", "combo"])
    monkeypatch.setenv("PLANNER_WORKERS", "1")
    serial = forecast(p, **kw)  # type: ignore[arg-type]
    monkeypatch.setenv("PLANNER_WORKERS", "2")
    said: list[str] = []
    parallel = forecast(p, progress=said.append, **kw)  # type: ignore[arg-type]
    assert any("in 2 worker processes" in m for m in said)
    np.testing.assert_array_equal(serial.scenarios.demand_gpus, parallel.scenarios.demand_gpus)
    pd.testing.assert_frame_equal(serial.metrics, parallel.metrics)
    for pool in serial.backtests:
        pd.testing.assert_frame_equal(serial.backtests[pool], parallel.backtests[pool])


def test_map_pools_keeps_order_and_raises_a_workers_error() -> None:
    tasks = [(i, 1) for i in range(6)]
    assert map_pools(_square, tasks, workers=2) == [i * i + 1 for i in range(6)]
    assert map_pools(_square, tasks, workers=1) == [i * i + 1 for i in range(6)]
    with pytest.raises(ValueError, match="negative: -2"):
        map_pools(_square, [(1, 0), (-2, 0), (3, 0), (4, 0)], workers=2)


def test_n_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANNER_WORKERS", "3")
    assert n_workers(MIN_POOLS - 1) == 1  # too few pools to pay for the workers
    assert n_workers(100) == 3
    assert n_workers(MIN_POOLS) == min(3, MIN_POOLS)
    assert n_workers(2) == 1 and n_workers(2, min_tasks=2) == 2  # long tasks pay for workers sooner
    monkeypatch.setenv("PLANNER_WORKERS", "1")
    assert n_workers(100) == 1
    monkeypatch.setenv("PLANNER_WORKERS", "lots")
    assert n_workers(100) == 1


def test_the_workers_are_kept_between_maps_and_replaced_when_broken() -> None:
    # two maps with the same number of workers run on the same kept pool (no second start-up);
    # the pool starts its workers lazily, so which of them ran a task is not asserted
    first = set(map_pools(os.getpid, [()] * 4, workers=2))
    kept = _executor(2)
    again = set(map_pools(os.getpid, [()] * 4, workers=2))
    assert _executor(2) is kept and os.getpid() not in first | again
    # a worker that dies breaks the pool; the next map starts fresh workers and succeeds
    with pytest.raises(BrokenProcessPool):
        map_pools(os._exit, [(1,)] * 4, workers=2)
    fresh = set(map_pools(os.getpid, [()] * 4, workers=2))
    assert fresh and not fresh & (first | again)
    # more workers replace the kept pool; fewer reuse it; shutdown_workers stops it
    three = set(map_pools(os.getpid, [()] * 6, workers=3))
    bigger = _executor(3)
    assert not three & fresh
    map_pools(os.getpid, [()] * 2, workers=2)
    assert _executor(2) is bigger
    shutdown_workers()
    assert set(map_pools(_square, [(2, 0)] * 4, workers=2)) == {4}


def test_a_worker_runs_its_own_maps_serially() -> None:
    # n_workers inside a worker process is 1: a task that maps (the price of safety's optimize,
    # whose referee and decomposition could start workers) does not start workers of workers.
    from forecasting.parallel import map_pools, n_workers

    assert map_pools(n_workers, [(8,), (8,)], workers=2) == [1, 1]
