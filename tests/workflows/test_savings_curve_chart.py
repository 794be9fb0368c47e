"""The savings-curve chart and its caption with points that did not solve.

A curve point the risk bounds make infeasible, or that runs out of time, is saved with
``expected_savings_usd`` None (planner/optimize/savings_curve.py). The 2-scenario, 1-month example
run produced one, and drawing the chart crashed the whole run (CI, 2026-11-30).
"""

from __future__ import annotations

from planner.plan import Plan
from planner.report import charts
from planner.report.plan_report import savings_curve_inputs, unsolved_curve_points_note


def plan_with(curves: dict) -> Plan:
    return Plan(
        purchases=(),
        expected_cost_usd={},
        cost_per_scenario_usd=(),
        on_demand_equivalent_usd=0.0,
        coverage=0.0,
        utilization=0.0,
        esr=0.0,
        waste_usd=0.0,
        savings_curves=curves,
    )


def point(amount: float, saving: float | None, status: str = "Optimal", chosen: bool = False):
    p = {"amount": amount, "unit": "gpus", "expected_savings_usd": saving, "status": status}
    return p | ({"chosen": True} if chosen else {})


def test_unsolved_points_are_left_out_of_the_curve_and_named_in_the_caption() -> None:
    plan = plan_with(
        {
            "reserved_instance|H100|us-east-1": [
                point(0.0, 0.0),
                point(4.0, 900.0, chosen=True),
                point(6.0, None, "Infeasible"),
            ],
            "reserved_contract|H100|us-east-04": [point(0.0, None, "Time limit reached")],
        }
    )
    curves, chosen, _ = savings_curve_inputs(plan)
    assert list(curves) == ["Reserved Instance, H100, us-east-1"]  # the all-failed family: no panel
    assert curves["Reserved Instance, H100, us-east-1"] == ([0.0, 4.0], [0.0, 900.0])
    assert chosen == {"Reserved Instance, H100, us-east-1": 4.0}
    note = unsolved_curve_points_note(plan)
    assert "2 point(s) did not solve" in note
    assert "6.0 (Infeasible)" in note and "(Time limit reached)" in note
    assert charts.savings_curves(curves, chosen=chosen).startswith(b"\x89PNG")


def test_all_points_solved_adds_no_caption() -> None:
    plan = plan_with({"savings_plan|any|": [point(0.0, 0.0), point(1.0, 5.0, chosen=True)]})
    assert unsolved_curve_points_note(plan) == ""
