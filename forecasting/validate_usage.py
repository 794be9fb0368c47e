"""The rules every usage source obeys, whatever its format: :func:`validate_usage`.

:func:`forecasting.read_usage` applies them to the :class:`~forecasting.usage.UsageHistory` that every
reader (tidy CSV/Parquet, FOCUS, AWS CUR legacy and 2.0) returns, so one file format cannot let
through what another refuses. Errors raise :class:`~pricing_data.errors.PlannerInputError` (exit
code 2) naming the file, the column, the hour and the value, and the fix.

Hard rules (no flag overrides them):

- ``gpus`` is a finite number >= 0 and at most :data:`MAX_GPUS_PER_ROW` (more GPUs than exist in
  the world in one series and hour is a unit error, e.g. GPU-seconds instead of GPUs).
- ``provider`` is empty or a known provider (:data:`pricing_data.schema.PROVIDERS`), with
  did-you-mean suggestions.
- ``region`` of AWS usage (provider ``aws`` or empty) is empty or a known AWS region code
  (:data:`AWS_REGIONS`): a mistyped region would otherwise be planned in the default region.

Loud warnings (kept in the report; the usage may be a real trace with shifted dates): timestamps
before :data:`EARLIEST_USAGE` (no cloud GPU existed; a 1970 date is an epoch of 0) or more than a day
after the time of reading, since a plan starts where the history ends and is priced today.

Plausibility (refused unless ``accept_outliers``, then a loud warning naming each hour):

- per GPU type, the hourly total ``y_t`` is an **outlier** when its robust z-score
  ``z_t = (y_t − median(y)) / s`` exceeds :data:`OUTLIER_Z` **and** ``y_t`` exceeds
  :data:`OUTLIER_RATIO` × the 95th percentile of ``y``. ``s = 1.4826 · MAD(y)`` (the median absolute
  deviation scaled to a normal's standard deviation), floored at 5 % of the median and at 1 GPU so
  that a flat series does not make every wiggle infinite. Both conditions must hold: a genuine
  burst is a few times the usual level, a unit or typing error is orders of magnitude above it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pricing_data.aws.regions import REGIONS
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.schema import PROVIDERS

if TYPE_CHECKING:
    from forecasting.usage import UsageHistory

#: The most GPUs one series may use in one hour (more than any organisation runs).
MAX_GPUS_PER_ROW = 10_000_000.0
#: No cloud GPU usage before EC2 launched (2006-08-25).
EARLIEST_USAGE = pd.Timestamp("2006-08-25", tz="UTC")
#: Robust z-score above which an hour may be an outlier (see module docstring).
OUTLIER_Z = 50.0
#: ...and the multiple of the series' 95th percentile it must also exceed.
OUTLIER_RATIO = 10.0
#: AWS region codes the location table (:mod:`pricing_data.aws.regions`) does not list yet.
_MORE_AWS_REGIONS: tuple[str, ...] = (
    "ap-east-2",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "mx-central-1",
    "us-gov-east-1",
)
#: Every AWS region code (commercial, GovCloud, China), as CUR ``product/regionCode`` writes it.
AWS_REGIONS: tuple[str, ...] = tuple(sorted({*REGIONS, *_MORE_AWS_REGIONS}))
ACCEPT_FLAG = "--accept-outliers"
#: The prefix a planning run puts before the warnings it must show whatever else it hides.
LOUD = "WARNING: "
#: How those warnings begin in the usage report (see :func:`loud_warnings`).
LOUD_STARTS = ("usage dated ", "accepted outliers: ")
#: Whether implausible hours are accepted when the caller of ``read_usage`` does not say (the CLI's
#: ``--accept-outliers`` sets it for one command, see :func:`accepting_outliers`).
_ACCEPT_DEFAULT: ContextVar[bool] = ContextVar("accept_outliers", default=False)


@contextmanager
def accepting_outliers(accept: bool = True) -> Iterator[None]:
    """Within the block, :func:`validate_usage` accepts implausible hours (with a loud warning)
    unless told otherwise."""
    token = _ACCEPT_DEFAULT.set(accept)
    try:
        yield
    finally:
        _ACCEPT_DEFAULT.reset(token)


def _hour(ts: object) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%MZ")  # type: ignore[arg-type]


def check_values(data: pd.DataFrame, file: str) -> None:
    """Hard rules on ``gpus`` (module docstring)."""
    if data.empty:
        return
    gpus = pd.to_numeric(data["gpus"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(gpus) | (gpus < 0) | (gpus > MAX_GPUS_PER_ROW)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rec = data.iloc[i]
        v = gpus[i]
        if not np.isfinite(v):
            what, fix = (
                "GPUs in use is not a finite number",
                "write the mean GPUs in use, e.g. 12.5",
            )
        elif v < 0:
            what = "negative GPU usage"
            fix = (
                "GPUs in use cannot be below 0: correct the file (a refund or correction "
                "line does not belong in usage)"
            )
        else:
            what = f"more than {MAX_GPUS_PER_ROW:,.0f} GPUs in one hour"
            fix = "check the unit: gpus is the mean number of GPUs in use that hour"
        raise PlannerInputError(
            f"{what} for {rec['gpu_type']} at {_hour(rec['timestamp'])}",
            file=file,
            column="gpus",
            value=float(v),
            fix=fix,
        )


def date_warnings(data: pd.DataFrame) -> tuple[str, ...]:
    """Loud warnings for usage dated before cloud GPUs existed or in the future (the plan would
    start then, priced by today's catalog)."""
    if data.empty:
        return ()
    ts = pd.DatetimeIndex(data["timestamp"])
    first, last = ts.min(), ts.max()
    out = []
    if first < EARLIEST_USAGE:
        out.append(
            f"usage dated {_hour(first)}, before any cloud GPU existed: a plan from it starts "
            "then, on today's prices (a 1970 date is usually an epoch of 0)"
        )
    now = pd.Timestamp.now(tz="UTC")
    if last > now + pd.Timedelta(days=1):
        out.append(
            f"usage dated {_hour(last)}, in the future: a plan from it starts then, on today's "
            "prices (check the year and the time zone)"
        )
    return tuple(out)


def check_names(data: pd.DataFrame, file: str) -> None:
    """Known providers, and known AWS regions for AWS usage (module docstring)."""
    if data.empty:
        return
    providers = data["provider"].astype("string").fillna("").str.strip().str.lower()
    for p in providers.unique():
        if p and p not in PROVIDERS:
            first = data["timestamp"][providers == p].min()
            err = UnknownNameError("provider", str(p), PROVIDERS, file=file, column="provider")
            raise PlannerInputError(
                f"{err.what} (first at {_hour(first)})", file=file, column="provider", fix=err.fix
            )
    region = data["region"].astype("string").fillna("").str.strip().str.lower()
    on_aws = providers.isin(["", "aws"])
    for r in region[on_aws].unique():
        if r and r not in AWS_REGIONS:
            first = data["timestamp"][on_aws & (region == r)].min()
            err = UnknownNameError("AWS region", str(r), AWS_REGIONS, file=file, column="region")
            raise PlannerInputError(
                f"{err.what} (first at {_hour(first)}); it would be planned in the default region",
                file=file,
                column="region",
                fix=err.fix,
            )


def robust_z(values: np.ndarray) -> np.ndarray:
    """``(y − median) / s`` with ``s = 1.4826 · MAD`` floored at 5 % of the median and 1 GPU."""
    y = np.asarray(values, dtype=float)
    med = float(np.median(y))
    mad = float(np.median(np.abs(y - med)))
    scale = max(1.4826 * mad, 0.05 * abs(med), 1.0)
    return (y - med) / scale


def find_outliers(data: pd.DataFrame) -> pd.DataFrame:
    """Implausible hours per GPU type: ``gpu_type, timestamp, gpus, z, p95_gpus`` (docstring)."""
    rows: list[dict[str, object]] = []
    if data.empty:
        return pd.DataFrame(columns=["gpu_type", "timestamp", "gpus", "z", "p95_gpus"])
    totals = data.groupby(["gpu_type", "timestamp"], observed=True)["gpus"].sum()
    for gpu_type, series in totals.groupby(level=0, observed=True):
        y = series.to_numpy(dtype=float)
        if len(y) < 3:
            continue
        z = robust_z(y)
        p95 = float(np.percentile(y, 95))
        hit = (z > OUTLIER_Z) & (y > OUTLIER_RATIO * max(p95, 1.0))
        for i in np.flatnonzero(hit):
            rows.append(
                {
                    "gpu_type": str(gpu_type),
                    "timestamp": series.index[int(i)][1],
                    "gpus": float(y[i]),
                    "z": float(z[i]),
                    "p95_gpus": p95,
                }
            )
    return pd.DataFrame(rows, columns=["gpu_type", "timestamp", "gpus", "z", "p95_gpus"])


def outlier_message(outliers: pd.DataFrame, shown: int = 3) -> str:
    parts = [
        f"{r.gpu_type} {_hour(r.timestamp)}: {r.gpus:,.6g} GPUs (P95 {r.p95_gpus:,.1f}, z {r.z:,.0f})"
        for r in outliers.head(shown).itertuples()
    ]
    more = f" and {len(outliers) - shown} more" if len(outliers) > shown else ""
    return f"{len(outliers)} implausible hour(s): " + "; ".join(parts) + more


def validate_usage(history: UsageHistory, *, accept_outliers: bool | None = None) -> UsageHistory:
    """``history`` (a :class:`~forecasting.usage.UsageHistory`) checked against every rule above.

    Returns the history, with a warning added per accepted outlier; raises
    :class:`PlannerInputError` on a broken rule. ``accept_outliers=None`` follows
    :func:`accepting_outliers` (default: refuse).
    """
    if accept_outliers is None:
        accept_outliers = _ACCEPT_DEFAULT.get()
    data, file = history.data, history.source
    check_values(data, file)
    check_names(data, file)
    warned = date_warnings(data)
    if warned:
        history = replace(
            history, report=replace(history.report, warnings=(*history.report.warnings, *warned))
        )
    outliers = find_outliers(data)
    if outliers.empty:
        return history
    text = outlier_message(outliers)
    if not accept_outliers:
        raise PlannerInputError(
            text + " — each would raise the commitments bought",
            file=file,
            column="gpus",
            fix=f"correct those hours, or pass {ACCEPT_FLAG} if they are real",
        )
    report = replace(
        history.report, warnings=(*history.report.warnings, f"accepted outliers: {text}")
    )
    return replace(history, report=report)


# --------------------------------------------------------------------------------------------
# The file itself: header, delimiter, compression, billing quantities
# --------------------------------------------------------------------------------------------


def check_columns(columns: list[str], file: str) -> None:
    """A header naming a column twice is refused (a reader would keep one and drop the other)."""
    seen: set[str] = set()
    for c in columns:
        key = str(c).strip()
        if key in seen and key:
            raise PlannerInputError(
                "the header names a column twice",
                file=file,
                row=1,
                column=key,
                fix="rename or remove one of the two columns",
            )
        seen.add(key)


def format_hint(path: str) -> str | None:
    """Why a file's columns are not recognised, when it can be told from its first bytes."""
    import gzip

    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if head[:2] == b"\x1f\x8b" and not path.lower().endswith(".gz"):
        return "the file is gzip-compressed: name it with a .gz suffix (e.g. usage.csv.gz)"
    if head[:4] == b"PAR1" and not path.lower().endswith((".parquet", ".pq")):
        return "the file is Parquet: name it with a .parquet suffix"
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as gz:
                head = gz.read(4096)
        except (OSError, EOFError):
            return "the .gz file is not a valid gzip file"
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
        if first.count(sep) >= 2 and first.count(",") == 0:
            return (
                f"the file looks {name}-delimited: save it as comma-separated CSV "
                "(e.g. from a spreadsheet: File > Save as > CSV UTF-8)"
            )
    return None


#: Per billing format: quantity column(s), the charge-type column and its usage values, the
#: unit or usage-type filter, and the columns an instance type is read from (as the reader does).
_BILLING_QUANTITY: dict[str, dict[str, Any]] = {
    "focus": {
        "qty": ("ConsumedQuantity", "PricingQuantity"),
        "kind": "ChargeCategory",
        "usage": ("Usage",),
        "unit": "ConsumedUnit",
        "text": ("x_UsageType", "SkuMeter", "SkuPriceDetails", "ChargeDescription", "ResourceType"),
    },
    "cur-legacy": {
        "qty": ("lineItem/UsageAmount",),
        "kind": "lineItem/LineItemType",
        "usage": ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"),
        "usage_type": "lineItem/UsageType",
        "instance": "product/instanceType",
    },
    "cur-2.0": {
        "qty": ("line_item_usage_amount",),
        "kind": "line_item_line_item_type",
        "usage": ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"),
        "usage_type": "line_item_usage_type",
        "instance": "product_instance_type",
    },
}


def _gpu_line_sql(spec: dict[str, Any], have: set[str]) -> str:
    """SQL true for the GPU instance-hour lines the billing reader sums (same filters)."""
    from forecasting.billing_sql import GPU_FAMILY_RE, INSTANCE_RE

    def text(col: str) -> str:
        return f"coalesce(CAST({_sql_ident(col)} AS VARCHAR), '')" if col in have else "''"

    if "unit" in spec:
        unit = f"lower({text(spec['unit'])})"
        hourly = f"({unit} LIKE 'hour%' OR {unit} LIKE 'hr%' OR {unit} = 'h')"
        cols = [c for c in spec["text"] if c in have] or ["(none)"]
        found = ", ".join(
            f"nullif(regexp_extract(lower({text(c)}), {_sql_text(INSTANCE_RE)}, 1), '')"
            for c in cols
        )
        instance = f"coalesce({found}, '')"
    else:
        ut = text(spec["usage_type"])
        hourly = f"regexp_matches({ut}, '(BoxUsage|SpotUsage|DedicatedUsage|HostUsage)')"
        instance = (
            f"coalesce(nullif(lower({text(spec['instance'])}), ''), "
            f"lower(regexp_extract({ut}, ':(.*)$', 1)))"
        )
    return f"{hourly} AND regexp_matches({instance}, {_sql_text(GPU_FAMILY_RE)})"


def _sql_ident(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def _sql_text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def check_billing_quantities(path: str, fmt: str, columns: list[str]) -> None:
    """Every GPU usage line's quantity of a FOCUS or CUR export is a finite number >= 0.

    The lines checked are those the billing reader sums: usage charges of GPU instance types, in
    hours (other lines, e.g. a storage correction with a negative quantity, are not usage the
    planner reads).

    The billing readers sum quantities per hour and series; a negative line would silently
    cancel real usage and a non-numeric one would silently vanish, so either is refused here with
    its row. One streaming duckdb pass; the row number is looked up only when a bad line exists.
    """
    if fmt not in _BILLING_QUANTITY:
        return
    spec = _BILLING_QUANTITY[fmt]
    cat_col, usage_values = spec["kind"], spec["usage"]
    have = set(columns)
    qty = next((c for c in spec["qty"] if c in have), None)
    if qty is None or cat_col not in have:
        return
    import duckdb

    if path.lower().endswith((".parquet", ".pq")):
        src = f"read_parquet({_sql_text(path)})"
    else:
        src = f"read_csv({_sql_text(path)}, all_varchar=true, header=true, nullstr=['NULL', ''])"
    q = f"trim(CAST({_sql_ident(qty)} AS VARCHAR))"
    num = f"TRY_CAST({q} AS DOUBLE)"
    cats = ", ".join(_sql_text(v) for v in usage_values)
    where = (
        f"CAST({_sql_ident(cat_col)} AS VARCHAR) IN ({cats}) AND {q} IS NOT NULL AND {q} <> '' "
        f"AND ({num} IS NULL OR NOT isfinite({num}) OR {num} < 0) "
        f"AND {_gpu_line_sql(spec, have)}"
    )
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 2")
        hit = con.execute(f"SELECT {q} FROM {src} WHERE {where} LIMIT 1").fetchone()
        if hit is None:
            return
        located = con.execute(
            f"SELECT rn, v FROM (SELECT row_number() OVER () AS rn, {q} AS v, "
            f"({where}) AS bad FROM {src}) WHERE bad LIMIT 1"
        ).fetchone()
    except duckdb.Error:
        return  # the reader itself reports an unreadable export
    finally:
        con.close()
    value = str(hit[0])
    header_rows = 0 if path.lower().endswith((".parquet", ".pq")) else 1
    row = None if located is None else int(located[0]) + header_rows
    try:
        negative = float(value) < 0
    except ValueError:
        negative = False
    raise PlannerInputError(
        "negative usage quantity on a usage line"
        if negative
        else "usage quantity is not a finite number",
        file=path,
        row=row,
        column=qty,
        value=value,
        fix="give the unmodified export: usage lines carry quantities >= 0 "
        "(refunds and credits are separate charge categories)",
    )


#: How far a plan's start may be from the catalog's newest price date before a loud warning.
PRICE_DATE_TOLERANCE = pd.Timedelta(days=365)


def price_date_warning(start: pd.Timestamp, price_dates: pd.Series) -> str | None:
    """A loud warning when a plan starting at ``start`` is priced by a catalog whose newest price
    date is more than :data:`PRICE_DATE_TOLERANCE` away (a history from 1970 or 2031)."""
    dates = pd.to_datetime(price_dates, errors="coerce", utc=True).dropna()
    if dates.empty:
        return None
    newest = dates.max()
    if abs(pd.Timestamp(start) - newest) <= PRICE_DATE_TOLERANCE:
        return None
    return (
        f"{LOUD}the plan starts {pd.Timestamp(start).date()} but is priced with prices of "
        f"{newest.date()}: check the usage file's dates, or choose prices with --as-of"
    )


def loud_warnings(history: UsageHistory, start: pd.Timestamp, offers: pd.DataFrame) -> list[str]:
    """The warnings a planning run must show whatever else it hides: the history's loud ones
    (dates, accepted outliers) and a plan start far from the catalog's price dates."""
    out = [LOUD + w for w in history.report.warnings if w.startswith(LOUD_STARTS)]
    if "price_date" in offers.columns:
        stale = price_date_warning(start, offers["price_date"])
        if stale:
            out.append(stale)
    return out
