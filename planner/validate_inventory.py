"""Rules for commitments already held (the inventory file, and imports from AWS or FOCUS).

:func:`parse_iso_day` reads the dates; :func:`check_commitments` checks each commitment once the row
is parsed. Errors raise :class:`~pricing_data.errors.PlannerInputError` (exit code 2) naming the file,
the row, the column, the value and the fix.

- Dates are ISO 8601 only (``2026-06-01``, optionally with a time and offset): ``06/01/2026`` would
  be read as June 1st by one tool and January 6th by another, so it is refused, not guessed.
- Dates fall in :data:`YEARS` (a 9999-12-31 end is a placeholder, not a commitment end).
- ``term_months`` is at most :data:`MAX_TERM_MONTHS` (10 years: no cloud GPU commitment is longer;
  a larger figure is a typo or a unit error, and would run past the calendar).
- ``end_date`` agrees with ``start_date + term_months`` within :data:`TERM_TOLERANCE_DAYS` days (AWS
  counts a year as 365 days, a calendar year may have 366): a contradiction means one of the two is
  wrong, and the planner cannot tell which.
- ``quantity`` is at most :data:`MAX_QUANTITY` units and ``hourly_commitment_usd`` at most
  :data:`MAX_HOURLY_USD`: larger figures are unit errors (and overflow the optimizer).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from pricing_data.errors import PlannerInputError

if TYPE_CHECKING:
    from planner.inventory import Commitment

YEARS = (2006, 2100)
TERM_TOLERANCE_DAYS = 7
MAX_TERM_MONTHS = 120
MAX_QUANTITY = 1_000_000.0
MAX_HOURLY_USD = 10_000_000.0
_ISO_DAY = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)


def parse_iso_day(text: str, file: str, row: int | None, column: str) -> pd.Timestamp:
    """An ISO 8601 date (or date-time) as a UTC timestamp; anything else is a usage error."""
    s = str(text).strip()
    ts = None
    if _ISO_DAY.match(s):
        try:
            ts = pd.Timestamp(s)
        except (ValueError, TypeError, OverflowError):
            ts = None
    if ts is None or pd.isna(ts):
        raise PlannerInputError(
            "not an ISO date",
            file=file,
            row=row,
            column=column,
            value=s,
            fix="write YYYY-MM-DD (e.g. 2026-06-01); dates like 06/01/2026 are ambiguous",
        )
    if not YEARS[0] <= ts.year <= YEARS[1]:
        raise PlannerInputError(
            f"date outside {YEARS[0]}..{YEARS[1]}",
            file=file,
            row=row,
            column=column,
            value=s,
            fix="write the commitment's real date (an open-ended placeholder is not a term end)",
        )
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def check_commitment(c: Commitment, file: str, row: int | None) -> None:
    """One commitment against the rules above."""
    if not 0 < c.term_months <= MAX_TERM_MONTHS:
        raise PlannerInputError(
            f"term_months {c.term_months} is outside 1..{MAX_TERM_MONTHS}",
            file=file,
            row=row,
            column="term_months",
            value=str(c.term_months),
            fix="write the commitment's term in months (e.g. 12 or 36)",
        )
    expected_end = c.start + pd.DateOffset(months=c.term_months)
    if abs(c.end - expected_end) > pd.Timedelta(days=TERM_TOLERANCE_DAYS):
        raise PlannerInputError(
            f"end_date {c.end.date()} contradicts start_date {c.start.date()} + "
            f"term_months {c.term_months} (= {expected_end.date()})",
            file=file,
            row=row,
            column="end_date",
            value=str(c.end.date()),
            fix="correct term_months or end_date (or leave end_date empty to compute it)",
        )
    if c.is_savings_plan and c.hourly_commitment_usd > MAX_HOURLY_USD:
        raise PlannerInputError(
            f"hourly commitment above ${MAX_HOURLY_USD:,.0f}/hour",
            file=file,
            row=row,
            column="hourly_commitment_usd",
            value=c.hourly_commitment_usd,
            fix="write the Savings Plan's commitment in $/hour",
        )
    if not c.is_savings_plan and c.quantity > MAX_QUANTITY:
        raise PlannerInputError(
            f"quantity above {MAX_QUANTITY:,.0f}",
            file=file,
            row=row,
            column="quantity",
            value=c.quantity,
            fix="write instances (RIs) or GPUs (contracts)",
        )


def check_commitments(commitments: Sequence[Commitment], file: str, first_row: int = 2) -> None:
    """Every commitment, the ``i``-th reported as row ``first_row + i``."""
    for i, c in enumerate(commitments):
        check_commitment(c, file, first_row + i)
