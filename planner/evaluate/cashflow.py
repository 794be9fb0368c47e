"""The month-by-month cash-flow schedule of a strategy and the whole-term figures derived from it,
from the referee's bill (expected over scenarios): upfront and recurring cash per commitment,
expected on-demand, spot and egress, each with its discount factor and present value
(planner/valuation.py). This is the one cash computation: plan.json's ``cashflow`` and
``whole_term``, cashflow.csv and the headline all read it. Writing it to a file or a report is the
caller's business.

Whole-term figures (``whole_term_figures``, USD; "cash" = undiscounted, "npv" = discounted monthly
at the bill's ``discount_rate_pct``; both over the valuation horizon, to the end of every term):
    ``cash_cost_usd`` / ``npv_cost_usd``: the plan's expected cash (existing commitments' remaining
    payments, new purchases' upfront and recurring payments, on-demand, spot, egress) = the sum of
    the schedule's ``usd`` / ``npv_usd``;
    ``on_demand_*``: the same for all on-demand; ``*_savings_usd`` = on-demand minus plan;
    ``new_obligation_usd`` / ``new_obligation_npv_usd``: the schedule's upfront and recurring rows
    of the new purchases (their whole obligation: every purchase's term ends inside the horizon);
    ``spot_saving_usd``: what spot saved against on-demand for the same GPU-hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from planner.evaluate.compare import StrategyFigures
from planner.valuation import discount_by_month

CASHFLOW_COLUMNS = (
    "month",
    "month_start",
    "item",
    "kind",
    "usd",
    "discount_factor",
    "npv_usd",
)
COMMITMENT_KINDS = ("upfront", "recurring")


def cashflow_schedule(figs: StrategyFigures, discount_rate_pct: float) -> pd.DataFrame:
    """One row per (month, item) with non-zero cash. ``item`` is a commitment id, or
    ``on_demand``/``spot``/``egress``; ``kind`` is ``upfront``, ``recurring`` or ``usage``."""
    tl = figs.timeline
    cash = figs.cash_by_month()
    n_m = max((len(v) for v in cash.values()), default=0)
    delta = discount_by_month(n_m, discount_rate_pct)
    dates = (
        [str((tl.start + pd.DateOffset(months=m)).date().isoformat()) for m in range(n_m)]
        if tl is not None
        else [""] * n_m
    )
    rows = []
    for key in sorted(cash, key=_order):
        kind, _, item = key.partition(":")
        if not item:
            kind, item = "usage", key
        for m, usd in enumerate(cash[key]):
            if abs(usd) < 0.005:
                continue
            rows.append(
                {
                    "month": m,
                    "month_start": dates[m],
                    "item": item,
                    "kind": kind,
                    "usd": float(usd),
                    "discount_factor": float(delta[m]),
                    "npv_usd": float(usd * delta[m]),
                }
            )
    df = pd.DataFrame(rows, columns=list(CASHFLOW_COLUMNS))
    return df.sort_values(["month", "kind", "item"], kind="mergesort").reset_index(drop=True)


def schedule_records(schedule: pd.DataFrame) -> tuple[dict[str, Any], ...]:
    """The schedule as plan.json rows (money to the cent; discount factors kept whole)."""
    return tuple(
        {
            str(k): (round(v, 2) if isinstance(v, float) and k != "discount_factor" else v)
            for k, v in row.items()
        }
        for row in schedule.to_dict(orient="records")
    )


def commitment_cash(
    rows: Iterable[Mapping[str, Any]], ids: set[str] | frozenset[str]
) -> tuple[float, float]:
    """(undiscounted, NPV) upfront and recurring cash of the commitments ``ids`` in schedule
    ``rows`` (plan.json ``cashflow`` or :func:`cashflow_schedule`'s records)."""
    total = npv = 0.0
    for r in rows:
        if r["kind"] in COMMITMENT_KINDS and r["item"] in ids:
            total += float(r["usd"])
            npv += float(r["npv_usd"])
    return total, npv


def whole_term_figures(
    plan: StrategyFigures,
    on_demand: StrategyFigures,
    new_ids: set[str] | frozenset[str],
    schedule: Sequence[Mapping[str, Any]],
    *,
    decision_hours: int,
    lp_objective_npv_usd: float | None = None,
) -> dict[str, float]:
    """plan.json's ``whole_term`` (module docstring) from the plan's and all on-demand's bills
    and the plan's schedule rows."""
    obl, obl_npv = commitment_cash(schedule, new_ids)
    rate = plan.evaluations[0].discount_rate_pct if plan.evaluations else 0.0
    out = {
        "decision_hours": float(decision_hours),
        "valuation_hours": float(plan.horizon_hours),
        "discount_rate_pct": float(rate),
        "npv_cost_usd": plan.expected_npv_usd,
        "cash_cost_usd": plan.expected_cash_usd,
        "on_demand_npv_usd": on_demand.expected_npv_usd,
        "on_demand_cash_usd": on_demand.expected_cash_usd,
        "npv_savings_usd": on_demand.expected_npv_usd - plan.expected_npv_usd,
        "cash_savings_usd": on_demand.expected_cash_usd - plan.expected_cash_usd,
        "new_obligation_usd": obl,
        "new_obligation_npv_usd": obl_npv,
        "spot_saving_usd": plan.expected_spot_saving_usd,
    }
    if lp_objective_npv_usd is not None:
        out["lp_objective_npv_usd"] = float(lp_objective_npv_usd)
    return out


def _order(key: str) -> tuple[int, str]:
    kind = key.partition(":")[0]
    return ({"upfront": 0, "recurring": 1}.get(kind, 2), key)
