"""The one-file HTML report: inline CSS, charts as base64 PNG, no scripts, no network.

Every value that comes from user data (names, tags, SKUs, file names) goes through
:func:`html.escape`; tables are built here from DataFrames with escaped cells.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1180px;color:#222;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.sub{color:#666;margin-top:0}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;width:100%}
th,td{border-bottom:1px solid #eee;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f6f6} td.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;min-width:170px}
.card .v{font-size:1.25rem;font-weight:600} .card .k{color:#666;font-size:.8rem}
.assumed{color:#b35900;font-weight:600} img{max-width:100%;border:1px solid #eee;margin:.4rem 0}
.note{background:#fff8e5;border-left:4px solid #f0ad4e;padding:.5rem .8rem;font-size:.9rem}
code{background:#f4f4f4;padding:0 .2rem}
"""


@dataclass(frozen=True)
class Section:
    title: str
    body_html: str


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt_cell(v: object) -> tuple[str, bool]:
    """(escaped text, is numeric)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return "", False
    if isinstance(v, bool):
        return esc(v), False
    if isinstance(v, int):
        return f"{v:,}", True
    if isinstance(v, float):
        if math.isnan(v):
            return "", True
        if abs(v) >= 100:
            return f"{v:,.2f}", True
        text = f"{v:,.4f}".rstrip("0").rstrip(".")  # no exponent: 7.53e-05 reads 0.0001
        return ("0" if text in ("-0", "") else text), True
    return esc(v), False


def table(df: pd.DataFrame, *, max_rows: int = 500) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    rows = []
    for rec in df.head(max_rows).itertuples(index=False):
        cells = []
        for v in rec:
            text, num = fmt_cell(v.item() if hasattr(v, "item") else v)
            cells.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f"<p class=sub>{len(df) - max_rows} more rows not shown</p>" if len(df) > max_rows else ""
    )
    return (
        f'<div style="overflow-x:auto"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{more}"
    )


def cards(items: Sequence[tuple[str, str]]) -> str:
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>'
            for k, v in items
        )
        + "</div>"
    )


def image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def key_values(items: Mapping[str, object]) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in items.items())
    return f"<table>{rows}</table>"


def document(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    body = "".join(f"<section><h2>{esc(s.title)}</h2>{s.body_html}</section>" for s in sections)
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class=sub>{esc(subtitle)}</p>{body}</body></html>\n"
    )
