"""Refresh the AWS catalog from the account's APIs into a new dated catalog, with provenance.

``refresh_aws_catalog(factory, request)`` fetches, for each requested region and GPU instance type:

- GPU counts (``ec2:DescribeInstanceTypes``),
- on-demand and Reserved Instance prices (``pricing:GetProducts``; RI upfront ``Quantity`` and hourly
  ``Hrs`` dimensions become ``upfront_usd`` and ``recurring_usd_per_hour``),
- spot prices (``ec2:DescribeSpotPriceHistory``, summarised per type and region),
- published Compute and EC2 Instance Savings Plans rates
  (``savingsplans:DescribeSavingsPlansOfferingRates``), which replace the ASSUMED SP rows,

then writes ``<user_catalog_dir>/aws/aws-ec2-gpu-<today>.csv`` and ``aws-savings-plans-<today>.csv``
with ``.provenance.json`` sidecars. The loader uses the newest file per series, so these supersede the
shipped files, which are never touched. Rows for (region, instance type, price family) the refresh
did not cover are carried over from the catalog in use, keeping their own source, date and
``assumed`` flag; the provenance counts them. Every file is validated before anything is written and
the four files are written together: a failed refresh writes nothing and the previous catalog stays in
use.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pricing_data.aws.client import (
    DEFAULT_RETRY,
    GLOBAL_REGION,
    PRICING_REGION,
    ClientFactory,
    RetryPolicy,
)
from pricing_data.aws.ec2 import (
    Accelerators,
    SpotSummary,
    fetch_instance_types,
    fetch_spot_price_history,
    parse_instance_types,
    summarise_spot_history,
)
from pricing_data.aws.errors import AwsApiError
from pricing_data.aws.pricing import InstancePrice, fetch_price_list, parse_price_list
from pricing_data.aws.savingsplans import (
    SavingsPlanRate,
    fetch_savings_plans_rates,
    parse_savings_plans_rates,
)
from pricing_data.catalog import (
    CatalogFile,
    list_catalog_files,
    read_catalog_file,
    select_files,
    shipped_catalog_dir,
    user_catalog_dir,
)
from pricing_data.errors import PlannerError, PlannerInputError
from pricing_data.rates import effective_rate, partial_upfront_share, split_payment
from pricing_data.schema import COLUMN_NAMES, SAVINGS_PLAN_MODELS
from pricing_data.validate import validate_offers

EC2_SERIES = "aws-ec2-gpu"
SP_SERIES = "aws-savings-plans"
_INSTANCE_TYPE_RE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


class RefreshError(PlannerError):
    """A refresh failed; nothing was written and the previous catalog stays in use."""


@dataclass(frozen=True)
class RefreshRequest:
    regions: tuple[str, ...]
    instance_types: tuple[str, ...] = ()  # empty: the AWS instance types of the catalog in use
    today: date | None = None  # the date in the new files' names (default: today, UTC)
    now: datetime | None = None  # end of the spot window (default: now, UTC)
    spot_days: int = 30
    include_spot: bool = True
    include_savings_plans: bool = True


@dataclass(frozen=True)
class RefreshResult:
    files: tuple[Path, ...]
    rows_by_series: dict[str, int]
    refreshed_by_model: dict[str, int]
    carried_over_by_series: dict[str, int]
    previous_versions: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())


@dataclass
class _Fetched:
    accelerators: dict[str, Accelerators] = field(default_factory=dict)
    prices: list[InstancePrice] = field(default_factory=list)
    spot: list[SpotSummary] = field(default_factory=list)
    sp_rates: list[SavingsPlanRate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    offered: dict[str, list[str]] = field(default_factory=dict)  # region -> instance types


def offer_row(**kw: Any) -> dict[str, Any]:
    """A catalog row with the derived columns computed (effective and per-GPU rates)."""
    row: dict[str, Any] = dict.fromkeys(COLUMN_NAMES, "")
    row.update(kw)
    months = int(row["term_months"])
    upfront = float(row.get("upfront_usd") or 0.0)
    recurring = float(row["recurring_usd_per_hour"])
    effective = effective_rate(upfront, recurring, months)
    row["upfront_usd"] = round(upfront, 4)
    row["recurring_usd_per_hour"] = round(recurring, 8)
    row["effective_usd_per_hour"] = round(effective, 8)
    row["usd_per_gpu_hour"] = round(effective / float(row["gpus_per_unit"]), 8)
    row["assumed"] = "true" if row.get("assumed") is True else "false"
    row["overlay"] = "false"
    return row


def _previous(today: date) -> dict[str, tuple[CatalogFile | None, pd.DataFrame]]:
    files = [f for f in select_files(list_catalog_files(), today) if f.provider == "aws"]
    out: dict[str, tuple[CatalogFile | None, pd.DataFrame]] = {}
    for series in (EC2_SERIES, SP_SERIES):
        match = [f for f in files if f.series == series]
        if match:
            out[series] = (match[0], read_catalog_file(match[0].path, label=match[0].version))
        else:
            out[series] = (None, pd.DataFrame(columns=list(COLUMN_NAMES)))
    return out


def _check_request(request: RefreshRequest) -> None:
    if not request.regions:
        raise PlannerInputError(
            "no region to refresh", column="--regions", fix="pass --regions us-east-1 (repeatable)"
        )
    for r in request.regions:
        if not _REGION_RE.match(r):
            raise PlannerInputError(
                "not an AWS region code", column="--regions", value=r, fix="write e.g. us-east-1"
            )
    for t in request.instance_types:
        if not _INSTANCE_TYPE_RE.match(t):
            raise PlannerInputError(
                "not an EC2 instance type",
                column="--instance-types",
                value=t,
                fix="write e.g. p5.48xlarge",
            )
    if request.spot_days <= 0:
        raise PlannerInputError(
            "must be > 0", column="--spot-days", value=request.spot_days, fix="write e.g. 30"
        )


def fetch_all(
    factory: ClientFactory,
    regions: tuple[str, ...],
    instance_types: list[str],
    *,
    spot_window: tuple[datetime, datetime] | None,
    include_savings_plans: bool,
    retry: RetryPolicy = DEFAULT_RETRY,
    progress: Callable[[str], None] | None = None,
) -> _Fetched:
    """Call every API the refresh needs; any AwsApiError propagates (nothing is written)."""
    say = progress or (lambda _m: None)
    got = _Fetched()
    pricing = factory("pricing", PRICING_REGION)
    for region in regions:
        ec2 = factory("ec2", region)
        say(f"{region}: instance types")
        records = fetch_instance_types(ec2, instance_types, retry)
        got.calls.append(f"ec2:DescribeInstanceTypes {region}")
        accel, notes = parse_instance_types(records)
        got.notes.extend(notes)
        for k, v in accel.items():
            got.accelerators.setdefault(k, v)
        offered = sorted({str(r.get("InstanceType")) for r in records} & set(instance_types))
        got.offered[region] = offered
        missing = sorted(set(instance_types) - set(offered))
        if missing:
            got.notes.append(
                f"{region}: {len(missing)} instance type(s) not offered, kept from the catalog "
                f"in use if there: {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}"
            )
        for i, itype in enumerate(offered):
            say(f"{region}: prices {i + 1}/{len(offered)} {itype}")
            items = fetch_price_list(pricing, region, itype, retry)
            prices, notes = parse_price_list(items)
            got.prices.extend(p for p in prices if p.region == region and p.instance_type == itype)
            got.notes.extend(notes)
        got.calls.append(f"pricing:GetProducts {region} x{len(offered)}")
        if spot_window is not None and offered:
            say(f"{region}: spot price history")
            start, end = spot_window
            history = fetch_spot_price_history(ec2, offered, start, end, retry)
            got.calls.append(f"ec2:DescribeSpotPriceHistory {region}")
            summaries, notes = summarise_spot_history(history, region, start, end)
            got.spot.extend(summaries)
            got.notes.extend(notes)
    all_offered = sorted({t for ts in got.offered.values() for t in ts})
    if include_savings_plans and all_offered:
        say("Savings Plans rates")
        sp = factory("savingsplans", GLOBAL_REGION)
        results = fetch_savings_plans_rates(sp, list(regions), all_offered, retry)
        got.calls.append("savingsplans:DescribeSavingsPlansOfferingRates")
        rates, notes = parse_savings_plans_rates(results)
        got.sp_rates.extend(r for r in rates if r.region in regions)
        got.notes.extend(notes)
    return got


def build_rows(
    got: _Fetched,
    previous_gpus: dict[str, tuple[str, float]],
    previous_spot_rates: dict[str, float],
    previous_label: str,
    *,
    price_date: str,
    spot_window: tuple[datetime, datetime] | None,
    partial_upfront_share: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Catalog rows (EC2 series, SP series) from fetched values; pure."""
    notes: list[str] = []

    def gpu_info(itype: str) -> tuple[str, str, float] | None:
        if itype in got.accelerators:
            a = got.accelerators[itype]
            return itype.split(".")[0], a.gpu_type, a.gpus_per_unit
        if itype in previous_gpus:
            g, n = previous_gpus[itype]
            return itype.split(".")[0], g, n
        return None

    missing: set[str] = set()
    ec2_rows: list[dict[str, Any]] = []
    for p in got.prices:
        info = gpu_info(p.instance_type)
        if info is None:
            missing.add(p.instance_type)
            continue
        family, gpu, n = info
        base = f"aws:{p.region}:{p.instance_type}"
        common = dict(
            provider="aws",
            region=p.region,
            sku=p.instance_type,
            instance_family=family,
            gpu_type=gpu,
            gpus_per_unit=n,
            price_date=price_date,
            source=f"AWS Price List API pricing:GetProducts (AmazonEC2 sku {p.aws_sku})",
        )
        if p.purchase_model == "on_demand":
            ec2_rows.append(
                offer_row(
                    offer_id=f"{base}:on_demand",
                    purchase_model="on_demand",
                    term_months=0,
                    recurring_usd_per_hour=p.recurring_usd_per_hour,
                    **common,
                )
            )
        else:
            ec2_rows.append(
                offer_row(
                    offer_id=f"{base}:reserved_instance:{p.offering_class}:{p.term_months}:{p.payment_option}",
                    purchase_model="reserved_instance",
                    offering_class=p.offering_class,
                    term_months=p.term_months,
                    payment_option=p.payment_option,
                    upfront_usd=p.upfront_usd,
                    recurring_usd_per_hour=p.recurring_usd_per_hour,
                    **common,
                )
            )
    for s in got.spot:
        info = gpu_info(s.instance_type)
        if info is None:
            missing.add(s.instance_type)
            continue
        family, gpu, n = info
        offer_id = f"aws:{s.region}:{s.instance_type}:spot"
        rate = previous_spot_rates.get(offer_id)
        window = f"{s.period_start:%Y-%m-%dT%H:%MZ}..{s.period_end:%Y-%m-%dT%H:%MZ}"
        ec2_rows.append(
            offer_row(
                offer_id=offer_id,
                provider="aws",
                region=s.region,
                sku=s.instance_type,
                instance_family=family,
                gpu_type=gpu,
                gpus_per_unit=n,
                purchase_model="spot",
                term_months=0,
                recurring_usd_per_hour=s.mean_usd_per_hour,
                spot_interruption_rate=rate if rate is not None else "",
                assumed=rate is not None,
                assumption=(
                    f"spot price is published; interruption rate {rate} taken from {previous_label} "
                    "(the AWS API publishes none)"
                    if rate is not None
                    else ""
                ),
                price_date=price_date,
                source=(
                    f"AWS ec2:DescribeSpotPriceHistory time-weighted mean over {window}, "
                    f"{s.zones} zone(s); p90 {s.p90_usd_per_hour:.4f} USD/h"
                ),
            )
        )
    sp_rows: list[dict[str, Any]] = []
    for r in got.sp_rates:
        info = gpu_info(r.instance_type)
        if info is None:
            missing.add(r.instance_type)
            continue
        _family, gpu, n = info
        upfront, recurring = split_payment(
            r.rate_usd_per_hour, r.term_months, r.payment_option, partial_upfront_share
        )
        sp_rows.append(
            offer_row(
                offer_id=f"aws:{r.region}:{r.instance_type}:{r.purchase_model}:{r.term_months}:{r.payment_option}",
                provider="aws",
                region=r.region,
                sku=r.instance_type,
                instance_family=r.instance_family,
                gpu_type=gpu,
                gpus_per_unit=n,
                purchase_model=r.purchase_model,
                term_months=r.term_months,
                payment_option=r.payment_option,
                upfront_usd=upfront,
                recurring_usd_per_hour=recurring,
                price_date=price_date,
                source=f"AWS savingsplans:DescribeSavingsPlansOfferingRates (offering {r.offering_id})",
            )
        )
    if missing:
        notes.append(
            f"no GPU count for {len(missing)} instance type(s), skipped: {', '.join(sorted(missing))}"
        )
    return ec2_rows, sp_rows, notes


def _group(model: str) -> str:
    if model == "spot":
        return "spot"
    if model in SAVINGS_PLAN_MODELS:
        return "savings_plans"
    return "price_list"


def merge_with_previous(
    new_rows: list[dict[str, Any]], previous: pd.DataFrame
) -> tuple[pd.DataFrame, int]:
    """New rows plus previous rows whose (region, sku, price family) the refresh did not cover."""
    covered = {(r["region"], r["sku"], _group(str(r["purchase_model"]))) for r in new_rows}
    new = pd.DataFrame(new_rows, columns=list(COLUMN_NAMES))
    if previous.empty:
        return new, 0
    prev = previous[list(COLUMN_NAMES)].copy()
    keys = zip(prev["region"], prev["sku"], prev["purchase_model"].map(_group), strict=True)
    keep = prev[[k not in covered for k in keys]]
    for col in ("assumed", "overlay"):
        keep[col] = keep[col].map(lambda v: "true" if bool(v) else "false")
    keep = keep.astype(object).where(keep.notna(), "")
    merged = pd.concat([new, keep], ignore_index=True)
    merged = merged.drop_duplicates("offer_id", keep="first").sort_values("offer_id")
    return merged.reset_index(drop=True), len(keep)


def _csv_text(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def _write_all(files: dict[Path, bytes]) -> None:
    """Write every file to a temporary beside it, then rename them all; on error remove the temps."""
    staged: list[tuple[Path, Path]] = []
    try:
        for target, data in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
            )
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            staged.append((Path(tmp_name), target))
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def _instance_types(request: RefreshRequest, prev_ec2: pd.DataFrame) -> list[str]:
    """The instance types asked for, else every on-demand type of the catalog in use."""
    types = list(request.instance_types) or sorted(
        set(prev_ec2.loc[prev_ec2["purchase_model"] == "on_demand", "sku"].astype(str))
    )
    if not types:
        raise PlannerInputError(
            "no instance type to refresh",
            column="--instance-types",
            fix="pass --instance-types p5.48xlarge (repeatable)",
        )
    return types


def _previous_gpus(prev_ec2: pd.DataFrame) -> dict[str, tuple[str, float]]:
    """sku -> (gpu_type, gpus_per_unit) from the catalog in use (for types the API omits)."""
    od = prev_ec2[prev_ec2["purchase_model"].isin(["on_demand", "spot"])].drop_duplicates("sku")
    return {
        str(s): (str(g), float(n))
        for s, g, n in zip(od["sku"], od["gpu_type"], od["gpus_per_unit"], strict=True)
    }


def _previous_spot_rates(prev_ec2: pd.DataFrame) -> dict[str, float]:
    """offer_id -> spot interruption rate from the catalog in use (the API publishes none)."""
    spot_prev = prev_ec2[prev_ec2["purchase_model"] == "spot"]
    return {
        str(o): float(r)
        for o, r in zip(spot_prev["offer_id"], spot_prev["spot_interruption_rate"], strict=True)
        if pd.notna(r) and str(r) != ""
    }


def _utc(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class _RunInfo:
    """What every provenance file of one refresh records."""

    today: str
    now: datetime
    regions: tuple[str, ...]
    instance_types: list[str]
    calls: list[str]
    spot_window: tuple[datetime, datetime] | None
    notes: list[str]


def _provenance(
    series: str,
    path: Path,
    data: bytes,
    rows: list[dict[str, Any]],
    merged: pd.DataFrame,
    n_carried: int,
    prev_file: CatalogFile | None,
    run: _RunInfo,
) -> dict[str, Any]:
    """The ``.provenance.json`` of one refreshed series file."""
    models = pd.Series([r["purchase_model"] for r in rows], dtype=object)
    return {
        "file": path.name,
        "rows": len(merged),
        "sha256": hashlib.sha256(data).hexdigest(),
        "provider": "aws",
        "source": "AWS APIs through the boto3 credential chain: "
        + (
            "savingsplans:DescribeSavingsPlansOfferingRates"
            if series == SP_SERIES
            else "pricing:GetProducts, ec2:DescribeSpotPriceHistory, ec2:DescribeInstanceTypes"
        ),
        "date": run.today,
        "generated_at": _utc(run.now),
        "regions": list(run.regions),
        "instance_types": run.instance_types,
        "calls": run.calls,
        "refreshed_rows_by_purchase_model": {
            str(k): int(v) for k, v in models.value_counts().sort_index().items()
        },
        "carried_over_rows": n_carried,
        "carried_over_from": prev_file.version if prev_file else None,
        "spot_window": (
            [_utc(run.spot_window[0]), _utc(run.spot_window[1])]
            if run.spot_window and series == EC2_SERIES
            else None
        ),
        "derivation": (
            "pricing_data/aws/refresh.py: published per-SKU Savings Plans rates (assumed=false); "
            "upfront/recurring split of partial_upfront plans by pricing_data/assumptions.toml "
            "[ri_payment_split] partial_upfront_share (AWS: at least half upfront)"
            if series == SP_SERIES
            else "pricing_data/aws/refresh.py: Linux shared-tenancy on-demand and RI prices with "
            "AWS's own upfront (Quantity) and hourly (Hrs) split; spot = time-weighted mean of "
            "the price history (p90 in the source column); interruption rates from the previous "
            "catalog where known (labelled assumed)"
        ),
        "notes": run.notes[:200],
    }


def _series_files(
    root: Path,
    series_rows: dict[str, list[dict[str, Any]]],
    previous: dict[str, tuple[CatalogFile | None, pd.DataFrame]],
    run: _RunInfo,
) -> tuple[dict[Path, bytes], dict[str, int], dict[str, int]]:
    """The new catalog files (CSV + provenance) per refreshed series, validated, in memory."""
    files: dict[Path, bytes] = {}
    rows_by_series: dict[str, int] = {}
    carried: dict[str, int] = {}
    for series, rows in series_rows.items():
        if not rows:
            continue  # nothing refreshed in this series: the catalog in use stays
        prev_file, prev_df = previous[series]
        merged, n_carried = merge_with_previous(rows, prev_df)
        path = root / "aws" / f"{series}-{run.today}.csv"
        text = _csv_text(merged)
        # The same validation as the shipped files; a failure here writes nothing.
        validate_offers(
            pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False),
            f"refreshed {path.name}",
        )
        data = text.encode("utf-8")
        prov = _provenance(series, path, data, rows, merged, n_carried, prev_file, run)
        files[path] = data
        files[path.with_suffix(".provenance.json")] = (json.dumps(prov, indent=2) + "\n").encode()
        rows_by_series[series] = len(merged)
        carried[series] = n_carried
    return files, rows_by_series, carried


def refresh_aws_catalog(
    factory: ClientFactory,
    request: RefreshRequest,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    out_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> RefreshResult:
    """Fetch live AWS prices and write a new dated catalog (see the module docstring).

    Steps: the catalog in use (:func:`_previous`) -> instance types -> fetch every API (nothing is
    written if a call fails) -> rows (:func:`build_rows`) -> files merged with the rows the refresh
    did not cover, validated (:func:`_series_files`) -> all written at once (:func:`_write_all`).
    """
    _check_request(request)
    now = request.now or datetime.now(UTC)
    today = request.today or now.date()
    previous = _previous(today)
    prev_versions = tuple(f.version for f, _ in previous.values() if f is not None)
    in_use = ", ".join(prev_versions) or "no AWS catalog"
    prev_ec2_file, prev_ec2 = previous[EC2_SERIES]
    types = _instance_types(request, prev_ec2)
    spot_window = (now - timedelta(days=request.spot_days), now) if request.include_spot else None
    try:
        got = fetch_all(
            factory,
            request.regions,
            types,
            spot_window=spot_window,
            include_savings_plans=request.include_savings_plans,
            retry=retry,
            progress=progress,
        )
    except AwsApiError as e:
        raise RefreshError(f"{e}\nNothing was written; prices still come from {in_use}.") from None
    ec2_rows, sp_rows, notes = build_rows(
        got,
        _previous_gpus(prev_ec2),
        _previous_spot_rates(prev_ec2),
        prev_ec2_file.version if prev_ec2_file is not None else "the catalog",
        price_date=today.isoformat(),
        spot_window=spot_window,
        partial_upfront_share=partial_upfront_share(),
    )
    all_notes = [*got.notes, *notes]
    if not ec2_rows and not sp_rows:
        raise RefreshError(
            "the AWS APIs returned no usable price for the requested regions and instance types"
            + (f" ({all_notes[0]})" if all_notes else "")
            + f"\nNothing was written; prices still come from {in_use}."
        )
    root = out_dir or user_catalog_dir()
    if root.resolve() == shipped_catalog_dir().resolve():
        raise RefreshError(
            "refusing to write into the shipped catalog folder; set PLANNER_CATALOG_DIR"
        )
    run = _RunInfo(
        today.isoformat(), now, tuple(request.regions), types, got.calls, spot_window, all_notes
    )
    files, rows_by_series, carried = _series_files(
        root, {EC2_SERIES: ec2_rows, SP_SERIES: sp_rows}, previous, run
    )
    _write_all(files)
    refreshed = pd.Series([r["purchase_model"] for r in ec2_rows + sp_rows], dtype=object)
    return RefreshResult(
        files=tuple(p for p in files if p.suffix == ".csv"),
        rows_by_series=rows_by_series,
        refreshed_by_model={
            str(k): int(v) for k, v in refreshed.value_counts().sort_index().items()
        },
        carried_over_by_series=carried,
        previous_versions=prev_versions,
        notes=tuple(all_notes),
    )
