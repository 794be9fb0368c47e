"""Time units and the one duration parser of the project.

Constants (one truth each):

- ``HOURS_PER_DAY = 24``, ``HOURS_PER_WEEK = 168``;
- ``HOURS_PER_YEAR = 8760`` (365 days: the year AWS prices commitments on) and
  ``HOURS_PER_MONTH = 730 = 8760 / 12`` (a term month; terms are ``term_months × 730`` hours);
- calendar months, where the date matters (a horizon from a start date), are counted with
  :func:`horizon_hours`: the hours from ``start`` to the same time ``months`` calendar months later.

Durations (``--horizon``, ``--window``, ``--lookback``, ``--term`` and the ``horizon`` override) are
written with a unit: ``720h``, ``14d``, ``2w``, ``12mo``, ``1y``. A bare number is refused with a hint
(it was read as months in one place and days in another), except where the caller names the unit a
bare number means (a commitment term in months: ``12``, ``36``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from pricing_data.errors import PlannerInputError

HOURS_PER_DAY = 24
HOURS_PER_WEEK = 7 * HOURS_PER_DAY
HOURS_PER_YEAR = 8760.0
HOURS_PER_MONTH = HOURS_PER_YEAR / 12  # 730.0

_UNITS = {
    "h": "h",
    "hr": "h",
    "hour": "h",
    "hours": "h",
    "d": "d",
    "day": "d",
    "days": "d",
    "w": "w",
    "wk": "w",
    "week": "w",
    "weeks": "w",
    "mo": "mo",
    "m": "mo",
    "month": "mo",
    "months": "mo",
    "y": "y",
    "yr": "y",
    "year": "y",
    "years": "y",
}
_FIXED_H = {"h": 1, "d": HOURS_PER_DAY, "w": HOURS_PER_WEEK}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
EXAMPLES = "e.g. 720h, 14d, 2w, 12mo or 1y"


@dataclass(frozen=True)
class Duration:
    """A parsed duration: ``value`` in ``unit`` (h, d, w, mo or y), as written."""

    value: float
    unit: str
    text: str

    @property
    def is_calendar(self) -> bool:
        """Months and years: their length in hours depends on the start date."""
        return self.unit in ("mo", "y")

    def months(self, *, column: str = "duration") -> int:
        """Whole calendar months (``mo`` or ``y`` only)."""
        if not self.is_calendar:
            raise PlannerInputError(
                "this duration is counted in months",
                column=column,
                value=self.text,
                fix="write months or years, e.g. 12mo or 1y",
            )
        months = self.value * (12 if self.unit == "y" else 1)
        if months != int(months):
            raise PlannerInputError(
                "months must be whole", column=column, value=self.text, fix="write e.g. 12mo or 1y"
            )
        return int(months)

    def hours(self, start: pd.Timestamp | None = None, *, column: str = "duration") -> int:
        """Whole hours; months and years count calendar months from ``start`` (730 h a month
        without one)."""
        if self.is_calendar:
            months = self.months(column=column)
            if start is None:
                return round(months * HOURS_PER_MONTH)
            return horizon_hours(start, months)
        hours = self.value * _FIXED_H[self.unit]
        if hours != int(hours):
            raise PlannerInputError(
                "a duration must be a whole number of hours",
                column=column,
                value=self.text,
                fix=f"write {EXAMPLES}",
            )
        return int(hours)


def parse_duration(
    text: str | int | float, *, column: str, bare_unit: str | None = None
) -> Duration:
    """A :class:`Duration` from ``14d``, ``2w``, ``336h``, ``12mo``, ``1y``.

    A bare number is refused (with a hint naming the units) unless ``bare_unit`` says what it means.
    """
    raw = str(text)
    m = _DURATION.match(raw)
    if not m:
        raise PlannerInputError("not a duration", column=column, value=raw, fix=f"write {EXAMPLES}")
    number, unit_text = float(m.group(1)), m.group(2).lower()
    if not unit_text:
        if bare_unit is None:
            raise PlannerInputError(
                "a duration needs a unit",
                column=column,
                value=raw,
                fix=f"write {raw.strip()}mo for months, {raw.strip()}d for days ({EXAMPLES})",
            )
        unit_text = bare_unit
    unit = _UNITS.get(unit_text)
    if unit is None:
        raise PlannerInputError(
            f"unknown duration unit {unit_text!r}",
            column=column,
            value=raw,
            fix=f"write {EXAMPLES}",
        )
    if number <= 0 and bare_unit is None:
        raise PlannerInputError(
            "a duration must be positive", column=column, value=raw, fix=f"write {EXAMPLES}"
        )
    return Duration(number, unit, raw.strip())


def parse_hours(text: str | int | float, *, column: str, start: pd.Timestamp | None = None) -> int:
    """Hours in a duration (calendar months counted from ``start``)."""
    return parse_duration(text, column=column).hours(start, column=column)


def parse_months(text: str | int | float, *, column: str, bare_unit: str | None = None) -> int:
    """Whole months in a duration written in months or years."""
    return parse_duration(text, column=column, bare_unit=bare_unit).months(column=column)


def parse_term(text: str) -> int:
    """A commitment term in months from ``12``, ``36``, ``1y``, ``3yr``, ``12mo``; 0 means
    on-demand/spot. A bare number is months (terms are always quoted in months)."""
    t = str(text).strip()
    if t in ("0", "0mo", "0m"):
        return 0
    return parse_months(t, column="--term", bare_unit="mo")


def horizon_hours(start: pd.Timestamp, months: int) -> int:
    """Hours from ``start`` to the same time ``months`` calendar months later."""
    return int((start + pd.DateOffset(months=months) - start) / pd.Timedelta(hours=1))
