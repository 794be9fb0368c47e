"""Tiny LPs whose optimum is derived by hand (derivations in the comments).

All use one year (8,760 h from 2026-01-01), RIs of one GPU per instance (p5.4xlarge-like), and
demand constant over time inside each scenario, so every time reduction is exact.

Every test runs twice: the LP solved whole, and solved by the Benders decomposition over its
scenarios wherever it splits (planner/optimize/decompose.py; forced here whatever the LP's size
or integer method): the same optimum, derived once.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from planner_factory import START, YEAR_H, constant_scenarios, offer, offers, ri_or_lambda_contract

from forecasting.scenarios import Pool
from planner.evaluate import evaluate
from planner.inventory import Commitment
from planner.optimize import InfeasiblePlanError, optimize
from planner.optimize.decompose import Decomposition, NotDecomposable
from planner.optimize.solve import SolveSession
from planner.policy import Policy

BASE = Policy(
    horizon_months=12, ladder_every_months=0, savings_curve_points=0, spot_price_spread_pct=0.0
)
OD, RI = 10.0, 3.5
NEWSVENDOR = offers(offer("on_demand", OD), offer("reserved_instance", RI, term_months=12))
LEVELS = np.arange(1.0, 11.0)  # demand 1..10 GPUs, probability 0.1 each


@pytest.fixture(autouse=True, params=["whole", "decomposed"])
def lp_method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "decomposed":

        def always(pb, session):  # type: ignore[no-untyped-def]
            previous = session.decompositions.get(SolveSession.shape(pb))
            try:
                return Decomposition.build(pb, previous), None
            except NotDecomposable as exc:
                return None, str(exc)

        monkeypatch.setattr(sys.modules["planner.optimize.solve"], "_decomposition", always)
    return str(request.param)


def quantity(plan, model: str = "reserved_instance", firm: bool | None = True) -> float:
    return sum(
        p.commitment.quantity
        if not p.commitment.is_savings_plan
        else p.commitment.hourly_commitment_usd
        for p in plan.purchases
        if p.commitment.purchase_model == model and (firm is None or p.firm == firm)
    )


@pytest.mark.parametrize("integer", [True, False])
def test_newsvendor_ri_vs_on_demand(integer: bool) -> None:
    # cost(q) = RI q + OD E[(D - q)+]; d/dq = RI - OD P(D > q) = 0  =>  P(D > q*) = RI/OD = 0.35,
    # i.e. q* = F^-1(1 - 0.35) = F^-1(0.65) = 7 (F(6) = 0.6 < 0.65 <= F(7) = 0.7), unique.
    # E[(D-7)+] = (1 + 2 + 3)/10 = 0.6, so cost = (3.5*7 + 10*0.6) * 8760 = 30.5 * 8760.
    plan = optimize(constant_scenarios(LEVELS), NEWSVENDOR, [], replace(BASE, integer=integer))
    assert quantity(plan) == pytest.approx(7.0, abs=1e-6)
    assert plan.expected_cost_usd["total"] == pytest.approx(30.5 * YEAR_H, rel=1e-9)
    assert plan.expected_cost_usd["commitments"] == pytest.approx(3.5 * 7 * YEAR_H, rel=1e-9)
    assert plan.expected_cost_usd["on_demand"] == pytest.approx(6.0 * YEAR_H, rel=1e-9)
    # utilisation of the 7 RIs: E[min(D,7)]/7 = (1+..+7 + 3*7)/10/7 = 4.9/7
    (p,) = plan.purchases
    assert p.expected_utilization == pytest.approx(4.9 / 7, rel=1e-9)
    assert p.p10_utilization == pytest.approx(1 / 7, rel=1e-9)
    assert p.breakeven_utilization == pytest.approx(0.35)
    # savings vs on-demand: 10 * E[min(D,7)] * 8760 - 3.5 * 7 * 8760 = (49 - 24.5) * 8760
    assert p.expected_savings_usd == pytest.approx(24.5 * YEAR_H, rel=1e-9)


def test_savings_plan_covers_highest_discount_first() -> None:
    # Pools: H100 (OD 10, SP rate 6: discount 40%) and L40S (OD 2, SP rate 1.5: discount 25%).
    pools = (Pool("H100"), Pool("L40S"))
    off = offers(
        offer("on_demand", 10.0),
        offer("on_demand", 2.0, sku="g6e.xlarge", gpu_type="L40S"),
        offer("compute_savings_plan", 6.0, term_months=12),
        offer("compute_savings_plan", 1.5, term_months=12, sku="g6e.xlarge", gpu_type="L40S"),
    )
    # Evaluator with a fixed $9/h plan and demand H100 = 2, L40S = 4 GPUs: the plan covers H100
    # first (1.5 GPUs * 6 = $9), nothing of L40S: per hour 9 + 0.5*10 + 4*2 = 22.
    sp = Commitment(
        commitment_id="sp",
        provider="aws",
        purchase_model="compute_savings_plan",
        region="",
        sku="",
        offering_class="",
        term_months=12,
        payment_option="no_upfront",
        quantity=0.0,
        hourly_commitment_usd=9.0,
        start=START,
        end=START + pd.DateOffset(months=12),
    )
    ts = pd.date_range(START, periods=24, freq="h")
    ev = evaluate([sp], np.tile([2.0, 4.0], (24, 1)), ts, pools, off, BASE)
    assert ev.total_usd == pytest.approx(22.0 * 24)
    assert ev.cost_by_component_usd["on_demand"] == pytest.approx((5 + 8) * 24)
    assert ev.commitment_utilization["sp"] == pytest.approx(1.0)
    # The LP with certain demand buys 2*6 + 4*1.5 = $18/h (both discounts > 0): cost 18/h.
    plan = optimize(constant_scenarios([[2.0, 4.0]], pools=pools), off, [], BASE)
    assert quantity(plan, "compute_savings_plan") == pytest.approx(18.0, abs=1e-3)
    assert plan.expected_cost_usd["total"] == pytest.approx(18.0 * YEAR_H, rel=1e-6)
    assert plan.purchases_frame()["quantity"].isna().all()


@pytest.mark.parametrize("interruptible", [True, False])
def test_spot_eligible_pool(interruptible: bool) -> None:
    # OD 10, spot 4 (+10% flat overhead = 4.4; no interruption rate in the catalog, so no
    # re-runs), RI 5, spot cap 50% of demand, demand 10 GPUs.
    # Interruptible: the first 5 GPUs go to spot (4.4 < 5), the other 5 to RIs (5 < 10): 47/h.
    # Not interruptible: no spot, 10 RIs: 50/h.
    off = offers(
        offer("on_demand", 10.0),
        offer("spot", 4.0),
        offer("reserved_instance", 5.0, term_months=12),
    )
    pools = (Pool("H100", interruptible=interruptible),)
    plan = optimize(
        constant_scenarios([10.0], pools=pools), off, [], replace(BASE, spot_overhead_pct=10.0)
    )
    if interruptible:
        assert quantity(plan) == pytest.approx(5.0)
        assert plan.expected_cost_usd["spot"] == pytest.approx(5 * 4.4 * YEAR_H, rel=1e-9)
        assert plan.expected_cost_usd["total"] == pytest.approx(47.0 * YEAR_H, rel=1e-9)
    else:
        assert quantity(plan) == pytest.approx(10.0)
        assert plan.expected_cost_usd["total"] == pytest.approx(50.0 * YEAR_H, rel=1e-9)


def test_expiring_inventory_and_ladder() -> None:
    # 4 existing RIs expire on 2026-07-01; a certain 6 GPUs until 2027-04-01, then 0 (known: the
    # scenarios run to the valuation horizon 2027-07-01 = last ladder date + 12 months); RI 3.5
    # < OD 10, undiscounted; purchase dates now and 2026-07-01. Now: buy 2 (firm; used all 12
    # months). On 2026-07-01 buy the 4 that expire (tentative; used 9 of 12 months, where 4 more
    # bought now would be used only 6). The 2 GPUs of 2027-01..04 go on-demand.
    # Bill to 2027-07-01: inventory 4*3.5*H1 (sunk) + 6*3.5*8760 + on-demand 2*10*H3.
    inv = [
        Commitment(
            commitment_id="old",
            provider="aws",
            purchase_model="reserved_instance",
            region="us-east-1",
            sku="p5.4xlarge",
            offering_class="standard",
            term_months=12,
            payment_option="no_upfront",
            quantity=4.0,
            hourly_commitment_usd=0.0,
            start=START - pd.DateOffset(months=6),
            end=START + pd.DateOffset(months=6),
        )
    ]
    pol = Policy(
        horizon_months=12, ladder_every_months=6, savings_curve_points=0, discount_rate_pct=0.0
    )
    v_h = (START + pd.DateOffset(months=18) - START) // pd.Timedelta(hours=1)
    h3 = (START + pd.DateOffset(months=15) - START) // pd.Timedelta(hours=1) - YEAR_H
    sc = constant_scenarios([6.0], n_hours=v_h)
    live = np.arange(v_h)[None, :, None] < YEAR_H + h3
    sc = replace(sc, demand_gpus=np.where(live, sc.demand_gpus, 0.0))
    plan = optimize(sc, NEWSVENDOR, inv, pol)
    assert quantity(plan, firm=True) == pytest.approx(2.0)
    ladder = [p for p in plan.purchases if not p.firm]
    assert [(p.commitment.start.date().isoformat(), p.commitment.quantity) for p in ladder] == [
        ("2026-07-01", 4.0)
    ]
    h1 = (START + pd.DateOffset(months=6) - START) // pd.Timedelta(hours=1)
    assert plan.expected_cost_usd["total"] == pytest.approx(
        4 * 3.5 * h1 + 6 * 3.5 * YEAR_H + 2 * 10 * h3, rel=1e-9
    )
    assert plan.expected_cost_usd["existing_sunk"] == pytest.approx(4 * 3.5 * h1, rel=1e-9)
    frame = plan.purchases_frame()
    assert list(frame["start_date"]) == ["2026-01-01", "2026-07-01"]
    assert list(frame["end_date"]) == ["2027-01-01", "2027-07-01"]


def test_cvar_bound_binds_and_reduces_commitment() -> None:
    # Newsvendor (q* = 7 unbounded). Unused spend in scenario D: 3.5 * 8760 * (q - D)+.
    # With beta = 0.8 the tail is the two lowest scenarios (D = 1, 2): CVaR = 3.5*8760*(q - 1.5)
    # for q >= 2. Limit 3.5*8760*3.5 gives q <= 5, and cost is convex in q, so q = 5.
    pol = Policy(
        horizon_months=12,
        ladder_every_months=0,
        savings_curve_points=0,
        cvar_beta=0.8,
        cvar_limit_usd=3.5 * YEAR_H * 3.5,
    )
    plan = optimize(constant_scenarios(LEVELS), NEWSVENDOR, [], pol)
    assert quantity(plan) == pytest.approx(5.0)
    # the percentage form: unused CVaR <= 70% of spend: 3.5(q - 1.5) <= 0.7 * 3.5 q  =>  q <= 5
    pol_pct = Policy(
        horizon_months=12,
        ladder_every_months=0,
        savings_curve_points=0,
        cvar_beta=0.8,
        cvar_limit_pct=70.0,
        integer=False,
    )
    plan = optimize(constant_scenarios(LEVELS), NEWSVENDOR, [], pol_pct)
    assert quantity(plan) == pytest.approx(5.0, abs=1e-6)


def test_infeasible_bound_names_it_and_the_fix() -> None:
    # 10 existing RIs, demand 1..10: in the lowest scenario they are 10% used, so a minimum
    # utilisation of 90% in the worst 10% tail cannot hold whatever is bought.
    inv = [
        Commitment(
            commitment_id="old",
            provider="aws",
            purchase_model="reserved_instance",
            region="us-east-1",
            sku="p5.4xlarge",
            offering_class="standard",
            term_months=12,
            payment_option="no_upfront",
            quantity=10.0,
            hourly_commitment_usd=0.0,
            start=START,
            end=START + pd.DateOffset(months=12),
        )
    ]
    pol = Policy(
        horizon_months=12, ladder_every_months=0, savings_curve_points=0, min_utilization=0.9
    )
    with pytest.raises(InfeasiblePlanError) as err:
        optimize(constant_scenarios(LEVELS), NEWSVENDOR, inv, pol)
    assert err.value.binding == "min_utilization"
    assert "min_utilization" in str(err.value) and "To fix:" in str(err.value)
    pol = Policy(
        horizon_months=12, ladder_every_months=0, savings_curve_points=0, cvar_limit_usd=1.0
    )
    with pytest.raises(InfeasiblePlanError) as err:
        optimize(constant_scenarios(LEVELS), NEWSVENDOR, inv, pol)
    assert err.value.binding == "cvar_limit"
    assert "raise cvar_limit_usd" in str(err.value)


def test_whole_term_charges_long_terms() -> None:
    # Only a 36-month RI at 3.0 exists; decision horizon 12 months; certain demand 5 GPUs whose
    # tail (the scenarios end after 12 months) stays near 5: buy 5, and the bill charges every
    # hour of the term: commitments = 5 * 3 * hours(2026-01-01 .. 2029-01-01).
    off = offers(offer("on_demand", OD), offer("reserved_instance", 3.0, term_months=36))
    plan = optimize(constant_scenarios([5.0]), off, [], BASE)
    assert quantity(plan) == pytest.approx(5.0)
    term_h = (START + pd.DateOffset(months=36) - START) // pd.Timedelta(hours=1)
    assert plan.valuation_hours == term_h
    assert plan.expected_cost_usd["commitments"] == pytest.approx(5 * 3.0 * term_h, rel=1e-9)
    assert plan.purchases_frame()["end_date"].iloc[0] == "2029-01-01"


def test_upfront_budget_mixes_payment_options() -> None:
    # All-upfront RI at 3.0 (upfront 3.0*8760 per instance), no-upfront at 3.5; certain demand 4.
    # Budget for two all-upfront instances: buy 2 all-upfront + 2 no-upfront.
    off = offers(
        offer("on_demand", OD),
        offer(
            "reserved_instance",
            3.0,
            term_months=12,
            payment_option="all_upfront",
            upfront_share=1.0,
        ),
        offer("reserved_instance", 3.5, term_months=12),
    )
    pol = Policy(
        horizon_months=12,
        ladder_every_months=0,
        savings_curve_points=0,
        upfront_budget_usd=2 * 3.0 * YEAR_H,
    )
    plan = optimize(constant_scenarios([4.0]), off, [], pol)
    got = sorted((p.commitment.payment_option, p.commitment.quantity) for p in plan.purchases)
    assert got == [("all_upfront", 2.0), ("no_upfront", 2.0)]
    assert sum(p.upfront_usd for p in plan.purchases) == pytest.approx(2 * 3.0 * YEAR_H)


def test_provider_share_caps_one_provider() -> None:
    # A portable H100 pool, certain 10 GPUs; Lambda contract 2.0 beats the RI 3.5 (egress 0.10).
    # Unbounded: 10 contract GPUs. With at most 60% of the GPU-hours served by commitments per
    # provider: L <= 0.6 (L + A) and L + A = 10 (both fully used) => L <= 6, A = 4.
    off = ri_or_lambda_contract()
    pools = (Pool("H100", portable=True),)
    plan = optimize(constant_scenarios([10.0], pools=pools), off, [], BASE)
    assert quantity(plan, "reserved_contract") == pytest.approx(10.0)
    pol = Policy(
        horizon_months=12, ladder_every_months=0, savings_curve_points=0, max_share_per_provider=0.6
    )
    plan = optimize(constant_scenarios([10.0], pools=pools), off, [], pol)
    assert quantity(plan, "reserved_contract") == pytest.approx(6.0)
    assert quantity(plan, "reserved_instance") == pytest.approx(4.0)
    assert plan.expected_cost_usd["egress"] == pytest.approx(6 * 0.10 * YEAR_H, rel=1e-9)
    (share,) = [b for b in plan.bounds if b["name"] == "max_share_per_provider"]
    assert share["realised"] == pytest.approx(0.6) and share["held"]


@pytest.mark.parametrize(("lam", "want"), [(0.0, 7.0), (0.2, 8.0), (0.5, 10.0)])
def test_risk_averse_objective_buys_more_cover(lam: float, want: float) -> None:
    # Newsvendor with objective E[cost] + λ CVaR_0.9(cost). With 10 equally likely scenarios the
    # CVaR_0.9 is the worst scenario's cost, D = 10: 3.5q + 10(10 - q), slope -6.5 for q < 10.
    # Slope of the objective for q in [k, k+1): 3.5 - 10 P(D > q) - 6.5 λ, with P(D > q) = (10-k)/10.
    # λ = 0.2: k = 7: 3.5 - 3 - 1.3 < 0; k = 8: 3.5 - 2 - 1.3 = 0.2 > 0  ->  q = 8.
    # λ = 0.5: k = 9: 3.5 - 1 - 3.25 < 0  ->  q = 10.
    pol = Policy(
        horizon_months=12,
        ladder_every_months=0,
        savings_curve_points=0,
        risk_aversion=lam,
        cvar_beta=0.9,
    )
    plan = optimize(constant_scenarios(LEVELS), NEWSVENDOR, [], pol)
    assert quantity(plan) == pytest.approx(want)


def test_time_limited_solve_is_an_error_with_the_fix() -> None:
    pol = Policy(
        horizon_months=1,
        ladder_every_months=0,
        savings_curve_points=0,
        integer=False,
        time_reduction="hourly",
        time_limit_s=1e-6,
    )
    with pytest.raises(InfeasiblePlanError) as err:
        optimize(constant_scenarios(LEVELS, n_hours=744), NEWSVENDOR, [], pol)
    assert err.value.binding == "time_limit_s"
    assert "raise time_limit_s" in str(err.value)
