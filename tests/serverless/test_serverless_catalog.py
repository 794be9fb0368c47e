"""The shipped serverless catalog: provenance, published prices, assumed parameters, overlays."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.serverless import (
    load_serverless_catalog,
    serverless_catalog_dir,
    validate_serverless,
)

SOURCES = Path(__file__).parents[2] / "tools" / "price_sources" / "serverless-gpu"
SHIPPED = sorted(serverless_catalog_dir().glob("*.csv"))


def test_one_dated_file_with_matching_provenance_and_source_copy() -> None:
    assert [p.name for p in SHIPPED] == ["serverless-gpu-2026-05-07.csv"]
    path = SHIPPED[0]
    prov = json.loads(path.with_suffix(".provenance.json").read_text())
    assert prov["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert prov["date"] == "2026-05-07"
    upstream = SOURCES / prov["upstream_file"]
    assert hashlib.sha256(upstream.read_bytes()).hexdigest() == prov["upstream_sha256"]
    for key in ("source", "licence", "derivation"):
        assert prov[key]


def test_published_prices_are_copied_and_parameters_flagged_assumed() -> None:
    cat = load_serverless_catalog()
    o = cat.offers.set_index("offer_id")
    assert len(o) == 9
    assert o.at["modal:any:H100:serverless", "usd_per_gpu_hour"] == pytest.approx(3.9492)
    assert o.at["modal:any:H100:serverless", "usd_per_gpu_second"] == pytest.approx(0.001097)
    assert o.at["replicate:any:T4:serverless", "usd_per_gpu_hour"] == pytest.approx(0.81)
    assert not o["assumed"].any()  # the prices are published
    assert o["parameters_assumed"].all()  # increment, cold start, region multiplier are not
    assert (o["assumption"].str.len() > 20).all()
    assert o.at["modal:any:H100:serverless", "billing_increment_s"] == 10
    assert cat.versions == ("serverless/serverless-gpu-2026-05-07.csv",)


def test_an_as_of_before_the_file_gives_no_offers() -> None:
    assert load_serverless_catalog(as_of="2026-01-01").offers.empty


def test_cheapest_offer_per_gpu_among_allowed_providers() -> None:
    cat = load_serverless_catalog()
    assert cat.for_gpu("H100", ("modal", "replicate")).iloc[0]["provider"] == "modal"
    assert cat.for_gpu("H100", ("replicate",)).iloc[0]["usd_per_gpu_hour"] == pytest.approx(5.49)
    assert cat.for_gpu("L4", ("replicate",)).empty  # Replicate lists no L4


def test_overlay_replaces_a_price_and_vouches_for_it(tmp_path: Path) -> None:
    ov = tmp_path / "negotiated.toml"
    ov.write_text(
        '[[serverless]]\nprovider = "modal"\ngpu_type = "H100"\nusd_per_gpu_hour = 3.0\n'
        "cold_start_overhead_pct = 4\n"
    )
    cat = load_serverless_catalog(overlay=ov)
    row = cat.offers.set_index("offer_id").loc["modal:any:H100:serverless"]
    assert row["usd_per_gpu_hour"] == 3.0
    assert row["usd_per_gpu_second"] == pytest.approx(3.0 / 3600)
    assert row["cold_start_overhead_pct"] == 4
    assert bool(row["overlay"]) and not bool(row["parameters_assumed"])
    assert cat.versions[-1] == "overlay:negotiated.toml"


def test_overlay_can_add_an_offer_and_rejects_unknown_keys(tmp_path: Path) -> None:
    ov = tmp_path / "o.toml"
    ov.write_text(
        '[[serverless]]\nprovider = "replicate"\ngpu_type = "L4"\nusd_per_gpu_second = 0.0002\n'
    )
    added = load_serverless_catalog(overlay=ov).for_gpu("L4", ("replicate",))
    assert added.iloc[0]["usd_per_gpu_hour"] == pytest.approx(0.72)
    ov.write_text('[[serverless]]\nprovider = "modal"\ngpu_type = "L4"\nprice = 1\n')
    with pytest.raises(UnknownNameError, match="price"):
        load_serverless_catalog(overlay=ov)
    ov.write_text('[[serverless]]\nprovider = "modal"\ngpu_type = "L4"\nusd_per_gpu_hour = -1\n')
    with pytest.raises(PlannerInputError, match="must be a number >= 0"):
        load_serverless_catalog(overlay=ov)


def test_the_offer_overlay_accepts_a_file_with_serverless_tables(tmp_path: Path) -> None:
    from pricing_data.catalog import load_catalog

    ov = tmp_path / "o.toml"
    ov.write_text('[[serverless]]\nprovider = "modal"\ngpu_type = "L4"\nusd_per_gpu_hour = 0.7\n')
    assert len(load_catalog(overlay=ov).offers) > 0


def test_a_corrupted_row_names_file_row_and_column() -> None:
    import pandas as pd

    raw = pd.read_csv(SHIPPED[0], dtype=str, keep_default_na=False)
    raw.loc[2, "usd_per_gpu_hour"] = "cheap"
    with pytest.raises(PlannerInputError) as e:
        validate_serverless(raw, "x.csv")
    assert e.value.row == 4 and e.value.column == "usd_per_gpu_hour"
    raw = pd.read_csv(SHIPPED[0], dtype=str, keep_default_na=False)
    raw.loc[0, "usd_per_gpu_second"] = "0.5"  # x 3600 is not the hourly price
    with pytest.raises(PlannerInputError, match="differs"):
        validate_serverless(raw, "x.csv")
