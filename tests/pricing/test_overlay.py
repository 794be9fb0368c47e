"""User overlays: discounts, replaced and added offers, precedence, and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pricing_data.catalog import load_catalog
from pricing_data.errors import PlannerInputError, UnknownNameError

H100_CONTRACT_12 = "coreweave:north-america:HGX H100:reserved_contract:12:no_upfront"
P5_OD = "aws:us-east-1:p5.48xlarge:on_demand"


def _offer(cat, offer_id):  # type: ignore[no-untyped-def]
    rows = cat.offers[cat.offers["offer_id"] == offer_id]
    assert len(rows) == 1, offer_id
    return rows.iloc[0]


def test_toml_discount_then_offer_rows_later_row_wins(tmp_path: Path) -> None:
    f = tmp_path / "negotiated.toml"
    f.write_text(
        """
[discounts]
aws = 5
coreweave = 10

[[offer]]
provider = "coreweave"
region = "north-america"
sku = "HGX H100"
purchase_model = "reserved_contract"
term_months = 12
usd_per_gpu_hour = 3.50

[[offer]]
provider = "coreweave"
region = "north-america"
sku = "HGX H100"
purchase_model = "reserved_contract"
term_months = 12
usd_per_gpu_hour = 3.10
"""
    )
    base = load_catalog(providers=["aws", "coreweave"])
    cat = load_catalog(providers=["aws", "coreweave"], overlay=f)
    # discount: 55.04 * 0.95 = 52.288
    od = _offer(cat, P5_OD)
    assert od["effective_usd_per_hour"] == pytest.approx(52.288)
    assert od["usd_per_gpu_hour"] == pytest.approx(6.536)
    assert od["overlay"]
    # the offer row beats the discount, the later row beats the earlier
    c = _offer(cat, H100_CONTRACT_12)
    assert c["usd_per_gpu_hour"] == pytest.approx(3.10)
    assert c["overlay"] and not c["assumed"] and c["assumption"] == ""
    assert c["source"] == "overlay:negotiated.toml"
    # the shipped catalog is untouched
    assert _offer(base, P5_OD)["effective_usd_per_hour"] == pytest.approx(55.04)
    assert _offer(base, H100_CONTRACT_12)["assumed"]
    assert cat.versions[-1] == "overlay:negotiated.toml"
    assert len(cat) == len(base)


def test_csv_overlay_replaces_sp_rates_in_every_region_and_adds_a_new_offer(tmp_path: Path) -> None:
    f = tmp_path / "rates.csv"
    f.write_text(
        "provider,region,sku,purchase_model,term_months,payment_option,usd_per_gpu_hour,gpu_type,gpus_per_unit\n"
        "aws,*,p5.48xlarge,compute_savings_plan,36,no_upfront,4.00,,\n"
        "lambda,global,H200 reserved,reserved_contract,12,no_upfront,2.40,H200,1\n"
    )
    base = load_catalog(providers=["aws", "lambda"])
    cat = load_catalog(providers=["aws", "lambda"], overlay=f)
    sp = cat.select(sku="p5.48xlarge", purchase_model="compute_savings_plan", term_months=36).offers
    sp = sp[sp["payment_option"] == "no_upfront"]
    assert len(sp) > 3
    assert sp["usd_per_gpu_hour"].tolist() == pytest.approx([4.0] * len(sp))
    assert not sp["assumed"].any()
    assert sp["overlay"].all()
    new = _offer(cat, "lambda:global:H200 reserved:reserved_contract:12:no_upfront")
    assert new["gpu_type"] == "H200"
    assert new["effective_usd_per_hour"] == pytest.approx(2.40)
    assert len(cat) == len(base) + 1


def test_upfront_and_recurring_prices_give_the_effective_rate(tmp_path: Path) -> None:
    f = tmp_path / "ri.csv"
    f.write_text(
        "provider,region,sku,purchase_model,term_months,offering_class,payment_option,upfront_usd,recurring_usd_per_hour\n"
        "aws,us-east-1,p5.48xlarge,reserved_instance,36,standard,partial_upfront,262800,10\n"
    )
    cat = load_catalog(providers=["aws"], overlay=f)
    ri = _offer(cat, "aws:us-east-1:p5.48xlarge:reserved_instance:standard:36:partial_upfront")
    # 262,800 / (36 * 730 h) = 10 $/h, plus 10 $/h recurring
    assert ri["effective_usd_per_hour"] == pytest.approx(20.0)
    assert ri["usd_per_gpu_hour"] == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        (
            "provider,region,sku,purchase_model,term_months,usd_per_gpu_hour\ncorewave,north-america,HGX H100,reserved_contract,12,3\n",
            ".csv",
            r"row 2, column 'provider': unknown provider 'corewave'\nTo fix: did you mean 'coreweave'",
        ),
        (
            "provider,region,sku,purchase_model,term_months,usd_per_gpu_hour\ncoreweave,north-america,HGX H100,reserved_contract,12,cheap\n",
            ".csv",
            r"row 2, column 'usd_per_gpu_hour': not a number \(got 'cheap'\)",
        ),
        (
            "provider,region,sku,purchase_model,term_months\ncoreweave,north-america,HGX H100,reserved_contract,12\n",
            ".csv",
            r"row 2, column 'usd_per_gpu_hour': no price given",
        ),
        (
            "provider,region,sku,purchase_model,term_months,usd_per_gpu_hour\ncoreweave,north-america,HGX H100,on_demand,12,3\n",
            ".csv",
            r"row 2, column 'term_months': term_months 12 does not fit purchase model on_demand",
        ),
        (
            "provider,region,sku,purchase_model,term_months,usd_per_gpu_hour,price\ncoreweave,north-america,HGX H100,on_demand,0,3,1\n",
            ".csv",
            r"row 2: unknown overlay column 'price'",
        ),
        (
            "[discount]\naws = 5\n",
            ".toml",
            r"unknown overlay section 'discount'\nTo fix: did you mean 'discounts'",
        ),
        (
            "[discounts]\naws = 120\n",
            ".toml",
            r"column 'discounts.aws': discount must be in \[0, 100\)",
        ),
        ("[discounts\n", ".toml", r"not valid TOML"),
        (
            "provider,region,sku,purchase_model,term_months,usd_per_gpu_hour\nlambda,global,Z9 reserved,reserved_contract,12,3\n",
            ".csv",
            r"row 2, column 'gpu_type': sku 'Z9 reserved' is not in the lambda catalog",
        ),
    ],
)
def test_bad_overlays_name_file_row_and_column(
    tmp_path: Path, text: str, suffix: str, message: str
) -> None:
    f = tmp_path / f"overlay{suffix}"
    f.write_text(text)
    with pytest.raises(PlannerInputError, match=message) as e:
        load_catalog(overlay=f)
    assert str(e.value).startswith(str(f))


def test_unknown_region_in_overlay_suggests(tmp_path: Path) -> None:
    f = tmp_path / "o.csv"
    f.write_text(
        "provider,region,sku,purchase_model,term_months,usd_per_gpu_hour\ncoreweave,north-amerika,HGX H100,reserved_contract,12,3\n"
    )
    with pytest.raises(UnknownNameError, match="did you mean 'north-america'"):
        load_catalog(overlay=f)


def test_missing_or_wrong_type_overlay_file(tmp_path: Path) -> None:
    with pytest.raises(PlannerInputError, match="overlay file not found"):
        load_catalog(overlay=tmp_path / "nope.csv")
    f = tmp_path / "o.json"
    f.write_text("{}")
    with pytest.raises(PlannerInputError, match=r"must be a \.csv or \.toml file"):
        load_catalog(overlay=f)


def test_a_row_without_payment_option_keeps_each_offers_payment_split(tmp_path: Path) -> None:
    f = tmp_path / "ri.csv"
    f.write_text(
        "provider,region,sku,purchase_model,term_months,offering_class,payment_option,usd_per_gpu_hour\n"
        "aws,us-east-1,p4de.24xlarge,reserved_instance,36,standard,,1.50\n"
    )
    cat = load_catalog(providers=["aws"], overlay=f)
    base = "aws:us-east-1:p4de.24xlarge:reserved_instance:standard:36"
    hours = 36 * 730
    full = _offer(cat, f"{base}:all_upfront")
    part = _offer(cat, f"{base}:partial_upfront")
    none = _offer(cat, f"{base}:no_upfront")
    for o in (full, part, none):
        assert o["effective_usd_per_hour"] == pytest.approx(12.0)  # 1.50 x 8 GPUs
    assert (full["upfront_usd"], full["recurring_usd_per_hour"]) == pytest.approx(
        (12.0 * hours, 0.0)
    )
    assert (part["upfront_usd"], part["recurring_usd_per_hour"]) == pytest.approx(
        (6.0 * hours, 6.0)
    )
    assert (none["upfront_usd"], none["recurring_usd_per_hour"]) == pytest.approx((0.0, 12.0))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("o.toml", '[offer]\nprovider = "aws"\n', r"write each offer under \[\[offer\]\]"),
        ("o.toml", "discounts = 5\n", r"\[discounts\] must be a table"),
        ("o.csv", "", "the overlay file is empty"),
    ],
)
def test_overlay_structure_mistakes_are_usage_errors(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(PlannerInputError, match=message):
        load_catalog(overlay=f)
