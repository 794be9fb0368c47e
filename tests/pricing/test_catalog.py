"""The shipped catalogs, their validation and provenance, as_of selection and lookups."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing_data.catalog import (
    list_catalog_files,
    load_catalog,
    read_catalog_file,
    shipped_catalog_dir,
    usd_per_gpu_hour_at,
)
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.schema import COLUMN_NAMES, schema_markdown
from pricing_data.validate import CatalogValidationError

# serverless offers have their own schema and tests (tests/pricing/test_serverless_catalog.py)
SHIPPED = sorted(p for p in shipped_catalog_dir().glob("*/*.csv") if p.parent.name != "serverless")


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def test_every_provider_ships_a_dated_catalog() -> None:
    providers = {p.parent.name for p in SHIPPED}
    assert providers == {"aws", "coreweave", "lambda"}
    for p in SHIPPED:
        assert p.stem[-10:].count("-") == 2, p.name  # ...-YYYY-MM-DD


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_file_passes_validation_and_matches_its_provenance(path: Path) -> None:
    offers = read_catalog_file(path)
    assert len(offers) > 0
    assert list(offers.columns) == list(COLUMN_NAMES)
    prov = json.loads(path.with_suffix(".provenance.json").read_text())
    assert prov["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert prov["rows"] == len(offers)
    for key in ("source", "date", "licence", "derivation"):
        assert prov[key], key
    assert prov["date"] == path.stem[-10:]


def test_schema_doc_is_in_step_with_the_code() -> None:
    doc = (shipped_catalog_dir().parent / "SCHEMA.md").read_text()
    assert doc == schema_markdown()


def test_a_corrupted_row_is_rejected_naming_file_row_and_column(tmp_path: Path) -> None:
    src = SHIPPED[-1]  # lambda, small
    lines = src.read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("gpus_per_unit")
    cells = lines[3].split(",")
    cells[col] = "eight"
    lines[3] = ",".join(cells)
    bad = tmp_path / "lambda-2026-09-20.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(CatalogValidationError) as e:
        read_catalog_file(bad)
    msg = str(e.value)
    assert msg.startswith(f"{bad}, row 4, column 'gpus_per_unit': not a number (got 'eight')")
    assert "To fix:" in msg


def test_inconsistent_effective_rate_is_rejected(tmp_path: Path) -> None:
    df = pd.read_csv(SHIPPED[-1], dtype=str, keep_default_na=False)
    df.loc[0, "effective_usd_per_hour"] = "999"
    bad = tmp_path / "x-2026-01-01.csv"
    df.to_csv(bad, index=False)
    with pytest.raises(CatalogValidationError, match=r"row 2, column 'effective_usd_per_hour'"):
        read_catalog_file(bad)


@pytest.mark.parametrize(
    ("column", "cell", "needle"),
    [
        ("term_months", "inf", "not a whole number >= 0"),  # was an OverflowError traceback
        ("term_months", "12.5", "not a whole number >= 0"),
        ("usd_per_gpu_hour", "nan", "must be a finite number >= 0"),
        ("usd_per_gpu_hour", "-1", "must be a finite number >= 0"),
        ("assumed", "maybe", "not true/false"),
        ("provider", "azure", "not an allowed value"),
    ],
)
def test_each_bad_cell_kind_names_its_row_and_column(
    tmp_path: Path, column: str, cell: str, needle: str
) -> None:
    df = pd.read_csv(SHIPPED[-1], dtype=str, keep_default_na=False)
    df.loc[1, column] = cell
    bad = tmp_path / "x-2026-01-01.csv"
    df.to_csv(bad, index=False)
    with pytest.raises(CatalogValidationError, match=rf"row 3, column '{column}': {needle}"):
        read_catalog_file(bad)


def test_an_assumed_price_without_its_rule_is_rejected(tmp_path: Path) -> None:
    df = pd.read_csv(SHIPPED[-1], dtype=str, keep_default_na=False)
    i = df.index[df["assumed"] == "true"][0]
    df.loc[i, "assumption"] = ""
    bad = tmp_path / "x-2026-01-01.csv"
    df.to_csv(bad, index=False)
    with pytest.raises(CatalogValidationError, match=rf"row {i + 2}, column 'assumption'"):
        read_catalog_file(bad)


def test_p5_48xlarge_on_demand_price_in_us_east_1(catalog) -> None:  # type: ignore[no-untyped-def]
    od = catalog.select(sku="p5.48xlarge", region="us-east-1", purchase_model="on_demand").offers
    assert len(od) == 1
    assert od["effective_usd_per_hour"].iloc[0] == pytest.approx(55.04)
    assert od["usd_per_gpu_hour"].iloc[0] == pytest.approx(6.88)
    assert not od["assumed"].iloc[0]


def test_savings_plans_contracts_are_labelled_assumptions_and_rules_say_why(catalog) -> None:  # type: ignore[no-untyped-def]
    o = catalog.offers
    assumed_models = o[
        o["purchase_model"].isin(
            ["compute_savings_plan", "ec2_instance_savings_plan", "reserved_contract"]
        )
    ]
    assert len(assumed_models) > 0
    assert assumed_models["assumed"].all()
    assert (assumed_models["assumption"].str.len() > 20).all()
    published = o[o["purchase_model"].isin(["on_demand", "reserved_instance"])]
    assert not published["assumed"].any()


def test_ri_upfront_and_recurring_follow_the_documented_split(catalog) -> None:  # type: ignore[no-untyped-def]
    ri = catalog.select(
        sku="p5.48xlarge", region="us-east-1", purchase_model="reserved_instance", term_months=36
    ).offers
    by_pay = {r.payment_option: r for r in ri[ri["offering_class"] == "standard"].itertuples()}
    hours = 36 * 730
    assert by_pay["all_upfront"].upfront_usd == pytest.approx(
        by_pay["all_upfront"].effective_usd_per_hour * hours, rel=1e-6
    )
    assert by_pay["all_upfront"].recurring_usd_per_hour == 0
    assert by_pay["no_upfront"].upfront_usd == 0
    p = by_pay["partial_upfront"]
    assert p.upfront_usd == pytest.approx(0.5 * p.effective_usd_per_hour * hours, rel=1e-6)
    assert p.recurring_usd_per_hour == pytest.approx(0.5 * p.effective_usd_per_hour, rel=1e-6)


def test_all_twelve_ri_variants_exist_for_p4d(catalog) -> None:  # type: ignore[no-untyped-def]
    ri = catalog.select(
        sku="p4d.24xlarge", region="us-east-1", purchase_model="reserved_instance"
    ).offers
    variants = set(zip(ri["offering_class"], ri["term_months"], ri["payment_option"], strict=True))
    assert len(variants) == 12


def test_a100_variants_resolved_by_instance_family(catalog) -> None:  # type: ignore[no-untyped-def]
    gpus = catalog.instance_gpus()
    assert gpus["p4d.24xlarge"] == ("A100-40GB", 8.0)
    assert gpus["p4de.24xlarge"] == ("A100-80GB", 8.0)
    assert gpus["trn1.32xlarge"][0] == "TRAINIUM"
    assert gpus["HGX H100"] == ("H100", 8.0)


def test_as_of_picks_the_newest_file_on_or_before_the_date() -> None:
    early = load_catalog(as_of="2026-04-01", providers=["coreweave"])
    assert early.versions == ("coreweave/coreweave-2026-03-13.csv",)
    late = load_catalog(as_of="2026-12-31", providers=["coreweave"])
    assert late.versions == ("coreweave/coreweave-2026-08-22.csv",)
    with pytest.raises(PlannerInputError, match="no catalog is dated on or before"):
        load_catalog(as_of="2020-01-01")
    with pytest.raises(PlannerInputError, match="not an ISO date"):
        load_catalog(as_of="yesterday")


def test_refreshed_catalog_supersedes_the_shipped_one_without_overwriting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "cat"
    (user / "lambda").mkdir(parents=True)
    shipped = SHIPPED[-1]
    df = pd.read_csv(shipped, dtype=str, keep_default_na=False)
    df["price_date"] = "2026-11-01"
    df.to_csv(user / "lambda" / "lambda-2026-11-01.csv", index=False)
    monkeypatch.setenv("PLANNER_CATALOG_DIR", str(user))
    names = [f.version for f in list_catalog_files() if f.provider == "lambda"]
    assert "refreshed:lambda/lambda-2026-11-01.csv" in names
    cat = load_catalog(providers=["lambda"])
    assert cat.versions == ("refreshed:lambda/lambda-2026-11-01.csv",)
    assert load_catalog(providers=["lambda"], as_of="2026-10-01").versions == (
        "lambda/lambda-2026-09-20.csv",
    )


def test_unknown_names_get_suggestions(catalog) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownNameError) as e:
        catalog.select(region="us-est-1")
    assert "us-east-1" in e.value.suggestions
    with pytest.raises(UnknownNameError) as e:
        catalog.select(provider="corewave")
    assert e.value.suggestions[0] == "coreweave"
    with pytest.raises(UnknownNameError, match="unknown GPU type 'H1OO'"):
        catalog.select(gpu_type="H1OO")


def test_effective_price_per_used_gpu_hour_rises_as_utilisation_falls(catalog) -> None:  # type: ignore[no-untyped-def]
    o = catalog.select(sku="p5.48xlarge", region="us-east-1").offers
    full, half = usd_per_gpu_hour_at(o, 1.0), usd_per_gpu_hour_at(o, 0.5)
    committed = o["term_months"] > 0
    assert committed.any()
    assert list(half[committed]) == pytest.approx(list(2 * full[committed]))
    assert (half[~committed] == full[~committed]).all()
    with pytest.raises(PlannerInputError):
        usd_per_gpu_hour_at(o, 0)


def _published_pairs() -> list[tuple[str, float, float]]:
    c = load_catalog(include_user=False).offers
    od = c[(c["purchase_model"] == "on_demand") & ~c["assumed"]][
        ["provider", "region", "sku", "usd_per_gpu_hour"]
    ]
    rsv = c[c["purchase_model"].isin(["reserved_instance", "reserved_contract"]) & ~c["assumed"]]
    m = rsv.merge(od, on=["provider", "region", "sku"], suffixes=("", "_od"))
    return list(zip(m["offer_id"], m["usd_per_gpu_hour"], m["usd_per_gpu_hour_od"], strict=True))


PAIRS = _published_pairs()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PAIRS))
def test_reserved_at_full_utilisation_is_cheaper_than_on_demand(
    pair: tuple[str, float, float],
) -> None:
    offer_id, reserved, on_demand = pair
    assert reserved < on_demand, offer_id


def test_the_property_holds_for_every_published_pair() -> None:
    assert len(PAIRS) > 9000
    assert all(r < od for _, r, od in PAIRS)


SOURCES = Path(__file__).parents[2] / "tools" / "price_sources"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_repository_holds_the_exact_sources_each_catalog_was_built_from(path: Path) -> None:
    prov = json.loads(path.with_suffix(".provenance.json").read_text())
    matches = list(SOURCES.glob(f"*/{prov['upstream_file']}"))
    assert len(matches) == 1, prov["upstream_file"]
    assert hashlib.sha256(matches[0].read_bytes()).hexdigest() == prov["upstream_sha256"]
