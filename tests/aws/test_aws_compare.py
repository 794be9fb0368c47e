"""Cost Explorer's recommendation: fetched (stubbed, paginated) and parsed into commitments."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from aws_fakes import StubbedAws, load

from planner.compare_aws import (
    fetch_recommendations,
    parse_recommendations,
    read_recommendation_files,
    region_code,
)
from pricing_data.aws.fetch import RetryPolicy
from pricing_data.errors import PlannerInputError

START = pd.Timestamp("2026-11-27", tz="UTC")


def stub_ce(aws: StubbedAws) -> None:
    ce = aws.stub("ce", "us-east-1")
    ce.add_response(
        "get_savings_plans_purchase_recommendation",
        load("ce_savings_plans_recommendation.json"),
        expected_params={
            "SavingsPlansType": "COMPUTE_SP",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
            "LookbackPeriodInDays": "THIRTY_DAYS",
        },
    )
    ce.add_response(
        "get_reservation_purchase_recommendation",
        load("ce_reservation_recommendation_page1.json"),
        expected_params={
            "Service": "Amazon Elastic Compute Cloud - Compute",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
            "LookbackPeriodInDays": "THIRTY_DAYS",
            "ServiceSpecification": {"EC2Specification": {"OfferingClass": "STANDARD"}},
        },
    )
    ce.add_response(
        "get_reservation_purchase_recommendation",
        load("ce_reservation_recommendation_page2.json"),
        expected_params={
            "Service": "Amazon Elastic Compute Cloud - Compute",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
            "LookbackPeriodInDays": "THIRTY_DAYS",
            "ServiceSpecification": {"EC2Specification": {"OfferingClass": "STANDARD"}},
            "NextPageToken": "ri-rec-page-2",
        },
    )


def test_fetch_and_parse_ce_recommendations(aws: StubbedAws, retry: RetryPolicy) -> None:
    stub_ce(aws)
    responses = fetch_recommendations(
        aws, term_months=12, payment_option="no_upfront", lookback_days=30,
        sp_types=("COMPUTE_SP",), retry=retry,
    )  # fmt: skip
    aws.assert_done()
    assert len(responses[1]["Recommendations"]) == 2  # both pages merged
    rec = parse_recommendations(responses, START, gpu_skus={"p5.48xlarge", "g6e.12xlarge"})
    assert rec.lookback_days == 30
    by = {c.commitment_id: c for c in rec.commitments}
    sp = by["ce-sp-1"]
    assert (sp.purchase_model, sp.hourly_commitment_usd, sp.term_months) == (
        "compute_savings_plan", 32.4, 12,
    )  # fmt: skip
    assert sp.start == START and sp.end == pd.Timestamp("2027-11-27", tz="UTC")
    ri = by["ce-ri-1"]
    assert (ri.sku, ri.region, ri.quantity, ri.offering_class, ri.payment_option) == (
        "p5.48xlarge", "us-east-1", 2.0, "standard", "no_upfront",
    )  # fmt: skip
    assert list(rec.table["source"]) == ["ce:savings_plans", "ce:reservations", "ce:reservations"]
    assert rec.table["ce_monthly_savings_usd"].tolist() == [6720.5, 21780.0, 2856.0]
    assert any("all eligible compute spend" in n for n in rec.notes)


def test_non_gpu_ri_recommendations_are_left_out() -> None:
    rec = parse_recommendations(
        [load("ce_reservation_recommendation_page2.json")], START, gpu_skus={"p5.48xlarge"}
    )
    assert rec.commitments == []
    assert "without GPUs left out (g6e.12xlarge)" in rec.notes[0]


def test_saved_recommendation_files(tmp_path: Path) -> None:
    both = tmp_path / "ce.json"
    both.write_text(
        json.dumps(
            [
                load("ce_savings_plans_recommendation.json"),
                load("ce_reservation_recommendation_page1.json"),
            ]
        )
    )
    assert len(read_recommendation_files([str(both)])) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(PlannerInputError, match="not JSON"):
        read_recommendation_files([str(bad)])
    other = tmp_path / "other.json"
    other.write_text('{"Foo": 1}')
    with pytest.raises(PlannerInputError, match="not a Cost Explorer purchase recommendation"):
        parse_recommendations(read_recommendation_files([str(other)]), START)


def test_region_names() -> None:
    assert region_code("US East (N. Virginia)") == "us-east-1"
    assert region_code("eu-west-1") == "eu-west-1"


def test_ce_access_denied_names_the_permission(aws: StubbedAws, retry: RetryPolicy) -> None:
    aws.stub("ce", "us-east-1").add_client_error(
        "get_savings_plans_purchase_recommendation",
        service_error_code="AccessDeniedException",
        http_status_code=400,
    )
    with pytest.raises(Exception) as err:
        fetch_recommendations(
            aws, term_months=12, payment_option="no_upfront", lookback_days=30, retry=retry
        )
    assert str(err.value).startswith(
        "ce.GetSavingsPlansPurchaseRecommendation: access denied "
        "(AccessDeniedException). To fix: grant the IAM permission "
        "ce:GetSavingsPlansPurchaseRecommendation"
    )
