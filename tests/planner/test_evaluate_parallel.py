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

REAL_MAP = compare.map_pools
OFFERS = offers(offer("on_demand", 10.0), offer("reserved_instance", 3.5, term_months=12))


def _figures(
    workers: str, monkeypatch: pytest.MonkeyPatch, maps: list[tuple[int, int]]
) -> compare.StrategyFigures:
    monkeypatch.setenv("PLANNER_WORKERS", workers)
    monkeypatch.setattr(compare, "PARALLEL_MIN_WORK", 0)

    def spy(fn, tasks, *, workers=None):  # type: ignore[no-untyped-def]
        maps.append((len(tasks), workers))  # (tasks, workers) of each map
        return REAL_MAP(fn, tasks, workers=workers)

    monkeypatch.setattr(compare, "map_pools", spy)
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
    serial_maps: list[tuple[int, int]] = []
    spread_maps: list[tuple[int, int]] = []
    serial = _figures("1", monkeypatch, serial_maps)
    spread = _figures("2", monkeypatch, spread_maps)
    assert serial_maps == [(1, 1)] and spread_maps == [(2, 2)]  # the bills did go to 2 workers
    assert len(serial.evaluations) == len(spread.evaluations) == 5
    for a, b in zip(serial.evaluations, spread.evaluations, strict=True):
        assert a.total_usd == b.total_usd
        np.testing.assert_array_equal(a.hourly_cost_usd, b.hourly_cost_usd)
        assert a.commitment_utilization == b.commitment_utilization
    # the scenarios differ, so an order mix-up would show
    assert len({ev.total_usd for ev in serial.evaluations}) == 5
