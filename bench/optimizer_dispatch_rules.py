"""Benchmark: how far the evaluator's sequential provider rules are from the LP's joint dispatch
when several kinds of commitment can serve one pool.

At hourly resolution (no time reduction) the LP's expected cost and the evaluator's mean bill of the
same purchases differ only through dispatch: the evaluator applies RIs, then contracts, then EC2
Instance SPs, then Compute SPs (each to the highest-discount usage first), while the LP shares
capacity optimally. Case: H100 fixed + H100 interruptible/portable + L40S, with RIs, a Lambda
contract, Compute SPs and spot overlapping on the portable pool; 6 scenarios, 2 months hourly.
Figures only.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "planner"))

from planner_factory import offer, offers

from forecasting.scenarios import DemandScenarios, Pool
from planner.evaluate import evaluate
from planner.inventory import Commitment
from planner.optimize import optimize
from planner.policy import Policy


def main() -> None:
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    off = offers(
        offer("on_demand", 10.0),
        offer("spot", 5.0),
        offer("reserved_instance", 4.0, term_months=12),
        offer("on_demand", 2.0, sku="g6e.xlarge", gpu_type="L40S"),
        offer("reserved_instance", 1.2, term_months=12, sku="g6e.xlarge", gpu_type="L40S"),
        offer("compute_savings_plan", 6.0, term_months=12),
        offer("compute_savings_plan", 1.5, term_months=12, sku="g6e.xlarge", gpu_type="L40S"),
        offer("on_demand", 8.0, provider="lambda", region="global", sku="1x H100"),
        offer(
            "reserved_contract",
            3.0,
            provider="lambda",
            region="global",
            sku="H100 reserved",
            term_months=12,
        ),
    )
    start = pd.Timestamp("2026-01-01", tz="UTC")
    pools = (Pool("H100"), Pool("H100", interruptible=True, portable=True), Pool("L40S"))
    d = np.random.default_rng(0).gamma(4, 2, size=(6, 24 * 60, 3))
    sc = DemandScenarios(start, pools, d, np.full(6, 1 / 6))
    inv = [
        Commitment(
            commitment_id="inv1",
            provider="aws",
            purchase_model="reserved_instance",
            region="us-east-1",
            sku="p5.4xlarge",
            offering_class="standard",
            term_months=12,
            payment_option="no_upfront",
            quantity=2,
            hourly_commitment_usd=0,
            start=start - pd.DateOffset(months=11),
            end=start + pd.DateOffset(months=1),
        )
    ]
    for integer in (True, False):
        pol = Policy(
            scenario_reduction="off",  # the LP on every scenario (this bench measures it)
            horizon_months=2,
            ladder_every_months=1,
            savings_curve_points=0,
            time_reduction="hourly",
            integer=integer,
        )
        t = time.perf_counter()
        plan = optimize(sc, off, inv, pol)
        h = plan.horizon_hours
        bills = [
            evaluate(plan.commitments() + inv, d[s, :h], sc.timestamps[:h], pools, off, pol)
            for s in range(6)
        ]
        lp = plan.expected_cost_usd["total"]
        ev = float(np.mean([b.total_usd for b in bills]))
        eg_lp = plan.expected_cost_usd["egress"]
        eg_ev = float(np.mean([b.cost_by_component_usd["egress"] for b in bills]))
        print(
            f"integer={integer!s:5s}: LP {lp:,.2f} vs evaluator {ev:,.2f} USD "
            f"({100 * (ev - lp) / lp:+.4f}%); egress LP {eg_lp:,.2f} vs {eg_ev:,.2f}; "
            f"{time.perf_counter() - t:.1f} s"
        )


if __name__ == "__main__":
    main()
