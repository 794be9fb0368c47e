"""Words for people: column headers and enum values as a reader expects them, and number formats
(thousands separators, no exponents, a dash where there is no value). Machine files keep the
contract's names; reports and the terminal use these."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

HEADERS = {
    "purchase_id": "Purchase",
    "decision": "Decision",
    "provider": "Provider",
    "purchase_model": "Kind",
    "region": "Region",
    "sku": "SKU",
    "gpu_type": "GPU",
    "offering_class": "Class",
    "term_months": "Term (months)",
    "payment_option": "Payment",
    "quantity": "Quantity",
    "quantity_unit": "Unit",
    "hourly_commitment_usd": "Commitment ($/h)",
    "upfront_usd": "Upfront ($)",
    "recurring_monthly_usd": "Monthly ($)",
    "term_obligation_usd": "Term obligation ($)",
    "npv_cost_usd": "NPV cost ($)",
    "start_date": "Start",
    "end_date": "End",
    "price_basis": "Price basis",
    "expected_utilization_pct": "Expected use (%)",
    "p10_utilization_pct": "Use, worst 10% (%)",
    "expected_savings_usd": "Marginal saving ($)",
    "npv_savings_usd": "Marginal saving, NPV ($)",
    "breakeven_months": "Break-even (months)",
    "required_by": "Required by",
    "strategy": "Strategy",
    "expected_cost_usd": "Expected cost ($)",
    "annual_cost_usd": "Annual cost ($)",
    "savings_vs_on_demand_usd": "Saving vs on-demand ($)",
    "cash_cost_usd": "Cash cost ($)",
    "cash_savings_vs_on_demand_usd": "Cash saving vs on-demand ($)",
    "npv_savings_vs_on_demand_usd": "NPV saving vs on-demand ($)",
    "accrual_cost_usd": "Cost, upfront spread over the term ($)",
    "annual_accrual_cost_usd": "Annual cost, upfront spread ($)",
    "esr_pct": "Effective savings rate (%)",
    "coverage_pct": "Coverage (%)",
    "utilization_pct": "Utilisation (%)",
    "waste_usd": "Unused commitment ($)",
    "commitment_id": "Commitment",
    "days_left": "Days left",
    "month": "Month",
    "quarter": "Quarter",
    "firm_upfront_usd": "Firm: upfront ($)",
    "firm_recurring_usd": "Firm: recurring ($)",
    "ladder_upfront_usd": "Ladder: upfront ($)",
    "ladder_recurring_usd": "Ladder: recurring ($)",
    "new_commitments_usd": "New commitments ($)",
    "existing_commitments_usd": "Existing commitments, amortised ($)",
    "pay_as_you_go_usd": "Pay as you go, expected ($)",
    "discount_factor": "Discount factor",
    "new_commitments_npv_usd": "New commitments, NPV ($)",
    "cumulative_new_commitments_usd": "New commitments, cumulative ($)",
    "pool": "Pool",
    "model": "Model",
    "mase": "MASE",
    "rel_mae": "Relative MAE",
    "mae_gpus": "MAE (GPUs)",
}
VALUES = {
    "reserved_instance": "Reserved Instance",
    "ec2_instance_savings_plan": "EC2 Instance Savings Plan",
    "compute_savings_plan": "Compute Savings Plan",
    "reserved_contract": "Reserved contract",
    "no_upfront": "No upfront",
    "partial_upfront": "Partial upfront",
    "all_upfront": "All upfront",
    "aws": "AWS",
    "coreweave": "CoreWeave",
    "lambda": "Lambda",
    "on_demand": "On-demand",
    "spot": "Spot",
    "now": "Buy now",
    "ladder": "Tentative",
    "instances": "instances",
    "gpus": "GPUs",
}
BOUNDS = {  # the referee's bound names (planner/optimize/referee.py), as a reader says them
    "cvar_unused_pct": "CVaR of unused spend (% of commitment spend)",
    "cvar_unused_usd": "CVaR of unused spend ($)",
    "min_utilization": "Worst-decile utilisation (share)",
    "max_share_per_provider": "Largest provider's share of committed GPU-hours",
}
SHORT_KIND = {
    "reserved_instance": "RI",
    "ec2_instance_savings_plan": "EC2 SP",
    "compute_savings_plan": "Compute SP",
    "reserved_contract": "Contract",
}
SHORT_PAYMENT = {"no_upfront": "none", "partial_upfront": "partial", "all_upfront": "all"}


def header(name: str) -> str:
    """A column's header for people: the known label, else words from the snake_case name."""
    if name in HEADERS:
        return HEADERS[name]
    words = name.replace("_usd", " ($)").replace("_pct", " (%)").replace("_", " ").strip()
    if words.startswith("p") and words[1:3].isdigit():  # p10 utilization (%) -> P10 ...
        words = "P" + words[1:]
    return words[:1].upper() + words[1:]


def value(v: Any) -> Any:
    """An enum value for people (other values unchanged)."""
    return VALUES.get(v, v) if isinstance(v, str) else v


def humanize(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with people's headers and enum values."""
    out = df.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(value)
    return out.rename(columns={c: header(c) for c in out.columns})


def usd(v: float | None, *, cents: bool = False) -> str:
    """$1,234,567 (or with cents); a dash for no value."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    sign = "-" if v < 0 else ""
    return f"{sign}${abs(v):,.2f}" if cents else f"{sign}${abs(v):,.0f}"


def pct(v: float | None, *, share: bool = False, digits: int = 1) -> str:
    """12.3% from a percent (or from a 0-1 share with ``share``); a dash for no value."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{(100 * v if share else v):.{digits}f}%"


def number(v: Any) -> str:
    """A plain number with thousands separators and no exponent; text unchanged."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}" if abs(v) >= 1000 or v == 0 else f"{v:,.2f}"
        return f"{v:,.2f}" if abs(v) >= 1 else f"{v:,.4f}"
    return str(v)
