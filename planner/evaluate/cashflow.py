"""The month-by-month cash-flow schedule of a strategy, from the referee's bill (expected over
scenarios): upfront and recurring cash per commitment, expected on-demand, spot and egress, each
with its discount factor and present value (planner/valuation.py). Writing it to a file or a report
is the caller's business."""

from __future__ import annotations

import pandas as pd

from planner.evaluate.compare import StrategyFigures
from planner.valuation import discount_by_month

CASHFLOW_COLUMNS = (
    "month",
    "month_start",
    "item",
    "kind",
    "usd",
    "discount_factor",
    "npv_usd",
)


def cashflow_schedule(figs: StrategyFigures, discount_rate_pct: float) -> pd.DataFrame:
    """One row per (month, item) with non-zero cash. ``item`` is a commitment id, or
    ``on_demand``/``spot``/``egress``; ``kind`` is ``upfront``, ``recurring`` or ``usage``."""
    tl = figs.timeline
    cash = figs.cash_by_month()
    n_m = max((len(v) for v in cash.values()), default=0)
    delta = discount_by_month(n_m, discount_rate_pct)
    dates = (
        [str((tl.start + pd.DateOffset(months=m)).date().isoformat()) for m in range(n_m)]
        if tl is not None
        else [""] * n_m
    )
    rows = []
    for key in sorted(cash, key=_order):
        kind, _, item = key.partition(":")
        if not item:
            kind, item = "usage", key
        for m, usd in enumerate(cash[key]):
            if abs(usd) < 0.005:
                continue
            rows.append(
                {
                    "month": m,
                    "month_start": dates[m],
                    "item": item,
                    "kind": kind,
                    "usd": float(usd),
                    "discount_factor": float(delta[m]),
                    "npv_usd": float(usd * delta[m]),
                }
            )
    df = pd.DataFrame(rows, columns=list(CASHFLOW_COLUMNS))
    return df.sort_values(["month", "kind", "item"], kind="mergesort").reset_index(drop=True)


def _order(key: str) -> tuple[int, str]:
    kind = key.partition(":")[0]
    return ({"upfront": 0, "recurring": 1}.get(kind, 2), key)
