"""Reading a solved problem back into plan figures: costs by component and scenario, coverage,
utilisation, ESR, waste, and the purchases with their explanations (definitions in planner.plan)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.inventory import Commitment
from planner.optimize.index import ProblemIndex
from planner.optimize.offers import num
from planner.optimize.serverless import serverless_solution
from planner.optimize.solve import Solution, SolvedValues
from planner.plan import COST_COMPONENTS, Purchase
from pricing_data.schema import HOURS_PER_MONTH
from pricing_data.stats import weighted_quantile

MIN_PURCHASE_UNITS = 0.01


@dataclass(frozen=True)
class Figures:
    cost_by_component_s: dict[str, np.ndarray]  # component -> (S,) USD
    od_equivalent_s: np.ndarray
    served_gpu_h_s: np.ndarray  # GPU-hours served by commitments, per scenario
    demand_gpu_h_s: np.ndarray
    spend_usd: float  # commitment spend in the horizon (existing + new)
    used_usd_s: np.ndarray
    existing_usd: float

    def total_s(self) -> np.ndarray:
        return sum(
            (v for v in self.cost_by_component_s.values()), np.zeros_like(self.od_equivalent_s)
        )


def _off_aws(provider: str) -> bool:
    return provider in ("coreweave", "lambda")


def figures(ix: ProblemIndex, values: SolvedValues) -> Figures:
    """Costs and use per scenario of a solution's purchases and dispatch."""
    buy, served, spot = values.buy_units, values.served_gpus, values.spot_gpus
    cands = ix.table.candidates
    prices = ix.table.pool_prices
    pol = ix.policy
    w, dem = ix.slices.weight_h, ix.slices.demand_gpus
    n_s = dem.shape[0]
    od = prices["od_usd_per_gpu_hour"].to_numpy(float)
    sigma = np.nan_to_num(prices["spot_usd_per_gpu_hour"].to_numpy(float))
    od_egress = np.array(
        [pol.egress_usd_per_gpu_hour if _off_aws(str(x)) else 0.0 for x in prices["od_provider"]]
    )
    spot_egress = np.array(
        [
            pol.egress_usd_per_gpu_hour * (1 + pol.spot_overhead_pct / 100)
            if _off_aws(str(x))
            else 0.0
            for x in prices["spot_provider"]
        ]
    )
    committed = np.zeros_like(dem)
    egress_contract = np.zeros(n_s)
    used = np.zeros(n_s)
    for c, arr in served.items():
        committed += arr
        e = num(cands.at[c, "egress_usd_per_gpu_hour"])
        egress_contract += e * np.einsum("stp,t->s", arr, w)
        for p in range(arr.shape[2]):
            if arr[:, :, p].any():
                used += ix.value_per_gpu_hour(c, p) * (arr[:, :, p] @ w)
    sl_gpus, sl_usd_s = serverless_solution(ix, values)  # held GPUs moved to serverless, their cost
    od_gpus = np.clip(dem - committed - spot - sl_gpus, 0.0, None)
    comp = dict.fromkeys(COST_COMPONENTS, 0.0)
    existing = 0.0
    for _c, row in cands.iterrows():
        kind = "contracts" if row["purchase_model"] == "reserved_contract" else "commitments"
        f = float(row["effective_usd_per_unit_hour"])
        if not row["buyable"]:
            a = max(0, int((row["inventory_start"] - ix.start) // pd.Timedelta(hours=1)))
            b = min(ix.n_hours, int((row["inventory_end"] - ix.start) // pd.Timedelta(hours=1)))
            v = float(row["inventory_units"]) * f * max(0, b - a)
            existing += v
            comp[kind] += v
    for (c, d), q in buy.items():
        kind = (
            "contracts" if cands.at[c, "purchase_model"] == "reserved_contract" else "commitments"
        )
        comp[kind] += (
            q * num(cands.at[c, "effective_usd_per_unit_hour"]) * ix.buy_hours_in_horizon[(c, d)]
        )
    spend = comp["commitments"] + comp["contracts"]
    by_comp = {
        "commitments": np.full(n_s, comp["commitments"]),
        "contracts": np.full(n_s, comp["contracts"]),
        "on_demand": np.einsum("stp,t,p->s", od_gpus, w, od - od_egress),
        "spot": np.einsum(
            "stp,t,sp->s", spot, w, sigma[None, :] * ix.spot_factor[:, None] - spot_egress
        ),
        "egress": egress_contract
        + np.einsum("stp,t,p->s", od_gpus, w, od_egress)
        + np.einsum("stp,t,p->s", spot, w, spot_egress),
    }
    if any(pool.keys for pool in ix.serverless):
        by_comp["serverless"] = sl_usd_s
    return Figures(
        cost_by_component_s=by_comp,
        od_equivalent_s=np.einsum("stp,t,p->s", dem, w, od),
        served_gpu_h_s=np.einsum("stp,t->s", committed, w),
        demand_gpu_h_s=np.einsum("stp,t->s", dem, w),
        spend_usd=spend,
        used_usd_s=used,
        existing_usd=existing,
    )


def expected_cost(ix: ProblemIndex, sol: Solution) -> float:
    fig = figures(ix, sol.values)
    return float(ix.probabilities @ fig.total_s())


def _purchase_figures(
    ix: ProblemIndex, sol: Solution, c: int, d: int, q: float
) -> tuple[float, float, float, float | None, float | None, int]:
    cands = ix.table.candidates
    row = cands.iloc[c]
    prices = ix.table.pool_prices
    od = prices["od_usd_per_gpu_hour"].to_numpy(float)
    w, kper, prob = ix.slices.weight_h, ix.slices.slice_period, ix.probabilities
    sp = row["kind"] == "savings_plan"
    g = 1.0 if sp else float(row["gpus_per_unit"])
    f = float(row["effective_usd_per_unit_hour"])
    e = float(row["egress_usd_per_gpu_hour"])
    arr = sol.served_gpus.get(c)
    n_s, n_t, n_p = ix.slices.demand_gpus.shape
    if arr is None:
        arr = np.zeros((n_s, n_t, n_p))
    pools = ix.table.pools_of(c)
    totals = arr.sum(axis=(0, 1))
    primary = int(np.argmax(totals)) if totals.sum() > 0 else pools[0]
    util_num = np.zeros(n_s)
    value = np.zeros(n_s)
    wa = 0.0
    for t in range(n_t):
        k = int(kper[t])
        ds = ix.active.get((c, k), ())
        if d not in ds:
            continue
        cap_units = sum(sol.buy_units.get((c, dd), 0.0) for dd in ds)
        if cap_units <= 1e-12:
            continue
        if sp:
            used_units = sum(arr[:, t, p] * ix.value_per_gpu_hour(c, p) for p in pools)
            val = sum(arr[:, t, p] * od[p] for p in pools)
        else:
            used_units = arr[:, t, :].sum(axis=1) / g
            val = (arr[:, t, :] * (od[None, :] - e)).sum(axis=1)
        util_num += w[t] * np.minimum(1.0, used_units / cap_units)
        value += w[t] * (q / cap_units) * val
        wa += w[t]
    util_s = util_num / wa if wa > 0 else np.zeros(n_s)
    cost = q * f * ix.buy_hours_in_horizon[(c, d)]
    exp_util = float(prob @ util_s)
    p10 = weighted_quantile(util_s, prob, 0.1)
    savings = float(prob @ value) - cost
    if sp:
        rate = ix.value_per_gpu_hour(c, primary)
        be_util = rate / od[primary] if od[primary] > 0 else None
        od_value_month = q / rate * HOURS_PER_MONTH * od[primary] if rate > 0 else 0.0
    else:
        net_od = od[primary] - e
        be_util = (f / g) / net_od if net_od > 0 else None
        od_value_month = q * g * HOURS_PER_MONTH * net_od
    upfront = q * float(row["upfront_usd_per_unit"])
    recurring_month = q * float(row["recurring_usd_per_unit_hour"]) * HOURS_PER_MONTH
    net = exp_util * od_value_month - recurring_month
    be_months = None if net <= 0 else upfront / net
    return exp_util, p10, savings, be_months, be_util, primary


def purchases(ix: ProblemIndex, sol: Solution) -> list[Purchase]:
    """The purchases bought in ``sol``, dated, firm (now) or ladder, with their figures."""
    cands = ix.table.candidates
    out: list[tuple[int, int, float]] = []
    for (c, d), q in sorted(sol.buy_units.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        sp = cands.at[c, "kind"] == "savings_plan"
        qq = round(q, 3) if sp else (round(q) if ix.policy.integer else round(q, 3))
        if qq < MIN_PURCHASE_UNITS:  # solver dust: USD 0.01/h of SP, 0.01 of a unit
            continue
        out.append((c, d, float(qq)))
    result = []
    for i, (c, d, q) in enumerate(out, start=1):
        row = cands.iloc[c]
        sp = row["kind"] == "savings_plan"
        start = ix.purchase_dates[d]
        term = int(row["term_months"])
        com = Commitment(
            commitment_id=f"P{i:03d}",
            provider=str(row["provider"]),
            purchase_model=str(row["purchase_model"]),
            region=str(row["region"]),
            sku=str(row["sku"]),
            offering_class=str(row["offering_class"]),
            term_months=term,
            payment_option=str(row["payment_option"]),
            quantity=0.0 if sp else q,
            hourly_commitment_usd=q if sp else 0.0,
            start=start,
            end=start + pd.DateOffset(months=term),
            offer_id=str(row["offer_id"]),
        )
        exp_util, p10, savings, be_m, be_u, primary = _purchase_figures(ix, sol, c, d, q)
        gpu = str(row["gpu_type"]) or ix.pools[primary].gpu_type
        result.append(
            Purchase(
                commitment=com,
                firm=d == 0,
                gpu_type=gpu
                if not (sp and row["purchase_model"] == "compute_savings_plan")
                else "",
                upfront_usd=q * float(row["upfront_usd_per_unit"]),
                recurring_monthly_usd=q
                * float(row["recurring_usd_per_unit_hour"])
                * HOURS_PER_MONTH,
                expected_utilization=exp_util,
                p10_utilization=p10,
                expected_savings_usd=savings,
                breakeven_months=be_m,
                breakeven_utilization=be_u,
            )
        )
    return result


def plan_figures(ix: ProblemIndex, sol: Solution) -> dict[str, Any]:
    """Plan-level figures (keyword arguments of planner.plan.Plan, less purchases and record)."""
    fig = figures(ix, sol.values)
    prob = ix.probabilities
    exp = {k: float(prob @ v) for k, v in fig.cost_by_component_s.items()}
    total_s = fig.total_s()
    exp["total"] = float(prob @ total_s)
    exp["existing_sunk"] = fig.existing_usd
    od_eq = float(prob @ fig.od_equivalent_s)
    demand = float(prob @ fig.demand_gpu_h_s)
    used = float(prob @ fig.used_usd_s)
    return {
        "expected_cost_usd": exp,
        "cost_per_scenario_usd": tuple(float(x) for x in total_s),
        "on_demand_equivalent_usd": od_eq,
        "coverage": float(prob @ fig.served_gpu_h_s) / demand if demand > 0 else 0.0,
        "utilization": used / fig.spend_usd if fig.spend_usd > 0 else 0.0,
        "esr": 1.0 - exp["total"] / od_eq if od_eq > 0 else 0.0,
        "waste_usd": max(0.0, fig.spend_usd - used),
    }
