"""Serverless options for a run: busy time from the usage, offers from the serverless catalog.

:func:`serverless_for` is what the quarterly run calls between the forecast and the optimizer: it
returns ``None`` when no pool is marked ``scale_to_zero`` (the run is then exactly as without this
feature), else the options of :func:`planner.serverless.serverless_setup` with the eligible pools
that cannot be evaluated and why.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from forecasting.busy import (
    UNIT_COLUMNS,
    busy_fraction_by_hour,
    busy_fraction_overall,
    with_busy_hours,
)
from forecasting.pools import PooledUsage, make_pools
from forecasting.usage import UsageHistory
from planner.evaluate.compare import THIS_PLAN, valuation_of
from planner.policy_file import PlanningConfig
from planner.serverless import ServerlessSetup, serverless_setup
from pricing_data.serverless import load_serverless_catalog

if TYPE_CHECKING:
    from planner.workflows.quarterly import PlanRun

#: unit -> (how many units a unit cost is quoted for, column name of the unit cost)
PER_UNITS: dict[str, tuple[float, str]] = {
    "requests": (1_000.0, "usd_per_1k_requests"),
    "tokens": (1_000_000.0, "usd_per_1m_tokens"),
    "runs": (1.0, "usd_per_run"),
}


def with_busy(history: UsageHistory, config: PlanningConfig) -> UsageHistory:
    """``history`` with busy GPU-hours derived from requests (the policy's seconds per request)."""
    return with_busy_hours(history, dict(config.serverless.gpu_seconds_per_request))


def serverless_for(pooled: PooledUsage, config: PlanningConfig) -> ServerlessSetup | None:
    """The run's serverless options (module docstring)."""
    if not any(p.scale_to_zero for p in pooled.pools):
        return None
    fractions = busy_fraction_by_hour(pooled.demand_gpus, pooled.busy_gpu_hours)
    overall = busy_fraction_overall(pooled.demand_gpus, pooled.busy_gpu_hours)
    invocations: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if pooled.busy_gpu_hours is not None:
        for name in fractions:
            busy = pooled.busy_gpu_hours[name].to_numpy(dtype=float)
            req = (
                pooled.requests[name].to_numpy(dtype=float)
                if pooled.requests is not None and name in pooled.requests.columns
                else np.full(len(busy), np.nan)
            )
            invocations[name] = (busy, req)
    catalog = load_serverless_catalog(as_of=config.catalog_as_of, overlay=config.overlay)
    return serverless_setup(
        pooled.pools,
        fractions,
        catalog,
        config.serverless,
        overall=overall,
        invocations=invocations,
    )


def plan_unit_costs(run: PlanRun, window_days: int = 28) -> pd.DataFrame:
    """The plan's expected cost per unit, for each unit column the usage file carries.

    Over the pools whose rows record that unit: Σ_p E[cost_p] / Σ_p U_p, where E[cost_p] is the
    evaluator's bill of this plan for pool p (commitments amortised by use) and
    U_p = u_w(p) · G_p / g_w(p) carries the units of the last ``window_days`` to the horizon at the
    pool's units per GPU-hour (G_p expected GPU-hours over the horizon, g_w GPU-hours in the window).
    """
    data = run.history.data
    rows = []
    fig = run.strategy(THIS_PLAN)
    cost_by_pool: dict[str, float] = {}
    for w, ev in zip(fig.probabilities, fig.evaluations, strict=True):
        for pool, comps in ev.cost_by_pool_usd.items():
            cost_by_pool[pool] = cost_by_pool.get(pool, 0.0) + float(w) * sum(comps.values())
    sc = run.forecast.scenarios
    # expected GPU-hours over the rows the evaluator billed (the whole valuation horizon)
    vp = valuation_of(run.forecast, run.policy, list(run.inventory), run.catalog.offers)
    horizon = dict(
        zip(
            [p.name for p in sc.pools],
            np.einsum("s,srp,r->p", sc.probabilities, vp.demand_gpus, vp.timeline.weight_h),
            strict=True,
        )
    )
    held = run.pooled.demand_gpus
    since = held.index[-1] - pd.Timedelta(days=window_days)
    held_w = held[held.index > since].sum(axis=0)
    for unit in UNIT_COLUMNS:
        if unit not in data.columns or not data[unit].notna().any():
            continue
        counted = replace(run.history, data=data.assign(gpus=data[unit].fillna(0.0)))
        per_pool = make_pools(
            counted,
            run.config.pool_rules,
            default_aws_region=run.config.default_aws_region,
            gap_fill="zero",
        ).demand_gpus
        units_w = per_pool[per_pool.index > since].sum(axis=0)
        pools = [p for p in units_w.index if units_w[p] > 0 and held_w.get(p, 0.0) > 0]
        if not pools:
            continue
        cost = sum(cost_by_pool.get(p, 0.0) for p in pools)
        units = sum(float(units_w[p]) * float(horizon[p]) / float(held_w[p]) for p in pools)
        scale, name = PER_UNITS[unit]
        rows.append(
            {
                "unit": unit,
                "pools": ", ".join(pools),
                "expected_cost_usd": round(cost, 2),
                "expected_units": round(units),
                name: round(cost * scale / units, 6),
            }
        )
    return pd.DataFrame(rows)


def summary_lines(run: PlanRun, width: int = 100) -> list[str]:
    """Terminal lines (at most ``width`` columns): serverless decisions with break-even busy
    fractions, eligible pools that could not be evaluated, and the plan's expected cost per unit
    (when the usage has units)."""
    out = serverless_lines(run.plan.record.get("serverless"), width)
    units = plan_unit_costs(run)
    if len(units):
        out.append("Expected cost per unit (this plan, evaluator, pools that record the unit):")
        for row in units.to_dict(orient="records"):
            _scale, name = PER_UNITS[str(row["unit"])]
            label = name.removeprefix("usd_per_").replace("_", " ")
            out += textwrap.wrap(
                f"- ${row[name]:,.4g} per {label} (expected cost ${row['expected_cost_usd']:,.0f}"
                f" over {row['expected_units']:,.0f} {row['unit']}; pools {row['pools']})",
                width,
                subsequent_indent="  ",
            )
    return out


def serverless_lines(rec: dict[str, Any] | None, width: int = 100) -> list[str]:
    """The scale-to-zero lines of the plan summary from a plan's ``record["serverless"]``."""
    out: list[str] = []
    if rec:
        out += textwrap.wrap(
            "Scale-to-zero pools (serverless wins below the break-even busy %; cold start, billing "
            "increment and region multiplier are ASSUMED unless overlaid):",
            width,
        )
        for row in rec.get("breakeven", []):
            if row.get("decision") == "not evaluable":
                continue
            com = row.get("best_commitment_usd_per_gpu_hour")
            vs_com = row.get("breakeven_busy_pct_vs_commitment")
            held = (
                f"best commitment ${com:,.2f} per held GPU-hour: serverless wins below "
                f"{vs_com:.1f} % busy (below {row['breakeven_busy_pct_vs_on_demand']:.1f} % vs "
                f"on-demand ${row['on_demand_usd_per_gpu_hour']:,.2f})"
                if com is not None and vs_com is not None
                else f"serverless wins below {row['breakeven_busy_pct_vs_on_demand']:.1f} % busy "
                f"vs on-demand ${row['on_demand_usd_per_gpu_hour']:,.2f}"
            )
            text = (
                f"- {row['pool']}: {row['provider']} ${row['serverless_usd_per_busy_gpu_hour']:,.2f}"
                f" per busy GPU-hour (billing increment {row.get('billing_increment_s', 0):g} s, "
                f"uplift x{row.get('billing_uplift', 1.0):.2f}"
                + (", assumed parameters" if row.get("assumed_parameters") else "")
                + f"); {held}; busy {row['busy_pct_history']:.1f} % in the history -> "
                f"{row['decision']}"
            )
            out += textwrap.wrap(text, width, subsequent_indent="  ")
        for item in rec.get("not_evaluable", []):
            out += textwrap.wrap(
                f"- serverless not evaluated for {item['pool']}: {item['reason']}",
                width,
                subsequent_indent="  ",
            )
        versions = ", ".join(rec.get("catalog_versions", []))
        out.append(f"serverless catalog: {versions or '(none)'}")
    return out
