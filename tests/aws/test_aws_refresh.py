"""`prices refresh` internals: parsing the price APIs and writing a validated, dated catalog."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from aws_fakes import FAKE_KEY_ID, FAKE_SECRET, StubbedAws, load

from pricing_data.aws.client import RetryPolicy
from pricing_data.aws.ec2 import parse_instance_types, summarise_spot_history
from pricing_data.aws.errors import MalformedResponseError
from pricing_data.aws.pricing import parse_price_list, parse_price_list_item
from pricing_data.aws.refresh import (
    RefreshError,
    RefreshRequest,
    RefreshResult,
    refresh_aws_catalog,
)
from pricing_data.aws.savingsplans import parse_savings_plans_rates
from pricing_data.catalog import (
    list_catalog_files,
    load_catalog,
    read_catalog_file,
    shipped_catalog_dir,
    user_catalog_dir,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 26)
TYPES = ("g6e.12xlarge", "p5.48xlarge")


def stub_refresh(aws: StubbedAws) -> None:
    """Every response a one-region refresh of TYPES needs, in call order per client."""
    ec2 = aws.stub("ec2", "us-east-1")
    ec2.add_response("describe_instance_types", load("ec2_describe_instance_types_page1.json"))
    ec2.add_response(
        "describe_instance_types",
        load("ec2_describe_instance_types_page2.json"),
        expected_params={
            "Filters": [{"Name": "instance-type", "Values": list(TYPES)}],
            "MaxResults": 100,
            "NextToken": "AAEAAXit-page-2",
        },
    )
    pricing = aws.stub("pricing", "us-east-1")
    pricing.add_response("get_products", load("pricing_get_products_g6e_with_malformed.json"))
    pricing.add_response("get_products", load("pricing_get_products_p5_page1.json"))
    pricing.add_response("get_products", load("pricing_get_products_p5_page2.json"))
    ec2.add_response(
        "describe_spot_price_history", load("ec2_describe_spot_price_history_page1.json")
    )
    ec2.add_response(
        "describe_spot_price_history", load("ec2_describe_spot_price_history_page2.json")
    )
    sp = aws.stub("savingsplans", "us-east-1")
    sp.add_response(
        "describe_savings_plans_offering_rates", load("savingsplans_offering_rates_page1.json")
    )
    sp.add_response(
        "describe_savings_plans_offering_rates", load("savingsplans_offering_rates_page2.json")
    )


def request() -> RefreshRequest:
    return RefreshRequest(regions=("us-east-1",), instance_types=TYPES, today=TODAY, now=NOW)


@dataclass(frozen=True)
class Refreshed:
    catalog_dir: Path
    result: RefreshResult
    shipped_mtimes: dict[Path, int]


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Refreshed]:
    """One stubbed refresh shared by the read-only tests of this module (validation is slow)."""
    catalog_dir = tmp_path_factory.mktemp("refreshed-catalogs")
    shipped = {p: p.stat().st_mtime_ns for p in shipped_catalog_dir().rglob("*.csv")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANNER_CATALOG_DIR", str(catalog_dir))
        mp.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
        mp.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        aws = StubbedAws()
        stub_refresh(aws)
        result = refresh_aws_catalog(aws, request(), retry=RetryPolicy(sleep=lambda _s: None))
        aws.assert_done()
    yield Refreshed(catalog_dir, result, shipped)


@pytest.fixture
def use_refreshed(refreshed: Refreshed, monkeypatch: pytest.MonkeyPatch) -> Refreshed:
    monkeypatch.setenv("PLANNER_CATALOG_DIR", str(refreshed.catalog_dir))
    return refreshed


def test_price_list_item_maps_terms_and_dimensions() -> None:
    page = load("pricing_get_products_p5_page1.json")
    prices, notes = parse_price_list_item(page["PriceList"][0])
    assert notes == []
    od = [p for p in prices if p.purchase_model == "on_demand"]
    assert [(p.recurring_usd_per_hour, p.upfront_usd) for p in od] == [(55.04, 0.0)]
    ri = {(p.offering_class, p.term_months, p.payment_option): p for p in prices if p.term_months}
    assert set(ri) == {
        ("standard", m, pay)
        for m in (12, 36)
        for pay in ("no_upfront", "partial_upfront", "all_upfront")
    }
    partial = ri[("standard", 12, "partial_upfront")]
    assert partial.upfront_usd == 159110.0  # "Quantity" dimension
    assert partial.recurring_usd_per_hour == pytest.approx(18.1632)  # "Hrs" dimension
    assert ri[("standard", 36, "all_upfront")].recurring_usd_per_hour == 0.0


def test_malformed_price_items_are_skipped_and_named() -> None:
    prices, notes = parse_price_list(
        load("pricing_get_products_g6e_with_malformed.json")["PriceList"]
    )
    assert {p.instance_type for p in prices} == {"g6e.12xlarge"}
    assert len(prices) == 4  # on-demand + 3 RIs of the good item
    assert len(notes) == 2
    assert "BROKEN0000000000" in notes[0] and "'n/a' is not a number" in notes[0]
    assert "not JSON" in notes[1]
    with pytest.raises(MalformedResponseError, match=r"no product\.attributes"):
        parse_price_list_item({"terms": {}})


def test_instance_type_accelerators() -> None:
    acc, notes = parse_instance_types(
        load("ec2_describe_instance_types_accelerators.json")["InstanceTypes"]
    )
    got = {k: (v.gpu_type, v.gpus_per_unit) for k, v in acc.items()}
    assert got == {
        "p4d.24xlarge": ("A100-40GB", 8.0),  # family override: "A100" alone is ambiguous
        "p4de.24xlarge": ("A100-80GB", 8.0),
        "g6f.large": ("L4", 0.125),  # fractional GPU
        "trn1.32xlarge": ("TRAINIUM", 16.0),  # NeuronInfo devices
        "inf2.48xlarge": ("INFERENTIA2", 12.0),
        "inf1.6xlarge": ("INFERENTIA", 4.0),  # InferenceAcceleratorInfo
    }
    assert notes == ["m7i.large: no GPU or accelerator in describe_instance_types; skipped"]


def test_spot_summary_is_time_weighted_over_zones() -> None:
    records = [
        *load("ec2_describe_spot_price_history_page1.json")["SpotPriceHistory"],
        *load("ec2_describe_spot_price_history_page2.json")["SpotPriceHistory"],
    ]
    start = datetime(2026, 10, 27, 12, tzinfo=UTC)
    summaries, _ = summarise_spot_history(records, "us-east-1", start, NOW)
    by = {s.instance_type: s for s in summaries}
    p5 = by["p5.48xlarge"]
    # zone a: 20 $/h for 480 h (clipped to the window) then 30 $/h for 240 h; zone b: 25 $/h for 720 h
    assert p5.mean_usd_per_hour == pytest.approx((20 * 480 + 30 * 240 + 25 * 720) / 1440)
    assert p5.p90_usd_per_hour == 30.0
    assert (p5.period_start, p5.period_end, p5.zones) == (start, NOW, 2)
    assert by["g6e.12xlarge"].period_start == datetime(2026, 11, 1, tzinfo=UTC)


def test_savings_plans_rates_map_types_terms_and_payment() -> None:
    results = [
        *load("savingsplans_offering_rates_page1.json")["searchResults"],
        *load("savingsplans_offering_rates_page2.json")["searchResults"],
    ]
    rates, notes = parse_savings_plans_rates(results)
    assert notes == []
    assert len(rates) == 24  # 2 types x 2 plans x 2 terms x 3 payment options; dedicated ignored
    keys = {(r.purchase_model, r.term_months, r.payment_option) for r in rates}
    assert ("ec2_instance_savings_plan", 36, "all_upfront") in keys
    assert ("compute_savings_plan", 12, "no_upfront") in keys


def test_refresh_writes_a_valid_dated_catalog_that_supersedes_shipped(
    use_refreshed: Refreshed,
) -> None:
    result = use_refreshed.result
    names = sorted(p.name for p in result.files)
    assert names == ["aws-ec2-gpu-2026-11-26.csv", "aws-savings-plans-2026-11-26.csv"]
    assert result.refreshed_by_model == {
        "compute_savings_plan": 12,
        "ec2_instance_savings_plan": 12,
        "on_demand": 2,
        "reserved_instance": 15,
        "spot": 2,
    }
    assert any("BROKEN0000000000" in n for n in result.notes)
    for path in result.files:
        # the same validation as the shipped files (read_catalog_file -> validate_offers)
        rows = read_catalog_file(path)
        prov = json.loads(path.with_suffix(".provenance.json").read_text())
        assert prov["rows"] == len(rows) and prov["date"] == "2026-11-26"
        assert prov["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    # shipped files untouched
    shipped_now = {p: p.stat().st_mtime_ns for p in shipped_catalog_dir().rglob("*.csv")}
    assert shipped_now == use_refreshed.shipped_mtimes
    catalog = load_catalog(as_of="2026-11-26", providers=["aws"])
    assert "refreshed:aws/aws-savings-plans-2026-11-26.csv" in catalog.versions
    sp = catalog.select(
        region="us-east-1", sku="p5.48xlarge", purchase_model="compute_savings_plan"
    )
    assert len(sp) == 6 and not sp.offers["assumed"].any()
    assert set(sp.offers["source"].str[:42]) == {"AWS savingsplans:DescribeSavingsPlansOfferi"[:42]}
    p5 = catalog.select(region="us-east-1", sku="p5.48xlarge").offers.set_index("purchase_model")
    assert p5.loc["on_demand", "effective_usd_per_hour"] == 55.04
    assert p5.loc["on_demand", "gpu_type"] == "H100" and p5.loc["on_demand", "gpus_per_unit"] == 8
    spot = p5.loc["spot"]
    assert spot["effective_usd_per_hour"] == pytest.approx(24.16667, rel=1e-5)
    assert "p90 30.0000" in spot["source"]
    # RI split from the API: effective = upfront / term_hours + recurring
    ri = catalog.select(
        region="us-east-1", sku="p5.48xlarge", purchase_model="reserved_instance"
    ).offers
    row = ri[ri["offer_id"].str.endswith("standard:12:partial_upfront")].iloc[0]
    assert row["upfront_usd"] == 159110.0
    assert row["effective_usd_per_hour"] == pytest.approx(159110.0 / 8760 + 18.1632)
    # regions the refresh did not cover are carried over from the shipped catalog, still labelled
    other = catalog.select(region="eu-west-1", purchase_model="compute_savings_plan")
    assert len(other) > 0 and other.offers["assumed"].all()


def test_second_refresh_merges_with_the_first(
    refreshed: Refreshed, aws: StubbedAws, retry: RetryPolicy
) -> None:
    mine = user_catalog_dir() / "aws"
    shutil.copytree(refreshed.catalog_dir / "aws", mine)
    files = [f for f in list_catalog_files() if not f.shipped]
    assert {f.series for f in files} == {"aws-ec2-gpu", "aws-savings-plans"}
    stub_refresh(aws)
    result = refresh_aws_catalog(aws, request(), retry=retry)
    assert result.previous_versions == (
        "refreshed:aws/aws-ec2-gpu-2026-11-26.csv",
        "refreshed:aws/aws-savings-plans-2026-11-26.csv",
    )


def test_failed_refresh_writes_nothing_and_names_the_permission(
    aws: StubbedAws, retry: RetryPolicy, tmp_path: Path
) -> None:
    ec2 = aws.stub("ec2", "us-east-1")
    ec2.add_response("describe_instance_types", load("ec2_describe_instance_types_page1.json"))
    ec2.add_response("describe_instance_types", load("ec2_describe_instance_types_page2.json"))
    pricing = aws.stub("pricing", "us-east-1")
    pricing.add_response("get_products", load("pricing_get_products_g6e_with_malformed.json"))
    pricing.add_client_error(
        "get_products",
        service_error_code="AccessDeniedException",
        service_message="User: arn:aws:iam::123456789012:user/ci is not authorized to perform: pricing:GetProducts",
        http_status_code=400,
    )
    with pytest.raises(RefreshError) as err:
        refresh_aws_catalog(aws, request(), retry=retry)
    text = str(err.value)
    assert text.splitlines()[0] == (
        "pricing.GetProducts (IAM permission pricing:GetProducts): access denied in us-east-1 (AccessDeniedException). "
        "To fix: grant the IAM permission pricing:GetProducts to the profile's user or role"
    )
    assert "Nothing was written; prices still come from aws/aws-ec2-gpu-2025-11-30.csv" in text
    assert [f for f in list_catalog_files() if not f.shipped] == []


def test_a_plan_on_the_refreshed_catalog_uses_published_sp_rates(
    use_refreshed: Refreshed,
) -> None:
    import numpy as np

    from forecasting.scenarios import DemandScenarios, Pool
    from planner.optimize import optimize
    from planner.policy import Policy

    catalog = load_catalog(as_of="2026-11-26", providers=["aws"])
    offers = catalog.select(region="us-east-1", sku=["p5.48xlarge"]).offers
    scenarios = DemandScenarios(
        start=pd.Timestamp("2026-12-01", tz="UTC"),
        pools=(Pool("H100", aws_region="us-east-1"),),
        demand_gpus=np.full((2, 24 * 90, 1), 16.0),
        probabilities=np.array([0.5, 0.5]),
    )
    policy = Policy(
        horizon_months=3,
        ladder_every_months=0,
        providers=("aws",),
        purchase_models=("compute_savings_plan",),
        terms_months=(12,),
        payment_options=("no_upfront",),
        savings_curve_points=0,
    )
    plan = optimize(scenarios, offers, [], policy)
    assert plan.purchases, "steady demand should buy a Savings Plan"
    (sp,) = plan.purchases
    assert sp.commitment.purchase_model == "compute_savings_plan"
    # a Compute SP is bought as a family; the per-SKU rates it is priced at are the published ones
    rates = offers[
        (offers["purchase_model"] == "compute_savings_plan")
        & (offers["term_months"] == 12)
        & (offers["payment_option"] == "no_upfront")
    ]
    assert len(rates) == 1 and not rates["assumed"].any()
    assert rates["source"].iloc[0].startswith("AWS savingsplans:DescribeSavingsPlansOfferingRates")
    assert "refreshed:aws/aws-savings-plans-2026-11-26.csv" in plan.record["catalog_versions"]
