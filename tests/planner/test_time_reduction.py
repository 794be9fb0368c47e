"""The time reduction module: weights, periods, and what each method keeps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from planner_factory import START

from planner.optimize.time_reduction import period_boundaries, reduce_time
from pricing_data.errors import PlannerInputError


def test_month_boundaries_and_extra_cuts() -> None:
    b = period_boundaries(START, 24 * 90, "month", extra_h=[100, 0, 24 * 90, 5000])
    assert list(b) == [0, 100, 744, 744 + 672, 24 * 90]  # Jan 31 d, Feb 28 d, cut at 100 h
    q = period_boundaries(START, 8760, "quarter")
    assert list(q) == [0, 2160, 4344, 6552, 8760]


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(30, 1600),
    st.integers(1, 6),
    st.sampled_from(["duration_curve", "joint_duration_curve", "typical_days", "hourly"]),
    st.sampled_from(["month", "quarter"]),
)
def test_weights_sum_to_the_hours_and_demand_is_kept(
    n_s: int, n_h: int, blocks: int, method: str, period: str
) -> None:
    rng = np.random.default_rng(n_h)
    d = rng.gamma(2.0, 3.0, size=(n_s, n_h, 2))
    ts = reduce_time(d, START, method=method, period=period, blocks=blocks, extra_boundaries_h=[17])
    assert ts.weight_h.sum() == pytest.approx(n_h)
    for k in range(ts.n_periods):
        in_k = ts.slice_period == k
        assert ts.weight_h[in_k].sum() == ts.period_end_h[k] - ts.period_start_h[k]
    # GPU-hours are kept in every scenario and pool (so are linear costs)
    np.testing.assert_allclose(np.einsum("stp,t->sp", ts.demand_gpus, ts.weight_h), d.sum(axis=1))
    if method.endswith("duration_curve"):
        assert ts.n_slices <= blocks * ts.n_periods
    if method == "hourly":
        np.testing.assert_array_equal(ts.demand_gpus, d)


def test_duration_curve_blocks_are_sorted_by_total_demand() -> None:
    d = np.arange(24, dtype=float)[None, :, None]  # one day, rising
    ts = reduce_time(d, START, method="duration_curve", blocks=4)
    assert list(ts.weight_h) == [6, 6, 6, 6]
    assert list(ts.demand_gpus[0, :, 0]) == [20.5, 14.5, 8.5, 2.5]


def test_per_pool_and_joint_duration_curves() -> None:
    # two pools peaking at different hours: per pool, each block holds that pool's own peak;
    # jointly (sorted by the total), the peaks are averaged together.
    d = np.zeros((1, 4, 2))
    d[0, 0, 0] = 8.0
    d[0, 3, 1] = 6.0
    per_pool = reduce_time(d, START, method="duration_curve", blocks=4)
    assert per_pool.demand_gpus[0, 0].tolist() == [8.0, 6.0]
    joint = reduce_time(d, START, method="joint_duration_curve", blocks=2)
    assert joint.demand_gpus[0, 0].tolist() == [4.0, 3.0]


def test_typical_days_average_each_hour_of_day() -> None:
    day = np.arange(24, dtype=float)
    d = np.tile(day, 3)[None, :, None] + np.repeat([0.0, 1.0, 2.0], 24)[None, :, None]
    ts = reduce_time(d, pd.Timestamp("2026-03-01", tz="UTC"), method="typical_days")
    assert ts.n_slices == 24
    np.testing.assert_allclose(ts.demand_gpus[0, :, 0], day + 1.0)


def test_unknown_method_is_an_input_error() -> None:
    with pytest.raises(PlannerInputError, match="unknown time reduction"):
        reduce_time(np.zeros((1, 5, 1)), START, method="weekly")
