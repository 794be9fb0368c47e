"""Showback: the plan's expected cost split across tag values (team, project, workload...).

For a saved plan, the demand scenarios are re-created from the plan's own record (same usage file,
policy, seed), and the evaluator bills the existing plus recommended commitments on every scenario.
Its per-pool bill (``Evaluation.cost_by_pool_usd``: commitments amortised by the use each pool made of
them, plus on-demand, spot and egress) is averaged over scenarios, then split within each pool by
each tag value's share of that pool's GPU-hours over the last ``window_days`` of history:

    cost(v) = Σ_p  E[cost_p] · gpu_hours(v, p) / gpu_hours(p)

Usage rows without the tag are shown as ``(unallocated)``; commitments that served no pool in any
scenario are shown as ``(unused commitments)``. The lines add up to the plan's expected cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from forecasting import UsageHistory, make_pools, read_usage
from forecasting.usage import TAG_COLUMNS
from planner.evaluate.compare import evaluate_over_scenarios
from planner.inventory import Commitment
from planner.plan import Plan
from planner.policy_file import PlanningConfig
from planner.valuation import valuation_for
from planner.workflows.inputs import load_inputs
from planner.workflows.records import RunRecord
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.units import HOURS_PER_DAY, parse_hours

UNALLOCATED = "(unallocated)"
UNUSED = "(unused commitments)"
COMPONENTS = ("commitments", "contracts", "on_demand", "spot", "egress")


def config_of(plan: Plan, file: str = "plan.json") -> tuple[PlanningConfig, list[Commitment]]:
    """The planning configuration and inventory a saved plan was made with."""
    record = RunRecord.of(plan, file)
    return record.planning_config(file), record.commitments(file)


def usage_mismatch(plan: Plan, usage_file: str | Path, plan_file: str = "plan.json") -> str | None:
    """A warning when ``usage_file`` is not the file the plan was made from, else None."""
    recorded = (plan.record.get("run") or {}).get("usage_file")
    if recorded and Path(recorded).resolve() != Path(usage_file).resolve():
        return (
            f"{plan_file} was planned from {recorded}, not {usage_file}; the scenarios are "
            "re-created from the usage given, so the split will not match the plan's figures"
        )
    return None


def tag_shares(
    history: UsageHistory, config: PlanningConfig, by: str, window_days: int
) -> pd.DataFrame:
    """GPU-hours per (tag value, pool) over the last ``window_days`` of history."""
    data = history.data
    if by not in data.columns:
        raise UnknownNameError(
            "tag column",
            by,
            [c for c in TAG_COLUMNS if c in data.columns] or TAG_COLUMNS,
            column="--by",
        )
    end = data["timestamp"].max()
    recent = data[data["timestamp"] > end - pd.Timedelta(days=window_days)]
    values = recent[by].astype("string").fillna("").str.strip()
    rows = []
    for value in sorted(values.unique()):
        subset = replace(history, data=recent[values == value].reset_index(drop=True))
        pooled = make_pools(
            subset, config.pool_rules, default_aws_region=config.default_aws_region, gap_fill="zero"
        )
        hours = pooled.demand_gpus.sum(axis=0)
        for pool, gpu_h in hours.items():
            rows.append({by: value or UNALLOCATED, "pool": str(pool), "gpu_hours": float(gpu_h)})
    return pd.DataFrame(rows, columns=[by, "pool", "gpu_hours"])


def expected_cost_by_pool(
    history: UsageHistory,
    plan: Plan,
    config: PlanningConfig,
    inventory: list[Commitment],
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, dict[str, float]], str]:
    """E[cost by pool and component] of inventory + the plan's purchases over re-created scenarios,
    and the period billed (the whole valuation horizon, as the plan's own figures)."""
    inputs = load_inputs(history, config, inventory, progress=progress)
    fc = inputs.forecast(progress)
    catalog = inputs.catalog
    sc = fc.scenarios
    policy = inputs.policy
    # the same rows the plan was billed on: the whole valuation horizon (planner/valuation.py)
    vp = valuation_for(
        sc.demand_gpus, sc.start, policy, inventory, seed=sc.seed, offers=catalog.offers
    )
    figs = evaluate_over_scenarios(
        "this plan",
        [*inventory, *plan.commitments()],
        vp.demand_gpus,
        sc.probabilities,
        None,
        sc.pools,
        catalog.offers,
        policy,
        timeline=vp.timeline,
        spot_price_factor=vp.spot_price_factor,
    )
    out: dict[str, dict[str, float]] = {}
    for w, ev in zip(figs.probabilities, figs.evaluations, strict=True):
        for pool, comps in ev.cost_by_pool_usd.items():
            slot = out.setdefault(pool, {})
            for comp, usd in comps.items():
                slot[comp] = slot.get(comp, 0.0) + float(w) * usd
    t = vp.timeline
    end = t.start + pd.Timedelta(hours=t.valuation_hours)
    return out, f"{t.start.date()} to {end.date()}, {t.n_months} months"


@dataclass(frozen=True)
class Attribution:
    """The showback table and the periods its columns cover."""

    table: pd.DataFrame
    window_days: int
    horizon: str

    @property
    def caption(self) -> str:
        return (
            f"{self.gpu_hours_column}: GPU-hours over the last {self.window_days} days of history; "
            f"*_usd: expected cost over every commitment's whole term ({self.horizon})"
        )

    @property
    def gpu_hours_column(self) -> str:
        return f"gpu_hours_last_{self.window_days}d"


def attribute(
    usage: str | Path | UsageHistory,
    plan: Plan,
    *,
    by: str = "team",
    window: str | int = "28d",
    plan_file: str = "plan.json",
    progress: Callable[[str], None] | None = None,
) -> Attribution:
    """Expected plan cost per tag value (module docstring); one row per value, plus the specials.

    ``window`` is a duration (``28d``, ``4w``) or a number of days."""
    window_days = (
        window
        if isinstance(window, int)
        else parse_hours(window, column="--window") // HOURS_PER_DAY
    )
    if window_days < 1:
        raise PlannerInputError(
            "the window is shorter than a day",
            column="--window",
            value=window,
            fix="write e.g. 28d",
        )
    history = usage if isinstance(usage, UsageHistory) else read_usage(usage)
    config, inventory = config_of(plan, plan_file)
    shares = tag_shares(history, config, by, window_days)
    costs, horizon = expected_cost_by_pool(history, plan, config, inventory, progress)
    totals = shares.groupby("pool")["gpu_hours"].sum()
    rows: dict[str, dict[str, float]] = {}
    for pool, comps in costs.items():
        if pool == UNUSED or pool not in totals.index or totals[pool] <= 0:
            key = UNUSED if pool == UNUSED else f"{UNALLOCATED} pool {pool}"
            slot = rows.setdefault(key, {"gpu_hours": 0.0})
            for comp, usd in comps.items():
                slot[comp] = slot.get(comp, 0.0) + usd
            continue
        pool_total = float(totals[pool])
        part = shares[shares["pool"] == pool]
        for value, gpu_h in zip(part[by].astype(str), part["gpu_hours"].astype(float), strict=True):
            share = gpu_h / pool_total
            slot = rows.setdefault(value, {"gpu_hours": 0.0})
            slot["gpu_hours"] += gpu_h
            for comp, usd in comps.items():
                slot[comp] = slot.get(comp, 0.0) + share * usd
    table = pd.DataFrame.from_dict(rows, orient="index").fillna(0.0)
    for comp in COMPONENTS:
        if comp not in table.columns:
            table[comp] = 0.0
    table["total_usd"] = table[list(COMPONENTS)].sum(axis=1)
    grand = float(table["total_usd"].sum())
    table["share_pct"] = 100 * table["total_usd"] / grand if grand > 0 else 0.0
    table = table.rename(columns={c: f"{c}_usd" for c in COMPONENTS})
    table.index.name = by
    table = table.reset_index()
    special = table[by].str.startswith("(")
    table = pd.concat([table[~special].sort_values("total_usd", ascending=False), table[special]])
    cols = [by, "gpu_hours", *[f"{c}_usd" for c in COMPONENTS], "total_usd", "share_pct"]
    out = table[cols].reset_index(drop=True)
    num = out.select_dtypes("number").columns
    out[num] = out[num].round(2)
    result = Attribution(out, window_days, horizon)
    return Attribution(
        out.rename(columns={"gpu_hours": result.gpu_hours_column}), window_days, horizon
    )
