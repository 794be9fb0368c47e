"""Summarise ``ec2.describe_spot_price_history`` per instance type and region.

The history lists price *changes* per availability zone; a price holds until the next change. The
summary weights each price by the hours it held inside the window, over every zone: the
time-weighted mean, the 90th percentile, and the period the records cover. AWS publishes no
interruption rate through this API. Pure functions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pricing_data.aws.errors import MalformedResponseError
from pricing_data.stats import weighted_quantile


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
