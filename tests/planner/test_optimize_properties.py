"""Invariants of the optimizer on tiny random problems (hypothesis; few examples, LP relaxation)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planner_factory import START, offer, offers

from forecasting.scenarios import DemandScenarios, Pool
from planner.optimize import build_problem, optimize, solve
from planner.policy import Policy

POLICY = Policy(
    horizon_months=1,
    ladder_every_months=0,
    integer=False,
    savings_curve_points=0,
    blocks_per_period=3,
    terms_months=(1,),
)
N_H = 744  # January 2026
POOLS = (Pool("H100", interruptible=True), Pool("L40S"))
OFFERS = offers(
    offer("on_demand", 10.0),
    offer("spot", 5.0),
    offer("reserved_instance", 4.0, term_months=1),
    offer("on_demand", 2.0, sku="g6e.xlarge", gpu_type="L40S"),
    offer("reserved_instance", 1.2, term_months=1, sku="g6e.xlarge", gpu_type="L40S"),
    offer("compute_savings_plan", 6.0, term_months=1),
    offer("compute_savings_plan", 1.5, term_months=1, sku="g6e.xlarge", gpu_type="L40S"),
)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

levels = st.lists(
    st.lists(st.floats(0.0, 20.0, allow_nan=False), min_size=8, max_size=8),
    min_size=1,
    max_size=3,
)


def scenarios(lv: list[list[float]], scale: float = 1.0) -> DemandScenarios:
    """Each scenario: 4 demand levels per pool, each held for a quarter of the hours."""
    a = np.asarray(lv, dtype=float).reshape(len(lv), 4, 2) * scale
    d = np.repeat(a, N_H // 4 + 1, axis=1)[:, :N_H, :]
    return DemandScenarios(START, POOLS, d, np.full(len(lv), 1.0 / len(lv)))


def committed_usd(plan) -> float:
    return sum(
        p.commitment.hourly_commitment_usd + p.commitment.quantity * 4.0 for p in plan.purchases
    )


@SETTINGS
@given(levels)
def test_coverage_meets_demand_in_every_scenario_and_slice(lv: list[list[float]]) -> None:
    pb = build_problem(scenarios(lv), OFFERS, [], POLICY)
    sol = solve(pb)
    demand = pb.index.slices.demand_gpus
    served = sum(sol.served_gpus.values(), np.zeros_like(demand))
    on_demand = demand - served - sol.spot_gpus
    assert (on_demand >= -1e-6).all()  # commitments + spot never exceed demand...
    total = served + sol.spot_gpus + on_demand
    np.testing.assert_allclose(total, demand, atol=1e-9)  # ...and all is served
    assert (sol.spot_gpus <= 0.5 * demand + 1e-6).all()


@SETTINGS
@given(levels, st.floats(1.0, 2.0))
def test_higher_demand_never_lowers_optimal_cost(lv: list[list[float]], scale: float) -> None:
    low = optimize(scenarios(lv), OFFERS, [], POLICY)
    high = optimize(scenarios(lv, scale), OFFERS, [], POLICY)
    assert high.expected_cost_usd["total"] >= low.expected_cost_usd["total"] - 1e-6


@SETTINGS
@given(levels, st.floats(1.01, 3.0))
def test_nothing_is_bought_when_on_demand_is_always_cheaper(
    lv: list[list[float]], markup: float
) -> None:
    off = offers(
        offer("on_demand", 10.0),
        offer("reserved_instance", 10.0 * markup, term_months=1),
        offer("on_demand", 2.0, sku="g6e.xlarge", gpu_type="L40S"),
        offer("compute_savings_plan", 10.0 * markup, term_months=1),
        offer(
            "compute_savings_plan", 2.0 * markup, term_months=1, sku="g6e.xlarge", gpu_type="L40S"
        ),
    )
    pools = (Pool("H100"), Pool("L40S"))
    sc = scenarios(lv)
    sc = DemandScenarios(START, pools, sc.demand_gpus, sc.probabilities)
    plan = optimize(sc, off, [], POLICY)
    assert plan.purchases == ()


@SETTINGS
@given(levels, st.floats(0.05, 0.9), st.floats(0.1, 0.9))
def test_tightening_the_cvar_bound_never_increases_the_commitment(
    lv: list[list[float]], tight: float, ratio: float
) -> None:
    # one commitment offer (an RI) for an interruptible pool: unused spend grows with the RIs
    # bought, so a tighter CVaR limit can only cap the quantity lower.
    off = offers(
        offer("on_demand", 10.0), offer("spot", 5.0), offer("reserved_instance", 4.0, term_months=1)
    )
    sc = scenarios(lv)
    sc = DemandScenarios(START, POOLS[:1], sc.demand_gpus[:, :, :1], sc.probabilities)

    def bought(limit: float | None) -> float:
        plan = optimize(sc, off, [], replace(POLICY, cvar_limit_usd=limit))
        return sum(p.commitment.quantity for p in plan.purchases)

    free = bought(None)
    limit = tight * 4.0 * N_H * free
    loose, tighter = bought(limit), bought(limit * ratio)
    assert tighter <= loose + 1e-6 and loose <= free + 1e-6


def test_min_utilization_never_increases_the_commitment() -> None:
    lv = [[1, 8, 2, 9, 3, 7, 12, 1], [10, 2, 9, 3, 8, 4, 1, 12], [0, 0, 1, 1, 2, 2, 3, 3]]
    spends = [
        optimize(scenarios(lv), OFFERS, [], replace(POLICY, min_utilization=u)).expected_cost_usd[
            "commitments"
        ]
        for u in (0.0, 0.5, 0.8, 0.95)
    ]
    assert spends == sorted(spends, reverse=True)
    assert spends[0] > spends[-1]


@pytest.mark.parametrize("method", ["duration_curve", "typical_days", "hourly"])
def test_every_time_reduction_keeps_expected_on_demand_cost(method: str) -> None:
    # with nothing to buy, the plan costs exactly the hourly on-demand bill at any resolution
    lv = [[1, 8, 2, 9, 3, 7, 12, 1]]
    off = offers(
        offer("on_demand", 10.0), offer("on_demand", 2.0, sku="g6e.xlarge", gpu_type="L40S")
    )
    pools = (Pool("H100"), Pool("L40S"))
    sc = scenarios(lv)
    sc = DemandScenarios(START, pools, sc.demand_gpus, sc.probabilities)
    plan = optimize(sc, off, [], replace(POLICY, time_reduction=method))
    want = float((sc.demand_gpus[0] * np.array([10.0, 2.0])).sum())
    assert plan.expected_cost_usd["total"] == pytest.approx(want, rel=1e-12)


def test_conservative_risk_pricing_never_commits_more_than_exact() -> None:
    # a 1-month RI at 4.0 and a 2-month RI at 3.5 share dispatch (same pool, same GPUs); under a
    # CVaR bound the conservative pricing values their use at the cheaper rate, so it can only be
    # stricter than per-price dispatch.
    off = offers(
        offer("on_demand", 10.0),
        offer("reserved_instance", 4.0, term_months=1),
        offer("reserved_instance", 3.5, term_months=2),
    )
    lv = [[1, 8, 2, 9, 3, 7, 12, 1], [10, 2, 9, 3, 8, 4, 1, 12], [0, 0, 1, 1, 2, 2, 3, 3]]
    sc = scenarios(lv)
    sc = DemandScenarios(
        START,
        POOLS[:1],
        sc.demand_gpus[:, :, :1] * 0 + 5.0 + sc.demand_gpus[:, :, :1],
        sc.probabilities,
    )
    # the LP formulations compared as they are (no tightening by the referee)
    pol = replace(POLICY, terms_months=(1, 2), cvar_limit_pct=5.0, bound_rounds=0)
    spend = {
        mode: optimize(sc, off, [], replace(pol, risk_pricing=mode)).expected_cost_usd[
            "commitments"
        ]
        for mode in ("conservative", "exact")
    }
    assert spend["conservative"] <= spend["exact"] + 1e-6
    assert spend["exact"] > 0
