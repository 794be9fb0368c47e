"""Savings curves: expected savings vs all on-demand as a function of the amount committed *now*
in one commitment family, so the user sees how flat the optimum is.

A family is (purchase model, GPU type, region) — Compute Savings Plans are one family. The amount is
GPUs (RIs, contracts) or USD/hour (Savings Plans) bought at the first purchase date, the variable
``curve_amount_<family>`` of the LP (:func:`~planner.optimize.problem.define_curve_amounts`). Each
point is a re-solve of the LP relaxation with that variable's bounds fixed at the amount, and
everything else (other families, ladder, dispatch) free, except the optimum itself, which is the
plan's own point; points run from 0 to ``CURVE_TOP_SHARE`` (150 %) of the optimum, the optimum marked
``"chosen": True``. The LP's rows never change, so with HiGHS
every re-solve is warm: points are visited nearest the optimum first, each from the previous
point's basis, and after a point that fails the optimum's saved basis is restored. A point the risk
bounds make infeasible (or that runs out of time) is reported with ``expected_savings_usd`` None
and its ``status``. Savings are undiscounted over the whole valuation horizon (the LP's own
figures: a curve's shape, not the referee's bill). The plan's own amounts come from its
:class:`~planner.optimize.solve.Solution`; the re-solves leave the LP's variable values at the last
point, which nothing reads afterwards, and every bound they fix is freed again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.optimize.problem import Problem
from planner.optimize.result import figures
from planner.optimize.solve import (
    Solution,
    _highs_status,
    _run,
    extract,
    read_back,
    set_time_budget,
)
from planner.optimize.subproblems import SubproblemError

CURVE_TOP_SHARE = 1.5  # the curve's range: 0 to 150 % of the plan's choice


def _point(amount: float, sp: bool, savings: float | None, status: str) -> dict[str, Any]:
    return {
        "amount": float(amount),
        "unit": "usd_per_hour" if sp else "gpus",
        "expected_savings_usd": savings,
        "status": status,
    }


def savings_curves(pb: Problem, sol: Solution, points: int) -> dict[str, list[dict[str, Any]]]:
    """{family: [{"amount", "unit", "expected_savings_usd", "status"} ...]} (module docstring)."""
    if points <= 0 or not pb.curve_amount:
        return {}
    prob = pb.index.probabilities
    base = figures(pb.index, sol.values)
    od_eq = float(prob @ base.od_equivalent_s)
    saving_at_opt = od_eq - float(prob @ base.total_s())
    state = sol.state
    warm = state.model if state is not None else None
    saved = warm.getBasis() if warm is not None else None
    out: dict[str, list[dict[str, Any]]] = {}
    optimum = sol.values.curve_amounts  # the plan's amounts (not whatever the LP holds now)
    try:
        if warm is not None:
            warm.setOptionValue("solve_relaxation", True)
        for fam, var in sorted(pb.curve_amount.items()):
            opt = optimum[fam]
            if opt <= 1e-9:
                continue
            sp = "savings_plan" in fam
            top = CURVE_TOP_SHARE * opt
            grid = np.linspace(0.0, top, points) if points > 1 else np.array([opt])
            grid = grid[~np.isclose(grid, opt)]
            order = sorted(grid, key=lambda a: (abs(a - opt), a))
            pts = [{**_point(opt, sp, saving_at_opt, "optimal"), "chosen": True}]
            try:
                for amount in order:
                    status = _solve_at(pb, sol, var, float(amount))
                    if status == "optimal":
                        fig = figures(pb.index, extract(pb))
                        cost = float(prob @ fig.total_s())
                        pts.append(_point(amount, sp, od_eq - cost, status))
                    else:
                        pts.append(_point(amount, sp, None, status))
                        if warm is not None and saved is not None:
                            warm.setBasis(saved)
            finally:  # the amount free again, in PuLP and in the warm model
                var.lowBound, var.upBound = 0.0, None
                if state is not None:
                    state.model.changeColBounds(state.column(var), 0.0, float("inf"))
            out[fam] = sorted(pts, key=lambda pt: pt["amount"])
    finally:
        if warm is not None:
            warm.setOptionValue("solve_relaxation", False)
            if saved is not None:
                warm.setBasis(saved)
    return out


def _solve_at(pb: Problem, sol: Solution, var: Any, amount: float) -> str:
    """Re-solve with the family's amount fixed: warm on HiGHS's model, or on the decomposition
    that solved the plan (its cuts stay valid), else a fresh PuLP solve."""
    state = sol.state
    var.lowBound = var.upBound = amount
    dec = sol.decomposition
    if dec is not None:
        try:
            run = dec.run(fixed={dec.column(var): amount}, time_limit_s=pb.policy.time_limit_s)
            if run.status == "optimal":
                dec.write_values()
        except SubproblemError:  # reported as the point's status, as a failed whole-LP point
            return "error"
        return run.status
    if state is not None:
        state.model.changeColBounds(state.column(var), amount, amount)
        set_time_budget(state.model, pb.policy.time_limit_s)
        state.model.run()
        status = _highs_status(state.model)
        if status == "optimal":
            read_back(state)
        return status
    status, _, _ = _run(pb, pb.policy.solver, mip=False, time_limit_s=pb.policy.time_limit_s)
    return status
