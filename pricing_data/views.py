"""Derived views of the offer table (pure functions over DataFrames)."""

from __future__ import annotations

import pandas as pd

LISTING_COLUMNS = [
    "provider",
    "region",
    "sku",
    "gpu_type",
    "gpus_per_unit",
    "purchase_model",
    "offering_class",
    "term_months",
    "payment_option",
    "upfront_usd",
    "recurring_usd_per_hour",
    "effective_usd_per_hour",
    "usd_per_gpu_hour",
    "assumed",
    "overlay",
    "price_date",
    "catalog_version",
]


def cheapest_by_gpu(offers: pd.DataFrame) -> pd.DataFrame:
    """Per GPU type and purchase model, the offer with the lowest ``usd_per_gpu_hour``.

    The price compared is the effective USD per GPU-hour at 100% utilisation (commitments) or per
    used hour (on-demand, spot). Ties go to the published (not assumed) price, then by offer_id.
    """
    cols = [
        "gpu_type",
        "purchase_model",
        "usd_per_gpu_hour",
        "provider",
        "region",
        "sku",
        "offering_class",
        "term_months",
        "payment_option",
        "assumed",
        "overlay",
    ]
    if offers.empty:
        return pd.DataFrame(columns=cols)
    ranked = offers.sort_values(
        ["gpu_type", "purchase_model", "usd_per_gpu_hour", "assumed", "offer_id"]
    )
    best = ranked.drop_duplicates(["gpu_type", "purchase_model"], keep="first")
    order = {
        m: i
        for i, m in enumerate(
            [
                "on_demand",
                "spot",
                "reserved_instance",
                "ec2_instance_savings_plan",
                "compute_savings_plan",
                "reserved_contract",
            ]
        )
    }
    best = best.assign(_o=best["purchase_model"].map(order)).sort_values(["gpu_type", "_o"])
    return best[cols].reset_index(drop=True)
