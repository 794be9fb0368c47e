"""Speed of ``forecasting.forecast``: 6 pools × 1 year of hourly history → 100 paths × 12 months.

Synthetic history (seeded): daily and weekly seasonality, a trend, correlated noise across pools.
Prints the wall time of the whole call (backtest model choice, fits, simulation) and the peak RSS.
Target: under 30 s on the 2-core machine. Usage: ``.venv/bin/python bench/forecast_speed.py``.
"""

from __future__ import annotations

import resource
import time

import numpy as np
import pandas as pd

from forecasting import forecast
from forecasting.pools import PooledUsage
from forecasting.scenarios import Pool


def synthetic(n_pools: int = 6, hours: int = 8760, seed: int = 1) -> PooledUsage:
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    common = np.cumsum(rng.normal(0, 0.002, hours))
    cols = {}
    pools = tuple(
        Pool(gpu_type=g) for g in ("H100", "A100-80GB", "L4", "A10G", "L40S", "H200")[:n_pools]
    )
    for j, p in enumerate(pools):
        level = (
            100
            * (j + 1)
            * (1 + 0.3 * t / hours)
            * np.exp(common + np.cumsum(rng.normal(0, 0.001, hours)))
        )
        season = 1 + 0.2 * np.sin(2 * np.pi * t / 24) + 0.1 * np.sin(2 * np.pi * t / 168)
        cols[p.name] = np.maximum(level * season + rng.normal(0, 5 * (j + 1), hours), 0)
    idx = pd.date_range("2025-01-01", periods=hours, freq="h", tz="UTC")
    demand = pd.DataFrame(cols, index=idx)
    false = pd.DataFrame(False, index=idx, columns=demand.columns)
    return PooledUsage(demand_gpus=demand, pools=pools, outage_mask=false, gap_mask=false.copy())


def main() -> None:
    pooled = synthetic()
    for months, hours in ((12, 8760), (36, 26280)):
        t0 = time.perf_counter()
        fc = forecast(pooled, horizon_hours=hours, n_scenarios=100, seed=0)
        dt = time.perf_counter() - t0
        print(
            f"6 pools x 1 year history -> 100 paths x {months} months hourly: {dt:.1f} s "
            f"(models: {sorted(set(fc.models.values()))}, array {fc.scenarios.demand_gpus.nbytes / 1e6:.0f} MB)"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
