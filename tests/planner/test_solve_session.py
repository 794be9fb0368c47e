"""A solve session: simplex bases carried between solves of problems of the same shape, and
infeasibility left undiagnosed when the caller only needs to know there is no plan."""

from __future__ import annotations

import importlib
from dataclasses import replace

import numpy as np
import pytest
from planner_factory import constant_scenarios, held_ri, offer, offers

from planner.optimize import InfeasiblePlanError, SolveSession, optimize
from planner.optimize.problem import build_problem
from planner.policy import Policy

solve_mod = importlib.import_module("planner.optimize.solve")  # the package exports solve()

OFF = offers(offer("on_demand", 10.0), offer("reserved_instance", 3.5, term_months=12))
LEVELS = np.arange(1.0, 11.0)
# the LP relaxation (no rounding re-run), one purchase date, bounded CVaR of unused spend
LP = Policy(
    horizon_months=12,
    ladder_every_months=0,
    savings_curve_points=0,
    cvar_beta=0.8,
    cvar_limit_pct=70.0,
    integer=False,
)


def _iterations(sol: solve_mod.Solution) -> int:
    assert sol.state is not None
    return int(sol.state.model.getInfo().simplex_iteration_count)


def test_a_problem_of_the_same_shape_starts_from_the_last_basis() -> None:
    # the same LP built twice: cold it takes simplex iterations; from the first one's optimal
    # basis the second has nothing left to do (0 iterations) and ends at the same optimum
    session = SolveSession()
    first = solve_mod.solve(build_problem(constant_scenarios(LEVELS), OFF, [], LP), session=session)
    assert _iterations(first) > 0 and len(session.bases) == 1
    again = solve_mod.solve(build_problem(constant_scenarios(LEVELS), OFF, [], LP), session=session)
    assert _iterations(again) == 0
    assert again.objective_usd == pytest.approx(first.objective_usd, rel=1e-9)
    # other limits, same rows and columns: warm and cold reach the same optimum
    tight = replace(LP, cvar_limit_pct=40.0)
    cold = solve_mod.solve(build_problem(constant_scenarios(LEVELS), OFF, [], tight))
    warm = solve_mod.solve(
        build_problem(constant_scenarios(LEVELS), OFF, [], tight), session=session
    )
    assert warm.objective_usd == pytest.approx(cold.objective_usd, rel=1e-9)
    assert warm.buy_units == pytest.approx(cold.buy_units, abs=1e-6)
    assert len(session.bases) == 1  # one shape, its latest basis


def test_a_basis_is_kept_per_shape() -> None:
    # 10 scenarios and 3 scenarios give problems of different shapes: neither takes the other's
    session = SolveSession()
    ten = build_problem(constant_scenarios(LEVELS), OFF, [], LP)
    three = build_problem(constant_scenarios([2.0, 5.0, 8.0]), OFF, [], LP)
    solve_mod.solve(ten, session=session)
    assert session.basis(three) is None and session.basis(ten) is not None
    cold = solve_mod.solve(build_problem(constant_scenarios([2.0, 5.0, 8.0]), OFF, [], LP))
    solve_mod.solve(three, session=session)
    assert len(session.bases) == 2
    assert _iterations(cold) > 0


INVENTORY = [held_ri("old", 10.0)]
# 10 existing RIs, demand 1..10: 10 % used in the lowest scenario, so 90 % minimum utilisation
# in the worst tail cannot hold whatever is bought
UNREACHABLE = Policy(
    horizon_months=12, ladder_every_months=0, savings_curve_points=0, min_utilization=0.9
)


def test_an_undiagnosed_session_says_there_is_no_plan_without_the_diagnosis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real = solve_mod._diagnose

    def spy(pb: object) -> InfeasiblePlanError:
        calls.append(1)
        return real(pb)  # type: ignore[arg-type]

    monkeypatch.setattr(solve_mod, "_diagnose", spy)
    with pytest.raises(InfeasiblePlanError) as err:
        optimize(constant_scenarios(LEVELS), OFF, INVENTORY, UNREACHABLE)
    assert err.value.binding == "min_utilization" and calls == [1]
    session = SolveSession()
    with pytest.raises(InfeasiblePlanError) as err:
        optimize(
            constant_scenarios(LEVELS), OFF, INVENTORY, UNREACHABLE, session=session.undiagnosed()
        )
    assert err.value.binding is None and "no solution" in str(err.value)
    assert calls == [1]  # no second diagnosis
    assert session.diagnose and session.undiagnosed().bases is session.bases
