"""Grouping usage into demand pools by policy rules: :class:`PoolRule`, :func:`make_pools`.

A pool is ``(gpu_type, interruptible, portable, aws_region)`` (:class:`forecasting.scenarios.Pool`).
Rules are plain data, matched **in order** against each usage row; the first rule whose every
``match`` entry agrees decides the row's flexibility. Unmatched rows are *fixed* (not interruptible,
not portable). A TOML policy file expresses them as a list of tables::

    [[pools]]
    match = { workload = "training" }
    interruptible = true
    portable = true

    [[pools]]
    match = { team = ["research", "ml-platform"], environment = "dev" }
    interruptible = true

    [[pools]]                      # may scale to zero on serverless GPUs (needs a busy measure)
    match = { workload = "inference", environment = ["dev", "staging"] }
    scale_to_zero = true

``match`` keys are usage columns (``gpu_type``, ``provider``, ``region``, the tag columns, and
``paid_as`` for billing sources); a value is a string or a list of strings (any of), compared without
regard to case; ``"*"`` matches anything, including an empty tag.

The AWS region of a pool is the rule's ``aws_region`` if set, else the row's ``region`` when it is an
AWS region code of usage on AWS (or of unknown provider), else ``default_aws_region``.

Hourly matrix: ``D[t, p] = Σ gpus`` of the rows of pool ``p`` in hour ``t``. Gap hours (no row at all
in the file) are filled by ``gap_fill``: ``"interpolate"`` (linear in time between the neighbouring
hours, per pool), ``"zero"``, or ``"previous_week"`` (the same hour 168 h earlier, else
interpolation). Gap and outage hours are kept in boolean masks; :meth:`PooledUsage.for_fitting`
treats them as missing and fills them from the series' own hour-of-week profile (see there).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from forecasting.busy import pool_busy_hours, pool_measure
from forecasting.scenarios import Pool
from forecasting.usage import UsageHistory, mask_runs, outage_mask
from forecasting.usage_schema import LABEL_COLUMNS
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.fileio import read_user_text

GapFill = Literal["interpolate", "zero", "previous_week"]
_AWS_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
MATCH_COLUMNS: tuple[str, ...] = ("gpu_type", *LABEL_COLUMNS, "paid_as", "instance_type")


@dataclass(frozen=True)
class PoolRule:
    """``match`` (column → value or values) decides ``interruptible`` / ``portable`` of a row;
    ``spot_cap_share`` (0..1, optional) caps the share of its pools' demand counted on spot."""

    match: Mapping[str, str | Sequence[str]]
    interruptible: bool = False
    portable: bool = False
    aws_region: str | None = None
    spot_cap_share: float | None = None
    scale_to_zero: bool = False

    def __post_init__(self) -> None:
        for key in self.match:
            if key not in MATCH_COLUMNS:
                raise UnknownNameError("pool rule column", key, MATCH_COLUMNS, column="match")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "pool rule") -> PoolRule:
        """A rule from a TOML/JSON table; unknown keys raise with a suggestion."""
        allowed = (
            "match",
            "interruptible",
            "portable",
            "aws_region",
            "spot_cap_share",
            "scale_to_zero",
        )
        for key in d:
            if key not in allowed:
                raise UnknownNameError("pool rule key", str(key), allowed, file=where)
        match = d.get("match", {})
        if not isinstance(match, Mapping):
            raise PlannerInputError(
                "'match' must be a table of column = value",
                file=where,
                column="match",
                value=match,
                fix='write match = { workload = "training" }',
            )
        for key in match:
            if key not in MATCH_COLUMNS:
                raise UnknownNameError(
                    "pool rule column", str(key), MATCH_COLUMNS, file=where, column="match"
                )
        for key in ("interruptible", "portable", "scale_to_zero"):
            if key in d and not isinstance(d[key], bool):
                raise PlannerInputError(
                    f"'{key}' must be true or false", file=where, column=key, value=d[key]
                )
        cap = d.get("spot_cap_share")
        if cap is not None and (
            isinstance(cap, bool)
            or not isinstance(cap, int | float)
            or not math.isfinite(cap)
            or not 0 <= cap <= 1
        ):
            raise PlannerInputError(
                "'spot_cap_share' must be a share of the pool's demand between 0 and 1",
                file=where,
                column="spot_cap_share",
                value=cap,
                fix="write e.g. spot_cap_share = 0.3 (0 keeps the pool off spot)",
            )
        return cls(
            match=dict(match),
            interruptible=bool(d.get("interruptible", False)),
            portable=bool(d.get("portable", False)),
            aws_region=d.get("aws_region"),
            spot_cap_share=None if cap is None else float(cap),
            scale_to_zero=bool(d.get("scale_to_zero", False)),
        )

    def matches(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``frame`` this rule matches."""
        ok = np.ones(len(frame), dtype=bool)
        for col, want in self.match.items():
            values = [want] if isinstance(want, str) else list(want)
            if "*" in values:
                continue
            if col not in frame.columns:
                return np.zeros(len(frame), dtype=bool)
            have = frame[col].astype("string").fillna("").str.lower()
            ok &= have.isin([str(v).lower() for v in values]).to_numpy()
        return ok


def load_pool_rules(source: str | Path | Mapping[str, Any]) -> tuple[PoolRule, ...]:
    """Rules from a TOML policy file (``[[pools]]`` tables) or an already parsed mapping."""
    where = "pool rules"
    if isinstance(source, str | Path):
        where = str(source)
        try:
            text = read_user_text(source, what="policy file", fix="give a TOML policy file")
            data: Mapping[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise PlannerInputError(f"not valid TOML: {e}", file=where) from None
    else:
        data = source
    tables = data.get("pools", [])
    if not isinstance(tables, list):
        raise PlannerInputError(
            "'pools' must be a list of tables", file=where, fix="write [[pools]] tables"
        )
    return tuple(PoolRule.from_dict(t, where=where) for t in tables)


@dataclass(frozen=True)
class PooledUsage:
    """Hourly GPUs per pool: ``demand_gpus`` (UTC hourly DatetimeIndex × pool names).

    ``outage_mask`` and ``gap_mask`` (same shape, bool) mark hours that do not show real demand.
    ``pools`` are in column order. ``paid_as`` (if the source says) is GPU-hours by pool × how paid.
    ``busy_gpu_hours`` (when the usage has a busy measure): busy GPU-hours per hour and pool.
    """

    demand_gpus: pd.DataFrame
    pools: tuple[Pool, ...]
    outage_mask: pd.DataFrame
    gap_mask: pd.DataFrame
    gap_fill: str = "interpolate"
    paid_as: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    busy_gpu_hours: pd.DataFrame | None = None  # same shape, NaN = not measured (forecasting.busy)
    requests: pd.DataFrame | None = None  # requests per hour and pool, NaN = not counted

    @property
    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.demand_gpus.index)

    @property
    def n_hours(self) -> int:
        return len(self.demand_gpus)

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.demand_gpus.index[-1])

    def first_hours(self, n_hours: int) -> PooledUsage:
        """The first ``n_hours`` of history (for rolling-origin evaluation)."""
        return replace(
            self,
            demand_gpus=self.demand_gpus.iloc[:n_hours],
            outage_mask=self.outage_mask.iloc[:n_hours],
            gap_mask=self.gap_mask.iloc[:n_hours],
            busy_gpu_hours=(
                None if self.busy_gpu_hours is None else self.busy_gpu_hours.iloc[:n_hours]
            ),
            requests=None if self.requests is None else self.requests.iloc[:n_hours],
        )

    def missing_mask(self) -> pd.DataFrame:
        """Hours that do not show demand: outages or gaps."""
        return self.outage_mask | self.gap_mask

    def for_fitting(self) -> pd.DataFrame:
        """Demand with outage and gap hours replaced by what the series shows at that hour.

        A missing hour ``t`` gets ``level(t) + profile(hour of week)``: ``level`` is the
        time-interpolated daily mean of the non-missing hours, ``profile`` the mean deviation of the
        non-missing hours from their day's mean at that hour of week (hour of day with < 2 weeks).
        """
        out = self.demand_gpus.copy()
        miss = self.missing_mask()
        for col in out.columns:
            m = miss[col].to_numpy()
            if m.any():
                out[col] = impute_missing(out[col].to_numpy(dtype=float), m)
        return out


def pool_outages(pooled: PooledUsage) -> pd.DataFrame:
    """The runs of each pool's outage mask, i.e. the hours the forecaster leaves out:
    ``pool, start, end, hours, median_gpus`` (the pool's median demand)."""
    rows = []
    idx = pooled.outage_mask.index
    for pool in pooled.outage_mask.columns:
        runs = mask_runs(pooled.outage_mask[pool].to_numpy(dtype=bool))
        if not runs:
            continue
        med = float(np.nanmedian(pooled.demand_gpus[pool].to_numpy(dtype=float)))
        for a, b in runs:
            rows.append(
                {
                    "pool": str(pool),
                    "start": idx[a],
                    "end": idx[b - 1],
                    "hours": int(b - a),
                    "median_gpus": med,
                }
            )
    return pd.DataFrame(rows, columns=["pool", "start", "end", "hours", "median_gpus"])


def impute_missing(y: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Fill ``y[missing]`` with the day's level + the hour-of-week profile (see above).

    Days are 24-hour blocks aligned to the end of the series. A day's level is the mean of its
    non-missing hours (with at least 12 of them), linearly interpolated over days otherwise; the
    profile is the mean deviation of non-missing hours from their day's level per hour of week
    (hour of day when the series is shorter than two weeks).
    """
    y = np.asarray(y, dtype=float).copy()
    n = y.size
    good = ~np.asarray(missing, dtype=bool)
    if not good.any():
        return np.zeros_like(y)
    pad = (-n) % 24
    padded = np.concatenate([np.full(pad, np.nan), np.where(good, y, np.nan)])
    days = padded.reshape(-1, 24)
    counts = np.isfinite(days).sum(axis=1)
    sums = np.nansum(days, axis=1)
    level_d = np.where(counts >= 12, sums / np.maximum(counts, 1), np.nan)
    level_d = pd.Series(level_d).interpolate(limit_direction="both").to_numpy()
    if not np.isfinite(level_d).any():
        level_d = np.full(level_d.size, float(np.nanmean(padded)))
    level = np.repeat(level_d, 24)[pad:]
    period = 168 if n >= 2 * 168 else 24
    dev = np.where(good, y - level, np.nan)
    phase = (np.arange(n) - n) % period  # aligned to the end of history
    sums_p = np.bincount(phase, weights=np.nan_to_num(dev), minlength=period)
    counts_p = np.bincount(phase, weights=np.isfinite(dev).astype(float), minlength=period)
    prof = np.divide(sums_p, counts_p, out=np.zeros(period), where=counts_p > 0)
    fill = np.maximum(level + prof[phase], 0.0)
    y[~good] = fill[~good]
    return y


def _fill_gaps(wide: pd.DataFrame, gaps: np.ndarray, rule: str) -> pd.DataFrame:
    if not gaps.any():
        return wide
    if rule == "zero":
        return wide.fillna(0.0)
    out = wide.copy()
    if rule == "previous_week":
        prev = out.shift(168)
        out = out.where(~np.asarray(gaps)[:, None] | prev.isna(), prev)
    return out.interpolate(limit_direction="both").fillna(0.0)


def _pool_region(frame: pd.DataFrame, default_aws_region: str) -> pd.Series:
    region = frame["region"].astype("string").fillna("").str.lower()
    provider = frame["provider"].astype("string").fillna("").str.lower()
    use = region.str.match(_AWS_REGION) & provider.isin(["", "aws"])
    return region.where(use, default_aws_region).astype("string")


def scale_to_zero_rows(
    data: pd.DataFrame, rules: Sequence[PoolRule | Mapping[str, Any]]
) -> np.ndarray:
    """Per usage row: True when the first rule it matches marks it ``scale_to_zero``."""
    out = np.zeros(len(data), dtype=bool)
    decided = np.zeros(len(data), dtype=bool)
    for r in rules:
        rule = r if isinstance(r, PoolRule) else PoolRule.from_dict(r)
        hit = rule.matches(data) & ~decided
        out[hit] = rule.scale_to_zero
        decided |= hit
    return out


def make_pools(
    history: UsageHistory,
    rules: Iterable[PoolRule | Mapping[str, Any]] = (),
    default_aws_region: str = "us-east-1",
    *,
    gap_fill: GapFill = "interpolate",
) -> PooledUsage:
    """Group ``history`` into pools by ``rules`` (first match wins; unmatched rows are fixed)."""
    rule_list = [r if isinstance(r, PoolRule) else PoolRule.from_dict(r) for r in rules]
    if gap_fill not in ("interpolate", "zero", "previous_week"):
        raise UnknownNameError(
            "gap fill rule", gap_fill, ("interpolate", "zero", "previous_week"), column="gap_fill"
        )
    data = history.data
    if data.empty:
        raise PlannerInputError(
            "no GPU usage to forecast",
            file=history.source,
            fix="check that the file has GPU rows (GPU instance types or gpu_type values)",
        )
    n = len(data)
    interruptible = np.zeros(n, dtype=bool)
    portable = np.zeros(n, dtype=bool)
    scale_to_zero = np.zeros(n, dtype=bool)
    region = _pool_region(data, default_aws_region).to_numpy(dtype=object)
    decided = np.zeros(n, dtype=bool)
    spot_cap = np.full(n, np.nan)
    for rule in rule_list:
        hit = rule.matches(data) & ~decided
        interruptible[hit] = rule.interruptible
        portable[hit] = rule.portable
        scale_to_zero[hit] = rule.scale_to_zero
        if rule.aws_region:
            region[hit] = rule.aws_region
        if rule.spot_cap_share is not None:
            spot_cap[hit] = rule.spot_cap_share
        decided |= hit
    keys = pd.DataFrame(
        {
            "gpu_type": data["gpu_type"].astype(str).to_numpy(),
            "interruptible": interruptible,
            "portable": portable,
            "aws_region": region.astype(str),
            "scale_to_zero": scale_to_zero,
        }
    )
    group = keys.groupby(list(keys.columns), sort=False).ngroup().to_numpy()
    first_rows = keys.drop_duplicates().itertuples(index=False, name=None)
    # a pool's spot cap: the least set by the rules of its rows (None when no rule sets one)
    caps = pd.Series(spot_cap).groupby(group).min()
    pool_of_group = [
        Pool(
            gpu_type=k[0],
            interruptible=bool(k[1]),
            portable=bool(k[2]),
            aws_region=k[3],
            spot_cap_share=None if pd.isna(caps.get(g)) else float(caps[g]),
            scale_to_zero=bool(k[4]),
        )
        for g, k in enumerate(first_rows)
    ]
    pools = tuple(sorted(pool_of_group, key=lambda p: p.name))
    names = np.array([p.name for p in pool_of_group], dtype=object)[group]
    frame = pd.DataFrame(
        {"timestamp": data["timestamp"].to_numpy(), "pool": names, "gpus": data["gpus"].to_numpy()}
    )
    wide = frame.pivot_table(index="timestamp", columns="pool", values="gpus", aggfunc="sum")
    full = pd.date_range(wide.index.min(), wide.index.max(), freq="h", name="timestamp")
    present = full.isin(wide.index)
    wide = wide.fillna(0.0).reindex(full)[[p.name for p in pools]]
    gaps = ~np.asarray(present)
    if history.source_format != "tidy":
        gaps[:] = False  # billing: an hour without GPU line items used no GPUs
        wide = wide.fillna(0.0)
    filled = _fill_gaps(wide, gaps, gap_fill)
    gap_mask = pd.DataFrame(np.repeat(gaps[:, None], len(pools), axis=1), index=full)
    gap_mask.columns = wide.columns
    # outages: the GPU type's outage hours apply to each of its pools
    out_mask = pd.DataFrame(False, index=full, columns=wide.columns)
    for row in history.report.outages.itertuples(index=False):
        cols = [p.name for p in pools if p.gpu_type == row.gpu_type]
        out_mask.loc[row.start : row.end, cols] = True
    # an outage detected on a pool alone (e.g. one pool of a GPU type at 0 for a day)
    for col in wide.columns:
        m, _ = outage_mask(np.where(gaps, np.nan, wide[col].to_numpy(dtype=float)))
        out_mask[col] = out_mask[col].to_numpy() | m
    paid = None
    if history.has_paid_as:
        paid = (
            pd.DataFrame(
                {"pool": names, "paid_as": data["paid_as"].to_numpy(), "gpus": frame["gpus"]}
            )
            .pivot_table(index="pool", columns="paid_as", values="gpus", aggfunc="sum")
            .fillna(0.0)
        )
    return PooledUsage(
        demand_gpus=filled.astype("float64"),
        pools=pools,
        outage_mask=out_mask,
        gap_mask=gap_mask,
        gap_fill=gap_fill,
        paid_as=paid,
        busy_gpu_hours=pool_busy_hours(data, names, full, list(wide.columns)),
        requests=pool_measure(data, "requests", names, full, list(wide.columns)),
        meta={"source": history.source, "rules": [r.__dict__ for r in rule_list]},
    )
