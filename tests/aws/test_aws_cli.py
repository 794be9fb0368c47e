"""The AWS commands through click's CliRunner: outputs, exit codes, error lines, no leaked secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_fakes import FAKE_KEY_ID, FAKE_SECRET, FAKE_TOKEN, StubbedAws, load
from click.testing import CliRunner, Result
from test_aws_refresh import stub_refresh

from planner.cli import cli
from planner.commands import aws as aws_cmd
from planner.inventory import read_inventory
from pricing_data.aws.client import RetryPolicy
from pricing_data.catalog import list_catalog_files, user_catalog_dir

SECRETS = (FAKE_KEY_ID, FAKE_SECRET, FAKE_TOKEN)


@pytest.fixture
def wired(aws: StubbedAws, retry: RetryPolicy, monkeypatch: pytest.MonkeyPatch) -> StubbedAws:
    """The commands use the Stubber-backed factory and the instant backoff."""
    monkeypatch.setattr(aws_cmd, "client_factory", lambda profile, region: (aws, "us-east-1"))
    monkeypatch.setattr(aws_cmd, "RETRY", retry)
    return aws


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    for secret in SECRETS:
        assert secret not in text, "a credential leaked into the output"
    return result


def test_prices_refresh_writes_catalog_and_reports(wired: StubbedAws) -> None:
    stub_refresh(wired)
    result = run(
        "prices", "refresh", "--provider", "aws", "--regions", "us-east-1",
        "--instance-types", "p5.48xlarge,g6e.12xlarge", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "refreshed aws prices for us-east-1: 12 compute_savings_plan" in result.stdout
    assert "aws-savings-plans-" in result.stdout and "carried over" in result.stdout
    assert "published (assumed=false)" in result.stdout
    assert (
        "superseded (kept on disk; --as-of still reaches them): aws/aws-ec2-gpu-2025-11-30.csv, "
        "aws/aws-savings-plans-2025-11-30.csv" in result.stdout
    )
    assert "BROKEN0000000000" in result.stderr  # the malformed item is reported
    wired.assert_done()
    written = [p for p in user_catalog_dir().rglob("*") if p.is_file()]
    assert len(written) == 4  # two catalogs and their provenance
    for path in written:
        assert not any(secret in path.read_text() for secret in SECRETS), path
    shown = run("prices", "--provider", "aws", "--region", "us-east-1", "--gpu", "H100")
    assert "refreshed:aws/aws-savings-plans-" in shown.stdout
    lines = [ln for ln in shown.stdout.splitlines() if "p5.48xlarge" in ln and "savings_plan" in ln]
    assert lines and all(ln.split()[-2] == "False" for ln in lines)  # assumed column


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AccessDeniedException", "access denied in us-east-1 (AccessDeniedException). To fix: grant the IAM permission ec2:DescribeInstanceTypes"),
        ("UnrecognizedClientException", "AWS does not recognise the credentials"),
        ("ExpiredToken", "the session token has expired (ExpiredToken)"),
        ("OptInRequired", "not available in us-east-1 (OptInRequired)"),
    ],
)  # fmt: skip
def test_refresh_errors_are_one_line_exit_1(wired: StubbedAws, code: str, expected: str) -> None:
    wired.stub("ec2", "us-east-1").add_client_error(
        "describe_instance_types",
        service_error_code=code,
        service_message=f"denied for {FAKE_KEY_ID} signature {FAKE_SECRET}",
        http_status_code=403,
    )
    result = run("prices", "refresh", "--provider", "aws", "--instance-types", "p5.48xlarge", "-q")
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert (
        first.startswith(
            "Error: ec2.DescribeInstanceTypes (IAM permission ec2:DescribeInstanceTypes): "
        )
        and expected in first
    )
    assert "Nothing was written" in result.stderr
    assert "Traceback" not in result.output
    assert [f for f in list_catalog_files() if not f.shipped] == []


def test_unknown_error_message_is_redacted(wired: StubbedAws) -> None:
    wired.stub("ec2", "us-east-1").add_client_error(
        "describe_instance_types",
        service_error_code="SomethingNew",
        service_message=f"odd failure for key {FAKE_KEY_ID} token {FAKE_TOKEN}",
    )
    result = run("prices", "refresh", "--provider", "aws", "--instance-types", "p5.48xlarge", "-q")
    assert result.exit_code == 1
    assert "AWS error SomethingNew in us-east-1: odd failure for key [redacted]" in result.stderr


def test_throttling_then_success_backs_off(wired: StubbedAws, sleeps: list[float]) -> None:
    stub = wired.stub("savingsplans", "us-east-1")
    stub.add_client_error(
        "describe_savings_plans", service_error_code="ThrottlingException", http_status_code=400
    )
    stub.add_client_error(
        "describe_savings_plans", service_error_code="ThrottlingException", http_status_code=400
    )
    stub.add_response(
        "describe_savings_plans", load("savingsplans_describe_savings_plans_page1.json")
    )
    stub.add_response(
        "describe_savings_plans",
        load("savingsplans_describe_savings_plans_page2.json"),
        expected_params={
            "states": ["active", "queued"],
            "maxResults": 100,
            "nextToken": "plans-page-2",
        },
    )
    wired.stub("ec2", "us-east-1").add_response(
        "describe_reserved_instances",
        load("ec2_describe_reserved_instances.json"),
        expected_params={"Filters": [{"Name": "state", "Values": ["active"]}]},
    )
    result = run("inventory", "import", "--from", "aws", "-q")
    assert result.exit_code == 0, result.output
    assert sleeps == [0.5, 1.0]  # exponential backoff, injected sleep
    wired.assert_done()


def test_throttled_past_the_retries_fails_with_the_permission(
    wired: StubbedAws, sleeps: list[float]
) -> None:
    stub = wired.stub("ec2", "us-east-1")
    for _ in range(4):
        stub.add_client_error(
            "describe_reserved_instances", service_error_code="RequestLimitExceeded"
        )
    result = run("inventory", "import", "--from", "aws", "-q")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "Error: ec2.DescribeReservedInstances (IAM permission ec2:DescribeReservedInstances): "
        "still throttled after retries (RequestLimitExceeded). "
        "To fix: retry later or narrow --regions / --instance-types"
    )
    assert sleeps == [0.5, 1.0, 2.0]


def _stub_inventory(aws: StubbedAws) -> None:
    aws.stub("ec2", "us-east-1").add_response(
        "describe_reserved_instances", load("ec2_describe_reserved_instances.json")
    )
    sp = aws.stub("savingsplans", "us-east-1")
    sp.add_response(
        "describe_savings_plans", load("savingsplans_describe_savings_plans_page1.json")
    )
    sp.add_response(
        "describe_savings_plans", load("savingsplans_describe_savings_plans_page2.json")
    )


def test_inventory_import_from_aws_writes_a_valid_inventory(
    wired: StubbedAws, tmp_path: Path
) -> None:
    _stub_inventory(wired)
    out = tmp_path / "inventory.csv"
    result = run("inventory", "import", "--from", "aws", "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and "5 commitment(s)" in result.stdout
    got = {c.commitment_id: c for c in read_inventory(out)}
    ri = got["e5a2ff3b-7d14-4a1e-8c2b-1f6c0a9d3e21"]
    assert (ri.purchase_model, ri.region, ri.sku, ri.offering_class) == (
        "reserved_instance", "us-east-1", "p5.48xlarge", "standard",
    )  # fmt: skip
    assert (ri.term_months, ri.payment_option, ri.quantity) == (12, "partial_upfront", 2.0)
    assert str(ri.end.date()) == "2027-02-01"
    conv = got["0b8e4c11-2d9a-4f55-9e0c-7a3b6d2e1f90"]
    assert (conv.offering_class, conv.term_months, conv.payment_option) == (
        "convertible",
        36,
        "no_upfront",
    )
    compute = got["3f1c2b4a-0d9e-4c7b-8a6f-5e4d3c2b1a09"]
    assert (compute.purchase_model, compute.region, compute.sku) == ("compute_savings_plan", "", "")
    assert compute.hourly_commitment_usd == 25.0
    ec2sp = got["7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"]
    assert (ec2sp.purchase_model, ec2sp.region, ec2sp.sku, ec2sp.term_months) == (
        "ec2_instance_savings_plan", "us-east-1", "p5", 36,
    )  # fmt: skip
    queued = got["99990000-aaaa-bbbb-cccc-ddddeeeeffff"]  # queued plans are imported too
    assert str(queued.start.date()) == "2026-12-01"
    # m7i RIs (no GPU) and the SageMaker plan are left out, and said so
    assert "non-GPU instance types left out (m7i.large)" in result.stderr
    assert "SageMaker" in result.stderr


def test_inventory_import_to_stdout(wired: StubbedAws) -> None:
    _stub_inventory(wired)
    result = run("inventory", "import", "--from", "aws", "-q")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("commitment_id,provider,purchase_model")
    assert len(result.stdout.splitlines()) == 6


def test_no_credentials_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    result = run("inventory", "import", "--from", "aws", "-q")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(
        "Error: ec2.DescribeReservedInstances (IAM permission ec2:DescribeReservedInstances): "
        "no AWS credentials found in the boto3 credential chain"
    )


def test_unknown_profile_is_one_line() -> None:
    result = run("inventory", "import", "--from", "aws", "--profile", "nope", "-q")
    assert result.exit_code == 1
    assert "cannot open the AWS profile (ProfileNotFound)" in result.stderr


def test_focus_import(tmp_path: Path, data_dir: Path) -> None:
    focus = tmp_path / "focus.csv"
    focus.write_text(
        "ProviderName,CommitmentDiscountId,CommitmentDiscountCategory,CommitmentDiscountType,"
        "CommitmentDiscountStatus,CommitmentDiscountName,ChargePeriodStart,RegionId,SkuId,"
        "ChargeDescription,EffectiveCost,PricingQuantity\n"
        "AWS,arn:aws:savingsplans::1:savingsplan/a,Spend,Savings Plan,Used,,2026-10-01 00:00:00,us-east-1,X,,30.5,1\n"
        "AWS,arn:aws:savingsplans::1:savingsplan/a,Spend,Savings Plan,Unused,,2026-10-01 00:00:00,,X,,9.5,0\n"
        "AWS,arn:aws:savingsplans::1:savingsplan/a,Spend,Savings Plan,Used,,2026-10-02 05:00:00,us-east-1,X,,38,1\n"
        "AWS,arn:aws:ec2:us-east-1:1:reserved-instances/r1,Usage,Reserved Instance,Used,,2026-10-03 00:00:00,us-east-1,Y,"
        "USD 0.0 hourly fee per Linux/UNIX (Amazon VPC) p5.48xlarge instance,0,2\n"
    )
    out = tmp_path / "inv.csv"
    result = run(
        "inventory",
        "import",
        "--from",
        "focus",
        str(focus),
        "--out",
        str(out),
        "--term-months",
        "36",
    )
    assert result.exit_code == 0, result.output
    got = {c.commitment_id: c for c in read_inventory(out)}
    sp = got["arn:aws:savingsplans::1:savingsplan/a"]
    assert (sp.purchase_model, sp.hourly_commitment_usd, sp.term_months) == (
        "compute_savings_plan",
        40.0,
        36,
    )
    ri = got["arn:aws:ec2:us-east-1:1:reserved-instances/r1"]
    assert (ri.sku, ri.quantity, ri.region) == ("p5.48xlarge", 2.0, "us-east-1")
    assert "FOCUS has no term, payment option or purchase date" in result.stderr
    # the public FOCUS sample: SPs seen, but their commitment is not derivable (EffectiveCost 0)
    sample = data_dir / "billing" / "focus-sample-1.0" / "focus_sample.csv"
    result = run("inventory", "import", "--from", "focus", str(sample))
    assert result.exit_code == 0
    assert "hourly commitment cannot be derived" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("inventory", "import", "--from", "focus").exit_code == 2
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    result = run("inventory", "import", "--from", "focus", str(bad))
    assert result.exit_code == 2 and "CommitmentDiscountId" in result.stderr
    result = run("prices", "refresh", "--provider", "aws", "--regions", "mars-1", "-q")
    assert result.exit_code == 2 and "not an AWS region code" in result.stderr


def test_transport_errors_name_the_region_and_permission() -> None:
    from botocore.exceptions import (
        EndpointConnectionError,
        NoRegionError,
        ReadTimeoutError,
    )

    from pricing_data.aws.client import translate_error

    unreachable = translate_error(
        EndpointConnectionError(endpoint_url="https://ec2.xx-east-9.amazonaws.com"),
        "ec2.DescribeSpotPriceHistory",
        "ec2:DescribeSpotPriceHistory",
        "xx-east-9",
    )
    assert str(unreachable) == (
        "ec2.DescribeSpotPriceHistory (IAM permission ec2:DescribeSpotPriceHistory): cannot reach the endpoint in xx-east-9 "
        "(EndpointConnectionError). To fix: check the region code (unsupported regions have no "
        "endpoint) and the network"
    )
    assert "pass --region" in str(translate_error(NoRegionError(), "a.B", "a:B", None))
    slow = translate_error(ReadTimeoutError(endpoint_url="x"), "a.B", "a:B", None)
    assert "cannot reach the endpoint (ReadTimeoutError)" in str(slow)


def test_read_timeouts_are_retried(retry: RetryPolicy, sleeps: list[float]) -> None:
    from types import SimpleNamespace

    from botocore.exceptions import ReadTimeoutError

    from pricing_data.aws.client import call

    class Flaky:
        """A client stand-in whose first call times out."""

        meta = SimpleNamespace(
            method_to_api_mapping={"describe_x": "DescribeX"},
            region_name="us-east-1",
            service_model=SimpleNamespace(signing_name="ec2", service_name="ec2"),
        )
        calls = 0

        def describe_x(self) -> dict[str, int]:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise ReadTimeoutError(endpoint_url="x")
            return {"ok": 1}

    assert call(Flaky(), "describe_x", retry) == {"ok": 1}
    assert sleeps == [0.5]


def test_refresh_can_skip_families_it_has_no_permission_for(wired: StubbedAws) -> None:
    ec2 = wired.stub("ec2", "us-east-1")
    one_page = load("ec2_describe_instance_types_page1.json")
    del one_page["NextToken"]
    ec2.add_response("describe_instance_types", one_page)
    pricing = wired.stub("pricing", "us-east-1")
    pricing.add_response("get_products", load("pricing_get_products_p5_page1.json"))
    pricing.add_response("get_products", load("pricing_get_products_p5_page2.json"))
    result = run(
        "prices", "refresh", "--provider", "aws", "--instance-types", "p5.48xlarge",
        "--skip", "spot", "--skip", "savings-plans", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    wired.assert_done()  # no spot or Savings Plans call was made
    names = sorted(p.name for p in (user_catalog_dir() / "aws").glob("*.csv"))
    assert len(names) == 1 and names[0].startswith("aws-ec2-gpu-")  # the SP catalog stays
