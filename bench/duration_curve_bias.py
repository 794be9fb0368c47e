"""The duration-curve bias: how much the LP's time slices overstate commitment use, before and after.

Averaging demand inside a block overstates what a commitment of L GPUs serves:
min(mean demand, L) ≥ mean(min(demand, L)). For each pool and a commitment dedicated to it at the
25th, 50th, 75th and 90th percentile of the pool's hourly demand, this prints the GPU-hours the
slices credit ÷ the GPU-hours the hours give, minus 1 (planner.optimize.time_reduction.
utilisation_bias), for the duration curve cut into ``--blocks`` equal blocks ("equal": before) and
at the least within-block variance ("variance": after), monthly periods.

Series:
- the example organisation's forecast scenarios (its policy's scenario count unless
  ``--scenarios``), 12-month decision horizon;
- a real trace: tests/data/usage/helios-earth (V100 GPUs in use, hourly; one path).

    .venv/bin/python bench/duration_curve_bias.py [--scenarios 16] [--blocks 4]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting import make_pools, read_usage
from planner.optimize.time_reduction import reduce_time, utilisation_bias
from planner.policy_file import apply_overrides, read_policy_file
from planner.workflows.inputs import load_inputs

ROOT = Path(__file__).resolve().parents[1]
QUANTILES = (0.25, 0.5, 0.75, 0.9)


def report(
    name: str, demand: np.ndarray, start: pd.Timestamp, pools: list[str], blocks: int
) -> None:
    """Bias per pool and level, equal vs variance cuts, for ``demand`` (S, H, P)."""
    levels = np.stack([np.quantile(demand[:, :, p], QUANTILES) for p in range(demand.shape[2])])
    rows = []
    for split in ("equal", "variance"):
        t0 = time.perf_counter()
        sl = reduce_time(demand, start, blocks=blocks, split=split)
        dt = time.perf_counter() - t0
        bias = utilisation_bias(demand, sl, levels)
        for p, pool in enumerate(pools):
            rows.append(
                {
                    "split": split,
                    "pool": pool,
                    **{
                        f"P{round(100 * q)}": 100 * b
                        for q, b in zip(QUANTILES, bias[p], strict=True)
                    },
                }
            )
        print(f"{name}: {split} cuts, {sl.n_slices} slices, reduced in {dt:.2f} s")
    df = pd.DataFrame(rows)
    print(
        f"\n{name}: overstatement of GPU-hours served, % (commitment at the pool's demand quantile)"
    )
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    cols = [f"P{round(100 * q)}" for q in QUANTILES]
    mean = df.groupby("split", sort=False)[cols].mean()
    print("mean over pools:")
    print(mean.to_string(float_format=lambda v: f"{v:.3f}"))
    worst = df.groupby("split", sort=False)[cols].max().max(axis=1)
    print("worst pool and level:", ", ".join(f"{k} {v:.3f} %" for k, v in worst.items()), "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=0)
    ap.add_argument("--blocks", type=int, default=4)
    args = ap.parse_args()
    print(
        f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC, {platform.node()} {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    cfg = read_policy_file(ROOT / "examples" / "policy.toml")
    if args.scenarios:
        cfg = apply_overrides(cfg, [f"planning.scenarios={args.scenarios}"])
    inputs = load_inputs(ROOT / "examples" / "usage.csv", cfg, ROOT / "examples" / "inventory.csv")
    sc = inputs.forecast().scenarios
    report(
        f"example ({sc.n_scenarios} scenarios x {sc.n_hours} h)",
        sc.demand_gpus,
        sc.start,
        [p.name for p in sc.pools],
        args.blocks,
    )
    trace = ROOT / "tests" / "data" / "usage" / "helios-earth" / "usage.csv"
    pooled = make_pools(read_usage(trace))
    d = pooled.demand_gpus.to_numpy(dtype=float)[None, :, :]
    report(
        f"helios-earth ({d.shape[1]} h)",
        d,
        pd.Timestamp(pooled.index[0]),
        [p.name for p in pooled.pools],
        args.blocks,
    )


if __name__ == "__main__":
    main()
