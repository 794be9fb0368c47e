"""Hostile usage files: every format gets the same rules (forecasting.validate_usage).

Named cases for the audit's classes: negative or non-numeric billing quantities, mistyped regions and
providers, implausible hours, a duplicated header, semicolon-delimited and gzip-misnamed files,
dates that would start a plan in 1970 or in the future."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest

from forecasting import read_usage
from forecasting.validate_usage import (
    OUTLIER_Z,
    accepting_outliers,
    find_outliers,
    price_date_warning,
    robust_z,
)
from pricing_data.errors import PlannerInputError
from tests.hostile.conftest import BILLING, USAGE, assert_usage_error, hourly_rows, run, small_usage

FOCUS = BILLING / "focus-1.2-gpu.csv"
CUR2 = BILLING / "cur2-gpu.csv"
CUR_LEGACY = BILLING / "cur-legacy-gpu.csv"


def edited(src: Path, dst: Path, column: str, value: str, row: int = 0) -> Path:
    """``src`` with one cell (data row ``row``, 0-based) replaced, written as CSV to ``dst``."""
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    df.loc[row, column] = value
    df.to_csv(dst, index=False)
    return dst


# ---- billing quantities: refused with their row, whatever the format --------------------------


@pytest.mark.parametrize(
    ("src", "column"),
    [
        (FOCUS, "ConsumedQuantity"),
        (CUR2, "line_item_usage_amount"),
        (CUR_LEGACY, "lineItem/UsageAmount"),
    ],
)
def test_negative_billing_quantity_is_refused_with_its_row(
    tmp_path: Path, src: Path, column: str
) -> None:
    f = edited(src, tmp_path / src.name, column, "-2.0", row=0)
    with pytest.raises(PlannerInputError) as e:
        read_usage(f)
    assert e.value.row == 2 and e.value.column == column and e.value.value == "-2.0"
    assert "negative usage quantity" in str(e.value)


@pytest.mark.parametrize(
    ("src", "column"),
    [(FOCUS, "ConsumedQuantity"), (CUR2, "line_item_usage_amount")],
)
def test_non_numeric_billing_quantity_is_refused_not_dropped(
    tmp_path: Path, src: Path, column: str
) -> None:
    f = edited(src, tmp_path / src.name, column, "2,5", row=1)
    with pytest.raises(PlannerInputError) as e:
        read_usage(f)
    assert e.value.row == 3 and e.value.value == "2,5"
    assert "not a finite number" in str(e.value)


def test_negative_quantity_in_parquet_cur_is_refused(tmp_path: Path) -> None:
    df = pd.read_parquet(BILLING / "cur2-gpu.parquet")
    df.loc[0, "line_item_usage_amount"] = -5.0
    f = tmp_path / "cur.parquet"
    df.to_parquet(f)
    with pytest.raises(PlannerInputError, match="negative usage quantity"):
        read_usage(f)


def test_the_cli_refuses_negative_focus_usage_before_planning(tmp_path: Path) -> None:
    f = edited(FOCUS, tmp_path / "focus.csv", "ConsumedQuantity", "-1000")
    out = tmp_path / "out"
    r = run("plan", f, "--out-dir", out, "--scenarios", "2", "--horizon", "1mo")
    assert_usage_error(r, "negative usage quantity", "ConsumedQuantity", "row 2")
    assert not out.exists()


def test_unmodified_billing_fixtures_still_read() -> None:
    for f in (FOCUS, CUR2, CUR_LEGACY, BILLING / "cur2-gpu.parquet"):
        assert not read_usage(f).data.empty


# ---- names -------------------------------------------------------------------------------------


def test_mistyped_region_is_refused_with_did_you_mean(tmp_path: Path) -> None:
    f = small_usage(
        tmp_path / "u.csv",
        hourly_rows(48, extra=",aws,us-eats-1"),
        header="timestamp,gpu_type,gpus,provider,region",
    )
    with pytest.raises(PlannerInputError) as e:
        read_usage(f)
    assert e.value.column == "region" and "'us-east-1'" in str(e.value)
    assert "default region" in str(e.value)


def test_mistyped_region_in_a_cur_is_refused(tmp_path: Path) -> None:
    f = edited(CUR2, tmp_path / "cur2.csv", "product_region_code", "us-esat-1", row=0)
    with pytest.raises(PlannerInputError, match="unknown AWS region 'us-esat-1'"):
        read_usage(f)


def test_unknown_provider_is_refused(tmp_path: Path) -> None:
    f = small_usage(
        tmp_path / "u.csv",
        hourly_rows(24, extra=",corewave,"),
        header="timestamp,gpu_type,gpus,provider,region",
    )
    with pytest.raises(PlannerInputError) as e:
        read_usage(f)
    assert e.value.column == "provider" and "'coreweave'" in str(e.value)


def test_regions_of_other_providers_are_not_aws_codes(tmp_path: Path) -> None:
    f = small_usage(
        tmp_path / "u.csv",
        hourly_rows(24, extra=",coreweave,US-EAST-04"),
        header="timestamp,gpu_type,gpus,provider,region",
    )
    assert len(read_usage(f).data) == 24


# ---- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e308", "1e30", "20000000", "inf", "nan", "-1"])
def test_impossible_gpu_counts_are_refused(tmp_path: Path, value: str) -> None:
    rows = hourly_rows(48)
    rows[10] = rows[10].rsplit(",", 1)[0] + f",{value}"
    with pytest.raises(PlannerInputError) as e:
        read_usage(small_usage(tmp_path / "u.csv", rows))
    assert e.value.column == "gpus"


def test_one_implausible_hour_is_refused_naming_the_hour_and_value(tmp_path: Path) -> None:
    rows = hourly_rows(24 * 14, gpus=100.0)
    rows[30] = rows[30].rsplit(",", 1)[0] + ",5000000"
    f = small_usage(tmp_path / "u.csv", rows)
    with pytest.raises(PlannerInputError) as e:
        read_usage(f)
    text = str(e.value)
    assert "2025-01-02T06:00Z" in text and "5e+06" in text and "--accept-outliers" in text


def test_accepted_outliers_are_kept_with_a_loud_warning(tmp_path: Path) -> None:
    rows = hourly_rows(24 * 14, gpus=100.0)
    rows[30] = rows[30].rsplit(",", 1)[0] + ",5000000"
    f = small_usage(tmp_path / "u.csv", rows)
    h = read_usage(f, accept_outliers=True)
    assert h.data["gpus"].max() == 5_000_000
    assert any(w.startswith("accepted outliers: 1 implausible hour") for w in h.report.warnings)
    with accepting_outliers():
        assert read_usage(f).data["gpus"].max() == 5_000_000


def test_cli_usage_outlier_exit_2_and_flag_accepts(tmp_path: Path) -> None:
    rows = hourly_rows(24 * 14, gpus=100.0)
    rows[30] = rows[30].rsplit(",", 1)[0] + ",5000000"
    f = small_usage(tmp_path / "u.csv", rows)
    assert_usage_error(run("usage", f), "implausible hour", "2025-01-02T06:00Z")
    r = run("usage", f, "--accept-outliers")
    assert r.exit_code == 0, r.output
    assert "accepted outliers" in r.output


def test_robust_z_by_hand() -> None:
    # y = [10, 10, 10, 12, 1000]: median 10, |y - 10| = [0, 0, 0, 2, 990], MAD 0
    # scale = max(1.4826 * 0, 0.05 * 10, 1) = 1, so z = y - 10
    z = robust_z([10, 10, 10, 12, 1000])
    assert z.tolist() == [0.0, 0.0, 0.0, 2.0, 990.0]


def test_bursts_a_few_times_the_usual_level_are_not_outliers() -> None:
    # a training burst at 8x the usual level is real: z is large but y < 10 x P95
    ts = pd.date_range("2025-01-01", periods=500, freq="h", tz="UTC")
    gpus = [64.0] * 500
    gpus[100:110] = [512.0] * 10
    data = pd.DataFrame({"timestamp": ts, "gpu_type": "H100", "gpus": gpus})
    assert robust_z(pd.Series(gpus).to_numpy()).max() > OUTLIER_Z
    assert find_outliers(data).empty


@pytest.mark.slow
def test_shipped_example_and_real_traces_have_no_outliers() -> None:
    # the rules must not refuse the real data the project ships
    from tests.conftest import DATA

    for f in [USAGE, *sorted((DATA / "usage").glob("*/usage.csv"))]:
        read_usage(f)


# ---- the file itself ---------------------------------------------------------------------------


def test_duplicated_header_is_refused(tmp_path: Path) -> None:
    f = small_usage(
        tmp_path / "u.csv",
        [r + ",a,b" for r in hourly_rows(3)],
        header="timestamp,gpu_type,gpus,team,team",
    )
    with pytest.raises(PlannerInputError) as e:
        read_usage(f)
    assert e.value.column == "team" and e.value.row == 1 and "twice" in str(e.value)


def test_semicolon_delimited_file_gets_a_hint(tmp_path: Path) -> None:
    f = tmp_path / "u.csv"
    f.write_text("timestamp;gpu_type;gpus\n2025-01-01T00:00:00Z;H100;8\n")
    r = run("usage", f)
    assert_usage_error(r, "cannot tell what kind of usage file", "semicolon-delimited")


def test_gzip_misnamed_file_gets_a_hint(tmp_path: Path) -> None:
    f = tmp_path / "u.csv"
    f.write_bytes(gzip.compress(USAGE.read_bytes()[:2000]))
    r = run("usage", f)
    assert_usage_error(r, "gzip-compressed", ".gz")


def test_gzipped_usage_named_gz_reads(tmp_path: Path) -> None:
    f = tmp_path / "u.csv.gz"
    with USAGE.open("rb") as src, gzip.open(f, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert len(read_usage(f).data) > 0


# ---- dates that move the plan ------------------------------------------------------------------


def test_usage_from_1970_warns_loudly(tmp_path: Path) -> None:
    rows = [r.replace("2025-", "1970-") for r in hourly_rows(24)]
    h = read_usage(small_usage(tmp_path / "u.csv", rows))
    assert any("before any cloud GPU existed" in w for w in h.report.warnings)


def test_usage_in_the_future_warns_loudly(tmp_path: Path) -> None:
    rows = [r.replace("2025-", "2091-") for r in hourly_rows(24)]
    h = read_usage(small_usage(tmp_path / "u.csv", rows))
    assert any("in the future" in w for w in h.report.warnings)


def test_plan_start_far_from_price_dates_warns() -> None:
    dates = pd.Series(["2025-06-01", "2025-09-30"])
    assert price_date_warning(pd.Timestamp("2026-01-01", tz="UTC"), dates) is None
    w = price_date_warning(pd.Timestamp("1970-01-01", tz="UTC"), dates)
    assert w is not None and "1970-01-01" in w and "2025-09-30" in w and "--as-of" in w
    assert price_date_warning(pd.Timestamp("2031-01-01", tz="UTC"), dates) is not None


def test_load_inputs_shows_loud_warnings_even_when_quiet(tmp_path: Path) -> None:
    from planner.policy_file import read_policy_file
    from planner.workflows.inputs import load_inputs

    rows = [r.replace("2025-", "1970-") for r in hourly_rows(24 * 8)]
    f = small_usage(tmp_path / "u.csv", rows)
    noted: list[str] = []

    class Quiet:
        def __call__(self, message: str) -> None:  # progress: hidden
            pass

        def note(self, message: str) -> None:  # warnings: always shown
            noted.append(message)

    load_inputs(f, read_policy_file(None), progress=Quiet())
    assert any(n.startswith("WARNING: usage dated 1970-01-01") for n in noted), noted
    assert any(n.startswith("WARNING: the plan starts 1970-01-09") for n in noted), noted
