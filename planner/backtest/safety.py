r"""The price of safety: what each risk bound of the policy costs the plan, by the evaluator.

For each bound the policy sets (minimum utilisation, CVaR of unused commitment spend, upfront
budget, provider share), the plan is solved again without that bound alone, and both plans'
commitments (with the inventory) are billed by the evaluator on every scenario:

    cost_with   = Σ_s π_s bill(plan, D_s)         cost_without = Σ_s π_s bill(plan without b, D_s)
    price       = cost_with − cost_without        (> 0: the bound binds; ≈ 0: it does not)

The plan without a bound has the run's serverless options for scale-to-zero pools, and each plan
is billed with its own serverless decisions.

A bound is flagged **not met even by a perfect forecast** when the hindsight optimum of a recent
window (the LP on that window's actual usage, no bounds, billed by the evaluator; computed where
the sizing rules are scored, :func:`planner.backtest.sizing.choose_rules_from_history`) breaks it:
its realised utilisation is below ``min_utilization``, or its unused share of commitment spend is
above ``cvar_limit_pct``. Such a bound costs money whatever the forecast: it forbids the plan that
hindsight would have bought.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from forecasting.parallel import map_pools, n_workers
from forecasting.scenarios import DemandScenarios
from planner.evaluate import evaluate
from planner.evaluate.serverless import plan_serverless
from planner.inventory import Commitment
from planner.optimize.offers import relevant_offers
from planner.plan import Plan
from planner.policy import Policy
from planner.serverless import ServerlessSetup

#: the bounds and the policy fields that switch each off
BOUNDS: dict[str, tuple[str, ...]] = {
    "min_utilization": ("min_utilization",),
    "cvar_unused": ("cvar_limit_usd", "cvar_limit_pct"),
    "upfront_budget": ("upfront_budget_usd",),
    "provider_share": ("max_share_per_provider",),
}


def expected_bill_usd(
    commitments: Sequence[Commitment],
    scenarios: DemandScenarios,
    offers: pd.DataFrame,
    policy: Policy,
    serverless: ServerlessSetup | None = None,
) -> float:
    """``Σ_s π_s bill(commitments, D_s)`` by the evaluator (``serverless``: the plan's serverless
    decisions for its scale-to-zero pools)."""
    ts = scenarios.timestamps
    bills = [
        evaluate(
            list(commitments),
            scenarios.demand_gpus[s],
            ts,
            scenarios.pools,
            offers,
            policy,
            serverless=serverless,
        )
        for s in range(scenarios.n_scenarios)
    ]
    return float(np.dot(scenarios.probabilities, [b.total_usd for b in bills]))


def price_of_safety(
    scenarios: DemandScenarios,
    offers: pd.DataFrame,
    inventory: Sequence[Commitment],
    policy: Policy,
    plan: Plan,
    *,
    bill_on: DemandScenarios | None = None,
    hindsight: Sequence[dict[str, float]] = (),
    serverless: ServerlessSetup | None = None,
) -> list[dict[str, Any]]:
    """One row per bound the policy sets (module docstring): ``plan`` was solved on ``scenarios``;
    both plans are billed on ``bill_on`` (default the same; the quarterly run bills on the
    calibrated forecast scenarios). ``hindsight``: per recent window, ``utilization_pct`` and
    ``unused_pct`` of the hindsight optimum's bill. ``serverless``: the run's options for
    scale-to-zero pools; the plan without a bound has them too, and each plan is billed with its own
    serverless decisions. The plans without a bound need no savings curves; they are solved in
    worker processes when there are two or more (:func:`forecasting.parallel.map_pools`; each LP
    starts cold either way, so the rows do not depend on the number of workers up to ties between
    equally cheap plans)."""
    rows: list[dict[str, Any]] = []
    active = [b for b, fields in BOUNDS.items() if any(getattr(policy, f) for f in fields)]
    if not active:
        return rows
    held = list(inventory)
    judge = bill_on if bill_on is not None else scenarios
    # only the offers the pools and commitments can use: the same plans and bills, far fewer rows
    plan_commitments = plan.commitments()
    offers = relevant_offers(offers, scenarios.pools, [*held, *plan_commitments])
    cost_with = expected_bill_usd(
        [*held, *plan_commitments], judge, offers, policy, plan_serverless(plan, serverless)
    )
    # one LP per bound, each alone: in the kept worker processes when there are two or more
    tasks = [
        (scenarios, offers, held, without_bound(policy, b), judge, policy, serverless)
        for b in active
    ]
    without = map_pools(cost_without_bound, tasks, workers=n_workers(len(tasks), min_tasks=2))
    for bound, (cost_without, note) in zip(active, without, strict=True):
        price = cost_with - cost_without
        breaks = _hindsight_breaks(bound, policy, hindsight)
        rows.append(
            {
                "bound": bound,
                "value": ", ".join(
                    f"{f}={getattr(policy, f)}" for f in BOUNDS[bound] if getattr(policy, f)
                ),
                "cost_with_usd": round(cost_with, 2),
                "cost_without_usd": round(cost_without, 2),
                "price_usd": round(price, 2),
                "price_pct": round(100.0 * price / cost_without, 3)
                if cost_without and np.isfinite(cost_without)
                else None,
                "binding": bool(np.isfinite(price) and price > 1e-6 * max(cost_with, 1.0)),
                "perfect_forecast_breaks_it": breaks,
                "note": note,
            }
        )
    return rows


def without_bound(policy: Policy, bound: str) -> Policy:
    """``policy`` without ``bound`` (and without savings curves)."""
    return replace(
        policy,
        savings_curve_points=0,
        **{f: None for f in BOUNDS[bound]},  # type: ignore[arg-type]
    )


def cost_without_bound(
    scenarios: DemandScenarios,
    offers: pd.DataFrame,
    held: list[Commitment],
    relaxed: Policy,
    judge: DemandScenarios,
    policy: Policy,
    serverless: ServerlessSetup | None,
) -> tuple[float, str]:
    """The expected bill on ``judge`` (under ``policy``'s billing) of the plan the LP buys on
    ``scenarios`` under ``relaxed``, and a note (nan and why when that LP has no solution). A task
    of :func:`price_of_safety`, run in a worker process."""
    from planner.optimize import InfeasiblePlanError, optimize

    try:
        other = optimize(scenarios, offers, held, relaxed, serverless=serverless)
    except InfeasiblePlanError as e:
        return float("nan"), f"no plan without it: {str(e).splitlines()[0]}"
    bill = expected_bill_usd(
        [*held, *other.commitments()], judge, offers, policy, plan_serverless(other, serverless)
    )
    return bill, ""


def _hindsight_breaks(
    bound: str, policy: Policy, hindsight: Sequence[dict[str, float]]
) -> bool | None:
    """Whether a recent hindsight optimum breaks ``bound`` (None: not checkable)."""
    if not hindsight:
        return None
    if bound == "min_utilization" and policy.min_utilization:
        u = [h["utilization_pct"] for h in hindsight if np.isfinite(h["utilization_pct"])]
        return bool(u) and min(u) < 100.0 * policy.min_utilization - 1e-6
    if bound == "cvar_unused" and policy.cvar_limit_pct is not None:
        w = [h["unused_pct"] for h in hindsight if np.isfinite(h["unused_pct"])]
        return bool(w) and max(w) > policy.cvar_limit_pct + 1e-6
    return None


def safety_frame(record: dict[str, Any]) -> pd.DataFrame:
    """plan.json's ``price_of_safety`` rows as a table (empty when the policy sets no bound)."""
    rows = record.get("price_of_safety") or []
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["perfect_forecast_breaks_it"] = frame["perfect_forecast_breaks_it"].map(
        {True: "yes: even hindsight breaks it", False: "no", None: "not checked"}
    )
    return frame
