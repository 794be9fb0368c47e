"""The Cost Explorer API (``ce:Get*PurchaseRecommendation``): AWS's own purchase recommendations.

The responses are parsed into commitments by :mod:`planner.aws.cost_explorer` (commitments are the
planner's type).
"""

from __future__ import annotations

from typing import Any

from pricing_data.aws.client import DEFAULT_RETRY, RetryPolicy, pages


def fetch_savings_plans_recommendation(
    ce: Any,
    *,
    savings_plans_type: str,
    term_in_years: str,
    payment_option: str,
    lookback: str,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> dict[str, Any]:
    """Cost Explorer's Savings Plans recommendation, all pages merged into one response."""
    merged: dict[str, Any] | None = None
    for page in pages(
        ce,
        "get_savings_plans_purchase_recommendation",
        token_in="NextPageToken",
        token_out="NextPageToken",
        retry=retry,
        SavingsPlansType=savings_plans_type,
        TermInYears=term_in_years,
        PaymentOption=payment_option,
        LookbackPeriodInDays=lookback,
    ):
        if merged is None:
            merged = {
                k: v for k, v in page.items() if k not in ("NextPageToken", "ResponseMetadata")
            }
            continue
        rec = page.get("SavingsPlansPurchaseRecommendation", {})
        target = merged.setdefault("SavingsPlansPurchaseRecommendation", {})
        target.setdefault("SavingsPlansPurchaseRecommendationDetails", []).extend(
            rec.get("SavingsPlansPurchaseRecommendationDetails", [])
        )
    return merged or {}


def fetch_reservation_recommendation(
    ce: Any,
    *,
    term_in_years: str,
    payment_option: str,
    lookback: str,
    offering_class: str = "STANDARD",
    retry: RetryPolicy = DEFAULT_RETRY,
) -> dict[str, Any]:
    """Cost Explorer's EC2 Reserved Instance recommendation, all pages merged into one response."""
    merged: dict[str, Any] | None = None
    for page in pages(
        ce,
        "get_reservation_purchase_recommendation",
        token_in="NextPageToken",
        token_out="NextPageToken",
        retry=retry,
        Service="Amazon Elastic Compute Cloud - Compute",
        TermInYears=term_in_years,
        PaymentOption=payment_option,
        LookbackPeriodInDays=lookback,
        ServiceSpecification={"EC2Specification": {"OfferingClass": offering_class}},
    ):
        if merged is None:
            merged = {
                k: v for k, v in page.items() if k not in ("NextPageToken", "ResponseMetadata")
            }
            merged["Recommendations"] = list(page.get("Recommendations", []))
            continue
        merged["Recommendations"].extend(page.get("Recommendations", []))
    return merged or {}
