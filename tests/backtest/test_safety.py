"""The price of safety: each bound's cost by the evaluator, and the perfect-forecast flag."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bt_factory import H100, offers

from forecasting.scenarios import DemandScenarios
from planner.backtest.safety import _hindsight_breaks, price_of_safety, safety_frame
from planner.optimize import optimize
from planner.policy import Policy

POLICY = Policy(
    providers=("aws",),
    purchase_models=("reserved_instance",),
    terms_months=(12,),
    payment_options=("no_upfront",),
    integer=False,
    min_utilization=0.8,
    min_utilization_tail=0.1,
    horizon_months=1,
    ladder_every_months=0,
    savings_curve_points=0,
    time_reduction="hourly",
).validate()


def _scenarios() -> DemandScenarios:
    # 10 GPUs with probability 0.8, 5 GPUs with 0.2, for 48 hours. The RI (6 against 10 USD/h on
    # demand) is worth buying up to 10 GPUs in expectation (0.8·10 > 6), but 80 % utilisation in
    # the 5-GPU scenario caps it at 5/0.8 = 6.25: the bound binds.
    d = np.stack([np.full((48, 1), 10.0), np.full((48, 1), 5.0)])
    return DemandScenarios(
        start=pd.Timestamp("2026-01-05", tz="UTC"),
        pools=(H100,),
        demand_gpus=d,
        probabilities=np.array([0.8, 0.2]),
    )


def test_a_binding_bound_has_a_positive_price() -> None:
    sc = _scenarios()
    plan = optimize(sc, offers(), [], POLICY)
    rows = price_of_safety(sc, offers(), [], POLICY, plan)
    assert [r["bound"] for r in rows] == ["min_utilization"]
    r = rows[0]
    assert r["binding"] and r["price_usd"] > 0
    assert r["cost_without_usd"] < r["cost_with_usd"]
    assert r["perfect_forecast_breaks_it"] is None  # no hindsight windows given
    frame = safety_frame({"price_of_safety": rows})
    assert frame.loc[0, "perfect_forecast_breaks_it"] == "not checked"


def test_no_bound_no_rows() -> None:
    from dataclasses import replace

    free = replace(POLICY, min_utilization=None)
    sc = _scenarios()
    assert price_of_safety(sc, offers(), [], free, optimize(sc, offers(), [], free)) == []


def test_hindsight_flag() -> None:
    windows = [
        {"utilization_pct": 92.0, "unused_pct": 8.0},
        {"utilization_pct": 67.0, "unused_pct": 33.0},
    ]
    assert _hindsight_breaks("min_utilization", POLICY, windows) is True
    assert _hindsight_breaks("min_utilization", POLICY, windows[:1]) is False
    from dataclasses import replace

    cvar = replace(POLICY, min_utilization=None, cvar_limit_pct=20.0)
    assert _hindsight_breaks("cvar_unused", cvar, windows) is True
    assert _hindsight_breaks("cvar_unused", cvar, []) is None


def test_the_same_rows_whatever_the_number_of_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    # two bounds: their LPs run in two worker processes, or one after the other with one
    from dataclasses import replace

    sc = _scenarios()
    policy = replace(POLICY, cvar_limit_pct=30.0).validate()
    plan = optimize(sc, offers(), [], policy)
    by_workers = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("PLANNER_WORKERS", workers)
        by_workers[workers] = price_of_safety(sc, offers(), [], policy, plan)
    assert [r["bound"] for r in by_workers["1"]] == ["min_utilization", "cvar_unused"]
    assert by_workers["1"] == by_workers["2"]
