"""What ``planner whatif`` prints: the baseline and each what-if side by side, for people.

One row per figure, one column per case (the baseline first), as the plan's summary reads: words
for headers, dollars with thousands separators, counts as integers, percentages with ``%``, and
no line over :data:`WIDTH` columns. A what-if's name is wrapped over several header lines; when
the cases do not fit side by side, they are split into several tables, each repeating the figure
names and the baseline's column. ``-o csv|json`` prints the machine frame instead
(:meth:`planner.workflows.whatif.WhatIfRun.frame`: one row per case, names with units).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.report.labels import pct, usd

if TYPE_CHECKING:
    from planner.workflows.whatif import WhatIfRun

WIDTH = 100
#: A case's name is wrapped to lines of at most this many characters in its column header.
NAME_WIDTH = 18
GAP = "  "


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and v != v)


def _usd(v: Any) -> str:
    return "–" if _missing(v) else usd(float(v))


def _pct(v: Any) -> str:
    return "–" if _missing(v) else pct(float(v))


def _per_hour(v: Any) -> str:
    return "–" if _missing(v) else f"${float(v):,.2f}/h"


def _count(v: Any) -> str:
    if _missing(v):
        return "–"
    x = float(v)
    return f"{int(x):,}" if x == int(x) else f"{x:,.2f}"


Row = tuple[str, str, Callable[[Any], str]]

#: (label, machine column, format), in reading order: the purchases, then the bill, then risk.
ROWS: tuple[Row, ...] = (
    ("Purchases now", "purchases_now", _count),
    ("Upfront now", "upfront_now_usd", _usd),
    ("Reserved Instances now (instances)", "now_reserved_instances", _count),
    ("EC2 Instance Savings Plans now", "now_ec2_instance_sp_usd_per_hour", _per_hour),
    ("Compute Savings Plans now", "now_compute_sp_usd_per_hour", _per_hour),
    ("Reserved contracts now (GPUs)", "now_contract_gpus", _count),
    ("Cash cost", "cash_cost_usd", _usd),
    ("NPV cost", "npv_cost_usd", _usd),
    ("All on-demand, cash", "all_on_demand_cash_usd", _usd),
    ("Cash saving vs all on-demand", "cash_savings_vs_on_demand_usd", _usd),
    ("NPV saving vs all on-demand", "npv_savings_vs_on_demand_usd", _usd),
    ("Accrual cost", "accrual_cost_usd", _usd),
    ("Effective savings rate", "esr_pct", _pct),
    ("Coverage", "coverage_pct", _pct),
    ("Commitment utilisation", "utilization_pct", _pct),
    ("Utilisation, worst tail", "tail_utilization_pct", _pct),
    ("Unused commitment", "waste_usd", _usd),
    ("Worst scenario, cash", "worst_scenario_cash_usd", _usd),
)
#: Rows shown only when some case has a non-zero value (a kind nobody buys is noise).
SPARSE = frozenset(
    {
        "now_reserved_instances",
        "now_ec2_instance_sp_usd_per_hour",
        "now_compute_sp_usd_per_hour",
        "now_contract_gpus",
    }
)


def _rows(frame: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(label, one cell per case) for every row worth showing."""
    out = []
    shares = set(frame["tail_share_pct"].dropna())
    for label, col, fmt in ROWS:
        values = list(frame[col])
        if col in SPARSE and all(_missing(v) or float(v) == 0 for v in values):
            continue
        if col == "tail_utilization_pct" and len(shares) == 1:
            label = f"Utilisation, worst {float(shares.pop()):g}%"
        out.append((label, [fmt(v) for v in values]))
    return out


def _table(label_width: int, headers: list[list[str]], rows: list[tuple[str, list[str]]]) -> str:
    """A fixed-width table: the figure names left, one right-aligned column per case whose header
    may take several lines (bottom-aligned), a dashed rule under the header."""
    widths = [
        max([len(h) for h in head] + [len(cells[j]) for _, cells in rows])
        for j, head in enumerate(headers)
    ]
    depth = max(len(h) for h in headers)
    lines = []
    for i in range(depth):
        cells = [
            (head[i - (depth - len(head))] if i >= depth - len(head) else "").rjust(w)
            for head, w in zip(headers, widths, strict=True)
        ]
        lines.append(
            ("Figure" if i == depth - 1 else "").ljust(label_width) + GAP + GAP.join(cells)
        )
    lines.append(GAP.join("-" * w for w in [label_width, *widths]))
    for label, cells in rows:
        lines.append(
            label.ljust(label_width)
            + GAP
            + GAP.join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
        )
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _groups(label_width: int, widths: Sequence[int], width: int) -> list[list[int]]:
    """Split the what-if columns (1..n; 0 is the baseline, repeated in every group) into groups
    that fit ``width`` beside the figure names."""
    fixed = label_width + len(GAP) + widths[0]
    groups: list[list[int]] = []
    current: list[int] = []
    used = fixed
    for j in range(1, len(widths)):
        need = len(GAP) + widths[j]
        if current and used + need > width:
            groups.append(current)
            current, used = [], fixed
        current.append(j)
        used += need
    if current or not groups:
        groups.append(current)
    return groups


def whatif_tables(frame: pd.DataFrame, *, width: int = WIDTH) -> str:
    """The cases of ``frame`` (:meth:`WhatIfRun.frame`) side by side, split into as many tables
    as it takes to keep every line within ``width`` columns (module docstring)."""
    rows = _rows(frame)
    headers = [
        textwrap.wrap(str(name), NAME_WIDTH, break_on_hyphens=False) or [""]
        for name in frame["what_if"]
    ]
    label_width = max([len("Figure")] + [len(label) for label, _ in rows])
    widths = [
        max([len(h) for h in head] + [len(cells[j]) for _, cells in rows])
        for j, head in enumerate(headers)
    ]
    parts = []
    for group in _groups(label_width, widths, width):
        keep = [0, *group]
        parts.append(
            _table(
                label_width,
                [headers[j] for j in keep],
                [(label, [cells[j] for j in keep]) for label, cells in rows],
            )
        )
    return "\n".join(parts)


def whatif_text(run: WhatIfRun, scenarios: int, *, width: int = WIDTH) -> str:
    """The terminal output of ``planner whatif``: the tables, what they are, what each named
    what-if changes, and the notes, every line within ``width`` columns."""
    frame = run.frame()
    n = len(run.results)
    each = "each" if n != 1 else "it"
    mode = (
        f"the baseline's purchases billed again under {each}"
        if run.evaluate_only
        else ("each re-planned" if n != 1 else "re-planned")
    )
    lines = [whatif_tables(frame, width=width).rstrip("\n"), ""]
    said = (
        f"{n} what-if{'s' if n != 1 else ''}, {mode}. Figures are the evaluator's bill to the end "
        f"of every term, the mean over {scenarios} scenarios: cash (upfront when paid, the plan's "
        "headline basis), its NPV at the policy's cost of money, and accrual (upfront spread over "
        f"each term); {run.forecasts_fitted} forecast{'s' if run.forecasts_fitted != 1 else ''} "
        "fitted."
    )
    if run.evaluate_only and n:
        said += " Purchases are the baseline's in every column."
    lines += textwrap.wrap(said, width)
    for name, changes in zip(frame["what_if"], frame["changes"], strict=True):
        if changes and str(changes) not in (str(name), str(name).replace(" + ", "; ")):
            lines += textwrap.wrap(f"{name}: {changes}", width, subsequent_indent="  ")
    for note in run.notes:
        lines += textwrap.wrap(f"Note: {note}", width, subsequent_indent="  ")
    return "\n".join(lines) + "\n"
