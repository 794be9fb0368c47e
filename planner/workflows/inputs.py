"""Everything a planning run needs, loaded and checked once: :func:`load_inputs`.

Every command that plans, evaluates or forecasts from a usage file (plan, whatif, attribute,
backtest, optimize, forecast, compare-aws) starts here, so they read the same files the same way::

    read_inventory -> read_usage -> load_catalog (every provider) -> check inventory -> make_pools

The catalog holds *every* provider's prices whatever the policy says: the policy's ``providers``
limit new purchases and off-AWS serving (the optimizer and the evaluator apply them), while
commitments already held elsewhere still bill. It is checked against the inventory before any
forecast, so a bad inventory row fails fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from forecasting import Forecast, PooledUsage, UsageHistory, forecast, make_pools, read_usage
from forecasting.busy import check_requests_convertible, with_busy_hours
from forecasting.pools import scale_to_zero_rows
from forecasting.validate_usage import loud_warnings
from planner.inventory import Commitment, read_inventory
from planner.policy import Policy
from planner.policy_file import PlanningConfig, egress_usd_per_gpu_hour
from planner.validate_policy import check_forecast_size
from pricing_data.catalog import Catalog, load_catalog
from pricing_data.errors import PlannerInputError, suggest
from pricing_data.units import horizon_hours

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


def effective_policy(config: PlanningConfig) -> Policy:
    """The policy the optimizer and evaluator use (egress from the portability settings)."""
    return replace(config.policy, egress_usd_per_gpu_hour=egress_usd_per_gpu_hour(config))


@dataclass(frozen=True)
class PlanningInputs:
    """The checked inputs of a planning run (module docstring)."""

    config: PlanningConfig
    history: UsageHistory
    pooled: PooledUsage
    catalog: Catalog
    inventory: tuple[Commitment, ...]
    usage_file: str
    inventory_file: str | None = None

    @property
    def policy(self) -> Policy:
        """The policy in force (egress priced from the portability settings)."""
        return effective_policy(self.config)

    @property
    def start(self) -> pd.Timestamp:
        """The first hour after the history: where forecasts and plans start."""
        return self.pooled.end + pd.Timedelta(hours=1)

    @property
    def horizon_hours(self) -> int:
        """The policy's horizon in hours, calendar months counted from :attr:`start`."""
        return horizon_hours(self.start, self.config.policy.horizon_months)

    @property
    def aws_instance_types(self) -> set[str]:
        """Instance types with GPUs that AWS prices (to tell GPU from non-GPU recommendations)."""
        return set(self.catalog.select(provider="aws").instance_gpus())

    def with_config(
        self, config: PlanningConfig, progress: Progress | None = None
    ) -> PlanningInputs:
        """The same files under another configuration: the catalog is reloaded only when its date
        or overlay change, the pools only when the pool rules or default region change."""
        catalog = self.catalog
        if (config.catalog_as_of, config.overlay) != (
            self.config.catalog_as_of,
            self.config.overlay,
        ):
            catalog = load_catalog(as_of=config.catalog_as_of, overlay=config.overlay)
            check_inventory_offers(list(self.inventory), catalog)
        pooled = self.pooled
        if (config.pool_rules, config.default_aws_region, config.serverless) != (
            self.config.pool_rules,
            self.config.default_aws_region,
            self.config.serverless,
        ):
            pooled = _pools(self.history, config)
        return replace(self, config=config, catalog=catalog, pooled=pooled)

    def forecast(
        self, progress: Progress | None = None, *, models: Sequence[str] | None = None
    ) -> Forecast:
        """The demand forecast for the configuration (horizon, scenarios, seed, growth)."""
        say = progress or _quiet
        hours = self.horizon_hours
        check_forecast_size(
            self.config.scenarios, hours, len(self.pooled.pools), file=self.config.source
        )
        say(
            f"{len(self.pooled.pools)} pools, {self.pooled.n_hours:,} h of history; "
            f"forecasting {hours:,} h x {self.config.scenarios} scenarios"
        )
        return forecast(
            self.pooled,
            horizon_hours=hours,
            n_scenarios=self.config.scenarios,
            seed=self.config.seed,
            growth=self.config.growth,
            models=list(models) if models else None,
            progress=say,
        )

    def recent_demand(self, days: int) -> pd.DataFrame:
        """Hourly demand per pool over the last ``days`` days of history."""
        demand = self.pooled.demand_gpus
        recent: pd.DataFrame = demand[demand.index > demand.index[-1] - pd.Timedelta(days=days)]
        return recent


def forecast_key(config: PlanningConfig) -> tuple[object, ...]:
    """The settings a forecast depends on: two configurations with one key share a forecast."""
    return (
        config.scenarios,
        config.seed,
        config.growth,
        config.pool_rules,
        config.default_aws_region,
        config.policy.horizon_months,
    )


def load_inputs(
    usage: str | Path | UsageHistory,
    config: PlanningConfig,
    inventory: str | Path | Sequence[Commitment] | None = None,
    *,
    progress: Progress | None = None,
) -> PlanningInputs:
    """Read and check everything a planning run needs (module docstring).

    ``usage`` is a usage file (or a history already read); ``inventory`` an inventory CSV (or
    commitments already read). Raises :class:`PlannerInputError` naming the file for bad input.
    """
    say = progress or _quiet
    inventory_file: str | None = None
    if inventory is None:
        commitments: list[Commitment] = []
    elif isinstance(inventory, str | Path):
        inventory_file = str(inventory)
        commitments = read_inventory(inventory)
    else:
        commitments = list(inventory)
    if isinstance(usage, UsageHistory):
        history, usage_file = usage, usage.source or "(usage)"
    else:
        usage_file = str(usage)
        say(f"reading usage {usage_file}")
        history = read_usage(usage)
    catalog = load_catalog(as_of=config.catalog_as_of, overlay=config.overlay)
    check_inventory_offers(commitments, catalog)
    pooled = _pools(history, config)
    warn = getattr(progress, "note", say)  # shown even with --quiet
    for w in loud_warnings(history, pooled.end + pd.Timedelta(hours=1), catalog.offers):
        warn(w)
    return PlanningInputs(
        config=config,
        history=history,
        pooled=pooled,
        catalog=catalog,
        inventory=tuple(commitments),
        usage_file=usage_file,
        inventory_file=inventory_file,
    )


def _pools(history: UsageHistory, config: PlanningConfig) -> PooledUsage:
    # busy GPU-hours from requests where the policy says how long a request keeps a GPU busy
    seconds = dict(config.serverless.gpu_seconds_per_request)
    check_requests_convertible(
        history, scale_to_zero_rows(history.data, config.pool_rules), seconds
    )
    busy = with_busy_hours(history, seconds)
    return make_pools(busy, config.pool_rules, default_aws_region=config.default_aws_region)


def check_inventory_offers(inventory: Sequence[Commitment], catalog: Catalog) -> None:
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
            hint = suggest(c.sku, sorted(set(same[col])))
            raise PlannerInputError(
                f"inventory item {c.commitment_id!r}: {c.provider} "
                f"{c.region or '(no region)'} has no {col} {c.sku!r} in the catalog",
                column=col,
                value=c.sku,
                fix=("did you mean " + " or ".join(repr(h) for h in hint) + "?")
                if hint
                else "check the sku and region",
            )
