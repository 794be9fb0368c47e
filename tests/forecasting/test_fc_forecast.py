"""forecast(): scenarios' shape, start, probabilities, determinism, growth, fallbacks, properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting import Growth, PooledUsage, forecast
from forecasting.forecast import backtest
from forecasting.models import MODELS, ETSProfile
from forecasting.scenarios import Pool
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.units import HOURS_PER_YEAR


def pooled_from(
    values: np.ndarray, start: str = "2025-01-01", names: tuple[str, ...] = ("H100", "L4")
) -> PooledUsage:
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    pools = tuple(Pool(gpu_type=g) for g in names[: values.shape[1]])
    idx = pd.date_range(start, periods=values.shape[0], freq="h", tz="UTC")
    d = pd.DataFrame(values, index=idx, columns=[p.name for p in pools])
    f = pd.DataFrame(False, index=idx, columns=d.columns)
    return PooledUsage(demand_gpus=d, pools=pools, outage_mask=f, gap_mask=f.copy())


def seasonal(hours: int, seed: int = 0, level: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    return np.maximum(level * (1 + 0.2 * np.sin(2 * np.pi * t / 24)) + rng.normal(0, 4, hours), 0)


@pytest.fixture(scope="module")
def two_pools() -> PooledUsage:
    return pooled_from(np.stack([seasonal(24 * 35, 1), seasonal(24 * 35, 2, 20.0)], axis=1))


def test_scenarios_contract(two_pools: PooledUsage) -> None:
    fc = forecast(two_pools, horizon_hours=24 * 10, n_scenarios=12, seed=3)
    sc = fc.scenarios
    assert sc.demand_gpus.shape == (12, 240, 2)
    assert sc.start == two_pools.end + pd.Timedelta(hours=1)
    assert np.isclose(sc.probabilities.sum(), 1.0)
    assert (sc.demand_gpus >= 0).all()
    assert sc.pools == two_pools.pools
    assert list(fc.metrics["pool"]) == [p.name for p in two_pools.pools]
    assert set(fc.metrics["model"]) <= set(MODELS)
    assert fc.metrics["mase"].notna().all()
    assert (fc.metrics["backtest_origins"] > 0).all()
    q = fc.quantiles()
    assert list(q.columns) == ["timestamp", "pool", "p10", "p50", "p90"]
    assert len(q) == 480 and (q["p10"] <= q["p50"]).all() and (q["p50"] <= q["p90"]).all()
    m = fc.monthly_summary()
    assert set(m.columns) >= {"pool", "month", "p10_mean_gpus", "p50_mean_gpus", "p90_mean_gpus"}
    assert sc.meta["models"] == fc.models


def test_seed_determinism(two_pools: PooledUsage) -> None:
    a = forecast(two_pools, horizon_hours=48, n_scenarios=5, seed=7, models=["ets"])
    b = forecast(two_pools, horizon_hours=48, n_scenarios=5, seed=7, models=["ets"])
    c = forecast(two_pools, horizon_hours=48, n_scenarios=5, seed=8, models=["ets"])
    assert np.array_equal(a.scenarios.demand_gpus, b.scenarios.demand_gpus)
    assert not np.array_equal(a.scenarios.demand_gpus, c.scenarios.demand_gpus)


def test_growth_compound_and_step(two_pools: PooledUsage) -> None:
    base = forecast(two_pools, horizon_hours=24 * 30, n_scenarios=20, seed=1, models=["ets"])
    step_at = (two_pools.end + pd.Timedelta(days=10)).isoformat()
    grown = forecast(
        two_pools,
        horizon_hours=24 * 30,
        n_scenarios=20,
        seed=1,
        models=["ets"],
        growth={"annual_pct": 100, "steps": [{"at": step_at, "add_gpus": 50, "pools": ["L4"]}]},
    )
    d0, d1 = base.scenarios.demand_gpus, grown.scenarios.demand_gpus
    t = 24 * 30 - 1
    factor = 2 ** (t / HOURS_PER_YEAR)
    assert np.allclose(d1[:, t, 0], d0[:, t, 0] * factor)
    assert np.allclose(d1[:, t, 1], d0[:, t, 1] * factor + 50)
    assert np.allclose(d1[:, 0, 1], d0[:, 0, 1])  # before the step
    assert grown.growth == Growth.parse(
        {"annual_pct": 100, "steps": [{"at": step_at, "add_gpus": 50, "pools": ["L4"]}]}
    )


def test_growth_step_on_unknown_pool(two_pools: PooledUsage) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'H100'"):
        forecast(
            two_pools, horizon_hours=24, growth={"steps": [{"at": "2030-01-01", "pools": ["H10"]}]}
        )


def test_failing_model_falls_back(two_pools: PooledUsage, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: ETSProfile, y: np.ndarray) -> None:
        raise FloatingPointError("diverged")

    monkeypatch.setattr(ETSProfile, "_fit", boom)
    fc = forecast(two_pools, horizon_hours=48, n_scenarios=4, models=["ets", "snaive24"])
    assert set(fc.models.values()) == {"snaive24"}
    assert "ets: FloatingPointError: diverged" in fc.metrics["notes"].iloc[0]


def test_short_history_uses_default_model() -> None:
    fc = forecast(pooled_from(seasonal(24 * 3)), horizon_hours=24, n_scenarios=3)
    assert fc.scenarios.demand_gpus.shape == (3, 24, 1)


def test_too_short_history_is_an_input_error() -> None:
    with pytest.raises(PlannerInputError, match="too little history to forecast"):
        forecast(pooled_from(seasonal(30)), horizon_hours=24)


def test_36_months_fits_in_memory() -> None:
    fc = forecast(
        pooled_from(seasonal(24 * 30)), horizon_hours=36 * 730, n_scenarios=10, models=["ets"]
    )
    d = fc.scenarios.demand_gpus
    assert d.shape == (10, 36 * 730, 1)
    # trend uncertainty grows with the horizon
    q = fc.scenarios.quantiles((0.1, 0.9))
    assert (q[1, -24:, 0] - q[0, -24:, 0]).mean() > (q[1, :24, 0] - q[0, :24, 0]).mean()


def test_backtest_scores_every_candidate() -> None:
    y = seasonal(24 * 40)
    bt = backtest(y, y, np.zeros(y.size, dtype=bool), ["snaive24", "snaive168", "ets", "combo"])
    assert list(bt.scores["model"]) == ["snaive168", "snaive24", "ets", "combo"]
    assert bt.scores.loc[bt.scores["model"] == "snaive168", "rel_mae"].iloc[0] == pytest.approx(1.0)
    assert len(bt.origins) == 3


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(st.floats(min_value=0, max_value=1e4), min_size=72, max_size=200),
    seed=st.integers(0, 2**31 - 1),
)
def test_paths_are_finite_non_negative_and_seeded(data: list[float], seed: int) -> None:
    p = pooled_from(np.array(data))
    a = forecast(p, horizon_hours=50, n_scenarios=4, seed=seed, models=["snaive24", "ets"])
    d = a.scenarios.demand_gpus
    assert np.isfinite(d).all() and (d >= 0).all()
    b = forecast(p, horizon_hours=50, n_scenarios=4, seed=seed, models=["snaive24", "ets"])
    assert np.array_equal(d, b.scenarios.demand_gpus)


def test_calibrated_scale_covers_backtest_near_80_pct() -> None:
    from forecasting.forecast import SCALE_GRID, calibrate_scale

    y = seasonal(24 * 40, seed=5)
    miss = np.zeros(y.size, dtype=bool)
    bt = backtest(y, y, miss, ["ets"])
    c, cov = calibrate_scale(bt.preds["ets"], y, y, miss, 0.001, 0.0001)
    assert c in SCALE_GRID
    assert 0.7 <= cov <= 0.9
    assert calibrate_scale({}, y, y, miss, 0.0, 0.0)[0] == 1.0


def test_metrics_report_the_interval_scale(two_pools: PooledUsage) -> None:
    fc = forecast(two_pools, horizon_hours=24, n_scenarios=4, models=["ets", "smean168"])
    assert fc.metrics["interval_scale"].between(0.8, 2.0).all()
    assert fc.scenarios.meta["interval_scale"] == dict(
        zip(fc.metrics["pool"], fc.metrics["interval_scale"], strict=True)
    )
