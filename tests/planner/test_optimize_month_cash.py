"""Cash by month on the referee's timeline: ``Timeline.by_month`` (non-zero entries only) equals the
dense ``x @ month_h`` it replaces in the evaluator, on hourly and coarse (multi-month) rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.valuation import build_valuation, hourly_timeline

START = pd.Timestamp("2026-01-01", tz="UTC")


def test_hourly_rows_by_hand() -> None:
    # 744 hours of January at 2 USD/h and the first 2 hours of February at 5 USD/h:
    # January gets 744 * 2 = 1,488, February 2 * 5 = 10.
    tl = hourly_timeline(pd.date_range(START, periods=746, freq="h"))
    x = np.full(746, 2.0)
    x[744:] = 5.0
    np.testing.assert_array_equal(tl.by_month(x), [1488.0, 10.0])
    np.testing.assert_array_equal(tl.by_month(x), x @ tl.month_h)


@settings(max_examples=20, deadline=None)
@given(
    months=st.integers(1, 8),
    tail_months=st.integers(0, 30),
    step=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_by_month_equals_the_dense_product(
    months: int, tail_months: int, step: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    n_h = months * 730
    d = rng.gamma(2.0, 3.0, size=(2, n_h, 1))
    vp = build_valuation(
        d, START, n_h, n_h + tail_months * 730, blocks=2, tail_step_months=step, seed=seed
    )
    tl = vp.timeline
    x = rng.normal(size=tl.n_rows)
    np.testing.assert_allclose(tl.by_month(x), x @ tl.month_h, rtol=1e-12, atol=1e-9)
    assert tl.by_month(x).shape == (tl.n_months,)
    assert tl.by_month(np.ones(tl.n_rows)).sum() == pytest.approx(tl.weight_h.sum())
