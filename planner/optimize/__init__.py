"""The commitment optimizer: ``optimize(scenarios, offers, inventory, policy) -> Plan``.

Steps, each a plain function: :func:`~planner.optimize.offers.build_cost_table` (candidate offers
per pool, pruned), :func:`~planner.optimize.time_reduction.reduce_time` (weighted slices),
:func:`~planner.optimize.index.build_index` (the frozen data: sets, maps, NPVs, names),
:func:`~planner.optimize.problem.build_lp` (the LP built from it; its docstring holds the maths),
:func:`~planner.optimize.solve.solve` (HiGHS via PuLP, CBC fallback), then the plan figures
(:mod:`planner.optimize.result`) and savings curves (:mod:`planner.optimize.savings_curve`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import pandas as pd

from forecasting.scenarios import DemandScenarios
from planner.inventory import Commitment
from planner.optimize.index import ProblemIndex, build_index
from planner.optimize.problem import Problem, build_lp, build_problem, summary
from planner.optimize.referee import RefereeBill, bill_plan, plan_figures, tighten
from planner.optimize.result import purchases
from planner.optimize.savings_curve import savings_curves
from planner.optimize.serverless import serverless_decisions, serverless_record
from planner.optimize.solve import InfeasiblePlanError, Solution, SolveSession, solve
from planner.plan import Plan, Purchase
from planner.policy import Policy
from planner.serverless import ServerlessSetup

__all__ = [
    "InfeasiblePlanError",
    "Plan",
    "Policy",
    "Problem",
    "ProblemIndex",
    "Solution",
    "SolveSession",
    "build_index",
    "build_lp",
    "build_problem",
    "optimize",
    "solve",
    "with_savings_curves",
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
    session: SolveSession | None = None,
) -> Plan:
    """Choose what to buy now (and a tentative ladder) at least expected cost (NPV over every
    term) within the policy's risk bounds, proven on the referee's bill
    (:mod:`planner.optimize.referee`). Raises InfeasiblePlanError (no plan fits, or time limit)
    or PlannerInputError. ``serverless``: options for scale-to-zero pools
    (:mod:`planner.optimize.serverless`); the referee bills the LP's serverless decisions.
    ``session``: simplex bases shared with the caller's other solves, whether an infeasible
    LP is diagnosed and whether the savings curves wait for :func:`with_savings_curves`
    (:class:`~planner.optimize.solve.SolveSession`); the tightening rounds
    always start from the previous round's basis, and their infeasibility is not diagnosed (the
    previous round's plan is kept)."""
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    lp_policy = policy
    notes: list[str] = []
    best: tuple[Problem, Solution, list[Purchase], RefereeBill] | None = None
    od_figs = None
    t_build = t_index = t_solve = t_referee = t_highs = 0.0
    session = session if session is not None else SolveSession()
    for attempt in range(policy.bound_rounds + 1):
        t1 = time.perf_counter()
        index = build_index(scenarios, offers, inventory, lp_policy, serverless=serverless)
        t_index += time.perf_counter() - t1
        pb = build_lp(index)  # = build_problem(...); as_of is informative only
        t_build += time.perf_counter() - t1
        sizes = summary(pb)
        if attempt == 0:
            say(pb.index.valuation.note)
            red = pb.index.scenario_reduction
            if red is not None:
                say(
                    f"the LP keeps {red['kept_scenarios']} of {red['from_scenarios']} scenarios "
                    f"(fast forward selection, Kantorovich distance "
                    f"{red['kantorovich_distance_usd_per_hour']:,.1f} USD/h); the evaluator bills "
                    "the plan on all of them"
                )
            say(
                f"built the LP in {time.perf_counter() - t1:.1f} s: {sizes['variables']:,} "
                f"variables, {sizes['constraints']:,} constraints ({sizes['candidates']} candidate "
                f"commitments, {sizes['slices']} slices x {sizes['scenarios']} scenarios)"
            )
        t1 = time.perf_counter()
        try:  # a tightened round's infeasibility needs no diagnosis: the last plan is kept
            sol = solve(pb, session=session if best is None else session.undiagnosed())
        except InfeasiblePlanError:
            if best is None:
                raise
            notes.append(
                "the LP with tightened limits has no solution; the plan of the previous round is "
                "kept and its breached bounds are reported"
            )
            break
        t_solve += time.perf_counter() - t1
        if sol.state is not None:  # HiGHS's own clock over the solve and its re-runs
            t_highs += float(sol.state.model.getRunTime())
        elif sol.decomposition is not None:
            t_highs += sol.decomposition.highs_time_s()
        say(f"solved ({sol.solver}, {sol.method}) in {sol.time_s:.1f} s")
        buys = purchases(pb.index, sol)
        t1 = time.perf_counter()
        ref = bill_plan(
            pb.index,
            buys,
            inventory,
            offers,
            policy,
            on_demand=od_figs,
            serverless=serverless_decisions(pb.index, sol.values, serverless),
        )
        t_referee += time.perf_counter() - t1
        od_figs = ref.on_demand
        best = (pb, sol, buys, ref)
        if not ref.breached:
            break
        what = ", ".join(
            f"{b.name} {b.realised:,.4g} vs limit {b.limit:,.4g}" for b in ref.breached
        )
        if attempt == policy.bound_rounds:
            notes.append(
                f"the referee finds bounds breached after {attempt} tightening rounds: {what}"
            )
            break
        notes.append(
            f"round {attempt + 1}: the referee's bill breaches {what}; tightened, re-solved"
        )
        say(notes[-1])
        lp_policy = tighten(lp_policy, ref.breached)
    assert best is not None
    pb, sol, buys, ref = best
    ix = pb.index
    red = ix.scenario_reduction
    for b in ref.bounds:
        say(
            f"bound {b.name}: limit {b.limit:,.4g}, referee {b.realised:,.4g} -> "
            + ("held" if b.held else "BREACHED")
        )
    versions: list[str] = []
    if "catalog_version" in offers.columns:
        versions = sorted({str(v) for v in offers["catalog_version"].dropna().unique()})
    record = {
        "solver": sol.solver,
        "status": sol.status,
        "method": sol.method,
        "gap": sol.gap,
        "objective_usd": sol.objective_usd,
        "objective_basis": f"NPV at {policy.discount_rate_pct:g} %/yr over every term",
        "build_time_s": round(t_build, 3),  # index + PuLP
        "index_time_s": round(t_index, 3),  # the data (numpy, pandas); the rest is PuLP
        "solve_time_s": round(t_solve, 3),
        "highs_time_s": round(t_highs, 3),
        "referee_time_s": round(t_referee, 3),
        "savings_curve_time_s": 0.0,  # with_savings_curves adds the curves' time to both
        "total_time_s": round(time.perf_counter() - t0, 3),
        "sizes": summary(pb),
        "time_reduction": {
            "method": ix.slices.method,
            "period": policy.period,
            "blocks_per_period": policy.blocks_per_period,
            "slices": ix.slices.n_slices,
            "periods": ix.slices.n_periods,
            "tail_step_months": policy.tail_step_months,
        },
        "valuation": ix.valuation.note,
        "tail_volatility_per_month": [float(x) for x in ix.valuation.tail_volatility],
        "lp_limits": {
            "cvar_limit_usd": ix.policy.cvar_limit_usd,
            "cvar_limit_pct": ix.policy.cvar_limit_pct,
            "min_utilization": ix.policy.min_utilization,
            "max_share_per_provider": ix.policy.max_share_per_provider,
            "upfront_budget_usd": ix.policy.upfront_budget_usd,
        },
        "spot_cap_share_by_pool": {
            str(pool): float(cap)
            for pool, cap in zip(
                ix.table.pool_prices["pool"],
                ix.table.pool_prices["spot_cap_share"].astype(float),
                strict=True,
            )
            if cap > 0
        },
        "catalog_offers": ix.table.n_catalog_offers,
        "candidate_offers": ix.table.n_pruned,
        "catalog_versions": versions,
        "seed": scenarios.seed,
        "as_of": None if as_of is None else pd.Timestamp(as_of).isoformat(),
        "pools": [p.name for p in scenarios.pools],
        "policy": policy.to_dict(),
        "notes": [*sol.notes, *notes],
        # indices into the scenarios the run was given (also when the LP's were reduced)
        "tail_scenarios": [
            int(red["kept"][i]) if red is not None else int(i) for i in ix.tail_scenarios
        ],
        "scenario_reduction": None if red is None else dict(red),
    }
    if serverless is not None:  # decisions, break-even inputs (planner.optimize.serverless)
        # the plan's solution, not the LP's values after the savings curves' re-solves
        record["serverless"] = serverless_record(ix, sol.values, serverless)
    plan = Plan(
        purchases=tuple(buys),
        curves_later=partial(savings_curves, pb, sol, policy.savings_curve_points),
        record=record,
        start=ix.start.isoformat(),
        horizon_hours=ix.decision_hours,
        pools=tuple(p.name for p in scenarios.pools),
        **plan_figures(ref, ix, buys, sol.objective_usd),
    )
    return plan if session.curves_later else with_savings_curves(plan, say)


def with_savings_curves(plan: Plan, progress: Callable[[str], None] | None = None) -> Plan:
    """``plan`` with the savings curves its LP left for later (``SolveSession.curves_later``):
    drawn now from the LP's own solution and basis, their time in ``savings_curve_time_s`` and
    added to ``total_time_s``."""
    if plan.curves_later is None:
        return plan
    t1 = time.perf_counter()
    curves = plan.curves_later()
    t_curves = time.perf_counter() - t1
    if curves and progress is not None:
        progress(f"savings curves: {len(curves)} families in {t_curves:.1f} s")
    record = {
        **plan.record,
        "savings_curve_time_s": round(t_curves, 3),
        "total_time_s": round(float(plan.record.get("total_time_s", 0.0)) + t_curves, 3),
    }
    return replace(plan, savings_curves=curves, curves_later=None, record=record)
