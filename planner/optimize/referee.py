"""The plan on the referee: bill the LP's purchases with the evaluator over every scenario and the
whole valuation horizon, check every bound there, and tighten the LP's limits when the referee
finds one breached (the time reduction overstates how well commitments are used: min(mean demand,
level) ≥ mean(min(demand, level)) inside a slice).

Tightening (user limit L, realised R on the referee, the LP's limit l; at most ``bound_rounds``
rounds, each a fresh build and solve):
    CVaR of unused spend (USD or %):  l' = l · L / R · 0.98
    minimum utilisation:              l' = min(0.999, l + 2 · (L − R) + 0.005)
    provider share (GPU-hours):       l' = max(0, l − 2 · (R − L) − 0.005)
    upfront budget (exact in the LP): l' = l · L / R
A bound still breached after the last round, or whose tightened LP is infeasible, is reported
breached, never held.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from planner.evaluate.bill import tariff
from planner.evaluate.bounds import BoundCheck, check_bounds
from planner.evaluate.compare import StrategyFigures, evaluate_over_scenarios
from planner.evaluate.plan_bill import plan_figures as bill_figures
from planner.evaluate.plan_bill import upfront_by_date
from planner.inventory import Commitment
from planner.optimize.index import ProblemIndex
from planner.plan import Purchase
from planner.policy import Policy
from planner.serverless import ServerlessSetup


@dataclass(frozen=True)
class RefereeBill:
    """The plan and all-on-demand billed on the valuation rows, and the bounds checked there."""

    plan: StrategyFigures
    on_demand: StrategyFigures
    bounds: list[BoundCheck]
    inventory_ids: frozenset[str]

    @property
    def breached(self) -> list[BoundCheck]:
        return [b for b in self.bounds if not b.held]


def bill_plan(
    ix: ProblemIndex,
    purchases: list[Purchase],
    inventory: list[Commitment],
    offers: pd.DataFrame,
    user_policy: Policy,
    *,
    on_demand: StrategyFigures | None = None,
    serverless: ServerlessSetup | None = None,
) -> RefereeBill:
    """Bill inventory + purchases on ``ix``'s valuation rows of every scenario (the full set when
    the LP's scenarios were reduced) and check ``user_policy``'s bounds there.
    ``serverless``: the plan's serverless decisions (billed by the evaluator's serverless step)."""
    vp = ix.billing_valuation  # every scenario, also when the LP's were reduced
    prob = ix.billing_probabilities
    pools = ix.pools
    comms = [*inventory, *(p.commitment for p in purchases)]
    policy = replace(ix.policy, **bound_limits(user_policy))
    tf = tariff(comms, pools, offers, policy)
    figs = evaluate_over_scenarios(
        "this plan",
        comms,
        vp.demand_gpus,
        prob,
        None,
        pools,
        offers,
        policy,
        timeline=vp.timeline,
        tf=tf,
        spot_price_factor=vp.spot_price_factor,
        serverless=serverless,
    )
    if on_demand is None:
        no_spot = replace(policy, spot_cap_share=0.0)
        on_demand = evaluate_over_scenarios(
            "all on-demand",
            [],
            vp.demand_gpus,
            prob,
            None,
            pools,
            offers,
            no_spot,
            timeline=vp.timeline,
        )
    checks = check_bounds(figs, user_policy, upfront_by_date(purchases))
    return RefereeBill(figs, on_demand, checks, frozenset(c.commitment_id for c in inventory))


def bound_limits(p: Policy) -> dict[str, Any]:
    """Every bound's limit in ``p`` by its policy field (None: the bound is not set)."""
    return {
        "cvar_limit_usd": p.cvar_limit_usd,
        "cvar_limit_pct": p.cvar_limit_pct,
        "min_utilization": p.min_utilization,
        "max_share_per_provider": p.max_share_per_provider,
        "upfront_budget_usd": p.upfront_budget_usd,
    }


#: the LP limit behind each bound :func:`anchored` moves: (policy field, "max" or "min")
_ANCHORED = {
    "cvar_unused_pct": ("cvar_limit_pct", "max"),
    "cvar_unused_usd": ("cvar_limit_usd", "max"),
    "min_utilization": ("min_utilization", "min"),
}


def anchored(lp_policy: Policy, lp_bounds: Sequence[dict[str, Any]]) -> Policy:
    """``lp_policy`` with each risk limit moved to what the referee measured on the LP's own
    scenarios (``lp_bounds``, a plan's ``bounds``) when that was inside the limit: ``min(l, r)``
    for an upper bound, ``max(l, r)`` for a lower one. Tightening against a bill on other
    scenarios (:func:`tighten` with their breaches) then starts from where the LP stood: a limit
    that did not bind in the LP would take several rounds of ``l · L / R`` before it bit."""
    kw: dict[str, Any] = {}
    for b in lp_bounds:
        spec = _ANCHORED.get(str(b.get("name")))
        if spec is None:
            continue
        field_name, sense = spec
        limit, realised = getattr(lp_policy, field_name), b.get("realised")
        if limit is None or realised is None or not math.isfinite(float(realised)):
            continue
        r = float(realised)
        kw[field_name] = min(limit, r) if sense == "max" else max(limit, r)
    return replace(lp_policy, **kw)


def tighten(lp_policy: Policy, breached: list[BoundCheck]) -> Policy:
    """The LP's limits moved past the referee's shortfall (module docstring)."""
    kw: dict[str, Any] = {}
    for b in breached:
        ratio = b.limit / b.realised if b.realised > 0 else 0.5
        if b.name == "cvar_unused_pct" and lp_policy.cvar_limit_pct is not None:
            kw["cvar_limit_pct"] = lp_policy.cvar_limit_pct * ratio * 0.98
        elif b.name == "cvar_unused_usd" and lp_policy.cvar_limit_usd is not None:
            kw["cvar_limit_usd"] = lp_policy.cvar_limit_usd * ratio * 0.98
        elif b.name == "min_utilization" and lp_policy.min_utilization is not None:
            kw["min_utilization"] = min(
                0.999, lp_policy.min_utilization + 2.0 * b.shortfall() + 0.005
            )
        elif b.name == "max_share_per_provider" and lp_policy.max_share_per_provider is not None:
            kw["max_share_per_provider"] = max(
                0.0, lp_policy.max_share_per_provider - 2.0 * b.shortfall() - 0.005
            )
        elif b.name == "upfront_budget_usd" and lp_policy.upfront_budget_usd is not None:
            kw["upfront_budget_usd"] = lp_policy.upfront_budget_usd * ratio
    return replace(lp_policy, **kw)


def plan_figures(
    ref: RefereeBill, ix: ProblemIndex, purchases: list[Purchase], lp_objective_usd: float
) -> dict[str, Any]:
    """Plan keyword arguments from the referee's bill (planner.evaluate.plan_bill; whole term)."""
    return bill_figures(
        ref.plan,
        ref.on_demand,
        purchases,
        ref.inventory_ids,
        ref.bounds,
        decision_hours=ix.decision_hours,
        lp_objective_npv_usd=lp_objective_usd,
    )
