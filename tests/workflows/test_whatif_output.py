"""What ``planner whatif`` prints reads like the plan's summary: words for headers, counts as
integers, dollars with separators, percentages with %, no Python reprs, at most 100 columns."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.report.whatif import WIDTH, whatif_tables
from planner.workflows.whatif import KIND_COLUMNS
from tests.workflows.test_example_e2e import assert_no_reprs

POLICY = """[planning]
horizon_months = 1
ladder_every_months = 0
scenarios = 3
seed = 2
[offers]
providers = ["aws"]
terms_months = [12]
payment_options = ["no_upfront"]
[solver]
savings_curve_points = 0
"""

WHATIFS = """[grow-40]
set = ["growth=+40%"]

[tight-risk]
set = ["risk.cvar_limit=5%"]

[more-spot-and-a-much-longer-name]
set = ["spot.cap_share=0.3"]
"""

SNAKE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")
FIXED_DECIMALS = re.compile(r"(?<![\d.,$])\d+\.00(?![\d%])")  # 6.00, not $1.00/h or 4.00%


def write_small(tmp_path: Path) -> tuple[Path, Path]:
    """Five weeks of hourly H100 usage with a daily cycle, and a one-month AWS-only policy."""
    ts = pd.date_range("2026-09-01", periods=24 * 35, freq="h", tz="UTC")
    rng = np.random.default_rng(3)
    gpus = 16 + 6 * np.sin(2 * np.pi * np.asarray(ts.hour) / 24) + rng.normal(0, 1, len(ts))
    usage = tmp_path / "usage.csv"
    pd.DataFrame(
        {
            "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "gpu_type": "H100",
            "gpus": np.clip(gpus, 0, None).round(3),
            "provider": "aws",
            "region": "us-east-1",
        }
    ).to_csv(usage, index=False)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    return usage, policy


def case(name: str, k: int) -> dict[str, object]:
    """A row of WhatIfRun.frame() with plausible, distinct figures."""
    row: dict[str, object] = {
        "what_if": name,
        "changes": name,
        "cash_cost_usd": 14_241_106.55 + k,
        "npv_cost_usd": 12_556_551.0 + k,
        "all_on_demand_cash_usd": 21_250_621.01,
        "cash_savings_vs_on_demand_usd": 7_009_514.47 - k,
        "npv_savings_vs_on_demand_usd": 5_890_378.0 - k,
        "accrual_cost_usd": 14_100_000.0,
        "annual_accrual_cost_usd": 3_796_934.91,
        "esr_pct": 33.23,
        "coverage_pct": 75.09,
        "utilization_pct": 94.61,
        "tail_utilization_pct": 87.96,
        "tail_share_pct": 10.0,
        "waste_usd": 431_121.53,
        "worst_scenario_cash_usd": 20_589_168.63,
        "purchases_now": 6,
        "upfront_now_usd": 1_537_581.48,
    }
    row.update({col: 0.0 for _, col, _ in KIND_COLUMNS})
    row["now_ec2_instance_sp_usd_per_hour"] = 57.14
    row["now_contract_gpus"] = 13.0
    return row


def test_many_long_what_ifs_are_split_into_tables_that_fit_100_columns() -> None:
    names = [
        "baseline",
        "growth=+40% + exclude=coreweave + risk.cvar_limit=5%",
        "exclude=lambda",
        "risk.cvar_limit_pct=5",
        "spot.cap_share=0.3",
        "a-what-if-name-without-spaces-longer-than-a-column",
        "growth=-20%",
    ]
    frame = pd.DataFrame([case(n, k) for k, n in enumerate(names)])
    frame["purchases_now"] = frame["purchases_now"].astype("Int64")
    text = whatif_tables(frame)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    tables = text.split("\n\n")
    assert len(tables) >= 2  # seven columns of ~12 characters beside the labels do not fit
    for t in tables:  # every table repeats the figure names and the baseline
        assert "Figure" in t and "baseline" in t and "Purchases now" in t
    # every case's cost appears once (the baseline's once per table)
    for k in range(1, len(names)):
        assert text.count(f"${14_241_106.55 + k:,.0f}") == 1
    # the kinds nobody buys are left out; counts are integers, dollars have separators
    assert "Reserved Instances" not in text and "Compute Savings Plans" not in text
    assert re.search(r"^Purchases now( +6)+$", text, re.M)
    assert re.search(r"^Reserved contracts now \(GPUs\)( +13)+$", text, re.M)
    assert "$57.14/h" in text and "$1,537,581" in text and "33.2%" in text


@pytest.mark.slow
def test_whatif_stdout_reads_like_the_plans(tmp_path: Path) -> None:
    usage, policy = write_small(tmp_path)
    whatifs = tmp_path / "whatifs.toml"
    whatifs.write_text(WHATIFS)
    r = CliRunner().invoke(
        cli,
        ["whatif", str(usage), "--policy", str(policy), "--what-if-file", str(whatifs), "-q"],
    )
    assert r.exit_code == 0, r.output
    out = r.stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= WIDTH, out
    assert_no_reprs(out, "whatif")
    assert not FIXED_DECIMALS.search(out), out
    # snake_case only where the user wrote it: the legend naming each what-if's changes
    legend = ("grow-40:", "tight-risk:", "more-spot-and-a-much-longer-name:")
    for line in lines:
        if not line.startswith(legend):
            assert not SNAKE.search(line), line
    assert any(line.startswith("tight-risk: risk.cvar_limit=5%") for line in lines)
    # counts as integers, dollars with $ and separators, percentages with %
    assert re.search(r"^Purchases now( +\d+)+$", out, re.M), out
    assert re.search(r"^Cash cost( +\$\d{1,3}(,\d{3})+)+$", out, re.M), out
    assert re.search(r"^Coverage( +\d+\.\d%)+$", out, re.M), out
    assert "3 what-ifs, each re-planned" in out


@pytest.mark.slow
def test_whatif_json_is_one_record_per_case_with_integer_counts(tmp_path: Path) -> None:
    import json

    usage, policy = write_small(tmp_path)
    r = CliRunner().invoke(
        cli,
        [
            "whatif",
            str(usage),
            "--policy",
            str(policy),
            "--what-if",
            "growth=+40%",
            "--evaluate-only",
            "-o",
            "json",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [row["what_if"] for row in rows] == ["baseline", "growth=+40%"]
    # evaluate-only: the what-if bills the baseline's purchases, so it shows them too
    assert isinstance(rows[0]["purchases_now"], int)
    assert rows[1]["purchases_now"] == rows[0]["purchases_now"]
    assert rows[1]["all_on_demand_cash_usd"] > rows[0]["all_on_demand_cash_usd"]


class FakeRun:
    """What whatif_text reads of a WhatIfRun."""

    def __init__(self, frame: pd.DataFrame, evaluate_only: bool) -> None:
        self._frame = frame
        self.results = list(range(len(frame) - 1))
        self.evaluate_only = evaluate_only
        self.forecasts_fitted = 1
        self.notes = ["growth=X% is annual compound growth " * 4]

    def frame(self) -> pd.DataFrame:
        return self._frame


def test_the_words_under_the_table_name_each_what_ifs_changes_once() -> None:
    from planner.report.whatif import whatif_text

    rows = [case("baseline", 0), case("a + b", 1), case("leave-cw", 2)]
    rows[0]["changes"] = ""
    rows[1]["changes"] = "a; b"  # a --combine what-if: its name already says its changes
    rows[2]["changes"] = "exclude=coreweave; risk.cvar_limit=5%"  # a named one: said below
    text = whatif_text(FakeRun(pd.DataFrame(rows), evaluate_only=True), 8)
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert "2 what-ifs, the baseline's purchases billed again under each." in " ".join(text.split())
    assert "leave-cw: exclude=coreweave; risk.cvar_limit=5%" in text
    assert "a + b: " not in text
    assert "Purchases are the baseline's in every column." in " ".join(text.split())
    one = whatif_text(FakeRun(pd.DataFrame(rows[:2]), evaluate_only=False), 8)
    assert "1 what-if, re-planned." in one
