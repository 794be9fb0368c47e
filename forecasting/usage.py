"""Reading hourly GPU usage and validating it: :func:`read_usage` and :class:`UsageHistory`.

Sources (detected from the file's columns, see :func:`detect_format`):

- **tidy** CSV or Parquet (the contract in DESIGN.md): ``timestamp`` (ISO 8601, UTC, hourly),
  ``gpu_type`` or ``instance_type``, ``gpus`` (mean GPUs in use that hour), optional ``provider``,
  ``region`` and the tag columns ``team, project, environment, model, experiment, workload``;
  optional measures ``busy_gpu_hours``, ``requests`` and ``tokens`` (empty = not measured; see
  :mod:`forecasting.busy`).
- **FOCUS** 1.0–1.2 exports and **AWS CUR** (legacy and 2.0): see :mod:`forecasting.billing`.

Every source becomes the same long table (:data:`USAGE_COLUMNS`): one row per hour and series, with
``gpus`` = mean GPUs in use that hour = GPU-hours used in that hour (1 h × mean GPUs).

Validation rules (errors stop with file, row, column, value and the fix; warnings are kept in the
report and printed by ``planner usage``):

- timestamps must parse and fall on the hour; naive timestamps are taken as UTC (warning); non-UTC
  offsets are converted to UTC (warning); a file mixing naive and offset timestamps is an error.
- ``gpus`` must be numeric, finite and >= 0.
- GPU types resolve through :func:`pricing_data.gpu_types.canonical_gpu_type`, instance types through
  the catalog (``Catalog.instance_gpus()``: GPUs in use = instances × GPUs per instance); unknown
  names raise :class:`~pricing_data.errors.UnknownNameError` with suggestions. A ``gpu_type`` written
  ``other:<label>`` is a type of your own (no catalog offers), kept verbatim.
- **duplicates**: two rows with the same hour and the same series (every non-numeric column) are an
  error unless ``on_duplicate`` says how to combine them (``sum``, ``mean`` or ``last``).
- **gaps**: an hour inside the span with no row at all is a gap. Gaps are reported here and filled
  when pools are built (rule ``gap_fill``, :func:`forecasting.pools.make_pools`). A series absent in
  an hour where other series report is 0 GPUs in that hour (long format). Billing exports have no
  gaps: an hour without GPU line items used no GPUs.
- **outages**: per GPU type, a run of at least ``outage_min_hours`` hours whose total is at most
  ``outage_fraction`` (5 %) of the centred two-week rolling median of that GPU type, with usage
  before and after it (a drop at the end may be real: work stopped). Outage hours are
  flagged, not removed; the forecaster treats them as missing so that it does not learn that demand
  vanishes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from forecasting.billing import is_remote_source, read_billing_usage, remote_format
from forecasting.usage_schema import LABEL_COLUMNS, USAGE_COLUMNS
from forecasting.usage_schema import PAID_AS as PAID_AS  # re-exported: the column sets' old home
from forecasting.usage_schema import TAG_COLUMNS as TAG_COLUMNS
from forecasting.usage_schema import read_columns as _read_columns
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.gpu_types import canonical_gpu_type, resolve_gpu_type

if TYPE_CHECKING:
    from forecasting.billing_sql import TagPolicy
    from pricing_data.catalog import Catalog

OTHER_GPU_PREFIX = "other:"
OnDuplicate = Literal["error", "sum", "mean", "last"]
_COLUMN_ALIASES = {"gpus_in_use": "gpus", "gpu_count": "gpus", "time": "timestamp"}
_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_UTC_SUFFIX = re.compile(r"(?:Z|[+-]00:?00)$")


@dataclass(frozen=True)
class ValidationReport:
    """What validation found. Frames are empty when nothing was found.

    - ``gaps``: ``start, end, hours`` (UTC, inclusive start and end hour) of hours with no row.
    - ``duplicates``: ``timestamp, gpu_type, rows, resolved_by`` for hours with more than one row of
      the same series (only when ``on_duplicate`` combined them).
    - ``outages``: ``gpu_type, start, end, hours, median_gpus`` of detected outages.
    - ``warnings``: plain sentences.
    """

    gaps: pd.DataFrame
    duplicates: pd.DataFrame
    outages: pd.DataFrame
    warnings: tuple[str, ...] = ()

    @property
    def gap_hours(self) -> int:
        return int(self.gaps["hours"].sum()) if len(self.gaps) else 0

    @property
    def outage_hours(self) -> int:
        return int(self.outages["hours"].sum()) if len(self.outages) else 0


@dataclass(frozen=True)
class UsageHistory:
    """Hourly GPU usage read from one file, with what validation found.

    ``data`` has the columns of :data:`USAGE_COLUMNS` (``timestamp`` tz-aware UTC on the hour,
    ``gpus`` float64 >= 0, labels as strings, ``""`` when absent) and, for billing sources,
    ``paid_as`` (one of :data:`PAID_AS`) and ``instance_type``.
    """

    data: pd.DataFrame
    source: str
    source_format: str
    report: ValidationReport
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> pd.Timestamp | None:
        return None if self.data.empty else pd.Timestamp(self.data["timestamp"].min())

    @property
    def end(self) -> pd.Timestamp | None:
        """The last hour with data (the hour *starting* at this time)."""
        return None if self.data.empty else pd.Timestamp(self.data["timestamp"].max())

    @property
    def span_hours(self) -> int:
        if self.start is None or self.end is None:
            return 0
        return int((self.end - self.start) / pd.Timedelta(hours=1)) + 1

    @property
    def gpu_types(self) -> tuple[str, ...]:
        return tuple(sorted(self.data["gpu_type"].unique()))

    @property
    def has_paid_as(self) -> bool:
        return "paid_as" in self.data.columns

    def hourly_by_gpu_type(self) -> pd.DataFrame:
        """GPUs in use per hour (rows, full hourly span, gaps NaN) × GPU type (columns)."""
        return hourly_totals(self.data, "gpu_type")


def empty_report(warnings: tuple[str, ...] = ()) -> ValidationReport:
    return ValidationReport(
        gaps=pd.DataFrame({"start": [], "end": [], "hours": []}),
        duplicates=pd.DataFrame({"timestamp": [], "gpu_type": [], "rows": [], "resolved_by": []}),
        outages=pd.DataFrame(
            {"gpu_type": [], "start": [], "end": [], "hours": [], "median_gpus": []}
        ),
        warnings=warnings,
    )


def hourly_totals(data: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    """Sum of ``gpus`` per hour × ``by``; every hour of the span is a row, hours with no row NaN."""
    if data.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="timestamp"))
    wide = data.pivot_table(index="timestamp", columns=by, values="gpus", aggfunc="sum")
    wide = wide.fillna(0.0)
    full = pd.date_range(wide.index.min(), wide.index.max(), freq="h", name="timestamp")
    return wide.reindex(full)


# --------------------------------------------------------------------------------------------
# Format detection and dispatch
# --------------------------------------------------------------------------------------------


def detect_format(path: str | Path) -> str:
    """``tidy``, ``focus``, ``cur-legacy`` or ``cur-2.0`` from the file's column names."""
    p = Path(path)
    cols = set(_read_columns(p))
    if {"ChargePeriodStart", "ChargeCategory"} <= cols or {
        "ChargePeriodStart",
        "BilledCost",
    } <= cols:
        return "focus"
    if "lineItem/UsageStartDate" in cols or "lineItem/LineItemType" in cols:
        return "cur-legacy"
    if "line_item_usage_start_date" in cols or "line_item_line_item_type" in cols:
        return "cur-2.0"
    if "timestamp" in cols or "time" in cols:
        return "tidy"
    from forecasting.validate_usage import format_hint

    raise PlannerInputError(
        "cannot tell what kind of usage file this is",
        file=str(path),
        value=sorted(cols)[:8],
        fix=format_hint(str(path))
        or "give a tidy usage file (timestamp, gpu_type or instance_type, gpus), "
        "a FOCUS export or an AWS CUR (legacy or 2.0)",
    )


def read_usage(
    path: str | Path,
    *,
    catalog: Catalog | None = None,
    on_duplicate: OnDuplicate = "error",
    outage_min_hours: int = 12,
    outage_fraction: float = 0.05,
    gpu_aliases: Mapping[str, str] | None = None,
    tags: Mapping[str, Any] | TagPolicy | None = None,
    accept_outliers: bool | None = None,
) -> UsageHistory:
    """Read hourly GPU usage from a tidy CSV/Parquet, a FOCUS export or an AWS CUR, and validate it.

    ``catalog`` maps instance types to (GPU type, GPUs per instance); it is loaded on demand
    (``pricing_data.catalog.load_catalog()``) when a source names instance types.
    ``gpu_aliases`` maps labels found in the file to canonical GPU types (or ``other:<label>``).
    ``path`` may also be an ``s3://`` Parquet export or an ``athena://`` CUR table, and ``tags``
    bounds what a billing export keeps (see :func:`forecasting.billing.read_billing_usage`).
    Raises :class:`PlannerInputError` naming file, row, column, value and the fix. Every format's
    result obeys the same rules (:mod:`forecasting.validate_usage`); implausible hours are refused
    unless ``accept_outliers`` (None: as :func:`forecasting.validate_usage.accepting_outliers` says).
    """
    import forecasting.validate_usage as rules

    p = Path(path)
    remote = is_remote_source(path)
    if not remote and not p.exists():
        raise PlannerInputError(
            "usage file not found", file=str(path), fix="check the path to the usage file"
        )
    if not remote and p.is_dir():
        raise PlannerInputError(
            "usage path is a folder, not a file", file=str(path), fix="name one CSV or Parquet file"
        )
    fmt = remote_format(str(path)) if remote else detect_format(p)
    if not remote:  # remote sources: the per-hour rules below still apply to what they return
        rules.check_columns(_read_columns(p), str(path))
        rules.check_billing_quantities(str(p), fmt, _read_columns(p))
    if catalog is None and (fmt != "tidy" or "instance_type" in _read_columns(p)):
        from pricing_data.catalog import load_catalog

        catalog = load_catalog()
    if fmt == "tidy":
        data, warnings, dups = _read_tidy(p, catalog, on_duplicate, gpu_aliases or {})
        gaps = find_gaps(data)
    else:
        data, warnings = read_billing_usage(
            str(path) if remote else p, fmt, catalog=catalog, tags=tags
        )
        dups = empty_report().duplicates
        gaps = empty_report().gaps
    if data.empty:
        warnings = (*warnings, "no GPU usage rows were found in the file")
    outages = find_outages(data, min_hours=outage_min_hours, fraction=outage_fraction)
    report = ValidationReport(gaps=gaps, duplicates=dups, outages=outages, warnings=warnings)
    if len(gaps):
        report = ValidationReport(
            gaps=gaps,
            duplicates=dups,
            outages=outages,
            warnings=(
                *warnings,
                f"{report.gap_hours} hour(s) in {len(gaps)} gap(s) have no row; "
                "they are filled when pools are built (see gap_fill)",
            ),
        )
    meta: dict[str, Any] = {"catalog_versions": list(catalog.versions) if catalog else []}
    history = UsageHistory(data=data, source=str(path), source_format=fmt, report=report, meta=meta)
    return rules.validate_usage(history, accept_outliers=accept_outliers)


# --------------------------------------------------------------------------------------------
# Tidy files
# --------------------------------------------------------------------------------------------


def _load_tidy_frame(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
            return df.astype({c: "string" for c in df.columns if c != "gpus"})
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise PlannerInputError(
            f"cannot read the file: {e}", file=str(path), fix="give a valid CSV or Parquet file"
        ) from None


def parse_timestamps(values: pd.Series, *, file: str, column: str) -> tuple[pd.Series, list[str]]:
    """Parse ISO 8601 strings to UTC timestamps; returns (timestamps, warnings).

    ``values`` index must be the 0-based data row; error rows are reported 1-based counting the header
    (row 2 is the first data row).
    """
    warnings: list[str] = []
    strings = values.astype("string").str.strip()
    uniq = pd.Series(strings.unique()).dropna()
    parsed_uniq = pd.to_datetime(uniq, utc=True, errors="coerce", format="ISO8601")
    lookup = dict(zip(uniq.tolist(), parsed_uniq.tolist(), strict=True))
    parsed = pd.to_datetime(strings.map(lookup), utc=True)
    bad_mask = parsed.isna()
    if bad_mask.any():
        bad = bad_mask[bad_mask].index[0]
        raise PlannerInputError(
            "not an ISO 8601 timestamp",
            file=file,
            row=int(bad) + 2,
            column=column,
            value=str(values[bad]),
            fix="write timestamps like 2024-01-01T00:00:00Z",
        )
    has_tz = uniq.str.contains(_TZ_SUFFIX)
    if has_tz.any() and not has_tz.all():
        bad = strings[~strings.str.contains(_TZ_SUFFIX).fillna(False)].index[0]
        raise PlannerInputError(
            "timestamps mix values with and without a time zone",
            file=file,
            row=int(bad) + 2,
            column=column,
            value=str(strings[bad]),
            fix="write every timestamp in UTC with a Z suffix, e.g. 2024-01-01T00:00:00Z",
        )
    if not has_tz.any():
        warnings.append(f"timestamps have no time zone; they are taken as UTC ({column})")
    elif not uniq.str.contains(_UTC_SUFFIX).all():
        warnings.append(f"timestamps with non-UTC offsets were converted to UTC ({column})")
    off_hour = parsed != parsed.dt.floor("h")
    if off_hour.any():
        bad = off_hour[off_hour].index[0]
        raise PlannerInputError(
            "timestamp is not on the hour",
            file=file,
            row=int(bad) + 2,
            column=column,
            value=str(values[bad]),
            fix="aggregate to hourly means (one row per hour, minutes and seconds 0)",
        )
    return parsed.astype("datetime64[ns, UTC]"), warnings


def parse_gpus(values: pd.Series, *, file: str, column: str) -> pd.Series:
    """Non-negative finite float GPUs; the first bad row raises with its value."""
    strings = values.astype("string").str.strip()
    nums = pd.to_numeric(strings, errors="coerce").astype("float64")
    bad = nums.isna() | ~np.isfinite(nums.fillna(0.0))
    if bad.any():
        i = bad[bad].index[0]
        raise PlannerInputError(
            "not a number of GPUs",
            file=file,
            row=int(i) + 2,
            column=column,
            value=str(values[i]),
            fix="write the mean GPUs in use that hour as a number, e.g. 12.5",
        )
    neg = nums < 0
    if neg.any():
        i = neg[neg].index[0]
        raise PlannerInputError(
            "negative number of GPUs",
            file=file,
            row=int(i) + 2,
            column=column,
            value=str(values[i]),
            fix="GPUs in use cannot be below 0; correct or drop the row",
        )
    return nums


def map_gpu_types(
    labels: pd.Series,
    *,
    file: str,
    column: str,
    aliases: Mapping[str, str],
) -> pd.Series:
    """Canonical GPU types for ``labels`` (one lookup per distinct label)."""
    out: dict[str, str] = {}
    for label in labels.unique():
        s = str(label).strip()
        if s in aliases:
            target = aliases[s]
            out[label] = (
                target if target.startswith(OTHER_GPU_PREFIX) else canonical_gpu_type(target)
            )
            continue
        if s.lower().startswith(OTHER_GPU_PREFIX) and len(s) > len(OTHER_GPU_PREFIX):
            out[label] = OTHER_GPU_PREFIX + s[len(OTHER_GPU_PREFIX) :]
            continue
        if resolve_gpu_type(s) is None:
            row = int(labels[labels == label].index[0]) + 2
            if not s:
                raise PlannerInputError(
                    "empty GPU type",
                    file=file,
                    row=row,
                    column=column,
                    fix="write the GPU type (e.g. H100) or other:<label> for a type of your own",
                )
            try:
                canonical_gpu_type(s, file=file, row=row, column=column)
            except UnknownNameError as e:
                raise UnknownNameError(
                    "GPU type", s, _known_gpu_types(), file=file, row=row, column=column
                ) from e
        out[label] = canonical_gpu_type(s)
    return labels.map(out).astype("string")


def _known_gpu_types() -> list[str]:
    from pricing_data.gpu_types import CANONICAL_GPU_TYPES

    return list(CANONICAL_GPU_TYPES)


def map_instance_types(
    labels: pd.Series,
    instance_gpus: Mapping[str, tuple[str, float]],
    *,
    file: str,
    column: str,
) -> tuple[pd.Series, pd.Series]:
    """(GPU type, GPUs per instance) for each instance type label; unknown ones raise."""
    lower = {k.lower(): k for k in instance_gpus}
    gpu: dict[str, str] = {}
    per: dict[str, float] = {}
    for label in labels.unique():
        key = lower.get(str(label).strip().lower())
        if key is None:
            row = int(labels[labels == label].index[0]) + 2
            raise UnknownNameError(
                "instance type", str(label), instance_gpus, file=file, row=row, column=column
            )
        gpu[label], per[label] = instance_gpus[key]
    return labels.map(gpu).astype("string"), labels.map(per).astype("float64")


def _read_tidy(
    path: Path,
    catalog: Catalog | None,
    on_duplicate: OnDuplicate,
    aliases: Mapping[str, str],
) -> tuple[pd.DataFrame, tuple[str, ...], pd.DataFrame]:
    file = str(path)
    raw = _load_tidy_frame(path)
    raw.columns = [str(c).strip() for c in raw.columns]
    warnings: list[str] = []
    for old, new in _COLUMN_ALIASES.items():
        if old in raw.columns and new not in raw.columns:
            raw = raw.rename(columns={old: new})
            warnings.append(f"column '{old}' read as '{new}'")
    if "gpus" not in raw.columns:
        raise PlannerInputError(
            "missing column 'gpus'",
            file=file,
            column="gpus",
            fix="add a 'gpus' column: mean GPUs (or instances, with instance_type) in use per hour",
        )
    if "gpu_type" not in raw.columns and "instance_type" not in raw.columns:
        raise PlannerInputError(
            "missing column 'gpu_type' or 'instance_type'",
            file=file,
            fix="add a 'gpu_type' column (e.g. H100) or an 'instance_type' column (e.g. p5.48xlarge)",
        )
    raw = raw.reset_index(drop=True)
    ts, tz_warnings = parse_timestamps(raw["timestamp"], file=file, column="timestamp")
    warnings += tz_warnings
    gpus = parse_gpus(raw["gpus"], file=file, column="gpus")
    out = pd.DataFrame({"timestamp": ts})
    has_gpu = "gpu_type" in raw.columns
    if "instance_type" in raw.columns:
        it = raw["instance_type"].astype("string").fillna("").str.strip()
        use_it = it != ""
        if has_gpu:
            use_it &= raw["gpu_type"].astype("string").fillna("").str.strip() == ""
        gpu_type = pd.Series(pd.NA, index=raw.index, dtype="string")
        if use_it.any():
            if catalog is None:
                from pricing_data.catalog import load_catalog

                catalog = load_catalog()
            g, per = map_instance_types(
                it[use_it], catalog.instance_gpus(), file=file, column="instance_type"
            )
            gpu_type[use_it] = g
            gpus = gpus.where(~use_it, gpus * per.reindex(raw.index).fillna(1.0))
        if has_gpu and (~use_it).any():
            gpu_type[~use_it] = map_gpu_types(
                raw["gpu_type"][~use_it].astype("string").fillna(""),
                file=file,
                column="gpu_type",
                aliases=aliases,
            )
        elif (~use_it).any():
            i = int((~use_it)[~use_it].index[0])
            raise PlannerInputError(
                "empty instance type",
                file=file,
                row=i + 2,
                column="instance_type",
                fix="write the instance type (e.g. p5.48xlarge) on every row",
            )
        out["instance_type"] = it
    else:
        gpu_type = map_gpu_types(
            raw["gpu_type"].astype("string").fillna(""),
            file=file,
            column="gpu_type",
            aliases=aliases,
        )
    out["gpu_type"] = gpu_type
    out["gpus"] = gpus
    for c in LABEL_COLUMNS:
        out[c] = (
            raw[c].astype("string").fillna("").str.strip()
            if c in raw.columns
            else pd.Series("", index=raw.index, dtype="string")
        )
    if "provider" in raw.columns:
        out["provider"] = out["provider"].str.lower()
    from forecasting.busy import OPTIONAL_MEASURES, check_busy_within_held, parse_measure

    measures = [c for c in OPTIONAL_MEASURES if c in raw.columns]
    for c in measures:  # optional busy measure and unit counts (forecasting.busy)
        out[c] = parse_measure(raw[c], file=file, column=c)
    check_busy_within_held(out, file)
    keys = ["timestamp", "gpu_type", *LABEL_COLUMNS]
    if "instance_type" in out.columns:
        keys.append("instance_type")
    dups_found = out.duplicated(keys, keep=False)
    dup_report = empty_report().duplicates
    if dups_found.any():
        rows = out.index[dups_found]
        first = int(rows[0])
        twin = int(out.index[dups_found & (out["timestamp"] == out["timestamp"][first])][1])
        if on_duplicate == "error":
            raise PlannerInputError(
                f"duplicate hour: rows {first + 2} and {twin + 2} are the same series and hour",
                file=file,
                row=twin + 2,
                column="timestamp",
                value=str(raw["timestamp"][twin]),
                fix="keep one row per hour and series, or choose how to combine them "
                "(--on-duplicate sum|mean|last)",
            )
        grouped = out[dups_found].groupby(["timestamp", "gpu_type"], observed=True).size()
        dup_report = grouped.rename("rows").reset_index().assign(resolved_by=on_duplicate)
        warnings.append(
            f"{int(dups_found.sum())} rows share an hour and series with another row; "
            f"combined by {on_duplicate}"
        )
        agg = {"sum": "sum", "mean": "mean", "last": "last"}[on_duplicate]
        grouped_rows = out.groupby(keys, observed=True, sort=False, dropna=False)
        combined = grouped_rows[["gpus", *measures]].agg(agg)
        if measures:  # a measure stays "not measured" (NaN) when no duplicate row measured it
            counted = grouped_rows[measures].count()
            combined[measures] = combined[measures].where(counted > 0)
        out = combined.reset_index()
    out = out.sort_values(["timestamp", "gpu_type"], kind="stable").reset_index(drop=True)
    cols = [*USAGE_COLUMNS, *(["instance_type"] if "instance_type" in out.columns else [])]
    cols += measures
    return out[cols], tuple(warnings), dup_report


# --------------------------------------------------------------------------------------------
# Gaps and outages
# --------------------------------------------------------------------------------------------


def mask_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end_exclusive) index pairs of the True runs of ``mask``."""
    if mask.size == 0:
        return []
    m = np.concatenate([[False], mask.astype(bool), [False]])
    d = np.diff(m.astype(np.int8))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def find_gaps(data: pd.DataFrame) -> pd.DataFrame:
    """Hours between the first and last timestamp with no row at all, as runs."""
    if data.empty:
        return empty_report().gaps
    present = pd.DatetimeIndex(data["timestamp"].unique()).sort_values()
    full = pd.date_range(present[0], present[-1], freq="h")
    missing = ~full.isin(present)
    rows = [
        {"start": full[a], "end": full[b - 1], "hours": b - a}
        for a, b in mask_runs(np.asarray(missing))
    ]
    return pd.DataFrame(rows) if rows else empty_report().gaps


def outage_mask(
    values: np.ndarray, *, min_hours: int = 12, fraction: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean outage mask of an hourly series (NaN = gap) and the reference median per hour.

    Hour ``t`` is low when ``y_t <= fraction × median(y over the centred 337-hour window)``; a run of
    at least ``min_hours`` low hours with usage on both sides is an outage (a run at the start or the
    end of the series is not). Series whose median is 0 have no outages.
    """
    y = pd.Series(np.asarray(values, dtype=float))
    med = y.rolling(337, center=True, min_periods=24).median()
    med = med.fillna(y.median())
    low = ((y <= fraction * med) & (med > 0)).to_numpy()
    mask = np.zeros(len(y), dtype=bool)
    n = len(y)
    for a, b in mask_runs(low):
        # a run touching either end is not an outage: usage not yet started, or stopped (or a
        # drop still going on) — the forecaster must see it as it is
        if b - a >= min_hours and a > 0 and b < n:
            mask[a:b] = True
    return mask, med.to_numpy()


def find_outages(
    data: pd.DataFrame, *, min_hours: int = 12, fraction: float = 0.05
) -> pd.DataFrame:
    """Outages per GPU type (see :func:`outage_mask`)."""
    if data.empty:
        return empty_report().outages
    wide = hourly_totals(data, "gpu_type")
    rows = []
    for col in wide.columns:
        mask, med = outage_mask(wide[col].to_numpy(), min_hours=min_hours, fraction=fraction)
        for a, b in mask_runs(mask):
            rows.append(
                {
                    "gpu_type": str(col),
                    "start": wide.index[a],
                    "end": wide.index[b - 1],
                    "hours": b - a,
                    "median_gpus": float(np.nanmedian(med[a:b])),
                }
            )
    return pd.DataFrame(rows) if rows else empty_report().outages
