"""GPU-hours from billing exports: FOCUS 1.0–1.2 and AWS CUR (legacy and 2.0), CSV or Parquet.

Exports can be larger than memory, so the reduction runs in a query engine, streaming over the
export: only the GPU-candidate usage lines are kept and summed per (line start, line end, instance
type, how paid, provider, region, kept tags) — the SQL of :mod:`forecasting.billing_sql`, written
once for both engines:

- **duckdb** (embedded, the default) over a local file, or over Parquet objects in S3
  (``s3://bucket/prefix/*.parquet``, duckdb's httpfs with the standard AWS credential chain);
- **Amazon Athena** over the CUR-to-Athena table (``athena://DATABASE/TABLE?...``,
  :class:`AthenaSource`, API calls in :mod:`pricing_data.aws.athena`): only the hourly aggregate
  comes back.

pandas then sees the small aggregate (:func:`usage_from_reduction`): it maps instance types to GPUs
through the catalog (``GPU-hours = instance-hours × GPUs per instance``) and spreads lines longer
than an hour evenly over their hours (daily CUR granularity: ``gpus_t = GPU-hours / hours in the
line``). Only the tags asked for are kept, and a tag's values can be folded to those a policy names,
so the aggregate stays small whatever the number of tag values.

FOCUS (columns per the FOCUS spec): ``ChargeCategory = 'Usage'`` rows whose ``ConsumedUnit`` is
hours; the instance type is the first AWS-style instance name (``p5.48xlarge``) found in
``x_UsageType``, ``SkuMeter``, ``SkuPriceDetails``, ``ChargeDescription`` or ``ResourceType`` (in
that order); GPU-hours = ``ConsumedQuantity`` × GPUs per instance. Paid as: ``CommitmentDiscountType``
"Savings Plan" → savings_plan, "Reservation" → reserved_instance; ``PricingCategory`` "Dynamic" (or
a SpotUsage usage type) → spot; else on_demand. ``Tags`` is a JSON object or a map (keys matched
without case, ``user:`` prefixes dropped). Timestamps without ``T``/``Z`` are UTC; the literal ``NULL`` is empty.

AWS CUR: lines with ``LineItemType`` Usage, DiscountedUsage (→ reserved_instance) or
SavingsPlanCoveredUsage (→ savings_plan) whose usage type is ``BoxUsage``, ``SpotUsage`` (→ spot),
``DedicatedUsage`` or ``HostBoxUsage``; instance type from ``product/instanceType`` (legacy) /
``product_instance_type`` (2.0), else the usage type after ``:``; region from the product region
code, else the usage type's prefix (``USE1`` → us-east-1). Tags from ``resourceTags/user:<tag>``
(legacy) or ``resource_tags_user_<tag>`` / the ``resource_tags`` map (2.0).

Instance types of GPU families (p*, g*, gr*, inf*, trn*, dl*) that the catalog does not know are
left out with a warning naming them; other instance types are not GPU usage and are ignored.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from forecasting.billing_sql import (
    ATHENA,
    DUCKDB,
    GPU_FAMILY_RE,
    INSTANCE_RE,
    REQUIRED_CUR_ROLES,
    Kind,
    TagKeep,
    TagPolicy,
    cur_column,
    lit,
    q,
    reduction_sql,
    text,
)
from forecasting.usage_schema import TAG_COLUMNS, USAGE_COLUMNS
from forecasting.usage_schema import read_columns as _read_columns
from pricing_data.aws.regions import USAGE_PREFIX_CODES
from pricing_data.errors import PlannerInputError, suggest

if TYPE_CHECKING:
    from pricing_data.catalog import Catalog

#: duckdb's memory cap while aggregating an export (it spills to a temporary folder beyond it)
DUCKDB_MEMORY_LIMIT = "512MB"
GPU_FAMILY = re.compile(GPU_FAMILY_RE)
_REGION_PREFIX = USAGE_PREFIX_CODES  # one region table: pricing_data/aws/regions.py


def _source_sql(path: Path | str) -> str:
    name = str(path)
    if name.lower().endswith((".parquet", ".pq")) or (
        is_s3_url(name) and not name.lower().endswith((".csv", ".csv.gz", ".gz"))
    ):
        return f"read_parquet({lit(name)}, union_by_name=true)"
    return f"read_csv({lit(name)}, all_varchar=true, header=true, nullstr=['NULL', ''])"


def is_s3_url(path: str | Path) -> bool:
    """Whether ``path`` names objects in S3 (``s3://bucket/key``, globs allowed)."""
    return str(path).startswith("s3://")


def _connect(path: Path | str) -> tuple[Any, str]:
    """A duckdb connection with bounded memory; for S3 paths, httpfs with the credential chain."""
    import tempfile

    import duckdb

    con = duckdb.connect()
    spill = tempfile.mkdtemp(prefix="planner-duckdb-")
    # bounded memory: duckdb streams the file and spills aggregation state to ``spill``
    con.execute("SET threads TO 2")
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET temp_directory = {lit(spill)}")
    if is_s3_url(path):
        try:
            for stmt in S3_SETUP_SQL:
                con.execute(stmt)
        except duckdb.Error as e:
            con.close()
            shutil.rmtree(spill, ignore_errors=True)
            raise PlannerInputError(
                f"cannot set up duckdb's S3 reader: {str(e).splitlines()[0]}",
                file=str(path),
                fix="install duckdb's httpfs and aws extensions once, with network access: "
                "python -c \"import duckdb; duckdb.sql('INSTALL httpfs; INSTALL aws')\" "
                "(or copy the export locally)",
            ) from None
    return con, spill


#: duckdb statements that let ``read_parquet('s3://...')`` use the standard AWS credential chain
#: (environment, profile, SSO, instance role), as boto3 does
S3_SETUP_SQL = (
    "LOAD httpfs",
    "LOAD aws",
    "CREATE OR REPLACE SECRET planner_s3 (TYPE s3, PROVIDER credential_chain)",
)


def _run(sql: str, path: Path | str) -> pd.DataFrame:
    import duckdb

    con, spill = _connect(path)
    try:
        # strings arrive as categoricals: the aggregate's label columns repeat a few values
        table = con.sql(sql).to_arrow_table()
        return table.to_pandas(strings_to_categorical=True)
    except duckdb.Error as e:
        raise PlannerInputError(
            f"cannot read the billing export: {str(e).splitlines()[0]}",
            file=str(path),
            fix="check the S3 URL, and that the AWS credential chain grants s3:GetObject and "
            "s3:ListBucket on it"
            if is_s3_url(path)
            else "give an unmodified FOCUS or AWS CUR export (CSV or Parquet)",
        ) from None
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def column_types(path: Path | str) -> dict[str, str]:
    """The export's columns and SQL types (CSV columns are all text)."""
    name = str(path)
    if is_s3_url(name):
        df = _run(f"DESCRIBE SELECT * FROM {_source_sql(name)}", name)
        return dict(zip(df["column_name"], df["column_type"].astype(str), strict=True))
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        _read_columns(p)  # a clear error for a file that is not Parquet
        return {f.name: str(f.type) for f in pq.read_schema(p)}
    return {c: "varchar" for c in _read_columns(p)}


def _check_cur_columns(kind: Kind, columns: Mapping[str, str], where: str) -> None:
    for role in REQUIRED_CUR_ROLES:
        col = cur_column(kind, role, columns)
        if col not in columns:
            raise PlannerInputError(
                f"the AWS CUR has no column '{col}'",
                file=where,
                column=col,
                fix="export the CUR with its standard columns",
            )


def billing_kind(fmt: str) -> Kind:
    """The reduction kind of a detected format (``focus``, ``cur-legacy``, ``cur-2.0``)."""
    return "focus" if fmt == "focus" else "cur-legacy" if fmt == "cur-legacy" else "cur"


def _provider(name: str) -> str:
    s = name.strip().lower()
    if s in ("aws", "amazon web services", "amazon web services, inc.") or s.startswith("amazon"):
        return "aws"
    return s.split(" ")[0] if s else ""


def _parse_times(values: pd.Series, path: Path | str, column: str) -> np.ndarray:
    """UTC times (``datetime64[ns]``, NaT for empty) of ISO text, each distinct value parsed once."""
    cat = values.astype("category")
    uniq = pd.Series(cat.cat.categories.astype(str))
    parsed = pd.to_datetime(uniq, utc=True, errors="coerce", format="ISO8601")
    bad = parsed.isna() & (uniq != "")
    if bad.any():
        raise PlannerInputError(
            "not a timestamp",
            file=str(path),
            column=column,
            value=str(uniq[bad].iloc[0]),
            fix="give an unmodified export (ISO 8601 timestamps)",
        )
    lookup = np.append(parsed.dt.tz_localize(None).to_numpy(), np.datetime64("NaT", "ns"))
    return lookup[cat.cat.codes.to_numpy()]  # code -1 (missing) picks the NaT at the end


def _coded(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A text column as ``(codes, labels)``: labels sorted and distinct (``''`` for missing),
    ``int32`` codes into them — a few bytes per row instead of a string."""
    cat = values.astype("category")
    names = np.append(np.asarray(cat.cat.categories.astype(str), dtype=object), "")
    codes = cat.cat.codes.to_numpy().astype(np.int32)
    codes[codes < 0] = len(names) - 1
    labels, inverse = np.unique(names, return_inverse=True)
    return inverse.astype(np.int32)[codes], labels


def _relabel(
    coded: tuple[np.ndarray, np.ndarray], fn: Callable[[Any], Any]
) -> tuple[np.ndarray, np.ndarray]:
    """``fn`` applied to each label (not each row), codes remapped onto the new sorted labels."""
    codes, labels = coded
    mapped = np.array([fn(v) for v in labels], dtype=object)
    new_labels, inverse = np.unique(mapped, return_inverse=True)
    return inverse.astype(np.int32)[codes], new_labels


def _sum_by_codes(
    keys: dict[str, tuple[np.ndarray, np.ndarray]], values: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``values`` summed per distinct key tuple, sorted by the keys in order (like a sorted
    groupby); each key is ``(codes, sorted labels)``, so code order is label order."""
    codes = [c.astype(np.int64) for c, _ in keys.values()]
    sizes = tuple(max(len(lab), 1) for _, lab in keys.values())
    if float(np.prod(np.array(sizes, dtype=float))) < 2**62:
        combined = np.ravel_multi_index(tuple(codes), sizes)
        del codes
        kept, inverse = np.unique(combined, return_inverse=True)
        parts = np.unravel_index(kept, sizes)
    else:  # too many combinations for one integer: sort the code tuples
        stacked = np.stack(codes, axis=1)
        kept_rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
        parts = tuple(kept_rows[:, i] for i in range(len(sizes)))
    sums = np.bincount(inverse.ravel(), weights=values, minlength=len(parts[0]))
    out = {
        name: np.asarray(lab)[p] for (name, (_c, lab)), p in zip(keys.items(), parts, strict=True)
    }
    return out, sums


def read_billing_usage(
    path: Path | str,
    fmt: str,
    *,
    catalog: Catalog | None = None,
    tags: TagKeep | TagPolicy | None = None,
    since: str | None = None,
    until: str | None = None,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The long usage table (plus ``paid_as``, ``instance_type``) of a FOCUS or CUR export.

    ``path`` is a local file or an ``s3://`` URL (Parquet, globs allowed). ``tags`` names the tags
    to keep and, for each, the values to keep (see :mod:`forecasting.billing_sql`); by default
    every tag of :data:`~forecasting.usage.TAG_COLUMNS` with all its values. An
    ``athena://`` address (:class:`AthenaSource`) runs the reduction in Athena instead.
    """
    if str(path).startswith(ATHENA_SCHEME):
        return read_athena_usage(AthenaSource.parse(str(path)), catalog=catalog, tags=tags)
    columns = column_types(path)
    kind = billing_kind(fmt)
    keep: TagKeep | TagPolicy = tags if tags is not None else {t: None for t in TAG_COLUMNS}
    if kind != "focus":
        _check_cur_columns(kind, columns, str(path))
    sql = reduction_sql(
        kind, _source_sql(path), columns, dialect=DUCKDB, tags=keep, since=since, until=until
    )
    agg = _run(sql, path)
    start_col = (
        "ChargePeriodStart"
        if kind == "focus"
        else "lineItem/UsageStartDate"
        if kind == "cur-legacy"
        else "line_item_usage_start_date"
    )
    return usage_from_reduction(agg, catalog=catalog, source=str(path), start_col=start_col)


def usage_from_reduction(
    agg: pd.DataFrame, *, catalog: Catalog | None, source: str, start_col: str
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The long usage table from the rows of :func:`forecasting.billing_sql.reduction_sql`.

    ``GPU-hours = amount × GPUs per instance`` (catalog); a line of ``k`` hours adds
    ``GPU-hours / k`` GPUs to each of its hours. Works on the reduction from duckdb or Athena.
    """
    warnings: list[str] = []
    columns = [*USAGE_COLUMNS, "paid_as", "instance_type"]
    empty = pd.DataFrame({c: pd.Series(dtype="string") for c in columns}).astype(
        {"gpus": "float64", "timestamp": "datetime64[ns, UTC]"}
    )
    if agg.empty:
        return empty, tuple(warnings)
    if catalog is None:
        from pricing_data.catalog import load_catalog

        catalog = load_catalog()
    inst = {k.lower(): v for k, v in catalog.instance_gpus().items()}
    known = agg["instance_type"].isin(list(inst)).to_numpy()
    seen = set(agg.loc[~known, "instance_type"].dropna().astype(str).unique())
    unknown_gpu = sorted(i for i in seen if GPU_FAMILY.match(i))
    if unknown_gpu:
        hints = []
        for i in unknown_gpu[:5]:
            s = suggest(i, list(inst))
            hints.append(f"{i}" + (f" (did you mean {s[0]}?)" if s else ""))
        warnings.append("GPU instance types not in the catalog were left out: " + ", ".join(hints))
    agg = agg[known].reset_index(drop=True)
    if agg.empty:
        return empty, tuple(warnings)
    where = Path(source) if not is_s3_url(source) else source
    start_ns = _parse_times(agg["line_start"], where, start_col)
    end_ns = _parse_times(agg["line_end"], where, start_col.replace("Start", "End"))
    start_h = start_ns.astype("datetime64[h]")
    span = (end_ns - start_h.astype("datetime64[ns]")) / np.timedelta64(1, "h")
    hours = np.maximum(np.ceil(np.nan_to_num(span.astype(float), nan=1.0)), 1).astype(np.int64)
    if (hours > 1).any():
        warnings.append(
            f"{int((hours > 1).sum())} line(s) span more than an hour (daily or monthly "
            "granularity); their GPU-hours are spread evenly over their hours"
        )
    # every label column as (int32 codes, sorted labels): no per-row strings until the output
    instance = _coded(agg["instance_type"])
    # labels may include types no row uses any more (dropped above, or the missing label '')
    gpu = _relabel(instance, lambda i: inst.get(i, ("", 0))[0])
    per = np.array([inst.get(i, ("", 0))[1] for i in instance[1]], dtype=float)[instance[0]]
    amount = pd.to_numeric(agg["amount"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    gpu_hours = amount * per
    region = _coded(agg["region"])
    prefix = _coded(agg["region_prefix"])
    pair = region[0].astype(np.int64) * len(prefix[1]) + prefix[0]
    pairs, pair_codes = np.unique(pair, return_inverse=True)
    pair_labels = np.array(
        [
            region[1][p // len(prefix[1])]
            or _REGION_PREFIX.get(str(prefix[1][p % len(prefix[1])]), "us-east-1")
            for p in pairs
        ],
        dtype=object,
    )
    region = _relabel((pair_codes.astype(np.int32), pair_labels), lambda r: r)
    provider = _relabel(_coded(agg["provider"]), lambda v: _provider(str(v)))
    no_tag = (np.zeros(len(agg), dtype=np.int32), np.array([""], dtype=object))
    labels = {
        t: _coded(agg[f"tag_{t}"]) if f"tag_{t}" in agg.columns else no_tag for t in TAG_COLUMNS
    }
    if (hours > 1).any():
        idx = np.repeat(np.arange(len(agg)), hours)
        offsets = np.concatenate([np.arange(h) for h in hours]).astype("timedelta64[h]")
    else:
        idx = np.arange(len(agg))
        offsets = np.zeros(len(agg), dtype="timedelta64[h]")
    ts = (start_h[idx] + offsets).astype("datetime64[ns]").view(np.int64)
    ts_labels, ts_codes = np.unique(ts, return_inverse=True)
    keys: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "timestamp": (ts_codes.astype(np.int64), ts_labels),
        "gpu_type": (gpu[0][idx], gpu[1]),
        "provider": (provider[0][idx], provider[1]),
        "region": (region[0][idx], region[1]),
        **{t: (labels[t][0][idx], labels[t][1]) for t in TAG_COLUMNS},
        "paid_as": (_coded(agg["paid_as"])[0][idx], _coded(agg["paid_as"])[1]),
        "instance_type": (instance[0][idx], instance[1]),
    }
    grouped, gpus = _sum_by_codes(keys, (gpu_hours / hours)[idx])
    del keys, idx
    out = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(grouped["timestamp"].view("datetime64[ns]")).tz_localize(
                "UTC"
            ),
            "gpus": gpus,
        }
    )
    for c in [*USAGE_COLUMNS[3:], "gpu_type", "paid_as", "instance_type"]:
        out[c] = pd.array(grouped.pop(c), dtype="string")
    return out[columns], tuple(warnings)


ATHENA_SCHEME = "athena://"


def is_remote_source(path: str | Path) -> bool:
    """Whether ``path`` is an ``s3://`` export or an ``athena://`` CUR table, not a local file."""
    return str(path).startswith(("s3://", ATHENA_SCHEME))


@dataclass(frozen=True)
class AthenaSource:
    """A CUR table in Athena, written ``athena://DATABASE/TABLE?workgroup=W&output=s3://…``.

    Query keys: ``workgroup`` (default ``primary``), ``output`` (the result location; default the
    workgroup's), ``region``, ``profile`` (boto3 credential chain otherwise), ``catalog`` (data
    catalog, default ``AwsDataCatalog``), ``since``/``until`` (ISO dates: lines starting in
    ``[since, until)``; the ``billing_period`` partition is pruned too).
    """

    database: str
    table: str
    workgroup: str = "primary"
    output_location: str | None = None
    region: str | None = None
    profile: str | None = None
    data_catalog: str = "AwsDataCatalog"
    since: str | None = None
    until: str | None = None

    @classmethod
    def parse(cls, url: str) -> AthenaSource:
        from urllib.parse import parse_qs, urlsplit

        fix = "write athena://DATABASE/TABLE, e.g. athena://cur_db/cur_table?workgroup=primary"
        parts = urlsplit(url)
        table = parts.path.strip("/")
        if parts.scheme != "athena" or not parts.netloc or not table or "/" in table:
            raise PlannerInputError("not an Athena table address", value=url, fix=fix)
        allowed = {"workgroup", "output", "region", "profile", "catalog", "since", "until"}
        query = parse_qs(parts.query, keep_blank_values=False)
        for key in query:
            if key not in allowed:
                raise PlannerInputError(
                    f"unknown key '{key}' in the Athena address",
                    value=url,
                    fix="use " + ", ".join(sorted(allowed)),
                )
        one = {k: v[-1] for k, v in query.items()}
        for key in ("since", "until"):
            if key in one:
                try:
                    one[key] = pd.Timestamp(one[key]).strftime("%Y-%m-%d")
                except ValueError:
                    raise PlannerInputError(
                        f"'{key}' is not a date",
                        value=one[key],
                        fix="write an ISO date, e.g. since=2025-01-01",
                    ) from None
        if "output" in one and not one["output"].startswith("s3://"):
            raise PlannerInputError(
                "the Athena result location must be an S3 URL",
                value=one["output"],
                fix="write output=s3://bucket/prefix/",
            )
        return cls(
            database=parts.netloc,
            table=table,
            workgroup=one.get("workgroup", "primary"),
            output_location=one.get("output"),
            region=one.get("region"),
            profile=one.get("profile"),
            data_catalog=one.get("catalog", "AwsDataCatalog"),
            since=one.get("since"),
            until=one.get("until"),
        )

    def url(self) -> str:
        from urllib.parse import urlencode

        query = {
            "workgroup": self.workgroup,
            "output": self.output_location,
            "region": self.region,
            "profile": self.profile,
            "catalog": None if self.data_catalog == "AwsDataCatalog" else self.data_catalog,
            "since": self.since,
            "until": self.until,
        }
        kept = {k: v for k, v in query.items() if v}
        return f"{ATHENA_SCHEME}{self.database}/{self.table}" + (
            "?" + urlencode(kept, safe="/:") if kept else ""
        )


def remote_format(path: str) -> str:
    """The export format of a remote source (an Athena table is the CUR 2.0 integration)."""
    if path.startswith(ATHENA_SCHEME):
        return "cur-2.0"
    cols = set(column_types(path))
    if "ChargePeriodStart" in cols:
        return "focus"
    if "lineItem/UsageStartDate" in cols or "lineItem/LineItemType" in cols:
        return "cur-legacy"
    if "line_item_usage_start_date" in cols or "line_item_line_item_type" in cols:
        return "cur-2.0"
    raise PlannerInputError(
        "the S3 objects are not a FOCUS or AWS CUR export",
        file=path,
        value=sorted(cols)[:8],
        fix="name the Parquet objects of a FOCUS or CUR export (s3://bucket/prefix/*.parquet)",
    )


def read_athena_usage(
    source: AthenaSource,
    *,
    catalog: Catalog | None = None,
    tags: TagKeep | TagPolicy | None = None,
    client: Any = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The long usage table of a CUR table in Athena: the reduction runs in Athena.

    The same SQL as the local reduction (:func:`forecasting.billing_sql.reduction_sql`, Athena
    dialect) filters the GPU lines and sums them per hour inside Athena; only that aggregate
    comes back (GetQueryResults pages), then goes through :func:`usage_from_reduction`.
    """
    from pricing_data.aws import athena

    client = (
        client if client is not None else athena.make_athena_client(source.profile, source.region)
    )
    columns = athena.table_columns(
        client, source.database, source.table, data_catalog=source.data_catalog, retry=athena.RETRY
    )
    where = f"{source.database}.{source.table}"
    _check_cur_columns("cur", columns, where)
    keep: TagKeep | TagPolicy = tags if tags is not None else {t: None for t in TAG_COLUMNS}
    sql = reduction_sql(
        "cur",
        f"{q(source.database)}.{q(source.table)}",
        columns,
        dialect=ATHENA,
        tags=keep,
        since=source.since,
        until=source.until,
    )
    place = athena.QueryPlace(
        source.database, source.workgroup, source.output_location, source.data_catalog
    )
    qid = athena.run_query(
        client,
        sql,
        place,
        retry=athena.RETRY,
        polling=athena.POLLING,
        progress=progress,
    )
    names, rows = athena.query_rows(client, qid, retry=athena.RETRY)
    agg = pd.DataFrame(rows, columns=names)
    if len(agg):
        agg["amount"] = pd.to_numeric(agg["amount"], errors="coerce")
    return usage_from_reduction(
        agg, catalog=catalog, source=source.url(), start_col="line_item_usage_start_date"
    )


def read_focus_commitments(path: str | Path) -> pd.DataFrame:
    """Commitments seen in a FOCUS export, one row per ``CommitmentDiscountId``.

    Columns: ``commitment_discount_id, category`` (Spend/Usage), ``status`` (Used/Unused, as seen),
    ``type`` (e.g. Savings Plan, Reservation), ``provider, region, sku`` (the instance type when the
    covered usage names one), ``first_seen, last_seen`` (UTC), ``usage_lines``, ``billed_cost``.
    """
    p = Path(path)
    if not p.exists():
        raise PlannerInputError("FOCUS file not found", file=str(path))
    cols = set(_read_columns(p))
    if "CommitmentDiscountId" not in cols or "ChargePeriodStart" not in cols:
        raise PlannerInputError(
            "not a FOCUS export with commitment columns",
            file=str(path),
            column="CommitmentDiscountId",
            fix="give a FOCUS 1.0+ export (it has CommitmentDiscountId and ChargePeriodStart)",
        )
    text_cols = [
        c for c in ("x_UsageType", "SkuMeter", "SkuPriceDetails", "ChargeDescription") if c in cols
    ]
    sku = (
        "coalesce("
        + ", ".join(
            f"nullif(regexp_extract(lower({text(c, cols)}), {lit(INSTANCE_RE)}, 1), '')"
            for c in text_cols
        )
        + ", '')"
        if text_cols
        else "''"
    )
    cost = "TRY_CAST(BilledCost AS DOUBLE)" if "BilledCost" in cols else "0.0"
    sql = f"""
    SELECT CommitmentDiscountId AS commitment_discount_id,
           string_agg(DISTINCT {text("CommitmentDiscountCategory", cols)}, '/') AS category,
           string_agg(DISTINCT {text("CommitmentDiscountStatus", cols)}, '/') AS status,
           string_agg(DISTINCT {text("CommitmentDiscountType", cols)}, '/') AS type,
           any_value({text("ProviderName", cols)}) AS provider,
           string_agg(DISTINCT {text("RegionId", cols)}, '/') AS region,
           string_agg(DISTINCT {sku}, '/') AS sku,
           min({text("ChargePeriodStart", cols)}) AS first_seen,
           max({text("ChargePeriodEnd", cols)}) AS last_seen,
           count(*) AS usage_lines,
           sum({cost}) AS billed_cost
    FROM {_source_sql(p)}
    WHERE CommitmentDiscountId IS NOT NULL AND CommitmentDiscountId <> ''
    GROUP BY CommitmentDiscountId
    ORDER BY CommitmentDiscountId
    """
    df = _run(sql, p)
    for c in ("category", "status", "type", "region", "sku"):
        df[c] = df[c].fillna("").astype(str).str.strip("/").str.replace("//", "/")
    df["provider"] = df["provider"].fillna("").astype(str).map(_provider)
    for c in ("first_seen", "last_seen"):
        df[c] = pd.to_datetime(df[c], utc=True, errors="coerce", format="ISO8601")
    return df.reset_index(drop=True)
