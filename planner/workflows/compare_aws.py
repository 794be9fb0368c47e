"""AWS Cost Explorer's own recommendation, next to ours.

Cost Explorer (CE) sizes one Savings Plan type or one RI type at a time from the last 7, 30 or 60 days
of spend. :func:`parse_recommendations` turns its responses (``ce.get_savings_plans_purchase_recommendation``
and ``ce.get_reservation_purchase_recommendation``, fetched by :func:`fetch_recommendations` or saved
as JSON) into :class:`~planner.inventory.Commitment` s and a table; :func:`compare` then bills both
portfolios (existing inventory + CE's purchases, existing inventory + our "buy now" purchases) with
the evaluator on the same forecast scenarios and on the recent actual usage.

Caveat shown with every comparison: CE's Savings Plans figure is sized on *all* the account's
eligible compute spend (CPU instances, Fargate, Lambda too), while the planner sees GPU usage only,
so part of a CE Savings Plan may in reality cover non-GPU usage.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.inventory import Commitment
from pricing_data.aws.fetch import (
    DEFAULT_RETRY,
    GLOBAL_REGION,
    ClientFactory,
    RetryPolicy,
    fetch_reservation_recommendation,
    fetch_savings_plans_recommendation,
)
from pricing_data.errors import PlannerInputError
from pricing_data.stats import weighted_quantile

TERMS = {"ONE_YEAR": 12, "THREE_YEARS": 36}
PAYMENTS = {
    "NO_UPFRONT": "no_upfront",
    "PARTIAL_UPFRONT": "partial_upfront",
    "ALL_UPFRONT": "all_upfront",
}
SP_TYPES = {"COMPUTE_SP": "compute_savings_plan", "EC2_INSTANCE_SP": "ec2_instance_savings_plan"}
LOOKBACK = {7: "SEVEN_DAYS", 30: "THIRTY_DAYS", 60: "SIXTY_DAYS"}
LOOKBACK_DAYS = {v: k for k, v in LOOKBACK.items()}

# Cost Explorer names regions by location; the catalog by code.
REGION_CODES = {
    "US East (N. Virginia)": "us-east-1",
    "US East (Ohio)": "us-east-2",
    "US West (N. California)": "us-west-1",
    "US West (Oregon)": "us-west-2",
    "Canada (Central)": "ca-central-1",
    "EU (Ireland)": "eu-west-1",
    "Europe (Ireland)": "eu-west-1",
    "EU (London)": "eu-west-2",
    "Europe (London)": "eu-west-2",
    "EU (Paris)": "eu-west-3",
    "Europe (Paris)": "eu-west-3",
    "EU (Frankfurt)": "eu-central-1",
    "Europe (Frankfurt)": "eu-central-1",
    "EU (Stockholm)": "eu-north-1",
    "Europe (Stockholm)": "eu-north-1",
    "EU (Milan)": "eu-south-1",
    "Europe (Milan)": "eu-south-1",
    "EU (Spain)": "eu-south-2",
    "Europe (Spain)": "eu-south-2",
    "Europe (Zurich)": "eu-central-2",
    "Asia Pacific (Tokyo)": "ap-northeast-1",
    "Asia Pacific (Seoul)": "ap-northeast-2",
    "Asia Pacific (Osaka)": "ap-northeast-3",
    "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Sydney)": "ap-southeast-2",
    "Asia Pacific (Jakarta)": "ap-southeast-3",
    "Asia Pacific (Mumbai)": "ap-south-1",
    "Asia Pacific (Hyderabad)": "ap-south-2",
    "Asia Pacific (Hong Kong)": "ap-east-1",
    "South America (Sao Paulo)": "sa-east-1",
    "Middle East (Bahrain)": "me-south-1",
    "Middle East (UAE)": "me-central-1",
    "Africa (Cape Town)": "af-south-1",
    "Israel (Tel Aviv)": "il-central-1",
}

TABLE_COLUMNS = [
    "source",
    "purchase_model",
    "region",
    "sku",
    "offering_class",
    "term_months",
    "payment_option",
    "quantity",
    "hourly_commitment_usd",
    "upfront_usd",
    "ce_monthly_savings_usd",
    "ce_utilization_pct",
]


@dataclass(frozen=True)
class CeRecommendation:
    """CE's recommended purchases as commitments (starting ``start``) and as a table."""

    commitments: list[Commitment]
    table: pd.DataFrame
    lookback_days: int | None
    notes: list[str] = field(default_factory=list)
    generated: str = ""


def region_code(name: str) -> str:
    """``us-east-1`` for "US East (N. Virginia)"; codes pass through."""
    name = (name or "").strip()
    return REGION_CODES.get(name, name)


def _f(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def parse_savings_plans_recommendation(
    response: dict[str, Any], start: pd.Timestamp
) -> tuple[list[Commitment], list[dict[str, Any]], list[str], int | None]:
    """Commitments and table rows from a GetSavingsPlansPurchaseRecommendation response."""
    rec = response.get("SavingsPlansPurchaseRecommendation") or {}
    notes: list[str] = []
    model = SP_TYPES.get(str(rec.get("SavingsPlansType")))
    term = TERMS.get(str(rec.get("TermInYears")))
    pay = PAYMENTS.get(str(rec.get("PaymentOption")))
    lookback = LOOKBACK_DAYS.get(str(rec.get("LookbackPeriodInDays")))
    if model is None or term is None or pay is None:
        notes.append(
            "Savings Plans recommendation skipped: type "
            f"{rec.get('SavingsPlansType')!r}, term {rec.get('TermInYears')!r}, "
            f"payment {rec.get('PaymentOption')!r}"
        )
        return [], [], notes, lookback
    out: list[Commitment] = []
    rows: list[dict[str, Any]] = []
    for i, d in enumerate(rec.get("SavingsPlansPurchaseRecommendationDetails") or []):
        hourly = _f(d.get("HourlyCommitmentToPurchase"))
        if hourly <= 0:
            continue
        details = d.get("SavingsPlansDetails") or {}
        region = (
            region_code(str(details.get("Region") or "")) if model != "compute_savings_plan" else ""
        )
        family = str(details.get("InstanceFamily") or "") if model != "compute_savings_plan" else ""
        if model == "ec2_instance_savings_plan" and not (region and family):
            notes.append(f"EC2 Instance SP recommendation #{i + 1} lacks region or family; skipped")
            continue
        cid = f"ce-sp-{i + 1}"
        out.append(
            Commitment(
                cid,
                "aws",
                model,
                region,
                family,
                "",
                term,
                pay,
                0.0,
                hourly,
                start,
                start + pd.DateOffset(months=term),
            )
        )
        rows.append(
            {
                "source": "ce:savings_plans",
                "purchase_model": model,
                "region": region,
                "sku": family,
                "offering_class": "",
                "term_months": term,
                "payment_option": pay,
                "quantity": None,
                "hourly_commitment_usd": hourly,
                "upfront_usd": _f(d.get("UpfrontCost")),
                "ce_monthly_savings_usd": _f(d.get("EstimatedMonthlySavingsAmount")),
                "ce_utilization_pct": _f(d.get("EstimatedAverageUtilization")),
            }
        )
    return out, rows, notes, lookback


def parse_reservation_recommendation(
    response: dict[str, Any], start: pd.Timestamp, gpu_skus: set[str] | None = None
) -> tuple[list[Commitment], list[dict[str, Any]], list[str], int | None]:
    """Commitments and table rows from a GetReservationPurchaseRecommendation response (EC2)."""
    out: list[Commitment] = []
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    lookback: int | None = None
    non_gpu: list[str] = []
    n = 0
    for rec in response.get("Recommendations") or []:
        term = TERMS.get(str(rec.get("TermInYears")))
        pay = PAYMENTS.get(str(rec.get("PaymentOption")))
        lookback = LOOKBACK_DAYS.get(str(rec.get("LookbackPeriodInDays")), lookback)
        spec = ((rec.get("ServiceSpecification") or {}).get("EC2Specification") or {}).get(
            "OfferingClass", "STANDARD"
        )
        klass = str(spec).lower()
        if term is None or pay is None:
            notes.append(f"RI recommendation with term {rec.get('TermInYears')!r} skipped")
            continue
        for d in rec.get("RecommendationDetails") or []:
            ec2 = (d.get("InstanceDetails") or {}).get("EC2InstanceDetails")
            if not ec2:
                continue
            itype = str(ec2.get("InstanceType") or "")
            qty = _f(d.get("RecommendedNumberOfInstancesToPurchase"))
            if qty <= 0 or not itype:
                continue
            if gpu_skus is not None and itype not in gpu_skus:
                non_gpu.append(itype)
                continue
            platform = str(ec2.get("Platform") or "Linux/UNIX")
            if not platform.startswith("Linux"):
                notes.append(f"RI recommendation for {itype} on {platform!r} priced as Linux")
            region = region_code(str(ec2.get("Region") or ""))
            n += 1
            out.append(
                Commitment(
                    f"ce-ri-{n}",
                    "aws",
                    "reserved_instance",
                    region,
                    itype,
                    klass,
                    term,
                    pay,
                    qty,
                    0.0,
                    start,
                    start + pd.DateOffset(months=term),
                )
            )
            rows.append(
                {
                    "source": "ce:reservations",
                    "purchase_model": "reserved_instance",
                    "region": region,
                    "sku": itype,
                    "offering_class": klass,
                    "term_months": term,
                    "payment_option": pay,
                    "quantity": qty,
                    "hourly_commitment_usd": None,
                    "upfront_usd": _f(d.get("UpfrontCost")),
                    "ce_monthly_savings_usd": _f(d.get("EstimatedMonthlySavingsAmount")),
                    "ce_utilization_pct": _f(d.get("AverageUtilization")),
                }
            )
    if non_gpu:
        notes.append(
            f"{len(non_gpu)} RI recommendation(s) for instance types without GPUs left out "
            f"({', '.join(sorted(set(non_gpu))[:6])})"
        )
    return out, rows, notes, lookback


def parse_recommendations(
    responses: list[dict[str, Any]], start: pd.Timestamp, gpu_skus: set[str] | None = None
) -> CeRecommendation:
    """CE responses (Savings Plans and/or RI) as one recommendation starting at ``start``."""
    commitments: list[Commitment] = []
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    lookbacks: set[int] = set()
    generated = ""
    for resp in responses:
        generated = generated or str((resp.get("Metadata") or {}).get("GenerationTimestamp", ""))
        if "SavingsPlansPurchaseRecommendation" in resp:
            c, r, n, lb = parse_savings_plans_recommendation(resp, start)
        elif "Recommendations" in resp:
            c, r, n, lb = parse_reservation_recommendation(resp, start, gpu_skus)
        else:
            raise PlannerInputError(
                "not a Cost Explorer purchase recommendation",
                value=sorted(resp)[:4],
                fix="save the output of `aws ce get-savings-plans-purchase-recommendation` or "
                "`aws ce get-reservation-purchase-recommendation` as JSON",
            )
        commitments += c
        rows += r
        notes += n
        if lb:
            lookbacks.add(lb)
    # number across responses: each response numbers its own from 1
    counters: dict[str, int] = {}
    renumbered = []
    for com in commitments:
        kind = "ri" if com.purchase_model == "reserved_instance" else "sp"
        counters[kind] = counters.get(kind, 0) + 1
        renumbered.append(replace(com, commitment_id=f"ce-{kind}-{counters[kind]}"))
    commitments = renumbered
    if len(lookbacks) > 1:
        notes.append(f"responses use different lookbacks: {sorted(lookbacks)} days")
    if any(c.purchase_model == "compute_savings_plan" for c in commitments):
        notes.append(
            "CE sizes Savings Plans on all eligible compute spend, not only GPUs; the comparison "
            "bills the whole commitment against GPU usage"
        )
    return CeRecommendation(
        commitments,
        pd.DataFrame(rows, columns=TABLE_COLUMNS),
        max(lookbacks) if lookbacks else None,
        notes,
        generated,
    )


def read_recommendation_files(paths: list[str]) -> list[dict[str, Any]]:
    """Saved CE responses: each file holds one response object or a list of them."""
    out: list[dict[str, Any]] = []
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise PlannerInputError("file not found", file=path, fix="check --recommendation")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise PlannerInputError(
                f"not JSON ({e})", file=path, fix="save the CE response with --output json"
            ) from None
        items = data if isinstance(data, list) else [data]
        for item in items:
            if not isinstance(item, dict):
                raise PlannerInputError(
                    "not a CE response object", file=path, fix="save the raw API response"
                )
            out.append(item)
    return out


def fetch_recommendations(
    factory: ClientFactory,
    *,
    term_months: int,
    payment_option: str,
    lookback_days: int,
    sp_types: tuple[str, ...] = ("COMPUTE_SP", "EC2_INSTANCE_SP"),
    offering_class: str = "standard",
    include_reservations: bool = True,
    retry: RetryPolicy = DEFAULT_RETRY,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """CE's Savings Plans (each type) and EC2 RI recommendations; read-only calls."""
    say = progress or (lambda _m: None)
    term = {12: "ONE_YEAR", 36: "THREE_YEARS"}[term_months]
    pay = {v: k for k, v in PAYMENTS.items()}[payment_option]
    lookback = LOOKBACK[lookback_days]
    ce = factory("ce", GLOBAL_REGION)
    responses = []
    for sp_type in sp_types:
        say(f"Cost Explorer: {sp_type} recommendation")
        responses.append(
            fetch_savings_plans_recommendation(
                ce,
                savings_plans_type=sp_type,
                term_in_years=term,
                payment_option=pay,
                lookback=lookback,
                retry=retry,
            )
        )
    if include_reservations:
        say("Cost Explorer: EC2 RI recommendation")
        responses.append(
            fetch_reservation_recommendation(
                ce,
                term_in_years=term,
                payment_option=pay,
                lookback=lookback,
                offering_class=offering_class.upper(),
                retry=retry,
            )
        )
    return responses


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
