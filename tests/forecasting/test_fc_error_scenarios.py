"""Decision scenarios from out-of-sample errors: origins, the damped ACI level correction, the
empirical copula, and the fallback for short history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.error_scenarios import (
    ACI_LEVELS,
    MIN_ERROR_ORIGINS,
    OriginErrors,
    aci_levels,
    copula_levels,
    error_horizon_days,
    error_paths,
    level_map,
    origin_errors,
    overlap_correlation,
    overlap_inflation,
    simulate_from_errors,
    widen_for_overlap,
)
from forecasting.forecast import forecast
from forecasting.pools import PooledUsage
from forecasting.scenarios import Pool
from pricing_data.errors import PlannerInputError


def _weekly(days: int) -> np.ndarray:
    t = np.arange(days * 24)
    return 100 + 20 * np.sin(2 * np.pi * t / 24) + 10 * ((t // 24) % 7 < 5)


def _pooled(y: np.ndarray) -> PooledUsage:
    idx = pd.date_range("2026-01-05", periods=y.size, freq="h", tz="UTC", name="timestamp")
    pool = Pool("H100")
    frame = pd.DataFrame({pool.name: y}, index=idx)
    false = pd.DataFrame(False, index=idx, columns=[pool.name])
    return PooledUsage(frame, (pool,), false, false.copy())


def test_a_perfect_model_has_zero_errors() -> None:
    # an exactly weekly series: seasonal naive (168 h) forecasts it without error at every origin
    y = _weekly(42)
    errs = origin_errors(y, y, np.zeros(y.size, bool), "snaive168", 7)
    assert errs.n_origins == 12
    assert np.allclose(errs.day_log_err, 0.0) and np.allclose(errs.mean_log_err, 0.0)
    assert (np.diff(errs.origins_h) == 24).all()  # daily origins, oldest first


def test_errors_measure_the_level_ratio() -> None:
    # the history doubles after day 21: a seasonal-naive forecast made before the step and
    # scored after it sees actual/forecast = 2 on the days past the step
    y = _weekly(42) * np.where(np.arange(42 * 24) >= 35 * 24, 2.0, 1.0)
    errs = origin_errors(y, y, np.zeros(y.size, bool), "snaive168", 7)
    last = errs.day_log_err[-1]  # origin at day 35: every day after the step
    assert np.allclose(last, np.log(2.0), atol=1e-2)


def _errors(e: np.ndarray, k: int = 1) -> OriginErrors:
    return OriginErrors(
        origins_h=np.arange(e.size) * 24,
        day_log_err=np.repeat(e[:, None], k, axis=1),
        mean_log_err=e,
        horizon_days=k,
    )


def test_aci_raises_the_levels_when_actuals_keep_beating_the_forecast() -> None:
    # errors rising steadily: each new one lands above every quantile of the known ones, so
    # α_q rises for every q (the scenarios move up)
    alpha = aci_levels(_errors(np.linspace(0.0, 1.0, 30)))
    for q in ACI_LEVELS:
        assert alpha[q] > q


def test_aci_damping_returns_to_nominal_when_the_drift_stops() -> None:
    # a drift, then 40 origins of alternating small errors around the middle: the correction
    # learnt during the drift fades (λ = 0.9 per origin), so α ends near q, not where it was
    drift = np.linspace(-1.0, 1.0, 20)
    calm = np.tile([-0.05, 0.05], 20)
    after = aci_levels(_errors(np.concatenate([drift, calm])))
    during = aci_levels(_errors(drift))
    assert abs(after[0.5] - 0.5) < abs(during[0.5] - 0.5)
    assert abs(after[0.5] - 0.5) < 0.1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3))
def test_level_map_is_monotone_from_0_to_1(a: list[float]) -> None:
    alpha = dict(zip(ACI_LEVELS, sorted(a), strict=True))
    u = np.linspace(0, 1, 101)
    v = level_map(alpha, u)
    assert v[0] == 0.0 and v[-1] == 1.0 and (np.diff(v) >= -1e-12).all()


def test_error_paths_reproduce_the_error_distribution_and_continue_beyond_k() -> None:
    e = np.linspace(-0.5, 0.5, 11)
    errs = _errors(e, k=3)
    rng = np.random.default_rng(0)
    u = (np.arange(1000) + 0.5) / 1000
    paths = error_paths(errs, u, 5, rng)
    assert paths.shape == (1000, 5)
    # the scenario levels span the errors' range (plus the kernel jitter) and centre on their median
    assert np.median(paths[:, 0]) == pytest.approx(0.0, abs=0.05)
    assert paths[:, 0].min() < -0.4 and paths[:, 0].max() > 0.4
    # without a level random walk the last observed day carries on
    assert np.allclose(paths[:, 3], paths[:, 2]) and np.allclose(paths[:, 4], paths[:, 2])


def test_copula_keeps_pools_that_err_together_together() -> None:
    e = np.linspace(-1, 1, 10)
    a, b = _errors(e), _errors(2 * e)  # the same ranking at the same origins
    u = copula_levels([a, b], 50, np.random.default_rng(1))
    assert np.allclose(u[:, 0], u[:, 1])
    assert ((u > 0) & (u < 1)).all()


def test_error_horizon_is_horizon_matched_and_fits_the_history() -> None:
    assert error_horizon_days(7 * 24, 200 * 24) == 7
    assert error_horizon_days(365 * 24, 200 * 24) == 28
    # 31 days: 14 days of training and 8 daily origins leave 10 days
    assert error_horizon_days(28 * 24, 31 * 24) == 31 - 14 - (MIN_ERROR_ORIGINS - 1)
    assert error_horizon_days(7 * 24, 20 * 24) == 0


def test_forecast_uses_residual_scenarios_with_history_and_falls_back_without() -> None:
    rng = np.random.default_rng(3)
    y = _weekly(60) * np.exp(rng.normal(0, 0.05, 60 * 24))
    long = forecast(_pooled(y), horizon_hours=7 * 24, n_scenarios=20, seed=1)
    m = long.metrics.iloc[0]
    assert m["scenario_method"] == "residual" and m["error_origins"] >= MIN_ERROR_ORIGINS
    assert long.scenarios.meta["scenario_method"] == {"H100/fixed@us-east-1": "residual"}
    short = forecast(_pooled(y[: 18 * 24]), horizon_hours=7 * 24, n_scenarios=20, seed=1)
    s = short.metrics.iloc[0]
    assert s["scenario_method"] == "bootstrap"
    assert "too little history for residual scenarios" in s["notes"]
    old = forecast(
        _pooled(y), horizon_hours=7 * 24, n_scenarios=20, seed=1, scenario_method="bootstrap"
    )
    assert old.metrics.iloc[0]["scenario_method"] == "bootstrap"
    # same seed, same answer
    again = forecast(_pooled(y), horizon_hours=7 * 24, n_scenarios=20, seed=1)
    assert np.array_equal(again.scenarios.demand_gpus, long.scenarios.demand_gpus)


def test_unknown_scenario_method_is_an_input_error() -> None:
    with pytest.raises(PlannerInputError, match="unknown scenario method"):
        forecast(_pooled(_weekly(30)), horizon_hours=24, scenario_method="magic")


def test_overlap_correction_by_hand() -> None:
    # 3 origins one day apart, 2-day windows: pairs 1 day apart overlap by 1/2, the pair 2 days
    # apart not at all: rho_bar = (1/2 + 1/2 + 0) / 3 = 1/3, c = 1/sqrt(2/3) = sqrt(1.5)
    o = np.array([0, 24, 48])
    assert overlap_correlation(o, 2) == pytest.approx(1 / 3)
    assert overlap_inflation(o, 2) == pytest.approx(np.sqrt(1.5))
    # windows that do not overlap need no correction; one origin has no spread to correct
    assert overlap_inflation(np.array([0, 7 * 24, 14 * 24]), 7) == 1.0
    assert overlap_inflation(np.array([0]), 7) == 1.0
    # 12 daily origins at 7 days: rho_bar = 28/66 (sum over lags d<7 of (12-d)(1-d/7) = 28)
    assert overlap_correlation(np.arange(12) * 24, 7) == pytest.approx(28 / 66)


def test_overlap_correction_makes_the_spread_of_overlapping_windows_unbiased() -> None:
    """Monte Carlo check of the maths: iid daily errors, 12 daily origins with 7-day windows.
    The sample variance of the window means is biased low by (1 - rho_bar); times c^2 it is
    unbiased for the variance of one window mean (1/7 for unit daily variance)."""
    rng = np.random.default_rng(7)
    k, m, reps = 7, 12, 20_000
    daily = rng.standard_normal((reps, m + k - 1))
    windows = np.stack([daily[:, i : i + k].mean(axis=1) for i in range(m)], axis=1)
    s2 = windows.var(axis=1, ddof=1).mean()
    rbar = overlap_correlation(np.arange(m) * 24, k)
    assert s2 == pytest.approx((1 - rbar) / k, rel=0.03)
    assert s2 * overlap_inflation(np.arange(m) * 24, k) ** 2 == pytest.approx(1 / k, rel=0.03)


@settings(max_examples=100, deadline=None)
@given(
    errs=st.lists(st.floats(-2, 2, allow_nan=False), min_size=3, max_size=12),
    k=st.integers(1, 28),
)
def test_widening_keeps_the_median_and_scales_deviations(errs: list[float], k: int) -> None:
    e = np.asarray(errs)
    o = np.arange(e.size) * 24
    oe = OriginErrors(o, np.tile(e[:, None], (1, k)), e, k)
    w = widen_for_overlap(oe)
    c = overlap_inflation(o, k)
    assert np.median(w.mean_log_err) == pytest.approx(np.median(e), abs=1e-9)
    assert np.allclose(w.mean_log_err - np.median(e), c * (e - np.median(e)))
    # the day paths move with their origin's mean error (shape kept)
    assert np.allclose(w.day_log_err - oe.day_log_err, (w.mean_log_err - e)[:, None])
    assert c >= 1.0


def test_hourly_residuals_scale_with_the_calibrated_noise_scale() -> None:
    # Y = max(0, (point + c*r) * exp(E)): with the same draws, c = 2 doubles every hour's
    # deviation from point * exp(E) (the point is high enough that nothing is clipped at 0)
    from forecasting.models import ErrorModel

    rng = np.random.default_rng(0)
    hist = 100 + rng.normal(0, 5, (60 * 24, 1))
    err = ErrorModel.from_history(hist, np.zeros_like(hist, dtype=bool))
    point = np.full(3 * 24, 100.0)
    log_level = np.tile(np.log([1.0, 1.2, 0.9]), (4, 1))
    base = np.repeat(np.exp(log_level), 24, axis=1) * point
    one = simulate_from_errors(point, log_level, err, 0, np.random.default_rng(1))
    two = simulate_from_errors(
        point, log_level, err, 0, np.random.default_rng(1), residual_scale=2.0
    )
    assert np.abs(one - base).max() > 1.0
    assert np.allclose(two - base, 2.0 * (one - base))


def test_forecast_scales_the_residual_scenarios_hourly_noise_by_the_calibrated_scale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the residual scenarios get the pool's calibrated c (metrics' interval_scale) as their
    # hourly residual scale
    import sys

    ff = sys.modules["forecasting.forecast"]  # the package exports a function of that name
    seen: list[float] = []
    real = ff.simulate_from_errors

    def spy(*a: object, residual_scale: float = 1.0, **k: object) -> np.ndarray:
        seen.append(residual_scale)
        return real(*a, residual_scale=residual_scale, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(ff, "simulate_from_errors", spy)
    rng = np.random.default_rng(4)
    y = _weekly(60) * np.exp(rng.normal(0, 0.1, 60 * 24))
    fc = forecast(_pooled(y), horizon_hours=7 * 24, n_scenarios=20, seed=1)
    m = fc.metrics.iloc[0]
    assert m["scenario_method"] == "residual"
    assert m["interval_scale"] != 1.0  # (1.15 here) so passing no scale would fail
    assert seen == [pytest.approx(float(m["interval_scale"]))]
