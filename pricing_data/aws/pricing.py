"""The AWS Price List API (``pricing:GetProducts``): on-demand and Reserved Instance prices.

:func:`fetch_price_list` asks for one instance type in one region; :func:`parse_price_list` turns the
price-list JSON documents into :class:`InstancePrice` values.

Parsing: Parse AWS Price List items (``pricing.get_products`` ``PriceList`` JSON strings) into prices.

Each item is one product (an instance type in a region for an OS/tenancy) with its ``OnDemand`` and
``Reserved`` terms. A Reserved term has ``termAttributes`` ``LeaseContractLength`` (1yr/3yr),
``OfferingClass`` (standard/convertible) and ``PurchaseOption`` (No/Partial/All Upfront), and price
dimensions in unit ``Quantity`` (the upfront fee, USD per instance) and ``Hrs`` (USD per instance-hour).
Pure functions: no AWS calls.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from pricing_data.aws.client import (
    DEFAULT_RETRY,
    RetryPolicy,
    items,
)
from pricing_data.aws.errors import MalformedResponseError

EC2_PRODUCT_FILTERS = (
    ("operatingSystem", "Linux"),
    ("tenancy", "Shared"),
    ("preInstalledSw", "NA"),
    ("capacitystatus", "Used"),
)


def fetch_price_list(
    pricing: Any, region: str, instance_type: str, retry: RetryPolicy = DEFAULT_RETRY
) -> list[str]:
    """PriceList JSON strings (pricing:GetProducts) for Linux, shared-tenancy ``instance_type`` in ``region``."""
    filters = [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
        {"Type": "TERM_MATCH", "Field": "instanceType", "Value": instance_type},
        *({"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in EC2_PRODUCT_FILTERS),
    ]
    return items(
        pricing,
        "get_products",
        "PriceList",
        retry=retry,
        ServiceCode="AmazonEC2",
        Filters=filters,
        FormatVersion="aws_v1",
        MaxResults=100,
    )


PAYMENT_OPTIONS = {
    "No Upfront": "no_upfront",
    "Partial Upfront": "partial_upfront",
    "All Upfront": "all_upfront",
}
LEASE_MONTHS = {"1yr": 12, "3yr": 36}
OFFERING_CLASSES = ("standard", "convertible")
# The product attributes a catalog price must have (Linux, shared tenancy, no pre-installed software).
WANTED_ATTRIBUTES = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
}


@dataclass(frozen=True)
class InstancePrice:
    """One on-demand or Reserved Instance price of an instance type in a region (per instance)."""

    region: str
    instance_type: str
    purchase_model: str  # on_demand or reserved_instance
    offering_class: str  # standard/convertible for RIs, "" otherwise
    term_months: int  # 0 for on-demand
    payment_option: str  # "" for on-demand
    upfront_usd: float
    recurring_usd_per_hour: float
    aws_sku: str
    effective_date: str


def _usd(dim: dict[str, Any], where: str) -> float:
    text = (dim.get("pricePerUnit") or {}).get("USD")
    if text is None:
        raise MalformedResponseError(f"{where}: price dimension has no USD price")
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise MalformedResponseError(f"{where}: USD price {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise MalformedResponseError(f"{where}: USD price {text!r} is not a finite number >= 0")
    return value


def parse_price_list_item(item: str | dict[str, Any]) -> tuple[list[InstancePrice], list[str]]:
    """Prices in one PriceList item, and notes on terms skipped (unknown lease or payment option).

    Returns ``([], [])`` for products the catalog does not hold (not Linux/shared/used capacity).
    Raises MalformedResponseError when the item lacks the structure every item has.
    """
    data = _item_json(item)
    product = data.get("product")
    if not isinstance(product, dict) or not isinstance(product.get("attributes"), dict):
        raise MalformedResponseError("price item has no product.attributes")
    attrs: dict[str, Any] = product["attributes"]
    aws_sku = str(product.get("sku", "?"))
    where = f"price item sku {aws_sku}"
    for attr in ("instanceType", "regionCode"):
        if not attrs.get(attr):
            raise MalformedResponseError(f"{where}: product attribute {attr!r} is missing")
    if any(attrs.get(k, v) != v for k, v in WANTED_ATTRIBUTES.items()):
        return [], []
    terms = data.get("terms")
    if not isinstance(terms, dict):
        raise MalformedResponseError(f"{where}: no terms")
    key = _ItemKey(str(attrs["regionCode"]), str(attrs["instanceType"]), aws_sku, where)
    out = [p for t in (terms.get("OnDemand") or {}).values() if (p := _on_demand(t, key))]
    notes: list[str] = []
    for term in (terms.get("Reserved") or {}).values():
        price, note = _reserved(term, key)
        if note:
            notes.append(note)
        if price is not None:
            out.append(price)
    return out, notes


def _item_json(item: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(item, str):
        try:
            data = json.loads(item)
        except json.JSONDecodeError as e:
            raise MalformedResponseError(
                f"price item is not JSON ({e.msg} at char {e.pos})"
            ) from None
    else:
        data = item
    if not isinstance(data, dict):
        raise MalformedResponseError("price item is not a JSON object")
    return data


@dataclass(frozen=True)
class _ItemKey:
    region: str
    instance_type: str
    aws_sku: str
    where: str


def _on_demand(term: dict[str, Any], k: _ItemKey) -> InstancePrice | None:
    """The on-demand price of a term (None when AWS lists 0: not sold on demand)."""
    dims = list((term.get("priceDimensions") or {}).values())
    hourly = [d for d in dims if d.get("unit") == "Hrs"]
    if not hourly:
        raise MalformedResponseError(f"{k.where}: on-demand term has no 'Hrs' price dimension")
    price = _usd(hourly[0], k.where)
    if price <= 0:
        return None
    return InstancePrice(
        k.region,
        k.instance_type,
        "on_demand",
        "",
        0,
        "",
        0.0,
        price,
        k.aws_sku,
        str(term.get("effectiveDate", "")),
    )


def _reserved(term: dict[str, Any], k: _ItemKey) -> tuple[InstancePrice | None, str | None]:
    """(the RI price of a reserved term, or None; a note when the term is skipped)."""
    ta = term.get("termAttributes") or {}
    lease, klass, option = (
        ta.get("LeaseContractLength"),
        ta.get("OfferingClass"),
        ta.get("PurchaseOption"),
    )
    if lease not in LEASE_MONTHS or klass not in OFFERING_CLASSES or option not in PAYMENT_OPTIONS:
        return None, (
            f"{k.where} ({k.instance_type} {k.region}): reserved term skipped "
            f"(LeaseContractLength={lease!r}, OfferingClass={klass!r}, PurchaseOption={option!r})"
        )
    upfront = recurring = 0.0
    seen_hourly = False
    for dim in (term.get("priceDimensions") or {}).values():
        unit = dim.get("unit")
        if unit == "Quantity":
            upfront += _usd(dim, k.where)
        elif unit == "Hrs":
            recurring += _usd(dim, k.where)
            seen_hourly = True
        else:
            raise MalformedResponseError(f"{k.where}: unknown reserved price unit {unit!r}")
    if not seen_hourly and upfront == 0:
        raise MalformedResponseError(f"{k.where}: reserved term has no price dimensions")
    if upfront + recurring <= 0:
        return None, None
    return InstancePrice(
        k.region,
        k.instance_type,
        "reserved_instance",
        str(klass),
        LEASE_MONTHS[str(lease)],
        PAYMENT_OPTIONS[str(option)],
        upfront,
        recurring,
        k.aws_sku,
        str(term.get("effectiveDate", "")),
    ), None


def parse_price_list(items: list[str]) -> tuple[list[InstancePrice], list[str]]:
    """Every price in ``items``; malformed items are skipped and described in the notes."""
    prices: list[InstancePrice] = []
    notes: list[str] = []
    for i, item in enumerate(items):
        try:
            got, skipped = parse_price_list_item(item)
        except MalformedResponseError as e:
            notes.append(f"skipped malformed price item #{i + 1}: {e}")
            continue
        prices.extend(got)
        notes.extend(skipped)
    return prices, notes
