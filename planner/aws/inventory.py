"""Existing commitments from an AWS account or a FOCUS export, as inventory :class:`Commitment` s.

- :func:`parse_reserved_instances` turns ``ec2.describe_reserved_instances`` records (one region) into
  Reserved Instance commitments; :func:`parse_savings_plans` turns
  ``savingsplans.describe_savings_plans`` records into Compute / EC2 Instance Savings Plans.
- :func:`import_from_aws` calls both through an injected client factory (read-only APIs).
- :func:`commitments_from_focus` reads a FOCUS export's commitment rows.

Only GPU instance types (those in the catalog) are kept by default; Compute Savings Plans are kept
whole because they cover any EC2 usage. Pure parsers; no AWS call at import time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from planner.inventory import Commitment
from pricing_data.aws.client import DEFAULT_RETRY, GLOBAL_REGION, ClientFactory, RetryPolicy
from pricing_data.aws.ec2 import fetch_reserved_instances
from pricing_data.aws.pricing import PAYMENT_OPTIONS
from pricing_data.aws.savingsplans import (
    PLAN_TYPES,
    fetch_savings_plans,
    term_months_from_seconds,
)
from pricing_data.errors import PlannerInputError

LEGACY_OFFERING_TYPES = ("Heavy Utilization", "Medium Utilization", "Light Utilization")


@dataclass(frozen=True)
class ImportResult:
    commitments: list[Commitment]
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_reserved_instances(
    records: list[dict[str, Any]], region: str, gpu_skus: set[str] | None = None
) -> tuple[list[Commitment], list[str]]:
    """Active RIs of one region as commitments; RIs of non-GPU types are left out (and counted)."""
    out: list[Commitment] = []
    notes: list[str] = []
    skipped_non_gpu: list[str] = []
    for rec in records:
        rid = str(rec.get("ReservedInstancesId", "?"))
        itype = str(rec.get("InstanceType", ""))
        if rec.get("State", "active") != "active":
            continue
        if gpu_skus is not None and itype not in gpu_skus:
            skipped_non_gpu.append(itype)
            continue
        offering = str(rec.get("OfferingType", ""))
        pay = PAYMENT_OPTIONS.get(offering)
        if pay is None:
            notes.append(f"RI {rid} ({itype}): legacy offering type {offering!r} not imported")
            continue
        klass = str(rec.get("OfferingClass", "standard"))
        try:
            start, end = _utc(rec["Start"]), _utc(rec["End"])
            months = term_months_from_seconds(float(rec["Duration"]))
            count = float(rec["InstanceCount"])
        except (KeyError, TypeError, ValueError) as e:
            notes.append(f"RI {rid} ({itype}): malformed record ({e}); not imported")
            continue
        platform = str(rec.get("ProductDescription", "Linux/UNIX"))
        if not platform.startswith("Linux/UNIX"):
            notes.append(f"RI {rid} ({itype}): platform {platform!r}; priced as Linux")
        out.append(
            Commitment(
                commitment_id=rid,
                provider="aws",
                purchase_model="reserved_instance",
                region=region,
                sku=itype,
                offering_class=klass,
                term_months=months,
                payment_option=pay,
                quantity=count,
                hourly_commitment_usd=0.0,
                start=start,
                end=end,
            )
        )
    if skipped_non_gpu:
        notes.append(
            f"{region}: {len(skipped_non_gpu)} RI(s) of non-GPU instance types left out "
            f"({', '.join(sorted(set(skipped_non_gpu))[:6])})"
        )
    return out, notes


def parse_savings_plans(
    records: list[dict[str, Any]], gpu_families: set[str] | None = None
) -> tuple[list[Commitment], list[str]]:
    """Active and queued Compute and EC2 Instance Savings Plans as commitments."""
    out: list[Commitment] = []
    notes: list[str] = []
    for rec in records:
        pid = str(rec.get("savingsPlanId", "?"))
        ptype = str(rec.get("savingsPlanType", ""))
        model = PLAN_TYPES.get(ptype)
        if model is None:
            notes.append(f"Savings Plan {pid}: type {ptype!r} does not cover EC2; not imported")
            continue
        if rec.get("state") not in ("active", "queued"):
            continue
        family = str(rec.get("ec2InstanceFamily") or "")
        if (
            model == "ec2_instance_savings_plan"
            and gpu_families is not None
            and family not in gpu_families
        ):
            notes.append(f"Savings Plan {pid}: instance family {family!r} has no GPUs; left out")
            continue
        pay = PAYMENT_OPTIONS.get(str(rec.get("paymentOption")))
        try:
            commitment = float(rec["commitment"])
            start, end = _utc(rec["start"]), _utc(rec["end"])
            months = term_months_from_seconds(float(rec["termDurationInSeconds"]))
        except (KeyError, TypeError, ValueError) as e:
            notes.append(f"Savings Plan {pid}: malformed record ({e}); not imported")
            continue
        if pay is None or not math.isfinite(commitment) or commitment <= 0:
            notes.append(f"Savings Plan {pid}: no payment option or commitment; not imported")
            continue
        if rec.get("currency", "USD") != "USD":
            notes.append(f"Savings Plan {pid}: commitment in {rec.get('currency')}, not USD")
        if model == "compute_savings_plan":
            notes.append(
                f"Savings Plan {pid}: a Compute SP covers all EC2, Fargate and Lambda usage; "
                f"its whole {commitment:g} USD/h is imported"
            )
        out.append(
            Commitment(
                commitment_id=pid,
                provider="aws",
                purchase_model=model,
                region=str(rec.get("region") or "") if model != "compute_savings_plan" else "",
                sku=family if model == "ec2_instance_savings_plan" else "",
                offering_class="",
                term_months=months,
                payment_option=pay,
                quantity=0.0,
                hourly_commitment_usd=commitment,
                start=start,
                end=end,
            )
        )
    return out, notes


def import_from_aws(
    factory: ClientFactory,
    regions: Iterable[str],
    *,
    gpu_skus: set[str] | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Active RIs in ``regions`` and the account's Savings Plans (read-only calls)."""
    say = progress or (lambda _m: None)
    regions = list(regions)
    commitments: list[Commitment] = []
    notes: list[str] = [
        f"Reserved Instances read in {', '.join(regions)} only (RIs are regional: pass --regions "
        "for every region the account uses)"
    ]
    sources: list[str] = []
    for region in regions:
        say(f"{region}: reserved instances")
        records = fetch_reserved_instances(factory("ec2", region), retry)
        got, n = parse_reserved_instances(records, region, gpu_skus)
        commitments += got
        notes += n
        sources.append(f"ec2:DescribeReservedInstances {region}")
    say("savings plans")
    plans = fetch_savings_plans(factory("savingsplans", GLOBAL_REGION), retry)
    families = {s.split(".")[0] for s in gpu_skus} if gpu_skus is not None else None
    got, n = parse_savings_plans(plans, families)
    commitments += got
    notes += n
    sources.append("savingsplans:DescribeSavingsPlans")
    return ImportResult(commitments, notes, sources)


# ---------------------------------------------------------------- FOCUS

FOCUS_COLUMNS = (
    "CommitmentDiscountId",
    "CommitmentDiscountCategory",
    "CommitmentDiscountType",
    "ChargePeriodStart",
    "RegionId",
)
_INSTANCE_TYPE = re.compile(
    r"\b([a-z][a-z0-9]*(?:-[a-z0-9]+)?\.(?:\d*x?large|metal|medium)(?:-\d+xl)?)\b"
)


def read_focus_commitment_rows(path: str | Path) -> pd.DataFrame:
    """The rows of a FOCUS export that name a commitment discount (FOCUS column names kept)."""
    p = Path(path)
    if not p.is_file():
        raise PlannerInputError("file not found", file=str(path), fix="check the FOCUS file path")
    if p.suffix.lower() == ".parquet":
        raw = pd.read_parquet(p).astype(object)
    else:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=["NULL", ""])
    missing = [c for c in FOCUS_COLUMNS if c not in raw.columns]
    if missing:
        raise PlannerInputError(
            f"not a FOCUS export with commitment columns: missing {', '.join(missing)}",
            file=str(path),
            row=1,
            fix="export FOCUS 1.0 or later (CommitmentDiscountId, CommitmentDiscountType, ...)",
        )
    ids = raw["CommitmentDiscountId"]
    return raw[ids.notna() & (ids.astype(str).str.strip() != "")].reset_index(drop=True)


def summarise_focus_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per commitment, in the columns of ``forecasting.read_focus_commitments``."""
    cols = ["commitment_discount_id", "category", "type", "provider", "region", "sku", "first_seen"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for cid, g in rows.groupby("CommitmentDiscountId", sort=True):
        descr = " ".join(str(x).lower() for x in g.get("ChargeDescription", pd.Series([])).dropna())
        m = _INSTANCE_TYPE.search(descr)
        regions = sorted({str(r) for r in g["RegionId"].dropna() if str(r)})
        provider = str(g["ProviderName"].iloc[0]) if "ProviderName" in g else "aws"
        out.append(
            {
                "commitment_discount_id": str(cid),
                "category": "/".join(sorted(set(g["CommitmentDiscountCategory"].dropna()))),
                "type": "/".join(sorted(set(g["CommitmentDiscountType"].dropna()))),
                "provider": "aws" if provider.lower().startswith(("aws", "amazon")) else provider,
                "region": "/".join(regions),
                "sku": m.group(1) if m else "",
                "first_seen": pd.to_datetime(
                    g["ChargePeriodStart"], utc=True, errors="coerce"
                ).min(),
            }
        )
    return pd.DataFrame(out, columns=cols)


def focus_amounts(rows: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """commitment id -> (largest hourly EffectiveCost sum, largest hourly PricingQuantity sum)."""
    if rows.empty:
        return {}
    df = pd.DataFrame(
        {
            "id": rows["CommitmentDiscountId"].astype(str),
            "hour": pd.to_datetime(rows["ChargePeriodStart"], utc=True, errors="coerce"),
        }
    )
    for col in ("EffectiveCost", "PricingQuantity"):
        values = rows[col] if col in rows else pd.Series(0.0, index=rows.index)
        df[col] = pd.to_numeric(values, errors="coerce").fillna(0.0)
    hourly = df.groupby(["id", "hour"])[["EffectiveCost", "PricingQuantity"]].sum()
    peak = hourly.groupby(level="id").max()
    return {
        str(i): (float(c), float(q))
        for i, c, q in zip(peak.index, peak["EffectiveCost"], peak["PricingQuantity"], strict=True)
    }


def parse_focus_commitments(
    summary: pd.DataFrame,
    amounts: dict[str, tuple[float, float]],
    *,
    term_months: int,
    payment_option: str,
    label: str = "FOCUS export",
) -> tuple[list[Commitment], list[str]]:
    """Commitments from a FOCUS commitment summary (one row per ``commitment_discount_id``).

    FOCUS carries no term, payment option or purchase date: ``term_months`` and ``payment_option``
    are applied to every commitment, the start is the day the commitment is first seen and the end
    is start + term (both lower bounds). A Savings Plan's hourly commitment is the largest hourly sum
    of ``EffectiveCost`` over its used and unused rows; an RI's quantity is the largest hourly sum of
    ``PricingQuantity`` (instance-hours). Commitments whose amount cannot be derived are skipped and
    named in the notes. Pure.
    """
    notes = [
        f"{label}: FOCUS has no term, payment option or purchase date; assumed {term_months} months, "
        f"{payment_option}, start = first day seen (check against the account with --from aws)"
    ]
    out: list[Commitment] = []
    for rec in summary.to_dict(orient="records"):
        cid = str(rec["commitment_discount_id"])
        if str(rec.get("provider", "aws")) != "aws":
            notes.append(f"{cid}: provider {rec.get('provider')!r} not imported")
            continue
        first = rec.get("first_seen")
        if first is None or pd.isna(first):
            notes.append(f"{cid}: no valid ChargePeriodStart; not imported")
            continue
        start = pd.Timestamp(first).normalize()
        end = start + pd.DateOffset(months=term_months)
        kind = f"{rec.get('type', '')} {rec.get('category', '')}".lower()
        region = str(rec.get("region") or "").split("/")[0]
        cost, qty = amounts.get(cid, (0.0, 0.0))
        if "savings" in kind or "spend" in kind:
            if not cost > 0:
                notes.append(
                    f"{cid}: Savings Plan seen but its hourly commitment cannot be derived "
                    "(EffectiveCost is 0); not imported"
                )
                continue
            out.append(
                Commitment(
                    commitment_id=cid,
                    provider="aws",
                    purchase_model="compute_savings_plan",
                    region="",
                    sku="",
                    offering_class="",
                    term_months=term_months,
                    payment_option=payment_option,
                    quantity=0.0,
                    hourly_commitment_usd=round(cost, 6),
                    start=start,
                    end=end,
                )
            )
        else:
            sku = str(rec.get("sku") or "").split("/")[0]
            if not sku or not qty > 0 or not region:
                notes.append(f"{cid}: Reserved Instance without instance type, region or quantity")
                continue
            out.append(
                Commitment(
                    commitment_id=cid,
                    provider="aws",
                    purchase_model="reserved_instance",
                    region=region,
                    sku=sku,
                    offering_class="standard",
                    term_months=term_months,
                    payment_option=payment_option,
                    quantity=round(qty, 3),
                    hourly_commitment_usd=0.0,
                    start=start,
                    end=end,
                )
            )
    if any(c.purchase_model == "compute_savings_plan" for c in out):
        notes.append("FOCUS does not say Compute or EC2 Instance SP: imported as Compute SPs")
    return out, notes


def commitments_from_focus(
    path: str | Path, *, term_months: int = 12, payment_option: str = "no_upfront"
) -> ImportResult:
    """Commitments in a FOCUS export (see :func:`parse_focus_commitments` for what is assumed).

    The list of commitments comes from ``forecasting.read_focus_commitments`` when that reader is
    installed, else from :func:`summarise_focus_rows`; the amounts from the raw commitment rows.
    """
    if payment_option not in PAYMENT_OPTIONS.values():
        raise PlannerInputError(
            "unknown payment option",
            column="--payment-option",
            value=payment_option,
            fix="use no_upfront, partial_upfront or all_upfront",
        )
    summary: pd.DataFrame | None = None
    try:
        from forecasting import read_focus_commitments
    except ImportError:  # pragma: no cover - forecasting is part of the project
        read_focus_commitments = None  # type: ignore[assignment]
    if read_focus_commitments is not None:
        try:
            shared = read_focus_commitments(str(path))
        except ImportError:
            shared = None
        if isinstance(shared, pd.DataFrame) and {"commitment_discount_id", "first_seen"} <= set(
            shared.columns
        ):
            summary = shared
    rows = read_focus_commitment_rows(path)
    if summary is None:
        summary = summarise_focus_rows(rows)
    got, notes = parse_focus_commitments(
        summary,
        focus_amounts(rows),
        term_months=term_months,
        payment_option=payment_option,
        label=str(path),
    )
    return ImportResult(got, notes, [f"FOCUS {Path(path).name} ({len(rows)} commitment rows)"])


def describe(commitments: list[Commitment], now: datetime | None = None) -> pd.DataFrame:
    """A short table of imported commitments for the terminal."""
    rows = [
        {
            "commitment_id": c.commitment_id[-36:],
            "purchase_model": c.purchase_model,
            "region": c.region,
            "sku": c.sku,
            "term_months": c.term_months,
            "payment_option": c.payment_option,
            "quantity": c.quantity if not c.is_savings_plan else None,
            "usd_per_hour": c.hourly_commitment_usd if c.is_savings_plan else None,
            "end_date": c.end.date().isoformat(),
        }
        for c in commitments
    ]
    return pd.DataFrame(rows)
