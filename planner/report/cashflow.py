"""The cash-flow schedule (cashflow.csv and the report's table): month by month from the plan's
start to the end of the last purchase's term.

Columns (USD): ``firm_upfront_usd`` and ``firm_recurring_usd`` (what the firm purchases pay that
month: the upfront on the start date, the recurring fee at the end of each month of the term),
``ladder_upfront_usd`` and ``ladder_recurring_usd`` (the tentative ladder, if bought as planned),
``new_commitments_usd`` (their sum), ``existing_commitments_usd`` (the existing inventory's billing,
amortised, as the evaluator bills it) and ``pay_as_you_go_usd`` (expected on-demand, spot and
egress of this plan: the evaluator's bill less its commitment billing), the last two only inside
the forecast window (empty after it); ``discount_factor`` at the cost of capital and
``new_commitments_npv_usd``. Until econ's month-by-month full-term cash-flow table lands, the
commitment payments are computed here from purchases.csv's own figures
(:func:`planner.purchase_values.purchase_cash_flows`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from planner.evaluate import StrategyFigures
from planner.inventory import Commitment
from planner.plan import Plan
from planner.policy import Policy
from planner.purchase_values import cost_of_capital_pct, discount_factors, purchase_cash_flows

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
    "discount_factor",
    "new_commitments_npv_usd",
)


def _month(ts: pd.Series | pd.DatetimeIndex) -> pd.Index:
    idx = pd.DatetimeIndex(ts)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return pd.Index([str(p) for p in idx.to_period("M")])


def _billing_by_month(
    fig: StrategyFigures, ids: set[str] | None, months: pd.Index, timestamps: pd.DatetimeIndex
) -> tuple[pd.Series, pd.Series]:
    """(commitment billing of ``ids``, pay-as-you-go) per month, expected over scenarios: each
    commitment bills a constant amount per active hour (its spend ÷ its active hours)."""
    n_h = len(timestamps)
    if fig.evaluations and len(fig.evaluations[0].hourly_cost_usd) != n_h:
        return _evaluator_cash_by_month(fig, ids, months)
    commit = np.zeros(n_h)
    all_commit = np.zeros(n_h)
    hourly = np.zeros(n_h)
    for prob, e in zip(fig.probabilities, fig.evaluations, strict=True):
        hourly += prob * e.hourly_cost_usd
    for c in fig.commitments:
        active = np.asarray((timestamps >= c.start) & (timestamps < c.end), dtype=float)
        n = active.sum()
        if n == 0:
            continue
        spend = float(
            fig.probabilities
            @ [e.commitment_spend_usd.get(c.commitment_id, 0.0) for e in fig.evaluations]
        )
        rate = spend / n * active
        all_commit += rate
        if ids is None or c.commitment_id in ids:
            commit += rate
    by_month = _month(timestamps)
    billed = pd.Series(commit).groupby(by_month.to_numpy()).sum().reindex(months)
    payg = pd.Series(hourly - all_commit).groupby(by_month.to_numpy()).sum().reindex(months)
    return billed, payg


def cashflow_frame(
    plan: Plan,
    policy: Policy,
    *,
    this_plan: StrategyFigures | None = None,
    inventory: tuple[Commitment, ...] = (),
    timestamps: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """The schedule (module docstring), one row per month, columns CASHFLOW_COLUMNS."""
    origin = pd.Timestamp(plan.start)
    flows = []
    for p in plan.purchases:
        f = purchase_cash_flows(p)
        f["kind"] = "firm" if p.firm else "ladder"
        flows.append(f)
    end = max([origin, *(p.commitment.end for p in plan.purchases)])
    months = _month(pd.date_range(origin, end, freq="MS", inclusive="both").union([origin]))
    months = pd.Index(sorted(set(months)))
    out = pd.DataFrame({"month": months})
    for kind in ("firm", "ladder"):
        for part in ("upfront", "recurring"):
            col = f"{kind}_{part}_usd"
            if flows:
                all_f = pd.concat(flows)
                sel = all_f[all_f["kind"] == kind]
                s = sel[f"{part}_usd"].groupby(_month(sel["date"]).to_numpy()).sum()
                out[col] = s.reindex(months).fillna(0.0).to_numpy()
            else:
                out[col] = 0.0
    out["new_commitments_usd"] = out[
        ["firm_upfront_usd", "firm_recurring_usd", "ladder_upfront_usd", "ladder_recurring_usd"]
    ].sum(axis=1)
    out["existing_commitments_usd"] = np.nan
    out["pay_as_you_go_usd"] = np.nan
    if this_plan is not None and timestamps is not None:
        ids = {c.commitment_id for c in inventory}
        existing, payg = _billing_by_month(this_plan, ids, months, timestamps)
        out["existing_commitments_usd"] = existing.to_numpy()
        out["pay_as_you_go_usd"] = payg.to_numpy()
    first_day = pd.DatetimeIndex(pd.PeriodIndex(months, freq="M").to_timestamp())
    if origin.tz is not None:
        first_day = first_day.tz_localize(origin.tz)
    # payments fall on the month's start (purchases start on the 1st): discount to that day
    when = first_day.where(first_day >= origin, origin)
    out["discount_factor"] = discount_factors(when, origin, cost_of_capital_pct(policy))
    out["new_commitments_npv_usd"] = out["new_commitments_usd"] * out["discount_factor"]
    money = [c for c in CASHFLOW_COLUMNS if c.endswith("_usd")]
    out[money] = out[money].round(2)
    out["discount_factor"] = out["discount_factor"].round(6)
    return out[list(CASHFLOW_COLUMNS)]


def _evaluator_cash_by_month(
    fig: StrategyFigures, ids: set[str] | None, months: pd.Index
) -> tuple[pd.Series, pd.Series]:
    """(commitment cash of ``ids``, pay-as-you-go cash) per month from the evaluator's own
    whole-term cash (``StrategyFigures.cash_by_month``: keys ``upfront:<id>``, ``recurring:<id>``,
    and ``on_demand``/``spot``/``egress``), for a bill whose rows are coarser than hours."""
    existing = pd.Series(0.0, index=months)
    payg = pd.Series(0.0, index=months)
    tl = fig.timeline
    if tl is None:
        return existing * np.nan, payg * np.nan
    for key, values in fig.cash_by_month().items():
        _, _, item = key.partition(":")
        for m, usd in enumerate(values):
            label = (tl.start + pd.DateOffset(months=m)).strftime("%Y-%m")
            if label not in existing.index:
                continue
            if not item:
                payg[label] += float(usd)
            elif ids is None or item in ids:
                existing[label] += float(usd)
    return existing, payg


def run_cashflow(run: PlanRun) -> pd.DataFrame:
    """The schedule of a quarterly run (this plan's evaluator bill for the window's columns)."""
    from planner.evaluate import THIS_PLAN

    return cashflow_frame(
        run.plan,
        run.policy,
        this_plan=run.strategy(THIS_PLAN),
        inventory=run.inventory,
        timestamps=run.forecast.scenarios.timestamps,
    )
