"""The LP reads like its maths: names carry offer, pool and date; only public solver APIs."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pulp
from planner_factory import constant_scenarios, offer, offers

from planner.optimize.problem import build_problem
from planner.policy import Policy

OFF = offers(offer("on_demand", 10.0), offer("reserved_instance", 3.5, term_months=12))


def test_names_carry_offer_pool_and_date() -> None:
    pol = Policy(ladder_every_months=6, savings_curve_points=0, cvar_limit_pct=20)
    pb = build_problem(constant_scenarios([4.0, 6.0]), OFF, [], pol)
    names = {v.name for v in pb.lp.variables()}
    buy = sorted(n for n in names if n.startswith("buy__"))
    assert buy == [
        "buy__buy_aws_us_east_1_p5.4xlarge_reserved_instance_standard_12_no_upfront__2026_01_01",
        "buy__buy_aws_us_east_1_p5.4xlarge_reserved_instance_standard_12_no_upfront__2026_07_01",
    ]
    serve = [n for n in names if n.startswith("serve__")]
    assert serve and all(
        re.search(r"__H100_fixed_us_east_1__s\d+__\d{4}_\d\d_\d\d_b\d+$", n) for n in serve
    )
    assert "relax_cvar" in names  # the elastic slack of the CVaR family, fixed at 0
    assert pb.elastic["cvar"].upBound == 0


def test_no_private_solver_internals() -> None:
    root = Path(__file__).parents[2] / "planner" / "optimize"
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "_constraints" not in text, path
        assert "findSolutionValues" not in text, path


def test_cached_columns_are_the_models_variables_in_pulps_order() -> None:
    # the solve maps HiGHS columns through Problem.columns, cached at the build: it must equal
    # what lp.variables() gives after every family (risk rows, slacks, curve amounts) is added
    pol = Policy(
        ladder_every_months=6, savings_curve_points=3, cvar_limit_pct=20, min_utilization=0.5
    )
    pb = build_problem(constant_scenarios([4.0, 6.0]), OFF, [], pol)
    assert [v.name for v in pb.columns] == [v.name for v in pb.lp.variables()]
    assert pb.size()["variables"] == len(pb.lp.variables()) > 0


def test_a_variable_added_after_the_build_is_still_read_back() -> None:
    # the cached columns no longer match the model: the solve re-lists lp.variables(), so the
    # extra column and every other one read back from their own columns (same purchases)
    solve_mod = importlib.import_module("planner.optimize.solve")
    pol = Policy(ladder_every_months=6, savings_curve_points=0)
    plain = solve_mod.solve(build_problem(constant_scenarios([4.0, 6.0]), OFF, [], pol))
    pb = build_problem(constant_scenarios([4.0, 6.0]), OFF, [], pol)
    extra = pb.lp.add_variable("aaa_extra", lowBound=0)  # sorts first: shifts every column
    pb.lp.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression({extra: 1.0}), 1, "x", 2.0))
    sol = solve_mod.solve(pb)
    assert sol.state is not None and len(sol.state.variables) == len(pb.columns) + 1
    assert extra.varValue >= 2.0 - 1e-9
    assert sol.buy_units == plain.buy_units
