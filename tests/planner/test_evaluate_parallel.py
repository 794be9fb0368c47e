"""The scenarios' bills spread over worker processes (planner/evaluate/compare.py) are the
serial bills, scenario by scenario, in the same order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planner_factory import START, held_ri, offer, offers

from forecasting.scenarios import Pool
from planner.evaluate import compare
from planner.policy import Policy

OFFERS = offers(offer("on_demand", 10.0), offer("reserved_instance", 3.5, term_months=12))


def _figures(workers: str, monkeypatch: pytest.MonkeyPatch) -> compare.StrategyFigures:
    monkeypatch.setenv("PLANNER_WORKERS", workers)
    monkeypatch.setattr(compare, "PARALLEL_MIN_WORK", 0)
    rng = np.random.default_rng(3)
    n_s, hours = 5, 24 * 14
    demand = rng.uniform(0.0, 12.0, size=(n_s, hours, 1))
    ts = pd.date_range(START, periods=hours, freq="h")
    return compare.evaluate_over_scenarios(
        "this plan",
        [held_ri("ri", 6.0)],
        demand,
        np.full(n_s, 1.0 / n_s),
        ts,
        (Pool("H100"),),
        OFFERS,
        Policy(horizon_months=1, ladder_every_months=0),
        spot_price_factor=np.linspace(0.9, 1.1, n_s),
    )


def test_bills_in_workers_equal_the_serial_bills(monkeypatch: pytest.MonkeyPatch) -> None:
    serial = _figures("1", monkeypatch)
    spread = _figures("2", monkeypatch)
    assert len(serial.evaluations) == len(spread.evaluations) == 5
    for a, b in zip(serial.evaluations, spread.evaluations, strict=True):
        assert a.total_usd == b.total_usd
        np.testing.assert_array_equal(a.hourly_cost_usd, b.hourly_cost_usd)
        assert a.commitment_utilization == b.commitment_utilization
    # the scenarios differ, so an order mix-up would show
    assert len({ev.total_usd for ev in serial.evaluations}) == 5
