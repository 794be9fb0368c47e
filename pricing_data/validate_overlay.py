"""Price rules for overlay rows (:mod:`pricing_data.overlay`): :func:`check_overlay_prices`.

An overlay replaces published prices with the user's own, and the optimizer trusts them: a price of
0 makes a commitment free, so the plan buys as much as the risk bounds allow. Each row's price, the
effective rate per unit-hour it implies, must therefore be:

- greater than 0 (a zero rate is refused; ``upfront_usd`` of 0 with a positive recurring rate is a
  no-upfront price and fine);
- at most :data:`MAX_USD_PER_HOUR` per unit-hour (no GPU server rents for more: a larger figure is a
  term total or a typo).

Errors raise :class:`~pricing_data.errors.PlannerInputError` (exit code 2) naming the file, the row,
the column, the value and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pricing_data.errors import PlannerInputError

#: The largest price per unit-hour an overlay may give (an 8-GPU server lists at ~$100/hour).
MAX_USD_PER_HOUR = 10_000.0
_PRICES = ("usd_per_gpu_hour", "effective_usd_per_hour", "recurring_usd_per_hour", "upfront_usd")


def _value(rec: dict[str, Any], col: str) -> float | None:
    v = rec.get(col, "")
    if v is None or (isinstance(v, str) and v.strip() == ""):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None  # the overlay reader reports non-numbers with their row


def check_overlay_prices(rows: Sequence[dict[str, Any]], file: str) -> None:
    """Each overlay row's price is > 0 and plausible (module docstring)."""
    for rec in rows:
        row = rec.get("_row")
        given = {c: _value(rec, c) for c in _PRICES}
        if given["recurring_usd_per_hour"] is not None:
            col = "recurring_usd_per_hour"
            total = given["recurring_usd_per_hour"] + (given["upfront_usd"] or 0.0)
        elif given["effective_usd_per_hour"] is not None:
            col, total = "effective_usd_per_hour", given["effective_usd_per_hour"]
        elif given["usd_per_gpu_hour"] is not None:
            col, total = "usd_per_gpu_hour", given["usd_per_gpu_hour"]
        else:
            continue  # "no price given" is the reader's error
        if not math.isfinite(total):
            continue  # the reader refuses non-finite numbers with their row
        if total <= 0:
            raise PlannerInputError(
                "a price of 0 makes the offer free, and the plan would buy it without limit",
                file=file,
                row=row,
                column=col,
                value=rec.get(col),
                fix="write the real price (> 0), or leave the offer out of the overlay",
            )
        rate = given[col]
        if rate is not None and rate > MAX_USD_PER_HOUR:
            raise PlannerInputError(
                f"price above ${MAX_USD_PER_HOUR:,.0f} per hour",
                file=file,
                row=row,
                column=col,
                value=rec.get(col),
                fix="write an hourly rate (not a term or monthly total); "
                "a term's upfront payment goes in upfront_usd",
            )
