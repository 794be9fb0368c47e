"""Synthetic but realistic planning cases for the optimizer benchmarks (shared by the scripts).

Demand per pool: a level, a linear growth trend, daily and weekly seasonality, a scenario-level
growth multiplier (lognormal) and AR(1) hourly noise; seeded, so every run sees the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.scenarios import DemandScenarios, Pool

START = pd.Timestamp("2026-01-01", tz="UTC")

# (pool, level GPUs, growth per year)
ENTERPRISE_POOLS: tuple[tuple[Pool, float, float], ...] = (
    (Pool("H100", aws_region="us-east-1"), 256.0, 0.30),
    (Pool("H100", interruptible=True, portable=True, aws_region="us-east-1"), 384.0, 0.50),
    (Pool("A100-80GB", aws_region="us-east-1"), 96.0, -0.10),
    (Pool("A100-80GB", interruptible=True, portable=True, aws_region="us-west-2"), 128.0, 0.0),
    (Pool("L40S", aws_region="us-east-1"), 64.0, 0.40),
    (Pool("L40S", interruptible=True, aws_region="us-west-2"), 48.0, 0.20),
    (Pool("A10G", aws_region="us-east-1"), 120.0, 0.10),
    (Pool("H200", portable=True, aws_region="us-east-1"), 64.0, 0.80),
)


def synthetic_scenarios(
    pools: tuple[tuple[Pool, float, float], ...],
    *,
    n_hours: int,
    n_scenarios: int,
    seed: int = 42,
    start: pd.Timestamp = START,
) -> DemandScenarios:
    rng = np.random.default_rng(seed)
    h = np.arange(n_hours)
    years = h / 8760.0
    daily = np.sin(2 * np.pi * (h % 24) / 24.0)
    weekend = ((h // 24) % 7 >= 5).astype(float)
    demand = np.empty((n_scenarios, n_hours, len(pools)))
    for p, (_pool, level, growth) in enumerate(pools):
        g = growth + rng.normal(0.0, 0.25, size=n_scenarios)  # scenario growth per year
        noise = np.empty((n_scenarios, n_hours))
        e = rng.normal(0.0, 0.06, size=(n_scenarios, n_hours))
        noise[:, 0] = e[:, 0]
        for t in range(1, n_hours):  # AR(1), phi = 0.97
            noise[:, t] = 0.97 * noise[:, t - 1] + e[:, t]
        shape = 1.0 + 0.15 * daily - 0.2 * weekend
        path = (
            level
            * np.exp(np.outer(np.log1p(np.clip(g, -0.9, None)), years))
            * shape
            * np.exp(noise)
        )
        demand[:, :, p] = np.clip(path, 0.0, None)
    probs = np.full(n_scenarios, 1.0 / n_scenarios)
    return DemandScenarios(start, tuple(p for p, _, _ in pools), demand, probs, seed=seed)


def _aws_regions(offers: pd.DataFrame, gpu_type: str) -> list[str]:
    """AWS regions (not local or wavelength zones) that sell ``gpu_type``, us-east-1 and us-west-2
    first, then alphabetical."""
    regs = offers.loc[
        (offers["provider"] == "aws") & (offers["gpu_type"] == gpu_type), "region"
    ].dropna()
    names = sorted({str(r) for r in regs if str(r).count("-") == 2})
    first = [r for r in ("us-east-1", "us-west-2") if r in names]
    return first + [r for r in names if r not in first]


def enterprise_pools(n_pools: int, offers: pd.DataFrame) -> tuple[tuple[Pool, float, float], ...]:
    """``n_pools`` pools for the scaling sweeps: the first ``n_pools`` of ENTERPRISE_POOLS up to 8;
    beyond that, copies of the 8 in further AWS regions that sell the GPU type (copy r of a pool
    takes the next region of its type not yet used by a pool of the same type and flexibility;
    a type with too few regions lends its copy to A100-40GB, sold in 15 regions), each copy's
    level scaled by a seeded factor in [0.5, 1.5) so the pools are not identical."""
    if n_pools <= len(ENTERPRISE_POOLS):
        return ENTERPRISE_POOLS[:n_pools]
    rng = np.random.default_rng(11)
    out: list[tuple[Pool, float, float]] = []
    used: set[tuple[str, bool, bool, str]] = set()
    r = 0
    while len(out) < n_pools:
        for base, level, growth in ENTERPRISE_POOLS:
            if len(out) == n_pools:
                break
            scale = 1.0 if r == 0 else 0.5 + float(rng.random())
            for gpu in (base.gpu_type, "A100-40GB", "A10G", "L4"):
                free = [
                    reg
                    for reg in _aws_regions(offers, gpu)
                    if (gpu, base.interruptible, base.portable, reg) not in used
                ]
                if r == 0 and gpu == base.gpu_type:
                    free = [base.aws_region]
                if free:
                    pool = Pool(gpu, base.interruptible, base.portable, free[0])
                    used.add((gpu, base.interruptible, base.portable, free[0]))
                    out.append((pool, level * scale, growth))
                    break
            else:
                raise ValueError(f"no region left for a copy of {base.name}")
        r += 1
    return tuple(out)
