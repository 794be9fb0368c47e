"""The one weighted quantile every package uses."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pricing_data.stats import weighted_quantile


def test_hand_derived_values() -> None:
    # sorted values 1, 2, 3 with weights 0.1, 0.2, 0.7: cumulative 0.1, 0.3, 1.0
    assert weighted_quantile([3.0, 1.0, 2.0], [0.7, 0.1, 0.2], 0.1) == 1.0
    assert weighted_quantile([3.0, 1.0, 2.0], [0.7, 0.1, 0.2], 0.3) == 2.0
    assert weighted_quantile([3.0, 1.0, 2.0], [0.7, 0.1, 0.2], 0.31) == 3.0
    # weights need not sum to 1
    assert weighted_quantile([1.0, 2.0], [5.0, 5.0], 0.5) == 1.0
    assert math.isnan(weighted_quantile([], [], 0.5))


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.floats(0.0, 1.0))
def test_equal_weights_agree_with_the_inverted_cdf_quantile(values: list[float], q: float) -> None:
    got = weighted_quantile(values, [1.0] * len(values), q)
    assert got == np.quantile(values, q, method="inverted_cdf") or (q == 0.0 and got == min(values))
