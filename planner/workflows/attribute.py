"""Showback: the plan's expected cost split across tag values (team, project, workload...).

For a saved plan, the demand scenarios are re-created from the plan's own record (same usage file,
policy, seed), and the evaluator bills the existing plus recommended commitments on every scenario.
Its per-pool bill (``Evaluation.cost_by_pool_usd``: commitments amortised by the use each pool made of
them, plus on-demand, spot and egress) is averaged over scenarios, then split within each pool by
each tag value's share of that pool's GPU-hours over the last ``window_days`` of history:

    cost(v) = Σ_p  E[cost_p] · gpu_hours(v, p) / gpu_hours(p)

Usage rows without the tag are shown as ``(unallocated)``; commitments that served no pool in any
scenario are shown as ``(unused commitments)``. The lines add up to the plan's expected cost.

Unit economics (``per`` = requests, tokens or runs): the units each tag value produced in the same
window, ``u_w(v)`` (from the usage file's ``requests``/``tokens`` column or a units CSV keyed by hour
and tag; ``runs`` = distinct ``experiment`` values with GPU use), are carried to the plan's horizon at
the tag's units per GPU-hour:

    U(v) = u_w(v) · G(v) / g_w(v),    G(v) = Σ_p E[GPU-hours_p over the horizon] · g_w(v, p) / g_w(p)

(``g_w``: GPU-hours in the window). The unit cost is ``cost(v) / U(v)``, shown per 1,000 requests,
per million tokens or per run; ``G(v)`` is the ``expected_gpu_hours`` column. Lines without units
(the specials, or a tag value that produced none) have no unit cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting import UsageHistory, make_pools, read_usage
from forecasting.busy import parse_measure
from forecasting.usage import TAG_COLUMNS, parse_timestamps
from planner.evaluate.bill import evaluate
from planner.evaluate.compare import evaluate_over_scenarios
from planner.evaluate.serverless import plan_serverless
from planner.inventory import Commitment
from planner.plan import Plan
from planner.policy_file import PlanningConfig
from planner.valuation import valuation_for
from planner.workflows.inputs import effective_policy, load_inputs
from planner.workflows.records import RunRecord
from planner.workflows.serverless import PER_UNITS
from pricing_data.catalog import load_catalog
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.units import HOURS_PER_DAY, parse_hours

UNALLOCATED = "(unallocated)"
UNUSED = "(unused commitments)"
COMPONENTS = ("commitments", "contracts", "on_demand", "spot", "egress", "serverless")


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
) -> dict[str, dict[str, float]]:
    """E[cost by pool and component] of inventory + the plan's purchases over re-created scenarios."""
    return _expected_by_pool(history, plan, config, inventory, progress)[0]


def _expected_by_pool(
    history: UsageHistory,
    plan: Plan,
    config: PlanningConfig,
    inventory: list[Commitment],
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, float], str]:
    """(E[cost by pool and component], E[GPU-hours by pool], the period both cover: the whole
    valuation horizon the plan's own figures are billed on)."""
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
        serverless=plan_serverless(plan, None),  # the plan's own serverless decisions
    )
    out: dict[str, dict[str, float]] = {}
    for w, ev in zip(figs.probabilities, figs.evaluations, strict=True):
        for pool, comps in ev.cost_by_pool_usd.items():
            slot = out.setdefault(pool, {})
            for comp, usd in comps.items():
                slot[comp] = slot.get(comp, 0.0) + float(w) * usd
    # GPU-hours over the same rows the evaluator billed (the whole valuation horizon)
    gpu_h = np.einsum("s,srp,r->p", sc.probabilities, vp.demand_gpus, vp.timeline.weight_h)
    t = vp.timeline
    end = t.start + pd.Timedelta(hours=int(t.valuation_hours))
    period = f"{t.start.date()} to {end.date()}, {t.n_months} months"
    return out, {p.name: float(g) for p, g in zip(sc.pools, gpu_h, strict=True)}, period


def read_units(path: str | Path, by: str, per: str) -> pd.DataFrame:
    """A units CSV keyed by hour and tag: ``timestamp``, the ``by`` tag column and the ``per`` unit
    column (numbers >= 0; empty = none). Returns ``timestamp, <by>, <per>``."""
    file = str(path)
    p = Path(path)
    if not p.is_file():
        raise PlannerInputError("units file not found", file=file, fix="check the --units path")
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise PlannerInputError(f"cannot read the units file: {e}", file=file) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    for col, fix in (
        ("timestamp", "add a timestamp column (ISO 8601, UTC, on the hour)"),
        (by, f"add a '{by}' column naming the tag value each row's units belong to"),
        (per, f"add a '{per}' column with the {per} counted in that hour"),
    ):
        if col not in raw.columns:
            raise PlannerInputError(f"missing column '{col}'", file=file, column=col, fix=fix)
    ts, _ = parse_timestamps(raw["timestamp"], file=file, column="timestamp")
    return pd.DataFrame(
        {
            "timestamp": ts,
            by: raw[by].astype("string").fillna("").str.strip(),
            per: parse_measure(raw[per], file=file, column=per).fillna(0.0),
        }
    )


def tag_units(
    history: UsageHistory,
    by: str,
    per: str,
    window_days: int,
    units: pd.DataFrame | None = None,
) -> pd.Series:
    """Units per tag value over the last ``window_days`` of history (module docstring)."""
    if per not in PER_UNITS:
        raise UnknownNameError("unit", per, PER_UNITS, column="--per")
    data = history.data
    end = data["timestamp"].max()
    since = end - pd.Timedelta(days=window_days)
    if units is not None:
        rec = units[(units["timestamp"] > since) & (units["timestamp"] <= end)]
        key = rec[by].astype("string").fillna("").str.strip().replace("", UNALLOCATED)
        return pd.Series(rec[per].groupby(key.to_numpy()).sum(), dtype=float)
    recent = data[data["timestamp"] > since]
    key = recent[by].astype("string").fillna("").str.strip().replace("", UNALLOCATED)
    if per == "runs":
        if "experiment" not in recent.columns:
            raise PlannerInputError(
                "runs are counted from the experiment tag, which the usage file lacks",
                file=history.source,
                column="experiment",
                fix="add an experiment column naming each training run",
            )
        exp = recent["experiment"].astype("string").fillna("").str.strip()
        used = (exp != "") & (recent["gpus"] > 0)
        return pd.Series(exp[used].groupby(key[used].to_numpy()).nunique(), dtype=float)
    if per not in data.columns:
        raise PlannerInputError(
            f"the usage file has no '{per}' column",
            file=history.source,
            column=per,
            fix=f"add a '{per}' column to the usage file, or give a units CSV with --units",
        )
    return pd.Series(recent[per].fillna(0.0).groupby(key.to_numpy()).sum(), dtype=float)


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
            f"*_usd: expected cost over every commitment's whole term ({self.horizon}), "
            "as the plan's own figures"
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
    per: str | None = None,
    units: pd.DataFrame | None = None,
) -> Attribution:
    """Expected plan cost per tag value (module docstring); one row per value, plus the specials.

    ``window`` is a duration (``28d``, ``4w``) or a number of days. With ``per``, adds the units
    carried to the horizon and the cost per unit (module docstring)."""
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
    unit_counts = tag_units(history, by, per, window_days, units) if per else None
    costs, pool_gpu_h, horizon = _expected_by_pool(history, plan, config, inventory, progress)
    out = attribution_table(shares, costs, pool_gpu_h, by, per, unit_counts)
    result = Attribution(out, window_days, horizon)
    return Attribution(
        out.rename(columns={"gpu_hours": result.gpu_hours_column}), window_days, horizon
    )


def attribution_table(
    shares: pd.DataFrame,
    costs: dict[str, dict[str, float]],
    pool_gpu_hours: dict[str, float],
    by: str,
    per: str | None = None,
    unit_counts: pd.Series | None = None,
) -> pd.DataFrame:
    """The showback table from tag shares, E[cost by pool] and E[GPU-hours by pool] (pure)."""
    totals = shares.groupby("pool")["gpu_hours"].sum()
    rows: dict[str, dict[str, float]] = {}
    for pool, comps in costs.items():
        if pool == UNUSED or pool not in totals.index or totals[pool] <= 0:
            key = UNUSED if pool == UNUSED else f"{UNALLOCATED} pool {pool}"
            slot = rows.setdefault(key, {"gpu_hours": 0.0, "expected_gpu_hours": 0.0})
            for comp, usd in comps.items():
                slot[comp] = slot.get(comp, 0.0) + usd
            continue
        pool_total = float(totals[pool])
        part = shares[shares["pool"] == pool]
        for value, gpu_h in zip(part[by].astype(str), part["gpu_hours"].astype(float), strict=True):
            share = gpu_h / pool_total
            slot = rows.setdefault(value, {"gpu_hours": 0.0, "expected_gpu_hours": 0.0})
            slot["gpu_hours"] += gpu_h
            slot["expected_gpu_hours"] += share * pool_gpu_hours.get(pool, 0.0)
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
    components = [f"{c}_usd" for c in COMPONENTS]
    if not (table["serverless_usd"] != 0).any():
        components.remove("serverless_usd")  # shown only where serverless served something
    cols = [by, "gpu_hours", *components, "total_usd", "share_pct"]
    if per is not None:
        scale, name = PER_UNITS[per]
        counts = unit_counts if unit_counts is not None else pd.Series(dtype=float)
        window_units = table[by].map(counts).astype(float)
        ratio = np.divide(
            table["expected_gpu_hours"].to_numpy(float),
            table["gpu_hours"].to_numpy(float),
            out=np.full(len(table), np.nan),
            where=table["gpu_hours"].to_numpy(float) > 0,
        )
        table[f"{per}_in_window"] = window_units
        table[f"{per}_expected"] = window_units * ratio
        table[name] = np.where(
            table[f"{per}_expected"] > 0,
            table["total_usd"] * scale / table[f"{per}_expected"],
            np.nan,
        )
        cols += ["expected_gpu_hours", f"{per}_in_window", f"{per}_expected", name]
    out = table[cols].reset_index(drop=True)
    num = [c for c in out.select_dtypes("number").columns if not c.startswith("usd_per_")]
    out[num] = out[num].round(2)
    return out


def unit_cost_trend(
    history: UsageHistory,
    config: PlanningConfig,
    inventory: list[Commitment],
    offers: pd.DataFrame,
    *,
    by: str,
    per: str,
    units: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Cost per unit by tag value and calendar month over the history (what was, not a forecast).

    Each month's actual usage is billed by the evaluator with the commitments of ``inventory``
    active in that month (commitments that expired before the inventory was taken are not known
    here, so early months may show less coverage than they had); each pool's bill is split over
    tag values by their GPU-hours in the month (commitments amortised by use, as in
    :func:`attribute`), and divided by the tag's units counted in that month. Usage is held time:
    serverless served nothing in the past. Rows: ``month, <by>, gpu_hours, cost_usd, <per>,
    <unit cost>``; months where a value has no units have no unit cost.
    """
    if per not in PER_UNITS:
        raise UnknownNameError("unit", per, PER_UNITS, column="--per")
    data = history.data
    if by not in data.columns:
        raise UnknownNameError("tag column", by, TAG_COLUMNS, column="--by")
    scale, name = PER_UNITS[per]
    rules, region = config.pool_rules, config.default_aws_region
    pooled = make_pools(history, rules, default_aws_region=region, gap_fill="zero")
    policy = effective_policy(config)
    values = data[by].astype("string").fillna("").str.strip()
    per_value = {
        (v or UNALLOCATED): make_pools(
            replace(history, data=data[values == v].reset_index(drop=True)),
            rules,
            default_aws_region=region,
            gap_fill="zero",
        ).demand_gpus.reindex(pooled.demand_gpus.index)
        for v in sorted(values.unique())
    }
    idx = pd.DatetimeIndex(pooled.demand_gpus.index)
    month_of = idx.tz_convert("UTC").tz_localize(None).to_period("M")
    rows = []
    for month in sorted(set(month_of)):
        m = np.asarray(month_of == month)
        ev = evaluate(
            inventory,
            pooled.demand_gpus.to_numpy(float)[m],
            idx[m],
            pooled.pools,
            offers,
            policy,
        )
        t0, t1 = idx[m][0], idx[m][-1]
        unit_counts = _units_between(history, by, per, t0, t1, units)
        pool_totals = pooled.demand_gpus.loc[m].sum(axis=0)
        for value, frame in per_value.items():
            part = frame.loc[m].fillna(0.0).sum(axis=0)
            cost = 0.0
            for pool, gpu_h in part.items():
                pool_total = float(pool_totals.get(pool, 0.0))
                if gpu_h > 0 and pool_total > 0:
                    cost += (
                        sum(ev.cost_by_pool_usd.get(str(pool), {}).values()) * gpu_h / pool_total
                    )
            gpu_hours = float(part.sum())
            if gpu_hours <= 0:
                continue
            n_units = float(unit_counts.get(value, 0.0))
            rows.append(
                {
                    "month": str(month),
                    by: value,
                    "gpu_hours": round(gpu_hours, 2),
                    "cost_usd": round(cost, 2),
                    per: n_units,
                    name: cost * scale / n_units if n_units > 0 else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=["month", by, "gpu_hours", "cost_usd", per, name])


def _units_between(
    history: UsageHistory,
    by: str,
    per: str,
    t0: pd.Timestamp,
    t1: pd.Timestamp,
    units: pd.DataFrame | None,
) -> pd.Series:
    """Units per tag value for hours t0..t1 (inclusive)."""
    if units is not None:
        rec = units[(units["timestamp"] >= t0) & (units["timestamp"] <= t1)]
        key = rec[by].astype("string").fillna("").str.strip().replace("", UNALLOCATED)
        return pd.Series(rec[per].groupby(key.to_numpy()).sum(), dtype=float)
    d = history.data
    part = d[(d["timestamp"] >= t0) & (d["timestamp"] <= t1)]
    window = replace(history, data=part.reset_index(drop=True))
    days = max(1, int(np.ceil((t1 - t0) / pd.Timedelta(days=1))) + 1)
    return tag_units(window, by, per, days)


def attribute_trend(
    usage: str | Path | UsageHistory,
    plan: Plan,
    *,
    by: str,
    per: str,
    plan_file: str = "plan.json",
    units: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`unit_cost_trend` with the configuration and inventory a saved plan was made with."""
    config, inventory = config_of(plan, plan_file)
    catalog = load_catalog(as_of=config.catalog_as_of, overlay=config.overlay)
    history = usage if isinstance(usage, UsageHistory) else read_usage(usage)
    return unit_cost_trend(history, config, inventory, catalog.offers, by=by, per=per, units=units)
