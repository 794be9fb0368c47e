"""Checking a plan.json read back from disk before it becomes a procurement file:
:func:`validate_plan_doc`.

A plan.json may have been edited by hand or damaged; ``planner export`` and ``planner attribute``
turn it into what procurement signs, so every purchase is checked first. Errors raise
:class:`~pricing_data.errors.PlannerInputError` (exit code 2) naming the file, the purchase (its
position and id), the field, the value and the fix.

Per purchase (``purchases[i].commitment`` and the purchase's own figures):

- ``provider``, ``purchase_model``, ``payment_option`` and (RIs) ``offering_class`` are known names;
- ``term_months`` is a whole number in 1..60;
- ``quantity`` (RIs, contracts) or ``hourly_commitment_usd`` (Savings Plans) is finite, > 0 and
  plausible (at most :data:`MAX_QUANTITY` units, :data:`MAX_HOURLY_USD` $/hour); ``upfront_usd`` and
  ``recurring_monthly_usd`` are finite and >= 0; utilisations are in [0, 1];
- ``start`` is an ISO date in :data:`YEARS`, and ``end`` is ``start + term_months`` (± 2 days);
- purchase ids are unique.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.schema import (
    COMMITMENT_MODELS,
    OFFERING_CLASSES,
    PAYMENT_OPTIONS,
    PROVIDERS,
    SAVINGS_PLAN_MODELS,
)

#: Most units (instances or GPUs) one purchase may name.
MAX_QUANTITY = 1_000_000.0
#: Largest Savings Plan commitment in $/hour one purchase may name.
MAX_HOURLY_USD = 10_000_000.0
#: Years a purchase may start in.
YEARS = (2006, 2100)
_NOT_A_PLAN = "not a plan.json written by `planner plan`"
_FIX = "regenerate the plan with `planner plan`, or correct the edited value"


def _err(
    what: str, file: str, where: str, field: str, value: object, fix: str = _FIX
) -> PlannerInputError:
    return PlannerInputError(f"{where}: {what}", file=file, column=field, value=value, fix=fix)


def _number(
    d: dict[str, Any], key: str, file: str, where: str, *, lo: float = 0.0, hi: float = math.inf
) -> float:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _err("must be a number", file, where, key, v)
    f = float(v)
    if not math.isfinite(f) or f < lo or f > hi:
        shown_hi = "" if hi == math.inf else f" and <= {hi:,.6g}"
        raise _err(f"must be a finite number >= {lo:g}{shown_hi}", file, where, key, v)
    return f


def _name(d: dict[str, Any], key: str, known: tuple[str, ...], file: str, where: str) -> str:
    v = d.get(key)
    if not isinstance(v, str) or v not in known:
        err = UnknownNameError(key.replace("_", " "), str(v), known, file=file, column=key)
        raise PlannerInputError(f"{where}: {err.what}", file=file, column=key, fix=err.fix)
    return v


def _day(d: dict[str, Any], key: str, file: str, where: str) -> pd.Timestamp:
    v = d.get(key)
    try:
        ts = pd.Timestamp(str(v)) if isinstance(v, str) else None
    except (ValueError, TypeError, OverflowError):
        ts = None
    if ts is None or pd.isna(ts) or not (YEARS[0] <= ts.year <= YEARS[1]):
        raise _err(
            f"must be an ISO date between {YEARS[0]} and {YEARS[1]}",
            file,
            where,
            key,
            v,
        )
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def validate_purchase(p: Any, i: int, file: str) -> str:
    """Check purchase ``i`` of a plan document; returns its id."""
    where = f"purchase #{i + 1}"
    if not isinstance(p, dict) or not isinstance(p.get("commitment"), dict):
        raise _err(
            f"{_NOT_A_PLAN}: not an object with a 'commitment'", file, where, "purchases", None
        )
    c: dict[str, Any] = p["commitment"]
    cid = c.get("commitment_id")
    if not isinstance(cid, str) or not cid.strip():
        raise _err("has no commitment_id", file, where, "commitment_id", cid)
    where = f"purchase #{i + 1} ({cid})"
    _name(c, "provider", PROVIDERS, file, where)
    model = _name(c, "purchase_model", COMMITMENT_MODELS, file, where)
    _name(c, "payment_option", PAYMENT_OPTIONS, file, where)
    if model == "reserved_instance":
        _name(c, "offering_class", OFFERING_CLASSES, file, where)
    term = _number(c, "term_months", file, where, lo=1, hi=60)
    if term != int(term):
        raise _err("must be a whole number of months", file, where, "term_months", term)
    if model in SAVINGS_PLAN_MODELS:
        amount = _number(c, "hourly_commitment_usd", file, where, hi=MAX_HOURLY_USD)
        key = "hourly_commitment_usd"
    else:
        amount = _number(c, "quantity", file, where, hi=MAX_QUANTITY)
        key = "quantity"
    if amount <= 0:
        raise _err("a purchase must buy something (> 0)", file, where, key, amount)
    for k in ("upfront_usd", "recurring_monthly_usd"):
        _number(p, k, file, where)
    for k in ("expected_utilization", "p10_utilization"):
        _number(p, k, file, where, hi=1.0 + 1e-9)
    if not isinstance(p.get("firm"), bool):
        raise _err("must be true or false", file, where, "firm", p.get("firm"))
    start = _day(c, "start", file, where)
    end = _day(c, "end", file, where)
    expected_end = start + pd.DateOffset(months=int(term))
    if abs(end - expected_end) > pd.Timedelta(days=2):
        raise _err(
            f"end does not match start + {int(term)} months ({expected_end.date()})",
            file,
            where,
            "end",
            c.get("end"),
        )
    return cid


def validate_plan_doc(doc: Any, file: str) -> None:
    """Check a parsed plan.json document (module docstring); raises :class:`PlannerInputError`."""
    if not isinstance(doc, dict):
        raise PlannerInputError(
            f"{_NOT_A_PLAN}: it holds no JSON object", file=file, fix=_FIX, value=type(doc).__name__
        )
    purchases = doc.get("purchases")
    if not isinstance(purchases, list):
        raise PlannerInputError(
            f"{_NOT_A_PLAN}: 'purchases' is not a list", file=file, column="purchases", fix=_FIX
        )
    seen: dict[str, int] = {}
    for i, p in enumerate(purchases):
        cid = validate_purchase(p, i, file)
        if cid in seen:
            raise _err(
                f"the same id as purchase #{seen[cid] + 1}",
                file,
                f"purchase #{i + 1}",
                "commitment_id",
                cid,
            )
        seen[cid] = i
