"""A synthetic AWS CUR 2.0 export (48 standard columns) of N lines, as Parquet or CSV, by duckdb.

Shape of a large organisation's hourly CUR: ``--hours`` hours (default a year), each with
``N / hours`` lines, of which ``--gpu-share`` (default 25 %) are EC2 GPU instance lines (p5, p4d,
g6e, g5, g6, trn1 across 3 regions, paid on-demand, spot, RI or Savings Plan) and the rest CPU EC2,
S3, data transfer and tax lines. Every line has a resource id and ``resource_tags`` (a MAP in
Parquet, JSON text in CSV) with ``user_team`` (``--teams`` values), ``user_project``,
``user_environment``, ``user_workload`` and ``user_experiment`` (``--experiments`` values, the
high-cardinality tag that made the old reduction's memory grow).

The figures are invented; the column names and value shapes are those of CUR 2.0 (Data Exports).
Deterministic (a hash of the line number, no RNG state).

    .venv/bin/python bench/cur_synth.py /tmp/cur-1m.parquet --lines 1000000
    .venv/bin/python bench/cur_synth.py /tmp/cur-1m.csv --lines 1000000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

GPU_TYPES = (
    "p5.48xlarge",
    "p4d.24xlarge",
    "g6e.12xlarge",
    "g5.xlarge",
    "g6.xlarge",
    "trn1.32xlarge",
)
CPU_TYPES = ("m5.large", "c6i.2xlarge", "r6g.xlarge", "m7i.4xlarge")
REGIONS = (("us-east-1", "USE1"), ("us-west-2", "USW2"), ("eu-west-1", "EU"))


def _pick(values: tuple[str, ...], h: str) -> str:
    """``values[h mod len]`` as SQL."""
    items = ", ".join(f"'{v}'" for v in values)
    return f"[{items}][1 + ({h}) % {len(values)}]"


def cur_sql(
    n_lines: int, hours: int, gpu_share: float, teams: int, experiments: int, csv: bool
) -> str:
    per_hour = max(1, n_lines // hours)
    h1 = "CAST(hash(i) // 2 AS BIGINT)"
    h2 = "CAST(hash(i * 7 + 3) // 2 AS BIGINT)"
    kind = f"({h1} % 1000)"  # < gpu_share*1000: GPU line
    gpu_cut = int(gpu_share * 1000)
    is_gpu = f"({kind} < {gpu_cut})"
    region = f"({h2} % {len(REGIONS)})"
    region_code = "[" + ", ".join(f"'{r}'" for r, _ in REGIONS) + f"][1 + {region}]"
    region_prefix = "[" + ", ".join(f"'{p}'" for _, p in REGIONS) + f"][1 + {region}]"
    instance = f"CASE WHEN {is_gpu} THEN {_pick(GPU_TYPES, h2 + ' // 7')} ELSE {_pick(CPU_TYPES, h2 + ' // 7')} END"
    paid = f"({h1} // 1000 % 10)"  # 0-3 on-demand, 4-5 spot, 6-7 RI, 8-9 SP
    line_type = (
        f"CASE WHEN {kind} >= 970 THEN 'Tax' WHEN {paid} IN (6, 7) THEN 'DiscountedUsage' "
        f"WHEN {paid} IN (8, 9) THEN 'SavingsPlanCoveredUsage' ELSE 'Usage' END"
    )
    product = (
        f"CASE WHEN {kind} >= 970 THEN 'AWSTax' WHEN {kind} >= 900 THEN 'AmazonS3' "
        f"WHEN {kind} >= 850 THEN 'AWSDataTransfer' ELSE 'AmazonEC2' END"
    )
    usage_type = (
        f"CASE WHEN {kind} >= 900 THEN {region_prefix} || '-TimedStorage-ByteHrs' "
        f"WHEN {kind} >= 850 THEN {region_prefix} || '-DataTransfer-Out-Bytes' "
        f"WHEN {paid} IN (4, 5) THEN {region_prefix} || '-SpotUsage:' || {instance} "
        f"ELSE {region_prefix} || '-BoxUsage:' || {instance} END"
    )
    amount = f"CASE WHEN {kind} < 850 THEN 1.0 + ({h2} % 4) ELSE ({h2} % 1000) / 10.0 END"
    team = f"'team-' || ({h2} // 11 % {teams})"
    experiment = f"'exp-' || ({h1} // 13 % {experiments})"
    workload = _pick(("training", "inference", "batch", "notebook"), f"{h2} // 17")
    environment = _pick(("prod", "dev", "staging"), f"{h2} // 19")
    project = f"'proj-' || ({h2} // 23 % 40)"
    keys = ("user_team", "user_project", "user_environment", "user_workload", "user_experiment")
    vals = (team, project, environment, workload, experiment)
    if csv:
        tags = (
            "json_object(" + ", ".join(f"'{k}', {v}" for k, v in zip(keys, vals, strict=True)) + ")"
        )
    else:
        tags = "MAP {" + ", ".join(f"'{k}': {v}" for k, v in zip(keys, vals, strict=True)) + "}"
    start = f"TIMESTAMP '2025-01-01' + to_hours(CAST(i // {per_hour} AS BIGINT))"
    ts = "strftime({}, '%Y-%m-%dT%H:%M:%SZ')" if csv else "{}"
    cost = f"round({amount} * (0.5 + ({h2} % 97)), 6)"
    return f"""
    SELECT
      'li-' || i AS identity_line_item_id,
      strftime({start}, '%Y-%m-%dT%H:%M:%SZ') || '/' ||
        strftime({start} + INTERVAL 1 HOUR, '%Y-%m-%dT%H:%M:%SZ') AS identity_time_interval,
      '2025-INV-1' AS bill_invoice_id,
      'Amazon Web Services, Inc.' AS bill_invoicing_entity,
      'AWS' AS bill_billing_entity,
      'Anniversary' AS bill_bill_type,
      '111122223333' AS bill_payer_account_id,
      'payer' AS bill_payer_account_name,
      {ts.format("date_trunc('month', " + start + ")")} AS bill_billing_period_start_date,
      {ts.format("date_trunc('month', " + start + ") + INTERVAL 1 MONTH")} AS bill_billing_period_end_date,
      CAST(100000000000 + {h2} % 50 AS VARCHAR) AS line_item_usage_account_id,
      'account-' || ({h2} % 50) AS line_item_usage_account_name,
      {line_type} AS line_item_line_item_type,
      {ts.format(start)} AS line_item_usage_start_date,
      {ts.format(start + " + INTERVAL 1 HOUR")} AS line_item_usage_end_date,
      {product} AS line_item_product_code,
      {usage_type} AS line_item_usage_type,
      'RunInstances' AS line_item_operation,
      {region_code} || 'a' AS line_item_availability_zone,
      'i-' || lpad(CAST({h2} % 100000 AS VARCHAR), 17, '0') AS line_item_resource_id,
      {amount} AS line_item_usage_amount,
      8.0 AS line_item_normalization_factor,
      {amount} * 8.0 AS line_item_normalized_usage_amount,
      'USD' AS line_item_currency_code,
      0.5 + ({h2} % 97) AS line_item_unblended_rate,
      {cost} AS line_item_unblended_cost,
      0.5 + ({h2} % 97) AS line_item_blended_rate,
      {cost} AS line_item_blended_cost,
      'usage of ' || {instance} AS line_item_line_item_description,
      '' AS line_item_tax_type,
      'Amazon Web Services, Inc.' AS line_item_legal_entity,
      CASE WHEN {kind} < 850 THEN {instance} ELSE '' END AS product_instance_type,
      CASE WHEN {kind} < 850 THEN split_part({instance}, '.', 1) ELSE '' END AS product_instance_family,
      {region_code} AS product_region_code,
      {product} AS product_servicecode,
      'SKU' || ({h2} % 5000) AS product_sku,
      CASE WHEN {kind} < 850 THEN 'Compute Instance' ELSE 'Storage' END AS product_product_family,
      {region_code} AS product_location,
      CASE WHEN {paid} IN (4, 5) THEN 'Spot' ELSE 'OnDemand' END AS pricing_term,
      'Hrs' AS pricing_unit,
      {cost} * 1.3 AS pricing_public_on_demand_cost,
      0.65 + ({h2} % 97) AS pricing_public_on_demand_rate,
      CASE WHEN {paid} IN (6, 7) THEN 'arn:aws:ec2:us-east-1:111122223333:reserved-instances/r-' || ({h2} % 20) ELSE '' END
        AS reservation_reservation_a_r_n,
      CASE WHEN {paid} IN (8, 9) THEN 'arn:aws:savingsplans::111122223333:savingsplan/sp-' || ({h2} % 5) ELSE '' END
        AS savings_plan_savings_plan_a_r_n,
      CASE WHEN {paid} IN (8, 9) THEN {cost} * 0.7 ELSE 0.0 END AS savings_plan_savings_plan_effective_cost,
      {tags} AS resource_tags,
      {"'{}'" if csv else "MAP {'cost_centre': 'cc-' || (" + h2 + " % 9)}"} AS cost_category,
      0.0 AS discount_total_discount
    FROM range({n_lines}) t(i)
    """


def write_cur(
    path: Path,
    n_lines: int,
    *,
    hours: int = 8760,
    gpu_share: float = 0.25,
    teams: int = 400,
    experiments: int = 20000,
) -> float:
    """Write the export to ``path`` (``.parquet`` or ``.csv``); returns the seconds it took."""
    csv = path.suffix.lower() == ".csv"
    t = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute("SET memory_limit = '1GB'")
    con.execute("SET preserve_insertion_order = false")
    fmt = (
        "(FORMAT csv, HEADER true)"
        if csv
        else "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
    )
    con.execute(
        f"COPY ({cur_sql(n_lines, hours, gpu_share, teams, experiments, csv)}) TO '{path}' {fmt}"
    )
    con.close()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--hours", type=int, default=8760)
    ap.add_argument("--gpu-share", type=float, default=0.25)
    ap.add_argument("--teams", type=int, default=400)
    ap.add_argument("--experiments", type=int, default=20000)
    args = ap.parse_args()
    s = write_cur(
        args.path,
        args.lines,
        hours=args.hours,
        gpu_share=args.gpu_share,
        teams=args.teams,
        experiments=args.experiments,
    )
    size = args.path.stat().st_size / 1e6
    print(f"wrote {args.lines:,} lines to {args.path} ({size:,.0f} MB) in {s:.1f} s")


if __name__ == "__main__":
    main()
