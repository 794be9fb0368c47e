"""The EC2 API (``ec2:Describe*``): spot price history, instance types (GPU counts) and the
Reserved Instances held.

Spot: Summarise ``ec2.describe_spot_price_history`` per instance type and region.

The history lists price *changes* per availability zone; a price holds until the next change. The
summary weights each price by the hours it held inside the window, over every zone: the
time-weighted mean, the 90th percentile, and the period the records cover. AWS publishes no
interruption rate through this API. Pure functions.

Instance types: Parse ``ec2.describe_instance_types`` records into accelerator type and count per instance type.

GPUs come from ``GpuInfo`` (``Count`` × ``GpuPartitionSize`` for fractional GPUs), AWS Trainium and
Inferentia2 from ``NeuronInfo`` (devices), Inferentia 1 from ``InferenceAcceleratorInfo``. The GPU type
goes through :func:`pricing_data.gpu_types.aws_gpu_type`, whose instance-family overrides fix names
AWS reports ambiguously (p4d vs p4de A100s, trn1). Pure functions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pricing_data.aws.client import DEFAULT_RETRY, RetryPolicy, call, chunks, items
from pricing_data.aws.errors import MalformedResponseError
from pricing_data.errors import PlannerInputError
from pricing_data.gpu_types import aws_gpu_type
from pricing_data.stats import weighted_quantile


def fetch_spot_price_history(
    ec2: Any,
    instance_types: list[str],
    start: datetime,
    end: datetime,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> list[dict[str, Any]]:
    """Linux/UNIX spot price changes in the client's region between ``start`` and ``end``."""
    out: list[dict[str, Any]] = []
    for chunk in chunks(sorted(instance_types), 100):
        out += items(
            ec2,
            "describe_spot_price_history",
            "SpotPriceHistory",
            retry=retry,
            InstanceTypes=chunk,
            ProductDescriptions=["Linux/UNIX"],
            StartTime=start,
            EndTime=end,
            MaxResults=1000,
        )
    return out


def fetch_instance_types(
    ec2: Any, instance_types: list[str], retry: RetryPolicy = DEFAULT_RETRY
) -> list[dict[str, Any]]:
    """InstanceTypeInfo records for ``instance_types`` offered in the client's region."""
    out: list[dict[str, Any]] = []
    for chunk in chunks(sorted(instance_types), 100):
        out += items(
            ec2,
            "describe_instance_types",
            "InstanceTypes",
            retry=retry,
            Filters=[{"Name": "instance-type", "Values": chunk}],
            MaxResults=100,
        )
    return out


def fetch_reserved_instances(ec2: Any, retry: RetryPolicy = DEFAULT_RETRY) -> list[dict[str, Any]]:
    """Active Reserved Instances in the client's region (ec2:DescribeReservedInstances)."""
    response = call(
        ec2,
        "describe_reserved_instances",
        retry,
        Filters=[{"Name": "state", "Values": ["active"]}],
    )
    return list(response.get("ReservedInstances", []))


@dataclass(frozen=True)
class SpotSummary:
    region: str
    instance_type: str
    mean_usd_per_hour: float
    p90_usd_per_hour: float
    period_start: datetime
    period_end: datetime
    zones: int
    price_changes: int


def summarise_spot_history(
    records: list[dict[str, Any]], region: str, start: datetime, end: datetime
) -> tuple[list[SpotSummary], list[str]]:
    """Per instance type: time-weighted mean and p90 spot price in ``region`` over [start, end)."""
    by_zone: dict[tuple[str, str], list[tuple[datetime, float]]] = defaultdict(list)
    notes: list[str] = []
    for rec in records:
        try:
            itype = str(rec["InstanceType"])
            zone = str(rec["AvailabilityZone"])
            ts = rec["Timestamp"]
            price = float(rec["SpotPrice"])
        except (KeyError, TypeError, ValueError) as e:
            raise MalformedResponseError(f"spot price record in {region} lacks {e}") from None
        if not isinstance(ts, datetime):
            raise MalformedResponseError(f"spot price record in {region}: bad Timestamp {ts!r}")
        if not math.isfinite(price) or price <= 0:
            notes.append(f"spot {itype} {zone}: ignored price {price}")
            continue
        by_zone[(itype, zone)].append((ts, price))
    values: dict[str, list[float]] = defaultdict(list)
    weights: dict[str, list[float]] = defaultdict(list)
    first: dict[str, datetime] = {}
    zones: dict[str, set[str]] = defaultdict(set)
    changes: dict[str, int] = defaultdict(int)
    for (itype, zone), changes_in_zone in by_zone.items():
        changes_in_zone.sort()
        for i, (ts, price) in enumerate(changes_in_zone):
            seg_start = max(ts, start)
            seg_end = changes_in_zone[i + 1][0] if i + 1 < len(changes_in_zone) else end
            seg_end = min(seg_end, end)
            hours = (seg_end - seg_start).total_seconds() / 3600
            if hours <= 0:
                continue
            values[itype].append(price)
            weights[itype].append(hours)
            first[itype] = min(first.get(itype, seg_start), seg_start)
            zones[itype].add(zone)
            changes[itype] += 1
    out = []
    for itype in sorted(values):
        v, w = values[itype], weights[itype]
        mean = sum(a * b for a, b in zip(v, w, strict=True)) / sum(w)
        out.append(
            SpotSummary(
                region,
                itype,
                mean,
                weighted_quantile(v, w, 0.9),
                first[itype],
                end,
                len(zones[itype]),
                changes[itype],
            )
        )
    return out, notes


@dataclass(frozen=True)
class Accelerators:
    instance_type: str
    gpu_type: str
    gpus_per_unit: float
    device_name: str


def _devices(info: dict[str, Any]) -> tuple[str, float] | None:
    gpus = (info.get("GpuInfo") or {}).get("Gpus") or []
    if gpus:
        total = 0.0
        for g in gpus:
            count = float(g.get("Count") or 0)
            part = g.get("GpuPartitionSize")
            total += count * float(part) if part else count
        return str(gpus[0].get("Name", "")), total
    neuron = (info.get("NeuronInfo") or {}).get("NeuronDevices") or []
    if neuron:
        return str(neuron[0].get("Name", "")), float(sum(int(d.get("Count") or 0) for d in neuron))
    accel = (info.get("InferenceAcceleratorInfo") or {}).get("Accelerators") or []
    if accel:
        return str(accel[0].get("Name", "")), float(sum(int(a.get("Count") or 0) for a in accel))
    return None


def parse_instance_types(
    records: list[dict[str, Any]],
) -> tuple[dict[str, Accelerators], list[str]]:
    """instance type -> Accelerators, and notes on types without a known accelerator."""
    out: dict[str, Accelerators] = {}
    notes: list[str] = []
    for rec in records:
        itype = str(rec.get("InstanceType", ""))
        if not itype:
            notes.append("skipped an instance type record without InstanceType")
            continue
        found = _devices(rec)
        if found is None or found[1] <= 0:
            notes.append(f"{itype}: no GPU or accelerator in describe_instance_types; skipped")
            continue
        name, count = found
        try:
            gpu = aws_gpu_type(itype, name)
        except PlannerInputError:
            notes.append(f"{itype}: accelerator {name!r} is not a known GPU type; skipped")
            continue
        out[itype] = Accelerators(itype, gpu, count, name)
    return out, notes
