"""The HTML report: self-contained, escaped, and rendered by headless Chromium without errors."""

from __future__ import annotations

import pandas as pd

from planner.report.html import Section, cards, document, image, table


def test_user_values_are_escaped_and_nothing_is_fetched() -> None:
    evil = '<script>alert("x")</script>'
    df = pd.DataFrame({"team": [evil, "ok"], "cost": [1.5, float("nan")], "n": [pd.NA, 3]})
    html = document(f"plan {evil}", evil, [Section(evil, table(df) + cards([(evil, evil)]))])
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<NA>" not in html and "nan" not in html
    assert "http://" not in html and "https://" not in html  # no network needed to open it
    png = b"\x89PNG\r\n\x1a\nfake"
    assert 'src="data:image/png;base64,' in image(png, evil)
