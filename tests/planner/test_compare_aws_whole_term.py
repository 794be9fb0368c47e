"""compare-aws values Cost Explorer's recommendation and ours the way `planner plan` does: every
term to its end, cash discounted at the cost of capital, NPV beside undiscounted (issue 11)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planner_factory import START, constant_scenarios, offer, offers

from forecasting.scenarios import Pool
from planner.evaluate import evaluate_over_scenarios, tariff
from planner.inventory import Commitment
from planner.policy import Policy
from planner.valuation import discount_by_month, month_starts_h, valuation_for
from planner.workflows.compare_aws import compare

OFFERS = offers(
    offer("on_demand", 10.0),
    offer("reserved_instance", 4.0, term_months=12, payment_option="no_upfront"),
    offer(
        "reserved_instance", 3.0, term_months=36, payment_option="all_upfront", upfront_share=1.0
    ),
)
HOURS_3MO = 744 + 672 + 744  # 2026-01 .. 2026-03


def _ri(cid: str, term: int, payment: str) -> Commitment:
    return Commitment(
        commitment_id=cid,
        provider="aws",
        purchase_model="reserved_instance",
        region="us-east-1",
        sku="p5.4xlarge",
        offering_class="standard",
        term_months=term,
        payment_option=payment,
        quantity=1.0,
        hourly_commitment_usd=0.0,
        start=START,
        end=START + pd.DateOffset(months=term),
    )


def _policy(rate: float) -> Policy:
    # the plan may buy 12-month terms only; Cost Explorer recommends a 36-month RI
    return Policy(
        horizon_months=3,
        ladder_every_months=0,
        terms_months=(12,),
        payment_options=("no_upfront",),
        discount_rate_pct=rate,
        spot_cap_share=0.0,
    )


def _compare(rate: float) -> pd.DataFrame:
    sc = constant_scenarios([2.0], n_hours=HOURS_3MO)
    result = compare(
        {
            "AWS Cost Explorer": [_ri("ce-ri", 36, "all_upfront")],
            "planner": [_ri("ours", 12, "no_upfront")],
        },
        [],
        sc,
        OFFERS,
        _policy(rate),
    )
    assert result.valuation_months == pytest.approx(26304 / 730)  # to the end of the 36-month RI
    assert result.discount_rate_pct == rate
    return result.table.set_index("portfolio")


def test_compare_values_every_term_to_its_end_by_hand() -> None:
    # Demand is 2 GPUs in the 3-month forecast and stays above 1 GPU in the tail (2 % a month
    # volatility), so either RI serves 1 GPU every hour of its term and displaces $10/h on-demand.
    # CE's 36-month all-upfront RI: obligation 3.0 * 36 * 730 = 78,840 paid in month 0; it serves
    # 26,304 h (2026-01-01 .. 2029-01-01) -> saving 10 * 26,304 - 78,840 = 184,200.
    # Ours, 12 months no upfront at 4.0/h: obligation 4 * 8,760 = 35,040; saving 6 * 8,760 = 52,560.
    # NPV at 12 %/yr: month m's cash discounted by 1.12^(-m/12).
    t = _compare(12.0)
    ce, ours, base = t.loc["AWS Cost Explorer"], t.loc["planner"], t.loc["existing only"]
    assert ce["new_obligation_usd"] == pytest.approx(78_840.0)
    assert ce["new_obligation_npv_usd"] == pytest.approx(78_840.0)  # all upfront, month 0
    assert ce["expected_savings_vs_existing_usd"] == pytest.approx(184_200.0, rel=1e-9)
    assert ours["new_obligation_usd"] == pytest.approx(35_040.0)
    assert ours["expected_savings_vs_existing_usd"] == pytest.approx(52_560.0, rel=1e-9)
    h_m = np.diff(month_starts_h(START, 26304))[:36].astype(float)
    delta = discount_by_month(36, 12.0)
    assert ours["new_obligation_npv_usd"] == pytest.approx(float(4.0 * h_m[:12] @ delta[:12]))
    assert ce["expected_savings_vs_existing_npv_usd"] == pytest.approx(
        float(10.0 * h_m @ delta) - 78_840.0, rel=1e-9
    )
    assert ours["expected_savings_vs_existing_npv_usd"] == pytest.approx(
        float(6.0 * h_m[:12] @ delta[:12]), rel=1e-9
    )
    # each RI is fully used over its whole term, in every scenario
    assert ce["new_utilization_worst_decile_pct"] == pytest.approx(100.0)
    # nothing bought: savings zero; all on-demand is the existing-only bill here (no inventory)
    assert base["expected_savings_vs_existing_usd"] == 0.0
    assert base["expected_savings_vs_on_demand_usd"] == pytest.approx(0.0, abs=1e-6)


def test_compare_at_zero_rate_npv_is_undiscounted() -> None:
    t = _compare(0.0)
    for col in ("expected_cost", "expected_savings_vs_existing", "new_obligation"):
        assert t[f"{col}_npv_usd"].to_numpy() == pytest.approx(t[f"{col}_usd"].to_numpy())


def test_compare_bills_the_same_rows_as_the_plan() -> None:
    """compare-aws's figures for a portfolio are the plan's evaluator bill of the same commitments
    on valuation_for's rows (what compare_strategies bills for `planner plan`)."""
    sc = constant_scenarios([1.5, 2.5], n_hours=HOURS_3MO)
    pol = _policy(8.0)
    mine = [_ri("ours", 12, "no_upfront")]
    t = compare({"planner": mine}, [], sc, OFFERS, pol).table.set_index("portfolio")
    vp = valuation_for(sc.demand_gpus, sc.start, pol, [], seed=sc.seed, offers=OFFERS)
    figs = evaluate_over_scenarios(
        "this plan",
        mine,
        vp.demand_gpus,
        sc.probabilities,
        None,
        sc.pools,
        OFFERS,
        pol,
        timeline=vp.timeline,
        tf=tariff(mine, (Pool("H100"),), OFFERS, pol),
        spot_price_factor=vp.spot_price_factor,
    )
    assert t.loc["planner", "expected_cost_npv_usd"] == pytest.approx(figs.expected_npv_usd)
    assert t.loc["planner", "expected_cost_usd"] == pytest.approx(figs.expected_cash_usd)
