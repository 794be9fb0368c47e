"""What the commands print on the terminal: summaries built from the library's results.

Each function takes a result and returns text (or a frame for ``-o csv|json``); the commands only
echo it. Tables go through :func:`planner.report.render.render_frame`.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pandas as pd

from planner.report.labels import BOUNDS, header
from planner.report.render import render_frame
from planner.workflows.records import SolveRecord

if TYPE_CHECKING:
    from forecasting import Forecast, UsageHistory
    from planner.plan import Plan
    from planner.workflows.compare_aws import CostExplorerComparison
    from planner.workflows.quarterly import PlanRun

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
    """The terminal summary of ``planner plan``, at most 100 columns: the decision first, then
    the firm purchases and the strategies (planner.report.plan_report.run_summary)."""
    from planner.report.headline import run_summary

    out = [run_summary(run).rstrip("\n")]
    out.extend(line.rstrip("\n") for line in whole_term_lines(run.plan))
    from planner.workflows.serverless import summary_lines as serverless_summary_lines

    serverless = serverless_summary_lines(run)  # scale-to-zero pools and unit costs
    if serverless:
        out.append("")
        out.extend(line.rstrip("\n") for line in serverless)
    if defaults_used:
        out += textwrap.wrap("Defaults used (no policy file): " + "; ".join(defaults_used), 100)
    for note in run.notes:
        out += textwrap.wrap(f"Note: {note}", 100)
    return "\n".join(out) + "\n"


def optimize_summary(plan: Plan) -> str:
    """The terminal summary of ``planner optimize``: purchases and the plan's figures."""
    frame = plan.purchases_frame()[OPTIMIZE_COLUMNS]
    valuation = str(plan.record.get("valuation", ""))
    return (
        render_frame(frame, "table", floatfmt=".2f")
        + render_frame(plan.summary_frame(), "table", floatfmt=",.2f")
        + (f"Valuation: {valuation}\n" if valuation else "")
        + "\n".join(whole_term_lines(plan))
        + SolveRecord.of(plan).line()
        + "\n"
    )


def whole_term_lines(plan: Plan) -> list[str]:
    """NPV beside undiscounted figures over every term, and every bound as the referee finds it."""
    wt = plan.whole_term
    out: list[str] = []
    if wt:
        out.append(
            textwrap.fill(
                f"Whole term at {plan.discount_rate_pct:g} %/yr cost of money (NPV | undiscounted): "
                f"expected cost ${wt['npv_cost_usd']:,.0f} | ${wt['cash_cost_usd']:,.0f}; savings vs "
                f"all on-demand ${wt['npv_savings_usd']:,.0f} | ${wt['cash_savings_usd']:,.0f}; new "
                f"purchases' obligation ${wt['new_obligation_npv_usd']:,.0f} | "
                f"${wt['new_obligation_usd']:,.0f}; spot's own saving ${wt['spot_saving_usd']:,.0f}",
                100,
            )
            + "\n"
        )
    if plan.bounds:
        frame = pd.DataFrame(
            [
                {
                    "Bound": BOUNDS.get(b["name"], header(b["name"])),
                    "Limit": b["limit"],
                    "Realised (evaluator)": b["realised"],
                    "Held": "yes" if b["held"] else "NO",
                }
                for b in plan.bounds
            ]
        )
        out.append("Risk bounds on the evaluator's bill (all scenarios, whole term):")
        out.append(render_frame(frame, "table", floatfmt=",.4g"))
    return out


CE_SHOWN = {
    "new_commitment_usd_per_hour": "new_usd_per_h",
    "new_obligation_usd": "new_obligation",
    "new_obligation_npv_usd": "new_obl_npv",
    "expected_cost_usd": "exp_cost",
    "expected_cost_npv_usd": "exp_cost_npv",
    "expected_savings_vs_existing_usd": "exp_savings",
    "expected_savings_vs_existing_npv_usd": "exp_savings_npv",
    "expected_savings_vs_on_demand_usd": "exp_savings_vs_od",
    "expected_savings_vs_on_demand_npv_usd": "exp_sav_vs_od_npv",
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
            f"Billed with the evaluator: {c.n_scenarios} forecast scenarios from "
            f"{result.forecast_window[0]} over {result.valuation_months:.0f} months (every term "
            "to its end, tail model beyond the forecast), undiscounted and NPV at "
            f"{result.discount_rate_pct:g} %/yr (USD); actual usage {window}",
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
    """Per pool: the model chosen by backtest, its scores, and why when its MASE is above 1.

    MASE divides the backtest MAE (``backtest_horizon_h`` ahead) by the in-sample MAE of the
    seasonal naive forecast one season ahead, so a multi-week forecast can score above 1 and still
    beat seasonal naive on the same backtest (``mae_vs_snaive168`` < 1). The ``why`` column says
    which of the two it is."""
    m = fc.metrics
    shown = m[["pool", "model", "mase", "rel_mae", "backtest_origins", "backtest_horizon_h"]]
    shown = shown.rename(columns={"rel_mae": "mae_vs_snaive168"})
    why = [_why(mase, rel) for mase, rel in zip(m["mase"], m["rel_mae"], strict=True)]
    if any(why):
        shown = shown.assign(why=why)
    return shown


def _why(mase: float, rel_mae: float) -> str:
    if not (pd.notna(mase) and float(mase) > 1):
        return ""
    if pd.notna(rel_mae) and float(rel_mae) < 1:
        return (
            "MASE > 1 from the longer horizon: it beats seasonal naive on the same backtest "
            "(mae_vs_snaive168 < 1)"
        )
    return "best of the candidates, still no better than seasonal naive: a hard pool to forecast"


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
