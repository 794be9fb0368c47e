"""Small billing exports with GPU and commitment lines, using the real column names.

No public FOCUS or CUR export contains GPU instances or commitments in bulk, so these fixtures were
written by hand (by this script) for the ingestion tests. Run from the repository root:
``python tests/data/billing/gpu-fixtures/make_fixtures.py``. All figures are invented.

Contents (48 hours from 2025-03-01T00:00Z):
- 2 × p5.48xlarge (8 H100 each) all the time, team=llm, workload=training: hour < 24 covered by a
  Savings Plan, hour >= 24 by a Reserved Instance for one instance and on-demand for the other.
- 1 × g5.xlarge (1 A10G) on spot in hours 0–11, team=inference, workload=serving.
- non-GPU lines (m5.large, S3) that must be ignored.
- FOCUS: a Purchase line for the Savings Plan (not usage), an Unused commitment line.
- legacy CUR: one daily-granularity line (g6.xlarge, 24 instance-hours over 2025-03-02).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent
T0 = pd.Timestamp("2025-03-01T00:00:00Z")
SP_ARN = "arn:aws:savingsplans::123456789012:savingsplan/0a1b2c3d-0000-4000-8000-00000000aaaa"
RI_ARN = "arn:aws:ec2:us-east-1:123456789012:reserved-instances/11111111-2222-3333-4444-555555555555"


def lines() -> list[dict]:
    out = []
    for h in range(48):
        t = T0 + pd.Timedelta(hours=h)
        tags = {"user:team": "llm", "user:workload": "training"}
        if h < 24:
            out.append(dict(t=t, it="p5.48xlarge", n=2.0, kind="sp", tags=tags))
        else:
            out.append(dict(t=t, it="p5.48xlarge", n=1.0, kind="ri", tags=tags))
            out.append(dict(t=t, it="p5.48xlarge", n=1.0, kind="od", tags=tags))
        if h < 12:
            tags2 = {"user:team": "inference", "user:workload": "serving"}
            out.append(dict(t=t, it="g5.xlarge", n=1.0, kind="spot", tags=tags2))
        out.append(dict(t=t, it="m5.large", n=3.0, kind="od", tags={}))
    return out


def iso(t: pd.Timestamp, focus: bool = False) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if focus else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def focus() -> None:
    rows = []
    for ln in lines():
        t, it, n, kind = ln["t"], ln["it"], ln["n"], ln["kind"]
        prefix = "SpotUsage" if kind == "spot" else "BoxUsage"
        row = {
            "BilledCost": 0.0 if kind in ("sp", "ri") else 10.0 * n,
            "BillingCurrency": "USD",
            "ChargeCategory": "Usage",
            "ChargeClass": "NULL",
            "ChargeDescription": f"{it} usage",
            "ChargePeriodStart": iso(t, True),
            "ChargePeriodEnd": iso(t + pd.Timedelta(hours=1), True),
            "CommitmentDiscountCategory": "NULL",
            "CommitmentDiscountId": "NULL",
            "CommitmentDiscountStatus": "NULL",
            "CommitmentDiscountType": "NULL",
            "ConsumedQuantity": n,
            "ConsumedUnit": "Hours",
            "PricingCategory": {"spot": "Dynamic", "sp": "Committed", "ri": "Committed"}.get(
                kind, "Standard"
            ),
            "ProviderName": "AWS",
            "RegionId": "us-east-1",
            "ServiceCategory": "Compute",
            "SkuId": "ABCDEF",
            "SkuMeter": f"{prefix}:{it}",
            "SkuPriceDetails": json.dumps({"x_InstanceType": it}),
            "Tags": json.dumps(ln["tags"]) if ln["tags"] else "NULL",
            "x_UsageType": f"USE1-{prefix}:{it}",
            "Id": len(rows) + 1,
        }
        if kind == "sp":
            row.update(
                CommitmentDiscountCategory="Spend",
                CommitmentDiscountId=SP_ARN,
                CommitmentDiscountStatus="Used",
                CommitmentDiscountType="Savings Plan",
            )
        if kind == "ri":
            row.update(
                CommitmentDiscountCategory="Usage",
                CommitmentDiscountId=RI_ARN,
                CommitmentDiscountStatus="Used",
                CommitmentDiscountType="Reservation",
            )
        rows.append(row)
    base = dict(rows[0])
    rows.append(
        {
            **base,
            "ChargeCategory": "Purchase",
            "ConsumedQuantity": "NULL",
            "ConsumedUnit": "NULL",
            "SkuMeter": "NULL",
            "x_UsageType": "SavingsPlanRecurringFee",
            "CommitmentDiscountId": SP_ARN,
            "CommitmentDiscountCategory": "Spend",
            "CommitmentDiscountStatus": "NULL",
            "CommitmentDiscountType": "Savings Plan",
            "Id": len(rows) + 1,
        }
    )
    rows.append(
        {
            **base,
            "ChargePeriodStart": iso(T0 + pd.Timedelta(hours=47), True),
            "ChargePeriodEnd": iso(T0 + pd.Timedelta(hours=48), True),
            "ConsumedQuantity": "NULL",
            "ConsumedUnit": "NULL",
            "SkuMeter": "NULL",
            "x_UsageType": "SavingsPlanNegation",
            "CommitmentDiscountId": SP_ARN,
            "CommitmentDiscountCategory": "Spend",
            "CommitmentDiscountStatus": "Unused",
            "CommitmentDiscountType": "Savings Plan",
            "Id": len(rows) + 1,
        }
    )
    pd.DataFrame(rows).to_csv(HERE / "focus-1.2-gpu.csv", index=False, lineterminator="\n")


def cur2() -> None:
    rows = []
    for ln in lines():
        t, it, n, kind = ln["t"], ln["it"], ln["n"], ln["kind"]
        prefix = "SpotUsage" if kind == "spot" else "BoxUsage"
        rows.append(
            {
                "identity_line_item_id": f"li{len(rows)}",
                "line_item_line_item_type": {"sp": "SavingsPlanCoveredUsage", "ri": "DiscountedUsage"}.get(
                    kind, "Usage"
                ),
                "line_item_usage_start_date": iso(t),
                "line_item_usage_end_date": iso(t + pd.Timedelta(hours=1)),
                "line_item_product_code": "AmazonEC2",
                "line_item_usage_type": f"USE1-{prefix}:{it}",
                "line_item_operation": "RunInstances",
                "line_item_usage_amount": n,
                "line_item_unblended_cost": 10.0 * n,
                "product_instance_type": it,
                "product_region_code": "us-east-1",
                "resource_tags": {k.replace("user:", "user_"): v for k, v in ln["tags"].items()},
            }
        )
    rows.append({**rows[0], "line_item_line_item_type": "Tax", "identity_line_item_id": "tax"})
    df = pd.DataFrame(rows)
    csv = df.assign(resource_tags=df["resource_tags"].map(lambda d: json.dumps(d) if d else ""))
    csv.to_csv(HERE / "cur2-gpu.csv", index=False, lineterminator="\n")
    table = pa.Table.from_pandas(df.drop(columns=["resource_tags"]), preserve_index=False)
    tags = pa.array(
        [list(d.items()) for d in df["resource_tags"]], type=pa.map_(pa.string(), pa.string())
    )
    table = table.append_column("resource_tags", tags)
    pq.write_table(table, HERE / "cur2-gpu.parquet")


def cur_legacy() -> None:
    rows = []
    for ln in lines():
        t, it, n, kind = ln["t"], ln["it"], ln["n"], ln["kind"]
        prefix = "SpotUsage" if kind == "spot" else "BoxUsage"
        rows.append(
            {
                "identity/LineItemId": f"li{len(rows)}",
                "identity/TimeInterval": f"{iso(t)}/{iso(t + pd.Timedelta(hours=1))}",
                "lineItem/LineItemType": {"sp": "SavingsPlanCoveredUsage", "ri": "DiscountedUsage"}.get(
                    kind, "Usage"
                ),
                "lineItem/UsageStartDate": t.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "lineItem/UsageEndDate": (t + pd.Timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "lineItem/ProductCode": "AmazonEC2",
                "lineItem/UsageType": f"{prefix}:{it}",
                "lineItem/UsageAmount": n,
                "product/instanceType": it,
                "product/region": "us-east-1",
                "resourceTags/user:team": ln["tags"].get("user:team", ""),
                "resourceTags/user:workload": ln["tags"].get("user:workload", ""),
            }
        )
    day = T0 + pd.Timedelta(days=1)
    rows.append(
        {
            **rows[0],
            "identity/LineItemId": "daily",
            "lineItem/LineItemType": "Usage",
            "lineItem/UsageStartDate": day.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "lineItem/UsageEndDate": (day + pd.Timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "lineItem/UsageType": "EUW1-BoxUsage:g6.xlarge",
            "lineItem/UsageAmount": 24.0,
            "product/instanceType": "",
            "product/region": "",
            "resourceTags/user:team": "",
            "resourceTags/user:workload": "",
        }
    )
    pd.DataFrame(rows).to_csv(HERE / "cur-legacy-gpu.csv", index=False, lineterminator="\n")


if __name__ == "__main__":
    focus()
    cur2()
    cur_legacy()
