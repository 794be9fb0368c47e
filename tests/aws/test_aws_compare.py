"""Cost Explorer's recommendation: fetched (stubbed, paginated) and parsed into commitments."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from aws_fakes import StubbedAws, load

from planner.aws.cost_explorer import (
    RecommendationQuery,
    fetch_recommendations,
    parse_recommendations,
    read_recommendation_files,
    region_code,
)
from pricing_data.aws.client import RetryPolicy
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
    query = RecommendationQuery(
        term_months=12, payment_option="no_upfront", lookback_days=30, sp_types=("COMPUTE_SP",)
    )
    responses = fetch_recommendations(aws, query, retry=retry)
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
        query = RecommendationQuery(term_months=12, payment_option="no_upfront", lookback_days=30)
        fetch_recommendations(aws, query, retry=retry)
    assert str(err.value).startswith(
        "ce.GetSavingsPlansPurchaseRecommendation (IAM permission "
        "ce:GetSavingsPlansPurchaseRecommendation): access denied "
        "(AccessDeniedException). To fix: grant the IAM permission "
        "ce:GetSavingsPlansPurchaseRecommendation"
    )


# ---------------------------------------------------------------- the compare-aws command

POLICY = """[planning]
horizon_months = 3
ladder_every_months = 0
scenarios = 4
seed = 1
[offers]
providers = ["aws"]
terms_months = [12]
payment_options = ["no_upfront"]
[solver]
savings_curve_points = 0
"""
SAVED = [
    "ce_savings_plans_recommendation.json",
    "ce_reservation_recommendation_page1.json",
    "ce_reservation_recommendation_page2.json",
]


@pytest.fixture
def usage_and_policy(tmp_path: Path) -> tuple[Path, Path]:
    """Ten weeks of hourly H100 usage in us-east-1 with a daily cycle, and a small policy."""
    import numpy as np

    ts = pd.date_range("2026-09-01", periods=24 * 70, freq="h", tz="UTC")
    rng = np.random.default_rng(1)
    gpus = 24 + 8 * np.sin(2 * np.pi * np.asarray(ts.hour) / 24) + rng.normal(0, 1.5, len(ts))
    usage = tmp_path / "usage.csv"
    pd.DataFrame(
        {
            "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "gpu_type": "H100",
            "gpus": np.clip(gpus, 0, None).round(3),
            "provider": "aws",
            "region": "us-east-1",
        }
    ).to_csv(usage, index=False)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    return usage, policy


def _saved_args() -> list[str]:
    from aws_fakes import FIXTURES

    out = []
    for name in SAVED:
        out += ["--recommendation", str(FIXTURES / name)]
    return out


def test_compare_aws_offline_side_by_side(usage_and_policy: tuple[Path, Path]) -> None:
    from test_aws_cli import run

    usage, policy = usage_and_policy
    result = run(
        "compare-aws",
        str(usage),
        "--policy",
        str(policy),
        "--model",
        "snaive168",
        "-q",
        *_saved_args(),
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Cost Explorer recommends:" in out and "ce:reservations" in out
    starts = [ln.split("  ")[0] for ln in out.splitlines()]
    assert {"existing only", "AWS Cost Explorer", "planner"} <= set(starts)
    assert "4 forecast scenarios" in out and "actual usage 2026-10-11" in out
    assert "1 SP 32.40 USD/h; 1x g6e.12xlarge@us-east-1; 2x p5.48xlarge@us-east-1" in out
    assert "all eligible compute spend" in result.stderr
    # machine-readable: the same figures as JSON
    result = run(
        "compare-aws",
        str(usage),
        "--policy",
        str(policy),
        "--model",
        "snaive168",
        "-q",
        "-o",
        "json",
        *_saved_args(),
    )
    table = json.loads(result.stdout)
    by = {r["portfolio"]: r for r in table}
    assert set(by) == {"existing only", "AWS Cost Explorer", "planner"}
    ce, ours = by["AWS Cost Explorer"], by["planner"]
    assert ce["new_commitment_usd_per_hour"] == pytest.approx(32.4 + 2 * 43.344 + 6.61036, rel=1e-3)
    # the g6e RI covers nothing (no L40S usage): CE's new commitments are not fully used
    assert ce["new_utilization_worst_decile_pct"] < 95
    for r in (ce, ours):
        assert r["expected_savings_vs_existing_usd"] == pytest.approx(
            by["existing only"]["expected_cost_usd"] - r["expected_cost_usd"]
        )
        assert r["actual_cost_usd"] > 0
    assert ours["expected_cost_usd"] <= ce["expected_cost_usd"]


def test_compare_aws_calls_cost_explorer(
    usage_and_policy: tuple[Path, Path],
    aws: StubbedAws,
    retry: RetryPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from test_aws_cli import run

    from planner.commands import aws as aws_cmd

    monkeypatch.setattr(aws_cmd, "client_factory", lambda profile, region: (aws, "us-east-1"))
    monkeypatch.setattr(aws_cmd, "RETRY", retry)
    stub_ce(aws)
    usage, policy = usage_and_policy
    result = run(
        "compare-aws",
        str(usage),
        "--policy",
        str(policy),
        "--sp-type",
        "compute",
        "--model",
        "snaive168",
        "-q",
    )
    assert result.exit_code == 0, result.output
    aws.assert_done()
    assert "Cost Explorer API" in result.stdout


def test_compare_aws_errors(
    usage_and_policy: tuple[Path, Path],
    aws: StubbedAws,
    retry: RetryPolicy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from test_aws_cli import run

    from planner.commands import aws as aws_cmd

    monkeypatch.setattr(aws_cmd, "client_factory", lambda profile, region: (aws, "us-east-1"))
    monkeypatch.setattr(aws_cmd, "RETRY", retry)
    aws.stub("ce", "us-east-1").add_client_error(
        "get_savings_plans_purchase_recommendation", service_error_code="DataUnavailableException"
    )
    usage, policy = usage_and_policy
    result = run("compare-aws", str(usage), "--policy", str(policy), "--model", "snaive168", "-q")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(
        "Error: ce.GetSavingsPlansPurchaseRecommendation (IAM permission "
        "ce:GetSavingsPlansPurchaseRecommendation): Cost Explorer has no data"
    )
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    result = run("compare-aws", str(usage), "--policy", str(policy), "--recommendation", str(bad))
    assert result.exit_code == 2 and "not a CE response object" in result.stderr


AWS_ONLY_POLICY = """[planning]
horizon_months = 3
ladder_every_months = 0
scenarios = 3
seed = 1
[offers]
providers = ["aws"]
[solver]
savings_curve_points = 0
"""


@pytest.mark.slow
def test_compare_aws_with_an_aws_only_policy_bills_a_coreweave_inventory(tmp_path: Path) -> None:
    """Issue 10: with an AWS-only policy and an inventory holding a CoreWeave contract, `plan`
    succeeded while `compare-aws` exited 2 ("no reserved_contract offer ... 'HGX H100'"): it
    loaded only the policy's providers. Both now load inputs through one function."""
    from test_aws_cli import run

    from planner.policy_file import read_policy_file
    from planner.workflows.inputs import load_inputs

    root = Path(__file__).parents[2]
    usage, inventory = root / "examples" / "usage.csv", root / "examples" / "inventory.csv"
    policy = tmp_path / "aws-only.toml"
    policy.write_text(AWS_ONLY_POLICY)
    # the same inventory without its CoreWeave contract
    lines = inventory.read_text().splitlines()
    aws_only_inventory = tmp_path / "inventory-aws.csv"
    aws_only_inventory.write_text("\n".join(ln for ln in lines if ",coreweave," not in ln) + "\n")
    assert len(aws_only_inventory.read_text().splitlines()) == len(lines) - 1
    rec = str(Path(__file__).parent / "fixtures" / "ce_savings_plans_recommendation.json")

    def compare(inv: Path) -> dict[str, dict[str, float]]:
        args = ["compare-aws", str(usage), "--policy", str(policy), "--inventory", str(inv)]
        result = run(*args, "--recommendation", rec, "--model", "snaive168", "-q", "-o", "json")
        assert result.exit_code == 0, result.output
        return {r["portfolio"]: r for r in json.loads(result.stdout)}

    # the same inputs as `planner plan`: every provider of the inventory is priced
    inputs = load_inputs(usage, read_policy_file(policy), inventory)
    assert any(c.provider == "coreweave" for c in inputs.inventory)
    assert "coreweave" in set(inputs.catalog.offers["provider"])
    assert inputs.config.policy.providers == ("aws",)
    by, without = compare(inventory), compare(aws_only_inventory)
    # the CoreWeave contract bills in every portfolio: each one's cost moves when it is removed
    assert set(by) == set(without) and "existing only" in by
    for name in by:
        assert abs(by[name]["expected_cost_usd"] - without[name]["expected_cost_usd"]) > 1_000, name
    assert by["existing only"]["actual_cost_usd"] > 0
