"""Benchmark (3): HiGHS (PuLP's API solver) vs CBC (PULP_CBC_CMD) on the same problems.

The enterprise pools (bench/optimizer_cases.py) with fewer scenarios so CBC finishes: the LP
relaxation, and the MIP with whole RIs and contracts. Each solver gets a fresh copy of the problem;
time is the solve only (wall and CPU of this process; CBC runs as a child process, so its CPU shows
in wall time only). Figures only.

    .venv/bin/python bench/optimizer_solvers.py [--scenarios 20] [--months 36]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from optimizer_cases import ENTERPRISE_POOLS, synthetic_scenarios

from planner.optimize import build_problem, solve
from planner.optimize.solve import InfeasiblePlanError
from planner.policy import Policy
from pricing_data.catalog import load_catalog


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=20)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--time-limit", type=float, default=300.0)
    args = ap.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    sc = synthetic_scenarios(
        ENTERPRISE_POOLS, n_hours=args.months * 731, n_scenarios=args.scenarios, seed=3
    )
    offers = load_catalog().offers
    base = Policy(
        scenario_reduction="off",  # the LP on every scenario (this bench measures it)
        horizon_months=args.months,
        ladder_every_months=3,
        period="quarter",
        blocks_per_period=4,
        savings_curve_points=0,
        time_limit_s=args.time_limit,
    )
    for label, pol in (
        ("LP relaxation", replace(base, integer=False)),
        ("MIP (whole RIs/contracts)", replace(base, integer=True, integer_method="mip")),
    ):
        times = {}
        for solver in ("highs", "cbc"):
            pb = build_problem(sc, offers, [], replace(pol, solver=solver))
            t, c = time.perf_counter(), time.process_time()
            try:
                sol = solve(pb)
                res = f"{sol.objective_usd:,.0f} USD ({sol.method}, gap {sol.gap})"
            except InfeasiblePlanError as e:
                res = f"no plan: {e.what}"
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            times[solver] = wall
            size = pb.size()
            print(
                f"{label:27s} {solver:5s}: {size['variables']:,} vars "
                f"({size['integer_variables']} integer), wall {wall:7.2f} s, CPU {cpu:7.2f} s, {res}"
            )
        print(f"{label:27s} CBC / HiGHS wall-time ratio: {times['cbc'] / times['highs']:.2f}")


if __name__ == "__main__":
    main()
