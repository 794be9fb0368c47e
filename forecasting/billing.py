"""GPU-hours from billing exports: FOCUS 1.0–1.2 and AWS CUR (legacy and 2.0), CSV or Parquet.

Exports can be larger than memory, so the reduction runs in duckdb, streaming over the file: only the
GPU-candidate usage lines are kept and summed per (line start, line end, instance type, how paid,
provider, region, tags). pandas then sees the small aggregate: it maps instance types to GPUs
through the catalog (``GPU-hours = instance-hours × GPUs per instance``), spreads lines longer than an
hour evenly over their hours (daily CUR granularity: ``gpus_t = GPU-hours / hours in the line``) and
parses tags.

FOCUS (columns per the FOCUS spec): ``ChargeCategory = 'Usage'`` rows whose ``ConsumedUnit`` is
hours; the instance type is the first AWS-style instance name (``p5.48xlarge``) found in
``x_UsageType``, ``SkuMeter``, ``SkuPriceDetails``, ``ChargeDescription`` or ``ResourceType`` (in
that order); GPU-hours = ``ConsumedQuantity`` × GPUs per instance. Paid as: ``CommitmentDiscountType``
"Savings Plan" → savings_plan, "Reservation" → reserved_instance; ``PricingCategory`` "Dynamic" (or
a SpotUsage usage type) → spot; else on_demand. ``Tags`` is a JSON object (keys matched without case,
``user:`` prefixes dropped). Timestamps without ``T``/``Z`` are UTC; the literal ``NULL`` is empty.

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

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecasting.usage_schema import LABEL_COLUMNS, TAG_COLUMNS, USAGE_COLUMNS
from forecasting.usage_schema import read_columns as _read_columns
from pricing_data.errors import PlannerInputError, suggest

if TYPE_CHECKING:
    from pricing_data.catalog import Catalog

INSTANCE_RE = r"([a-z][a-z0-9]*(?:-[a-z0-9]+)?\.(?:[0-9]*x?large|metal|[0-9]+xlarge)(?:-[0-9]+xl)?)"
#: duckdb's memory cap while aggregating an export (it spills to a temporary folder beyond it)
DUCKDB_MEMORY_LIMIT = "1GB"
GPU_FAMILY = re.compile(r"^(p\d|g\d|gr\d|inf\d|trn\d|dl\d|p6-)")
_REGION_PREFIX = {
    "USE1": "us-east-1",
    "USE2": "us-east-2",
    "USW1": "us-west-1",
    "USW2": "us-west-2",
    "CAN1": "ca-central-1",
    "EUW1": "eu-west-1",
    "EUW2": "eu-west-2",
    "EUW3": "eu-west-3",
    "EUC1": "eu-central-1",
    "EUN1": "eu-north-1",
    "EU": "eu-west-1",
    "APN1": "ap-northeast-1",
    "APN2": "ap-northeast-2",
    "APN3": "ap-northeast-3",
    "APS1": "ap-southeast-1",
    "APS2": "ap-southeast-2",
    "APS3": "ap-south-1",
    "SAE1": "sa-east-1",
    "UGW1": "us-gov-west-1",
}


def _q(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _source_sql(path: Path) -> str:
    if path.suffix.lower() in (".parquet", ".pq"):
        return f"read_parquet({_lit(str(path))})"
    return f"read_csv({_lit(str(path))}, all_varchar=true, header=true, nullstr=['NULL', ''])"


def _run(sql: str, path: Path) -> pd.DataFrame:
    import tempfile

    import duckdb

    con = duckdb.connect()
    spill = tempfile.mkdtemp(prefix="planner-duckdb-")
    try:
        # bounded memory: duckdb streams the file and spills aggregation state to ``spill``
        con.execute("SET threads TO 2")
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"SET temp_directory = {_lit(spill)}")
        return con.execute(sql).fetchdf()
    except duckdb.Error as e:
        raise PlannerInputError(
            f"cannot read the billing export: {str(e).splitlines()[0]}",
            file=str(path),
            fix="give an unmodified FOCUS or AWS CUR export (CSV or Parquet)",
        ) from None
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _str(col: str | None, cols: set[str]) -> str:
    if col is None or col not in cols:
        return "''"
    return f"coalesce(CAST({_q(col)} AS VARCHAR), '')"


def _focus_sql(path: Path, cols: set[str]) -> str:
    text_cols = [
        c
        for c in ("x_UsageType", "SkuMeter", "SkuPriceDetails", "ChargeDescription", "ResourceType")
        if c in cols
    ]
    instance = (
        "coalesce("
        + ", ".join(
            f"nullif(regexp_extract(lower({_str(c, cols)}), {_lit(INSTANCE_RE)}, 1), '')"
            for c in text_cols
        )
        + ", '')"
        if text_cols
        else "''"
    )
    usage_type = _str("x_UsageType", cols)
    paid = (
        "CASE WHEN lower(" + _str("CommitmentDiscountType", cols) + ") LIKE '%savings%' "
        "THEN 'savings_plan' "
        "WHEN lower(" + _str("CommitmentDiscountType", cols) + ") LIKE '%reserv%' "
        "THEN 'reserved_instance' "
        "WHEN lower(" + _str("PricingCategory", cols) + ") = 'dynamic' "
        f"OR {usage_type} LIKE '%SpotUsage%' THEN 'spot' ELSE 'on_demand' END"
    )
    unit = "lower(" + _str("ConsumedUnit", cols) + ")"
    qty = "ConsumedQuantity" if "ConsumedQuantity" in cols else "PricingQuantity"
    return f"""
    WITH src AS (
      SELECT {_str("ChargePeriodStart", cols)} AS line_start,
             {_str("ChargePeriodEnd", cols)} AS line_end,
             {instance} AS instance_type,
             {paid} AS paid_as,
             {_str("ProviderName", cols)} AS provider,
             {_str("RegionId", cols)} AS region,
             {_str("Tags", cols)} AS tags,
             TRY_CAST({_q(qty)} AS DOUBLE) AS amount
      FROM {_source_sql(path)}
      WHERE {_str("ChargeCategory", cols)} = 'Usage'
        AND ({unit} LIKE 'hour%' OR {unit} LIKE 'hr%' OR {unit} = 'h')
    )
    SELECT line_start, line_end, instance_type, paid_as, provider, region, tags,
           sum(amount) AS amount, count(*) AS n_lines
    FROM src WHERE regexp_matches(instance_type, {_lit(GPU_FAMILY.pattern)})
    GROUP BY ALL
    """


def _cur_sql(path: Path, cols: set[str], legacy: bool) -> tuple[str, list[str]]:
    if legacy:
        c = {
            "type": "lineItem/LineItemType",
            "start": "lineItem/UsageStartDate",
            "end": "lineItem/UsageEndDate",
            "usage_type": "lineItem/UsageType",
            "amount": "lineItem/UsageAmount",
            "instance": "product/instanceType",
            "region": "product/regionCode" if "product/regionCode" in cols else "product/region",
        }
        tag_cols = {
            col: col.split(":", 1)[1].lower()
            for col in cols
            if col.lower().startswith("resourcetags/user:")
        }
        map_col = None
    else:
        c = {
            "type": "line_item_line_item_type",
            "start": "line_item_usage_start_date",
            "end": "line_item_usage_end_date",
            "usage_type": "line_item_usage_type",
            "amount": "line_item_usage_amount",
            "instance": "product_instance_type",
            "region": "product_region_code",
        }
        tag_cols = {
            col: col[len("resource_tags_user_") :].lower()
            for col in cols
            if col.startswith("resource_tags_user_")
        }
        map_col = "resource_tags" if "resource_tags" in cols else None
    for key in ("type", "start", "usage_type", "amount"):
        if c[key] not in cols:
            raise PlannerInputError(
                f"the AWS CUR has no column '{c[key]}'",
                file=str(path),
                column=c[key],
                fix="export the CUR with its standard columns",
            )
    ut = _str(c["usage_type"], cols)
    instance = (
        f"coalesce(nullif(lower({_str(c['instance'], cols)}), ''), "
        f"lower(regexp_extract({ut}, ':(.*)$', 1)))"
    )
    paid = (
        f"CASE WHEN {_str(c['type'], cols)} = 'DiscountedUsage' THEN 'reserved_instance' "
        f"WHEN {_str(c['type'], cols)} = 'SavingsPlanCoveredUsage' THEN 'savings_plan' "
        f"WHEN {ut} LIKE '%SpotUsage%' THEN 'spot' ELSE 'on_demand' END"
    )
    tag_exprs = [f"{_str(col, cols)} AS {_q('tag_' + name)}" for col, name in tag_cols.items()]
    if map_col:
        tag_exprs.append(f"CAST({_q(map_col)} AS VARCHAR) AS tags")
    tag_names = [f"tag_{n}" for n in tag_cols.values()] + (["tags"] if map_col else [])
    tags_sql = ("," + ", ".join(tag_exprs)) if tag_exprs else ""
    end = _str(c["end"], cols)
    sql = f"""
    WITH src AS (
      SELECT {_str(c["start"], cols)} AS line_start,
             {end} AS line_end,
             {instance} AS instance_type,
             {paid} AS paid_as,
             'aws' AS provider,
             {_str(c["region"], cols)} AS region,
             regexp_extract({ut}, '^([A-Z]+[0-9]*)-', 1) AS region_prefix,
             TRY_CAST({_q(c["amount"])} AS DOUBLE) AS amount
             {tags_sql}
      FROM {_source_sql(path)}
      WHERE {_str(c["type"], cols)} IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage')
        AND regexp_matches({ut}, '(BoxUsage|SpotUsage|DedicatedUsage|HostUsage)')
    )
    SELECT line_start, line_end, instance_type, paid_as, provider, region, region_prefix,
           {", ".join([*tag_names, ""]) if tag_names else ""}
           sum(amount) AS amount, count(*) AS n_lines
    FROM src WHERE regexp_matches(instance_type, {_lit(GPU_FAMILY.pattern)})
    GROUP BY ALL
    """
    return sql, tag_names


def _parse_tags(raw: str) -> dict[str, str]:
    """Tag values from a JSON object (FOCUS Tags, CUR 2.0 map) keyed by our tag names."""
    if not raw:
        return {}
    text = raw.strip()
    try:
        obj = json.loads(text)
    except ValueError:
        # duckdb renders MAPs as {k=v, ...}
        m = re.findall(r"([^{},=\s]+)=([^,}]*)", text)
        obj = dict(m)
    if not isinstance(obj, dict):
        return {}
    out: dict[str, str] = {}
    for k, v in obj.items():
        key = str(k).lower()
        for prefix in ("user:", "user_", "tag:"):
            if key.startswith(prefix):
                key = key[len(prefix) :]
        if key in TAG_COLUMNS and v is not None:
            out[key] = str(v)
    return out


def _provider(name: str) -> str:
    s = name.strip().lower()
    if s in ("aws", "amazon web services", "amazon web services, inc.") or s.startswith("amazon"):
        return "aws"
    return s.split(" ")[0] if s else ""


def _parse_times(values: pd.Series, path: Path, column: str) -> pd.Series:
    uniq = pd.Series(values.unique())
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
    return values.map(dict(zip(uniq, parsed, strict=True)))


def read_billing_usage(
    path: Path, fmt: str, *, catalog: Catalog | None = None
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The long usage table (plus ``paid_as``, ``instance_type``) of a FOCUS or CUR export."""
    cols = set(_read_columns(path))
    warnings: list[str] = []
    if fmt == "focus":
        agg = _run(_focus_sql(path, cols), path)
        tag_names: list[str] = ["tags"]
        start_col = "ChargePeriodStart"
    else:
        sql, tag_names = _cur_sql(path, cols, legacy=fmt == "cur-legacy")
        agg = _run(sql, path)
        start_col = (
            "lineItem/UsageStartDate" if fmt == "cur-legacy" else "line_item_usage_start_date"
        )
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
    known = agg["instance_type"].isin(list(inst))
    unknown_gpu = sorted({i for i in agg.loc[~known, "instance_type"] if GPU_FAMILY.match(str(i))})
    if unknown_gpu:
        hints = []
        for i in unknown_gpu[:5]:
            s = suggest(i, list(inst))
            hints.append(f"{i}" + (f" (did you mean {s[0]}?)" if s else ""))
        warnings.append("GPU instance types not in the catalog were left out: " + ", ".join(hints))
    agg = agg[known].reset_index(drop=True)
    if agg.empty:
        return empty, tuple(warnings)
    start = _parse_times(agg["line_start"].astype(str), path, start_col)
    end = _parse_times(agg["line_end"].astype(str), path, start_col.replace("Start", "End"))
    start = start.dt.floor("h")
    hours = ((end - start) / pd.Timedelta(hours=1)).fillna(1.0)
    hours = np.maximum(np.ceil(hours.to_numpy(dtype=float)), 1).astype(int)
    if (hours > 1).any():
        warnings.append(
            f"{int((hours > 1).sum())} line(s) span more than an hour (daily or monthly "
            "granularity); their GPU-hours are spread evenly over their hours"
        )
    gpu = agg["instance_type"].map({k: v[0] for k, v in inst.items()})
    per = agg["instance_type"].map({k: v[1] for k, v in inst.items()}).astype(float)
    gpu_hours = agg["amount"].fillna(0.0).to_numpy(dtype=float) * per.to_numpy()
    region = agg["region"].astype(str)
    if "region_prefix" in agg.columns:
        from_prefix = agg["region_prefix"].map(lambda s: _REGION_PREFIX.get(str(s), "us-east-1"))
        region = region.where(region != "", from_prefix)
    labels: dict[str, np.ndarray] = {t: np.full(len(agg), "", dtype=object) for t in TAG_COLUMNS}
    for name in tag_names:
        raw = agg[name].fillna("").astype(str)
        if name == "tags":  # parse each distinct JSON/MAP text once
            parsed = {v: _parse_tags(v) for v in raw.unique()}
            for t in TAG_COLUMNS:
                got = raw.map({v: d.get(t, "") for v, d in parsed.items()}).to_numpy(dtype=object)
                labels[t] = np.where(got != "", got, labels[t])
        elif name[4:] in TAG_COLUMNS:
            got = raw.to_numpy(dtype=object)
            labels[name[4:]] = np.where(got != "", got, labels[name[4:]])
    idx = np.repeat(np.arange(len(agg)), hours)
    offsets = np.concatenate([np.arange(h) for h in hours])
    ts = pd.DatetimeIndex(start.to_numpy()[idx]) + pd.to_timedelta(offsets, unit="h")
    out = pd.DataFrame(
        {
            "timestamp": ts.tz_localize("UTC") if ts.tz is None else ts,
            "gpu_type": gpu.to_numpy()[idx],
            "gpus": (gpu_hours / hours)[idx],
            "provider": agg["provider"].map(_provider).to_numpy()[idx],
            "region": region.to_numpy()[idx],
            **{t: np.asarray(labels[t], dtype=object)[idx] for t in TAG_COLUMNS},
            "paid_as": agg["paid_as"].to_numpy()[idx],
            "instance_type": agg["instance_type"].to_numpy()[idx],
        }
    )
    keys = ["timestamp", "gpu_type", *LABEL_COLUMNS, "paid_as", "instance_type"]
    out = pd.DataFrame(out.groupby(keys, as_index=False, sort=True)["gpus"].sum())
    for c in keys[1:]:
        out[c] = out[c].astype("string")
    return out[columns], tuple(warnings)


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
            f"nullif(regexp_extract(lower({_str(c, cols)}), {_lit(INSTANCE_RE)}, 1), '')"
            for c in text_cols
        )
        + ", '')"
        if text_cols
        else "''"
    )
    cost = "TRY_CAST(BilledCost AS DOUBLE)" if "BilledCost" in cols else "0.0"
    sql = f"""
    SELECT CommitmentDiscountId AS commitment_discount_id,
           string_agg(DISTINCT {_str("CommitmentDiscountCategory", cols)}, '/') AS category,
           string_agg(DISTINCT {_str("CommitmentDiscountStatus", cols)}, '/') AS status,
           string_agg(DISTINCT {_str("CommitmentDiscountType", cols)}, '/') AS type,
           any_value({_str("ProviderName", cols)}) AS provider,
           string_agg(DISTINCT {_str("RegionId", cols)}, '/') AS region,
           string_agg(DISTINCT {sku}, '/') AS sku,
           min({_str("ChargePeriodStart", cols)}) AS first_seen,
           max({_str("ChargePeriodEnd", cols)}) AS last_seen,
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
