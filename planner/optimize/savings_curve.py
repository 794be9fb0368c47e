"""Savings curves: expected savings vs all on-demand as a function of the amount committed *now*
in one commitment family, so the user sees how flat the optimum is.

A family is (purchase model, GPU type, region) — Compute Savings Plans are one family. The amount is
GPUs (RIs, contracts) or USD/hour (Savings Plans) bought at the first purchase date. Each point is a
re-solve of the LP relaxation with that amount fixed (``curve_amount`` constraint) and everything
else (other families, ladder, dispatch) free, except the optimum itself, which is the plan's own
point (marked ``"chosen": True``); points run from 0 to ``CURVE_TOP_SHARE`` (150 %) of the optimum. A point the risk bounds make infeasible is left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pulp

from planner.optimize.offers import num
from planner.optimize.problem import Problem, constraint_table
from planner.optimize.result import figures
from planner.optimize.solve import Solution, _extract, _highs_status, _run, warm_highs

CURVE_TOP_SHARE = 1.5  # the curve's range: 0 to 150 % of the plan's choice


def family_of(pb: Problem, c: int) -> str:
    row = pb.table.candidates.iloc[c]
    gpu = str(row["gpu_type"]) or "any"
    region = str(row["region"]) or "any"
    return f"{row['purchase_model']}|{gpu}|{region}"


def savings_curves(
    pb: Problem, sol: Solution, points: int, *, only_bought: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """{family: [{"amount", "unit", "expected_savings_usd"} ...]} by re-solves (module docstring)."""
    if points <= 0:
        return {}
    cands = pb.table.candidates
    fams: dict[str, list[int]] = {}
    for c, d in pb.buy:
        if d == 0:
            fams.setdefault(family_of(pb, c), []).append(c)
    base = figures(pb, sol.buy_units, sol.served_gpus, sol.spot_gpus)
    od_eq = float(pb.probabilities @ base.od_equivalent_s)
    out: dict[str, list[dict[str, Any]]] = {}
    for fam, cs in sorted(fams.items()):
        sp = cands.at[cs[0], "kind"] == "savings_plan"
        mult = {c: 1.0 if sp else num(cands.at[c, "gpus_per_unit"]) for c in cs}
        opt = sum(mult[c] * sol.buy_units.get((c, 0), 0.0) for c in cs)
        if only_bought and opt <= 1e-9:
            continue
        top = CURVE_TOP_SHARE * opt
        grid = np.linspace(0.0, top, points) if points > 1 else np.array([opt])
        if points > 1 and not np.isclose(grid, opt).any():
            grid = np.sort(np.append(grid, opt))
        # the optimum itself needs no re-solve: it is the plan's own point
        at_opt = {
            "amount": float(opt),
            "unit": "usd_per_hour" if sp else "gpus",
            "expected_savings_usd": od_eq - float(pb.probabilities @ base.total_s()),
            "chosen": True,
        }
        grid = grid[~np.isclose(grid, opt)]
        warm = warm_highs(pb)
        if warm is not None:
            pts = _warm_curve(pb, warm, cs, mult, grid, od_eq, bool(sp))
            out[fam] = sorted([*pts, at_opt], key=lambda pt: pt["amount"])
            continue
        expr = pulp.LpAffineExpression({pb.buy[(c, 0)]: mult[c] for c in cs})
        curve = []
        for amount in grid:
            name = "curve_amount"
            pb.lp.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintEQ, name, float(amount)))
            try:
                status, _ = _run(
                    pb, pb.policy.solver, mip=False, time_limit_s=pb.policy.time_limit_s
                )
                if status == "optimal":
                    buy, served, spot = _extract(pb)
                    fig = figures(pb, buy, served, spot)
                    cost = float(pb.probabilities @ fig.total_s())
                    curve.append(
                        {
                            "amount": float(amount),
                            "unit": "usd_per_hour" if sp else "gpus",
                            "expected_savings_usd": od_eq - cost,
                        }
                    )
            finally:
                constraint_table(pb.lp).pop(name, None)
        out[fam] = sorted([*curve, at_opt], key=lambda pt: pt["amount"])
    return out


def _warm_curve(
    pb: Problem,
    warm: Any,
    cs: list[int],
    mult: dict[int, float],
    grid: np.ndarray,
    od_eq: float,
    sp: bool,
) -> list[dict[str, Any]]:
    """The same re-solves on HiGHS's model, warm: one added row whose bounds move per point."""
    warm.setOptionValue("solve_relaxation", True)
    idx = [pb.buy[(c, 0)].index for c in cs]
    warm.addRow(0.0, 0.0, len(idx), idx, [mult[c] for c in cs])
    row = warm.getNumRow() - 1
    curve: list[dict[str, Any]] = []
    try:
        for amount in grid:
            warm.changeRowBounds(row, float(amount), float(amount))
            warm.run()
            if _highs_status(warm) != "optimal":
                continue
            pb.last_solver.findSolutionValues(pb.lp)
            buy, served, spot = _extract(pb)
            fig = figures(pb, buy, served, spot)
            curve.append(
                {
                    "amount": float(amount),
                    "unit": "usd_per_hour" if sp else "gpus",
                    "expected_savings_usd": od_eq - float(pb.probabilities @ fig.total_s()),
                }
            )
    finally:
        warm.deleteRows(1, [row])
        warm.setOptionValue("solve_relaxation", False)
    return curve
