"""The procurement file: the purchases.csv contract (docs/purchases-csv.md) as CSV, JSON or XLSX
(or a text table for the terminal).

One row per purchase, columns :data:`planner.plan.PURCHASE_COLUMNS` in that order, money in USD,
dates ISO 8601, empty cells where a field does not apply. ``firm_only`` keeps the purchases to make
now (``decision = now``). No text cell starts with a spreadsheet formula character (``= + - @``,
tab, carriage return): such a cell gets a leading apostrophe, so a crafted SKU or region cannot
run as a formula when the file is opened. The XLSX holds the same rows and columns on the sheet
``purchases`` (numbers as numbers) and the column definitions on the sheet ``columns``.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pandas as pd

from planner.plan import PURCHASE_COLUMNS, Plan
from planner.report.render import render_frame
from pricing_data.csv_safe import to_csv_text

EXPORT_FORMATS = ("csv", "json", "xlsx")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

COLUMN_MEANINGS = {
    "purchase_id": "P001, P002, ... in purchase order",
    "decision": "now = firm, buy this quarter; ladder = tentative, revisited next quarter",
    "provider": "aws, coreweave or lambda",
    "purchase_model": "reserved_instance, ec2_instance_savings_plan, compute_savings_plan or "
    "reserved_contract",
    "region": "region of an RI, EC2 Instance Savings Plan or contract; empty for Compute SPs",
    "sku": "instance type (RI), instance family (EC2 Instance SP), provider SKU (contract)",
    "gpu_type": "GPU the purchase serves; empty for Compute Savings Plans",
    "offering_class": "standard or convertible (RIs)",
    "term_months": "term in months",
    "payment_option": "no_upfront, partial_upfront or all_upfront",
    "quantity": "how many quantity_unit to buy; empty for Savings Plans",
    "quantity_unit": "instances (RIs), gpus (contracts), empty (Savings Plans)",
    "hourly_commitment_usd": "Savings Plan commitment in USD per hour; empty otherwise",
    "upfront_usd": "paid on the start date",
    "recurring_monthly_usd": "billed every month of the term",
    "term_obligation_usd": "upfront + recurring over the whole term",
    "npv_cost_usd": "present value of those payments at the plan start (cost of capital)",
    "start_date": "ISO date the purchase starts",
    "end_date": "ISO date it ends",
    "price_basis": "published, assumed (an assumption or derived split) or overlay (yours)",
    "expected_utilization_pct": "share of its commitment used, mean over scenarios",
    "p10_utilization_pct": "the same in the worst 10% of scenarios",
    "expected_savings_usd": "marginal value: plan cost without it minus with it (evaluator)",
    "npv_savings_usd": "the same, discounted",
    "breakeven_months": "months until its cumulative saving turns positive; empty if never",
    "required_by": "the risk bound that requires it when its marginal value is not positive",
}


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def procurement_frame(plan: Plan, *, firm_only: bool = False) -> pd.DataFrame:
    """The contract's rows (module docstring), text cells neutralised."""
    df = plan.purchases_frame(firm_only=firm_only)
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            df[col] = df[col].map(neutralise)
    return df


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def render_procurement(plan: Plan, fmt: str, *, firm_only: bool = False) -> bytes:
    """The procurement file's bytes in ``fmt`` (csv, json or xlsx; ``table``: the same rows as a
    plain text table for the terminal, money with thousands separators)."""
    df = procurement_frame(plan, firm_only=firm_only)
    if fmt == "table":
        return render_frame(df, "table", floatfmt=",.2f").encode("utf-8")
    if fmt == "csv":
        return to_csv_text(df).encode("utf-8")
    records = [{str(k): _plain(v) for k, v in rec.items()} for rec in df.to_dict(orient="records")]
    if fmt == "json":
        return (json.dumps(records, indent=2) + "\n").encode("utf-8")
    if fmt == "xlsx":
        return _xlsx(records)
    raise ValueError(f"unknown format {fmt!r}; use table or one of {', '.join(EXPORT_FORMATS)}")


def _xlsx(records: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "purchases"
    ws.append(list(PURCHASE_COLUMNS))
    for rec in records:
        ws.append([rec[c] for c in PURCHASE_COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "B2"
    money = {"upfront_usd", "recurring_monthly_usd", "term_obligation_usd", "npv_cost_usd"}
    money |= {"expected_savings_usd", "npv_savings_usd"}
    for j, name in enumerate(PURCHASE_COLUMNS, start=1):
        letter = ws.cell(row=1, column=j).column_letter
        ws.column_dimensions[letter].width = max(12, len(name) + 2)
        if name in money:
            for row in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                row[0].number_format = "#,##0.00"
    notes = wb.create_sheet("columns")
    notes.append(["column", "meaning"])
    for name in PURCHASE_COLUMNS:
        notes.append([name, COLUMN_MEANINGS[name]])
    notes.column_dimensions["A"].width = 26
    notes.column_dimensions["B"].width = 90
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
