"""Scenario reduction wired into the optimizer: applied only when asked or above the size, the LP's
probabilities sum to 1, the plan's record carries what was kept, and the evaluator (the referee)
bills the plan on every scenario of the run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from planner_factory import START, YEAR_H, offer, offers

from forecasting.scenarios import DemandScenarios, Pool
from planner.evaluate import evaluate_over_scenarios
from planner.evaluate.bounds import check_bounds
from planner.evaluate.plan_bill import upfront_by_date
from planner.optimize import build_index, optimize
from planner.optimize.index import AUTO_MIN_SCENARIO_POOLS, reduction_target
from planner.policy import Policy
from planner.policy_file import config_from_dict
from planner.valuation import valuation_for
from pricing_data.errors import PlannerInputError

POL = Policy(
    horizon_months=12,
    ladder_every_months=0,
    savings_curve_points=0,
    spot_price_spread_pct=0.0,
    terms_months=(12,),
)
OFF = offers(offer("on_demand", 10.0), offer("reserved_instance", 3.5, term_months=12))


def gamma_scenarios(n: int, *, seed: int = 3) -> DemandScenarios:
    """n equally likely paths of one H100 pool: a level per path (gamma) and hourly noise."""
    rng = np.random.default_rng(seed)
    level = rng.gamma(6.0, 2.0, size=(n, 1, 1))
    d = level * rng.uniform(0.6, 1.4, size=(n, YEAR_H, 1))
    return DemandScenarios(START, (Pool("H100"),), d, np.full(n, 1.0 / n), seed=seed)


@pytest.mark.parametrize(
    ("mode", "k", "s", "p", "expected"),
    [
        ("off", 25, 1000, 10, None),  # never
        ("on", 25, 26, 1, 25),  # whenever S > k
        ("on", 25, 25, 1, None),  # nothing to drop
        ("auto", 25, 100, 3, None),  # S x P = 300 < 400: a small problem is solved whole
        ("auto", 25, 100, 4, 25),  # S x P = 400: reduced
        ("auto", 25, 20, 40, None),  # S <= k
        ("auto", 10, 40, 10, 10),
    ],
)
def test_reduction_applies_only_when_asked_or_above_the_size(
    mode: str, k: int, s: int, p: int, expected: int | None
) -> None:
    assert AUTO_MIN_SCENARIO_POOLS == 400
    pol = replace(POL, scenario_reduction=mode, reduce_scenarios_to=k)
    assert reduction_target(s, p, pol) == expected


def test_index_keeps_full_paths_for_the_referee() -> None:
    full = gamma_scenarios(30)
    pol = replace(POL, scenario_reduction="on", reduce_scenarios_to=5)
    ix = build_index(full, OFF, [], pol)
    red = ix.scenario_reduction
    assert red is not None and red["kept_scenarios"] == 5 and red["from_scenarios"] == 30
    kept = np.array(red["kept"])
    assert len(set(red["kept"])) == 5 and kept.min() >= 0 and kept.max() < 30
    # the LP's probabilities: k of them, summing to 1, the record's
    assert len(ix.probabilities) == 5 and ix.probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(ix.probabilities, red["probabilities"])
    assert ix.slices.demand_gpus.shape[0] == 5
    # the referee's: all 30 with their own probabilities
    np.testing.assert_array_equal(ix.billing_probabilities, full.probabilities)
    vp = valuation_for(full.demand_gpus, START, pol, seed=full.seed, offers=OFF)
    np.testing.assert_array_equal(ix.billing_valuation.demand_gpus, vp.demand_gpus)
    # the LP's valuation paths are the full set's rows of the kept scenarios (same tail draws)
    np.testing.assert_array_equal(ix.valuation.demand_gpus, vp.demand_gpus[kept])
    np.testing.assert_array_equal(ix.valuation.spot_price_factor, vp.spot_price_factor[kept])
    assert red["kantorovich_distance_usd_per_hour"] > 0


def test_no_reduction_leaves_the_index_as_it_was() -> None:
    full = gamma_scenarios(30)
    ix = build_index(full, OFF, [], replace(POL, scenario_reduction="off"))
    assert ix.scenario_reduction is None and ix.full_valuation is None
    assert ix.billing_valuation is ix.valuation and len(ix.probabilities) == 30
    auto = build_index(full, OFF, [], POL)  # 30 scenarios x 1 pool < 400: auto keeps all
    assert auto.scenario_reduction is None
    np.testing.assert_array_equal(auto.slices.demand_gpus, ix.slices.demand_gpus)


def test_plan_is_billed_on_every_scenario_and_records_the_reduction() -> None:
    full = gamma_scenarios(30)
    pol = replace(POL, scenario_reduction="on", reduce_scenarios_to=5)
    plan = optimize(full, OFF, [], pol)
    rec = plan.record
    assert rec["sizes"]["scenarios"] == 5  # the LP saw 5
    red = rec["scenario_reduction"]
    assert red["kept_scenarios"] == 5 and sum(red["probabilities"]) == pytest.approx(1.0)
    assert "all scenarios" in red["billed_on"]
    # the evaluator's figures are over all 30 scenarios: per-scenario bills, and the expected
    # cost equals an independent evaluation of the plan's commitments on the full set
    assert len(plan.cost_per_scenario_usd) == 30
    vp = valuation_for(full.demand_gpus, START, pol, seed=full.seed, offers=OFF)
    comms = [p.commitment for p in plan.purchases]
    assert comms  # RIs at 3.5 vs 10 on demand: a plan buys some
    figs = evaluate_over_scenarios(
        "check",
        comms,
        vp.demand_gpus,
        full.probabilities,
        None,
        full.pools,
        OFF,
        pol,
        timeline=vp.timeline,
        spot_price_factor=vp.spot_price_factor,
    )
    bills = [e.total_usd for e in figs.evaluations]
    np.testing.assert_allclose(plan.cost_per_scenario_usd, bills, rtol=1e-9)


def test_bounds_are_checked_on_the_full_set() -> None:
    # A CVaR bound with the LP on 4 of 30 scenarios: the bound reported is the referee's on all
    # 30 (its realised value is the CVaR of the evaluator's unused spend over the full set).
    full = gamma_scenarios(30, seed=8)
    pol = replace(
        POL, scenario_reduction="on", reduce_scenarios_to=4, cvar_beta=0.9, cvar_limit_pct=10.0
    )
    plan = optimize(full, OFF, [], pol)
    (b,) = plan.bounds
    assert b["name"] == "cvar_unused_pct"
    assert b["held"] == (b["realised"] <= 10.0 + 1e-9)
    vp = valuation_for(full.demand_gpus, START, pol, seed=full.seed, offers=OFF)
    comms = [p.commitment for p in plan.purchases]
    figs = evaluate_over_scenarios(
        "check",
        comms,
        vp.demand_gpus,
        full.probabilities,
        None,
        full.pools,
        OFF,
        pol,
        timeline=vp.timeline,
        spot_price_factor=vp.spot_price_factor,
    )
    (check,) = check_bounds(figs, pol, upfront_by_date(plan.purchases))
    assert b["realised"] == pytest.approx(check.realised, rel=1e-9)


def test_policy_keys_are_validated_and_read_from_the_file() -> None:
    with pytest.raises(PlannerInputError, match="unknown value"):
        replace(POL, scenario_reduction="sometimes").validate()
    with pytest.raises(PlannerInputError, match=">= 1 scenario"):
        replace(POL, reduce_scenarios_to=0).validate()
    doc = {"solver": {"scenario_reduction": "on", "reduce_scenarios_to": 12}}
    pol = config_from_dict(doc).policy
    assert pol.scenario_reduction == "on" and pol.reduce_scenarios_to == 12


def test_default_is_auto_to_50_scenarios() -> None:
    # the measured default (bench/RESULTS-scale.md section 5): 100 scenarios of 4 pools -> 50;
    # the example's 16 scenarios, or 100 scenarios of 3 pools, are solved whole
    pol = Policy()
    assert (pol.scenario_reduction, pol.reduce_scenarios_to) == ("auto", 50)
    assert reduction_target(100, 4, pol) == 50
    assert reduction_target(16, 40, pol) is None
    assert reduction_target(100, 3, pol) is None
