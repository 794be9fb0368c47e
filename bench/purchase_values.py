"""Purchase valuation on the evaluator: one plan of the example organisation, its purchases valued by
leave-one-out (planner/purchase_values.py) two ways:

- whole term (the library's way): on the run's valuation paths, the forecast's hours then the tail
  model to the end of every term, each purchase's undiscounted and NPV marginal value;
- forecast window (before 2026-12-01): on the forecast's hours only, the rest of each term unseen.

Prints the valuation step's wall time and its share of the whole run, then per purchase both
values, and their sums against the plan's joint whole-term saving (they need not add up).

    .venv/bin/python bench/purchase_values.py [--scenarios 8] [--horizon 6mo]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from planner.commands.options import ConfigFlags, load_config
from planner.purchase_values import forecast_window_paths, marginal_values
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
    window = forecast_window_paths(run.forecast.scenarios)
    t1 = time.perf_counter()
    on_window, _ = marginal_values(
        run.plan.purchases, list(run.inventory), window, run.catalog.offers, run.policy
    )
    t_window = time.perf_counter() - t1
    n = len(run.plan.purchases)
    valuation = run.plan.record.get("purchase_valuation", {})
    print(
        f"example: {args.scenarios} scenarios, {args.horizon}, {n} purchases valued "
        f"({len(valuation.get('dropped', []))} dropped by the rule)"
    )
    print(f"whole run (forecast, optimise, value, compare): {t_run:.1f} s")
    t_val = float(valuation.get("time_s", float("nan")))
    print(f"valuation step inside the run (whole term): {t_val:.1f} s ({t_val / t_run:.0%})")
    print(f"the same purchases on the forecast window only: {t_window:.1f} s")
    print()
    print("purchase  term  whole-term saving  NPV saving  window-only saving  required_by")
    for p in run.plan.purchases:
        c = p.commitment
        w = on_window[c.commitment_id].savings_usd
        print(
            f"{c.commitment_id}  {c.term_months:>4}  {p.expected_savings_usd:>17,.0f}  "
            f"{p.npv_savings_usd:>10,.0f}  {w:>18,.0f}  {p.required_by}"
        )
    whole = run.plan.whole_term
    print(
        f"sum of marginal values: whole term ${sum(p.expected_savings_usd for p in run.plan.purchases):,.0f}, "
        f"window ${sum(v.savings_usd for v in on_window.values()):,.0f}; joint whole-term saving "
        f"vs current inventory is in plan.json headline, vs all on-demand "
        f"${whole.get('cash_savings_usd', float('nan')):,.0f}"
    )
    for b in run.plan.bounds:
        print(
            f"bound {b['name']}: limit {b['limit']:.4g}, realised {b['realised']:.4g}, held {b['held']}"
        )


if __name__ == "__main__":
    main()
