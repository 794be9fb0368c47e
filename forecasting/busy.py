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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from forecasting.usage import UsageHistory
from pricing_data.errors import PlannerInputError

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
            value=data["busy_gpu_hours"].iloc[i],
            fix=f"busy_gpu_hours is at most gpus ({data['gpus'].iloc[i]}) for the same row",
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


def busy_fraction_by_hour(
    held_gpus: pd.DataFrame, busy_gpu_hours: pd.DataFrame | None
) -> dict[str, np.ndarray]:
    """f_p(h) per pool with a busy measure (module docstring): pool name -> 24 fractions in [0, 1].

    ``held_gpus`` and ``busy_gpu_hours``: hourly UTC index × pool names; busy NaN = not measured.
    Pools with no measured hour are left out.
    """
    out: dict[str, np.ndarray] = {}
    if busy_gpu_hours is None:
        return out
    hod = np.asarray(pd.DatetimeIndex(held_gpus.index).hour, dtype=np.int64)
    for pool in held_gpus.columns:
        if pool not in busy_gpu_hours.columns:
            continue
        b = busy_gpu_hours[pool].reindex(held_gpus.index).to_numpy(dtype=float)
        known = np.isfinite(b)
        if not known.any():
            continue
        d = held_gpus[pool].to_numpy(dtype=float)
        num = np.bincount(hod[known], weights=b[known], minlength=24)
        den = np.bincount(hod[known], weights=d[known], minlength=24)
        frac = np.divide(num, den, out=np.zeros(24), where=den > 0)
        out[str(pool)] = np.clip(frac, 0.0, 1.0)
    return out


def pool_busy_hours(
    data: pd.DataFrame, names: np.ndarray, index: pd.DatetimeIndex, columns: list[str]
) -> pd.DataFrame | None:
    """Busy GPU-hours per hour × pool from usage rows (``names``: each row's pool). A pool-hour is
    measured (not NaN) only when every row of that pool in that hour has a busy measure."""
    if "busy_gpu_hours" not in data.columns:
        return None
    busy = data["busy_gpu_hours"].to_numpy(dtype=float)
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
