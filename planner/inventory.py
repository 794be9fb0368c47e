"""Commitments: existing inventory and recommended purchases, and the inventory CSV format.

Inventory CSV (``inventory.csv``), one row per commitment, columns:

``commitment_id, provider, purchase_model, region, sku, offering_class, term_months, payment_option,
quantity, hourly_commitment_usd, start_date, end_date``

- ``purchase_model``: reserved_instance, ec2_instance_savings_plan, compute_savings_plan or
  reserved_contract.
- ``sku``: the instance type (RIs), the instance family (EC2 Instance Savings Plans, e.g. ``p5``),
  the provider SKU (contracts, e.g. ``HGX H100``); empty for Compute Savings Plans.
- ``region``: the region of an RI, EC2 Instance SP or contract; empty for Compute Savings Plans.
- ``quantity``: instances (RIs) or GPUs (contracts); empty for Savings Plans.
- ``hourly_commitment_usd``: the Savings Plan's $/hour; empty otherwise.
- ``start_date`` / ``end_date``: ISO dates (UTC); the commitment is active on [start, end).
  ``end_date`` may be empty, then it is ``start_date + term_months``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from planner.validate_inventory import MAX_TERM_MONTHS
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.fileio import read_user_csv
from pricing_data.schema import (
    COMMITMENT_MODELS,
    OFFERING_CLASSES,
    PAYMENT_OPTIONS,
    PROVIDERS,
    SAVINGS_PLAN_MODELS,
)

INVENTORY_COLUMNS = (
    "commitment_id",
    "provider",
    "purchase_model",
    "region",
    "sku",
    "offering_class",
    "term_months",
    "payment_option",
    "quantity",
    "hourly_commitment_usd",
    "start_date",
    "end_date",
)
_REQUIRED = ("provider", "purchase_model", "term_months", "start_date")


@dataclass(frozen=True, kw_only=True)
class Commitment:
    """A commitment held or to be bought: RIs and contracts by ``quantity``, Savings Plans by $/hour."""

    commitment_id: str
    provider: str
    purchase_model: str
    region: str
    sku: str
    offering_class: str
    term_months: int
    payment_option: str
    quantity: float
    hourly_commitment_usd: float
    start: pd.Timestamp
    end: pd.Timestamp
    offer_id: str = ""  # the catalog offer it was bought from, when known

    @property
    def is_savings_plan(self) -> bool:
        return self.purchase_model in SAVINGS_PLAN_MODELS

    def active_hours(self, timestamps: pd.DatetimeIndex) -> pd.Series:
        """True for each hour in ``timestamps`` during which the commitment is active."""
        return pd.Series((timestamps >= self.start) & (timestamps < self.end), index=timestamps)

    def with_dates(self, start: pd.Timestamp) -> Commitment:
        return replace(self, start=start, end=start + pd.DateOffset(months=self.term_months))


def _utc_day(text: str, file: str, row: int, column: str) -> pd.Timestamp:
    from planner.validate_inventory import parse_iso_day

    return parse_iso_day(text, file, row, column)  # ISO only, years 2006..2100


def _number(text: str, file: str, row: int, column: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise PlannerInputError(
            "not a number",
            file=file,
            row=row,
            column=column,
            value=text,
            fix="write a plain number",
        ) from None
    if not math.isfinite(v) or v < 0:
        raise PlannerInputError(
            "must be a number >= 0",
            file=file,
            row=row,
            column=column,
            value=text,
            fix="fix the value",
        )
    return v


def read_inventory(path: str | Path) -> list[Commitment]:
    """Read and validate an inventory CSV. Errors name the file, row and column."""
    p = Path(path)
    name = str(path)
    if not p.is_file():
        raise PlannerInputError("file not found", file=name, fix="check the --inventory path")
    raw = read_user_csv(  # empty, binary, not UTF-8 or broken quoting: a usage error
        p,
        what="inventory file",
        fix="write at least the header row: " + ",".join(INVENTORY_COLUMNS),
    )
    return parse_inventory(raw, name)


def parse_inventory(raw: pd.DataFrame, name: str) -> list[Commitment]:
    """Validate an inventory table (strings; empty cells as "" or missing) into commitments.

    Steps per row (each raises a :class:`PlannerInputError` naming file, row, column and value):
    what kind of commitment (:func:`_kind`), how much (:func:`_amount`), of what and where
    (:func:`_place`), when (:func:`_dates`); ids are unique across rows."""
    raw = raw.astype(object).where(raw.notna(), "").astype(str)
    raw.columns = [str(c).strip() for c in raw.columns]
    _check_columns(raw, name)
    out: list[Commitment] = []
    seen_ids: dict[str, int] = {}
    for i, rec in enumerate(raw.to_dict(orient="records")):
        r = _Row({str(k): str(v).strip() for k, v in rec.items()}, name, i + 2)
        provider, model, term, pay, klass = _kind(r)
        qty, hourly = _amount(r, model)
        sku, region = _place(r, model)
        start, end = _dates(r, term)
        cid = r.get("commitment_id") or f"inv-{r.row - 1}"
        if cid in seen_ids:
            raise r.error(
                f"duplicate commitment_id (first on row {seen_ids[cid]})",
                "commitment_id",
                "give every commitment its own id",
                value=cid,
            )
        seen_ids[cid] = r.row
        out.append(
            Commitment(
                commitment_id=cid,
                provider=provider,
                purchase_model=model,
                region=region,
                sku=sku,
                offering_class=klass,
                term_months=term,
                payment_option=pay,
                quantity=qty,
                hourly_commitment_usd=hourly,
                start=start,
                end=end,
            )
        )
    from planner.validate_inventory import check_commitments

    check_commitments(out, name)  # term vs dates, plausible quantities
    return out


def _check_columns(raw: pd.DataFrame, name: str) -> None:
    unknown = [c for c in raw.columns if c not in INVENTORY_COLUMNS]
    if unknown:
        raise UnknownNameError("inventory column", unknown[0], INVENTORY_COLUMNS, file=name, row=1)
    for col in _REQUIRED:
        if col not in raw.columns:
            raise PlannerInputError(
                f"missing column '{col}'", file=name, row=1, fix="add it (see planner/inventory.py)"
            )


@dataclass(frozen=True)
class _Row:
    """One inventory row's cells, with its file and row number for messages."""

    cells: dict[str, str]
    file: str
    row: int

    def get(self, col: str) -> str:
        return self.cells.get(col, "")

    def error(self, what: str, column: str, fix: str, value: Any = None) -> PlannerInputError:
        return PlannerInputError(
            what, file=self.file, row=self.row, column=column, value=value, fix=fix
        )

    def unknown(self, kind: str, value: str, names: tuple[str, ...], column: str) -> Exception:
        return UnknownNameError(kind, value, names, file=self.file, row=self.row, column=column)

    def number(self, column: str) -> float:
        return _number(self.get(column), self.file, self.row, column)


def _kind(r: _Row) -> tuple[str, str, int, str, str]:
    """(provider, purchase model, term in months, payment option, offering class)."""
    provider = r.get("provider").lower()
    if provider not in PROVIDERS:
        raise r.unknown("provider", provider, PROVIDERS, "provider")
    model = r.get("purchase_model")
    if model not in COMMITMENT_MODELS:
        raise r.unknown("purchase model", model, COMMITMENT_MODELS, "purchase_model")
    term_text = r.get("term_months")
    term = r.number("term_months") if term_text else 0.0
    if term <= 0 or term != int(term) or term > MAX_TERM_MONTHS:
        raise r.error(
            f"term must be a whole number of months from 1 to {MAX_TERM_MONTHS}",
            "term_months",
            "write 12, 24 or 36",
            value=term_text,
        )
    pay = r.get("payment_option") or "no_upfront"
    if pay not in PAYMENT_OPTIONS:
        raise r.unknown("payment option", pay, PAYMENT_OPTIONS, "payment_option")
    klass = r.get("offering_class")
    if model == "reserved_instance" and klass not in OFFERING_CLASSES:
        raise r.unknown("offering class", klass, OFFERING_CLASSES, "offering_class")
    return provider, model, int(term), pay, klass


def _amount(r: _Row, model: str) -> tuple[float, float]:
    """(quantity, hourly commitment in USD): a Savings Plan has the second, the rest the first."""
    if model in SAVINGS_PLAN_MODELS:
        if not r.get("hourly_commitment_usd"):
            raise r.error(
                "a Savings Plan needs its hourly commitment",
                "hourly_commitment_usd",
                "write the plan's $/hour, e.g. 120.5",
            )
        return 0.0, r.number("hourly_commitment_usd")
    if not r.get("quantity"):
        raise r.error(
            f"a {model} needs a quantity", "quantity", "write instances (RIs) or GPUs (contracts)"
        )
    return r.number("quantity"), 0.0


def _place(r: _Row, model: str) -> tuple[str, str]:
    """(sku, region); a Compute Savings Plan has neither."""
    sku, region = r.get("sku"), r.get("region")
    if model != "compute_savings_plan" and not sku:
        raise r.error(
            f"a {model} needs a sku",
            "sku",
            "write the instance type, instance family (EC2 Instance SP) or provider SKU",
        )
    if model != "compute_savings_plan" and not region:
        raise r.error(f"a {model} needs a region", "region", "write the region code")
    return sku, region


def _dates(r: _Row, term_months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(start, end); the end defaults to the start plus the term."""
    start = _utc_day(r.get("start_date"), r.file, r.row, "start_date")
    end_text = r.get("end_date")
    end = (
        _utc_day(end_text, r.file, r.row, "end_date")
        if end_text
        else start + pd.DateOffset(months=term_months)
    )
    if end <= start:
        raise r.error(
            "end_date is not after start_date", "end_date", "fix the dates", value=end_text
        )
    return start, end


def inventory_frame(commitments: list[Commitment]) -> pd.DataFrame:
    """Commitments as a DataFrame in the inventory CSV column order."""
    rows = []
    for c in commitments:
        rows.append(
            {
                "commitment_id": c.commitment_id,
                "provider": c.provider,
                "purchase_model": c.purchase_model,
                "region": c.region,
                "sku": c.sku,
                "offering_class": c.offering_class,
                "term_months": c.term_months,
                "payment_option": c.payment_option,
                "quantity": c.quantity if not c.is_savings_plan else None,
                "hourly_commitment_usd": c.hourly_commitment_usd if c.is_savings_plan else None,
                "start_date": c.start.date().isoformat(),
                "end_date": c.end.date().isoformat(),
            }
        )
    return pd.DataFrame(rows, columns=list(INVENTORY_COLUMNS))
