"""``planner optimize`` through click's CliRunner: outputs, and the error paths' exit codes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner
from planner_factory import START

from forecasting.scenarios import DemandScenarios, Pool
from planner.cli import cli
from planner.optimize.scenarios_file import read_scenarios, write_scenarios
from planner.plan import PURCHASE_COLUMNS, Plan


def _scenarios(path, levels=(40.0, 60.0, 80.0)) -> None:
    n_h = 24 * 62
    d = np.stack([np.full((n_h, 1), lv) for lv in levels])
    sc = DemandScenarios(START, (Pool("H100"),), d, np.full(len(levels), 1 / len(levels)), seed=5)
    write_scenarios(path, sc)


def test_scenarios_file_round_trip(tmp_path) -> None:
    _scenarios(tmp_path / "s.npz")
    sc = read_scenarios(tmp_path / "s.npz")
    assert sc.pools == (Pool("H100"),) and sc.seed == 5 and sc.start == START
    assert sc.demand_gpus.shape == (3, 24 * 62, 1)


def test_optimize_writes_purchases_plan_and_summary(tmp_path) -> None:
    _scenarios(tmp_path / "s.npz")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        [
            "optimize",
            "--scenarios-file",
            str(tmp_path / "s.npz"),
            "--horizon",
            "2mo",
            "--ladder-every-months",
            "1",
            "--out-dir",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "purchases.csv")
    assert tuple(df.columns) == PURCHASE_COLUMNS
    assert len(df) > 0 and (df["provider"] == "aws").all()
    plan = Plan.from_json((out / "plan.json").read_text())
    assert plan.purchases_frame().shape[0] == len(df)
    assert json.loads((out / "plan.json").read_text())["record"]["seed"] == 5
    assert "effective savings rate %" in res.output and "purchases.csv" in res.output


def test_missing_scenarios_file_is_a_usage_error(tmp_path) -> None:
    res = CliRunner().invoke(cli, ["optimize", "--scenarios-file", str(tmp_path / "nope.npz")])
    assert res.exit_code == 2
    assert "file not found" in res.output and "Traceback" not in res.output


def test_neither_input_is_a_usage_error() -> None:
    res = CliRunner().invoke(cli, ["optimize"])
    assert res.exit_code == 2 and "exactly one of --scenarios-file and --usage" in res.output


def test_infeasible_bound_exits_1_with_the_fix(tmp_path) -> None:
    _scenarios(tmp_path / "s.npz", levels=(1.0, 50.0, 80.0))
    inv = tmp_path / "inv.csv"
    inv.write_text(
        "provider,purchase_model,region,sku,offering_class,term_months,payment_option,quantity,"
        "start_date\naws,reserved_instance,us-east-1,p5.4xlarge,standard,36,no_upfront,60,"
        "2026-01-01\n"
    )
    res = CliRunner().invoke(
        cli,
        [
            "optimize",
            "--scenarios-file",
            str(tmp_path / "s.npz"),
            "--inventory",
            str(inv),
            "--horizon",
            "2mo",
            "--min-utilization",
            "0.9",
            "--out-dir",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 1, res.output
    assert "min_utilization" in res.output and "To fix:" in res.output
    assert not (tmp_path / "o" / "purchases.csv").exists()


def test_bad_policy_value_exits_2(tmp_path) -> None:
    _scenarios(tmp_path / "s.npz")
    res = CliRunner().invoke(
        cli, ["optimize", "--scenarios-file", str(tmp_path / "s.npz"), "--min-utilization", "1.5"]
    )
    assert res.exit_code == 2 and "min_utilization" in res.output
