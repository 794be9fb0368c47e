"""Busy time, not held time: how much of the GPUs a pool holds actually do work.

A dedicated endpoint bills the GPUs it holds (``gpus`` in the usage file: mean GPUs in use, i.e.
allocated, that hour); a serverless GPU bills only the seconds they are busy. Tidy usage files may
carry an optional busy measure per row (:data:`BUSY_COLUMNS`):

- ``busy_gpu_hours``: GPU-hours of actual work in that hour, ``0 <= busy_gpu_hours <= gpus``;
- ``requests``: requests served that hour, turned into busy GPU-hours with the policy's
  ``gpu_seconds_per_request`` for the row's workload: ``busy = requests × s_w / 3600`` (capped at
  ``gpus``; a warning says how many rows were capped).

An empty cell means "not measured". FOCUS and CUR exports have neither column and keep working;
their pools simply have no busy measure, and serverless is then reported as not evaluable for them
rather than guessed.

The demand model the planner uses for serverless (:func:`busy_fraction_by_hour`): held demand is
forecast as before; for each pool with a busy measure, its historical busy fraction by UTC hour of
day

    f_p(h) = Σ_{t: hour(t)=h, busy known} busy_{t,p}  /  Σ_{same t} held_{t,p}     (0 when held is 0)

is carried as a ratio, so a scenario's busy GPU-hours are ``B_{s,t,p} = f_p(hour(t)) · D_{s,t,p}``.
This assumes the pool's work per held GPU keeps its daily shape as the fleet grows or shrinks.
Where the time resolution is coarser than an hour (the whole-term tail rows of planner/valuation.py
have no hour of day), the pool's overall busy fraction ``f̄_p = Σ busy / Σ held`` over the measured
hours is used (:func:`busy_fraction_overall`).

Billing increment (:func:`billing_uplift`). Serverless providers bill each invocation's run time
rounded up to an increment ``i`` seconds (the catalog's ``billing_increment_s``). We model one
invocation per request: in a measured pool-hour r with busy GPU-hours ``B_r`` and ``n_r`` requests
(``n_r = 1`` when the hour has busy time but no request count: its busy time is then taken as one
run, the least rounding the data allows), each invocation keeps ``s_r = 3600 · B_r / n_r``
GPU-seconds busy and bills ``⌈s_r / i⌉ · i``. The pool's uplift is

    k_p(i) = Σ_r n_r ⌈s_r / i⌉ i  /  Σ_r 3600 B_r     (≥ 1; 1 when i = 0 or nothing was busy)

and every busy GPU-hour the planner bills on serverless is multiplied by it. It is an uplift
derived from the history (not a per-hour rounding in the LP) because the LP works on slices that
average many hours; it assumes invocations of one hour are alike (the hour's mean) and that an
invocation's GPU-seconds are what is rounded (a multi-GPU function rounds wall-clock seconds on
each GPU, which this understates). Why per request: the catalogs quote per-second billing of
function run time, and a request is one function call; rounding per hour instead would make the
increment almost free, rounding per GPU-second of a batch would ignore it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pricing_data.errors import PlannerInputError

if TYPE_CHECKING:
    from forecasting.usage import UsageHistory

BUSY_COLUMNS: tuple[str, ...] = ("busy_gpu_hours", "requests")
#: Optional per-row unit counts for unit economics (``planner attribute --per``).
UNIT_COLUMNS: tuple[str, ...] = ("requests", "tokens")
OPTIONAL_MEASURES: tuple[str, ...] = ("busy_gpu_hours", "requests", "tokens")
SECONDS_PER_HOUR = 3600.0


def parse_measure(values: pd.Series, *, file: str, column: str) -> pd.Series:
    """An optional non-negative measure: empty cells are NaN (not measured); others must be finite
    numbers >= 0 (the first bad row raises with its value)."""
    strings = values.astype("string").fillna("").str.strip()
    empty = strings == ""
    nums = pd.to_numeric(strings.where(~empty, None), errors="coerce").astype("float64")
    bad = (~empty) & (nums.isna() | ~np.isfinite(nums.fillna(0.0)) | (nums < 0))
    if bad.any():
        i = bad[bad].index[0]
        raise PlannerInputError(
            f"not a valid {column} value",
            file=file,
            row=int(i) + 2,
            column=column,
            value=str(values[i]),
            fix=f"write {column} as a number >= 0, or leave the cell empty when not measured",
        )
    return nums


def check_busy_within_held(data: pd.DataFrame, file: str) -> None:
    """``busy_gpu_hours`` may not exceed the GPUs held that hour (``gpus``)."""
    if "busy_gpu_hours" not in data.columns:
        return
    over = data["busy_gpu_hours"] > data["gpus"] * (1 + 1e-9) + 1e-9
    if over.any():
        i = int(over[over].index[0])
        raise PlannerInputError(
            "busy GPU-hours exceed the GPUs held that hour",
            file=file,
            row=i + 2,
            column="busy_gpu_hours",
            value=float(data["busy_gpu_hours"].iloc[i]),
            fix=f"busy_gpu_hours is at most gpus ({float(data['gpus'].iloc[i]):g}) for the same "
            "row: it counts the GPU-hours of work done on the GPUs held",
        )


def with_busy_hours(
    history: UsageHistory, gpu_seconds_per_request: Mapping[str, float]
) -> UsageHistory:
    """``history`` with ``busy_gpu_hours`` filled from ``requests`` where it is not measured.

    ``gpu_seconds_per_request`` maps a workload tag value (``default`` for the rest) to GPU-seconds
    per request; rows whose workload has no entry (and no ``default``) stay unmeasured.
    """
    data = history.data
    if "requests" not in data.columns or not gpu_seconds_per_request:
        return history
    per = {str(k).lower(): float(v) for k, v in gpu_seconds_per_request.items()}
    workload = data["workload"].astype("string").fillna("").str.lower()
    sec = workload.map(lambda w: per.get(w, per.get("default", np.nan))).astype(float)
    derived = data["requests"].astype(float) * sec / SECONDS_PER_HOUR
    busy = (
        data["busy_gpu_hours"].astype(float)
        if "busy_gpu_hours" in data.columns
        else pd.Series(np.nan, index=data.index)
    )
    use = busy.isna() & derived.notna()
    capped = use & (derived > data["gpus"])
    out = data.copy()
    out["busy_gpu_hours"] = busy.where(~use, np.minimum(derived, data["gpus"].astype(float)))
    warnings = history.report.warnings
    if capped.any():
        warnings = (
            *warnings,
            f"{int(capped.sum())} row(s): requests × gpu_seconds_per_request exceed the GPUs held; "
            "busy time capped at the GPUs held",
        )
    return replace(history, data=out, report=replace(history.report, warnings=warnings))


def check_requests_convertible(
    history: UsageHistory, eligible: np.ndarray, gpu_seconds_per_request: Mapping[str, float]
) -> None:
    """A scale-to-zero row (``eligible``) that counts requests but has no busy measure needs the
    policy's GPU-seconds per request for its workload: without them its requests cannot become
    busy time, and serverless would be judged on a guess. Raises naming the file, the hour, the
    column and the workload, with the fix."""
    data = history.data
    if "requests" not in data.columns or not eligible.any():
        return
    per = {str(k).lower() for k in gpu_seconds_per_request}
    workload = data["workload"].astype("string").fillna("").str.lower()
    busy = (
        data["busy_gpu_hours"].to_numpy(dtype=float)
        if "busy_gpu_hours" in data.columns
        else np.full(len(data), np.nan)
    )
    has_req = data["requests"].notna().to_numpy() & (data["requests"].fillna(0.0) > 0).to_numpy()
    covered = workload.isin(per).to_numpy() | ("default" in per)
    bad = eligible & has_req & ~np.isfinite(busy) & ~covered
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    w = str(data["workload"].iloc[i] or "")
    ts = pd.Timestamp(data["timestamp"].iloc[i]).strftime("%Y-%m-%dT%H:%MZ")
    key = f'"{w}"' if w else "default"
    raise PlannerInputError(
        f"requests in a scale-to-zero pool at {ts} ({int(bad.sum())} row(s)) have no busy time: "
        f"the policy gives no GPU-seconds per request for workload '{w or '(empty)'}'",
        file=history.source,
        column="requests",
        value=float(data["requests"].iloc[i]),
        fix=f"add gpu_seconds_per_request = {{ {key} = <GPU-seconds one request keeps a GPU "
        "busy> } to the policy's [serverless] section, or a busy_gpu_hours column to the usage",
    )


def busy_fraction_by_hour(
    held_gpus: pd.DataFrame, busy_gpu_hours: pd.DataFrame | None
) -> dict[str, np.ndarray]:
    """f_p(h) per pool with a busy measure (module docstring): pool name -> 24 fractions in [0, 1].

    ``held_gpus`` and ``busy_gpu_hours``: hourly UTC index × pool names; busy NaN = not measured.
    Pools with no measured hour are left out.
    """
    out: dict[str, np.ndarray] = {}
    hod = np.asarray(pd.DatetimeIndex(held_gpus.index).hour, dtype=np.int64)
    for pool, b, d, known in _measured(held_gpus, busy_gpu_hours):
        num = np.bincount(hod[known], weights=b[known], minlength=24)
        den = np.bincount(hod[known], weights=d[known], minlength=24)
        frac = np.divide(num, den, out=np.zeros(24), where=den > 0)
        out[str(pool)] = np.clip(frac, 0.0, 1.0)
    return out


def _measured(
    held_gpus: pd.DataFrame, busy_gpu_hours: pd.DataFrame | None
) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(pool, busy GPU-hours, held GPUs, measured mask) on held_gpus' hours, for each pool with
    at least one measured hour (busy NaN = not measured)."""
    if busy_gpu_hours is None:
        return
    for pool in held_gpus.columns:
        if pool not in busy_gpu_hours.columns:
            continue
        b = busy_gpu_hours[pool].reindex(held_gpus.index).to_numpy(dtype=float)
        known = np.isfinite(b)
        if known.any():
            yield str(pool), b, held_gpus[pool].to_numpy(dtype=float), known


def busy_fraction_overall(
    held_gpus: pd.DataFrame, busy_gpu_hours: pd.DataFrame | None
) -> dict[str, float]:
    """f̄_p = Σ busy / Σ held over each pool's measured hours (module docstring), in [0, 1]."""
    out: dict[str, float] = {}
    for pool, b, d, known in _measured(held_gpus, busy_gpu_hours):
        den = float(d[known].sum())
        out[str(pool)] = float(np.clip(b[known].sum() / den, 0.0, 1.0)) if den > 0 else 0.0
    return out


def billing_uplift(busy_gpu_hours: np.ndarray, requests: np.ndarray, increment_s: float) -> float:
    """k_p(i) of the module docstring: billed over busy GPU-seconds when each request is one
    invocation rounded up to ``increment_s``. ``busy_gpu_hours`` and ``requests`` are per measured
    pool-hour (requests NaN or 0 where not counted: one run that hour)."""
    b = np.asarray(busy_gpu_hours, dtype=float)
    n = np.asarray(requests, dtype=float)
    keep = np.isfinite(b) & (b > 0)
    b, n = b[keep], n[keep]
    if increment_s <= 0 or b.sum() <= 0:
        return 1.0
    n = np.where(np.isfinite(n) & (n > 0), n, 1.0)
    sec = SECONDS_PER_HOUR * b / n
    billed = n * np.ceil(sec / increment_s - 1e-9) * increment_s
    return float(max(1.0, billed.sum() / (SECONDS_PER_HOUR * b.sum())))


def pool_busy_hours(
    data: pd.DataFrame, names: np.ndarray, index: pd.DatetimeIndex, columns: list[str]
) -> pd.DataFrame | None:
    """Busy GPU-hours per hour × pool from usage rows (``names``: each row's pool). A pool-hour is
    measured (not NaN) only when every row of that pool in that hour has a busy measure."""
    return pool_measure(data, "busy_gpu_hours", names, index, columns)


def pool_measure(
    data: pd.DataFrame,
    column: str,
    names: np.ndarray,
    index: pd.DatetimeIndex,
    columns: list[str],
) -> pd.DataFrame | None:
    """``column`` summed per hour × pool (NaN where some row of the pool-hour lacks it)."""
    if column not in data.columns:
        return None
    busy = data[column].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "timestamp": data["timestamp"].to_numpy(),
            "pool": names,
            "busy": np.nan_to_num(busy),
            "unknown": (~np.isfinite(busy)).astype(float),
        }
    )
    busy_sum = frame.pivot_table(index="timestamp", columns="pool", values="busy", aggfunc="sum")
    unknown = frame.pivot_table(index="timestamp", columns="pool", values="unknown", aggfunc="sum")
    known = unknown.reindex(index=index, columns=columns) == 0
    return busy_sum.reindex(index=index, columns=columns).where(known)
