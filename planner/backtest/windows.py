"""Rolling origins: where each backtest window starts and how much history precedes it.

With ``n`` hourly observations, a window of ``W`` hours and at most ``N`` origins, the origins are

    o_i = n − (i + 1)·W    for i = 0 .. N − 1,   kept while o_i ≥ ``min_history_h``,

so the windows ``[o_i, o_i + W)`` tile the end of the series without overlap, the last one ending with
the series, and every origin has at least ``min_history_h`` hours of history before it. They are
returned oldest first. Planning at origin ``o`` may only use hours ``[0, o)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pricing_data.errors import PlannerInputError
from pricing_data.units import parse_hours

H_DAY = 24


@dataclass(frozen=True)
class Window:
    """One evaluation window: hours ``[origin_h, origin_h + hours)`` of the series."""

    index: int
    origin_h: int
    hours: int
    start: pd.Timestamp

    @property
    def end_h(self) -> int:
        return self.origin_h + self.hours

    @property
    def end(self) -> pd.Timestamp:
        return self.start + pd.Timedelta(hours=self.hours)


def rolling_origins(
    index: pd.DatetimeIndex,
    *,
    window_h: int,
    n_origins: int,
    min_history_h: int,
) -> list[Window]:
    """The windows of the module docstring over the hourly ``index`` (oldest first)."""
    n = len(index)
    if window_h < 1:
        raise PlannerInputError(
            "the evaluation window must be at least 1 hour",
            column="window",
            value=window_h,
            fix="use e.g. --window 14d",
        )
    if n_origins < 1:
        raise PlannerInputError(
            "at least one origin is needed",
            column="origins",
            value=n_origins,
            fix="use --origins 4",
        )
    origins = [n - (i + 1) * window_h for i in range(n_origins)]
    origins = [o for o in origins if o >= min_history_h]
    if not origins:
        have_days = n / H_DAY
        raise PlannerInputError(
            "the usage history is too short for one backtest window",
            column="window",
            value=f"{n} hours ({have_days:.1f} days) of history, window {window_h} h, "
            f"{min_history_h} h of history needed before the origin",
            fix="use a shorter --window (e.g. 7d) or a longer usage history",
        )
    origins.sort()
    return [
        Window(index=i, origin_h=o, hours=window_h, start=pd.Timestamp(index[o]))
        for i, o in enumerate(origins)
    ]


def parse_duration_h(text: str, *, column: str = "window") -> int:
    """Hours in a duration (``14d``, ``2w``, ``336h``): the one parser of
    :mod:`pricing_data.units` (a bare number is refused with a hint)."""
    return parse_hours(text, column=column)
