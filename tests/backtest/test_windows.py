"""Rolling origins and durations."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from planner.backtest.windows import parse_duration_h, rolling_origins
from pricing_data.errors import PlannerInputError

IDX = pd.date_range("2026-01-01", periods=31 * 24, freq="h", tz="UTC")


def test_windows_tile_the_end_without_overlap_oldest_first() -> None:
    ws = rolling_origins(IDX, window_h=7 * 24, n_origins=10, min_history_h=7 * 24)
    # 744 h: origins 576, 408, 240 (72 < 168 is dropped)
    assert [w.origin_h for w in ws] == [240, 408, 576]
    assert ws[-1].end_h == len(IDX)
    assert all(a.end_h == b.origin_h for a, b in itertools.pairwise(ws))
    assert ws[0].start == IDX[240]
    assert [w.index for w in ws] == [0, 1, 2]


def test_too_short_history_says_how_to_fix() -> None:
    with pytest.raises(PlannerInputError, match="too short") as e:
        rolling_origins(IDX, window_h=28 * 24, n_origins=2, min_history_h=7 * 24)
    assert "shorter --window" in str(e.value)


@pytest.mark.parametrize(("text", "hours"), [("14d", 336), ("2w", 336), ("36h", 36), (" 3D ", 72)])
def test_durations(text: str, hours: int) -> None:
    assert parse_duration_h(text) == hours


@pytest.mark.parametrize("text", ["", "abc", "0d", "1.5h", "-2d", "7"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(PlannerInputError, match="duration"):
        parse_duration_h(text)
