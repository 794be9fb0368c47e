"""The cash-flow schedule as cashflow.csv and the report's table: plan.json's ``cashflow`` (the
evaluator's schedule, :mod:`planner.evaluate.cashflow`) pivoted to one row per month, from the
plan's start to the end of the valuation horizon (the end of the last term). Nothing is computed
here but sums of that schedule, so cashflow.csv adds up to plan.json's ``whole_term`` figures and
the headline's.

Columns (USD, expected over scenarios, cash in the month it is paid): ``firm_upfront_usd`` and
``firm_recurring_usd`` (the purchases made now), ``ladder_upfront_usd`` and
``ladder_recurring_usd`` (the tentative ladder, if bought as planned), ``new_commitments_usd``
(their sum), ``existing_commitments_usd`` (the existing inventory's remaining payments; upfronts
paid before the plan's start are sunk and absent), ``pay_as_you_go_usd`` (expected on-demand, spot
and egress), ``total_usd`` (the month's whole cash); ``discount_factor`` (month m: (1 + r)^(−m/12)
at the cost of capital), ``new_commitments_npv_usd`` and ``total_npv_usd``. Summed over months,
``total_usd`` / ``total_npv_usd`` are plan.json's ``whole_term.cash_cost_usd`` /
``npv_cost_usd`` and ``new_commitments_usd`` its ``new_obligation_usd``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.plan import Plan

if TYPE_CHECKING:
    from planner.workflows.quarterly import PlanRun

CASHFLOW_COLUMNS = (
    "month",
    "firm_upfront_usd",
    "firm_recurring_usd",
    "ladder_upfront_usd",
    "ladder_recurring_usd",
    "new_commitments_usd",
    "existing_commitments_usd",
    "pay_as_you_go_usd",
    "total_usd",
    "discount_factor",
    "new_commitments_npv_usd",
    "total_npv_usd",
)
_NEW = ("firm_upfront_usd", "firm_recurring_usd", "ladder_upfront_usd", "ladder_recurring_usd")


def _column(row: Mapping[str, Any], firm: set[str], ladder: set[str]) -> str:
    """The cashflow.csv column a schedule row adds to."""
    item, kind = str(row["item"]), str(row["kind"])
    if kind == "usage":
        return "pay_as_you_go_usd"
    if item in firm:
        return f"firm_{kind}_usd"
    if item in ladder:
        return f"ladder_{kind}_usd"
    return "existing_commitments_usd"


def cashflow_frame(plan: Plan, schedule: Iterable[Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """The schedule (module docstring), one row per month, columns CASHFLOW_COLUMNS; from
    ``plan.cashflow`` unless ``schedule`` rows are given."""
    rows = list(plan.cashflow if schedule is None else schedule)
    firm = {p.commitment.commitment_id for p in plan.purchases if p.firm}
    ladder = {p.commitment.commitment_id for p in plan.purchases if not p.firm}
    money = [c for c in CASHFLOW_COLUMNS if c.endswith("_usd") and not c.endswith("npv_usd")]
    if not rows:
        return pd.DataFrame(columns=list(CASHFLOW_COLUMNS))
    long = pd.DataFrame(rows)
    long["column"] = [_column(r, firm, ladder) for r in rows]
    n_months = int(long["month"].max()) + 1
    wide = (
        long.pivot_table(index="month", columns="column", values="usd", aggfunc="sum")
        .reindex(index=range(n_months), columns=money)
        .fillna(0.0)
    )
    npv = (
        long.assign(new=long["column"].isin(_NEW))
        .pivot_table(index="month", columns="new", values="npv_usd", aggfunc="sum")
        .reindex(index=range(n_months), columns=[False, True])
        .fillna(0.0)
    )
    first = long.groupby("month")[["month_start", "discount_factor"]].first()
    factor = first["discount_factor"].astype(float)
    start = pd.Timestamp(plan.start) if plan.start else None
    out = pd.DataFrame(index=range(n_months))
    out["month"] = [
        str(first.at[m, "month_start"])[:7]
        if m in first.index
        else (start + pd.DateOffset(months=m)).strftime("%Y-%m")
        if start is not None
        else str(m)
        for m in range(n_months)
    ]
    for col in money:
        out[col] = wide[col].to_numpy()
    out["new_commitments_usd"] = out[list(_NEW)].sum(axis=1)
    out["total_usd"] = out[
        ["new_commitments_usd", "existing_commitments_usd", "pay_as_you_go_usd"]
    ].sum(axis=1)
    rate = plan.discount_rate_pct
    out["discount_factor"] = [
        float(factor[m]) if m in factor.index else (1 + rate / 100) ** (-m / 12)
        for m in range(n_months)
    ]
    out["new_commitments_npv_usd"] = npv[True].to_numpy()
    out["total_npv_usd"] = npv[False].to_numpy() + npv[True].to_numpy()
    money_all = [c for c in CASHFLOW_COLUMNS if c.endswith("_usd")]
    out[money_all] = out[money_all].round(2)
    out["discount_factor"] = out["discount_factor"].round(6)
    return out[list(CASHFLOW_COLUMNS)].reset_index(drop=True)


def run_cashflow(run: PlanRun) -> pd.DataFrame:
    """The schedule of a quarterly run (plan.json's ``cashflow``, pivoted by month)."""
    return cashflow_frame(run.plan)
