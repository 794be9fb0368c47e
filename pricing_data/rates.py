"""One rule for an offer's price columns, used by the catalog build, the AWS refresh and overlays.

For every offer (pricing_data/SCHEMA.md)::

    effective_usd_per_hour = upfront_usd / term_hours + recurring_usd_per_hour
    usd_per_gpu_hour       = effective_usd_per_hour / gpus_per_unit

and a published effective rate ``E`` is split by payment option with the share of
``pricing_data/assumptions.toml [ri_payment_split]``::

    all_upfront:      upfront = E · term_hours,          recurring = 0
    partial_upfront:  upfront = s · E · term_hours,      recurring = (1 − s) · E
    no_upfront:       upfront = 0,                       recurring = E
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

from pricing_data.schema import term_hours


@functools.cache
def partial_upfront_share() -> float:
    """The share ``s`` of a partial-upfront term paid upfront (assumptions.toml)."""
    text = (resources.files("pricing_data") / "assumptions.toml").read_text(encoding="utf-8")
    return float(tomllib.loads(text)["ri_payment_split"]["partial_upfront_share"])


@functools.cache
def _spot_assumptions() -> dict[str, dict[str, float]]:
    text = (resources.files("pricing_data") / "assumptions.toml").read_text(encoding="utf-8")
    spot = tomllib.loads(text)["spot"]
    return {
        "midpoint": {str(k): float(v) for k, v in spot["aws_band_midpoints"].items()},
        "cap": {str(k): float(v) for k, v in spot["aws_availability_cap_by_band"].items()},
    }


def spot_band(interruption_rate: float) -> str:
    """The AWS Spot Advisor band (``<5%`` .. ``>20%``) whose midpoint the catalog stored as
    ``spot_interruption_rate`` (assumptions.toml [spot] aws_band_midpoints): the nearest one."""
    mids = _spot_assumptions()["midpoint"]
    return min(mids, key=lambda band: abs(mids[band] - float(interruption_rate)))


def spot_availability_cap(interruption_rate: float) -> float:
    """The assumed spot availability cap of an AWS spot offer's band (assumptions.toml [spot]
    aws_availability_cap_by_band)."""
    return _spot_assumptions()["cap"][spot_band(interruption_rate)]


def split_payment(
    effective_usd_per_hour: float, term_months: int, payment_option: str, share: float | None = None
) -> tuple[float, float]:
    """(upfront_usd, recurring_usd_per_hour) of an effective hourly rate under a payment option."""
    s = partial_upfront_share() if share is None else share
    hours = term_hours(term_months) if term_months > 0 else 0.0
    if payment_option == "all_upfront":
        return effective_usd_per_hour * hours, 0.0
    if payment_option == "partial_upfront":
        return s * effective_usd_per_hour * hours, (1 - s) * effective_usd_per_hour
    return 0.0, effective_usd_per_hour


def effective_rate(upfront_usd: float, recurring_usd_per_hour: float, term_months: int) -> float:
    """``upfront / term_hours + recurring`` (on-demand and spot: the recurring rate)."""
    if term_months > 0:
        return recurring_usd_per_hour + upfront_usd / term_hours(term_months)
    return recurring_usd_per_hour


def price_columns(
    upfront_usd: float, recurring_usd_per_hour: float, term_months: int, gpus_per_unit: float
) -> dict[str, float]:
    """The four price columns of an offer from its upfront and recurring parts."""
    eff = effective_rate(upfront_usd, recurring_usd_per_hour, term_months)
    return {
        "upfront_usd": upfront_usd,
        "recurring_usd_per_hour": recurring_usd_per_hour,
        "effective_usd_per_hour": eff,
        "usd_per_gpu_hour": eff / gpus_per_unit,
    }


def price_columns_from_effective(
    effective_usd_per_hour: float,
    term_months: int,
    payment_option: str,
    gpus_per_unit: float,
    share: float | None = None,
) -> dict[str, float]:
    """The four price columns of an offer from its effective rate, split by payment option."""
    up, rec = split_payment(effective_usd_per_hour, term_months, payment_option, share)
    return {
        "upfront_usd": up,
        "recurring_usd_per_hour": rec,
        "effective_usd_per_hour": effective_usd_per_hour,
        "usd_per_gpu_hour": effective_usd_per_hour / gpus_per_unit,
    }
