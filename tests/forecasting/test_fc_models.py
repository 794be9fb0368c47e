"""The model contract, checked on every model, and the error model's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.models import (
    MAX_LEVEL_VAR_A,
    MAX_LEVEL_VAR_B_PER_DAY,
    MODELS,
    ErrorModel,
    SeasonalNaive168,
    fit_error_growth,
    simulate_paths,
)


def _series(hours: int = 24 * 28, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    y = 100 + 20 * np.sin(2 * np.pi * t / 24) + 10 * np.sin(2 * np.pi * t / 168) + 0.02 * t
    return np.maximum(y + rng.normal(0, 3, hours), 0)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_contract(name: str) -> None:
    y = _series()
    model = MODELS[name]()
    assert model.fit(y) is model
    pred = model.predict(200)
    assert pred.shape == (200,)
    assert np.isfinite(pred).all() and (pred >= 0).all()
    # a sensible level on a stationary seasonal series
    assert 60 < pred.mean() < 160
    assert np.array_equal(pred, MODELS[name]().fit(y).predict(200))  # deterministic
    sims = model.simulate(100, 20, np.random.default_rng(1))
    assert sims.shape == (20, 100)
    assert np.isfinite(sims).all() and (sims >= 0).all()
    same = model.simulate(100, 20, np.random.default_rng(1))
    assert np.array_equal(sims, same)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_refuses_too_short_history(name: str) -> None:
    with pytest.raises(ValueError):
        MODELS[name]().fit(np.ones(10))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_refuses_nan(name: str) -> None:
    y = _series()
    y[5] = np.nan
    with pytest.raises(ValueError):
        MODELS[name]().fit(y)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_predict_before_fit(name: str) -> None:
    with pytest.raises(RuntimeError):
        MODELS[name]().predict(5)


def test_seasonal_naive_repeats_last_week() -> None:
    y = np.arange(400, dtype=float)
    pred = SeasonalNaive168().fit(y).predict(200)
    assert np.array_equal(pred[:168], y[-168:])
    assert np.array_equal(pred[168:], y[-168:][:32])


def test_constant_series_forecasts_constant() -> None:
    y = np.full(24 * 21, 50.0)
    for name, cls in MODELS.items():
        pred = cls().fit(y).predict(48)
        assert np.allclose(pred, 50.0, atol=1e-3), name


def test_error_growth_fit_recovers_a_and_b() -> None:
    k = np.arange(1, 29)
    a, b = fit_error_growth(0.01 + 0.001 * k, np.ones(28))
    assert a == pytest.approx(0.01) and b == pytest.approx(0.001)
    a, b = fit_error_growth(np.full(28, 0.03), np.ones(28))
    assert a == pytest.approx(0.03) and b == pytest.approx(0.0, abs=1e-12)


def test_error_growth_is_capped() -> None:
    k = np.arange(1, 29)
    a, b = fit_error_growth(5.0 + 0.5 * k, np.ones(28))
    assert a == MAX_LEVEL_VAR_A and b == MAX_LEVEL_VAR_B_PER_DAY


def test_simulation_variance_grows_with_horizon() -> None:
    rng = np.random.default_rng(0)
    innov = rng.standard_normal((200, 1))
    err = ErrorModel(innov, np.zeros((10, 24, 1)), np.array([0.0]), np.array([0.01]))
    point = np.full((24 * 60, 1), 100.0)
    paths = simulate_paths(point, err, 400, np.random.default_rng(1))
    logs = np.log(paths[:, :, 0])
    early, late = logs[:, 24 * 5].std(), logs[:, 24 * 59].std()
    # sd of a random walk: sqrt(b * k)
    assert early == pytest.approx(np.sqrt(0.01 * 6), rel=0.2)
    assert late == pytest.approx(np.sqrt(0.01 * 60), rel=0.2)
    # moment matching: the mean path is the point forecast on every day; the median of the
    # log-normal level sits exp(-var/2) below it
    assert paths[:, -1, 0].mean() == pytest.approx(100.0, rel=1e-9)
    assert paths[:, 24 * 30, 0].mean() == pytest.approx(100.0, rel=1e-9)
    assert np.median(paths[:, -1, 0]) == pytest.approx(100.0 * np.exp(-0.01 * 60 / 2), rel=0.15)


def test_joint_bootstrap_keeps_cross_pool_correlation() -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal(300)
    innov = np.stack([z, z + 0.1 * rng.standard_normal(300), rng.standard_normal(300)], axis=1)
    innov = (innov - innov.mean(0)) / innov.std(0)
    err = ErrorModel(innov, np.zeros((5, 24, 3)), np.zeros(3), np.full(3, 0.01))
    paths = simulate_paths(np.full((24 * 30, 3), 10.0), err, 300, np.random.default_rng(2))
    end = np.log(paths[:, -1, :])
    c = np.corrcoef(end.T)
    assert c[0, 1] > 0.9
    assert abs(c[0, 2]) < 0.3
