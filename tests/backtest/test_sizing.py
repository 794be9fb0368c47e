"""The sizing-rule record scores a pool's rules on the whole estate, with shared commitments used
by the pools that use them (planner/backtest/sizing.py ``rule_costs``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bt_factory import H100, compute_sp, offers

from forecasting.forecast import Forecast
from forecasting.growth import Growth
from forecasting.scenarios import DemandScenarios, Pool
from planner.backtest.sizing import ScoringWindow, rule_costs, rule_variants, score_windows
from planner.policy import Policy

A100 = Pool("A100")
START = pd.Timestamp("2026-01-05", tz="UTC")
WEEK_H = 168

POLICY = Policy(
    providers=("aws",),
    purchase_models=("reserved_instance",),
    terms_months=(12,),
    payment_options=("no_upfront",),
    integer=False,
    horizon_months=1,
    ladder_every_months=0,
    savings_curve_points=0,
    time_reduction="hourly",
).validate()


def _forecast(point: np.ndarray) -> Forecast:
    """A one-path forecast of ``point`` (hours × pools) from the origin (the rules here read the
    history, not the forecast, except ``lp-point``)."""
    scen = DemandScenarios(
        start=START + pd.Timedelta(hours=21 * 24),
        pools=(H100, A100),
        demand_gpus=point[None, :, :].copy(),
        probabilities=np.ones(1),
    )
    return Forecast(scen, pd.DataFrame(), {}, pd.DataFrame(), Growth(), point_gpus=point)


def test_a_shared_savings_plan_is_not_free_capacity_for_each_pool_alone() -> None:
    # Pools H100 and A100, 21 days of history: H100 ran 2 GPUs for 14 days, then 4 for 7; A100 ran
    # 8 throughout. The week that follows: H100 4, A100 8. Held: a Compute Savings Plan of 28 USD/h,
    # which the evaluator spends where it saves most per dollar: A100 (5 → 3.5, 30 %) before H100
    # (10 → 8, 20 %); 28 / 3.5 = 8 A100 GPUs use all of it. So the H100 pool's own purchases must
    # serve its 4 GPUs: trailing-7 repeats the last 7 days (4 GPUs) and buys about 4 RIs (6 USD/h
    # against 10 on demand); trailing-60 repeats the first 7 days of its lookback (2 GPUs) and buys
    # about 2, leaving 2 GPUs on demand: 2 · (10 − 6) = 8 USD/h more, 1,344 USD over the week (the
    # test asks for half of it: the whole-term LP sizes a little above or below the input level).
    # Scored alone with the whole Savings Plan (28 / 8 = 3.5 H100 GPUs of free capacity), as the
    # record did before, the two rules came within 1 % of each other (32.76 vs 33.0 USD/h).
    hist = np.column_stack(
        [np.r_[np.full(14 * 24, 2.0), np.full(7 * 24, 4.0)], np.full(21 * 24, 8.0)]
    )
    actual = np.column_stack([np.full(WEEK_H, 4.0), np.full(WEEK_H, 8.0)])
    ts = pd.date_range(START + pd.Timedelta(hours=21 * 24), periods=WEEK_H, freq="h")
    sp = compute_sp("held-csp", 28.0, START - pd.Timedelta(days=30), START + pd.Timedelta(days=335))
    costs = rule_costs(
        _forecast(actual.copy()),
        hist,
        actual,
        ts,
        offers(),
        [sp],
        POLICY,
        rules=("trailing-7", "trailing-60"),
    )
    h100 = costs[H100.name]
    week_sp_usd = 28.0 * WEEK_H
    assert h100["trailing-7"] > week_sp_usd  # the estate's bill: the Savings Plan is in it
    assert h100["trailing-60"] - h100["trailing-7"] > 0.5 * 8.0 * WEEK_H
    # A100's rules see the same 8 GPUs (history and week): they buy alike and tie
    assert costs[A100.name]["trailing-7"] == costs[A100.name]["trailing-60"]


def test_the_scores_do_not_depend_on_the_number_of_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    # two windows x two pools: four tasks, enough for worker processes; each task solves its own
    # variants with its own session, so serial and parallel scores are equal to the bit
    hist = np.column_stack([np.r_[np.full(14 * 24, 2.0), np.full(7 * 24, 4.0)], np.full(504, 8.0)])
    actual = np.column_stack([np.full(WEEK_H, 3.0), np.full(WEEK_H, 9.0)])
    ts = pd.date_range(START + pd.Timedelta(hours=21 * 24), periods=WEEK_H, freq="h")
    sp = compute_sp("held-csp", 20.0, START - pd.Timedelta(days=30), START + pd.Timedelta(days=335))
    windows = [
        ScoringWindow(_forecast(actual.copy()), hist, actual, ts, (sp,)),
        ScoringWindow(_forecast(1.5 * actual), hist, 0.5 * actual, ts, ()),
    ]
    rules = ("lp-point", "trailing-7", "trailing-60")
    monkeypatch.setenv("PLANNER_WORKERS", "1")
    serial = score_windows(windows, offers(), POLICY, rules)
    monkeypatch.setenv("PLANNER_WORKERS", "2")
    parallel = score_windows(windows, offers(), POLICY, rules)
    assert parallel == serial
    assert set(serial[0]) == {H100.name, A100.name}
    assert all(set(by_rule) == set(rules) for w in serial for by_rule in w.values())
    # the all-baseline variant is solved once and shared: the pools' lp-point bills are equal
    assert serial[1][H100.name]["lp-point"] == serial[1][A100.name]["lp-point"]


def test_every_assignment_is_scored_once() -> None:
    by_pool = rule_variants(3, ("lp-point", "trailing-7"))
    flat = [v for mine in by_pool for v in mine]
    assert len(flat) == len(set(flat)) == 1 + 3  # the shared baseline, then one per pool
    assert by_pool[0] == [("lp-point",) * 3, ("trailing-7", "lp-point", "lp-point")]
    assert by_pool[2] == [("lp-point", "lp-point", "trailing-7")]


def test_the_sizing_table_reads_rms_records_and_older_mean_records() -> None:
    from planner.backtest.sizing import sizing_frame

    rms = {
        "sizing": {
            "rules": {"H100": "lp-point"},
            "rms_regret_pct_by_rule": {"H100": {"lp-point": 1.234, "trailing-7": 5.0}},
        }
    }
    t = sizing_frame(rms)
    assert list(t["rule"]) == ["lp-point"]
    assert t.loc[0, "lp-point RMS regret %"] == 1.23 and t.loc[0, "trailing-7 RMS regret %"] == 5.0
    assert t.loc[0, "lp-calibrated RMS regret %"] is None  # not scored
    # a plan.json written before the RMS choice holds mean regrets: labelled as such
    old = {
        "sizing": {
            "rules": {"H100": "trailing-7"},
            "mean_regret_pct_by_rule": {"H100": {"trailing-7": 0.5}},
        }
    }
    assert sizing_frame(old).loc[0, "trailing-7 mean regret %"] == 0.5
    assert sizing_frame({}).empty
