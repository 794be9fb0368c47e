"""Whole-term economics on the example organisation: figures before and after.

Forecasts the example (its policy: 40 scenarios, seed 7), then bills with the referee over the
whole valuation horizon (to the end of the longest term bought, tail model beyond the forecast):

- each plan given with ``--plan`` (e.g. a plan.json written by an older, horizon-only planner):
  its purchases re-billed over their full terms, NPV and undiscounted;
- the plan this planner makes at the policy's discount rate and, with ``--undiscounted``, at 0.

Prints, per plan: purchases by term, the new purchases' whole-term obligation, NPV and
undiscounted cost and savings against all on-demand, spot's saving, and every bound on the referee.

    .venv/bin/python bench/whole_term_example.py --plan /tmp/before/plan.json --undiscounted
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from planner.evaluate.bill import tariff
from planner.evaluate.bounds import check_bounds
from planner.evaluate.cashflow import cashflow_schedule, commitment_cash, schedule_records
from planner.evaluate.compare import evaluate_over_scenarios
from planner.evaluate.plan_bill import upfront_by_date
from planner.optimize import optimize
from planner.plan import Plan
from planner.policy_file import read_policy_file
from planner.valuation import valuation_for
from planner.workflows.inputs import load_inputs

ROOT = Path(__file__).parents[1]


def _line(name: str, plan: Plan, figs, od, policy) -> None:  # type: ignore[no-untyped-def]
    terms: dict[int, int] = {}
    for p in plan.purchases:
        terms[p.commitment.term_months] = terms.get(p.commitment.term_months, 0) + 1
    schedule = schedule_records(cashflow_schedule(figs, policy.discount_rate_pct))
    obl, obl_npv = commitment_cash(schedule, {p.commitment.commitment_id for p in plan.purchases})
    bounds = check_bounds(figs, policy, upfront_by_date(list(plan.purchases)))
    print(f"\n== {name}")
    print(f"purchases by term (months: count): {dict(sorted(terms.items()))}")
    print(f"new purchases' whole-term obligation: ${obl:,.0f} (NPV ${obl_npv:,.0f})")
    print(
        f"expected cost over the valuation horizon: cash ${figs.expected_cash_usd:,.0f}, "
        f"NPV ${figs.expected_npv_usd:,.0f}"
    )
    print(
        f"savings vs all on-demand: cash ${od.expected_cash_usd - figs.expected_cash_usd:,.0f}, "
        f"NPV ${od.expected_npv_usd - figs.expected_npv_usd:,.0f}; spot's part "
        f"${figs.expected_spot_saving_usd:,.0f}"
    )
    for b in bounds:
        print(
            f"bound {b.name}: limit {b.limit:,.4g}, referee {b.realised:,.4g} -> "
            + ("held" if b.held else "BREACHED")
        )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", action="append", default=[], help="plan.json to re-bill")
    ap.add_argument("--undiscounted", action="store_true", help="also plan at 0 %/yr")
    ap.add_argument("--no-optimize", action="store_true")
    args = ap.parse_args()
    cfg = read_policy_file(ROOT / "examples" / "policy.toml")
    inputs = load_inputs(ROOT / "examples" / "usage.csv", cfg, ROOT / "examples" / "inventory.csv")
    policy = inputs.policy
    inventory = list(inputs.inventory)
    sc = inputs.forecast().scenarios
    offers = inputs.catalog.offers
    vp = valuation_for(sc.demand_gpus, sc.start, policy, inventory, seed=sc.seed, offers=offers)
    print(vp.note)

    def bill(commitments, pol):  # type: ignore[no-untyped-def]
        return evaluate_over_scenarios(
            "x",
            commitments,
            vp.demand_gpus,
            sc.probabilities,
            None,
            sc.pools,
            offers,
            pol,
            timeline=vp.timeline,
            tf=tariff(commitments, sc.pools, offers, pol),
            spot_price_factor=vp.spot_price_factor,
        )

    od = bill([], replace(policy, spot_cap_share=0.0))
    for path in args.plan:
        old = Plan.from_json(Path(path).read_text())
        _line(
            f"re-billed over the whole term: {path}",
            old,
            bill([*inventory, *old.commitments()], policy),
            od,
            policy,
        )
    rates = [] if args.no_optimize else [policy.discount_rate_pct]
    if args.undiscounted and not args.no_optimize:
        rates.append(0.0)
    for rate in rates:
        pol = replace(policy, discount_rate_pct=rate)
        t0 = time.perf_counter()
        plan = optimize(
            sc, offers, inventory, pol, progress=lambda m: print("  ", m, file=sys.stderr)
        )
        dt = time.perf_counter() - t0
        figs = bill([*inventory, *plan.commitments()], policy)  # billed at the policy's rate
        _line(
            f"this planner at {rate:g} %/yr (billed at {policy.discount_rate_pct:g} %/yr; {dt:.0f} s)",
            plan,
            figs,
            od,
            policy,
        )
        rec = plan.record
        print(
            f"times: build {rec['build_time_s']:.1f} s, solve {rec['solve_time_s']:.1f} s, "
            f"referee {rec['referee_time_s']:.1f} s, savings curves "
            f"{rec['savings_curve_time_s']:.1f} s of {rec['total_time_s']:.1f} s"
        )
        print("payment options:", sorted({p.commitment.payment_option for p in plan.purchases}))
        out = Path(f"/tmp/whole_term_plan_{rate:g}.json")
        out.write_text(plan.to_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
