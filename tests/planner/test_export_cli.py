"""``planner export`` through the CLI: ``-o/--output`` names the format as on ``plan`` and
``optimize``, ``--out`` names the file, and every way of asking for something it cannot do is a
usage error (exit 2) that names the option and leaves nothing written."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from planner.cli import cli
from planner.plan import PURCHASE_COLUMNS
from planner.purchase_values import forecast_window_paths, value_purchases
from tests.planner.planner_factory import constant_scenarios
from tests.planner.test_purchase_values import CATALOG, POLICY, plan_of, ri


@pytest.fixture
def plan_json(tmp_path: Path) -> Path:
    """A valued plan: P001 (8 RIs, firm) and P002 (1 RI, ladder), demand 10 GPUs every hour."""
    paths = forecast_window_paths(constant_scenarios([10.0]))
    plan = value_purchases(
        plan_of(ri("P001", 8), ri("P002", 1, firm=False)), paths, CATALOG, [], POLICY
    )
    src = tmp_path / "plan.json"
    src.write_text(plan.to_json())
    return src


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def usage_error(r: Result, *fragments: str) -> None:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    for f in fragments:
        assert f in r.output, (f, r.output)


def test_o_names_the_format_on_stdout_as_on_plan(plan_json: Path) -> None:
    csv = run("export", plan_json)  # the default: CSV, the procurement file
    assert csv.exit_code == 0, csv.output
    rows = pd.read_csv(io.StringIO(csv.stdout))
    assert list(rows.columns) == list(PURCHASE_COLUMNS)
    assert list(rows["purchase_id"]) == ["P001", "P002"]
    assert run("export", plan_json, "-o", "csv").stdout == csv.stdout
    assert run("export", plan_json, "--output", "csv").stdout == csv.stdout
    js = run("export", plan_json, "-o", "json", "--firm-only")
    assert js.exit_code == 0, js.output
    assert [x["purchase_id"] for x in json.loads(js.stdout)] == ["P001"]
    table = run("export", plan_json, "-o", "table")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["purchase_id", "decision", "provider"]
    assert [line.split()[0] for line in lines[2:]] == ["P001", "P002"]
    # the money columns read with thousands separators, as on every other table
    assert f"{rows.loc[0, 'term_obligation_usd']:,.2f}" in lines[2]


def test_o_and_out_write_the_file_and_the_extension_picks_the_format(
    plan_json: Path, tmp_path: Path
) -> None:
    r = run("export", plan_json, "--out", tmp_path / "p.json")
    assert r.exit_code == 0, r.output
    assert "(2 purchases, json)" in r.stderr and r.stdout == ""
    assert [x["decision"] for x in json.loads((tmp_path / "p.json").read_text())] == [
        "now",
        "ladder",
    ]
    r = run("export", plan_json, "-o", "xlsx", "--out", tmp_path / "p.xlsx", "--firm-only")
    assert r.exit_code == 0, r.output
    from openpyxl import load_workbook

    sheet = load_workbook(tmp_path / "p.xlsx")["purchases"]
    assert [row[0] for row in sheet.iter_rows(values_only=True)] == ["purchase_id", "P001"]
    # an extension the format does not claim is the user's choice: -o decides
    r = run("export", plan_json, "-o", "table", "--out", tmp_path / "p.txt")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "p.txt").read_text().startswith("purchase_id")
    r = run("export", plan_json, "--out", tmp_path / "p.dat")  # no -o, unknown extension: CSV
    assert r.exit_code == 0 and (tmp_path / "p.dat").read_text().startswith("purchase_id,")
    r = run("export", plan_json, "--out", "-", "-o", "json")  # '-' is stdout
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["purchase_id"] == "P001"


def test_unknown_format_is_a_usage_error(plan_json: Path) -> None:
    r = run("export", plan_json, "-o", "pdf")
    usage_error(r, "'pdf' is not one of", "table", "xlsx")


def test_xlsx_to_the_terminal_is_refused(plan_json: Path) -> None:
    usage_error(run("export", plan_json, "-o", "xlsx"), "cannot go to the terminal", "--out")


def test_a_format_that_contradicts_the_file_name_is_refused(
    plan_json: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.csv"
    usage_error(
        run("export", plan_json, "-o", "json", "--out", out), ".csv file but -o asks for json"
    )
    assert not out.exists()


def test_unusable_output_paths_are_refused_before_writing(plan_json: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    usage_error(run("export", plan_json, "--out", blocker / "p.csv"), "is a file, not a folder")
    usage_error(run("export", plan_json, "--out", tmp_path), "--out")  # a folder
    usage_error(
        run("export", plan_json, "--out", tmp_path / "ok.csv", "--json", blocker / "p.json"),
        "--json",
    )
    assert not (tmp_path / "ok.csv").exists()  # nothing written when one output is unusable
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            usage_error(
                run("export", plan_json, "--out", locked / "p.csv"),
                "cannot write to the output folder",
            )
        finally:
            locked.chmod(0o700)


def test_out_and_json_on_one_file_is_refused(plan_json: Path, tmp_path: Path) -> None:
    same = tmp_path / "x.json"
    usage_error(
        run("export", plan_json, "--out", same, "--json", same), "--out and --json name the same"
    )
    assert not same.exists()
    usage_error(run("export", plan_json, "--json", plan_json), "name the same file")
    assert plan_json.read_text().startswith("{")  # the plan is not overwritten


def test_out_and_json_both_written(plan_json: Path, tmp_path: Path) -> None:
    r = run("export", plan_json, "--out", tmp_path / "p.csv", "--json", tmp_path / "p.json")
    assert r.exit_code == 0, r.output
    csv = pd.read_csv(tmp_path / "p.csv")
    js = json.loads((tmp_path / "p.json").read_text())
    assert list(csv["purchase_id"]) == [x["purchase_id"] for x in js] == ["P001", "P002"]
