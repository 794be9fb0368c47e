"""Scenario reduction by fast forward selection: a hand-derived case, invariants, and purity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.scenarios import DemandScenarios, Pool
from planner.optimize.scenario_reduction import (
    forward_selection,
    pairwise_distances,
    reduce_scenarios,
    reduction_distance,
    scenario_features,
)
from pricing_data.errors import PlannerInputError

START = pd.Timestamp("2026-01-01", tz="UTC")


def line(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array(values, dtype=float)[:, None]
    return pairwise_distances(x), np.full(len(values), 1 / len(values))


def test_hand_derived_forward_selection() -> None:
    # scenarios at 0, 1, 10, 11, each p = 1/4, c = |x_i - x_j|.
    # k=1: z = (22, 20, 20, 22)/4 -> tie between 1 and 10, the lower index (1) wins;
    #      everything moves to it, D = (1 + 0 + 9 + 10)/4 = 5.
    c, p = line([0, 1, 10, 11])
    one = forward_selection(c, p, 1)
    assert one.kept == (1,) and one.probabilities.tolist() == [1.0]
    assert one.distance == pytest.approx(5.0)
    # k=2: with c(i,u) <- min(c(i,u), c(i,1)) over the free {0, 10, 11}:
    #      z(0) = (0 + 9 + 10)/4, z(10) = (1 + 0 + 1)/4, z(11) = (1 + 1 + 0)/4 -> 10 (index 2).
    #      0 goes to 1, 11 goes to 10: q = (1/2, 1/2), D = (1 + 1)/4 = 0.5.
    two = forward_selection(c, p, 2)
    assert two.kept == (1, 2)
    np.testing.assert_allclose(two.probabilities, [0.5, 0.5])
    assert two.distance == pytest.approx(0.5)


def scenarios(n: int, hours: int = 48, pools: int = 2, seed: int = 0) -> DemandScenarios:
    rng = np.random.default_rng(seed)
    d = rng.gamma(2.0, 10.0, size=(n, hours, pools))
    p = rng.dirichlet(np.ones(n))
    return DemandScenarios(START, tuple(Pool(g) for g in ("H100", "L4")[:pools]), d, p, seed=seed)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 25), seed=st.integers(0, 10_000), data=st.data())
def test_reduction_invariants(n: int, seed: int, data: st.DataObject) -> None:
    full = scenarios(n, seed=seed)
    k = data.draw(st.integers(1, n))
    red = reduce_scenarios(full, k, block_h=12)
    assert red.n_scenarios == min(k, n)
    assert red.probabilities.sum() == pytest.approx(1.0) and (red.probabilities >= 0).all()
    if k < n:
        kept = red.meta["reduction"]["kept"]
        assert len(set(kept)) == k
        np.testing.assert_array_equal(red.demand_gpus, full.demand_gpus[kept])
        # a kept scenario keeps at least its own probability
        assert (red.probabilities >= full.probabilities[kept] - 1e-12).all()
        # the reported distance is the Kantorovich distance of the kept set
        d = reduction_distance(full, kept, block_h=12)
        assert red.meta["reduction"]["distance"] == pytest.approx(d)
        # keeping one more scenario never moves the set further from the full one
        more = reduce_scenarios(full, k + 1, block_h=12)
        d_more = more.meta["reduction"]["distance"] if k + 1 < n else 0.0
        assert d_more <= d + 1e-9


def test_reduce_is_pure_and_records_what_it_did() -> None:
    full = scenarios(10)
    before = full.demand_gpus.copy()
    red = reduce_scenarios(full, 3)
    np.testing.assert_array_equal(full.demand_gpus, before)
    assert full.n_scenarios == 10 and red.n_scenarios == 3
    assert red.meta["reduction"]["from_scenarios"] == 10
    assert reduce_scenarios(full, 10) is full


def test_features_are_block_means_times_weights() -> None:
    d = np.zeros((1, 5, 2))
    d[0, :, 0] = [1, 2, 3, 4, 5]
    d[0, :, 1] = 10
    sc = DemandScenarios(START, (Pool("H100"), Pool("L4")), d, np.array([1.0]))
    x = scenario_features(sc, block_h=2, pool_weights=[2.0, 0.5])
    # blocks [0,1], [2,3], [4]: H100 means 1.5, 3.5, 5 (x2); L4 10 (x0.5); order block-major
    np.testing.assert_allclose(x[0], [3.0, 5.0, 7.0, 5.0, 10.0, 5.0])
    with pytest.raises(PlannerInputError, match="one non-negative weight per pool"):
        scenario_features(sc, pool_weights=[1.0])
    with pytest.raises(PlannerInputError, match="cannot keep that many"):
        forward_selection(np.zeros((2, 2)), np.array([0.5, 0.5]), 3)
