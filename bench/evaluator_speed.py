"""The referee's speed: terms and serving prices resolved once per run vs on every bill.

Bills the example organisation's inventory plus a plan's purchases (``--plan plan.json``, default:
none) on every scenario of the example forecast, hourly over the decision horizon, two ways:

- ``per call``: ``evaluate(...)`` once per scenario, which looks every commitment's terms and the
  serving prices up in the catalog on each call (what every caller did before);
- ``tariff once``: ``tariff(...)`` once, then ``bill(...)`` per scenario (what
  ``evaluate_over_scenarios`` and the strategy comparison do now).

Also times one whole-term bill set (valuation rows: hourly, then coarse to the end of every term).
Prints seconds and the ratio; both ways give the same totals (checked).

    .venv/bin/python bench/evaluator_speed.py --plan out/example/plan.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from planner.evaluate import bill, evaluate, tariff
from planner.plan import Plan
from planner.policy_file import read_policy_file
from planner.valuation import hourly_timeline, valuation_for
from planner.workflows.inputs import load_inputs

ROOT = Path(__file__).parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", default=None)
    args = ap.parse_args()
    cfg = read_policy_file(ROOT / "examples" / "policy.toml")
    inputs = load_inputs(ROOT / "examples" / "usage.csv", cfg, ROOT / "examples" / "inventory.csv")
    policy, offers = inputs.policy, inputs.catalog.offers
    sc = inputs.forecast().scenarios
    comms = list(inputs.inventory)
    if args.plan:
        comms += Plan.from_json(Path(args.plan).read_text()).commitments()
    ts = sc.timestamps
    print(
        f"{len(comms)} commitments, {sc.n_scenarios} scenarios x {sc.n_hours:,} h x "
        f"{len(sc.pools)} pools"
    )
    t0 = time.perf_counter()
    a = [
        evaluate(comms, sc.demand_gpus[s], ts, sc.pools, offers, policy).total_usd
        for s in range(sc.n_scenarios)
    ]
    t_call = time.perf_counter() - t0
    t0 = time.perf_counter()
    tf = tariff(comms, sc.pools, offers, policy)
    tl = hourly_timeline(ts)
    b = [bill(comms, sc.demand_gpus[s], tl, tf).total_usd for s in range(sc.n_scenarios)]
    t_once = time.perf_counter() - t0
    assert np.allclose(a, b, rtol=1e-12)
    print(f"per call: {t_call:.2f} s; tariff once: {t_once:.2f} s; ratio {t_call / t_once:.2f}x")
    vp = valuation_for(sc.demand_gpus, sc.start, policy, comms, seed=sc.seed, offers=offers)
    t0 = time.perf_counter()
    for s in range(sc.n_scenarios):
        bill(
            comms,
            vp.demand_gpus[s],
            vp.timeline,
            tf,
            spot_price_factor=float(vp.spot_price_factor[s]),
        )
    t_whole = time.perf_counter() - t0
    print(
        f"whole term ({vp.timeline.valuation_hours / 730:.0f} months, {vp.timeline.n_rows:,} "
        f"rows): {t_whole:.2f} s for {sc.n_scenarios} scenarios"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
