"""Benchmark (1): the enterprise case — 8 GPU pools, AWS + CoreWeave + Lambda with every offer type,
36-month horizon, quarterly ladder, 100 scenarios — built and solved with the shipped catalog.

Prints sizes, build/solve times (wall and CPU: the machine is shared), the plan's headline figures,
the time the evaluator takes to bill the decision window hourly on a sample of scenarios, and the
LP's objective next to the referee's whole-term NPV bill of the same purchases (the time
reduction's and dispatch rules' error, plus the scenario reduction's with ``--reduce-to``).
Figures only, no asserts.

    .venv/bin/python bench/optimizer_enterprise.py [--scenarios 100] [--blocks 4] [--period quarter]
        [--pools 8]   (more than 8: copies in further AWS regions, optimizer_cases.enterprise_pools)
        [--reduce-to k]   (the LP on k scenarios by forward selection; the evaluator bills all)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from optimizer_cases import enterprise_pools, synthetic_scenarios

from planner.evaluate import evaluate
from planner.optimize import build_problem, optimize, solve
from planner.optimize.problem import summary
from planner.optimize.savings_curve import savings_curves
from planner.policy import Policy
from pricing_data.catalog import load_catalog


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=100)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--period", default="quarter")
    ap.add_argument("--integer-method", default="round")
    ap.add_argument("--eval-scenarios", type=int, default=10)
    ap.add_argument("--pools", type=int, default=8)
    ap.add_argument("--reduce-to", type=int, default=0, help="the LP on k scenarios (0: all)")
    args = ap.parse_args()

    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    n_hours = int(args.months * 730.5) + 48
    t = time.perf_counter()
    offers = load_catalog().offers
    pools = enterprise_pools(args.pools, offers)
    sc = synthetic_scenarios(pools, n_hours=n_hours, n_scenarios=args.scenarios, seed=42)
    print(
        f"scenarios: {sc.n_scenarios} x {sc.n_hours} h x {len(sc.pools)} pools "
        f"({time.perf_counter() - t:.1f} s to generate)"
    )
    policy = Policy(
        scenario_reduction="on" if args.reduce_to else "off",
        reduce_scenarios_to=args.reduce_to or 50,
        horizon_months=args.months,
        ladder_every_months=3,
        period=args.period,
        blocks_per_period=args.blocks,
        integer=True,
        integer_method=args.integer_method,
        savings_curve_points=0,
        time_limit_s=600,
    )
    t, c = time.perf_counter(), time.process_time()
    plan = optimize(sc, offers, [], policy, progress=lambda m: print("  " + m))
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    rec = plan.record
    print(f"sizes: {rec['sizes']}")
    print(f"candidates: {rec['candidate_offers']} of {rec['catalog_offers']} catalog offers")
    print(
        f"optimize(): wall {wall:.1f} s, CPU {cpu:.1f} s (build {rec['build_time_s']:.1f} s wall, "
        f"solve {rec['solve_time_s']:.1f} s wall, method {rec['method']}, gap vs LP bound "
        f"{(rec['gap'] or 0) * 100:.3f}%)"
    )
    print(f"purchases: {len(plan.purchases)} ({len(plan.firm)} firm now)")
    for k, v in plan.expected_cost_usd.items():
        print(f"  expected {k:14s} {v:16,.0f} USD")
    print(
        f"  coverage {100 * plan.coverage:.1f}%  utilisation {100 * plan.utilization:.1f}%  "
        f"ESR {100 * plan.esr:.1f}%  waste {plan.waste_usd:,.0f} USD"
    )
    print(plan.purchases_frame().head(12).to_string())

    # the LP's estimate against the hourly bill of the same purchases on a sample of scenarios
    k = min(args.eval_scenarios, sc.n_scenarios)
    h = plan.horizon_hours
    t = time.perf_counter()
    bills = np.array(
        [
            evaluate(
                plan.commitments(),
                sc.demand_gpus[s, :h],
                sc.timestamps[:h],
                sc.pools,
                offers,
                policy,
            ).total_usd
            for s in range(k)
        ]
    )
    print(
        f"evaluator (hourly, decision window, {k} scenarios, {time.perf_counter() - t:.1f} s): "
        f"mean bill {bills.mean():,.0f} USD"
    )
    # the plan's figures are the referee's bill (whole term, NPV); the LP's own estimate of the
    # same quantity is its objective, so the gap is the time reduction's + dispatch rules' error
    wt = plan.whole_term or {}
    lp_npv = float(wt.get("lp_objective_npv_usd", rec.get("objective_usd", float("nan"))))
    ref_npv = float(wt.get("npv_cost_usd", float("nan")))
    print(
        f"LP objective vs referee (whole term, NPV): LP {lp_npv:,.0f} vs referee {ref_npv:,.0f} "
        f"USD, gap {100 * (ref_npv - lp_npv) / ref_npv:.3f}%"
    )

    # savings curves: warm re-solves on the HiGHS model, 3 points per family bought now
    if os.environ.get("BENCH_CURVES", "1") == "1":
        pb = build_problem(sc, offers, [], policy)
        sol = solve(pb)
        t, c = time.perf_counter(), time.process_time()
        curves = savings_curves(pb, sol, 3)
        n_pts = sum(len(v) for v in curves.values())
        print(
            f"savings curves: {len(curves)} families, {n_pts} points in "
            f"{time.perf_counter() - t:.1f} s wall, {time.process_time() - c:.1f} s CPU"
        )
        del pb

    # risk-bounded variant (per-offer dispatch, CVaR of unused spend at 10% of commitment spend)
    if os.environ.get("BENCH_RISK", "1") == "1":
        risky = replace(policy, cvar_limit_pct=10.0, cvar_beta=0.9)
        t, c = time.perf_counter(), time.process_time()
        pb = build_problem(sc, offers, [], risky)
        print(
            f"with a CVaR bound: sizes {summary(pb)['variables']:,} vars, "
            f"{summary(pb)['constraints']:,} rows",
            end="",
        )
        del pb
        plan2 = optimize(sc, offers, [], risky)
        print(
            f"; optimize() wall {time.perf_counter() - t:.1f} s, CPU {time.process_time() - c:.1f} s;"
            f" commitments {plan2.expected_cost_usd['commitments']:,.0f} vs "
            f"{plan.expected_cost_usd['commitments']:,.0f} USD unbounded"
        )


if __name__ == "__main__":
    main()
