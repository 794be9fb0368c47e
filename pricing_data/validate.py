"""Validation of offer tables against the schema, with errors that name file, row and column.

Row numbers are 1-based data rows as a spreadsheet shows them with the header on row 1, i.e. the
first data row is row 2.
"""

from __future__ import annotations

import math

import pandas as pd

from pricing_data.errors import PlannerError, PlannerInputError
from pricing_data.gpu_types import CANONICAL_GPU_TYPES
from pricing_data.schema import (
    COLUMNS,
    COMMITMENT_MODELS,
    OFFERING_CLASSES,
    PAYMENT_OPTIONS,
    PROVIDERS,
    PURCHASE_MODELS,
    Column,
    term_hours,
)

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class CatalogValidationError(PlannerInputError):
    """A catalog or overlay row breaks the schema."""


def _fail(file: str, row: int, column: str, what: str, value: object, fix: str) -> PlannerError:
    return CatalogValidationError(what, file=file, row=row, column=column, value=value, fix=fix)


def _is_empty(v: object) -> bool:
    return (
        v is None
        or (isinstance(v, float) and math.isnan(v))
        or (isinstance(v, str) and not v.strip())
    )


def _typed_cell(col: Column, v: object, file: str, row: int) -> object:
    """One cell of ``col`` as its schema type (empty: NaN or ''), or the error naming it."""
    if _is_empty(v):
        if col.required:
            raise _fail(file, row, col.name, "value is empty", None, f"fill in {col.description}")
        return math.nan if col.dtype == "float" else ""
    if col.dtype == "float":
        return _float_cell(col, v, file, row)
    if col.dtype == "int":
        return _int_cell(col, v, file, row)
    if col.dtype == "bool":
        return _bool_cell(col, v, file, row)
    return str(v).strip()


def _float_cell(col: Column, v: object, file: str, row: int) -> float:
    try:
        f = float(v) if isinstance(v, int | float) else float(str(v).strip())
    except ValueError:
        raise _fail(
            file, row, col.name, "not a number", v, "write a plain decimal number"
        ) from None
    if not math.isfinite(f) or f < 0:
        raise _fail(
            file, row, col.name, "must be a finite number >= 0", v, "fix the price or count"
        )
    return f


def _int_cell(col: Column, v: object, file: str, row: int) -> int:
    try:
        f = float(str(v).strip())
    except ValueError:
        raise _fail(file, row, col.name, "not a whole number", v, "write e.g. 12 or 36") from None
    if not math.isfinite(f) or f != int(f) or f < 0:
        raise _fail(file, row, col.name, "not a whole number >= 0", v, "write e.g. 12 or 36")
    return int(f)


def _bool_cell(col: Column, v: object, file: str, row: int) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise _fail(file, row, col.name, "not true/false", v, "write true or false")


def _typed_frame(out: dict[str, list[object]]) -> pd.DataFrame:
    df = pd.DataFrame(out)
    dtypes = {"float": float, "int": int, "bool": bool}
    for col in COLUMNS:
        df[col.name] = df[col.name].astype(dtypes.get(col.dtype, object))
    return df


def validate_offers(raw: pd.DataFrame, file: str) -> pd.DataFrame:
    """Check every row of ``raw`` (strings or typed values) and return a typed copy.

    Raises CatalogValidationError naming ``file``, the row and the column of the first bad cell.
    """
    missing = [c.name for c in COLUMNS if c.name not in raw.columns]
    if missing:
        raise CatalogValidationError(
            f"missing column(s) {', '.join(missing)}",
            file=file,
            row=1,
            fix="add the columns listed in pricing_data/SCHEMA.md",
        )
    out: dict[str, list[object]] = {c.name: [] for c in COLUMNS}
    seen: dict[str, int] = {}
    for i, rec in enumerate(raw.to_dict(orient="records")):
        row = i + 2
        typed = {col.name: _typed_cell(col, rec.get(col.name), file, row) for col in COLUMNS}
        _check_row(typed, file, row)
        oid = str(typed["offer_id"])
        if oid in seen:
            raise _fail(
                file,
                row,
                "offer_id",
                f"duplicate offer_id (first on row {seen[oid]})",
                oid,
                "remove one of the two rows",
            )
        seen[oid] = row
        for k, v in typed.items():
            out[k].append(v)
    return _typed_frame(out)


def _check_row(r: dict[str, object], file: str, row: int) -> None:
    """The rules across a row's cells: allowed values, terms, the price identities."""
    _check_names(r, file, row)
    _check_term(r, file, row)
    _check_prices(r, file, row)
    _check_metadata(r, file, row)


def _choice(r: dict[str, object], file: str, row: int, col: str, allowed: tuple[str, ...]) -> None:
    if r[col] not in allowed:
        raise _fail(
            file, row, col, "not an allowed value", r[col], "use one of " + ", ".join(allowed)
        )


def _check_names(r: dict[str, object], file: str, row: int) -> None:
    _choice(r, file, row, "provider", PROVIDERS)
    _choice(r, file, row, "purchase_model", PURCHASE_MODELS)
    if r["gpu_type"] not in CANONICAL_GPU_TYPES:
        raise _fail(
            file,
            row,
            "gpu_type",
            "not a canonical GPU type",
            r["gpu_type"],
            "use a name from pricing_data.gpu_types.CANONICAL_GPU_TYPES",
        )
    gpus = float(r["gpus_per_unit"])  # type: ignore[arg-type]
    if gpus <= 0:
        raise _fail(file, row, "gpus_per_unit", "must be > 0", gpus, "write the GPUs in one unit")


def _check_term(r: dict[str, object], file: str, row: int) -> None:
    """A commitment has a term, a payment option (and an RI its class); other offers neither."""
    model = r["purchase_model"]
    term = int(r["term_months"])  # type: ignore[call-overload]
    if model in COMMITMENT_MODELS:
        if term <= 0:
            raise _fail(
                file,
                row,
                "term_months",
                "a commitment needs a term > 0",
                term,
                "write e.g. 12 or 36",
            )
        _choice(r, file, row, "payment_option", PAYMENT_OPTIONS)
        if model == "reserved_instance":
            _choice(r, file, row, "offering_class", OFFERING_CLASSES)
        return
    if term != 0:
        raise _fail(file, row, "term_months", f"{model} has no term", term, "write 0")
    if float(r["upfront_usd"]) != 0:  # type: ignore[arg-type]
        raise _fail(
            file, row, "upfront_usd", f"{model} has no upfront fee", r["upfront_usd"], "write 0"
        )


def _check_prices(r: dict[str, object], file: str, row: int) -> None:
    """effective = recurring + upfront / term hours > 0, and per GPU-hour = effective / GPUs."""
    term = int(r["term_months"])  # type: ignore[call-overload]
    gpus = float(r["gpus_per_unit"])  # type: ignore[arg-type]
    upfront = float(r["upfront_usd"])  # type: ignore[arg-type]
    recurring = float(r["recurring_usd_per_hour"])  # type: ignore[arg-type]
    effective = float(r["effective_usd_per_hour"])  # type: ignore[arg-type]
    expect = recurring + (upfront / term_hours(term) if term > 0 else 0.0)
    if not math.isclose(effective, expect, rel_tol=1e-4, abs_tol=1e-6):
        raise _fail(
            file,
            row,
            "effective_usd_per_hour",
            f"does not equal upfront_usd / term_hours + recurring_usd_per_hour = {expect:.6f}",
            effective,
            "recompute the effective rate or fix the upfront/recurring split",
        )
    if effective <= 0:
        raise _fail(file, row, "effective_usd_per_hour", "must be > 0", effective, "fix the price")
    per_gpu = float(r["usd_per_gpu_hour"])  # type: ignore[arg-type]
    if not math.isclose(per_gpu, effective / gpus, rel_tol=1e-4, abs_tol=1e-6):
        raise _fail(
            file,
            row,
            "usd_per_gpu_hour",
            f"does not equal effective_usd_per_hour / gpus_per_unit = {effective / gpus:.6f}",
            per_gpu,
            "recompute usd_per_gpu_hour",
        )


def _check_metadata(r: dict[str, object], file: str, row: int) -> None:
    """An assumed price names its rule; a spot interruption rate is a fraction; dates are ISO."""
    if r["assumed"] and not r["assumption"]:
        raise _fail(
            file,
            row,
            "assumption",
            "an assumed price must say the rule used",
            "",
            "describe the rule",
        )
    rate = r["spot_interruption_rate"]
    if isinstance(rate, float) and not math.isnan(rate) and rate > 1:
        raise _fail(
            file,
            row,
            "spot_interruption_rate",
            "must be a fraction in [0, 1]",
            rate,
            "write e.g. 0.075",
        )
    date = str(r["price_date"])
    try:
        pd.Timestamp(date)
    except ValueError:
        raise _fail(file, row, "price_date", "not an ISO date", date, "write YYYY-MM-DD") from None
