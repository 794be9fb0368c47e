"""Ingestion of the real series, the real billing samples and the GPU billing fixtures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting import make_pools, read_focus_commitments, read_usage
from forecasting.usage import USAGE_COLUMNS

DATA = Path(__file__).resolve().parent.parent / "data"
USAGE = DATA / "usage"
FIX = DATA / "billing" / "gpu-fixtures"


def test_helios_reads_as_v100_with_its_outage() -> None:
    h = read_usage(USAGE / "helios-earth" / "usage.csv")
    assert h.source_format == "tidy"
    assert h.gpu_types == ("V100",)
    assert h.span_hours == 744
    assert list(h.data.columns) == list(USAGE_COLUMNS)
    assert str(h.data["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert h.report.gap_hours == 0
    out = h.report.outages
    assert len(out) == 1 and out["hours"].iloc[0] == 24
    assert out["start"].iloc[0] == pd.Timestamp("2020-05-09T16:00Z")


def test_philly_gap_and_outage_are_reported_and_filled() -> None:
    h = read_usage(USAGE / "philly-node-sequence" / "usage.csv")
    assert h.gpu_types == ("other:philly-server",)
    assert h.report.gap_hours == 10
    assert h.report.outage_hours == 18
    pooled = make_pools(h)
    assert pooled.gap_mask.to_numpy().sum() == 10
    assert not pooled.demand_gpus.isna().any().any()
    fit = pooled.for_fitting()
    miss = pooled.missing_mask().iloc[:, 0].to_numpy()
    # imputed hours look like the series, not like an outage
    assert fit.iloc[:, 0].to_numpy()[miss].min() > 150


def test_alibaba_six_types_with_labelled_undisclosed_models() -> None:
    h = read_usage(USAGE / "alibaba-spot-gpu-v2026" / "usage.csv")
    assert h.gpu_types == (
        "A10",
        "A100-80GB",
        "A800-80GB",
        "H800",
        "other:alibaba-GPU-series-1",
        "other:alibaba-GPU-series-2",
    )
    assert h.span_hours == 4415
    pooled = make_pools(h)
    assert pooled.demand_gpus.shape == (4415, 6)


def test_original_alibaba_file_reads_with_aliases() -> None:
    h = read_usage(
        USAGE / "alibaba-spot-gpu-v2026" / "hourly.csv",
        gpu_aliases={"GPU-series-1": "other:s1", "GPU-series-2": "other:s2"},
    )
    assert "column 'gpus_in_use' read as 'gpus'" in h.report.warnings
    assert {"A100-80GB", "other:s1", "other:s2"} <= set(h.gpu_types)


def test_real_focus_sample_finds_its_few_gpu_hours_and_commitments() -> None:
    path = DATA / "billing" / "focus-sample-1.0" / "focus_sample.csv"
    h = read_usage(path)
    assert h.source_format == "focus"
    assert set(h.gpu_types) == {"A10G", "M60"}
    assert (h.data["paid_as"] == "on_demand").all()
    assert (h.data["environment"] == "dev").all()
    assert h.data["gpus"].sum() == pytest.approx(7.9697, abs=1e-3)
    c = read_focus_commitments(path)
    assert len(c) == 2
    assert set(c["type"]) == {"Savings Plan"}
    assert set(c["category"]) == {"Spend"}


def test_real_legacy_cur_sample_parses_without_gpu_rows() -> None:
    h = read_usage(
        DATA / "billing" / "aws-cur-legacy-sample" / "sample-anonymous-aws-export-dataset.csv"
    )
    assert h.source_format == "cur-legacy"
    assert h.data.empty
    assert "no GPU usage rows were found in the file" in h.report.warnings


@pytest.mark.parametrize("name", ["focus-1.2-gpu.csv", "cur2-gpu.csv", "cur2-gpu.parquet"])
def test_billing_fixtures_split_gpu_hours_by_how_paid(name: str) -> None:
    h = read_usage(FIX / name)
    d = h.data
    by = d.groupby(["gpu_type", "paid_as"])["gpus"].sum().to_dict()
    # 2 x p5.48xlarge (8 H100): 24 h on a Savings Plan, then 24 h half RI, half on-demand
    assert by == {
        ("A10G", "spot"): 12.0,
        ("H100", "on_demand"): 192.0,
        ("H100", "reserved_instance"): 192.0,
        ("H100", "savings_plan"): 384.0,
    }
    assert set(d.loc[d["gpu_type"] == "H100", "team"]) == {"llm"}
    assert set(d.loc[d["gpu_type"] == "A10G", "workload"]) == {"serving"}
    assert (d["provider"] == "aws").all() and (d["region"] == "us-east-1").all()
    assert d["timestamp"].min() == pd.Timestamp("2025-03-01T00:00Z")
    assert d["timestamp"].nunique() == 48


def test_legacy_cur_fixture_spreads_a_daily_line_over_its_hours() -> None:
    h = read_usage(FIX / "cur-legacy-gpu.csv")
    l4 = h.data[h.data["gpu_type"] == "L4"]
    assert len(l4) == 24 and l4["gpus"].eq(1.0).all()
    assert set(l4["region"]) == {"eu-west-1"}  # from the usage type prefix EUW1
    assert any("span more than an hour" in w for w in h.report.warnings)
    assert h.data.loc[h.data["gpu_type"] == "H100", "team"].eq("llm").all()


def test_focus_commitments_fixture() -> None:
    c = read_focus_commitments(FIX / "focus-1.2-gpu.csv").set_index("type")
    sp = c.loc["Savings Plan"]
    assert (
        sp["status"] == "Used/Unused" and sp["category"] == "Spend" and sp["sku"] == "p5.48xlarge"
    )
    assert sp["first_seen"] == pd.Timestamp("2025-03-01T00:00Z")
    ri = c.loc["Reservation"]
    assert ri["category"] == "Usage" and ri["region"] == "us-east-1"
    assert ri["last_seen"] == pd.Timestamp("2025-03-03T00:00Z")


def test_tidy_instance_types_become_gpus(tmp_path: Path) -> None:
    p = tmp_path / "u.csv"
    p.write_text(
        "timestamp,instance_type,gpus,team\n"
        "2025-01-01T00:00:00Z,p5.48xlarge,2,a\n"
        "2025-01-01T01:00:00Z,p5.48xlarge,1.5,a\n"
    )
    h = read_usage(p)
    assert h.data["gpu_type"].tolist() == ["H100", "H100"]
    assert h.data["gpus"].tolist() == [16.0, 12.0]


def test_offsets_convert_to_utc_with_a_warning(tmp_path: Path) -> None:
    p = tmp_path / "u.csv"
    p.write_text(
        "timestamp,gpu_type,gpus\n2025-01-01T02:00:00+02:00,H100,1\n2025-01-01T03:00:00+02:00,H100,2\n"
    )
    h = read_usage(p)
    assert h.data["timestamp"].iloc[0] == pd.Timestamp("2025-01-01T00:00Z")
    assert any("non-UTC" in w for w in h.report.warnings)


def test_duplicates_can_be_summed(tmp_path: Path) -> None:
    p = tmp_path / "u.csv"
    p.write_text(
        "timestamp,gpu_type,gpus\n2025-01-01T00:00:00Z,H100,1\n2025-01-01T00:00:00Z,H100,2\n"
    )
    h = read_usage(p, on_duplicate="sum")
    assert h.data["gpus"].tolist() == [3.0]
    assert h.report.duplicates["rows"].tolist() == [2]


def test_parquet_tidy(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "timestamp": ["2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z"],
            "gpu_type": ["L4", "L4"],
            "gpus": [1.0, 2.0],
            "workload": ["training", "training"],
        }
    )
    df.to_parquet(tmp_path / "u.parquet")
    h = read_usage(tmp_path / "u.parquet")
    assert h.data["gpus"].tolist() == [1.0, 2.0]
    assert h.data["workload"].tolist() == ["training", "training"]


def test_gzipped_cur_reads_like_the_plain_one(tmp_path: Path) -> None:
    import gzip

    gz = tmp_path / "cur.csv.gz"
    gz.write_bytes(gzip.compress((FIX / "cur2-gpu.csv").read_bytes()))
    assert read_usage(gz).data["gpus"].sum() == read_usage(FIX / "cur2-gpu.csv").data["gpus"].sum()


def test_gzipped_tidy(tmp_path: Path) -> None:
    import gzip

    gz = tmp_path / "u.csv.gz"
    gz.write_bytes(gzip.compress(b"timestamp,gpu_type,gpus\n2025-01-01T00:00:00Z,L4,3\n"))
    assert read_usage(gz).data["gpus"].tolist() == [3.0]


@settings(max_examples=25, deadline=None)
@given(
    rows=st.dictionaries(
        st.integers(0, 300), st.floats(0, 1e5, allow_nan=False), min_size=1, max_size=60
    )
)
def test_tidy_round_trip_keeps_gpu_hours_and_counts_gaps(rows: dict[int, float]) -> None:
    import tempfile

    t0 = pd.Timestamp("2025-01-01T00:00Z")
    lines = [f"{t0 + pd.Timedelta(hours=h):%Y-%m-%dT%H:%M:%SZ},L4,{v!r}" for h, v in rows.items()]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "u.csv"
        p.write_text("timestamp,gpu_type,gpus\n" + "\n".join(lines) + "\n")
        h = read_usage(p)
    assert h.data["gpus"].sum() == pytest.approx(sum(rows.values()))
    assert h.data["timestamp"].is_monotonic_increasing
    assert h.span_hours == max(rows) - min(rows) + 1
    assert h.report.gap_hours == h.span_hours - len(rows)


def test_focus_parquet_reads_like_the_csv(tmp_path: Path) -> None:
    df = pd.read_csv(FIX / "focus-1.2-gpu.csv", na_values=["NULL"], keep_default_na=False)
    df["ChargePeriodStart"] = pd.to_datetime(df["ChargePeriodStart"])  # typed, as exporters write
    df["ChargePeriodEnd"] = pd.to_datetime(df["ChargePeriodEnd"])
    p = tmp_path / "focus.parquet"
    df.to_parquet(p)
    a, b = read_usage(p).data, read_usage(FIX / "focus-1.2-gpu.csv").data
    assert a["gpus"].sum() == b["gpus"].sum() == 780.0
    assert a["timestamp"].min() == b["timestamp"].min()
    assert len(read_focus_commitments(p)) == 2
