"""The one duration parser and the time constants (pricing_data/units.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing_data.errors import PlannerInputError
from pricing_data.units import (
    HOURS_PER_MONTH,
    HOURS_PER_YEAR,
    horizon_hours,
    parse_duration,
    parse_hours,
    parse_months,
    parse_term,
)

START = pd.Timestamp("2026-01-01", tz="UTC")


def test_one_year_of_hours_and_its_months() -> None:
    assert HOURS_PER_YEAR == 8760 and HOURS_PER_MONTH == 730 and 12 * HOURS_PER_MONTH == 8760


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("720h", 720),
        ("14d", 336),
        ("2w", 336),
        ("1 week", 168),
        ("1mo", 31 * 24),  # January
        ("2mo", (31 + 28) * 24),  # January and February 2026
        ("1y", 365 * 24),
        ("12mo", 365 * 24),
    ],
)
def test_hours_count_calendar_months_from_the_start(text: str, hours: int) -> None:
    assert parse_hours(text, column="--horizon", start=START) == hours


@pytest.mark.parametrize("text", ["12", "30", "1.5"])
def test_a_bare_number_is_refused_with_a_hint(text: str) -> None:
    with pytest.raises(PlannerInputError) as e:
        parse_hours(text, column="--window")
    msg = str(e.value)
    assert "a duration needs a unit" in msg and f"{text}mo for months, {text}d for days" in msg


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", "not a duration"),
        ("3 fortnights", "unknown duration unit 'fortnights'"),
        ("0d", "a duration must be positive"),
        ("1.5mo", "months must be whole"),
        ("1.5h", "a whole number of hours"),
    ],
)
def test_bad_durations_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(PlannerInputError, match=message):
        parse_hours(text, column="--horizon", start=START)


def test_months_only_where_months_are_meant() -> None:
    assert parse_months("1y", column="--horizon") == 12
    assert parse_months("18mo", column="--horizon") == 18
    with pytest.raises(PlannerInputError, match="counted in months"):
        parse_months("90d", column="--horizon")


def test_a_term_is_months_even_bare() -> None:
    assert [parse_term(t) for t in ("12", "36", "1y", "3yr", "24mo", "0")] == [
        12,
        36,
        12,
        36,
        24,
        0,
    ]
    with pytest.raises(PlannerInputError, match="not a duration"):
        parse_term("forever")


@given(st.integers(1, 5000))
def test_days_and_weeks_are_fixed_hours(n: int) -> None:
    assert parse_hours(f"{n}d", column="x") == 24 * n
    assert parse_hours(f"{n}w", column="x") == 168 * n
    assert parse_duration(f"{n}h", column="x").hours() == n


@given(
    st.integers(1, 36),
    st.dates(min_value=pd.Timestamp("2000-01-01").date()).filter(lambda d: d.day <= 28),
)
def test_calendar_months_add_up(months: int, day: object) -> None:
    """From a day that every month has (1-28: no end-of-month clipping), k months then 12 more
    months is k + 12 months, in hours too; a year of calendar months is 365 or 366 days."""
    start = pd.Timestamp(day, tz="UTC")
    a = horizon_hours(start, months)
    b = horizon_hours(start + pd.DateOffset(months=months), 12)
    assert a + b == horizon_hours(start, months + 12)
    assert horizon_hours(start, 12) in (365 * 24, 366 * 24)
