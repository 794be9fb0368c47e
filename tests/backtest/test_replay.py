"""Cost Explorer-style replay: the level search is exact, one type is bought, short lookbacks say so."""

from __future__ import annotations

import numpy as np
import pandas as pd
from bt_factory import A100_SPOT, H100, offers

from forecasting.scenarios import Pool
from planner.backtest.replay import _commitment, _grid, _ternary_max, replay_recommendation
from planner.evaluate import evaluate
from planner.optimize.offers import build_cost_table
from planner.policy import Policy

POLICY = Policy(terms_months=(12,), payment_options=("no_upfront",))


def _ts(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC")


def test_constant_usage_buys_exactly_the_usage_as_ri() -> None:
    # 50 GPUs every hour: a 1-GPU RI at 6 $/h saves 4 $/GPU-hour against on-demand at 10, more than
    # the EC2 SP (rate 7: saves 3) or the Compute SP (rate 8: saves 2). Best: 50 RIs, saving
    # 50 × 4 × 168 = 33,600 USD over the 7-day lookback.
    u = np.full((14 * 24, 1), 50.0)
    ts = _ts(len(u))
    choice = replay_recommendation(
        u, ts, (H100,), offers(), POLICY, start=ts[-1] + pd.Timedelta(hours=1), lookback_days=7
    )
    assert choice.chosen.endswith("reserved_instance:standard:12:no_upfront")
    assert choice.level == 50
    assert choice.estimated_savings_usd == 50 * 4 * 168
    (com,) = choice.commitments
    assert com.quantity == 50 and com.start == ts[-1] + pd.Timedelta(hours=1)
    assert choice.lookback_days_used == 7 and "only" not in choice.note


def test_short_history_uses_what_there_is_and_says_so() -> None:
    u = np.full((10 * 24, 1), 5.0)
    ts = _ts(len(u))
    choice = replay_recommendation(u, ts, (H100,), offers(), POLICY, start=ts[-1], lookback_days=60)
    assert choice.lookback_days_used == 10
    assert "lookback 60 d, only 10.0 d" in choice.note


def test_no_saving_buys_nothing() -> None:
    u = np.zeros((7 * 24, 1))
    ts = _ts(len(u))
    choice = replay_recommendation(u, ts, (H100,), offers(), POLICY, start=ts[-1], lookback_days=7)
    assert choice.commitments == () and choice.note == "bought nothing"


def _savings_on_grid(
    u: np.ndarray, pools: tuple[Pool, ...], cand: int
) -> tuple[np.ndarray, list[float]]:
    table = build_cost_table(offers(), pools, [], POLICY)
    row = table.candidates.iloc[cand]
    cov = table.coverage[table.coverage["cand"] == cand]
    rates = dict(zip(cov["pool"].astype(int), cov["rate_usd_per_gpu_hour"], strict=True))
    sp = row["kind"] == "savings_plan"
    spot = np.array([POLICY.spot_cap_share if p.interruptible else 0.0 for p in pools])
    grid = _grid(u, rates, spot, sp, 1.0)
    ts = _ts(len(u))
    base = evaluate([], u, ts, pools, offers(), POLICY).total_usd
    vals = [
        base - evaluate([_commitment(row, x, ts[0], "x")], u, ts, pools, offers(), POLICY).total_usd
        if x > 0
        else 0.0
        for x in grid
    ]
    return grid, vals


def test_ternary_search_finds_the_grid_maximum_and_savings_are_concave() -> None:
    rng = np.random.default_rng(3)
    u = np.column_stack([rng.integers(0, 30, 96), rng.integers(0, 20, 96)]).astype(float)
    pools = (H100, A100_SPOT)
    n_cands = len(build_cost_table(offers(), pools, [], POLICY).candidates)
    for cand in range(n_cands):
        grid, vals = _savings_on_grid(u, pools, cand)
        lookup: dict[float, float] = dict(zip(grid.tolist(), vals, strict=True))
        _level, best = _ternary_max(lookup.__getitem__, grid)
        assert best == max(vals)
        # concavity on the grid: slopes never increase (up to rounding)
        slopes = np.diff(vals) / np.diff(grid)
        assert (np.diff(slopes) <= 1e-6).all()
