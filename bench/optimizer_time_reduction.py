"""Benchmark (2): the error of time reduction against full hourly resolution.

A case small enough to solve both ways (3 pools incl. an interruptible one, AWS offers from the
shipped catalog, 3 months, 6 scenarios) is solved at hourly resolution (the reference optimum) and
with each reduction; each reduced plan's purchases are then billed hour by hour by the evaluator over
every scenario. Printed: the reduced LP's own estimate, the evaluator's bill of its purchases, and
both against the hourly optimum (the same evaluator on the hourly plan's purchases, and the hourly
LP's objective). LP relaxation throughout, so rounding does not blur the comparison.

    .venv/bin/python bench/optimizer_time_reduction.py [--months 3] [--scenarios 6]
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

from optimizer_cases import synthetic_scenarios

from forecasting.scenarios import Pool
from planner.evaluate import evaluate
from planner.optimize import optimize
from planner.policy import Policy
from pricing_data.catalog import load_catalog

POOLS = (
    (Pool("H100", aws_region="us-east-1"), 64.0, 0.3),
    (Pool("L40S", interruptible=True, aws_region="us-east-1"), 48.0, 0.2),
    (Pool("A10G", aws_region="us-east-1"), 40.0, 0.0),
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--scenarios", type=int, default=6)
    args = ap.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    sc = synthetic_scenarios(POOLS, n_hours=args.months * 745, n_scenarios=args.scenarios, seed=7)
    offers = load_catalog().offers
    base = Policy(
        scenario_reduction="off",  # the LP on every scenario (this bench measures it)
        horizon_months=args.months,
        ladder_every_months=0,
        integer=False,
        savings_curve_points=0,
        time_limit_s=1200,
    )

    def bill(plan) -> float:  # mean hourly bill over the scenarios
        h = plan.horizon_hours
        return float(
            np.mean(
                [
                    evaluate(
                        plan.commitments(),
                        sc.demand_gpus[s, :h],
                        sc.timestamps[:h],
                        sc.pools,
                        offers,
                        base,
                    ).total_usd
                    for s in range(sc.n_scenarios)
                ]
            )
        )

    t = time.perf_counter()
    full = optimize(sc, offers, [], replace(base, time_reduction="hourly"))
    t_full = time.perf_counter() - t
    ref_lp = full.expected_cost_usd["total"]
    ref_bill = bill(full)
    print(
        f"hourly (reference): {full.record['sizes']['variables']:,} vars, {t_full:.1f} s; "
        f"LP {ref_lp:,.0f} USD, evaluator {ref_bill:,.0f} USD "
        f"(LP vs evaluator {100 * (ref_bill - ref_lp) / ref_bill:+.4f}%)"
    )
    print(
        f"{'reduction':34s} {'slices':>6s} {'vars':>8s} {'time s':>7s} {'own LP est.':>14s} "
        f"{'hourly bill':>14s} {'vs hourly opt':>13s} {'vs hourly LP':>12s}"
    )
    for label, pol in (
        ("duration curve, month x 2 blocks", replace(base, blocks_per_period=2)),
        ("duration curve, month x 4 blocks", replace(base, blocks_per_period=4)),
        ("duration curve, month x 8 blocks", replace(base, blocks_per_period=8)),
        (
            "duration curve, quarter x 4 blocks",
            replace(base, period="quarter", blocks_per_period=4),
        ),
        ("typical days, month", replace(base, time_reduction="typical_days")),
        (
            "joint duration curve, month x 4",
            replace(base, time_reduction="joint_duration_curve", blocks_per_period=4),
        ),
        (
            "joint duration curve, quarter x 4",
            replace(base, time_reduction="joint_duration_curve", period="quarter"),
        ),
    ):
        t = time.perf_counter()
        plan = optimize(sc, offers, [], pol)
        dt = time.perf_counter() - t
        b = bill(plan)
        print(
            f"{label:34s} {plan.record['time_reduction']['slices']:6d} "
            f"{plan.record['sizes']['variables']:8,d} {dt:7.1f} "
            f"{plan.expected_cost_usd['total']:14,.0f} {b:14,.0f} "
            f"{100 * (b - ref_bill) / ref_bill:+12.4f}% {100 * (b - ref_lp) / ref_lp:+11.4f}%"
        )


if __name__ == "__main__":
    main()
