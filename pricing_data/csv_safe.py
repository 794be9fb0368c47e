"""Safe cells for files people open in spreadsheets, and safe text for terminals.

**CSV formula injection.** A spreadsheet treats a cell that begins with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return as a formula (OWASP, "CSV Injection"). User-controlled strings reach our
CSVs (SKUs from overlays, tag values from usage files, commitment ids from inventories), and the
procurement team opens ``purchases.csv`` in Excel. Every CSV the planner writes goes through
:func:`to_csv_text`, which prefixes such text cells with a single quote ``'`` (OWASP's advice), so the
cell shows as text and nothing is evaluated.

Numbers are data, not formulas: numeric columns are never changed, and a text cell that is a plain
number (``-3.5``, ``+2``, ``-1e3``) is left as it is, so a negative figure stays a negative figure.

**Terminal escapes.** :func:`printable` removes control characters (ANSI escape sequences, bell,
backspace, carriage return) from text printed to a terminal, so a tag value cannot rewrite the screen.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pandas as pd

#: First characters that make a spreadsheet evaluate a cell (OWASP CSV injection).
FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
#: ANSI CSI/OSC sequences, then any other C0/C1 control character except tab and newline.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def neutralise(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula.

    Non-text values and text that is a plain number are returned unchanged.
    """
    if not isinstance(value, str) or not value or not value.startswith(FORMULA_LEAD):
        return value
    if _PLAIN_NUMBER.match(value):
        return value
    return "'" + value


def _cell(value: Any) -> Any:
    if isinstance(value, str) and "\r" in value:
        # a bare carriage return is not quoted by the CSV writer and would split the row
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return neutralise(value)


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells are :func:`neutralise`-d (numeric columns untouched) and
    carriage returns inside cells become newlines (which the CSV writer quotes).

    Column names are neutralised too: a header is a cell.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            continue
        out[col] = s.map(_cell, na_action="ignore")
    out.columns = [_cell(str(c)) if isinstance(c, str) else c for c in out.columns]
    return out


def to_csv_text(df: pd.DataFrame, **kwargs: Any) -> str:
    """``df`` as CSV text (header, no index, ``\\n`` line ends) with formula-leading cells
    neutralised. The one way the planner writes CSV; ``kwargs`` go to ``DataFrame.to_csv``
    (e.g. ``float_format``)."""
    buf = io.StringIO()
    neutralise_frame(df).to_csv(buf, index=False, lineterminator="\n", **kwargs)
    return buf.getvalue()


def printable(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (tab and newline kept)."""
    return _CONTROL.sub("", _ANSI.sub("", text))


def printable_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are :func:`printable`."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            continue
        out[col] = s.map(lambda v: printable(v) if isinstance(v, str) else v, na_action="ignore")
    out.columns = [printable(c) if isinstance(c, str) else c for c in out.columns]
    return out
