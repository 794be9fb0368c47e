"""AWS Cost Explorer's own recommendation, next to ours.

:mod:`planner.aws.cost_explorer` turns Cost Explorer's responses into commitments; :func:`compare`
bills both portfolios (existing inventory + CE's purchases, existing inventory + our "buy now"
purchases) with the evaluator on the same forecast scenarios over the whole valuation horizon
(every term to its end, the cost of money: the same valuation as ``planner plan``) and on the
recent actual usage, and
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

from forecasting.scenarios import DemandScenarios
from planner.aws.cost_explorer import CeRecommendation, parse_recommendations
from planner.evaluate.bill import Tariff, extend_tariff, tariff
from planner.evaluate.cashflow import cashflow_schedule, commitment_cash, schedule_records
from planner.evaluate.compare import StrategyFigures, evaluate_on_paths
from planner.inventory import Commitment
from planner.optimize import optimize
from planner.policy import Policy
from planner.valuation import valuation_for
from planner.workflows.inputs import PlanningInputs
from pricing_data.stats import weighted_quantile
from pricing_data.units import HOURS_PER_MONTH

# ---------------------------------------------------------------- side by side


@dataclass(frozen=True)
class Comparison:
    """One row per portfolio: existing only, Cost Explorer's purchases, the planner's purchases.

    ``forecast_window`` is the decision horizon's first and last hour; the bills run on to the end
    of the valuation horizon (``valuation_months``), discounted at ``discount_rate_pct``."""

    table: pd.DataFrame
    notes: list[str]
    forecast_window: tuple[str, str]
    actual_window: tuple[str, str] | None
    valuation_months: float = 0.0
    discount_rate_pct: float = 0.0


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
    scenarios: DemandScenarios,
    offers: pd.DataFrame,
    policy: Policy,
    *,
    actual: pd.DataFrame | None = None,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Bill each portfolio (inventory + its new commitments) on every scenario over the whole
    valuation horizon, as ``planner plan`` does, and on ``actual``.

    ``portfolios`` maps a name to its *new* commitments (their dates are moved to the start of each
    window). The scenario bills run on :func:`planner.valuation.valuation_for`'s rows: the decision
    horizon hour by hour, then the tail model to the end of the longest term any portfolio holds or
    the policy can buy, with the policy's spot price spread; cash is discounted monthly at
    ``discount_rate_pct`` (:mod:`planner.evaluate.cashflow`). Figures, probability-weighted over
    scenarios, each undiscounted and NPV: ``expected_cost_usd`` (cash: existing commitments'
    remaining payments, new upfront and recurring, on-demand, spot, egress), savings against
    keeping only the existing commitments and against all on-demand, and the new commitments'
    whole-term obligation; the new commitments' utilisation over their terms, expected and worst
    decile (the 10th percentile over scenarios). ``actual`` (an hourly frame, UTC index, one column
    per pool) is billed hour by hour over its own window (recent usage replayed, as Cost Explorer
    sizes its recommendation).
    """
    from planner.evaluate import evaluate

    say = progress or (lambda _m: None)
    notes: list[str] = []
    pools = scenarios.pools
    probs = np.asarray(scenarios.probabilities, dtype=float)
    inv, n = priceable(inventory, offers)
    notes += n
    runs: dict[str, list[Commitment]] = {"existing only": []}
    for name, new in portfolios.items():
        runs[name], n = priceable(new, offers)
        notes += n
    vp = valuation_for(
        scenarios.demand_gpus,
        scenarios.start,
        policy,
        inv,
        seed=scenarios.seed,
        offers=offers,
        extra_terms_months=[c.term_months for new in runs.values() for c in new],
    )
    tl = vp.timeline
    start = tl.start
    rate = float(policy.discount_rate_pct)
    say(
        f"evaluating {len(runs) + 1} portfolios on {scenarios.n_scenarios} scenarios over "
        f"{tl.valuation_hours / HOURS_PER_MONTH:.0f} months"
    )

    def bill_on_rows(name: str, comms: list[Commitment], tf: Tariff) -> StrategyFigures:
        return evaluate_on_paths(name, comms, vp, probs, pools, offers, tf)

    no_spot = replace(policy, spot_cap_share=0.0)
    od = bill_on_rows("all on-demand", [], tariff([], tuple(pools), offers, no_spot))
    base_tf = tariff(inv, tuple(pools), offers, policy)
    rows = []
    for name, new in runs.items():
        dated = [c.with_dates(start) for c in new]
        ids = {c.commitment_id for c in dated}
        tf = extend_tariff(base_tf, [*inv, *dated], offers)
        figs = bill_on_rows(name, [*inv, *dated], tf)
        schedule = schedule_records(cashflow_schedule(figs, rate))
        obligation, obligation_npv = commitment_cash(schedule, ids)
        u = np.array([_new_utilization(ev, ids) for ev in figs.evaluations], dtype=float)
        res: dict[str, Any] = {
            "portfolio": name,
            "new_commitments": _describe(new),
            "new_commitment_usd_per_hour": sum(tf.terms[i].hourly_usd for i in ids),
            "new_obligation_usd": obligation,
            "new_obligation_npv_usd": obligation_npv,
            "expected_cost_usd": figs.expected_cash_usd,
            "expected_cost_npv_usd": figs.expected_npv_usd,
            "expected_savings_vs_on_demand_usd": od.expected_cash_usd - figs.expected_cash_usd,
            "expected_savings_vs_on_demand_npv_usd": od.expected_npv_usd - figs.expected_npv_usd,
            "new_utilization_expected_pct": 100 * float(probs @ u) if ids else np.nan,
            "new_utilization_worst_decile_pct": (
                100 * weighted_quantile(u, probs, 0.1) if ids else np.nan
            ),
        }
        if actual is not None and not actual.empty:
            a_ts = pd.DatetimeIndex(actual.index)
            a_new = [c.with_dates(a_ts[0]) for c in new]
            ev = evaluate(
                inv + a_new,
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
        rows.append(res)
    table = pd.DataFrame(rows)
    base = table.iloc[0]
    pos = list(table.columns).index("expected_cost_npv_usd") + 1
    for col, cost in (
        ("expected_savings_vs_existing_npv_usd", "expected_cost_npv_usd"),
        ("expected_savings_vs_existing_usd", "expected_cost_usd"),
    ):
        table.insert(pos, col, base[cost] - table[cost])
    if "actual_cost_usd" in table:
        pos = list(table.columns).index("actual_cost_usd") + 1
        table.insert(
            pos,
            "actual_savings_vs_existing_usd",
            base["actual_cost_usd"] - table["actual_cost_usd"],
        )
    actual_window = None
    if actual is not None and not actual.empty:
        actual_window = (str(actual.index[0]), str(actual.index[-1]))
    decision_end = start + pd.Timedelta(hours=tl.decision_hours - 1)
    return Comparison(
        table,
        notes,
        (str(start), str(decision_end)),
        actual_window,
        valuation_months=tl.valuation_hours / HOURS_PER_MONTH,
        discount_rate_pct=rate,
    )


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
        actual=inputs.recent_demand(ce.lookback_days or lookback_days),
        progress=say,
    )
    return CostExplorerComparison(
        ce, result, fc.scenarios.n_scenarios, inputs.catalog.versions, ce_source
    )
