"""The inventory CSV: the example file reads, and each bad row is named with its fix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from planner.inventory import INVENTORY_COLUMNS, inventory_frame, read_inventory
from pricing_data.errors import PlannerInputError, UnknownNameError

EXAMPLE = Path(__file__).parents[2] / "examples" / "inventory.csv"
HEADER = ",".join(INVENTORY_COLUMNS)


def test_example_inventory_reads_and_round_trips(tmp_path: Path) -> None:
    items = read_inventory(EXAMPLE)
    assert [c.commitment_id for c in items] == [
        "ri-a100-2025",
        "ri-a10g-2024",
        "sp-compute-2026",
        "cw-h100-2026",
    ]
    sp = items[2]
    assert sp.is_savings_plan and sp.hourly_commitment_usd == 40.0 and sp.quantity == 0
    assert items[0].end == pd.Timestamp("2026-12-01", tz="UTC")
    out = tmp_path / "inv.csv"
    inventory_frame(items).to_csv(out, index=False)
    assert read_inventory(out) == items


def test_end_date_defaults_to_start_plus_term(tmp_path: Path) -> None:
    f = tmp_path / "inv.csv"
    f.write_text(
        HEADER
        + "\nx,aws,reserved_instance,us-east-1,p5.48xlarge,standard,36,all_upfront,2,,2026-01-15,\n"
    )
    (c,) = read_inventory(f)
    assert c.end == pd.Timestamp("2029-01-15", tz="UTC")
    hours = c.active_hours(pd.date_range("2029-01-14T22:00", periods=4, freq="h", tz="UTC"))
    assert hours.tolist() == [True, True, False, False]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "x,aws,reserved_instance,us-east-1,p5.48xlarge,standard,36,all_upfront,two,,2026-01-15,",
            "row 2, column 'quantity': not a number (got 'two')",
        ),
        (
            "x,aws,reserved_instance,us-east-1,p5.48xlarge,standard,36,all_upfront,,,2026-01-15,",
            "row 2, column 'quantity': a reserved_instance needs a quantity",
        ),
        (
            "x,aws,compute_savings_plan,,,,12,no_upfront,,,2026-01-15,",
            "row 2, column 'hourly_commitment_usd': a Savings Plan needs its hourly commitment",
        ),
        (
            "x,aws,reserved_instance,us-east-1,p5.48xlarge,standrd,36,all_upfront,2,,2026-01-15,",
            "row 2, column 'offering_class': unknown offering class 'standrd'\nTo fix: did you mean 'standard'?",
        ),
        (
            "x,aws,reserved,us-east-1,p5.48xlarge,standard,36,all_upfront,2,,2026-01-15,",
            "row 2, column 'purchase_model': unknown purchase model 'reserved'",
        ),
        (
            "x,aws,reserved_instance,us-east-1,p5.48xlarge,standard,0,all_upfront,2,,2026-01-15,",
            "row 2, column 'term_months': term must be a whole number of months from 1 to 120 (got '0')",
        ),
        (  # a term past the calendar (hypothesis found the overflow it caused)
            "x,aws,reserved_instance,us-east-1,p5.48xlarge,standard,99999999,all_upfront,2,,2026-01-15,",
            "row 2, column 'term_months': term must be a whole number of months from 1 to 120 "
            "(got '99999999')",
        ),
        (
            "x,aws,reserved_instance,us-east-1,p5.48xlarge,standard,36,all_upfront,2,,15/01/2026x,",
            "row 2, column 'start_date': not an ISO date (got '15/01/2026x')",
        ),
        (
            "x,aws,reserved_instance,us-east-1,p5.48xlarge,standard,36,all_upfront,2,,2026-01-15,2025-01-01",
            "row 2, column 'end_date': end_date is not after start_date (got '2025-01-01')",
        ),
        (
            "x,azure,reserved_instance,us-east-1,p5.48xlarge,standard,36,all_upfront,2,,2026-01-15,",
            "row 2, column 'provider': unknown provider 'azure'",
        ),
    ],
)
def test_bad_rows_name_file_row_and_column(tmp_path: Path, row: str, message: str) -> None:
    f = tmp_path / "inv.csv"
    f.write_text(HEADER + "\n" + row + "\n")
    with pytest.raises(PlannerInputError) as e:
        read_inventory(f)
    assert str(e.value).startswith(f"{f}, {message}")


def test_unknown_column_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "inv.csv"
    f.write_text(HEADER.replace("quantity", "qty") + "\n")
    with pytest.raises(UnknownNameError, match="unknown inventory column 'qty'"):
        read_inventory(f)
    with pytest.raises(PlannerInputError, match="file not found"):
        read_inventory(tmp_path / "none.csv")


def test_duplicate_ids_and_empty_files_are_named(tmp_path: Path) -> None:
    f = tmp_path / "inv.csv"
    row = "x,aws,reserved_instance,us-east-1,p5.48xlarge,standard,36,all_upfront,2,,2026-01-15,"
    f.write_text(HEADER + "\n" + row + "\n" + row + "\n")
    with pytest.raises(
        PlannerInputError,
        match=r"row 3, column 'commitment_id': duplicate commitment_id \(first on row 2\)",
    ):
        read_inventory(f)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(PlannerInputError, match="the inventory file is empty"):
        read_inventory(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text(HEADER + "\n")
    assert read_inventory(header_only) == []
