r"""Decision scenarios from the forecaster's own out-of-sample errors (residual-based SAA with an
online level correction). Used by :func:`forecasting.forecast.forecast` for every pool with enough
history; the bootstrapped error model of :mod:`forecasting.models` is the fallback.

**Errors at many origins** (:func:`origin_errors`). The chosen model is refitted at origins
``o_i = n − K·24 − i·s`` (``s`` = 24 h, up to :data:`MAX_ERROR_ORIGINS`, at least
:data:`MIN_TRAIN_H` hours of training each, oldest first) and forecasts ``K`` days, ``K`` =
the decision horizon in days, at most :data:`MAX_ERROR_DAYS` (horizon-matched). For each origin
and forecast day ``k`` the level error is

    E_{o,k} = log((A_{o,k} + ε) / (F_{o,k} + ε))

with ``A``/``F`` the actual/forecast mean GPUs of day ``k`` and ``ε`` = max(1 % of the mean,
1 GPU); a day with an outage or gap hour copies the previous day's error. The scalar
``e_o = log((Ā_o + ε)/(F̄_o + ε))`` compares the means over all ``K`` days: it is what a commitment
sized for the horizon is judged on.

**Scenarios** (Kannan, Bayraksan & Luedtke, "Data-driven sample average approximation with covariate
information"): keep the point forecast ``ŷ`` and apply whole error paths of past origins,

    Y[s,t] = max(0, (ŷ_t + c·r[s,t]) · exp(E_s,k(t))),

where ``E_s`` is the error path of the origin at level ``v_s`` of the empirical distribution of
``e_o`` (linear interpolation between the two neighbouring origins' paths), plus a kernel jitter
``h·z_s`` (``z`` standard normal, ``h`` Silverman's bandwidth ``0.9·min(sd, IQR/1.34)·n^(−1/5)`` of
the raw errors: a smoothing of so few draws). **Overlap correction**: origins one day apart with
``K``-day windows share most of their days, so their errors are strongly correlated and their
spread understates that of independent windows (sample variance ``σ²(1 − ρ̄)``, ``ρ̄`` the mean
pairwise window overlap); each origin's deviation from the median error is scaled by
``1/√(1 − ρ̄)`` (:func:`widen_for_overlap`; ≈ 1.32 for 12 daily origins at 7 days, 2.5 at 28).
``r`` are the hourly residual blocks of :class:`forecasting.models.ErrorModel` (the hourly shape
only: the bootstrapped day-level factor no longer sets the level), scaled by the pool's calibrated
noise scale ``c`` as in the bootstrap (:func:`forecasting.forecast.calibrate_scale`: the P10–P90
of the bootstrapped model covers 80 % of the model-choice backtest's hourly actuals). Beyond ``K``
days the level continues as a random walk, ``E_k = E_K + √b Σ_{j=K+1..k} u_j`` (``b`` the pool's fitted
level variance per day, bootstrapped standardised innovations ``u``).
Levels ``u_s`` come from the empirical copula of the pools' errors at the same origins
(:func:`copula_levels`: each origin used equally often, so the levels are stratified), mapped to
``v_s`` by the online correction below; level ``v`` reads position ``v·m − ½`` of the ``m`` sorted
origins.

**Online level correction** (adaptive conformal inference, Gibbs & Candès, NeurIPS 2021, with
damping). For each of the quantile levels ``q`` ∈ {0.1, 0.5, 0.9}, walking the origins in time
order, with ``F_t`` the empirical distribution of the errors already known at origin ``t``
(windows ended, at least :data:`ACI_BURN_IN` of them):

    miss_t = 1{e_t ≤ F_t⁻¹(α_t)}
    α_{t+1} = q + λ(α_t − q) + γ (q − miss_t)           γ = 0.05, λ = 0.9

so when actuals keep landing above the forecast quantile its level rises (scenarios move up),
and the damping ``λ`` pulls it back towards ``q`` geometrically once the errors stop drifting (a
correction learnt during growth does not overshoot when growth stops: it halves in about 7 origins).
The final levels define a monotone piecewise-linear map ``u → v`` through (0, 0), (0.1, α_lo),
(0.5, α_mid), (0.9, α_hi), (1, 1).

**Short history.** With fewer than :data:`MIN_ERROR_ORIGINS` origins of ``K`` days (history shorter
than about ``MIN_TRAIN_H + K days + 8 days``) the caller falls back to the bootstrapped error model
with its calibrated scale (:func:`forecasting.forecast.calibrate_scale`); the forecast's metrics
say which method each pool used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forecasting.models import H_DAY, H_WEEK, ErrorModel, log_floor_gpus, make_model

MAX_ERROR_ORIGINS = 12
MIN_ERROR_ORIGINS = 8
MAX_ERROR_DAYS = 28
MIN_TRAIN_H = 2 * H_WEEK
ACI_GAMMA = 0.05
ACI_DAMPING = 0.9
ACI_BURN_IN = 4
ACI_LEVELS = (0.1, 0.5, 0.9)
MAX_OVERLAP_INFLATION = 3.0


@dataclass(frozen=True)
class OriginErrors:
    """Out-of-sample level errors of one model on one pool (module docstring).

    ``origins_h`` (n_o,): hour index of each origin, oldest first; ``day_log_err`` (n_o, K):
    ``E_{o,k}``; ``mean_log_err`` (n_o,): ``e_o``.
    """

    origins_h: np.ndarray
    day_log_err: np.ndarray
    mean_log_err: np.ndarray
    horizon_days: int

    @property
    def n_origins(self) -> int:
        return int(self.origins_h.size)


def error_horizon_days(horizon_hours: int, n_hours: int) -> int:
    """``K``: the decision horizon in days, at most 28, and short enough for the minimum origins."""
    want = min(math.ceil(horizon_hours / H_DAY), MAX_ERROR_DAYS)
    room = (n_hours - MIN_TRAIN_H - (MIN_ERROR_ORIGINS - 1) * H_DAY) // H_DAY
    return int(max(0, min(want, room)))


def origin_errors(
    y_fit: np.ndarray,
    y_actual: np.ndarray,
    missing: np.ndarray,
    model_name: str,
    horizon_days: int,
    *,
    max_origins: int = MAX_ERROR_ORIGINS,
    step_h: int = H_DAY,
) -> OriginErrors:
    """Refit ``model_name`` at the rolling origins of the module docstring and record its errors.

    Origins where the model fails are skipped.
    """
    n = y_fit.size
    h = horizon_days * H_DAY
    origins = [n - h - i * step_h for i in range(max_origins)]
    origins = sorted(o for o in origins if o >= MIN_TRAIN_H)
    kept, paths, means = [], [], []
    for o in origins:
        try:
            pred = make_model(model_name).fit(y_fit[:o]).predict(h)
        except Exception:
            continue
        actual = y_actual[o : o + h]
        miss = missing[o : o + h]
        eps = log_floor_gpus(float(np.mean(y_fit[:o])))
        a_d = actual.reshape(-1, H_DAY).mean(axis=1)
        f_d = pred.reshape(-1, H_DAY).mean(axis=1)
        bad: np.ndarray = np.asarray(miss.reshape(-1, H_DAY).any(axis=1), dtype=bool)
        e = np.log((a_d + eps) / (f_d + eps))
        if bad.all():
            continue
        for k in range(e.size):  # a day with outage or gap hours copies the day before
            if bad[k]:
                e[k] = e[k - 1] if k > 0 else np.nan
        if np.isnan(e[0]):
            first = int(np.flatnonzero(~bad)[0])
            e[:first] = e[first]
        ok = ~miss
        mean_err = math.log((float(actual[ok].mean()) + eps) / (float(pred[ok].mean()) + eps))
        kept.append(o)
        paths.append(e)
        means.append(mean_err)
    return OriginErrors(
        origins_h=np.asarray(kept, dtype=int),
        day_log_err=np.asarray(paths, dtype=float).reshape(len(kept), horizon_days),
        mean_log_err=np.asarray(means, dtype=float),
        horizon_days=horizon_days,
    )


def aci_levels(
    errors: OriginErrors,
    *,
    gamma: float = ACI_GAMMA,
    damping: float = ACI_DAMPING,
    burn_in: int = ACI_BURN_IN,
) -> dict[float, float]:
    """The corrected quantile level ``α`` for each ``q`` of :data:`ACI_LEVELS` (module docstring).

    An origin's error is known at origin ``t`` once its window has ended (``o + K·24 ≤ o_t``).
    """
    h = errors.horizon_days * H_DAY
    alpha = {q: q for q in ACI_LEVELS}
    o, e = errors.origins_h, errors.mean_log_err
    for t in range(o.size):
        known = e[(o + h) <= o[t]]
        if known.size < burn_in:
            continue
        for q in ACI_LEVELS:
            level = min(max(alpha[q], 0.0), 1.0)
            miss = float(e[t] <= np.quantile(known, level))
            alpha[q] = q + damping * (alpha[q] - q) + gamma * (q - miss)
    return {q: min(max(a, 0.005), 0.995) for q, a in alpha.items()}


def overlap_correlation(origins_h: np.ndarray, horizon_days: int) -> float:
    """``ρ̄``: the mean, over pairs of origins, of the share of their ``K``-day error windows that
    overlap, ``ρ_ij = max(0, 1 − |o_i − o_j| / (K·24))`` (0 with fewer than 2 origins).

    If daily level errors are uncorrelated with equal variance, the ``K``-day mean errors of two
    windows overlapping by a share ``ρ`` have correlation ``ρ``; the sample variance of ``m``
    such errors then has expectation ``σ²(1 − ρ̄)``.
    """
    o = np.asarray(origins_h, dtype=float)
    m = o.size
    if m < 2 or horizon_days <= 0:
        return 0.0
    d = np.abs(o[:, None] - o[None, :])
    rho = np.clip(1.0 - d / (horizon_days * H_DAY), 0.0, 1.0)
    return float(rho[np.triu_indices(m, 1)].mean())


def overlap_inflation(origins_h: np.ndarray, horizon_days: int) -> float:
    """``c = 1/√(1 − ρ̄)`` (at most :data:`MAX_OVERLAP_INFLATION`): the factor that makes the
    overlapping origins' error spread an unbiased estimate of the spread of independent windows
    (:func:`overlap_correlation`); 1 when the windows do not overlap."""
    rbar = overlap_correlation(origins_h, horizon_days)
    return float(min(MAX_OVERLAP_INFLATION, 1.0 / math.sqrt(max(1.0 - rbar, 1e-12))))


def widen_for_overlap(errors: OriginErrors) -> OriginErrors:
    """The errors with each origin's deviation from the median mean error scaled by
    :func:`overlap_inflation`: ``e'_o = med(e) + c·(e_o − med(e))``, and its day path shifted by the
    same amount (the path's shape kept)."""
    if errors.n_origins < 2:
        return errors
    c = overlap_inflation(errors.origins_h, errors.horizon_days)
    e = errors.mean_log_err
    shift = (c - 1.0) * (e - float(np.median(e)))
    return OriginErrors(
        origins_h=errors.origins_h,
        day_log_err=errors.day_log_err + shift[:, None],
        mean_log_err=e + shift,
        horizon_days=errors.horizon_days,
    )


def level_map(alpha: dict[float, float], u: np.ndarray) -> np.ndarray:
    """Monotone piecewise-linear ``u → v`` through (0,0), (q, α_q)…, (1,1)."""
    xs = [0.0, *ACI_LEVELS, 1.0]
    ys = [0.0, *(alpha[q] for q in ACI_LEVELS), 1.0]
    ys = list(np.maximum.accumulate(ys))
    return np.interp(u, xs, ys)


def silverman_bandwidth(x: np.ndarray) -> float:
    """``0.9 · min(sd, IQR/1.34) · n^(−1/5)`` (0 for fewer than 2 values)."""
    if x.size < 2:
        return 0.0
    sd = float(np.std(x, ddof=1))
    q75, q25 = np.quantile(x, [0.75, 0.25])
    spread = min(sd, float(q75 - q25) / 1.34) if q75 > q25 else sd
    return 0.9 * spread * x.size ** (-0.2)


def copula_levels(errors: list[OriginErrors], n_paths: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform levels (n_paths, n_pools) with the pools' joint dependence at the same origins.

    Scenario ``s`` takes origin ``i_s`` (a random permutation of the origins, repeated, so each
    origin is used ``N/m`` times: stratified) and, for every pool, the rank of that origin's error
    ``e_o`` among the pool's origins, ``u = (rank + U_s)/m`` with one ``U_s ~ U(0, 1)`` for all
    pools (the empirical copula). Pools whose origins differ get independent stratified levels.
    """
    m = errors[0].n_origins
    same = all(np.array_equal(e.origins_h, errors[0].origins_h) for e in errors)
    out = np.empty((n_paths, len(errors)))
    jitter = rng.random(n_paths)
    if same and m > 0:
        idx = np.resize(rng.permutation(m), n_paths)
        for j, e in enumerate(errors):
            rank = np.argsort(np.argsort(e.mean_log_err, kind="stable"), kind="stable")
            out[:, j] = (rank[idx] + jitter) / m
        return out
    for j in range(len(errors)):
        out[:, j] = rng.permutation((np.arange(n_paths) + jitter) / n_paths)
    return out


def error_paths(
    errors: OriginErrors,
    u: np.ndarray,
    n_days: int,
    rng: np.random.Generator,
    *,
    alpha: dict[float, float] | None = None,
    level_var_b_per_day: float = 0.0,
    innovations: np.ndarray | None = None,
) -> np.ndarray:
    """Log-level error paths (len(u), n_days) at uniform levels ``u`` (module docstring)."""
    n_paths = u.size
    raw_sorted = np.sort(errors.mean_log_err, kind="stable")
    errors = widen_for_overlap(errors)
    order = np.argsort(errors.mean_log_err, kind="stable")
    e_sorted = errors.mean_log_err[order]
    paths_sorted = errors.day_log_err[order]
    m = e_sorted.size
    v = level_map(alpha or {q: q for q in ACI_LEVELS}, u)
    pos = np.clip(v * m - 0.5, 0.0, m - 1.0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, m - 1)
    w = (pos - lo)[:, None]
    chosen = (1 - w) * paths_sorted[lo] + w * paths_sorted[hi]  # (n_paths, K)
    jitter = silverman_bandwidth(raw_sorted) * rng.standard_normal(n_paths)
    k_obs = errors.horizon_days
    out = np.empty((n_paths, n_days))
    take = min(k_obs, n_days)
    out[:, :take] = chosen[:, :take] + jitter[:, None]
    if n_days > k_obs:
        last = chosen[:, -1] + jitter
        extra = n_days - k_obs
        if innovations is not None and innovations.size and level_var_b_per_day > 0:
            steps = innovations[rng.integers(0, innovations.size, size=(n_paths, extra))]
            walk = math.sqrt(level_var_b_per_day) * np.cumsum(steps, axis=1)
        else:
            walk = np.zeros((n_paths, extra))
        out[:, k_obs:] = last[:, None] + walk
    return out


def simulate_from_errors(
    point: np.ndarray,
    log_level: np.ndarray,
    err: ErrorModel,
    pool: int,
    rng: np.random.Generator,
    residual_scale: float = 1.0,
) -> np.ndarray:
    """Hourly paths (n_paths, H) of one pool: ``max(0, (ŷ + c·r)·exp(E))`` (module docstring),
    ``c`` = ``residual_scale``."""
    horizon_h = point.size
    n_paths, n_days = log_level.shape
    idx_r = rng.integers(0, err.blocks.shape[0], size=(n_paths, n_days))
    r = residual_scale * err.blocks[idx_r, :, pool].reshape(n_paths, n_days * H_DAY)[:, :horizon_h]
    factor = np.repeat(np.exp(log_level), H_DAY, axis=1)[:, :horizon_h]
    return np.maximum((point[None, :] + r) * factor, 0.0)
