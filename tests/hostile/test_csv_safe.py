"""Spreadsheet formula injection: every CSV the planner writes neutralises formula-leading text
cells (OWASP: prefix ``'``), while numbers, negative ones included, stay numbers."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from pricing_data.csv_safe import FORMULA_LEAD, neutralise, printable, to_csv_text
from tests.hostile.conftest import ROOT, USAGE, run

ATTACKS = ['=HYPERLINK("http://x","y")', "+1+1", "-1+cmd|' /C calc'!A0", "@SUM(A1)", "\tx", "\r="]


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def assert_no_formula_cells(text: str) -> None:
    for row in cells(text):
        for c in row:
            if c.startswith(FORMULA_LEAD):
                # a plain number (e.g. -3.5) is data, not a formula
                assert re.fullmatch(r"[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|inf|nan)", c), c


def test_neutralise_text_but_not_numbers() -> None:
    for a in ATTACKS:
        assert neutralise(a) == "'" + a
    for keep in ("-3.5", "+2", "-1e3", "abc", "", "p5.48xlarge", "a=b"):
        assert neutralise(keep) == keep
    assert neutralise(-3.5) == -3.5 and neutralise(None) is None


def test_to_csv_text_keeps_numeric_columns_and_neutralises_text() -> None:
    df = pd.DataFrame({"sku": ATTACKS, "usd": [-3.5, 1.0, -0.25, 0.0, 2.0, -1.0]})
    back = pd.read_csv(io.StringIO(to_csv_text(df)), dtype=str, keep_default_na=False)
    assert back["sku"].tolist() == ["'" + a.replace("\r", "\n") for a in ATTACKS]
    assert back["usd"].tolist() == ["-3.5", "1.0", "-0.25", "0.0", "2.0", "-1.0"]


def test_header_cells_are_neutralised_too() -> None:
    assert to_csv_text(pd.DataFrame({"=x": [1]})).splitlines()[0] == "'=x"


@given(
    st.lists(st.text(max_size=12), min_size=1, max_size=8),
    st.lists(st.floats(allow_nan=False), min_size=1, max_size=8),
)
def test_no_written_text_cell_is_a_formula(texts: list[str], numbers: list[float]) -> None:
    n = min(len(texts), len(numbers))
    df = pd.DataFrame({"t": texts[:n], "x": numbers[:n]})
    text = to_csv_text(df)
    assert_no_formula_cells(text)
    rows = cells(text)
    assert len(rows) == n + 1  # no cell split a row
    assert [float(r[1]) for r in rows[1:]] == numbers[:n]  # numbers survive unchanged


def test_printable_strips_terminal_escapes() -> None:
    assert printable("team\x1b[2J\x1b[31mred\x07\x1b]0;title\x07") == "teamred"
    assert printable("a\tb") == "a\tb"


# ---- each writer ----------------------------------------------------------------------------


def test_every_product_csv_writer_goes_through_to_csv_text() -> None:
    # the one exception: catalog files (package data read back by the planner itself; their
    # cells come from the AWS price API, and a quote would break the catalog's own keys)
    allowed = {"pricing_data/csv_safe.py", "pricing_data/aws/refresh.py"}
    offenders = []
    for pkg in ("planner", "forecasting", "pricing_data"):
        for f in (ROOT / pkg).rglob("*.py"):
            rel = str(f.relative_to(ROOT))
            if rel not in allowed and ".to_csv(" in f.read_text():
                offenders.append(rel)
    assert offenders == []


def test_export_neutralises_hand_edited_cells(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    r = run("plan", USAGE, "--scenarios", "2", "--horizon", "1mo", "--out-dir", out, "--no-report")
    assert r.exit_code == 0, r.output
    assert_no_formula_cells((out / "purchases.csv").read_text())
    assert_no_formula_cells((out / "comparison.csv").read_text())
    doc = json.loads((out / "plan.json").read_text())
    doc["purchases"][0]["commitment"]["sku"] = '=HYPERLINK("http://evil")'
    doc["purchases"][0]["commitment"]["region"] = "@SUM(A1)"
    bad = tmp_path / "edited.json"
    bad.write_text(json.dumps(doc))
    r = run("export", bad, "--out", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    text = (tmp_path / "p.csv").read_text()
    assert "'=HYPERLINK" in text and "'@SUM(A1)" in text
    assert_no_formula_cells(text)
    r = run("export", bad)  # to stdout
    assert "'=HYPERLINK" in r.output


def test_prices_csv_neutralises_overlay_skus(tmp_path: Path) -> None:
    f = tmp_path / "o.csv"
    f.write_text(
        "provider,region,sku,purchase_model,term_months,usd_per_gpu_hour,gpu_type,gpus_per_unit\n"
        "lambda,global,=cmd|'/C calc'!A0,on_demand,0,2.5,H100,8\n"
    )
    r = run("prices", "--overlay", f, "--provider", "lambda", "-o", "csv")
    assert r.exit_code == 0, r.output
    assert "'=cmd" in r.output
    assert_no_formula_cells(r.output)


def test_attribute_csv_neutralises_tag_values(tmp_path: Path) -> None:
    usage = tmp_path / "usage.csv"
    df = pd.read_csv(USAGE, dtype=str, keep_default_na=False)
    df["team"] = df["team"].replace({"llm-platform": '=HYPERLINK("x")'})
    df.to_csv(usage, index=False)
    out = tmp_path / "plan"
    r = run("plan", usage, "--scenarios", "2", "--horizon", "1mo", "--out-dir", out, "--no-report")
    assert r.exit_code == 0, r.output
    r = run("attribute", usage, "--plan", out / "plan.json", "--out", tmp_path / "a.csv")
    assert r.exit_code == 0, r.output
    text = (tmp_path / "a.csv").read_text()
    assert "'=HYPERLINK" in text
    assert_no_formula_cells(text)


def test_tag_values_with_terminal_escapes_are_printed_clean(tmp_path: Path) -> None:
    f = tmp_path / "u.csv"
    rows = pd.date_range("2025-01-01", periods=48, freq="h", tz="UTC")
    f.write_text(
        "timestamp,gpu_type,gpus,team\n"
        + "".join(f"{t.isoformat()},H100,8,evil\x1b[2J\x1b[31m\n" for t in rows)
    )
    r = run("usage", f)
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.output and "evil" in r.output
