"""Helpers for backtest tests: a tiny offer table with easy prices and synthetic pooled usage.

Prices (USD per GPU-hour, us-east-1, 1-GPU units):

=========  =========  ====  ===========  ==========  ==========
GPU        on-demand  spot  standard RI  EC2 SP rate  Compute SP
=========  =========  ====  ===========  ==========  ==========
H100       10         4     6 (12 mo)    7 (12 mo)   8 (12 mo)
A100       5          2     3.5 (12 mo)  3.6         3.5
=========  =========  ====  ===========  ==========  ==========

The H100 RI breaks even at 60 % utilisation (6 / 10).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.pools import PooledUsage
from forecasting.scenarios import Pool
from planner.inventory import Commitment
from pricing_data.schema import COLUMN_NAMES

H100 = Pool("H100")
A100_SPOT = Pool("A100", interruptible=True)


def _offer(
    model: str, price: float, sku: str, gpu: str, term: int = 0, klass: str = ""
) -> dict[str, object]:
    pay = "no_upfront" if term else ""
    parts = ["aws", "us-east-1", sku, model] + ([klass, str(term), pay] if term else [])
    return {
        "offer_id": ":".join(parts),
        "provider": "aws",
        "region": "us-east-1",
        "sku": sku,
        "instance_family": sku.split(".")[0],
        "gpu_type": gpu,
        "gpus_per_unit": 1.0,
        "purchase_model": model,
        "offering_class": klass,
        "term_months": term,
        "payment_option": pay,
        "upfront_usd": 0.0,
        "recurring_usd_per_hour": price,
        "effective_usd_per_hour": price,
        "usd_per_gpu_hour": price,
        "spot_interruption_rate": float("nan"),
        "assumed": False,
        "assumption": "",
        "overlay": False,
        "source": "test",
        "price_date": "2026-01-01",
        "catalog_version": "test/offers.csv",
    }


def compute_sp(cid: str, usd_per_hour: float, start: pd.Timestamp, end: pd.Timestamp) -> Commitment:
    """A held AWS Compute Savings Plan of ``usd_per_hour`` from ``start`` to ``end``."""
    return Commitment(
        commitment_id=cid,
        provider="aws",
        purchase_model="compute_savings_plan",
        region="us-east-1",
        sku="",
        offering_class="",
        term_months=12,
        payment_option="no_upfront",
        quantity=0.0,
        hourly_commitment_usd=usd_per_hour,
        start=start,
        end=end,
    )


def offers() -> pd.DataFrame:
    rows = []
    for gpu, sku, od, spot, ri, ec2, comp in (
        ("H100", "p5.4xlarge", 10.0, 4.0, 6.0, 7.0, 8.0),
        ("A100", "p4d.2xlarge", 5.0, 2.0, 3.5, 3.6, 3.5),
    ):
        rows += [
            _offer("on_demand", od, sku, gpu),
            _offer("spot", spot, sku, gpu),
            _offer("reserved_instance", ri, sku, gpu, 12, "standard"),
            _offer("ec2_instance_savings_plan", ec2, sku, gpu, 12),
            _offer("compute_savings_plan", comp, sku, gpu, 12),
        ]
    return pd.DataFrame(rows, columns=[*COLUMN_NAMES, "catalog_version"])


def pooled(
    demand: np.ndarray, pools: tuple[Pool, ...] = (H100,), start: str = "2026-01-05"
) -> PooledUsage:
    """Pooled usage (hours × pools) from ``start`` (UTC, hourly), no gaps or outages."""
    d = np.asarray(demand, dtype=float)
    if d.ndim == 1:
        d = d[:, None]
    idx = pd.date_range(
        pd.Timestamp(start, tz="UTC"), periods=d.shape[0], freq="h", name="timestamp"
    )
    names = [p.name for p in pools]
    frame = pd.DataFrame(d, index=idx, columns=names)
    false = pd.DataFrame(False, index=idx, columns=names)
    return PooledUsage(demand_gpus=frame, pools=pools, outage_mask=false, gap_mask=false.copy())


def weekly(days: int) -> np.ndarray:
    """Exactly 168-h periodic: 40 GPUs at weekends, 60 on weekdays, 80 on weekdays 09-19 h.

    With the H100 RI breaking even at 60 % utilisation, the best level is 60: 60 GPUs or more run
    5/7 = 71 % of the hours (> 60 %), 80 GPUs only 50/168 = 30 % (< 60 %).
    """
    t = np.arange(days * 24)
    day, hour = (t // 24) % 7, t % 24
    weekday = day < 5
    return np.where(weekday & (hour >= 9) & (hour < 19), 80.0, np.where(weekday, 60.0, 40.0))


def step(days_before: int, days_after: int, before: float, after: float) -> np.ndarray:
    return np.concatenate([np.full(days_before * 24, before), np.full(days_after * 24, after)])
