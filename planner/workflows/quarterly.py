"""The quarterly planning run: usage + inventory + policy -> a reviewed plan and its comparisons.

``quarterly_plan`` chains the library's steps, each a plain function owned by its module::

    read_usage -> make_pools -> forecast -> load_catalog -> optimize -> evaluate (the referee)

and compares, with the evaluator averaged over the same demand scenarios (probability-weighted):

- ``all on-demand``: no commitments and no spot (what the bill would be with nothing bought);
- ``current inventory only``: the existing commitments until they expire, the rest on
  spot (where allowed) and on-demand;
- ``this plan``: existing commitments plus every recommended purchase (firm and ladder);
- ``this plan, firm purchases only``: existing commitments plus what is bought now.

Annual figures scale the horizon's cost by 8,760 h / horizon hours. "Worst-tail utilisation" is the
probability-weighted ``1 − cvar_beta`` quantile (P10 by default) of commitment utilisation across
scenarios.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from forecasting import Forecast, PooledUsage, UsageHistory, forecast, make_pools, read_usage
from planner.evaluate.compare import (
    ALL_ON_DEMAND,
    Progress,
    StrategyFigures,
    compare_strategies,
)
from planner.inventory import Commitment, read_inventory
from planner.optimize import optimize
from planner.plan import Plan
from planner.policy import Policy
from planner.policy_file import PlanningConfig, egress_usd_per_gpu_hour
from planner.workflows.serverless import serverless_for, with_busy
from pricing_data.catalog import Catalog, load_catalog
from pricing_data.errors import PlannerInputError


@dataclass(frozen=True)
class PlanRun:
    """Everything a quarterly run produced, for the CLI and the reports."""

    config: PlanningConfig
    policy: Policy
    usage_file: str
    inventory_file: str | None
    history: UsageHistory
    pooled: PooledUsage
    forecast: Forecast
    catalog: Catalog
    inventory: tuple[Commitment, ...]
    plan: Plan
    strategies: tuple[StrategyFigures, ...]

    def strategy(self, name: str) -> StrategyFigures:
        for s in self.strategies:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def start(self) -> pd.Timestamp:
        return self.forecast.scenarios.start

    @property
    def end(self) -> pd.Timestamp:
        return self.start + pd.Timedelta(hours=self.plan.horizon_hours)

    def comparison_frame(self) -> pd.DataFrame:
        """One row per strategy: expected and annual cost, savings, ESR, coverage, utilisation."""
        od = self.strategy(ALL_ON_DEMAND).expected_cost_usd
        q = 1 - self.policy.cvar_beta
        rows = []
        for s in self.strategies:
            cost = s.expected_cost_usd
            rows.append(
                {
                    "strategy": s.name,
                    "expected_cost_usd": round(cost, 2),
                    "annual_cost_usd": round(s.annual_cost_usd, 2),
                    "savings_vs_on_demand_usd": round(od - cost, 2),
                    "esr_pct": round(100 * s.expected("esr"), 2) + 0.0,  # no "-0.00"
                    "coverage_pct": round(100 * s.expected("coverage"), 2),
                    "utilization_pct": round(100 * s.expected("utilization"), 2)
                    if s.has_spend
                    else None,
                    f"p{round(100 * q):02d}_utilization_pct": round(100 * s.tail_utilization(q), 2)
                    if s.has_spend
                    else None,
                    "waste_usd": round(s.expected("waste_usd"), 2),
                }
            )
        return pd.DataFrame(rows)

    def upfront_now_usd(self) -> float:
        return float(sum(p.upfront_usd for p in self.plan.purchases if p.firm))

    def expiring_inventory(self) -> pd.DataFrame:
        """Existing commitments that end inside the horizon (they leave a gap the plan fills)."""
        rows = [
            {
                "commitment_id": c.commitment_id,
                "provider": c.provider,
                "purchase_model": c.purchase_model,
                "sku": c.sku or "(any)",
                "quantity": c.quantity if not c.is_savings_plan else None,
                "hourly_commitment_usd": c.hourly_commitment_usd if c.is_savings_plan else None,
                "end_date": c.end.date().isoformat(),
                "days_left": int((c.end - self.start) / pd.Timedelta(days=1)),
            }
            for c in self.inventory
            if self.start <= c.end < self.end
        ]
        return pd.DataFrame(rows)


def horizon_hours(start: pd.Timestamp, months: int) -> int:
    """Hours from ``start`` to the same time ``months`` calendar months later."""
    return int((start + pd.DateOffset(months=months) - start) / pd.Timedelta(hours=1))


def quarterly_plan(
    usage_path: str | Path,
    *,
    config: PlanningConfig,
    inventory_path: str | Path | None = None,
    progress: Progress | None = None,
) -> PlanRun:
    """Forecast, optimise and compare: the quarterly run (module docstring)."""
    say = progress or (lambda _m: None)
    inventory = read_inventory(inventory_path) if inventory_path else []
    say(f"reading usage {usage_path}")
    history = read_usage(usage_path)
    return plan_from_history(
        history,
        inventory,
        config,
        usage_file=str(usage_path),
        inventory_file=None if inventory_path is None else str(inventory_path),
        progress=progress,
    )


def forecast_for(
    history: UsageHistory, config: PlanningConfig, progress: Progress | None = None
) -> tuple[PooledUsage, Forecast]:
    """Pools and the demand forecast for ``config`` (horizon, scenarios, seed, growth, pool rules)."""
    say = progress or (lambda _m: None)
    pooled = make_pools(history, config.pool_rules, default_aws_region=config.default_aws_region)
    start = pooled.end + pd.Timedelta(hours=1)
    hours = horizon_hours(start, config.policy.horizon_months)
    say(
        f"{len(pooled.pools)} pools, {pooled.n_hours:,} h of history; forecasting {hours:,} h x {config.scenarios} scenarios"
    )
    fc = forecast(
        pooled,
        horizon_hours=hours,
        n_scenarios=config.scenarios,
        seed=config.seed,
        growth=config.growth,
        progress=say,
    )
    return pooled, fc


def effective_policy(config: PlanningConfig) -> Policy:
    """The policy the optimizer and evaluator use (egress from the portability settings)."""
    return replace(config.policy, egress_usd_per_gpu_hour=egress_usd_per_gpu_hour(config))


def plan_from_history(
    history: UsageHistory,
    inventory: list[Commitment],
    config: PlanningConfig,
    *,
    usage_file: str = "(usage)",
    inventory_file: str | None = None,
    progress: Progress | None = None,
) -> PlanRun:
    """The quarterly run on usage already read (used by ``plan`` and ``whatif``)."""
    say = progress or (lambda _m: None)
    # every provider's prices: the policy's providers limit new purchases and off-AWS serving (the
    # optimizer and evaluator apply them), while commitments held elsewhere still bill. Loaded and
    # checked against the inventory before the forecast, so a bad inventory row fails fast.
    catalog = load_catalog(as_of=config.catalog_as_of, overlay=config.overlay)
    _check_inventory_offers(inventory, catalog)
    history = with_busy(history, config)  # busy time from requests (planner.workflows.serverless)
    pooled, fc = forecast_for(history, config, progress)
    start = fc.scenarios.start
    policy = effective_policy(config)
    serverless = serverless_for(pooled, config)
    say(f"optimising over {len(catalog.offers):,} offers")
    plan = optimize(
        fc.scenarios,
        catalog.offers,
        inventory,
        policy,
        as_of=start,
        progress=say,
        serverless=serverless,
    )
    strategies = compare_strategies(
        fc, catalog, inventory, plan, policy, progress=say, serverless=serverless
    )
    return PlanRun(
        config=config,
        policy=policy,
        usage_file=usage_file,
        inventory_file=inventory_file,
        history=history,
        pooled=pooled,
        forecast=fc,
        catalog=catalog,
        inventory=tuple(inventory),
        plan=plan,
        strategies=strategies,
    )


def _check_inventory_offers(inventory: list[Commitment], catalog: Catalog) -> None:
    """An inventory item must name something the catalog prices, else its value is unknowable;
    its id must not look like a new purchase's (P001...), which would merge the two in reports."""
    offers = catalog.offers
    for c in inventory:
        if re.fullmatch(r"P\d{3,}", c.commitment_id):
            raise PlannerInputError(
                f"inventory commitment_id {c.commitment_id!r} has the form of a new purchase id",
                column="commitment_id",
                value=c.commitment_id,
                fix="rename it (e.g. with the quarter: 2026Q3-P001); P001... name this run's purchases",
            )
        if c.purchase_model == "compute_savings_plan":
            continue
        same = offers[(offers["provider"] == c.provider) & (offers["region"] == c.region)]
        col = "instance_family" if c.purchase_model == "ec2_instance_savings_plan" else "sku"
        if c.sku not in set(same[col]):
            from pricing_data.errors import suggest

            hint = suggest(c.sku, sorted(set(same[col])))
            raise PlannerInputError(
                f"inventory item {c.commitment_id!r}: {c.provider} {c.region or '(no region)'} has no {col} {c.sku!r} in the catalog",
                column=col,
                value=c.sku,
                fix=("did you mean " + " or ".join(repr(h) for h in hint) + "?")
                if hint
                else "check the sku and region",
            )
