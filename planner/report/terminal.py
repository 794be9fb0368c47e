"""What the commands print on the terminal: summaries built from the library's results.

Each function takes a result and returns text (or a frame for ``-o csv|json``); the commands only
echo it. Tables go through :func:`planner.report.render.render_frame`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from planner.report.render import render_frame
from planner.workflows.records import SolveRecord

if TYPE_CHECKING:
    from forecasting import Forecast, UsageHistory
    from planner.plan import Plan
    from planner.workflows.compare_aws import CostExplorerComparison
    from planner.workflows.quarterly import PlanRun

BUY_NOW_COLUMNS = [
    "purchase_id",
    "provider",
    "purchase_model",
    "sku",
    "gpu_type",
    "term_months",
    "payment_option",
    "quantity",
    "hourly_commitment_usd",
    "upfront_usd",
    "expected_utilization_pct",
    "p10_utilization_pct",
    "expected_savings_usd",
]
OPTIMIZE_COLUMNS = [
    "purchase_id",
    "provider",
    "purchase_model",
    "sku",
    "term_months",
    "payment_option",
    "quantity",
    "hourly_commitment_usd",
    "start_date",
    "expected_utilization_pct",
    "expected_savings_usd",
]


def firm_purchases(plan: Plan) -> pd.DataFrame:
    """The purchases to make now (the firm rows of purchases.csv)."""
    frame = plan.purchases_frame()
    return frame[[p.firm for p in plan.purchases]].reset_index(drop=True)


def plan_summary(run: PlanRun, defaults_used: list[str] | tuple[str, ...] = ()) -> str:
    """The terminal summary of ``planner plan``: what to buy now, and how the plan compares."""
    plan = run.plan
    firm = firm_purchases(plan)
    out = [f"Buy now ({len(firm)} purchases, starting {run.start.date()}):"]
    out.append(
        render_frame(firm[BUY_NOW_COLUMNS], "table", floatfmt=".2f") if len(firm) else "  nothing\n"
    )
    ladder = len(plan.purchases) - len(firm)
    if ladder:
        out.append(
            f"Tentative ladder: {ladder} later purchases (see purchases.csv; only 'now' is firm).\n"
        )
    out.append("Expected cost over the horizon (evaluator, mean over scenarios):")
    out.append(render_frame(run.comparison_frame(), "table", floatfmt=",.2f"))
    out.append(f"Upfront cash needed now: ${run.upfront_now_usd():,.2f}\n")
    from planner.workflows.serverless import summary_lines as serverless_summary_lines

    out.extend(serverless_summary_lines(run))  # scale-to-zero pools and unit costs
    expiring = run.expiring_inventory()
    if len(expiring):
        out.append("Existing commitments expiring inside the horizon:")
        out.append(render_frame(expiring, "table"))
    if defaults_used:
        out.append("Defaults used (no policy file): " + "; ".join(defaults_used) + "\n")
    for note in run.notes:
        out.append(f"Note: {note}\n")
    out.append(SolveRecord.of(plan).line() + "\n")
    return "\n".join(out)


def optimize_summary(plan: Plan) -> str:
    """The terminal summary of ``planner optimize``: purchases and the plan's figures."""
    frame = plan.purchases_frame()[OPTIMIZE_COLUMNS]
    return (
        render_frame(frame, "table", floatfmt=".2f")
        + render_frame(plan.summary_frame(), "table", floatfmt=",.2f")
        + SolveRecord.of(plan).line()
        + "\n"
    )


CE_SHOWN = {
    "new_commitment_usd_per_hour": "new_usd_per_h",
    "expected_cost_usd": "exp_cost_usd",
    "expected_savings_vs_existing_usd": "exp_savings_usd",
    "expected_savings_vs_on_demand_usd": "exp_savings_vs_od_usd",
    "new_utilization_expected_pct": "exp_util_pct",
    "new_utilization_worst_decile_pct": "p10_util_pct",
    "actual_cost_usd": "actual_cost_usd",
    "actual_savings_vs_existing_usd": "actual_savings_usd",
    "actual_utilization_pct": "actual_util_pct",
}


def compare_aws_summary(c: CostExplorerComparison) -> str:
    """Cost Explorer's recommendation and the side-by-side bill (``planner compare-aws``)."""
    result = c.comparison
    window = (
        f"{result.actual_window[0]} .. {result.actual_window[1]}"
        if result.actual_window
        else "(none)"
    )
    return "\n".join(
        [
            "Cost Explorer recommends:",
            render_frame(c.ce.table, "table", floatfmt=".2f"),
            f"Billed with the evaluator: {c.n_scenarios} forecast scenarios "
            f"{result.forecast_window[0]} .. {result.forecast_window[1]}; actual usage {window}",
            render_frame(result.table.rename(columns=CE_SHOWN), "table", floatfmt=",.1f").rstrip(
                "\n"
            ),
            "savings are against keeping only the existing commitments; utilisation is of the new "
            "commitments (p10 = worst decile of scenarios)",
            f"CE source: {c.ce_source}; catalogs: {', '.join(c.catalog_versions)}",
            "",
        ]
    )


def model_choice_table(fc: Forecast) -> pd.DataFrame:
    """Per pool: the model chosen by backtest, its scores, and why when it still loses to naive.

    MASE is the backtest MAE scaled by the in-sample MAE of the seasonal naive forecast: < 1 beats
    it. A chosen model with MASE > 1 is the best of the candidates on this pool and still worse
    than naive, which the ``why`` column says."""
    m = fc.metrics
    shown = m[["pool", "model", "mase", "rel_mae", "backtest_origins", "backtest_horizon_h"]]
    shown = shown.rename(columns={"rel_mae": "mae_vs_snaive168"})
    why = [
        "best of the candidates, still worse than naive (MASE > 1): a hard pool to forecast"
        if pd.notna(x) and float(x) > 1
        else ""
        for x in m["mase"]
    ]
    if any(why):
        shown = shown.assign(why=why)
    return shown


def forecast_summary(history: UsageHistory, fc: Forecast) -> str:
    """``planner forecast`` on the terminal: model choice, monthly P10/P50/P90, span, warnings."""
    sc = fc.scenarios
    out = [
        render_frame(model_choice_table(fc), "table", floatfmt=".3f"),
        render_frame(fc.monthly_summary(), "table", floatfmt=".1f").rstrip("\n"),
        f"history {history.start} .. {history.end}; {sc.n_scenarios} scenarios, seed {sc.seed}; "
        f"forecast from {sc.start} for {sc.n_hours} h",
    ]
    out += [f"warning: {w}" for w in history.report.warnings]
    return "\n".join(out) + "\n"


def forecast_table(fc: Forecast) -> pd.DataFrame:
    """``planner forecast -o csv|json``: monthly quantiles with each pool's model and scores."""
    return fc.monthly_summary().merge(
        fc.metrics[["pool", "model", "mase", "rel_mae"]], on="pool", how="left"
    )
