"""The offer schema: one row per way to buy GPU hours, the same for every provider.

Units are in the column names. ``*_per_hour`` money is per *unit* (the provider's purchase unit: an
instance for AWS, CoreWeave and Lambda on-demand; one GPU for reserved contracts), so
``usd_per_gpu_hour = effective_usd_per_hour / gpus_per_unit``.

For every offer, ``effective_usd_per_hour = upfront_usd / term_hours + recurring_usd_per_hour`` with
``term_hours = term_months * 730`` (AWS's 8,760 h per year); on-demand and spot have ``term_months = 0``
and ``upfront_usd = 0``.

Savings Plan rows are per-SKU *rates*: the dollars of hourly commitment that one running unit of that
SKU consumes; ``upfront_usd`` is what the payment option would prepay for a plan that covers one unit
for its whole term.
"""

from __future__ import annotations

from dataclasses import dataclass

from pricing_data.units import HOURS_PER_MONTH as HOURS_PER_MONTH  # 8,760 h / 12

PROVIDERS = ("aws", "coreweave", "lambda")

PURCHASE_MODELS = (
    "on_demand",
    "spot",
    "reserved_instance",
    "ec2_instance_savings_plan",
    "compute_savings_plan",
    "reserved_contract",
)
COMMITMENT_MODELS = (
    "reserved_instance",
    "ec2_instance_savings_plan",
    "compute_savings_plan",
    "reserved_contract",
)
SAVINGS_PLAN_MODELS = ("ec2_instance_savings_plan", "compute_savings_plan")
PAYMENT_OPTIONS = ("no_upfront", "partial_upfront", "all_upfront")
OFFERING_CLASSES = ("standard", "convertible")


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # "str", "float", "int", "bool"
    unit: str
    description: str
    required: bool = True  # False: may be empty


COLUMNS: tuple[Column, ...] = (
    Column(
        "offer_id",
        "str",
        "-",
        "Unique key: provider:region:sku:purchase_model[:class:term:payment].",
    ),
    Column("provider", "str", "-", "aws, coreweave or lambda."),
    Column(
        "region",
        "str",
        "-",
        "Provider region code (AWS us-east-1; CoreWeave north-america/europe; Lambda global).",
    ),
    Column(
        "sku",
        "str",
        "-",
        "What is bought: AWS instance type, CoreWeave instance name, Lambda configuration.",
    ),
    Column(
        "instance_family",
        "str",
        "-",
        "AWS instance family (p5, g6e...) for EC2 Instance Savings Plans; the sku elsewhere.",
    ),
    Column(
        "gpu_type",
        "str",
        "-",
        "Canonical GPU type (H100, A100-80GB, ...), see pricing_data.gpu_types.",
    ),
    Column("gpus_per_unit", "float", "GPU", "GPUs in one purchase unit."),
    Column(
        "purchase_model",
        "str",
        "-",
        "on_demand, spot, reserved_instance, ec2_instance_savings_plan, compute_savings_plan, reserved_contract.",
    ),
    Column(
        "offering_class",
        "str",
        "-",
        "standard or convertible for RIs; empty otherwise.",
        required=False,
    ),
    Column("term_months", "int", "month", "Commitment term; 0 for on-demand and spot."),
    Column(
        "payment_option",
        "str",
        "-",
        "no_upfront, partial_upfront or all_upfront for commitments; empty otherwise.",
        required=False,
    ),
    Column(
        "upfront_usd",
        "float",
        "USD per unit",
        "Paid once at purchase for one unit for the whole term.",
    ),
    Column(
        "recurring_usd_per_hour",
        "float",
        "USD per unit-hour",
        "Billed every hour of the term, used or not (on-demand/spot: per hour used).",
    ),
    Column(
        "effective_usd_per_hour",
        "float",
        "USD per unit-hour",
        "upfront_usd / term_hours + recurring_usd_per_hour.",
    ),
    Column(
        "usd_per_gpu_hour",
        "float",
        "USD per GPU-hour",
        "effective_usd_per_hour / gpus_per_unit: the comparable price at 100% utilisation.",
    ),
    Column(
        "spot_interruption_rate",
        "float",
        "fraction per month",
        "Spot only: share of instances interrupted per month (band midpoint).",
        required=False,
    ),
    Column("assumed", "bool", "-", "True when the price is an assumption, not a published price."),
    Column(
        "assumption",
        "str",
        "-",
        "The rule used when assumed is true; empty otherwise.",
        required=False,
    ),
    Column("overlay", "bool", "-", "True when the price comes from a user overlay file."),
    Column("source", "str", "-", "Where the price comes from (URL, API or file)."),
    Column("price_date", "str", "ISO date", "The date the price was observed or published."),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
COLUMNS_BY_NAME = {c.name: c for c in COLUMNS}


def term_hours(term_months: float) -> float:
    """Hours in a term of ``term_months`` months (730 h per month, 8,760 h per year)."""
    return float(term_months) * HOURS_PER_MONTH


def schema_markdown() -> str:
    """The schema as a Markdown table (written to pricing_data/SCHEMA.md and checked by a test)."""
    lines = [
        "# Offer catalog schema",
        "",
        "Generated from `pricing_data/schema.py`; a test keeps the two in step.",
        "",
        "| column | type | unit | required | description |",
        "|---|---|---|---|---|",
    ]
    for c in COLUMNS:
        req = "yes" if c.required else "no"
        lines.append(f"| `{c.name}` | {c.dtype} | {c.unit} | {req} | {c.description} |")
    lines.append("")
    lines.append(
        "Loaded catalogs add `catalog_version` (the file the row came from). "
        "Each catalog file `catalogs/<provider>/<name>-YYYY-MM-DD.csv` has a sidecar "
        "`<same name>.provenance.json` with source, date, sha256 of the file, licence and how it was derived."
    )
    return "\n".join(lines) + "\n"
