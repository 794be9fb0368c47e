"""Hourly GPU demand models with one contract: ``fit(y) -> self``, ``predict(h)``, ``simulate(h, n, rng)``.

Every model takes an hourly series ``y_gpus`` (1-D float array, no NaN: outage and gap hours already
imputed, see :meth:`forecasting.pools.PooledUsage.for_fitting`) whose last value is the hour before
the forecast starts. Models are calendar-free: periods are aligned to the **end** of the history, so
"day" ``d`` is the block of 24 hours ending ``24·d`` hours before the forecast start.

Models (``MODELS`` maps their names to classes):

- ``snaive24`` / ``snaive168`` — seasonal naive: ``ŷ_{T+h} = y_{T+h−m·⌈h/m⌉}`` with ``m`` = 24 or 168.
- ``smean168`` — seasonal mean: ``ŷ_{T+h} = (1/K) Σ_{k=1..K} y_{T+h−168·(k−1+⌈h/168⌉)}``, the mean
  of the last ``K`` = 4 weeks (fewer if the history is shorter) at the same hour of week.
- ``ets`` — Holt-Winters on daily means with an hour-of-week profile. With ``D_d`` the daily mean
  GPUs, additive damped trend and weekly seasonality (period 7 days)::

      ℓ_d = α (D_d − s_{d−7}) + (1−α)(ℓ_{d−1} + φ b_{d−1})
      b_d = β (ℓ_d − ℓ_{d−1}) + (1−β) φ b_{d−1}
      s_d = γ (D_d − ℓ_d) + (1−γ) s_{d−7}
      D̂_{T+k} = ℓ_T + (φ + … + φ^k) b_T + s_{T+k−7⌈k/7⌉}

  (:func:`fit_holt_winters`: φ = 0.9, (α, β, γ) by grid search on the one-step error; without
  seasonality below 14 days, a mean below 4 days).
  The hourly forecast adds ``p(t)``, the mean deviation of ``y`` from its day's mean at that hour of
  week over the last 4 weeks (hour of day over the last 7 days when history is shorter than 3 weeks):
  ``ŷ_t = D̂_{day(t)} + p(t)``. Daily plus weekly seasonality and a damped trend, at the cost of one
  fit on ~365 points instead of 8,760.
- ``mstl_arima`` — MSTL (statsmodels, periods 24 h and 168 h) on the last 8 weeks; each seasonal
  component is forecast by repeating its last period, and the seasonally adjusted series
  ``a_t = y_t − Σ_i s_i(t)`` (trend + remainder) of the last 4 weeks by ARIMA(1,1,1):
  ``(1 − φL)(1 − L) a_t = (1 + θL) ε_t``, fitted by conditional sum of squares
  (:func:`fit_arima111`). ``ŷ_t = â_t + Σ_i s_i(t)``.
- ``combo`` — the equal-weight mean of ``ets``, ``mstl_arima`` and ``smean168`` (those that fit).

**Uncertainty** (shared by every model, :class:`ErrorModel`, :func:`simulate_paths`). Path ``s`` of
pool ``p`` at hour ``t`` of forecast day ``k`` (k = 1, 2, …)::

    Y[s,t,p] = max(0, (ŷ[t,p] + c_p·r[s,t,p]) · exp(c_p·X[s,k,p]))
    X[s,k,p] = √a_p · w[s,k,p] + √b_p · Σ_{j≤k} u[s,j,p]

- ``r`` are 24-hour blocks of out-of-sample hourly residuals of the last 8 weeks: a day's deviations
  from its own mean minus the mean deviations of the same weekday over the 4 weeks before (what the
  daily level and the profile, as the forecast uses them, do not explain);
- ``w`` and ``u`` are standardised daily innovations of the history (weekly log-changes of the daily
  means, each pool scaled to mean 0, sd 1);
- each of the three is drawn by **joint bootstrap**: per (path, forecast day) one random history day
  (an independent draw for each of ``w``, ``u`` and ``r``) is used for every pool, so the cross-pool
  correlation and the tails of the history carry into the scenarios.
- ``Var X_k = a + b·k``: a day-level error that does not grow (``a``) plus a random walk of the
  level (``b``), so trend uncertainty grows with the horizon (``√k``). ``a`` and ``b`` are fitted by
  least squares (``a, b ≥ 0``) to the squared log errors of daily means in the rolling-origin
  backtest, ``e_{o,k} = log((D_k + ε)/(D̂_k + ε))`` with ``ε = max(1 % of the mean, 1 GPU)``
  (:func:`fit_error_growth`); without a backtest, ``a = 0`` and ``b`` = the variance of day-to-day
  log changes. Guardrails: ``√a ≤ ln 2`` and ``√(365·b) ≤ ln 2`` (a backtest of a few weeks says
  little about years; user growth assumptions express what is known beyond that).

``c_p`` (1 unless calibrated, see :func:`forecasting.forecast.calibrate_scale`) scales both noise
terms so that the backtest's P10–P90 coverage is near 80 %.

The level factor is moment-matched: ``exp(c·X[s,k,p])`` is divided by its mean over the paths on
each forecast day ``k``, so the **mean** of the scenarios follows the point forecast (before clipping
at 0 GPUs). Without it, the day-level term alone would lift the average of a path over many days by
``exp(c²a/2)`` (the mean of a log-normal, not its median): up to ×1.27 for the noisiest series, which
inflated expected demand for the LP, whose costs are sums over hours.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np

H_DAY = 24
H_WEEK = 168


def _as_series(y: np.ndarray) -> np.ndarray:
    arr = np.asarray(y, dtype=float).ravel()
    if arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError("series must be non-empty and finite")
    return arr


def daily_means(y: np.ndarray) -> np.ndarray:
    """Means of the complete 24-hour blocks of ``y``, aligned to its end (oldest first)."""
    n_days = y.size // H_DAY
    if n_days == 0:
        return np.array([float(y.mean())])
    return y[y.size - n_days * H_DAY :].reshape(n_days, H_DAY).mean(axis=1)


def hourly_profile(y: np.ndarray) -> np.ndarray:
    """Mean deviation from the day's mean per hour of week (168) or hour of day (24), end-aligned.

    Over the last 4 weeks when ``y`` has >= 3 weeks, else over the last 7 days (hour of day).
    """
    n_days = y.size // H_DAY
    if n_days == 0:
        return np.zeros(H_DAY)
    days = y[y.size - n_days * H_DAY :].reshape(n_days, H_DAY)
    dev = days - days.mean(axis=1, keepdims=True)
    if n_days >= 21:
        weeks = min(4, n_days // 7)
        block = dev[-7 * weeks :].reshape(weeks, 7 * H_DAY)
        return np.asarray(block.mean(axis=0))
    return np.asarray(dev[-7:].mean(axis=0))


def tile_profile(profile: np.ndarray, horizon_h: int) -> np.ndarray:
    """Continue an end-aligned periodic profile for ``horizon_h`` hours."""
    period = profile.size
    return np.asarray(profile[np.arange(horizon_h) % period])


class DemandModel(ABC):
    """The contract: ``fit(y_gpus) -> self``; ``predict(h) -> (h,)``; ``simulate(h, n, rng) -> (n, h)``."""

    name: ClassVar[str]
    #: fewest hours of history the model can fit
    min_history_h: ClassVar[int] = H_DAY

    def __init__(self) -> None:
        self._y: np.ndarray | None = None

    def fit(self, y_gpus: np.ndarray) -> Self:
        y = _as_series(y_gpus)
        if y.size < self.min_history_h:
            raise ValueError(f"{self.name} needs at least {self.min_history_h} hours of history")
        self._y = y
        self._fit(y)
        return self

    @abstractmethod
    def _fit(self, y: np.ndarray) -> None: ...

    @abstractmethod
    def _predict(self, horizon_h: int) -> np.ndarray: ...

    def predict(self, horizon_h: int) -> np.ndarray:
        """Point (median) forecast of the next ``horizon_h`` hours, >= 0."""
        if self._y is None:
            raise RuntimeError("fit the model first")
        out = np.asarray(self._predict(int(horizon_h)), dtype=float)
        if out.shape != (horizon_h,) or not np.isfinite(out).all():
            raise FloatingPointError(f"{self.name} produced an invalid forecast")
        return np.maximum(out, 0.0)

    def simulate(self, horizon_h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        """``n_paths`` sample paths of the next ``horizon_h`` hours (the shared error model)."""
        if self._y is None:
            raise RuntimeError("fit the model first")
        err = ErrorModel.from_history(self._y[:, None])
        return simulate_paths(self.predict(horizon_h)[:, None], err, n_paths, rng)[:, :, 0]


class SeasonalNaive(DemandModel):
    """``ŷ_{T+h} = y_{T+h−m⌈h/m⌉}``: repeat the last period of ``m`` hours."""

    def __init__(self, period_h: int = H_WEEK) -> None:
        super().__init__()
        self.period_h = period_h
        self._last = np.zeros(period_h)

    @property
    def min_history_h(self) -> int:  # type: ignore[override]
        return self.period_h

    def _fit(self, y: np.ndarray) -> None:
        self._last = y[-self.period_h :]

    def _predict(self, horizon_h: int) -> np.ndarray:
        return tile_profile(self._last, horizon_h)


class SeasonalNaive24(SeasonalNaive):
    name = "snaive24"

    def __init__(self) -> None:
        super().__init__(H_DAY)


class SeasonalNaive168(SeasonalNaive):
    name = "snaive168"

    def __init__(self) -> None:
        super().__init__(H_WEEK)


def fit_holt_winters(
    daily: np.ndarray, *, period: int = 7, damping: float = 0.9
) -> tuple[tuple[float, float, float], np.ndarray, float, float]:
    """Additive damped Holt-Winters by grid search of (α, β, γ) on the one-step squared error.

    Every grid point runs at once (numpy arrays over the grid; the loop is over days only). Start:
    ``ℓ_0`` = mean of the first period, ``b_0`` = (mean of the second period − the first)/period
    (0 with less than two periods), ``s_0`` = the first period's deviations from ``ℓ_0``. Without two
    full periods there is no seasonality (γ = 0, s = 0). Returns ((α, β, γ), season (period,),
    level, trend) at the end of the series; season index ``i`` applies to days ``t ≡ i (mod period)``
    counted from the first day.
    """
    d = np.asarray(daily, dtype=float)
    n = d.size
    seasonal = n >= 2 * period
    alphas = np.array([0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 0.95])
    betas = np.array([0.0, 0.02, 0.05, 0.1, 0.2])
    gammas = np.array([0.02, 0.05, 0.1, 0.2, 0.4]) if seasonal else np.array([0.0])
    ga, gb, gg = (x.ravel() for x in np.meshgrid(alphas, betas, gammas, indexing="ij"))
    k = ga.size
    first = d[:period] if n >= period else d
    level = np.full(k, first.mean())
    trend = np.full(k, (d[period : 2 * period].mean() - first.mean()) / period if seasonal else 0.0)
    season = np.zeros((period, k))
    if seasonal:
        season += (d[:period] - first.mean())[:, None]
    sse = np.zeros(k)
    for t in range(n):
        i = t % period
        s_i = season[i]
        err = d[t] - (level + damping * trend + s_i)
        if t >= period:
            sse += err * err
        new_level = ga * (d[t] - s_i) + (1 - ga) * (level + damping * trend)
        trend = gb * (new_level - level) + (1 - gb) * damping * trend
        season[i] = gg * (d[t] - new_level) + (1 - gg) * s_i
        level = new_level
    best = int(np.argmin(sse))
    return (
        (float(ga[best]), float(gb[best]), float(gg[best])),
        season[:, best].copy(),
        float(level[best]),
        float(trend[best]),
    )


class SeasonalMean(DemandModel):
    """``ŷ_{T+h}`` = mean of the last ``K`` weeks (at most 4) at the same hour of week.

    A seasonal naive forecast averaged over weeks: less of one week's noise, and a level that
    reverts to the recent weeks' mean, which suits flat series whose level wanders and returns.
    """

    name = "smean168"
    min_history_h = H_WEEK
    weeks = 4

    def __init__(self) -> None:
        super().__init__()
        self._profile = np.zeros(H_WEEK)

    def _fit(self, y: np.ndarray) -> None:
        k = max(1, min(self.weeks, y.size // H_WEEK))
        self._profile = y[y.size - k * H_WEEK :].reshape(k, H_WEEK).mean(axis=0)

    def _predict(self, horizon_h: int) -> np.ndarray:
        return tile_profile(self._profile, horizon_h)


class ETSProfile(DemandModel):
    """Holt-Winters (damped additive trend, weekly seasonality) on daily means + hourly profile."""

    name = "ets"
    min_history_h = 2 * H_DAY

    def __init__(self, damping: float = 0.9) -> None:
        super().__init__()
        self.damping = damping
        self._profile = np.zeros(H_DAY)
        self._mean = 0.0
        self._n_days = 0
        self._state: tuple[np.ndarray, float, float] | None = None

    def _fit(self, y: np.ndarray) -> None:
        daily = daily_means(y)
        self._profile = hourly_profile(y)
        self._mean = float(daily[-7:].mean())
        self._n_days = daily.size
        self._state = None
        if daily.size < 4:
            return
        _, season, level, trend = fit_holt_winters(daily, damping=self.damping)
        self._state = (season, level, trend)

    def _predict(self, horizon_h: int) -> np.ndarray:
        n_days = math.ceil(horizon_h / H_DAY)
        if self._state is None:
            daily_hat = np.full(n_days, self._mean)
        else:
            season, level, trend = self._state
            k = np.arange(1, n_days + 1)
            phi = self.damping
            damp_sum = phi * (1 - phi**k) / (1 - phi)
            daily_hat = level + damp_sum * trend + season[(self._n_days + k - 1) % season.size]
        level_h = np.repeat(daily_hat, H_DAY)[:horizon_h]
        return np.asarray(level_h + tile_profile(self._profile, horizon_h))


def fit_arima111(a: np.ndarray) -> tuple[float, float, float]:
    """ARIMA(1,1,1) without constant by conditional sum of squares: returns (φ, θ, last e).

    With ``x_t = a_t − a_{t−1}``: ``x_t = φ x_{t−1} + e_t + θ e_{t−1}``, so
    ``e = lfilter([1, −φ], [1, θ], x)`` (a linear filter in C) and ``(φ, θ)`` minimise ``Σ e_t²``
    over ``|φ|, |θ| <= 0.98`` (L-BFGS-B). Cheap and free of BLAS threading, unlike state-space MLE.
    """
    from scipy.optimize import minimize
    from scipy.signal import lfilter

    x = np.diff(np.asarray(a, dtype=float))
    if x.size < 4 or not np.any(x):
        return 0.0, 0.0, 0.0
    scale = float(np.std(x)) or 1.0
    xs = x / scale

    def css(params: np.ndarray) -> float:
        phi, theta = params
        e = lfilter([1.0, -phi], [1.0, theta], xs)
        return float(np.dot(e, e))

    res = minimize(css, np.array([0.1, -0.3]), method="L-BFGS-B", bounds=[(-0.98, 0.98)] * 2)
    phi, theta = (float(v) for v in res.x)
    e = lfilter([1.0, -phi], [1.0, theta], x)
    return phi, theta, float(e[-1])


def forecast_arima111(
    a: np.ndarray, phi: float, theta: float, last_e: float, horizon_h: int
) -> np.ndarray:
    """``â_{T+h} = a_T + Σ_{j≤h} x̂_{T+j}``, ``x̂_{T+1} = φ x_T + θ e_T``, ``x̂_{T+j} = φ x̂_{T+j−1}``."""
    x_last = float(a[-1] - a[-2]) if a.size >= 2 else 0.0
    first = phi * x_last + theta * last_e
    steps = first * phi ** np.arange(horizon_h)
    return np.asarray(a[-1] + np.cumsum(steps))


#: STL's settings in MSTL (see :class:`MSTLArima`): LOESS evaluation steps for the trend and
#: low-pass smoothers, and the inner (backfitting) passes
STL_SETTINGS = {"trend_jump": 5, "low_pass_jump": 3, "inner_iter": 2}


class MSTLArima(DemandModel):
    """MSTL (24 h, 168 h) + ARIMA(1,1,1) on the seasonally adjusted series.

    The LOESS smoothers of STL's trend and low-pass steps are evaluated every ``trend_jump`` /
    ``low_pass_jump`` points and interpolated linearly between (Cleveland et al. 1990, §3; R's
    ``stl`` does the same by default, with jump = ⌈window / 10⌉). The jumps used, 5 and 3, are R's
    defaults for the 24-hour period and smaller than its defaults for the 168-hour one; they make
    the fit about 4× faster (0.35 → 0.09 s on 8 weeks of hours) and move the seasonal components
    by at most 0.02 GPUs on a series with 3 GPUs of noise.

    STL runs 2 inner (backfitting) passes, R's default without robustness iterations and the
    number Cleveland et al. recommend then; statsmodels' default is 5. On 8 weeks of hours this
    makes a fit a further 2.6× faster (50 → 19 ms) and leaves the residual spread unchanged to
    three digits, but the components move a little (up to 0.5 GPUs on a series with 4 GPUs of
    noise), which can move a backtest MAE across the combination's 10 % margin and so change the
    chosen model (bench/RESULTS-forecasting.md and RESULTS-scale.md, session 5).
    """

    name = "mstl_arima"
    min_history_h = 3 * H_DAY
    fit_window_h = 8 * H_WEEK
    arima_window_h = 4 * H_WEEK

    def __init__(self) -> None:
        super().__init__()
        self._seasonals: list[np.ndarray] = []
        self._adjusted = np.zeros(1)
        self._arima = (0.0, 0.0, 0.0)

    def _fit(self, y: np.ndarray) -> None:
        from statsmodels.tsa.seasonal import MSTL

        window = y[-self.fit_window_h :]
        periods = (H_DAY, H_WEEK) if window.size >= 2 * H_WEEK else (H_DAY,)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # MSTL pops ``inner_iter`` from the dict it is given: pass a copy
            res = MSTL(window, periods=periods, iterate=1, stl_kwargs=dict(STL_SETTINGS)).fit()
        seasonal = np.asarray(res.seasonal).reshape(window.size, -1)
        self._seasonals = [
            seasonal[-p:, i].copy() for i, p in enumerate(periods[: seasonal.shape[1]])
        ]
        self._adjusted = (window - seasonal.sum(axis=1))[-self.arima_window_h :]
        self._arima = fit_arima111(self._adjusted)

    def _predict(self, horizon_h: int) -> np.ndarray:
        phi, theta, last_e = self._arima
        adjusted = forecast_arima111(self._adjusted, phi, theta, last_e, horizon_h)
        season = sum((tile_profile(s, horizon_h) for s in self._seasonals), np.zeros(horizon_h))
        return np.asarray(adjusted + season)


class Combination(DemandModel):
    """Equal-weight mean of ``ets``, ``mstl_arima`` and ``smean168`` (the components that fit).

    Forecast combination: errors of different models partly cancel, so the mean is rarely much
    worse than the best component and often better than each.
    """

    name = "combo"
    components: ClassVar[tuple[str, ...]] = ("ets", "mstl_arima", "smean168")
    min_history_h = 2 * H_DAY

    def __init__(self) -> None:
        super().__init__()
        self._fitted: list[DemandModel] = []

    def _fit(self, y: np.ndarray) -> None:
        self._fitted = []
        for c in self.components:
            model = MODELS[c]()
            if y.size < model.min_history_h:
                continue
            try:
                model.fit(y)
                model.predict(H_DAY)
            except Exception:
                continue
            self._fitted.append(model)
        if not self._fitted:
            raise ValueError("no component of the combination could fit")

    def _predict(self, horizon_h: int) -> np.ndarray:
        return np.mean([m.predict(horizon_h) for m in self._fitted], axis=0)


MODELS: dict[str, type[DemandModel]] = {
    m.name: m
    for m in (SeasonalNaive24, SeasonalNaive168, SeasonalMean, ETSProfile, MSTLArima, Combination)
}
DEFAULT_MODELS: tuple[str, ...] = (
    "snaive24",
    "snaive168",
    "smean168",
    "ets",
    "mstl_arima",
    "combo",
)


def make_model(name: str) -> DemandModel:
    return MODELS[name]()


# --------------------------------------------------------------------------------------------
# Error model and joint simulation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorModel:
    """What :func:`simulate_paths` draws from (see the module docstring).

    ``innovations`` (n_days, P): standardised daily innovations; ``blocks`` (n_blocks, 24, P): hourly
    residual blocks in GPUs; ``a``/``b`` (P,): log-level variance ``Var X_k = a + b·k``; ``scale``
    (P,): a factor ``c`` on both noise terms, ``Y = (ŷ + c·r)·exp(c·X)`` (1 when None).
    """

    innovations: np.ndarray
    blocks: np.ndarray
    a: np.ndarray
    b: np.ndarray
    scale: np.ndarray | None = None

    @classmethod
    def from_history(
        cls, y: np.ndarray, missing: np.ndarray | None = None, max_days: int = 365
    ) -> ErrorModel:
        """Innovations and residual blocks of an hourly history ``y`` (n_hours, P)."""
        y = np.asarray(y, dtype=float)
        n, n_pools = y.shape
        n_days = max(1, n // H_DAY)
        use = min(n_days, max_days)
        days = y[n - use * H_DAY :].reshape(use, H_DAY, n_pools) if n >= H_DAY else None
        if days is None:
            zeros = np.zeros((1, n_pools))
            return cls(zeros, np.zeros((1, H_DAY, n_pools)), np.zeros(n_pools), np.zeros(n_pools))
        dmean = days.mean(axis=1)  # (use, P)
        eps = np.array([log_floor_gpus(float(m)) for m in dmean.mean(axis=0)])
        logd = np.log(dmean + eps)
        lag = 7 if use >= 21 else 1
        if use > lag + 1:
            ch = logd[lag:] - logd[:-lag]
            step_var = (
                np.var(logd[1:] - logd[:-1], axis=0, ddof=1) if use > 2 else np.zeros(n_pools)
            )
        else:
            ch = np.zeros((1, n_pools))
            step_var = np.zeros(n_pools)
        sd = ch.std(axis=0, ddof=0)
        innov = np.where(sd > 0, (ch - ch.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
        # hourly residual blocks, out of sample: a day's deviations from its mean minus the mean
        # deviations of the same weekday in the 4 weeks before (of the 7 days before, < 3 weeks)
        dev = days - dmean[:, None, :]  # (use, 24, P)
        lags = (7, 14, 21, 28) if use >= 21 else tuple(range(1, 8))
        acc = np.zeros_like(dev)
        cnt = np.zeros(use)
        for lag in lags:
            if lag < use:
                acc[lag:] += dev[:-lag]
                cnt[lag:] += 1
        have = cnt > 0
        if have.any():
            resid = dev[have] - acc[have] / cnt[have][:, None, None]
            first_day = int(np.flatnonzero(have)[0])
        else:
            resid, first_day = dev, 0
        recent = min(resid.shape[0], 56)
        blocks = resid[-recent:]
        if missing is not None:
            miss = np.asarray(missing, dtype=bool)[n - use * H_DAY :].reshape(use, H_DAY, -1)
            miss = miss[first_day:][-recent:]
            keep = ~miss.any(axis=(1, 2))
            if keep.any():
                blocks = blocks[keep]
        return cls(
            innovations=innov,
            blocks=blocks,
            a=np.zeros(n_pools),
            b=np.minimum(np.nan_to_num(step_var), MAX_LEVEL_VAR_B_PER_DAY),
        )

    def with_growth(
        self, a: np.ndarray, b: np.ndarray, scale: np.ndarray | None = None
    ) -> ErrorModel:
        return ErrorModel(
            self.innovations,
            self.blocks,
            np.asarray(a, dtype=float),
            np.asarray(b, dtype=float),
            None if scale is None else np.asarray(scale, dtype=float),
        )


#: guardrails on the log-level variance: one standard deviation of the day-level error is at most
#: a factor 2, and of the level's random walk after 365 days at most a factor 2 (user growth
#: assumptions come on top). Backtests of a few weeks say little about years.
MAX_LEVEL_VAR_A = math.log(2.0) ** 2
MAX_LEVEL_VAR_B_PER_DAY = math.log(2.0) ** 2 / 365.0


def log_floor_gpus(mean_gpus: float) -> float:
    """``ε`` in ``log(D + ε)``: 1 % of the mean, at least 1 GPU (sparse pools stay tame)."""
    return max(0.01 * mean_gpus, 1.0)


def fit_error_growth(sq_err_by_day: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Least squares ``a, b >= 0`` of ``mean e_k² ≈ a + b·k`` (k = 1..K), weighted by counts,
    then capped at :data:`MAX_LEVEL_VAR_A` and :data:`MAX_LEVEL_VAR_B_PER_DAY`."""
    a, b = _fit_error_growth(sq_err_by_day, counts)
    return min(a, MAX_LEVEL_VAR_A), min(b, MAX_LEVEL_VAR_B_PER_DAY)


def _fit_error_growth(sq_err_by_day: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    k = np.arange(1, sq_err_by_day.size + 1, dtype=float)
    w = np.asarray(counts, dtype=float)
    ok = w > 0
    if ok.sum() == 0:
        return 0.0, 0.0
    k, m, w = k[ok], np.asarray(sq_err_by_day)[ok], w[ok]
    if k.size == 1:
        return 0.0, float(m[0] / k[0])
    design = np.stack([np.ones_like(k), k], axis=1) * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(design, m * np.sqrt(w), rcond=None)
    a, b = float(coef[0]), float(coef[1])
    if b < 0:
        return float(np.average(m, weights=w)), 0.0
    if a < 0:
        return 0.0, float(np.sum(w * k * m) / np.sum(w * k * k))
    return a, b


def simulate_paths(
    point: np.ndarray,
    err: ErrorModel,
    n_paths: int,
    rng: np.random.Generator,
    *,
    multiplier: np.ndarray | None = None,
    addend: np.ndarray | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """Paths (n_paths, H, P) around ``point`` (H, P); see the module docstring for the maths.

    ``multiplier`` and ``addend`` (H, P) apply user growth to the non-negative paths:
    ``max(0, Y·m + add)`` (``add`` may be negative, e.g. a planned decommission).
    """
    horizon_h, n_pools = point.shape
    n_days = math.ceil(horizon_h / H_DAY)
    d_hist = err.innovations.shape[0]
    idx_w = rng.integers(0, d_hist, size=(n_paths, n_days))
    idx_u = rng.integers(0, d_hist, size=(n_paths, n_days))
    idx_r = rng.integers(0, err.blocks.shape[0], size=(n_paths, n_days))
    out: np.ndarray = np.empty((n_paths, horizon_h, n_pools), dtype=dtype)
    for p in range(n_pools):
        w = err.innovations[idx_w, p]
        u = np.cumsum(err.innovations[idx_u, p], axis=1)
        c = 1.0 if err.scale is None else float(err.scale[p])
        x = c * (math.sqrt(max(err.a[p], 0.0)) * w + math.sqrt(max(err.b[p], 0.0)) * u)
        level = np.exp(x)
        # moment matching: on every forecast day the mean factor over the paths is exactly 1, so
        # the scenarios' mean follows the point forecast (module docstring)
        level /= level.mean(axis=0, keepdims=True)
        factor = np.repeat(level, H_DAY, axis=1)[:, :horizon_h]
        r = c * err.blocks[idx_r, :, p].reshape(n_paths, n_days * H_DAY)[:, :horizon_h]
        y = (point[None, :, p] + r) * factor
        np.maximum(y, 0.0, out=y)
        if multiplier is not None:
            y *= multiplier[None, :, p]
        if addend is not None:
            y += addend[None, :, p]
            np.maximum(y, 0.0, out=y)
        out[:, :, p] = y
    return out
