"""The Plan value (procurement CSV columns, JSON round trip), the Policy and the offer table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from planner_factory import constant_scenarios, offer, offers

from forecasting.scenarios import DemandScenarios, Pool
from planner.optimize import SolveSession, optimize, with_savings_curves
from planner.optimize.offers import build_cost_table
from planner.plan import PURCHASE_COLUMNS, Plan
from planner.policy import Policy
from pricing_data.catalog import load_catalog
from pricing_data.errors import PlannerInputError

PROCUREMENT = (  # the purchases.csv contract (DESIGN.md, docs/purchases-csv.md)
    "purchase_id, decision, provider, purchase_model, region, sku, gpu_type, offering_class, "
    "term_months, payment_option, quantity, quantity_unit, hourly_commitment_usd, upfront_usd, "
    "recurring_monthly_usd, term_obligation_usd, npv_cost_usd, start_date, end_date, price_basis, "
    "expected_utilization_pct, p10_utilization_pct, expected_savings_usd, npv_savings_usd, "
    "breakeven_months, required_by"
)


def _inputs() -> tuple[DemandScenarios, pd.DataFrame, Policy]:
    off = offers(
        offer("on_demand", 10.0),
        offer(
            "reserved_instance",
            3.0,
            term_months=12,
            payment_option="all_upfront",
            upfront_share=1.0,
        ),
        offer("on_demand", 2.0, sku="g6e.xlarge", gpu_type="L40S"),
        offer("compute_savings_plan", 1.4, term_months=12, sku="g6e.xlarge", gpu_type="L40S"),
        offer("compute_savings_plan", 7.0, term_months=12),
    )
    sc = constant_scenarios([[4.0, 6.0], [8.0, 2.0]], pools=(Pool("H100"), Pool("L40S")))
    return sc, off, Policy(ladder_every_months=0, savings_curve_points=3)


@pytest.fixture(scope="module")
def plan() -> Plan:
    sc, off, policy = _inputs()
    return optimize(sc, off, [], policy)


def test_procurement_columns_in_order(plan: Plan) -> None:
    df = plan.purchases_frame()
    assert tuple(df.columns) == PURCHASE_COLUMNS
    assert ", ".join(df.columns) == PROCUREMENT
    ri = df[df["purchase_model"] == "reserved_instance"].iloc[0]
    sp = df[df["purchase_model"] == "compute_savings_plan"].iloc[0]
    q = float(ri["quantity"])
    assert q == int(q) > 0 and str(ri["hourly_commitment_usd"]) == "<NA>"
    assert str(sp["quantity"]) == "<NA>" and sp["hourly_commitment_usd"] > 0
    assert ri["upfront_usd"] == pytest.approx(q * 3.0 * 8760, rel=1e-9)
    assert ri["recurring_monthly_usd"] == 0
    assert ri["start_date"] == "2026-01-01" and ri["end_date"] == "2027-01-01"
    # all upfront: pays back after upfront / (utilisation x monthly on-demand value) months
    util = ri["expected_utilization_pct"] / 100
    assert ri["breakeven_months"] == pytest.approx(q * 3 * 8760 / (util * q * 10 * 730), rel=1e-3)


def test_json_round_trip(plan: Plan) -> None:
    text = plan.to_json()
    back = Plan.from_json(text)
    assert back == plan or back.to_json() == text
    assert back.purchases_frame().equals(plan.purchases_frame())
    rec = json.loads(text)["record"]
    assert rec["status"] == "optimal" and rec["solver"] in ("highs", "cbc")
    assert rec["catalog_versions"] == ["test/offers.csv"]
    assert rec["sizes"]["variables"] > 0 and rec["policy"]["horizon_months"] == 12
    assert set(plan.savings_curves) == {
        "reserved_instance|H100|us-east-1",
        "compute_savings_plan|any|any",
    }
    q = sum(p.commitment.quantity for p in plan.purchases if p.commitment.quantity)
    curve = plan.savings_curves["reserved_instance|H100|us-east-1"]
    assert [pt["amount"] for pt in curve] == pytest.approx([0.0, 0.75 * q, q, 1.5 * q])
    assert [pt.get("chosen", False) for pt in curve] == [False, False, True, False]
    best = max(curve, key=lambda pt: pt["expected_savings_usd"])
    assert best["amount"] == pytest.approx(q)  # the optimum is the top of its own curve
    assert best["expected_savings_usd"] == pytest.approx(
        plan.on_demand_equivalent_usd - plan.expected_cost_usd["total"], rel=1e-6
    )


def test_policy_validation_names_the_field() -> None:
    with pytest.raises(PlannerInputError, match="cvar_beta"):
        Policy(cvar_beta=1.5).validate()
    with pytest.raises(PlannerInputError, match="time_reduction"):
        Policy(time_reduction="weekly").validate()
    assert Policy.from_dict(Policy().to_dict()) == Policy()


def test_offer_table_prunes_dominated_offers_on_the_real_catalog() -> None:
    off = load_catalog().offers
    pools = (Pool("H100"), Pool("L40S", interruptible=True), Pool("H100", portable=True))
    # prices compete levelised at the cost of money: at 30 %/yr prepaying no longer pays
    cands = build_cost_table(off, pools, [], Policy(discount_rate_pct=30.0)).candidates
    ri = cands[(cands["purchase_model"] == "reserved_instance") & (cands["gpu_type"] == "H100")]
    assert "no_upfront" in set(ri["payment_option"])
    table = build_cost_table(off, pools, [], Policy(discount_rate_pct=0.0))
    cands = table.candidates
    assert 0 < len(cands) < 40 < table.n_catalog_offers
    # undiscounted and without an upfront budget, only the cheapest payment option survives
    ri = cands[(cands["purchase_model"] == "reserved_instance") & (cands["gpu_type"] == "H100")]
    assert set(ri["payment_option"]) == {"all_upfront"}
    # a convertible RI dearer than a standard one of no longer term is dropped
    assert not ((ri["offering_class"] == "convertible") & (ri["term_months"] == 36)).any()
    prices = table.pool_prices
    assert prices.at[0, "od_usd_per_gpu_hour"] == pytest.approx(6.88)
    assert prices.at[2, "od_usd_per_gpu_hour"] < 6.88  # Lambda on-demand + egress beats AWS
    assert np.isfinite(prices.at[1, "spot_usd_per_gpu_hour"])
    # with a budget, payment options with less upfront are kept
    budget = build_cost_table(off, pools, [], Policy(upfront_budget_usd=1e6)).candidates
    assert len(budget) > len(cands)


def test_savings_curves_drawn_later_are_the_same_curves(plan: Plan) -> None:
    # a run that solves several plans and keeps one draws the curves for the kept plan only
    sc, off, policy = _inputs()
    pending = optimize(sc, off, [], policy, session=SolveSession(curves_later=True))
    assert pending.savings_curves == {} and pending.curves_later is not None
    assert "curves_later" not in pending.to_dict()  # a closure is not part of plan.json
    drawn = with_savings_curves(pending)
    assert drawn.curves_later is None and drawn.purchases == plan.purchases
    assert drawn.savings_curves.keys() == plan.savings_curves.keys()
    for family, curve in plan.savings_curves.items():
        later = drawn.savings_curves[family]
        assert [p["amount"] for p in later] == pytest.approx([p["amount"] for p in curve])
        assert [p["expected_savings_usd"] for p in later] == pytest.approx(
            [p["expected_savings_usd"] for p in curve], rel=1e-6
        )
    took = drawn.record["savings_curve_time_s"]
    assert took >= 0 and drawn.record["total_time_s"] == pytest.approx(
        pending.record["total_time_s"] + took, abs=2e-3
    )
    assert with_savings_curves(plan) is plan  # nothing pending: unchanged
