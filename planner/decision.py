"""The decision headline: what to buy now and what it means, in the evaluator's figures.

The firm purchases (``decision = now``) are the headline; the ladder is tentative and reported
apart. Figures (all USD unless the name says otherwise):

- cash: ``upfront_usd`` (paid now), ``recurring_monthly_usd`` (the invoice each month, Cost
  Explorer's *unblended* view), ``amortized_monthly_usd`` (obligation ÷ term months: Cost
  Explorer's *amortized* view), both purchases.csv summed;
- saving of the firm plan (existing inventory plus the firm purchases, spot and on-demand for the
  rest) against ``all on-demand`` and against ``current inventory only``: the evaluator's expected
  cash over the valuation horizon (every term to its end), undiscounted and discounted monthly at
  the cost of capital (``*_npv_usd``), the same bills as plan.json's ``whole_term``;
- the firm purchases' ``term_obligation_usd`` and ``npv_cost_usd``: their upfront and recurring
  rows in plan.json's ``cashflow`` (the evaluator's schedule, :mod:`planner.evaluate.cashflow`),
  which cashflow.csv sums month by month;
- risk: the worst-decile (1 − cvar_beta quantile) commitment utilisation of the firm plan across
  scenarios, and the CVaR_β of its unused commitment spend against the policy's bound;
- assumptions: the share of the firm obligation whose prices are assumed, not published.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from planner.evaluate import ALL_ON_DEMAND, FIRM_ONLY, INVENTORY_ONLY, StrategyFigures
from planner.evaluate.bounds import weighted_cvar
from planner.evaluate.cashflow import commitment_cash
from planner.plan import Plan
from planner.policy import Policy
from pricing_data.units import HOURS_PER_MONTH


def _strategy(strategies: tuple[StrategyFigures, ...], name: str) -> StrategyFigures:
    return next(s for s in strategies if s.name == name)


def _saving(base: StrategyFigures, plan: StrategyFigures) -> tuple[float, float]:
    """(undiscounted, NPV) expected cash saving of ``plan`` against ``base`` (whole term)."""
    return (
        base.expected_cash_usd - plan.expected_cash_usd,
        base.expected_npv_usd - plan.expected_npv_usd,
    )


def decision_figures(
    plan: Plan, strategies: tuple[StrategyFigures, ...], policy: Policy
) -> dict[str, Any]:
    """The headline figures (module docstring), JSON-ready."""
    firm = plan.firm
    ladder = [p for p in plan.purchases if not p.firm]
    od, inv, mine = (_strategy(strategies, n) for n in (ALL_ON_DEMAND, INVENTORY_ONLY, FIRM_ONLY))
    start = pd.Timestamp(plan.start) if plan.start else pd.Timestamp("1970-01-01")
    rate = float(policy.discount_rate_pct)
    vs_od, vs_od_npv = _saving(od, mine)
    vs_inv, vs_inv_npv = _saving(inv, mine)
    q = 1.0 - policy.cvar_beta
    waste = np.array([e.waste_usd for e in mine.evaluations])
    spend = float(
        mine.probabilities @ [sum(e.commitment_spend_usd.values()) for e in mine.evaluations]
    )
    cvar_unused = weighted_cvar(waste, mine.probabilities, policy.cvar_beta) if len(waste) else 0.0
    bound: float | None = None
    if policy.cvar_limit_usd is not None:
        bound = policy.cvar_limit_usd
    if policy.cvar_limit_pct is not None:
        pct_bound = policy.cvar_limit_pct / 100.0 * spend
        bound = pct_bound if bound is None else min(bound, pct_bound)
    obligation, obligation_npv = commitment_cash(
        plan.cashflow, {p.commitment.commitment_id for p in firm}
    )
    ladder_obligation, _ = commitment_cash(
        plan.cashflow, {p.commitment.commitment_id for p in ladder}
    )
    assumed, _ = commitment_cash(
        plan.cashflow, {p.commitment.commitment_id for p in firm if p.price_basis == "assumed"}
    )
    months = mine.horizon_hours / HOURS_PER_MONTH if mine.horizon_hours else 0.0
    return {
        "firm_purchases": len(firm),
        "ladder_purchases": len(ladder),
        "upfront_usd": sum(p.upfront_usd for p in firm),
        "recurring_monthly_usd": sum(p.recurring_monthly_usd for p in firm),
        "amortized_monthly_usd": sum(
            p.term_obligation_usd / p.commitment.term_months for p in firm
        ),
        "term_obligation_usd": obligation,
        "npv_cost_usd": obligation_npv,
        "longest_term_months": max((p.commitment.term_months for p in firm), default=0),
        "last_end_date": max((p.commitment.end for p in firm), default=start).date().isoformat(),
        "ladder_term_obligation_usd": ladder_obligation,
        "window_start": start.isoformat(),
        "window_months": round(months, 2),
        "cost_of_capital_pct": rate,
        "savings_vs_on_demand_usd": vs_od,
        "savings_vs_on_demand_npv_usd": vs_od_npv,
        "savings_vs_inventory_usd": vs_inv,
        "savings_vs_inventory_npv_usd": vs_inv_npv,
        "expected_monthly_bill_usd": mine.expected_cost_usd / months if months else 0.0,
        "on_demand_monthly_bill_usd": od.expected_cost_usd / months if months else 0.0,
        "sum_of_marginal_savings_usd": sum(p.expected_savings_usd for p in firm),
        "tail_quantile": q,
        "tail_utilization": mine.tail_utilization(q) if mine.has_spend else None,
        "expected_utilization": mine.expected("utilization") if mine.has_spend else None,
        "cvar_unused_usd": cvar_unused,
        "cvar_unused_bound_usd": bound,
        "cvar_bound_held": None
        if bound is None
        else bool(cvar_unused <= bound * (1 + 1e-6) + 1e-6),
        "assumed_share_of_obligation": assumed / obligation if obligation > 0 else 0.0,
    }
