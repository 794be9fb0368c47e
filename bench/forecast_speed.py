"""Speed of ``forecasting.forecast``: 6 pools × 1 year of hourly history → 100 paths × 12 months.

Synthetic history (seeded): daily and weekly seasonality, a trend, correlated noise across pools.
Prints the wall time of the whole call (backtest model choice, fits, simulation) and the peak RSS.
Target: under 30 s on the 2-core machine. Then streams a synthetic AWS CUR 2.0 CSV of
``--cur-lines`` lines (written by duckdb to a temporary folder) through ``read_usage`` and prints
its time and the RSS growth. Usage: ``.venv/bin/python bench/forecast_speed.py [--cur-lines N]``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting import forecast, read_usage
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


def write_cur(path: Path, n_lines: int) -> None:
    """A CUR 2.0 CSV: hourly BoxUsage/Spot/RI/SP lines of 4 GPU and 2 CPU instance types."""
    import duckdb

    duckdb.sql(
        f"""
        COPY (
          SELECT 'li' || i AS identity_line_item_id,
                 CASE i % 4 WHEN 0 THEN 'Usage' WHEN 1 THEN 'DiscountedUsage'
                      WHEN 2 THEN 'SavingsPlanCoveredUsage' ELSE 'Usage' END
                   AS line_item_line_item_type,
                 strftime(TIMESTAMP '2025-01-01' + to_hours(CAST(i // 200 AS BIGINT)),
                          '%Y-%m-%dT%H:00:00Z') AS line_item_usage_start_date,
                 strftime(TIMESTAMP '2025-01-01' + to_hours(CAST(i // 200 + 1 AS BIGINT)),
                          '%Y-%m-%dT%H:00:00Z') AS line_item_usage_end_date,
                 'AmazonEC2' AS line_item_product_code,
                 'USE1-' || CASE WHEN i % 4 = 3 THEN 'SpotUsage:' ELSE 'BoxUsage:' END
                   || ['p5.48xlarge', 'g6.xlarge', 'p4d.24xlarge', 'g5.12xlarge',
                       'm5.large', 'c5.xlarge'][i % 6 + 1] AS line_item_usage_type,
                 'RunInstances' AS line_item_operation,
                 1.0 AS line_item_usage_amount,
                 ['p5.48xlarge', 'g6.xlarge', 'p4d.24xlarge', 'g5.12xlarge',
                  'm5.large', 'c5.xlarge'][i % 6 + 1] AS product_instance_type,
                 'us-east-1' AS product_region_code,
                 '{{"user_team": "t' || (i % 5) || '"}}' AS resource_tags,
                 repeat('x', 60) AS line_item_line_item_description
          FROM range({n_lines}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
        """
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cur-lines", type=int, default=2_000_000)
    args = ap.parse_args()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.cur_lines:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "cur2.csv"
            write_cur(path, args.cur_lines)
            size_mb = path.stat().st_size / 1e6
            t0 = time.perf_counter()
            h = read_usage(path)
            dt = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"CUR 2.0 CSV, {args.cur_lines:,} lines ({size_mb:.0f} MB): read_usage {dt:.1f} s, "
                f"{len(h.data):,} hourly rows, {h.data['gpus'].sum():,.0f} GPU-hours; "
                f"peak RSS {after:.0f} MB (was {base:.0f} MB before)"
            )
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
