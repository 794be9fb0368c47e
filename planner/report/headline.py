"""The decision in words: the headline sentences the report and the terminal lead with, built from
``Plan.headline`` (planner.decision) and the purchases, so both say the same thing.

The terminal summary (:func:`summary_text`) fits 100 columns: the headline, the firm purchases in
a compact table, the comparison of strategies, and pointers to the files.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.plan import Plan, Purchase
from planner.report.labels import SHORT_KIND, SHORT_PAYMENT, VALUES, pct, usd

if TYPE_CHECKING:
    from planner.workflows.quarterly import PlanRun

WIDTH = 100


def amount_text(p: Purchase) -> str:
    """``$55.79/h`` for a Savings Plan, ``8 GPUs`` or ``3 instances`` otherwise."""
    c = p.commitment
    if c.is_savings_plan:
        return f"${c.hourly_commitment_usd:,.2f}/h"
    unit = VALUES.get(p.quantity_unit, p.quantity_unit)
    return (
        f"{c.quantity:,.0f} {unit}"
        if c.quantity == int(c.quantity)
        else f"{c.quantity:,.2f} {unit}"
    )


def headline_sentences(plan: Plan) -> list[tuple[str, str]]:
    """(label, sentence) pairs, in reading order: decision, saving, risk, prices, ladder."""
    h: dict[str, Any] = plan.headline
    if not h:
        return [("Decision", "No decision figures in this plan (made by an older version).")]
    n = int(h["firm_purchases"])
    out: list[tuple[str, str]] = []
    if n == 0:
        out.append(
            ("Decision", "Buy nothing now: no commitment is worth its price on the forecast.")
        )
    else:
        months = int(h["longest_term_months"])
        out.append(
            (
                "Decision",
                f"Buy these {n} commitment{'s' if n != 1 else ''} now: {usd(h['upfront_usd'])} "
                f"upfront and {usd(h['recurring_monthly_usd'])} a month; obligation "
                f"{usd(h['term_obligation_usd'])} over {'up to ' if n > 1 else ''}{months} months "
                f"(to {h['last_end_date']}), {usd(h['npv_cost_usd'])} in today's money at "
                f"{h['cost_of_capital_pct']:g}% cost of capital.",
            )
        )
    window = float(h["window_months"])
    out.append(
        (
            "Expected saving",
            f"{usd(h['savings_vs_on_demand_usd'])} ({usd(h['savings_vs_on_demand_npv_usd'])} NPV) "
            f"against all on-demand and {usd(h['savings_vs_inventory_usd'])} "
            f"({usd(h['savings_vs_inventory_npv_usd'])} NPV) against keeping only the current "
            f"inventory, in cash over {window:.0f} months to the end of every term (evaluator, "
            f"mean over scenarios; spot and on-demand serve the rest). Expected monthly bill "
            f"{usd(h['expected_monthly_bill_usd'])} against {usd(h['on_demand_monthly_bill_usd'])} "
            "all on-demand (amortized, as Cost Explorer shows it).",
        )
    )
    q = round(100 * float(h["tail_quantile"]))
    risk = f"worst-{'decile' if q == 10 else f'{q}%'} commitment utilisation {pct(h['tail_utilization'], share=True)}"
    risk += f"; CVaR of unused commitment spend {usd(h['cvar_unused_usd'])}"
    if h.get("cvar_unused_bound_usd") is not None:
        held = "held" if h["cvar_bound_held"] else "BROKEN"
        risk += f" against its bound {usd(h['cvar_unused_bound_usd'])} ({held})"
    else:
        risk += " (no bound set)"
    out.append(("Risk", risk[0].upper() + risk[1:] + "."))
    share = float(h["assumed_share_of_obligation"])
    assumed = [p for p in plan.firm if p.price_basis == "assumed"]
    if assumed:
        kinds = sorted(
            {VALUES.get(p.commitment.purchase_model, p.commitment.purchase_model) for p in assumed}
        )
        out.append(
            (
                "Assumed prices",
                f"{len(assumed)} of {n} firm purchases ({pct(share, share=True, digits=0)} of the "
                f"obligation) rest on assumed prices ({', '.join(kinds)}): see Assumptions; "
                "confirm them with the provider or an overlay of your rates before buying.",
            )
        )
    else:
        out.append(("Assumed prices", "Every firm purchase rests on published or overlay prices."))
    ladder = int(h["ladder_purchases"])
    if ladder:
        out.append(
            (
                "Tentative ladder",
                f"{ladder} later purchase{'s' if ladder != 1 else ''} "
                f"({usd(h['ladder_term_obligation_usd'])} obligation) are tentative: revisit them "
                "next quarter with new usage; they are not part of the figures above.",
            )
        )
    return out


def firm_table(plan: Plan) -> pd.DataFrame:
    """The firm purchases, compact (at most 100 columns), for the terminal; ``*`` after the ID
    marks an assumed price."""
    rows = [
        {
            "ID": p.commitment.commitment_id + ("*" if p.price_basis == "assumed" else ""),
            "Provider": VALUES.get(p.commitment.provider, p.commitment.provider),
            "Kind": SHORT_KIND.get(p.commitment.purchase_model, p.commitment.purchase_model),
            "SKU": p.commitment.sku or "(any)",
            "Term, upfront": f"{p.commitment.term_months}m "
            + SHORT_PAYMENT.get(p.commitment.payment_option, p.commitment.payment_option),
            "Amount": amount_text(p),
            "Pay now": usd(p.upfront_usd),
            "Monthly": usd(p.recurring_monthly_usd),
            "Saving": usd(p.expected_savings_usd),
        }
        for p in plan.firm
    ]
    return pd.DataFrame(rows)


def text_table(
    headers: list[str], rows: list[list[str]], right: set[int] | None = None
) -> list[str]:
    """A plain fixed-width table: columns two spaces apart, a dashed rule under the header."""
    right = right or set()
    cells = [headers, *rows]
    widths = [max(len(str(r[j])) for r in cells) for j in range(len(headers))]

    def line(r: list[str]) -> str:
        parts = [
            str(v).rjust(w) if j in right else str(v).ljust(w)
            for j, (v, w) in enumerate(zip(r, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def summary_text(plan: Plan, comparison: pd.DataFrame, out_dir: str = "") -> str:
    """The terminal summary (module docstring), at most 100 columns wide."""
    lines: list[str] = []
    for label, sentence in headline_sentences(plan):
        lines += textwrap.wrap(f"{label}: {sentence}", WIDTH, subsequent_indent="  ")
    firm = firm_table(plan)
    if len(firm):
        lines.append("")
        lines += text_table(
            list(firm.columns), firm.astype(str).values.tolist(), right={5, 6, 7, 8}
        )
        lines.append("Saving: each purchase's marginal value (they need not add up to the total).")
        if any(p.price_basis == "assumed" for p in plan.firm):
            lines.append("* the price is an assumption, not a published price (see the report).")
    comp = comparison
    if len(comp):
        lines.append("")
        lines.append("Strategies to the end of every term (evaluator, mean over scenarios):")
        rows = [
            [
                r["strategy"],
                usd(r["cash_cost_usd"]),
                usd(r["npv_cost_usd"]),
                usd(r["cash_savings_vs_on_demand_usd"]),
                pct(r["coverage_pct"]),
            ]
            for _, r in comp.iterrows()
        ]
        lines += text_table(
            ["Strategy", "Cash cost", "NPV cost", "Cash saving vs OD", "Coverage"],
            rows,
            right={1, 2, 3, 4},
        )
    if out_dir:
        lines.append("")
        lines += textwrap.wrap(
            f"Files in {out_dir}: purchases.csv (every purchase, firm and ladder), cashflow.csv, "
            "plan.json, comparison.csv, report.html.",
            WIDTH,
        )
    return "\n".join(line.rstrip() for line in lines) + "\n"


def run_summary(run: PlanRun, out_dir: str = "") -> str:
    """The terminal summary: the headline, the firm purchases, strategies, expiring inventory."""
    text = summary_text(run.plan, run.comparison_frame(), out_dir)
    expiring = run.expiring_inventory()
    extra = []
    if len(expiring):
        items = ", ".join(f"{r.commitment_id} ({r.end_date})" for r in expiring.itertuples())
        extra += textwrap.wrap(f"Existing commitments expiring in the window: {items}.", WIDTH)
    dropped = run.plan.record.get("purchase_valuation", {}).get("dropped", [])
    if dropped:
        extra.append(
            f"Not recommended: {len(dropped)} purchase(s) the optimizer chose (see report)."
        )
    rec = run.plan.record
    extra += textwrap.wrap(
        f"Solver {rec.get('solver')} ({rec.get('method')}), {rec.get('status')} in "
        f"{rec.get('solve_time_s')} s; catalogs: {', '.join(run.catalog.versions)}.",
        WIDTH,
    )
    return text + "\n".join(extra) + "\n"
