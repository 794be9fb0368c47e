"""Benchmark: scenario reduction on the enterprise case — solve time and the error it costs.

The enterprise case of bench/optimizer_enterprise.py (8 pools, AWS + CoreWeave + Lambda, quarterly
ladder, ``--scenarios`` paths) is planned on the full scenario set and on ``k`` scenarios chosen by
fast forward selection (planner/optimize/scenario_reduction.py), and, for comparison, on ``k``
scenarios drawn at random with equal probabilities. Each plan's purchases are then billed by the
evaluator (the referee, hourly) on **every** scenario of the full set; the error of a reduced plan
is its mean bill minus the full plan's mean bill (``--eval-scenarios N`` bills on the first N
scenarios of the full set only, the same N for every plan: they are i.i.d. draws) (a plan made on less information can only cost
more on the full set, up to the LP's time-reduction approximation, so the gap is the price of
reduction). Figures only, no asserts.

    .venv/bin/python bench/scenario_reduction_error.py [--scenarios 100] [--months 36] [--k 10,20,40]
        [--relax] [--eval-scenarios N]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from optimizer_cases import ENTERPRISE_POOLS, synthetic_scenarios

from forecasting.scenarios import DemandScenarios
from planner.evaluate import evaluate
from planner.optimize import optimize
from planner.optimize.scenario_reduction import reduce_scenarios
from planner.policy import Policy
from pricing_data.catalog import load_catalog


def bills(plan, sc: DemandScenarios, offers, policy: Policy) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The evaluator's bill of ``plan``'s purchases on every scenario of ``sc``."""
    h = plan.horizon_hours
    return np.array(
        [
            evaluate(
                plan.commitments(),
                sc.demand_gpus[s, :h],
                sc.timestamps[:h],
                sc.pools,
                offers,
                policy,
            ).total_usd
            for s in range(sc.n_scenarios)
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=100)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--k", default="10,20,40")
    ap.add_argument("--random-seeds", type=int, default=2)
    ap.add_argument(
        "--relax", action="store_true", help="solve the LP relaxation (integer = false)"
    )
    ap.add_argument(
        "--eval-scenarios",
        type=int,
        default=0,
        help="bill on the first N scenarios of the full set only (0: all; they are i.i.d.)",
    )
    args = ap.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    n_hours = int(args.months * 730.5) + 48
    full = synthetic_scenarios(
        ENTERPRISE_POOLS, n_hours=n_hours, n_scenarios=args.scenarios, seed=42
    )
    n_eval = args.eval_scenarios or full.n_scenarios
    judge = replace(
        full,
        demand_gpus=full.demand_gpus[:n_eval],
        probabilities=np.full(n_eval, 1.0 / n_eval),
    )
    offers = load_catalog().offers
    policy = Policy(
        scenario_reduction="off",  # the LP on every scenario (this bench measures it)
        horizon_months=args.months,
        ladder_every_months=3,
        period="quarter",
        blocks_per_period=4,
        integer=not args.relax,
        integer_method="round",
        savings_curve_points=0,
        time_limit_s=3000,
    )

    def plan_on(
        sc: DemandScenarios, label: str, reduce_s: float = 0.0
    ) -> tuple[float, float, float]:
        t = time.perf_counter()
        plan = optimize(sc, offers, [], policy)
        wall = time.perf_counter() - t
        t = time.perf_counter()
        b = bills(plan, judge, offers, policy)
        ev = time.perf_counter() - t
        lp = float(np.dot(sc.probabilities, plan.cost_per_scenario_usd))
        dist = sc.meta.get("reduction", {}).get("distance", float("nan"))
        print(
            f"{label:>22}: S={sc.n_scenarios:3d} optimize {wall:6.1f} s (+{reduce_s:.2f} s reduction) "
            f"LP expected {lp:14,.0f}  evaluator mean over {judge.n_scenarios} of the full set: "
            f"{b.mean():14,.0f} USD (P90 {np.quantile(b, 0.9):14,.0f}; evaluated in {ev:.0f} s); "
            f"distance {dist:,.1f}; load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        return wall, float(b.mean()), lp

    base_wall, base_bill, _ = plan_on(full, "full set")
    for k in (int(x) for x in args.k.split(",")):
        t = time.perf_counter()
        red = reduce_scenarios(full, k)
        r_s = time.perf_counter() - t
        wall, bill, _ = plan_on(red, f"forward selection k={k}", r_s)
        print(
            f"{'':>22}  -> {base_wall / wall:.1f}x faster; mean bill {100 * (bill / base_bill - 1):+.3f}% "
            "vs the full-set plan",
            flush=True,
        )
        for seed in range(args.random_seeds):
            idx = np.random.default_rng(seed).choice(full.n_scenarios, size=k, replace=False)
            rnd = replace(
                full, demand_gpus=full.demand_gpus[idx], probabilities=np.full(k, 1.0 / k), meta={}
            )
            _w, bill_r, _ = plan_on(rnd, f"random k={k} seed={seed}")
            print(
                f"{'':>22}  -> mean bill {100 * (bill_r / base_bill - 1):+.3f}% vs the full-set plan"
            )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
