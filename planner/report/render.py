"""Rendering tables for the terminal and for machines: ``table`` (tabulate), ``csv`` and ``json``."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from tabulate import tabulate

from pricing_data.csv_safe import printable_frame, to_csv_text

FORMATS = ("table", "csv", "json")


def _jsonable(v: Any) -> Any:
    if v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def render_frame(df: pd.DataFrame, fmt: str, *, floatfmt: str = ".4f") -> str:
    """``df`` as text in ``fmt``: a plain table, CSV with a header, or a JSON list of records."""
    if fmt == "csv":
        return to_csv_text(df)  # formula-leading text cells neutralised
    if fmt == "json":
        records = [
            {k: _jsonable(v) for k, v in rec.items()} for rec in df.to_dict(orient="records")
        ]
        return json.dumps(records, indent=2) + "\n"
    if df.empty:
        return "(no rows)\n"
    shown = printable_frame(df).astype(object).where(df.notna(), "")
    return (
        tabulate(
            shown.values.tolist(), headers=list(df.columns), tablefmt="simple", floatfmt=floatfmt
        )
        + "\n"
    )
