"""The Savings Plans API (``savingsplans:*``): published Savings Plans rates and the plans held.

:func:`fetch_savings_plans_rates` and :func:`parse_savings_plans_rates` give per-instance-type rates;
:func:`fetch_savings_plans` lists the account's plans (parsed into commitments by
:mod:`planner.aws.inventory`).

Parsing: Parse ``savingsplans.describe_savings_plans_offering_rates`` results into per-SKU SP rates.

Each result is the rate (USD of hourly commitment per instance-hour) at which one Savings Plans
offering (plan type, term, payment option) covers one usage type (e.g. ``USE1-BoxUsage:p5.48xlarge``)
in one region. Pure functions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pricing_data.aws.client import DEFAULT_RETRY, RetryPolicy, chunks, items
from pricing_data.aws.pricing import PAYMENT_OPTIONS


def fetch_savings_plans_rates(
    savingsplans: Any,
    regions: list[str],
    instance_types: list[str],
    retry: RetryPolicy = DEFAULT_RETRY,
) -> list[dict[str, Any]]:
    """Published Compute and EC2 Instance Savings Plans rates for Linux, shared-tenancy EC2 usage."""
    out: list[dict[str, Any]] = []
    for chunk in chunks(sorted(instance_types), 25):
        out += items(
            savingsplans,
            "describe_savings_plans_offering_rates",
            "searchResults",
            token="nextToken",
            retry=retry,
            savingsPlanTypes=["Compute", "EC2Instance"],
            products=["EC2"],
            serviceCodes=["AmazonEC2"],
            operations=["RunInstances"],
            filters=[
                {"name": "region", "values": sorted(regions)},
                {"name": "instanceType", "values": chunk},
                {"name": "productDescription", "values": ["Linux/UNIX"]},
                {"name": "tenancy", "values": ["shared"]},
            ],
            maxResults=1000,
        )
    return out


def fetch_savings_plans(
    savingsplans: Any, retry: RetryPolicy = DEFAULT_RETRY
) -> list[dict[str, Any]]:
    """Active and queued Savings Plans of the account (savingsplans:DescribeSavingsPlans)."""
    return items(
        savingsplans,
        "describe_savings_plans",
        "savingsPlans",
        token="nextToken",
        retry=retry,
        states=["active", "queued"],
        maxResults=100,
    )


PLAN_TYPES = {"Compute": "compute_savings_plan", "EC2Instance": "ec2_instance_savings_plan"}
SECONDS_PER_YEAR = 365 * 24 * 3600
_BOX_USAGE = re.compile(r"(?:^|-)BoxUsage:")


@dataclass(frozen=True)
class SavingsPlanRate:
    region: str
    instance_type: str
    instance_family: str
    purchase_model: str  # compute_savings_plan or ec2_instance_savings_plan
    term_months: int
    payment_option: str
    rate_usd_per_hour: float  # commitment dollars consumed per instance-hour
    offering_id: str


def term_months_from_seconds(seconds: float) -> int:
    """12 for a one-year term (31,536,000 s), 36 for three years."""
    return round(float(seconds) / SECONDS_PER_YEAR * 12)


def parse_savings_plans_rates(
    results: list[dict[str, Any]],
) -> tuple[list[SavingsPlanRate], list[str]]:
    """Linux shared-tenancy EC2 rates in ``results``; notes say what was skipped and why."""
    out: dict[tuple[str, str, str, int, str], SavingsPlanRate] = {}
    notes: list[str] = []
    for i, res in enumerate(results):
        offering = res.get("savingsPlanOffering") or {}
        props = {p.get("name"): p.get("value") for p in res.get("properties") or []}
        usage = str(res.get("usageType", ""))
        if res.get("productType", "EC2") != "EC2" or not _BOX_USAGE.search(usage):
            continue
        if props.get("productDescription", "Linux/UNIX") != "Linux/UNIX":
            continue
        if props.get("tenancy", "shared") != "shared":
            continue
        model = PLAN_TYPES.get(str(offering.get("planType")))
        pay = PAYMENT_OPTIONS.get(str(offering.get("paymentOption")))
        itype = props.get("instanceType") or usage.split(":", 1)[-1]
        region = props.get("region")
        where = f"savings plans rate #{i + 1} ({itype} {region})"
        if model is None:
            continue  # SageMaker and other plans do not cover EC2 instances
        if pay is None or not region or not itype:
            notes.append(f"skipped {where}: missing payment option, region or instance type")
            continue
        if offering.get("currency", "USD") != "USD" or res.get("unit", "Hrs") != "Hrs":
            notes.append(f"skipped {where}: not a USD hourly rate")
            continue
        try:
            rate = float(res.get("rate", ""))
        except ValueError:
            notes.append(f"skipped {where}: rate {res.get('rate')!r} is not a number")
            continue
        if not math.isfinite(rate) or rate <= 0:
            notes.append(f"skipped {where}: rate {rate} is not > 0")
            continue
        months = term_months_from_seconds(offering.get("durationSeconds") or 0)
        if months not in (12, 36):
            notes.append(f"skipped {where}: term of {offering.get('durationSeconds')} s")
            continue
        family = props.get("instanceFamily") or itype.split(".")[0]
        key = (region, itype, model, months, pay)
        item = SavingsPlanRate(
            region, itype, family, model, months, pay, rate, str(offering.get("offeringId", ""))
        )
        if key in out and out[key].rate_usd_per_hour != rate:
            notes.append(f"{where}: two rates for {model} {months} {pay}; kept the lower")
            item = min(item, out[key], key=lambda r: r.rate_usd_per_hour)
        out[key] = item
    return list(out.values()), notes
