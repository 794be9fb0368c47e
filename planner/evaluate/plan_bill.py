"""The plan's figures from one referee bill: what plan.json holds about a set of purchases.

``plan_figures`` turns the evaluator's bill of the plan (existing inventory plus the purchases,
every scenario, the whole valuation horizon) and of all on-demand into the Plan's fields (the
planner.plan docstring): expected cost by component (accrual: upfront amortised), per-scenario
totals, coverage, utilisation, ESR, waste, the whole-term NPV and undiscounted figures, the cash-flow
schedule (:mod:`planner.evaluate.cashflow`) and the bounds checked on that bill
(:mod:`planner.evaluate.bounds`). The optimizer calls it on its referee's bill; the quarterly run
calls it again on the final purchases (after the recommendation rule drops some), so every figure
in plan.json, cashflow.csv and the headline is one bill's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from planner.evaluate.bounds import BoundCheck, check_bounds
from planner.evaluate.cashflow import (
    cashflow_schedule,
    commitment_cash,
    schedule_records,
    whole_term_figures,
)
from planner.evaluate.compare import StrategyFigures
from planner.plan import COST_COMPONENTS, Plan, Purchase
from planner.policy import Policy


def upfront_by_date(purchases: Sequence[Purchase]) -> dict[str, float]:
    """Upfront cash of the purchases at each start date (ISO timestamp -> USD)."""
    out: dict[str, float] = {}
    for p in purchases:
        key = p.commitment.start.isoformat()
        out[key] = out.get(key, 0.0) + p.upfront_usd
    return out


def plan_figures(
    figs: StrategyFigures,
    on_demand: StrategyFigures,
    purchases: Sequence[Purchase],
    inventory_ids: frozenset[str] | set[str],
    bounds: Sequence[BoundCheck],
    *,
    decision_hours: int,
    lp_objective_npv_usd: float | None = None,
) -> dict[str, Any]:
    """Plan keyword arguments from the bill ``figs`` of inventory + ``purchases`` (module
    docstring)."""
    p = figs.probabilities
    comp = figs.cost_by_component()
    exp = {k: comp.get(k, 0.0) for k in COST_COMPONENTS}
    if comp.get("serverless"):  # scale-to-zero pools served serverless (usage, no term)
        exp["serverless"] = comp["serverless"]
    totals = np.array([e.total_usd for e in figs.evaluations])
    exp["total"] = float(p @ totals)
    exp["existing_sunk"] = float(
        p
        @ [
            sum(v for k, v in e.commitment_spend_usd.items() if k in inventory_ids)
            for e in figs.evaluations
        ]
    )
    od_eq = figs.expected("on_demand_equivalent_usd")
    spend = float(p @ [sum(e.commitment_spend_usd.values()) for e in figs.evaluations])
    used = float(p @ [sum(e.commitment_used_usd.values()) for e in figs.evaluations])
    rate = figs.evaluations[0].discount_rate_pct if figs.evaluations else 0.0
    schedule = schedule_records(cashflow_schedule(figs, rate))
    new_ids = {q.commitment.commitment_id for q in purchases}
    whole = whole_term_figures(
        figs,
        on_demand,
        new_ids,
        schedule,
        decision_hours=decision_hours,
        lp_objective_npv_usd=lp_objective_npv_usd,
    )
    return {
        "expected_cost_usd": exp,
        "cost_per_scenario_usd": tuple(float(x) for x in totals),
        "on_demand_equivalent_usd": od_eq,
        "coverage": figs.expected("coverage"),
        "utilization": used / spend if spend > 0 else 0.0,
        "esr": 1.0 - exp["total"] / od_eq if od_eq > 0 else 0.0,
        "waste_usd": figs.expected("waste_usd"),
        "valuation_hours": int(figs.horizon_hours),
        "discount_rate_pct": float(rate),
        "whole_term": whole,
        "bounds": tuple(b.to_dict() for b in bounds),
        "cashflow": schedule,
    }


def rebill_plan(
    plan: Plan,
    this_plan: StrategyFigures,
    on_demand: StrategyFigures,
    inventory_ids: frozenset[str] | set[str],
    policy: Policy,
) -> Plan:
    """``plan`` with every figure from ``this_plan`` (the evaluator's bill of inventory + the
    plan's final purchases): the Plan's figures (:func:`plan_figures`), the bounds checked on that
    bill with ``policy``'s limits, and each purchase's ``npv_cost_usd`` from the schedule. The
    optimizer's own referee check (on the scenarios it optimised, before the recommendation rule)
    is kept in ``record["optimizer_bounds"]``."""
    purchases = list(plan.purchases)
    bounds = check_bounds(this_plan, policy, upfront_by_date(purchases))
    kw = plan_figures(
        this_plan,
        on_demand,
        purchases,
        inventory_ids,
        bounds,
        decision_hours=plan.horizon_hours,
        lp_objective_npv_usd=plan.whole_term.get("lp_objective_npv_usd"),
    )
    schedule = kw["cashflow"]
    priced = tuple(
        replace(p, npv_cost_usd=commitment_cash(schedule, {p.commitment.commitment_id})[1])
        for p in purchases
    )
    record = {**plan.record, "optimizer_bounds": list(plan.bounds)}
    return replace(plan, purchases=priced, record=record, **kw)
