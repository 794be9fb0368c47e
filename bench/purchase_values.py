"""Purchase valuation on the evaluator: one plan of the example organisation, its purchases valued by
leave-one-out (planner/purchase_values.py) two ways, with the same figures:

- per path: the evaluator called once per scenario for every "without" bill (S calls a purchase);
- stacked: one evaluator call a purchase on every scenario laid end to end (the library's way).

Prints the wall time of each, the ratio, the largest difference in any purchase's saving (must be
~0: the bill is hour by hour), and the valuation's share of the whole run.

    .venv/bin/python bench/purchase_values.py [--scenarios 8] [--horizon 6mo]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from planner.commands.options import ConfigFlags, load_config
from planner.evaluate import evaluate_over_scenarios
from planner.purchase_values import (
    expected_hourly_cost,
    expected_hourly_cost_stacked,
    relevant_offers,
    valuation_paths,
)
from planner.workflows.quarterly import quarterly_plan

ROOT = Path(__file__).parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=8)
    ap.add_argument("--horizon", default="6mo")
    args = ap.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}, {platform.node()} "
        f"{platform.machine()}, Python {platform.python_version()}"
    )
    flags = ConfigFlags(
        policy_file=str(ROOT / "examples" / "policy.toml"),
        overrides=("solver.savings_curve_points=0", "solver.time_limit_s=600"),
        scenarios=args.scenarios,
        horizon=args.horizon,
    )
    t0 = time.perf_counter()
    run = quarterly_plan(
        ROOT / "examples" / "usage.csv",
        config=load_config(flags),
        inventory_path=ROOT / "examples" / "inventory.csv",
    )
    t_run = time.perf_counter() - t0
    paths = valuation_paths(run.forecast.scenarios)
    every = [*run.inventory, *run.plan.commitments()]
    offers = relevant_offers(run.catalog.offers, paths.pools, every)
    per_path: list[float] = []
    stacked: list[float] = []
    t1 = time.perf_counter()
    for p in run.plan.purchases:
        others = [c for c in every if c.commitment_id != p.commitment.commitment_id]
        fig = evaluate_over_scenarios(
            "x",
            others,
            paths.demand_gpus,
            paths.probabilities,
            paths.timestamps,
            paths.pools,
            offers,
            run.policy,
        )
        per_path.append(float(expected_hourly_cost(fig).sum()))
    t_per_path = time.perf_counter() - t1
    t2 = time.perf_counter()
    for p in run.plan.purchases:
        others = [c for c in every if c.commitment_id != p.commitment.commitment_id]
        stacked.append(float(expected_hourly_cost_stacked(others, paths, offers, run.policy).sum()))
    t_stacked = time.perf_counter() - t2
    n = len(run.plan.purchases)
    diff = float(np.max(np.abs(np.array(per_path) - np.array(stacked)))) if n else 0.0
    valuation = run.plan.record.get("purchase_valuation", {})
    print(
        f"example: {args.scenarios} scenarios, {args.horizon}, {n} purchases valued "
        f"({len(valuation.get('dropped', []))} dropped by the rule)"
    )
    print(f"whole run (forecast, optimise, value, compare): {t_run:.1f} s")
    print(f"valuation step inside the run: {valuation.get('time_s', float('nan')):.1f} s")
    print(f"'without' bills, per path:  {t_per_path:.1f} s")
    print(f"'without' bills, stacked:   {t_stacked:.1f} s  (ratio {t_per_path / t_stacked:.1f}x)")
    print(f"largest difference in a bill between the two: ${diff:.6f}")


if __name__ == "__main__":
    main()
