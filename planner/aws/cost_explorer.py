"""Cost Explorer's purchase recommendation as planner commitments.

Cost Explorer (CE) sizes one Savings Plan type or one RI type at a time from the last 7, 30 or 60 days
of spend. :func:`parse_recommendations` turns its responses (``ce.get_savings_plans_purchase_recommendation``
and ``ce.get_reservation_purchase_recommendation``, fetched by :func:`fetch_recommendations` through
:mod:`pricing_data.aws.ce`, or saved as JSON and read by :func:`read_recommendation_files`) into
:class:`~planner.inventory.Commitment` s and a table.

Cost Explorer names regions by location ("US East (N. Virginia)"); :func:`region_code` maps them to
the catalog's codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from planner.inventory import Commitment
from pricing_data.aws.ce import (
    fetch_reservation_recommendation,
    fetch_savings_plans_recommendation,
)
from pricing_data.aws.client import DEFAULT_RETRY, GLOBAL_REGION, ClientFactory, RetryPolicy
from pricing_data.aws.regions import region_code
from pricing_data.errors import PlannerInputError

TERMS = {"ONE_YEAR": 12, "THREE_YEARS": 36}
PAYMENTS = {
    "NO_UPFRONT": "no_upfront",
    "PARTIAL_UPFRONT": "partial_upfront",
    "ALL_UPFRONT": "all_upfront",
}
SP_TYPES = {"COMPUTE_SP": "compute_savings_plan", "EC2_INSTANCE_SP": "ec2_instance_savings_plan"}
LOOKBACK = {7: "SEVEN_DAYS", 30: "THIRTY_DAYS", 60: "SIXTY_DAYS"}
LOOKBACK_DAYS = {v: k for k, v in LOOKBACK.items()}

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
                commitment_id=cid,
                provider="aws",
                purchase_model=model,
                region=region,
                sku=family,
                offering_class="",
                term_months=term,
                payment_option=pay,
                quantity=0.0,
                hourly_commitment_usd=hourly,
                start=start,
                end=start + pd.DateOffset(months=term),
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
                    commitment_id=f"ce-ri-{n}",
                    provider="aws",
                    purchase_model="reserved_instance",
                    region=region,
                    sku=itype,
                    offering_class=klass,
                    term_months=term,
                    payment_option=pay,
                    quantity=qty,
                    hourly_commitment_usd=0.0,
                    start=start,
                    end=start + pd.DateOffset(months=term),
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


@dataclass(frozen=True)
class RecommendationQuery:
    """What to ask Cost Explorer for: the term (12 or 36 months), payment option (our names),
    lookback (7, 30 or 60 days), the Savings Plans types, and whether (and for which offering class)
    to ask for EC2 RI recommendations too."""

    term_months: int
    payment_option: str
    lookback_days: int
    sp_types: tuple[str, ...] = ("COMPUTE_SP", "EC2_INSTANCE_SP")
    offering_class: str = "standard"
    include_reservations: bool = True


def fetch_recommendations(
    factory: ClientFactory,
    query: RecommendationQuery,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """CE's Savings Plans (each type) and EC2 RI recommendations; read-only calls."""
    say = progress or (lambda _m: None)
    term = {12: "ONE_YEAR", 36: "THREE_YEARS"}[query.term_months]
    pay = {v: k for k, v in PAYMENTS.items()}[query.payment_option]
    lookback = LOOKBACK[query.lookback_days]
    ce = factory("ce", GLOBAL_REGION)
    responses = []
    for sp_type in query.sp_types:
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
    if query.include_reservations:
        say("Cost Explorer: EC2 RI recommendation")
        responses.append(
            fetch_reservation_recommendation(
                ce,
                term_in_years=term,
                payment_option=pay,
                lookback=lookback,
                offering_class=query.offering_class.upper(),
                retry=retry,
            )
        )
    return responses
