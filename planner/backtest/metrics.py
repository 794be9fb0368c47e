r"""Figures per strategy and window, and their summary over windows.

For a strategy's commitments on window ``w`` the referee :func:`planner.evaluate.evaluate` gives the
bill ``C_w`` (commitments billed per active hour of the window, upfront amortised, so windows shorter
than a term compare). With ``OD_w`` the on-demand-equivalent cost of the window's usage (every
GPU-hour at its pool's on-demand price) and ``C*_w`` the hindsight cost
(:mod:`planner.backtest.hindsight`):

    savings_usd     = OD_w − C_w                 ESR = 1 − C_w / OD_w
    utilization     = used ÷ billed commitment dollars (NaN when nothing is committed)
    waste_usd       = billed − used commitment dollars
    coverage        = share of the window's GPU-hours served by commitments
    regret          = C_w / C*_w − 1
    forecast_bias   = (planner only) mean over scenarios of the forecast mean total GPUs over the
                      window ÷ the actual mean − 1; ``actual_in_p10_p90``: whether the actual mean
                      lies between the 10th and 90th percentile of the scenarios' means

Summary per strategy over its windows: ``mean_regret`` (arithmetic mean), ``worst_regret`` (max),
``savings_pct`` = 1 − Σ_w C_w / Σ_w OD_w (pooled over windows), ``min_utilization`` (the worst window
with commitments).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from planner.evaluate import Evaluation

WINDOW_COLUMNS = (
    "window",
    "window_start",
    "window_days",
    "history_days",
    "strategy",
    "cost_usd",
    "on_demand_equivalent_usd",
    "savings_usd",
    "esr_pct",
    "commitment_spend_usd",
    "utilization_pct",
    "waste_usd",
    "coverage_pct",
    "regret_pct",
    "forecast_bias_pct",
    "actual_in_p10_p90",
    "note",
)
SUMMARY_COLUMNS = (
    "strategy",
    "windows",
    "mean_regret_pct",
    "worst_regret_pct",
    "savings_pct",
    "mean_coverage_pct",
    "min_utilization_pct",
    "total_cost_usd",
)


def window_figures(ev: Evaluation) -> dict[str, float]:
    """The figures of one evaluated bill (module docstring), before regret."""
    spend = float(sum(ev.commitment_spend_usd.values()))
    savings = ev.on_demand_equivalent_usd - ev.total_usd
    if abs(savings) <= 1e-9 * max(ev.on_demand_equivalent_usd, 1.0):
        savings = 0.0  # rounding of an all-on-demand bill, not a saving
    return {
        "cost_usd": ev.total_usd,
        "on_demand_equivalent_usd": ev.on_demand_equivalent_usd,
        "savings_usd": savings,
        "esr_pct": 100.0 * savings / ev.on_demand_equivalent_usd
        if ev.on_demand_equivalent_usd > 0
        else 0.0,
        "commitment_spend_usd": spend,
        "utilization_pct": 100.0 * ev.utilization if spend > 0 else math.nan,
        "waste_usd": ev.waste_usd,
        "coverage_pct": 100.0 * ev.coverage,
    }


def regret(cost_usd: float, hindsight_usd: float) -> float:
    """cost / hindsight cost − 1 (0 when both are 0)."""
    if hindsight_usd <= 0:
        return 0.0 if cost_usd <= 0 else math.inf
    return cost_usd / hindsight_usd - 1.0


def summarise(windows: pd.DataFrame, order: list[str] | None = None) -> pd.DataFrame:
    """One row per strategy over its windows (module docstring)."""
    rows: list[dict[str, Any]] = []
    strategies = order or list(dict.fromkeys(windows["strategy"]))
    for name in strategies:
        w = windows[windows["strategy"] == name]
        if w.empty:
            continue
        od = float(w["on_demand_equivalent_usd"].sum())
        cost = float(w["cost_usd"].sum())
        util = w["utilization_pct"].astype(float)
        rows.append(
            {
                "strategy": name,
                "windows": len(w),
                "mean_regret_pct": float(w["regret_pct"].mean()),
                "worst_regret_pct": float(w["regret_pct"].max()),
                "savings_pct": 100.0 * (1.0 - cost / od) if od > 0 else 0.0,
                "mean_coverage_pct": float(w["coverage_pct"].mean()),
                "min_utilization_pct": float(np.nanmin(util)) if util.notna().any() else math.nan,
                "total_cost_usd": cost,
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
