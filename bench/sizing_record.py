"""The plan command's sizing-rule record at one origin of the example organisation.

Scores every sizing rule for every pool at the origin ``--weeks-back`` weeks before the example's
history ends (planner/backtest/sizing.py ``rule_costs``: the estate's bill, the other pools on the
point forecast) and prints each pool's bills and regrets (relative to the best rule for that pool)
and the time taken. Figures only, no asserts.

    .venv/bin/python bench/sizing_record.py [--weeks-back 1] [--scenarios 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from forecasting.forecast import forecast
    from planner.backtest.sizing import H_DAY, rule_costs
    from planner.backtest.strategies import history_before, usage_matrix
    from planner.optimize.offers import relevant_offers
    from planner.policy_file import read_policy_file
    from planner.workflows.inputs import load_inputs

    ap = argparse.ArgumentParser()
    ap.add_argument("--weeks-back", type=int, default=1)
    ap.add_argument("--scenarios", type=int, default=30)
    args = ap.parse_args()
    print(
        f"# sizing_record  {pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC  "
        f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cpus), "
        f"load {os.getloadavg()[0]:.1f}"
    )
    cfg = read_policy_file(ROOT / "examples" / "policy.toml")
    inp = load_inputs(ROOT / "examples" / "usage.csv", cfg, ROOT / "examples" / "inventory.csv")
    pooled = inp.pooled
    window_h = 7 * H_DAY
    o = pooled.n_hours - args.weeks_back * window_h
    policy = replace(inp.policy, savings_curve_points=0)
    offers = relevant_offers(inp.catalog.offers, pooled.pools, list(inp.inventory))
    fc = forecast(
        history_before(pooled, o), horizon_hours=window_h, n_scenarios=args.scenarios, seed=cfg.seed
    )
    u_hist, _ = usage_matrix(pooled, 0, o)
    u_win, ts_win = usage_matrix(pooled, o, o + window_h)
    active = [c for c in inp.inventory if c.start <= pd.Timestamp(ts_win[0]) < c.end]
    t0 = time.perf_counter()
    costs = rule_costs(fc, u_hist, u_win, ts_win, offers, active, policy)
    print(f"# origin {pooled.index[o]:%Y-%m-%d %H:%M}; rule_costs {time.perf_counter() - t0:.1f} s")
    rows = []
    for pool, by_rule in costs.items():
        best = min(by_rule.values())
        for rule, usd in by_rule.items():
            rows.append((pool, rule, usd, 100.0 * (usd / best - 1.0)))
    frame = pd.DataFrame(rows, columns=["pool", "rule", "bill_usd", "regret_pct"])
    print(frame.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))


if __name__ == "__main__":
    main()
