"""The term-mapped backtest LP (hand-derived optima), the sequential backtest, replay given held
coverage, and the sizing-rule record."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from bt_factory import H100, offers, pooled, weekly

from planner.backtest.replay import replay_recommendation
from planner.backtest.sequential import SequentialSettings, run_sequential
from planner.backtest.sizing import RuleRecord, combine, rule_demand
from planner.backtest.term_lp import (
    cost_table,
    duration_slices,
    hourly_slices,
    parse_term_scale,
    solve_term_lp,
    term_hours,
)
from planner.policy import Policy
from pricing_data.errors import PlannerInputError

# only the 12-month standard RI (6 USD/GPU-h against 10 on demand: break-even at 60 % use)
RI_ONLY = Policy(
    providers=("aws",),
    purchase_models=("reserved_instance",),
    terms_months=(12,),
    payment_options=("no_upfront",),
    integer=False,
    savings_curve_points=0,
).validate()


def test_term_scale_parsing() -> None:
    assert parse_term_scale(None) == {12: 28 * 24, 36: 84 * 24}
    assert parse_term_scale("1y=2w,3y=42d") == {12: 14 * 24, 36: 42 * 24}
    assert parse_term_scale("none") is None
    assert term_hours(36, {12: 24}) == 72  # unmapped terms scale like the shortest mapped one
    for bad in ("1y", "1y=xd", "1y=0d"):
        with pytest.raises(PlannerInputError):
            parse_term_scale(bad)


def test_hindsight_buys_again_when_the_mapped_term_expires() -> None:
    # 10 GPUs for 48 h, decisions at h 0 and 24, the 12-month RI mapped to 24 h. Each unit saves
    # 10 − 6 = 4 USD per hour it covers, so the optimum buys 10 units at h 0 and again at h 24
    # (the first ten have expired): cost 48 · 10 · 6 = 2,880 USD.
    table = cost_table(offers(), (H100,), RI_ONLY)
    res = solve_term_lp(
        table, hourly_slices(np.full((48, 1), 10.0)), decision_hours=[0, 24], term_scale={12: 24}
    )
    assert sorted(round(v, 6) for v in res.buy.values()) == [10.0, 10.0]
    assert res.objective_usd == pytest.approx(2880.0)


def test_held_units_are_not_bought_again() -> None:
    # 10 GPUs held until h 24, 10 GPUs demanded for 48 h, one decision at h 0 with a 48-h term.
    # A new unit costs 6 · 48 = 288 USD and saves 10 USD only in the 24 h the held units do not
    # cover (240 USD): nothing is bought.
    table = cost_table(offers(), (H100,), RI_ONLY)
    res = solve_term_lp(
        table,
        hourly_slices(np.full((48, 1), 10.0)),
        decision_hours=[0],
        term_scale={12: 48},
        held=[(0, 10.0, -24, 24)],
    )
    assert sum(res.buy.values()) == pytest.approx(0.0, abs=1e-6)


def test_min_utilization_bound_in_the_tail_scenario() -> None:
    # Two scenarios for 24 h: 10 GPUs (p = 0.8) and 5 GPUs (p = 0.2). Without a bound the level
    # is 10 (the 6th..10th unit saves 0.8·10 − 6 = 2 per hour). With 80 % minimum utilisation in
    # the worst 10 % (the 5-GPU scenario): 5 ≥ 0.8·x, so x = 6.25.
    table = cost_table(offers(), (H100,), RI_ONLY)
    demand = np.stack([np.full((24, 1), 10.0), np.full((24, 1), 5.0)])
    sl = duration_slices(demand, np.array([0.8, 0.2]), 24, 4)
    free = solve_term_lp(table, sl, decision_hours=[0], term_scale={12: 24})
    bound = solve_term_lp(table, sl, decision_hours=[0], term_scale={12: 24}, min_utilization=0.8)
    assert sum(free.buy.values()) == pytest.approx(10.0)
    assert sum(bound.buy.values()) == pytest.approx(6.25)


def test_replay_given_held_coverage_buys_only_the_gap() -> None:
    # A flat 50 GPUs: Cost Explorer's replay recommends 50 RIs; holding 30 of them, it
    # recommends the remaining 20; holding all 50, nothing.
    u = np.full((7 * 24, 1), 50.0)
    ts = pd.date_range("2026-01-05", periods=u.shape[0], freq="h", tz="UTC")
    start = ts[-1] + pd.Timedelta(hours=1)
    pol = RI_ONLY
    first = replay_recommendation(u, ts, (H100,), offers(), pol, start=start, lookback_days=7)
    assert first.level == pytest.approx(50.0)
    held = first.commitments[0]
    from dataclasses import replace

    part = replace(held, quantity=30.0)
    gap = replay_recommendation(
        u, ts, (H100,), offers(), pol, start=start, lookback_days=7, held=[part]
    )
    assert gap.level == pytest.approx(20.0)
    full = replay_recommendation(
        u, ts, (H100,), offers(), pol, start=start, lookback_days=7, held=[held]
    )
    assert full.chosen == ""


def test_rule_record_chooses_the_lowest_mean_regret() -> None:
    rec = RuleRecord()
    # origin 0: point is best (100), calibrated 110 (10 %); origin 168: calibrated 100, point 104
    rec.add(0, "p", "lp-calibrated", 110.0)
    rec.add(0, "p", "lp-point", 100.0)
    rec.add(168, "p", "lp-calibrated", 100.0)
    rec.add(168, "p", "lp-point", 104.0)
    rule, means = rec.choose("p", before_h=1000)
    assert means == pytest.approx({"lp-calibrated": 5.0, "lp-point": 2.0})
    assert rule == "lp-point"
    # only origins before the decision count
    assert rec.choose("p", before_h=100)[0] == "lp-point"
    assert rec.choose("p", before_h=0)[0] == "lp-calibrated"  # no record: the default


def test_rule_inputs_and_combination() -> None:
    scen = np.arange(12.0).reshape(3, 4)
    probs = np.full(3, 1 / 3)
    hist = np.arange(100.0)
    d, p = rule_demand("trailing-7", scen, probs, np.zeros(4), hist)
    assert d.shape == (1, 4) and p.tolist() == [1.0]
    d_point, _ = rule_demand("lp-point", scen, probs, np.array([1.0, 2, 3, 4]), hist)
    demand, pr = combine([(scen, probs), (d_point, np.ones(1))])
    assert demand.shape == (3, 4, 2) and np.allclose(pr, probs)
    assert np.allclose(demand[:, :, 1], [1, 2, 3, 4])
    with pytest.raises(ValueError):
        rule_demand("guess", scen, probs, np.zeros(4), hist)


@pytest.fixture(scope="module")
def seq_result():
    # 35 days of the exactly weekly series; decisions every 7 days from day 14; the 12-month
    # terms mapped to 7 days. Every strategy re-buys each week.
    pool = pooled(weekly(35))
    settings = SequentialSettings(
        every_h=7 * 24, term_scale={12: 7 * 24}, n_scenarios=5, fixed_rules=("lp-point",)
    )
    pol = Policy(
        providers=("aws",),
        purchase_models=("reserved_instance", "ec2_instance_savings_plan"),
        terms_months=(12,),
        payment_options=("no_upfront",),
        savings_curve_points=0,
    ).validate()
    return run_sequential(pool, offers(), pol, settings)


def test_sequential_hindsight_is_a_lower_bound(seq_result) -> None:
    s = seq_result.summary.set_index("strategy")
    assert s.at["hindsight", "regret_pct"] == 0.0
    for name in s.index:
        assert s.at[name, "regret_pct"] >= -1e-6, name
    assert seq_result.meta["decisions"] == 3
    # the weekly series repeats exactly: replay-7 is optimal, so its regret is ~0, and so is
    # the planner on the point forecast (a seasonal series the models forecast closely)
    assert s.at["replay-7", "regret_pct"] == pytest.approx(0.0, abs=0.5)
    assert s.at["planner-lp-point", "regret_pct"] < 5.0
    assert math.isfinite(s.at["planner", "regret_pct"])


def test_sequential_commitments_expire_at_the_mapped_term(seq_result) -> None:
    d = seq_result.decisions
    assert len(d) == 3 and "rule[H100/fixed@us-east-1]" in d.columns
    # the periods frame splits the bill per decision period for every strategy
    per = seq_result.periods
    assert set(per["period"]) == {1, 2, 3}


def test_sequential_needs_history_after_the_first_decision() -> None:
    with pytest.raises(PlannerInputError, match="too short"):
        run_sequential(pooled(weekly(10)), offers(), RI_ONLY, SequentialSettings())
