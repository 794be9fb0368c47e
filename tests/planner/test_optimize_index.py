"""The problem's data is a frozen index with no PuLP object; the LP is built from it, the same
LP every time; solving and savings curves leave the LP's bounds as they were built."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pulp
import pytest
from planner_factory import YEAR_H, constant_scenarios, offer, offers

from forecasting.scenarios import Pool
from planner.optimize import ProblemIndex, build_index, build_lp, optimize, solve
from planner.optimize.problem import family_of
from planner.optimize.savings_curve import savings_curves
from planner.policy import Policy
from planner.serverless import ServerlessOption, ServerlessSetup

OFF = offers(
    offer("on_demand", 10.0),
    offer("reserved_instance", 3.5, term_months=12),
    offer(
        "reserved_instance", 3.0, term_months=36, upfront_share=0.5, payment_option="all_upfront"
    ),
    offer("compute_savings_plan", 4.0, term_months=12),
)
# every family of rows: CVaR (USD and %), minimum utilisation, upfront budget, provider share,
# risk aversion; integer RIs rounded from the relaxation; a ladder; savings curves
POLICY = Policy(
    horizon_months=12,
    ladder_every_months=6,
    savings_curve_points=3,
    cvar_limit_pct=40.0,
    cvar_limit_usd=1e6,
    min_utilization=0.2,
    upfront_budget_usd=1e6,
    max_share_per_provider=1.0,
    risk_aversion=0.1,
    integer=True,
    integer_method="round",
    spot_price_spread_pct=0.0,
)


@pytest.fixture(scope="module")
def index() -> ProblemIndex:
    return build_index(constant_scenarios([2.0, 5.0, 8.0]), OFF, [], POLICY)


def canonical(lp: pulp.LpProblem) -> dict[str, Any]:
    """Variables with bounds and category, rows with sense, rhs and coefficients (by name, in
    the order they were added), and the objective."""
    return {
        "variables": [(v.name, v.lowBound, v.upBound, v.cat) for v in lp.variables()],
        "rows": [
            (c.name, c.sense, c.constant, [(v.name, a) for v, a in c.items()])
            for c in lp.constraints()
        ],
        "objective": (lp.objective.constant, [(v.name, a) for v, a in lp.objective.items()]),
    }


def bounds(lp: pulp.LpProblem) -> dict[str, tuple[Any, Any]]:
    return {v.name: (v.lowBound, v.upBound) for v in lp.variables()}


def test_index_is_frozen(index: ProblemIndex) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        index.n_hours = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        index.groups = ()  # type: ignore[misc]
    with pytest.raises(TypeError):  # the maps are read-only views
        index.buy_npv_usd[(0, 0)] = 0.0  # type: ignore[index]
    with pytest.raises(TypeError):
        index.active[(0, 0)] = ()  # type: ignore[index]
    with pytest.raises(ValueError):  # and the arrays it owns are not writeable
        index.probabilities[0] = 1.0
    with pytest.raises(ValueError):
        index.slice_discount[0] = 1.0


def test_index_holds_no_solver_object(index: ProblemIndex) -> None:
    def walk(x: Any) -> None:
        assert not isinstance(x, pulp.LpVariable | pulp.LpAffineExpression | pulp.LpProblem), x
        if isinstance(x, Mapping):
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, tuple | list | frozenset):
            for v in x:
                walk(v)

    for f in dataclasses.fields(index):
        walk(getattr(index, f.name))
    # what the LP needs is in it: purchases for every (buyable offer, date), risk tail, names
    assert len(index.buy_keys) == 3 * 2  # three commitments, bought now or in 6 months
    assert index.tail_scenarios == (0,)  # the lowest-demand third holds 0.2 of probability
    assert len(index.names.date) == 2


def test_lp_built_twice_from_one_index_is_identical(index: ProblemIndex) -> None:
    one, two = build_lp(index), build_lp(index)
    assert one.lp is not two.lp
    assert not {id(v) for v in one.lp.variables()} & {id(v) for v in two.lp.variables()}
    assert canonical(one.lp) == canonical(two.lp)
    fams = set(one.families)
    assert {"cvar", "min_utilization", "upfront_budget", "provider_share", "risk_aversion"} <= fams
    assert set(one.elastic) == {"cvar", "min_utilization", "upfront_budget", "provider_share"}
    assert one.curve_amount  # the savings curves' amount variables exist


def test_solve_and_curves_restore_the_lp_and_return_the_values(index: ProblemIndex) -> None:
    pb = build_lp(index)
    built = canonical(pb.lp)
    sol = solve(pb)
    assert sol.method == "lp_round"  # RIs fixed to whole units, then re-solved: bounds moved
    for k in index.buy_integer:
        assert sol.buy_units[k] == pytest.approx(round(sol.buy_units[k]), abs=1e-9)
    curves = savings_curves(pb, sol, 3)
    assert curves  # re-solves with the amounts fixed
    after = canonical(pb.lp)
    assert after == built  # every bound a solve or a curve fixed is free again
    # the solution's values are the plan's, whatever the curves left in the variables
    fam = next(iter(curves))
    chosen = next(pt for pt in curves[fam] if pt.get("chosen"))
    assert chosen["amount"] == pytest.approx(sol.values.curve_amounts[fam])
    assert sol.values.curve_amounts[fam] == pytest.approx(
        sum(q for (c, d), q in sol.buy_units.items() if d == 0 and family_of(index, c) == fam)
    )
    # the same problem solved again, and a second LP from the same index, give the same plan:
    # nothing of the first solve (or of the curves' re-solves) stayed behind
    for again in (solve(pb), solve(build_lp(index))):
        assert again.objective_usd == pytest.approx(sol.objective_usd, rel=1e-9)
        assert again.buy_units == pytest.approx(sol.buy_units)
        np.testing.assert_allclose(again.spot_gpus, sol.spot_gpus, atol=1e-9)


def test_the_plans_serverless_record_is_its_own_solution_not_the_last_curve_point() -> None:
    # One scale-to-zero H100 pool, demand 1 or 3 GPUs (probability 1/2 each) all year, busy 95 %
    # of held hours: serverless costs 0.95 x 4 = 3.8 per held GPU-hour, a 12-month RI 3.5, on-
    # demand 10. Newsvendor: the first RI is used in both scenarios (3.5 < 3.8: buy), a second
    # only in one (3.5 > 0.5 x 3.8: don't), so 1 RI and 2 GPUs moved in the high scenario:
    # 0.5 x 2 x 8,760 = 8,760 expected GPU-hours moved. The savings curve's points (0, 0.75 and
    # 1.5 RIs) are re-solved after the plan, the last at 0 RIs (all moved: 17,520); the record
    # must still hold the plan's 8,760.
    pool = Pool("H100", scale_to_zero=True)
    opt = ServerlessOption(
        pool=pool.name,
        gpu_type="H100",
        provider="modal",
        offer_id="modal:any:H100:serverless",
        list_usd_per_gpu_hour=4.0,
        region_multiplier=1.0,
        cold_start_overhead_pct=0.0,
        busy_fraction_by_hour=(0.95,) * 24,
        mode="hybrid",
    )
    pol = Policy(horizon_months=12, ladder_every_months=0, savings_curve_points=3)
    off = offers(offer("on_demand", 10.0), offer("reserved_instance", 3.5, term_months=12))
    sc = constant_scenarios([1.0, 3.0], pools=(pool,))
    plan = optimize(sc, off, [], pol, serverless=ServerlessSetup((opt,)))
    assert sum(p.commitment.quantity for p in plan.purchases) == pytest.approx(1.0)
    (curve,) = plan.savings_curves.values()
    assert [pt["amount"] for pt in curve] == pytest.approx([0.0, 0.75, 1.0, 1.5])
    moved = plan.record["serverless"]["lp_expected_held_gpu_hours_moved"][pool.name]
    assert moved == pytest.approx(0.5 * 2 * YEAR_H, rel=1e-6)
