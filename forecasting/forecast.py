"""Per-pool model choice by rolling-origin backtest, and joint scenario generation: :func:`forecast`.

1. **Fitting data.** Outage and gap hours are imputed (:meth:`PooledUsage.for_fitting`) so models do
   not learn that demand vanishes; the actual values are kept for scoring, where those hours are
   left out.
2. **Backtest** (:func:`backtest`). Origins ``T_o = n − H_bt − i·s`` for ``i = 0..n_origins−1``
   (default 5 origins, ``s`` = 84 h apart) with at least ``2·168`` hours of training; the horizon
   ``H_bt`` is 28 days when the history has at least 10 weeks, 7 days with at least 3 weeks, else a
   third of the history. For each pool, model and origin: fit on ``y[:T_o]``, forecast ``H_bt``
   hours, and record

   - ``MAE = mean_t |y_t − ŷ_t|`` over the non-missing hours of the horizon;
   - ``MASE = MAE / mean_t |y_t − y_{t−m}|`` (in-sample seasonal naive, ``m`` = 168, or 24 with
     less than 2 weeks; Hyndman & Koehler 2006): < 1 means better than a seasonal-naive forecast;
   - ``rel_mae`` = MAE / MAE of ``snaive168`` at the same origins (out-of-sample);
   - the squared log error of each forecast day's mean (for the uncertainty, below).

   The model with the lowest mean MAE wins, except that ``combo`` (the mean of ``ets``,
   ``mstl_arima`` and ``smean168``) is preferred unless the winner beats it by more than 10 %
   (``COMBO_MARGIN``): with five origins the ranking is noisy, and on the real series the
   combination beat the model picked by a plain lowest-MAE rule out of sample.
   A model that raises or returns non-finite values is skipped for that pool (recorded in
   ``notes``); ``ets`` then ``snaive24`` are the last resorts. With too little history for any
   origin, ``ets`` is used and the metrics are NaN.
3. **Decision scenarios** (default, ``scenario_method="residual"``,
   :mod:`forecasting.error_scenarios`). The point forecast is kept; the scenarios apply whole
   paths of the chosen model's own out-of-sample level errors (actual/forecast day means) taken
   at 12 daily rolling origins, horizon-matched (up to 28 days, then a random walk of the level),
   with a damped adaptive-conformal correction of their quantile levels when recent errors drift,
   and the bootstrapped hourly residual blocks, scaled by the calibrated ``c`` below, for the
   hourly shape only. Pools whose history is too short for 8 such origins fall back to the
   bootstrap below (noted in ``metrics``).
4. **Bootstrap** (the fallback, or ``scenario_method="bootstrap"``). ``Var log(D_k/D̂_k) ≈ a + b·k``
   is fitted per pool (:func:`forecasting.models.fit_error_growth`) to the day-level squared log
   errors averaged over **all** candidate models (the chosen model's own errors are optimistic: it
   was chosen for having small ones on these very origins). Then one factor ``c`` per pool scales
   both noise terms so that the P10–P90 band covers 80 % of the backtest actuals
   (:func:`calibrate_scale`: each origin's error model is rebuilt from the history before it,
   ``c`` from a grid 0.8–2). Paths are simulated jointly for all pools
   (:func:`forecasting.models.simulate_paths`, joint bootstrap of history days). ``b`` also drives
   the residual scenarios' level walk beyond their error horizon.

Then user growth is applied (:class:`forecasting.growth.Growth`). Every scenario has probability
``1/N``.

Cost: per pool ``n_origins`` (+ 12 for the residual errors) × (one Holt-Winters grid fit on daily
means, one MSTL on ≤ 8 weeks, one CSS ARIMA on ≤ 4 weeks), the calibration of ``c`` (8 scales ×
40 paths at each backtest origin, about 0.07 CPU-s), then the simulation, ``O(N · H · P)``
memory (float64: 100 paths × 26,280 h × 6 pools = 126 MB for 36 months).

Deterministic for a given ``seed`` (``numpy.random.default_rng(seed)``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.error_scenarios import (
    MIN_ERROR_ORIGINS,
    OriginErrors,
    aci_levels,
    copula_levels,
    error_horizon_days,
    error_paths,
    origin_errors,
    simulate_from_errors,
)
from forecasting.growth import Growth
from forecasting.models import (
    DEFAULT_MODELS,
    H_DAY,
    H_WEEK,
    MODELS,
    Combination,
    ErrorModel,
    fit_error_growth,
    log_floor_gpus,
    make_model,
    simulate_paths,
)
from forecasting.parallel import fit_pools, map_pools
from forecasting.pools import PooledUsage
from forecasting.scenarios import DemandScenarios
from pricing_data.errors import PlannerInputError, UnknownNameError

MAX_HORIZON_H = 37 * 31 * H_DAY
#: a single model is chosen over ``combo`` only if its backtest MAE is below this share of combo's
COMBO_MARGIN = 0.90
MIN_HISTORY_H = 2 * H_DAY


@dataclass(frozen=True)
class BacktestResult:
    """Backtest of every candidate model on one pool.

    ``scores`` rows: ``model, origins, mae, mase, rel_mae, error``; ``sq_log_err`` maps a model to
    (sum of squared daily log errors by forecast day, count by day).
    """

    scores: pd.DataFrame
    sq_log_err: dict[str, tuple[np.ndarray, np.ndarray]]
    horizon_h: int
    origins: tuple[int, ...]
    #: model -> origin -> point forecast of the ``horizon_h`` hours after the origin
    preds: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)


def backtest_horizon(n_hours: int) -> int:
    if n_hours >= 8 * H_WEEK + 2 * H_WEEK:
        return 4 * H_WEEK
    if n_hours >= 3 * H_WEEK:
        return H_WEEK
    return max(H_DAY, (n_hours // 3) // H_DAY * H_DAY)


def backtest(
    y_fit: np.ndarray,
    y_actual: np.ndarray,
    missing: np.ndarray,
    models: Sequence[str],
    *,
    horizon_h: int | None = None,
    n_origins: int = 3,
    step_h: int = H_WEEK,
) -> BacktestResult:
    """Rolling-origin backtest of ``models`` on one hourly series (see the module docstring).

    Each base model is fitted once per origin; the ``combo`` forecast is the mean of its
    components' backtest forecasts (no extra fits).
    """
    n = y_fit.size
    horizon = horizon_h or backtest_horizon(n)
    min_train = min(2 * H_WEEK, max(2 * H_DAY, n - horizon - (n_origins - 1) * step_h))
    origins = tuple(
        o for o in (n - horizon - i * step_h for i in range(n_origins)) if o >= min_train
    )
    n_days = math.ceil(horizon / H_DAY)
    wanted = list(dict.fromkeys(["snaive168", *models]))
    base = [m for m in wanted if m != Combination.name]
    if Combination.name in wanted:
        base += [c for c in Combination.components if c not in base]
    preds: dict[str, dict[int, np.ndarray]] = {m: {} for m in [*base, Combination.name]}
    errors: dict[str, list[str]] = {m: [] for m in preds}
    for o in origins:
        train = y_fit[:o]
        for name in base:
            try:
                model = make_model(name)
                if train.size < model.min_history_h:
                    raise ValueError(f"needs {model.min_history_h} h of history")
                preds[name][o] = model.fit(train).predict(horizon)
            except Exception as e:
                errors[name].append(f"{type(e).__name__}: {e}")
        if Combination.name not in wanted:
            continue
        parts = [preds[c][o] for c in Combination.components if o in preds[c]]
        if parts:
            preds[Combination.name][o] = np.mean(parts, axis=0)
        else:
            errors[Combination.name].append("no component could fit")
    rows = []
    sq: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    snaive_mae = [
        float(np.mean(np.abs(y_actual[o : o + horizon] - p)[~missing[o : o + horizon]]))
        for o, p in preds["snaive168"].items()
        if (~missing[o : o + horizon]).any()
    ]
    for name in wanted:
        if name == "snaive168" and "snaive168" not in models:
            continue
        maes, mases = [], []
        sums, counts = np.zeros(n_days), np.zeros(n_days)
        for o, pred in preds[name].items():
            train = y_fit[:o]
            actual = y_actual[o : o + horizon]
            ok = ~missing[o : o + horizon]
            if not ok.any():
                continue
            mae = float(np.mean(np.abs(actual[ok] - pred[ok])))
            m = H_WEEK if o >= 2 * H_WEEK else H_DAY
            scale = float(np.mean(np.abs(train[m:] - train[:-m])))
            maes.append(mae)
            mases.append(mae / scale if scale > 0 else np.nan)
            if horizon % H_DAY == 0:
                days_ok = ok.reshape(-1, H_DAY).all(axis=1)
                a_d = actual.reshape(-1, H_DAY).mean(axis=1)
                f_d = pred.reshape(-1, H_DAY).mean(axis=1)
                eps = log_floor_gpus(float(np.mean(train)))
                e2 = np.log((a_d + eps) / (f_d + eps)) ** 2
                sums[days_ok] += e2[days_ok]
                counts[days_ok] += 1
        mean_mae = float(np.mean(maes)) if maes else np.nan
        rel = (
            mean_mae / float(np.mean(snaive_mae))
            if maes and snaive_mae and np.mean(snaive_mae) > 0
            else np.nan
        )
        rows.append(
            {
                "model": name,
                "origins": len(maes),
                "mae": mean_mae,
                "mase": float(np.nanmean(mases)) if np.isfinite(mases).any() else np.nan,
                "rel_mae": rel,
                "error": "; ".join(sorted(set(errors[name]))),
            }
        )
        sq[name] = (sums, counts)
    return BacktestResult(pd.DataFrame(rows), sq, horizon, origins, preds)


@dataclass(frozen=True)
class Forecast:
    """The forecast: ``scenarios`` plus per-pool model choice, backtest metrics and history.

    ``metrics`` rows (one per pool): ``pool, model, mase, rel_mae, mae_gpus, backtest_origins,
    backtest_horizon_h, level_var_a, level_var_b_per_day, interval_scale, backtest_cov80_pct,
    scenario_method, error_origins, error_horizon_d, error_median_ratio, aci_alpha_p10/p50/p90,
    notes``. ``interval_scale`` is the calibrated noise scale ``c`` of :func:`calibrate_scale` (it
    scales both noise terms of the bootstrap and the hourly residuals of the residual scenarios),
    and ``backtest_cov80_pct`` the P10–P90 coverage of the *bootstrapped* model at that ``c`` on
    the backtest: for a pool on residual scenarios it is not the coverage of its scenarios (those
    are measured by bench/forecast_accuracy.py). ``backtests`` maps a pool name to the scores of
    every candidate model.
    """

    scenarios: DemandScenarios
    metrics: pd.DataFrame
    backtests: dict[str, pd.DataFrame]
    history: pd.DataFrame
    growth: Growth
    meta: dict[str, Any] = field(default_factory=dict)
    #: the chosen models' point (median) forecasts before growth, shape (n_hours, n_pools)
    point_gpus: np.ndarray | None = None

    @property
    def models(self) -> dict[str, str]:
        return dict(zip(self.metrics["pool"], self.metrics["model"], strict=True))

    def quantiles(self, qs: Sequence[float] = (0.1, 0.5, 0.9)) -> pd.DataFrame:
        """Long table ``timestamp, pool, p10, p50, p90…`` of hourly demand quantiles (GPUs)."""
        q = self.scenarios.quantiles(tuple(qs))
        ts = self.scenarios.timestamps
        frames = []
        for j, pool in enumerate(self.scenarios.pools):
            cols = {f"p{round(100 * x):02d}": q[i, :, j] for i, x in enumerate(qs)}
            frames.append(
                pd.DataFrame(
                    {"timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "pool": pool.name, **cols}
                )
            )
        return pd.concat(frames, ignore_index=True)

    def monthly_summary(self, qs: Sequence[float] = (0.1, 0.5, 0.9)) -> pd.DataFrame:
        """Per pool and calendar month: quantiles over scenarios of the month's mean GPUs."""
        d = self.scenarios.demand_gpus
        months = self.scenarios.timestamps.tz_localize(None).to_period("M")
        codes, uniques = pd.factorize(months)
        rows = []
        counts = np.bincount(codes)
        for j, pool in enumerate(self.scenarios.pools):
            sums = np.zeros((d.shape[0], len(uniques)))
            for s in range(d.shape[0]):
                sums[s] = np.bincount(codes, weights=d[s, :, j], minlength=len(uniques))
            means = sums / counts[None, :]
            qv = np.quantile(means, qs, axis=0)
            for m, month in enumerate(uniques):
                row: dict[str, Any] = {"pool": pool.name, "month": str(month), "hours": counts[m]}
                for i, x in enumerate(qs):
                    row[f"p{round(100 * x):02d}_mean_gpus"] = float(qv[i, m])
                rows.append(row)
        return pd.DataFrame(rows)


SCALE_GRID: tuple[float, ...] = (0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0)
CALIBRATION_PATHS = 40


def calibrate_scale(
    preds: Mapping[int, np.ndarray],
    y_fit: np.ndarray,
    y_actual: np.ndarray,
    missing: np.ndarray,
    a: float,
    b: float,
) -> tuple[float, float]:
    """The noise scale ``c`` whose P10–P90 band covers the backtest actuals closest to 80 %.

    For each backtest origin ``o`` the error model is rebuilt from ``y[:o]`` alone, 40 paths are
    simulated around that origin's point forecast for each ``c`` in :data:`SCALE_GRID` (the same
    random draws for every ``c``), and the share of non-missing actual hours inside the paths'
    P10–P90 is measured. Returns ``(c, coverage at c)``; ``(1, NaN)`` without backtest forecasts.
    """
    if not preds:
        return 1.0, float("nan")
    inside = np.zeros(len(SCALE_GRID))
    total = 0
    for o, point in preds.items():
        h = point.size
        actual = y_actual[o : o + h]
        ok = ~missing[o : o + h]
        if not ok.any():
            continue
        err = ErrorModel.from_history(y_fit[:o, None], missing[:o, None])
        for i, c in enumerate(SCALE_GRID):
            e = err.with_growth(np.array([a]), np.array([b]), np.array([c]))
            rng = np.random.default_rng(o)
            paths = simulate_paths(point[:, None], e, CALIBRATION_PATHS, rng)[:, :, 0]
            lo, hi = np.quantile(paths, (0.1, 0.9), axis=0)
            inside[i] += np.sum((actual >= lo) & (actual <= hi) & ok)
        total += int(ok.sum())
    if total == 0:
        return 1.0, float("nan")
    cov = inside / total
    best = int(np.argmin(np.abs(cov - 0.8) + 1e-9 * np.arange(len(SCALE_GRID))))
    return SCALE_GRID[best], float(cov[best])


def _choose(
    bt: BacktestResult, y_fit: np.ndarray, models: Sequence[str]
) -> tuple[str, object, list[str]]:
    """The best-scoring model that fits on the whole history (with fallbacks)."""
    notes = []
    ranked: list[str] = []
    if len(bt.scores):
        good = bt.scores[bt.scores["origins"] > 0].sort_values("mae", kind="stable")
        ranked = list(good["model"])
        combo = good[good["model"] == Combination.name]
        # prefer the combination unless the best single model beats it by > 10 %
        if (
            len(combo)
            and ranked[0] != Combination.name
            and float(good["mae"].iloc[0]) > COMBO_MARGIN * float(combo["mae"].iloc[0])
        ):
            ranked.remove(Combination.name)
            ranked.insert(0, Combination.name)
        for r in bt.scores.itertuples(index=False):
            if r.error:
                notes.append(f"{r.model!s}: {r.error!s}")
    if not ranked:
        notes.append("too little history to backtest; default model")
    for name in [*ranked, *(m for m in ("ets", "snaive24") if m not in ranked)]:
        try:
            model = make_model(name)
            model.fit(y_fit)
            model.predict(H_DAY)
            if name not in ranked:
                notes.append(f"fallback to {name}")
            return name, model, notes
        except Exception as e:
            notes.append(f"{name} failed on the full history: {type(e).__name__}: {e}")
    raise PlannerInputError(
        "no model could fit the history", value=y_fit.size, fix="give at least 2 days of history"
    )


def forecast(
    pooled: PooledUsage,
    *,
    horizon_hours: int,
    n_scenarios: int = 100,
    seed: int = 0,
    growth: Growth | Mapping[str, Any] | float | None = None,
    models: Sequence[str] | None = None,
    n_origins: int = 5,
    step_h: int = 84,
    progress: Callable[[str], None] | None = None,
    scenario_method: str = "residual",
) -> Forecast:
    """Forecast every pool of ``pooled`` ``horizon_hours`` ahead as ``n_scenarios`` joint paths.

    The scenarios start at the hour after the history ends. ``models`` restricts the candidates
    (names of :data:`forecasting.models.MODELS`). ``scenario_method`` is ``residual`` (decision
    scenarios from the chosen model's out-of-sample errors, :mod:`forecasting.error_scenarios`,
    with the bootstrap as the fallback for short history) or ``bootstrap`` (the bootstrapped error
    model for every pool). See the module docstring for the method.
    """
    t0 = time.perf_counter()
    say = progress or (lambda _msg: None)
    names = tuple(models) if models else DEFAULT_MODELS
    for m in names:
        if m not in MODELS:
            raise UnknownNameError("model", m, MODELS, column="models")
    if not 1 <= horizon_hours <= MAX_HORIZON_H:
        raise PlannerInputError(
            "horizon out of range",
            column="horizon",
            value=horizon_hours,
            fix="forecast between 1 hour and 36 months ahead",
        )
    if scenario_method not in ("residual", "bootstrap"):
        raise PlannerInputError(
            "unknown scenario method",
            column="scenario_method",
            value=scenario_method,
            fix="use residual or bootstrap",
        )
    if n_scenarios < 1:
        raise PlannerInputError(
            "at least one scenario is needed",
            column="scenarios",
            value=n_scenarios,
            fix="use --scenarios 100",
        )
    if pooled.n_hours < MIN_HISTORY_H:
        raise PlannerInputError(
            "too little history to forecast",
            value=f"{pooled.n_hours} hours",
            fix=f"give at least {MIN_HISTORY_H} hours (2 days) of hourly usage",
        )
    grow = Growth.parse(growth)
    pool_keys = {p.name for p in pooled.pools} | {p.gpu_type for p in pooled.pools}
    for step in grow.steps:
        for name in step.pools:
            if name not in pool_keys:
                raise UnknownNameError("pool in growth step", name, pool_keys, column="pools")
    fit_frame = pooled.for_fitting()
    y_fit_all = fit_frame.to_numpy(dtype=float)
    y_act_all = pooled.demand_gpus.to_numpy(dtype=float)
    missing_all = pooled.missing_mask().to_numpy(dtype=bool)
    n_pools = len(pooled.pools)
    point = np.empty((horizon_hours, n_pools))
    a = np.zeros(n_pools)
    b = np.zeros(n_pools)
    scale = np.ones(n_pools)
    cov80 = np.full(n_pools, np.nan)
    err = ErrorModel.from_history(y_fit_all, missing_all)
    rows = []
    backtests: dict[str, pd.DataFrame] = {}
    # backtests and model fits: one task per pool, in worker processes when there are many
    fitted = fit_pools(
        fit_pool,
        y_fit_all,
        y_act_all,
        missing_all,
        names,
        n_origins=n_origins,
        step_h=step_h,
        progress=say,
    )
    # the chosen models' out-of-sample errors at many origins (residual scenarios), likewise
    residual: dict[int, tuple[OriginErrors, dict[float, float]]] = {}
    k_err = (
        error_horizon_days(horizon_hours, pooled.n_hours) if scenario_method == "residual" else 0
    )
    errs_all: list[OriginErrors | None] = [None] * n_pools
    if k_err >= 1:
        errs_all = list(
            map_pools(
                origin_errors,
                [
                    (
                        y_fit_all[:, j],
                        y_act_all[:, j],
                        missing_all[:, j],
                        fitted[j].model_name,
                        k_err,
                    )
                    for j in range(n_pools)
                ],
            )
        )
    for j, pool in enumerate(pooled.pools):
        say(f"fitting {pool.name} ({j + 1}/{n_pools})")
        fit = fitted[j]
        bt, name, model, notes = fit.backtest, fit.model_name, fit.model, list(fit.notes)
        point[:, j] = model.predict(horizon_hours)  # type: ignore[attr-defined]
        if fit.uncertainty is not None:
            a[j], b[j], scale[j], cov80[j] = fit.uncertainty
        else:
            a[j], b[j] = 0.0, float(err.b[j])
            notes.append("uncertainty from day-to-day changes (no backtest errors)")
            scale[j], cov80[j] = calibrate_scale(
                bt.preds.get(name, {}),
                y_fit_all[:, j],
                y_act_all[:, j],
                missing_all[:, j],
                a[j],
                b[j],
            )
        errs = errs_all[j]
        if errs is not None and errs.n_origins >= MIN_ERROR_ORIGINS:
            residual[j] = (errs, aci_levels(errs))
        elif scenario_method == "residual":
            notes.append(
                "too little history for residual scenarios "
                f"({0 if errs is None else errs.n_origins} origins); bootstrapped error model"
            )
        alpha = residual[j][1] if j in residual else {}
        score = bt.scores[bt.scores["model"] == name] if len(bt.scores) else bt.scores
        first = score.iloc[0] if len(score) else None
        rows.append(
            {
                "pool": pool.name,
                "model": name,
                "mase": float(first["mase"]) if first is not None else np.nan,
                "rel_mae": float(first["rel_mae"]) if first is not None else np.nan,
                "mae_gpus": float(first["mae"]) if first is not None else np.nan,
                "backtest_origins": len(bt.origins),
                "backtest_horizon_h": bt.horizon_h,
                "level_var_a": a[j],
                "level_var_b_per_day": b[j],
                "interval_scale": scale[j],
                "backtest_cov80_pct": 100 * cov80[j],
                "scenario_method": "residual" if j in residual else "bootstrap",
                "error_origins": residual[j][0].n_origins if j in residual else 0,
                "error_horizon_d": residual[j][0].horizon_days if j in residual else 0,
                "error_median_ratio": float(np.exp(np.median(residual[j][0].mean_log_err)))
                if j in residual
                else np.nan,
                "aci_alpha_p10": alpha.get(0.1, np.nan),
                "aci_alpha_p50": alpha.get(0.5, np.nan),
                "aci_alpha_p90": alpha.get(0.9, np.nan),
                "notes": "; ".join(notes),
            }
        )
        backtests[pool.name] = bt.scores
    say(f"simulating {n_scenarios} paths x {horizon_hours} h x {n_pools} pools")
    start = pooled.end + pd.Timedelta(hours=1)
    timestamps = pd.date_range(start, periods=horizon_hours, freq="h")
    mult, add = (None, None) if grow.is_identity() else grow.factors(timestamps, pooled.pools)
    rng = np.random.default_rng(seed)
    paths = simulate_paths(
        point, err.with_growth(a, b, scale), n_scenarios, rng, multiplier=mult, addend=add
    )
    if residual:
        rng_res = np.random.default_rng([seed, 1])
        js = sorted(residual)
        levels = copula_levels([residual[j][0] for j in js], n_scenarios, rng_res)
        n_days = math.ceil(horizon_hours / H_DAY)
        for i, j in enumerate(js):
            errs, alpha = residual[j]
            log_level = error_paths(
                errs,
                levels[:, i],
                n_days,
                rng_res,
                alpha=alpha,
                level_var_b_per_day=float(b[j]),
                innovations=err.innovations[:, j],
            )
            y = simulate_from_errors(
                point[:, j], log_level, err, j, rng_res, residual_scale=float(scale[j])
            )
            if mult is not None:
                y *= mult[None, :, j]
            if add is not None:
                y = np.maximum(y + add[None, :, j], 0.0)
            paths[:, :, j] = y
    scenarios = DemandScenarios(
        start=start,
        pools=pooled.pools,
        demand_gpus=paths,
        probabilities=np.full(n_scenarios, 1.0 / n_scenarios),
        seed=seed,
        meta={
            "source": pooled.meta.get("source"),
            "models": {r["pool"]: r["model"] for r in rows},
            "growth": {"annual_pct": grow.annual_pct, "steps": len(grow.steps)},
            "history_start": str(pooled.demand_gpus.index[0]),
            "history_end": str(pooled.end),
            "horizon_hours": horizon_hours,
            "candidates": list(names),
            "backtest": {"n_origins": n_origins, "step_h": step_h},
            "interval_scale": {r["pool"]: r["interval_scale"] for r in rows},
            "scenario_method": {r["pool"]: r["scenario_method"] for r in rows},
        },
    )
    return Forecast(
        scenarios=scenarios,
        metrics=pd.DataFrame(rows),
        backtests=backtests,
        history=pooled.demand_gpus,
        growth=grow,
        meta={"seconds": time.perf_counter() - t0, "seed": seed, "n_scenarios": n_scenarios},
        point_gpus=point,
    )


@dataclass(frozen=True)
class PoolFit:
    """One pool's model choice (:func:`fit_pool`): its backtest, the chosen model fitted on the
    whole history, and, when the backtest has errors of it, ``uncertainty`` = the level variance
    ``(a, b)``, the calibrated noise scale ``c`` and the bootstrapped model's backtest P10–P90
    coverage at ``c``: ``(a, b, c, cov80)``."""

    backtest: BacktestResult
    model_name: str
    model: object
    notes: tuple[str, ...]
    uncertainty: tuple[float, float, float, float] | None


def fit_pool(
    y_fit: np.ndarray,
    y_actual: np.ndarray,
    missing: np.ndarray,
    models: Sequence[str],
    n_origins: int,
    step_h: int,
) -> PoolFit:
    """One pool's model choice and uncertainty calibration: its backtest, the chosen model fitted
    on the whole history, ``a, b`` fitted to the squared day-level log errors averaged over every
    candidate that ran (the chosen model's own backtest errors are optimistic: it was chosen for
    having small ones on these origins), and the scale ``c`` of :func:`calibrate_scale`. The task
    :func:`forecasting.parallel.fit_pools` runs per pool, in a worker or not: no shared random
    state (the calibration seeds its draws by origin)."""
    bt = backtest(y_fit, y_actual, missing, models, n_origins=n_origins, step_h=step_h)
    name, model, notes = _choose(bt, y_fit, models)
    uncertainty = None
    if name in bt.sq_log_err and bt.sq_log_err[name][1].sum() > 0:
        pooled_err = [v for v in bt.sq_log_err.values() if v[1].sum() > 0]
        sums = np.mean([v[0] for v in pooled_err], axis=0)
        counts = np.mean([v[1] for v in pooled_err], axis=0)
        a, b = fit_error_growth(
            np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0), counts
        )
        c, cov = calibrate_scale(bt.preds.get(name, {}), y_fit, y_actual, missing, a, b)
        uncertainty = (a, b, c, cov)
    return PoolFit(bt, name, model, tuple(notes), uncertainty)
