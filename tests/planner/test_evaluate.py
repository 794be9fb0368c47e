"""The evaluator (the referee) on hand-checked bills, and its agreement with the LP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planner_factory import START, held_ri, offer, offers

from forecasting.scenarios import DemandScenarios, Pool
from planner.evaluate import evaluate, evaluate_over_scenarios
from planner.inventory import Commitment
from planner.optimize import optimize
from planner.policy import Policy
from planner.valuation import valuation_for

POLICY = Policy(spot_overhead_pct=10.0)  # flat re-run overhead: spot 5 -> 5.5


def ri(qty: float, start: pd.Timestamp = START, months: int = 12) -> Commitment:
    return held_ri("ri", qty, start=start, months=months)


def test_ri_covers_matching_usage_and_bills_every_active_hour() -> None:
    # RI of 3 GPUs at 4/h active from hour 2; usage 5 GPUs for 4 hours; OD 10.
    # hours 0-1: 5*10 = 50 each; hours 2-3: 3*4 + 2*10 = 32 each -> 164.
    off = offers(offer("on_demand", 10.0), offer("reserved_instance", 4.0, term_months=12))
    ts = pd.date_range(START, periods=4, freq="h")
    ev = evaluate(
        [ri(3, START + pd.Timedelta(hours=2))],
        np.full((4, 1), 5.0),
        ts,
        (Pool("H100"),),
        off,
        POLICY,
    )
    assert ev.total_usd == pytest.approx(164.0)
    assert list(ev.hourly_cost_usd) == pytest.approx([50, 50, 32, 32])
    assert ev.coverage == pytest.approx(6 / 20)
    assert ev.commitment_utilization["ri"] == pytest.approx(1.0)
    assert ev.esr == pytest.approx(1 - 164 / 200)
    assert ev.cost_by_provider_usd["aws"] == pytest.approx(164.0)


def test_unused_ri_is_waste_and_spot_takes_the_capped_rest() -> None:
    # interruptible pool, usage 2 then 10; RI 4 GPUs at 4; spot 5*1.1=5.5 up to 50% of usage.
    # hour 0: RI used 2 of 4 (waste 8), cost 16. hour 1: RI covers the on-demand half first (4 of
    # the 5 on-demand GPUs), leaving 1 on-demand (10) and 5 on spot (27.5): 16 + 10 + 27.5 = 53.5.
    off = offers(
        offer("on_demand", 10.0),
        offer("spot", 5.0),
        offer("reserved_instance", 4.0, term_months=12),
    )
    ts = pd.date_range(START, periods=2, freq="h")
    pools = (Pool("H100", interruptible=True),)
    ev = evaluate([ri(4)], np.array([[2.0], [10.0]]), ts, pools, off, POLICY)
    assert ev.total_usd == pytest.approx(16 + 53.5)
    assert ev.waste_usd == pytest.approx(8.0)
    assert ev.cost_by_component_usd["spot"] == pytest.approx(27.5)
    assert ev.commitment_utilization["ri"] == pytest.approx(24 / 32)


def test_lp_expected_cost_equals_evaluator_average_at_hourly_resolution() -> None:
    # RIs, a Compute SP, spot, existing inventory, three pools, random hourly demand: the LP's
    # expected cost equals the mean of the evaluator's bills over the same scenarios.
    off = offers(
        offer("on_demand", 10.0),
        offer("spot", 5.0),
        offer("reserved_instance", 4.0, term_months=12),
        offer("on_demand", 2.0, sku="g6e.xlarge", gpu_type="L40S"),
        offer("reserved_instance", 1.2, term_months=12, sku="g6e.xlarge", gpu_type="L40S"),
        offer("compute_savings_plan", 6.0, term_months=12),
        offer("compute_savings_plan", 1.5, term_months=12, sku="g6e.xlarge", gpu_type="L40S"),
    )
    pools = (Pool("H100", interruptible=True), Pool("L40S"))
    rng = np.random.default_rng(7)
    n_h = 744  # January 2026
    d = rng.gamma(3.0, 2.0, size=(4, n_h, 2))
    sc = DemandScenarios(START, pools, d, np.array([0.1, 0.2, 0.3, 0.4]))
    inv = [ri(2, START - pd.DateOffset(months=11))]  # expires on 2026-02-01, after the horizon
    # Undiscounted, so the LP's objective is its expected cost of new purchases and usage over the
    # valuation horizon (13 months: 1 decided + the 12-month terms); the tail rows are shared.
    pol = Policy(
        horizon_months=1,
        ladder_every_months=0,
        time_reduction="hourly",
        savings_curve_points=0,
        discount_rate_pct=0.0,
    )
    plan = optimize(sc, off, inv, pol)
    assert plan.purchases, "the case should buy something"
    vp = valuation_for(d, START, pol, inv, offers=off)
    figs = evaluate_over_scenarios(
        "plan",
        plan.commitments() + inv,
        vp.demand_gpus,
        sc.probabilities,
        None,
        pools,
        off,
        pol,
        timeline=vp.timeline,
        spot_price_factor=vp.spot_price_factor,
    )
    assert plan.expected_cost_usd["total"] == pytest.approx(figs.expected_cost_usd, rel=1e-9)
    lp = plan.record["objective_usd"] + plan.expected_cost_usd["existing_sunk"]
    assert lp == pytest.approx(figs.expected_cost_usd, rel=1e-4)  # SP $/h rounded to 0.001
    first_month = [
        evaluate(plan.commitments() + inv, d[s], sc.timestamps, pools, off, pol) for s in range(4)
    ]
    assert all(np.isfinite(b.total_usd) for b in first_month)


def test_lp_and_evaluator_agree_with_contracts_egress_and_off_aws_spot() -> None:
    # A portable, interruptible A100 pool served by a Lambda contract (egress paid per GPU-hour),
    # CoreWeave spot (+ egress) and on-demand; an H100 pool on AWS RIs. Eligibility does not
    # overlap across commitment kinds, so the provider rules are optimal and both must agree.
    off = offers(
        offer("on_demand", 10.0),
        offer("reserved_instance", 4.0, term_months=12),
        offer("on_demand", 4.0, sku="p4de.24xlarge", gpu_type="A100-80GB", gpus_per_unit=8),
        offer(
            "reserved_contract",
            2.0,
            provider="lambda",
            region="global",
            sku="A100 reserved",
            gpu_type="A100-80GB",
            term_months=12,
        ),
        offer(
            "spot",
            1.5,
            provider="coreweave",
            region="north-america",
            sku="A100",
            gpu_type="A100-80GB",
            gpus_per_unit=8,
        ),
    )
    pools = (Pool("H100"), Pool("A100-80GB", interruptible=True, portable=True))
    rng = np.random.default_rng(11)
    n_h = 744
    d = rng.gamma(4.0, 3.0, size=(3, n_h, 2))
    sc = DemandScenarios(START, pools, d, np.array([0.5, 0.3, 0.2]))
    pol = Policy(
        horizon_months=1,
        ladder_every_months=0,
        time_reduction="hourly",
        savings_curve_points=0,
        discount_rate_pct=0.0,
    )
    plan = optimize(sc, off, [], pol)
    models = {p.commitment.purchase_model for p in plan.purchases}
    assert models == {"reserved_instance", "reserved_contract"}
    vp = valuation_for(d, START, pol, [], offers=off)
    figs = evaluate_over_scenarios(
        "plan",
        plan.commitments(),
        vp.demand_gpus,
        sc.probabilities,
        None,
        pools,
        off,
        pol,
        timeline=vp.timeline,
        spot_price_factor=vp.spot_price_factor,
    )
    assert plan.record["objective_usd"] == pytest.approx(figs.expected_cost_usd, rel=1e-6)
    comp = figs.cost_by_component()
    for k in ("egress", "spot", "contracts"):
        assert plan.expected_cost_usd[k] == pytest.approx(comp[k], rel=1e-9), k
