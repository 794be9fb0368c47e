"""AWS Cost Explorer's own recommendation, next to ours.

:mod:`planner.aws.cost_explorer` turns Cost Explorer's responses into commitments; :func:`compare`
bills both portfolios (existing inventory + CE's purchases, existing inventory + our "buy now"
purchases) with the evaluator on the same forecast scenarios and on the recent actual usage, and
:func:`compare_with_cost_explorer` is the whole workflow of ``planner compare-aws`` on loaded inputs.

Caveat shown with every comparison: CE's Savings Plans figure is sized on *all* the account's
eligible compute spend (CPU instances, Fargate, Lambda too), while the planner sees GPU usage only,
so part of a CE Savings Plan may in reality cover non-GPU usage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from planner.aws.cost_explorer import CeRecommendation, parse_recommendations
from planner.inventory import Commitment
from planner.optimize import optimize
from planner.workflows.inputs import PlanningInputs
from pricing_data.stats import weighted_quantile

# ---------------------------------------------------------------- side by side


@dataclass(frozen=True)
class Comparison:
    """One row per portfolio: existing only, Cost Explorer's purchases, the planner's purchases."""

    table: pd.DataFrame
    notes: list[str]
    forecast_window: tuple[str, str]
    actual_window: tuple[str, str] | None


def _describe(commitments: list[Commitment]) -> str:
    if not commitments:
        return "none"
    parts = []
    sp = [c for c in commitments if c.is_savings_plan]
    if sp:
        parts.append(f"{len(sp)} SP {sum(c.hourly_commitment_usd for c in sp):.2f} USD/h")
    ri: dict[str, float] = {}
    for c in commitments:
        if not c.is_savings_plan:
            key = f"{c.sku}@{c.region}" if c.purchase_model == "reserved_instance" else c.sku
            ri[key] = ri.get(key, 0.0) + c.quantity
    parts += [f"{q:g}x {k}" for k, q in sorted(ri.items())]
    return "; ".join(parts)


def priceable(
    commitments: list[Commitment], offers: pd.DataFrame
) -> tuple[list[Commitment], list[str]]:
    """The commitments the catalog can price (the evaluator needs their offers), and notes."""
    keep: list[Commitment] = []
    notes: list[str] = []
    for c in commitments:
        o = offers[
            (offers["purchase_model"] == c.purchase_model) & (offers["provider"] == c.provider)
        ]
        if c.purchase_model in ("reserved_instance", "reserved_contract"):
            o = o[(o["sku"] == c.sku) & (o["region"] == c.region)]
        elif c.purchase_model == "ec2_instance_savings_plan":
            o = o[(o["instance_family"] == c.sku) & (o["region"] == c.region)]
        if o.empty:
            notes.append(
                f"{c.commitment_id} ({c.purchase_model} {c.sku or ''} {c.region or ''}) has no price "
                "in the catalog; left out of the comparison"
            )
            continue
        exact = o[
            (o["term_months"] == c.term_months)
            & (o["payment_option"].astype(str) == c.payment_option)
        ]
        if c.purchase_model == "reserved_instance":
            exact = exact[exact["offering_class"].astype(str) == c.offering_class]
        if exact.empty:
            notes.append(
                f"{c.commitment_id}: the catalog has no {c.offering_class} {c.term_months}-month "
                f"{c.payment_option} price for {c.sku or c.purchase_model} {c.region}; the evaluator "
                "bills the nearest offer"
            )
        keep.append(c)
    return keep, notes


def _new_utilization(ev: Any, new_ids: set[str]) -> float:
    spend = sum(v for k, v in ev.commitment_spend_usd.items() if k in new_ids)
    if spend <= 0:
        return float("nan")
    used = sum(
        ev.commitment_utilization[k] * v for k, v in ev.commitment_spend_usd.items() if k in new_ids
    )
    return float(used / spend)


def compare(
    portfolios: dict[str, list[Commitment]],
    inventory: list[Commitment],
    scenarios: Any,
    offers: pd.DataFrame,
    policy: Any,
    *,
    horizon_hours: int,
    actual: pd.DataFrame | None = None,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Bill each portfolio (inventory + its new commitments) on every scenario and on ``actual``.

    ``portfolios`` maps a name to its *new* commitments (their dates are moved to the start of each
    window). ``scenarios`` is a DemandScenarios; ``actual`` an hourly frame (UTC index) with one
    column per pool name of the scenarios. Expected figures are probability weighted; the worst
    decile utilisation is the 10th percentile over scenarios of the new commitments' utilisation.
    """
    from planner.evaluate import evaluate

    say = progress or (lambda _m: None)
    notes: list[str] = []
    pools = scenarios.pools
    hours = min(horizon_hours, scenarios.n_hours)
    ts = scenarios.timestamps[:hours]
    probs = np.asarray(scenarios.probabilities, dtype=float)
    inv, n = priceable(inventory, offers)
    notes += n
    runs: dict[str, list[Commitment]] = {"existing only": []}
    for name, new in portfolios.items():
        runs[name], n = priceable(new, offers)
        notes += n
    rows = []
    results: dict[str, dict[str, Any]] = {}
    for name, new in runs.items():
        say(f"evaluating '{name}' on {scenarios.n_scenarios} scenarios")
        dated = [c.with_dates(ts[0]) for c in new]
        ids = {c.commitment_id for c in dated}
        totals, savings_od, utils, spend_new = [], [], [], 0.0
        for s in range(scenarios.n_scenarios):
            ev = evaluate(inv + dated, scenarios.demand_gpus[s, :hours], ts, pools, offers, policy)
            totals.append(ev.total_usd)
            savings_od.append(ev.on_demand_equivalent_usd - ev.total_usd)
            utils.append(_new_utilization(ev, ids))
            spend_new = sum(v for k, v in ev.commitment_spend_usd.items() if k in ids)
        u = np.asarray(utils, dtype=float)
        res: dict[str, Any] = {
            "portfolio": name,
            "new_commitments": _describe(new),
            "new_commitment_usd_per_hour": spend_new / hours,
            "expected_cost_usd": float(np.dot(probs, totals)),
            "expected_savings_vs_on_demand_usd": float(np.dot(probs, savings_od)),
            "new_utilization_expected_pct": 100 * float(np.dot(probs, u)) if ids else np.nan,
            "new_utilization_worst_decile_pct": (
                100 * weighted_quantile(u, probs, 0.1) if ids else np.nan
            ),
        }
        if actual is not None and not actual.empty:
            a_ts = pd.DatetimeIndex(actual.index)
            a_new = [c.with_dates(a_ts[0]) for c in new]
            a_inv = inv
            ev = evaluate(
                a_inv + a_new,
                actual[[p.name for p in pools]].to_numpy(dtype=float),
                a_ts,
                pools,
                offers,
                policy,
            )
            res["actual_cost_usd"] = ev.total_usd
            res["actual_utilization_pct"] = (
                100 * _new_utilization(ev, {c.commitment_id for c in a_new}) if a_new else np.nan
            )
        results[name] = res
        rows.append(res)
    table = pd.DataFrame(rows)
    base = results["existing only"]
    table.insert(
        4,
        "expected_savings_vs_existing_usd",
        [base["expected_cost_usd"] - r["expected_cost_usd"] for r in rows],
    )
    if "actual_cost_usd" in table:
        pos = list(table.columns).index("actual_cost_usd") + 1
        table.insert(
            pos,
            "actual_savings_vs_existing_usd",
            [base["actual_cost_usd"] - r["actual_cost_usd"] for r in rows],
        )
    actual_window = None
    if actual is not None and not actual.empty:
        actual_window = (str(actual.index[0]), str(actual.index[-1]))
    return Comparison(table, notes, (str(ts[0]), str(ts[-1])), actual_window)


# ---------------------------------------------------------------- the workflow


@dataclass(frozen=True)
class CostExplorerComparison:
    """Cost Explorer's recommendation and both portfolios billed side by side."""

    ce: CeRecommendation
    comparison: Comparison
    n_scenarios: int
    catalog_versions: tuple[str, ...]
    ce_source: str

    @property
    def notes(self) -> list[str]:
        return [*self.ce.notes, *self.comparison.notes]


def compare_with_cost_explorer(
    inputs: PlanningInputs,
    responses: list[dict[str, Any]],
    *,
    ce_source: str,
    lookback_days: int = 30,
    models: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> CostExplorerComparison:
    """Plan on ``inputs`` as ``planner plan`` does, then bill existing commitments alone, plus
    Cost Explorer's purchases (``responses``), and plus ours, on every forecast scenario and on the
    last ``lookback_days`` days of actual usage (CE's own lookback when its responses name one).

    The catalog prices every provider (commitments held at a provider the policy leaves out still
    bill), exactly as in the quarterly run; only the savings curves are skipped.
    """
    say = progress or (lambda _m: None)
    ce = parse_recommendations(responses, inputs.start, inputs.aws_instance_types)
    fc = inputs.forecast(say, models=models)
    policy = replace(inputs.policy, savings_curve_points=0)
    offers = inputs.catalog.offers
    inventory = list(inputs.inventory)
    plan = optimize(fc.scenarios, offers, inventory, policy, as_of=inputs.start, progress=say)
    ours = [p.commitment for p in plan.purchases if p.firm]
    result = compare(
        {"AWS Cost Explorer": ce.commitments, "planner": ours},
        inventory,
        fc.scenarios,
        offers,
        policy,
        horizon_hours=inputs.horizon_hours,
        actual=inputs.recent_demand(ce.lookback_days or lookback_days),
        progress=say,
    )
    return CostExplorerComparison(
        ce, result, fc.scenarios.n_scenarios, inputs.catalog.versions, ce_source
    )
