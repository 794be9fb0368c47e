"""Helpers for planner tests: tiny hand-made offer tables and constant-demand scenarios.

Offer tables (catalog schema columns, prices chosen for easy maths)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.scenarios import DemandScenarios, Pool
from planner.inventory import Commitment
from pricing_data.schema import COLUMN_NAMES, HOURS_PER_MONTH


def offer(
    purchase_model: str,
    usd_per_gpu_hour: float,
    *,
    provider: str = "aws",
    region: str = "us-east-1",
    sku: str = "p5.4xlarge",
    family: str | None = None,
    gpu_type: str = "H100",
    gpus_per_unit: float = 1.0,
    term_months: int = 0,
    payment_option: str = "",
    offering_class: str = "",
    upfront_share: float = 0.0,
) -> dict[str, object]:
    """One catalog row; commitment prices split into upfront and recurring by ``upfront_share``."""
    eff = usd_per_gpu_hour * gpus_per_unit
    term_h = term_months * HOURS_PER_MONTH
    upfront = eff * term_h * upfront_share if term_months else 0.0
    recurring = eff - (upfront / term_h if term_h else 0.0)
    if term_months and not payment_option:
        payment_option = "no_upfront"
    if purchase_model == "reserved_instance" and not offering_class:
        offering_class = "standard"
    parts = [provider, region, sku, purchase_model]
    if term_months:
        parts += [offering_class, str(term_months), payment_option]
    return {
        "offer_id": ":".join(parts),
        "provider": provider,
        "region": region,
        "sku": sku,
        "instance_family": family or sku.split(".")[0],
        "gpu_type": gpu_type,
        "gpus_per_unit": float(gpus_per_unit),
        "purchase_model": purchase_model,
        "offering_class": offering_class,
        "term_months": int(term_months),
        "payment_option": payment_option,
        "upfront_usd": float(upfront),
        "recurring_usd_per_hour": float(recurring),
        "effective_usd_per_hour": float(eff),
        "usd_per_gpu_hour": float(usd_per_gpu_hour),
        "spot_interruption_rate": float("nan"),
        "assumed": False,
        "assumption": "",
        "overlay": False,
        "source": "test",
        "price_date": "2026-01-01",
        "catalog_version": "test/offers.csv",
    }


def offers(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=[*COLUMN_NAMES, "catalog_version"])


def ri_or_lambda_contract() -> pd.DataFrame:
    """H100 on-demand at 10, a 12-month RI at 3.5 and a 12-month Lambda contract at 2.0 per
    GPU-hour (a portable pool's choice between two providers)."""
    return offers(
        offer("on_demand", 10.0),
        offer("reserved_instance", 3.5, term_months=12),
        offer(
            "reserved_contract",
            2.0,
            provider="lambda",
            region="global",
            sku="H100 reserved",
            term_months=12,
        ),
    )


START = pd.Timestamp("2026-01-01", tz="UTC")
YEAR_H = 8760  # 2026-01-01 .. 2027-01-01


def constant_scenarios(
    levels: list[float] | np.ndarray,
    *,
    pools: tuple[Pool, ...] = (Pool("H100"),),
    n_hours: int = YEAR_H,
    probabilities: np.ndarray | None = None,
) -> DemandScenarios:
    """One scenario per level row: demand constant over the hours (levels: n_s or n_s × n_pools)."""
    lv = np.asarray(levels, dtype=float)
    if lv.ndim == 1:
        lv = lv[:, None]
    d = np.repeat(lv[:, None, :], n_hours, axis=1)
    n_s = d.shape[0]
    pr = np.full(n_s, 1.0 / n_s) if probabilities is None else probabilities
    return DemandScenarios(START, pools, d, pr)


def held_ri(
    commitment_id: str, quantity: float, *, start: pd.Timestamp = START, months: int = 12
) -> Commitment:
    """``quantity`` no-upfront standard p5.4xlarge RIs in us-east-1 (the factory's
    ``reserved_instance`` offer), held from ``start`` for ``months``."""
    return Commitment(
        commitment_id=commitment_id,
        provider="aws",
        purchase_model="reserved_instance",
        region="us-east-1",
        sku="p5.4xlarge",
        offering_class="standard",
        term_months=months,
        payment_option="no_upfront",
        quantity=quantity,
        hourly_commitment_usd=0.0,
        start=start,
        end=start + pd.DateOffset(months=months),
    )
