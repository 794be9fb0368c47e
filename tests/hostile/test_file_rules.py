"""Hostile inventories, overlays, policies and hand-edited plan.json files: named cases, each
refused with exit code 2, the key or cell and the fix, before any heavy work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.inventory import read_inventory
from planner.policy_file import apply_overrides, read_policy_file
from pricing_data.catalog import load_catalog
from pricing_data.errors import PlannerInputError
from tests.hostile.conftest import INVENTORY, USAGE, assert_usage_error, run, snapshot

HEADER, *ROWS = INVENTORY.read_text().splitlines()


def inventory_with(tmp_path: Path, row: str) -> Path:
    f = tmp_path / "inv.csv"
    f.write_text(HEADER + "\n" + row + "\n")
    return f


# ---- inventory ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "date", ["06/01/2026", "1/6/2026", "2026.06.01", "June 1 2026", "20260601"]
)
def test_inventory_dates_must_be_iso(tmp_path: Path, date: str) -> None:
    row = "cw,coreweave,reserved_contract,north-america,HGX H100,,12,no_upfront,16,," + date + ","
    with pytest.raises(PlannerInputError) as e:
        read_inventory(inventory_with(tmp_path, row))
    assert e.value.column == "start_date" and e.value.row == 2 and "YYYY-MM-DD" in str(e.value)


def test_inventory_term_contradicting_its_dates_is_refused(tmp_path: Path) -> None:
    # 36 months from 2026-06-01 ends 2029-06-01, not 2027-06-01
    row = "cw,coreweave,reserved_contract,north-america,HGX H100,,36,no_upfront,16,,2026-06-01,2027-06-01"
    with pytest.raises(PlannerInputError) as e:
        read_inventory(inventory_with(tmp_path, row))
    assert e.value.column == "end_date" and "2029-06-01" in str(e.value)


def test_an_imported_commitment_with_a_term_past_the_calendar_is_refused() -> None:
    # commitments imported from AWS or FOCUS skip the CSV parser: check_commitment refuses the
    # term itself (start + 1,200,000 months overflowed the end-date check before)
    import pandas as pd

    from planner.inventory import Commitment
    from planner.validate_inventory import check_commitment

    start = pd.Timestamp("2026-01-01", tz="UTC")
    c = Commitment(
        commitment_id="ri",
        provider="aws",
        purchase_model="reserved_instance",
        region="us-east-1",
        sku="g5.12xlarge",
        offering_class="standard",
        term_months=1_200_000,
        payment_option="no_upfront",
        quantity=1.0,
        hourly_commitment_usd=0.0,
        start=start,
        end=start + pd.DateOffset(months=12),
    )
    with pytest.raises(PlannerInputError) as e:
        check_commitment(c, "aws", None)
    assert e.value.column == "term_months" and "outside 1..120" in str(e.value)


def test_inventory_aws_365_day_terms_are_consistent(tmp_path: Path) -> None:
    # AWS ends a 1-year RI bought 2024-02-01 after 365 days (2025-01-31) in a leap year
    row = "ri,aws,reserved_instance,us-east-1,g5.12xlarge,standard,12,no_upfront,2,,2024-02-01,2025-01-31"
    assert read_inventory(inventory_with(tmp_path, row))[0].term_months == 12


@pytest.mark.parametrize(
    ("cells", "column"),
    [
        ("12,no_upfront,16,,2026-06-01,9999-12-31", "end_date"),
        ("12,no_upfront,16,,0001-01-01,", "start_date"),
        ("12,no_upfront,1e12,,2026-06-01,", "quantity"),
        ("12,no_upfront,1e308,,2026-06-01,", "quantity"),
    ],
)
def test_inventory_placeholders_and_huge_values_are_refused(
    tmp_path: Path, cells: str, column: str
) -> None:
    row = "cw,coreweave,reserved_contract,north-america,HGX H100,," + cells
    with pytest.raises(PlannerInputError) as e:
        read_inventory(inventory_with(tmp_path, row))
    assert e.value.column == column


def test_inventory_with_a_bom_reads(tmp_path: Path) -> None:
    f = tmp_path / "inv.csv"
    f.write_bytes(b"\xef\xbb\xbf" + INVENTORY.read_bytes())
    assert len(read_inventory(f)) == len(ROWS)


def test_cli_inventory_9999_end_is_exit_2_and_nothing_written(tmp_path: Path) -> None:
    inv = inventory_with(
        tmp_path,
        "cw,coreweave,reserved_contract,north-america,HGX H100,,12,no_upfront,16,,2026-06-01,9999-12-31",
    )
    out = tmp_path / "out"
    r = run("plan", USAGE, "--inventory", inv, "--out-dir", out)
    assert_usage_error(r, "end_date", "2006..2100")
    assert not out.exists()


# ---- overlay -----------------------------------------------------------------------------------

OVERLAY_HEAD = "provider,region,sku,purchase_model,term_months,usd_per_gpu_hour\n"


@pytest.mark.parametrize("price", ["0", "0.0", "0e0"])
def test_zero_overlay_price_is_refused(tmp_path: Path, price: str) -> None:
    f = tmp_path / "o.csv"
    f.write_text(OVERLAY_HEAD + f"coreweave,north-america,HGX H100,reserved_contract,12,{price}\n")
    with pytest.raises(PlannerInputError) as e:
        load_catalog(overlay=f)
    assert e.value.row == 2 and e.value.column == "usd_per_gpu_hour" and "free" in str(e.value)


def test_zero_upfront_and_recurring_is_refused_but_zero_upfront_alone_is_fine(
    tmp_path: Path,
) -> None:
    head = "provider,region,sku,purchase_model,term_months,offering_class,payment_option,upfront_usd,recurring_usd_per_hour\n"
    key = "aws,us-east-1,p5.48xlarge,reserved_instance,12,standard,no_upfront"
    f = tmp_path / "o.csv"
    f.write_text(head + key + ",0,0\n")
    with pytest.raises(PlannerInputError, match="free"):
        load_catalog(overlay=f)
    f.write_text(head + key + ",0,40\n")
    assert load_catalog(overlay=f).offers["overlay"].any()


def test_implausible_overlay_price_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "o.toml"
    f.write_text(
        '[[offer]]\nprovider = "coreweave"\nregion = "north-america"\nsku = "HGX H100"\n'
        'purchase_model = "reserved_contract"\nterm_months = 12\nusd_per_gpu_hour = 26280\n'
    )
    with pytest.raises(PlannerInputError, match="hourly rate"):
        load_catalog(overlay=f)


def test_cli_zero_price_overlay_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "o.csv"
    f.write_text(OVERLAY_HEAD + "coreweave,north-america,HGX H100,reserved_contract,12,0\n")
    assert_usage_error(run("prices", "--overlay", f), "free", "row 2")


# ---- policy ------------------------------------------------------------------------------------


def test_growth_below_minus_100_pct_names_the_key(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text("[growth]\nannual_pct = -150\n")
    with pytest.raises(PlannerInputError) as e:
        read_policy_file(f)
    assert e.value.column == "growth.annual_pct" and e.value.value == -150


def test_growth_override_below_minus_100_is_refused() -> None:
    with pytest.raises(PlannerInputError) as e:
        apply_overrides(read_policy_file(None), ["growth=-150%"])
    assert e.value.column == "growth.annual_pct"


def test_policy_with_a_bom_reads(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_bytes(b"\xef\xbb\xbf[planning]\nhorizon_months = 6\n")
    assert read_policy_file(f).policy.horizon_months == 6


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("[planning]\nhorizon_months = 100000\n", "planning.horizon_months"),
        ("[risk]\ncvar_limit_usd = inf\n", "risk.cvar_limit_usd"),
        ("[risk]\ncvar_limit_usd = nan\n", "risk.cvar_limit_usd"),
        ("[growth]\nannual_pct = nan\n", "growth.annual_pct"),
        (
            '[growth]\n[[growth.steps]]\nat = "2027-01-01"\npct = -300\n',
            "growth.steps[1].pct",
        ),
        (
            '[growth]\n[[growth.steps]]\nat = "9999-01-01"\nadd_gpus = 5\n',
            "growth.steps[1].at",
        ),
    ],
)
def test_policy_values_that_would_break_the_run_are_refused(
    tmp_path: Path, text: str, column: str
) -> None:
    f = tmp_path / "p.toml"
    f.write_text(text)
    with pytest.raises(PlannerInputError) as e:
        read_policy_file(f)
    assert e.value.column == column, str(e.value)


def test_cli_horizon_100000_months_exit_2(tmp_path: Path) -> None:
    r = run("plan", USAGE, "--horizon", "100000mo", "--out-dir", tmp_path / "o")
    assert_usage_error(r, "horizon")


# ---- plan.json read back -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real plan.json from the example organisation (tiny settings)."""
    out = tmp_path_factory.mktemp("plan")
    r = run("plan", USAGE, "--scenarios", "2", "--horizon", "1mo", "--out-dir", out, "--no-report")
    assert r.exit_code == 0, r.output
    return out / "plan.json"


def _edit_first_purchase(src: Path, dst: Path, **commitment: object) -> Path:
    doc = json.loads(src.read_text())
    assert doc["purchases"], "the example plan buys something"
    doc["purchases"][0]["commitment"].update(commitment)
    dst.write_text(json.dumps(doc))
    return dst


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ({"quantity": -3, "hourly_commitment_usd": -3}, ">= 0"),
        ({"provider": "oracle"}, "unknown provider 'oracle'"),
        ({"purchase_model": "spot"}, "unknown purchase model"),
        ({"start": "9999-01-01T00:00:00+00:00"}, "between 2006 and 2100"),
        ({"term_months": 1200}, "term_months"),
        ({"commitment_id": '=HYPERLINK("http://x")', "end": "2000-01-01"}, "end"),
    ],
)
def test_hand_edited_plan_json_is_refused_by_export(
    tmp_path: Path, plan_json: Path, edit: dict[str, object], needle: str
) -> None:
    bad = _edit_first_purchase(plan_json, tmp_path / "plan.json", **edit)
    out = tmp_path / "export"
    out.mkdir()
    before = snapshot(out)
    r = run("export", bad, "--out", out / "purchases.csv")
    assert_usage_error(r, "purchase #1", needle)
    assert snapshot(out) == before


def test_unmodified_plan_json_exports(tmp_path: Path, plan_json: Path) -> None:
    r = run("export", plan_json, "--out", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output


def test_plan_json_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "plan.json"
    for text in ("[]", "1", '{"purchases": 3}', '{"purchases": [1]}', "\x00\x01"):
        f.write_text(text)
        assert_usage_error(run("export", f), str(f))


# ---- regions named outside the usage file ------------------------------------------------------


def test_policy_default_region_typo_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text('[planning]\ndefault_aws_region = "us-eest-1"\n')
    with pytest.raises(PlannerInputError) as e:
        read_policy_file(f)
    assert e.value.column == "planning.default_aws_region" and "'us-east-1'" in str(e.value)


def test_pool_rule_region_typo_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text('[[pools]]\nmatch = { team = "ml" }\naws_region = "eu-west-9"\n')
    with pytest.raises(PlannerInputError) as e:
        read_policy_file(f)
    assert e.value.column == "pools[1].aws_region"


def test_optimize_region_typo_is_exit_2(tmp_path: Path) -> None:
    r = run("optimize", "--usage", USAGE, "--region", "us-eest-1", "--out-dir", tmp_path / "o")
    assert_usage_error(r, "unknown AWS region 'us-eest-1'", "did you mean", "'us-east-1'")
    assert not (tmp_path / "o").exists()


def test_output_files_are_checked_before_the_work(tmp_path: Path) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("x")
    r = run("forecast", USAGE, "--out", blocker / "q.csv")
    assert_usage_error(r, "--out", "is a file")
    r = run("forecast", USAGE, "--out", tmp_path)
    assert_usage_error(r, "--out", "is a directory")
    r = run("forecast", USAGE, "--out-dir", blocker / "fc")
    assert_usage_error(r, "--out-dir", "is a file")
