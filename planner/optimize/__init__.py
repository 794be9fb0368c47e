"""The commitment optimizer: ``optimize(scenarios, offers, inventory, policy) -> Plan``.

Steps, each a plain function: :func:`~planner.optimize.offers.build_cost_table` (candidate offers
per pool, pruned), :func:`~planner.optimize.time_reduction.reduce_time` (weighted slices),
:func:`~planner.optimize.problem.build_problem` (the LP; its docstring holds the maths),
:func:`~planner.optimize.solve.solve` (HiGHS via PuLP, CBC fallback), then the plan figures
(:mod:`planner.optimize.result`) and savings curves (:mod:`planner.optimize.savings_curve`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd

from forecasting.scenarios import DemandScenarios
from planner.inventory import Commitment
from planner.optimize.problem import Problem, build_problem, summary
from planner.optimize.result import plan_figures, purchases
from planner.optimize.savings_curve import savings_curves
from planner.optimize.serverless import serverless_record
from planner.optimize.solve import InfeasiblePlanError, Solution, solve
from planner.plan import Plan
from planner.policy import Policy
from planner.serverless import ServerlessSetup

__all__ = [
    "InfeasiblePlanError",
    "Plan",
    "Policy",
    "Problem",
    "Solution",
    "build_problem",
    "optimize",
    "solve",
]


def optimize(
    scenarios: DemandScenarios,
    offers: pd.DataFrame,
    inventory: list[Commitment],
    policy: Policy,
    *,
    as_of: pd.Timestamp | None = None,
    progress: Callable[[str], None] | None = None,
    serverless: ServerlessSetup | None = None,
) -> Plan:
    """Choose what to buy now (and a tentative ladder) at least expected cost within the policy's
    risk bounds. Raises InfeasiblePlanError (no plan fits, or time limit) or PlannerInputError."""
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    pb = build_problem(scenarios, offers, inventory, policy, as_of=as_of, serverless=serverless)
    t_build = time.perf_counter() - t0
    sizes = summary(pb)
    say(
        f"built the LP in {t_build:.1f} s: {sizes['variables']:,} variables, "
        f"{sizes['constraints']:,} constraints ({sizes['candidates']} candidate commitments, "
        f"{sizes['slices']} slices x {sizes['scenarios']} scenarios)"
    )
    sol = solve(pb)
    say(f"solved ({sol.solver}, {sol.method}) in {sol.time_s:.1f} s")
    t1 = time.perf_counter()
    curves = savings_curves(pb, sol, policy.savings_curve_points)
    t_curves = time.perf_counter() - t1
    if curves:
        say(f"savings curves: {len(curves)} families in {t_curves:.1f} s")
    versions: list[str] = []
    if "catalog_version" in offers.columns:
        versions = sorted({str(v) for v in offers["catalog_version"].dropna().unique()})
    record = {
        "solver": sol.solver,
        "status": sol.status,
        "method": sol.method,
        "gap": sol.gap,
        "objective_usd": sol.objective_usd,
        "build_time_s": round(t_build, 3),
        "solve_time_s": round(sol.time_s, 3),
        "savings_curve_time_s": round(t_curves, 3),
        "total_time_s": round(time.perf_counter() - t0, 3),
        "sizes": sizes,
        "time_reduction": {
            "method": pb.slices.method,
            "period": policy.period,
            "blocks_per_period": policy.blocks_per_period,
            "slices": pb.slices.n_slices,
            "periods": pb.slices.n_periods,
        },
        "catalog_offers": pb.table.n_catalog_offers,
        "candidate_offers": pb.table.n_pruned,
        "catalog_versions": versions,
        "seed": scenarios.seed,
        "as_of": None if as_of is None else pd.Timestamp(as_of).isoformat(),
        "pools": [p.name for p in scenarios.pools],
        "policy": policy.to_dict(),
        "notes": sol.notes,
        "tail_scenarios": pb.tail_scenarios,
    }
    if serverless is not None:  # decisions, break-even inputs (planner.optimize.serverless)
        record["serverless"] = serverless_record(pb, serverless)
    return Plan(
        purchases=tuple(purchases(pb, sol)),
        savings_curves=curves,
        record=record,
        start=pb.start.isoformat(),
        horizon_hours=pb.n_hours,
        pools=tuple(p.name for p in scenarios.pools),
        **plan_figures(pb, sol),
    )
