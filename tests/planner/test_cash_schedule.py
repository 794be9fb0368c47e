"""One cash computation on a small plan (fast; the quarterly run's version is
tests/workflows/test_one_cash_schedule.py): the evaluator's schedule gives plan.json's whole_term,
cashflow.csv and the headline, so their totals agree to the cent."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from planner_factory import constant_scenarios, offer, offers

from planner.decision import decision_figures
from planner.evaluate import (
    ALL_ON_DEMAND,
    FIRM_ONLY,
    INVENTORY_ONLY,
    THIS_PLAN,
    evaluate_over_scenarios,
    tariff,
)
from planner.evaluate.plan_bill import rebill_plan
from planner.optimize import optimize
from planner.policy import Policy
from planner.report.cashflow import cashflow_frame
from planner.valuation import valuation_for

OFFERS = offers(
    offer("on_demand", 10.0),
    offer("reserved_instance", 4.0, term_months=12, payment_option="no_upfront"),
    offer("reserved_instance", 3.6, term_months=12, payment_option="all_upfront", upfront_share=1),
)


def test_schedule_totals_are_whole_term_and_headline() -> None:
    # demand 3 GPUs in January, 5 from February: the plan buys RIs now (firm) and in February
    # (ladder); every figure below is a sum of one evaluator schedule
    sc = constant_scenarios([3.0, 3.5], n_hours=744 + 672)
    sc = replace(sc, demand_gpus=sc.demand_gpus.copy())
    sc.demand_gpus[:, 744:, :] += 2.0
    pol = Policy(
        horizon_months=2,
        ladder_every_months=1,
        terms_months=(12,),
        savings_curve_points=0,
        discount_rate_pct=12.0,
        spot_cap_share=0.0,
    )
    plan = optimize(sc, OFFERS, [], pol)
    assert plan.firm and len(plan.firm) < len(plan.purchases), "firm and ladder purchases"
    vp = valuation_for(sc.demand_gpus, sc.start, pol, [], seed=sc.seed, offers=OFFERS)

    def bill(name: str, comms: list) -> object:  # type: ignore[type-arg]
        return evaluate_over_scenarios(
            name,
            comms,
            vp.demand_gpus,
            sc.probabilities,
            None,
            sc.pools,
            OFFERS,
            pol,
            timeline=vp.timeline,
            tf=tariff(comms, sc.pools, OFFERS, pol),
            spot_price_factor=vp.spot_price_factor,
        )

    strategies = (
        bill(ALL_ON_DEMAND, []),
        bill(INVENTORY_ONLY, []),
        bill(THIS_PLAN, plan.commitments()),
        bill(FIRM_ONLY, plan.commitments(firm_only=True)),
    )
    plan = rebill_plan(plan, strategies[2], strategies[0], frozenset(), pol)  # type: ignore[arg-type]
    h = decision_figures(plan, strategies, pol)  # type: ignore[arg-type]
    cf = cashflow_frame(plan)
    wt = plan.whole_term
    n = len(cf)
    assert cf["total_usd"].sum() == pytest.approx(wt["cash_cost_usd"], abs=0.01 * n)
    assert cf["total_npv_usd"].sum() == pytest.approx(wt["npv_cost_usd"], abs=0.01 * n)
    assert cf["new_commitments_usd"].sum() == pytest.approx(wt["new_obligation_usd"], abs=0.01 * n)
    firm = cf[["firm_upfront_usd", "firm_recurring_usd"]].to_numpy().sum()
    ladder = cf[["ladder_upfront_usd", "ladder_recurring_usd"]].to_numpy().sum()
    assert firm == pytest.approx(h["term_obligation_usd"], abs=0.01 * n)
    assert ladder == pytest.approx(h["ladder_term_obligation_usd"], abs=0.01 * n)
    assert firm + ladder == pytest.approx(wt["new_obligation_usd"], abs=0.01 * n)
    assert sum(p.npv_cost_usd or 0.0 for p in plan.firm) == pytest.approx(h["npv_cost_usd"])
    # the obligation in the evaluator's calendar hours is purchases.csv's within 0.5 %
    assert sum(p.term_obligation_usd for p in plan.firm) == pytest.approx(
        h["term_obligation_usd"], rel=0.005
    )
    # savings: whole-term cash and NPV of the same bills; NPV < cash at 12 %/yr
    od, _inv, mine, firm_only = strategies
    assert h["savings_vs_on_demand_usd"] == pytest.approx(
        od.expected_cash_usd - firm_only.expected_cash_usd  # type: ignore[attr-defined]
    )
    assert wt["cash_savings_usd"] == pytest.approx(
        od.expected_cash_usd - mine.expected_cash_usd  # type: ignore[attr-defined]
    )
    assert 0 < wt["npv_savings_usd"] < wt["cash_savings_usd"]
    # the schedule runs to the end of the ladder's 12-month term (13 months), month by month
    assert n == 13
    assert cf["discount_factor"].to_numpy() == pytest.approx(
        1.12 ** (-np.arange(13) / 12), abs=1e-6
    )
    assert (cf["pay_as_you_go_usd"] >= 0).all()
