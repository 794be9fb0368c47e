"""Report sections for scale-to-zero pools and unit costs (added to the plan report when the run
has eligible pools or the usage records units)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from forecasting.busy import UNIT_COLUMNS
from planner.report.html import Section, esc, table

if TYPE_CHECKING:
    from planner.workflows.quarterly import PlanRun


def _trend_tag(data: pd.DataFrame) -> str | None:
    for tag in ("team", "project", "model"):
        if tag in data.columns and (data[tag].astype("string").fillna("") != "").any():
            return tag
    return None


def serverless_sections(run: PlanRun) -> list[Section]:
    """ "Scale-to-zero pools" (decisions, break-even busy %, pools not evaluable) and "Unit costs"
    (the plan's expected cost per unit and the monthly trend over the history by tag)."""
    from planner.workflows.attribute import unit_cost_trend
    from planner.workflows.serverless import plan_unit_costs

    out: list[Section] = []
    rec = run.plan.record.get("serverless")
    if rec:
        body = ""
        rows = pd.DataFrame(rec.get("breakeven", []))
        if len(rows):
            body += table(rows.drop(columns=[c for c in ("reason",) if c in rows.columns]))
            body += (
                "<p class=sub>Serverless bills busy GPU-hours at the provider's price × (1 + "
                "cold-start overhead) × the billing increment's uplift (each request's run time "
                "rounded up to the increment); a held GPU bills every hour. Below the break-even "
                "busy share (held rate ÷ serverless rate) serverless wins. Cold-start overhead, "
                "billing increment and region multiplier are <span class=assumed>assumed</span> "
                "(assumed_parameters = True) unless an overlay or the policy sets them.</p>"
            )
        for item in rec.get("not_evaluable", []):
            body += f"<p>Not evaluated: {esc(item['pool'])}: {esc(item['reason'])}</p>"
        out.append(Section("Scale-to-zero pools (serverless)", body))
    data = run.history.data
    units = plan_unit_costs(run)
    if len(units):
        body = table(units)
        tag = _trend_tag(data)
        if tag is not None:
            for unit in UNIT_COLUMNS:
                if unit not in data.columns or not data[unit].notna().any():
                    continue
                trend = unit_cost_trend(
                    run.history,
                    run.config,
                    list(run.inventory),
                    run.catalog.offers,
                    by=tag,
                    per=unit,
                )
                trend = trend[trend[unit] > 0]
                if len(trend):
                    body += (
                        f"<p class=sub>Cost per unit by {esc(tag)} and month over the history "
                        "(actual usage billed with the existing commitments):</p>" + table(trend)
                    )
        out.append(Section("Unit costs", body))
    return out
