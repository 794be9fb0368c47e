r"""The two-stage stochastic commitment LP, built as a pure function of (scenarios, offers, inventory,
policy). Solving and reading the solution back live in :mod:`planner.optimize.solve`.

Structure
    :func:`build_problem` = :func:`build_lp` ∘ :func:`~planner.optimize.index.build_index`. The
    index (:class:`~planner.optimize.index.ProblemIndex`, frozen, no PuLP object) holds every set,
    map and number below, computed by pure functions; :func:`build_lp` only creates the
    variables and rows from it and returns a :class:`Problem`: the index, the PuLP model and the
    variable maps (read-only). What a solve produces is read from what it returns, not from the
    problem: values, status and the HiGHS model for warm re-solves are in the
    :class:`~planner.optimize.solve.Solution` of :func:`~planner.optimize.solve.solve`, and the
    plan's figures are read from the index and that solution. (PuLP keeps the last solve's values
    in its variables; only the solve's own read-back and the savings curves' re-solves read them,
    and every bound a solve fixes is restored.)

Sets
    p ∈ P pools; s ∈ S scenarios with probability π_s; t ∈ T time slices with weight w_t hours and
    period k(t) covering the whole *valuation horizon* [0, V) (planner/valuation.py): the decision
    horizon [0, H) reduced by :mod:`planner.optimize.time_reduction`, then the coarse rows of the
    tail model to V = last purchase date + longest term, so every purchase lies wholly inside;
    c ∈ C candidate commitments (pruned offers and existing inventory,
    :mod:`planner.optimize.offers`); P_c ⊆ P the pools c can serve; d ∈ D purchase dates at hour
    h_d < H (d = 0 "now", firm; then every ``ladder_every_months``, tentative). A purchase (c, d)
    is active on [h_d, h_d + term_c), all of it inside [0, V); a_{c,d,k} = 1 when it is active in
    period k. Existing commitment c has I_{c,k} units active in period k.

Data (USD, GPUs, hours)
    D_{s,t,p} demand GPUs; o_p on-demand and σ_p spot USD per GPU-hour (spot includes the re-run
    overhead; off-AWS prices include egress); g_c GPUs per unit (capacity offers); r_{c,p} commitment
    USD consumed per GPU-hour of pool p (Savings Plans); e_c egress USD per GPU-hour (contracts);
    f_c effective USD per unit-hour (upfront amortised; a Savings Plan unit is USD 1/h, f_c = 1);
    u_c upfront and ρ_c recurring USD per unit (-hour); H_{c,d} hours of purchase (c, d) (its whole
    term); δ_m = (1 + r)^(−m/12) the discount factor of month m (r = ``discount_rate_pct``/100),
    δ_t the hour-weighted mean δ over slice t's period; m_s the spot price factor of scenario s;
    N_{c,d} = u_c δ_{month(h_d)} + ρ_c Σ_{h ∈ term} δ_{month(h)}, the NPV of one unit's cash.

Variables
    buy_{c,d} ≥ 0 units bought (integer for RIs and contracts unless the policy asks for the LP
    relaxation); serve_{c,p,s,t} ≥ 0 GPUs of pool p served by c; spot_{p,s,t} ∈ [0, κ_p·D_{s,t,p}]
    (interruptible pools, κ_p the pool's availability cap: ``Policy.spot_cap``). On-demand is the
    remainder
    od_{p,s,t} = D_{s,t,p} − Σ_c serve_{c,p,s,t} − spot_{p,s,t} ≥ 0, substituted out.
    Units active: U_{c,k} = I_{c,k} + Σ_d a_{c,d,k} buy_{c,d}.

Objective: the expected NPV of cash over every term (first stage + expected second stage; purchase
costs carry a 1e-7 relative nudge by flexibility so that equally priced offers, e.g. a standard RI
and the EC2 Instance SP at the same rate, resolve the same way every run: see ``flexibility_rank``)
    min  Σ_{c,d} N_{c,d} buy_{c,d}
       + Σ_s π_s Σ_t w_t δ_t Σ_p [ o_p D_{s,t,p} + Σ_c (e_c − o_p) serve_{c,p,s,t}
                                   + (m_s σ_p − o_p) spot_{p,s,t} ]
       [+ λ · CVaR_β(cost_s)]                       (``add_risk_averse_objective``; undiscounted)
    The cost of existing commitments is sunk: reported, not optimised. With r = 0 the objective is
    the undiscounted cost over the valuation horizon; with r > 0 the payment option (all, partial or
    no upfront) is a real choice.

Constraint families (one ``add_<family>`` function each; names in brackets)
    demand [demand_p_s_t]:          Σ_c serve_{c,p,s,t} + spot_{p,s,t} [+ sl_{p,s,t}] ≤ D_{s,t,p}
                                    (od ≥ 0; a row with a single variable becomes that variable's
                                    bound; sl: held GPUs moved to serverless in scale-to-zero
                                    pools, planner/optimize/serverless.py holds that family's maths)
    capacity [capacity_c_s_t]:      Σ_p serve_{c,p,s,t} ≤ g_c U_{c,k(t)}              (RIs, contracts)
    savings plan [sp_dollars_c_s_t]: Σ_p r_{c,p} serve_{c,p,s,t} ≤ U_{c,k(t)}         (SPs, USD/h)
    With spend = Σ_{c,t} w_t f_c U_{c,k(t)} (all commitment spend in the valuation horizon, existing
    and new; the bounds are on undiscounted dollars)
    and used_s = Σ_{c,p,t} w_t v_{c,p} serve_{c,p,s,t} (v = f_c/g_c, or r_{c,p} for SPs),
    unused commitment spend is unused_s = spend − used_s [used_def_s_k, commitment_spend_def define
    the parts as variables so these rows stay sparse], and:
    cvar unused [cvar_unused_*]:    η + 1/(1−β) Σ_s π_s z_s ≤ L,  z_s ≥ unused_s − η, z_s ≥ 0,
                                    with L = ``cvar_limit_usd`` and/or ``cvar_limit_pct``/100 · spend
    min utilisation [min_util_s]:   used_s ≥ u_min · spend for every s in the worst tail (the lowest
                                    total-demand scenarios holding ``min_utilization_tail`` of the
                                    probability)
    upfront budget [upfront_d]:     Σ_c u_c buy_{c,d} ≤ B at each purchase date d
    provider share [share__q]:      Σ_s π_s Σ_t w_t Σ_{g of q} serve_{g,·,s,t} ≤ m · the same over all
                                    commitments (GPU-hours served, existing and new: buying
                                    unused capacity elsewhere cannot satisfy it; a Savings Plan's
                                    GPU-hours counted at its dearest-to-cheapest rate ratio so
                                    that routing its dollars cannot meet the bound on paper:
                                    ``add_provider_share``)
    Every risk row also holds its family's elastic slack relax_<family> (− in ≤ rows, + in ≥ rows)
    with upper bound 0; the diagnosis of an infeasible plan frees one family at a time.
    The LP's limits can be tighter than the policy's: :mod:`planner.optimize.referee` bills the
    plan with the evaluator, checks every bound there, and tightens and re-solves when one fails.

Compact form actually built (exact for cost). Candidates that serve the same pools at proportional
rates and pay the same egress form a group g (an RI and the EC2 Instance SP of its family and region; the 1-
and 3-year terms of one offer): serve is one variable per (g, p, s, t), and the two capacity families
above become Σ_p ρ_{g,p} serve_{g,p,s,t} ≤ cap_{g,k(t)} with cap_{g,k} = Σ_{c∈g} m_c U_{c,k} defined
once per group and period [cap_def_g_k] (ρ, m: :class:`Group`). Each member's use is read back in
proportion to its capacity. In the risk bounds a group's used GPU-hours are priced at its cheapest
member's rate (``risk_pricing = "conservative"``: unused spend is never understated); with
``risk_pricing = "exact"`` only candidates that price a used GPU-hour alike share a group.

Whole term
    Every purchase is charged its whole obligation (upfront + recurring over all of its months) and
    credited with the usage it serves over all of them: after the decision horizon, demand is the
    tail model of planner/valuation.py (coarse periods, widening uncertainty, decline possible),
    the same rows the referee bills. Nothing is assumed to be "worth what it costs".

Names
    Variables and rows are named by meaning, then offer, pool and date (LP-safe, PyPSA-style):
    ``buy__<offer>__<date>``, ``serve__<group>__<pool>__s<s>__<slice>``, ``spot__<pool>__s<s>__<slice>``,
    ``demand__<pool>__s<s>__<slice>``, ``cap_def__<group>__<period>``, ``share__<provider>``,
    ``upfront__<date>``, ``relax_<family>`` (:class:`~planner.optimize.index.Names`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pulp

from forecasting.scenarios import DemandScenarios
from planner.inventory import Commitment
from planner.optimize.index import Group, Names, ProblemIndex, build_index, lp_safe
from planner.optimize.offers import num
from planner.optimize.serverless import add_serverless
from planner.policy import Policy
from planner.serverless import ServerlessSetup
from pricing_data.schema import HOURS_PER_MONTH

__all__ = [
    "RISK_FAMILIES",
    "Group",
    "Names",
    "Problem",
    "ProblemIndex",
    "build_index",
    "build_lp",
    "build_problem",
    "family_of",
    "flexibility_rank",
    "lp_safe",
    "summary",
]

TIE_BREAK = 1e-7  # relative cost nudge so equally priced offers resolve the same way every time

_RANK = {
    "compute_savings_plan": 0.0,
    "ec2_instance_savings_plan": 1.0,
    "reserved_contract": 2.0,
    "reserved_instance": 2.0,
}

RISK_FAMILIES = ("cvar", "min_utilization", "upfront_budget", "provider_share")

ByScenarioSlice: TypeAlias = Mapping[tuple[int, int], pulp.LpVariable]  # (s, t) -> variable


def flexibility_rank(row: pd.Series) -> float:
    """Ties between equally priced offers go to the more flexible: Compute SP, then EC2 Instance
    SP, then convertible RIs and contracts, then standard RIs; shorter terms first."""
    rank = _RANK[str(row["purchase_model"])]
    if row["purchase_model"] == "reserved_instance" and row["offering_class"] == "standard":
        rank += 1.0
    return rank + float(row["term_months"]) / 36.0


@dataclass(frozen=True, eq=False)
class Problem:
    """An LP ready to solve: its index (the data), the PuLP model and the variables by index.
    Built by :func:`build_lp`; the maps are read-only. A solve sets the variables' values (PuLP's
    ``varValue``) and may change bounds while it runs; it restores the bounds and returns the
    values in its :class:`~planner.optimize.solve.Solution`, so nothing reads them from here."""

    index: ProblemIndex
    lp: pulp.LpProblem
    buy: Mapping[tuple[int, int], pulp.LpVariable]  # (c, d) -> buy_{c,d}
    serve: Mapping[tuple[int, int], ByScenarioSlice]  # (group, p) -> serve_{g,p,s,t}
    spot: Mapping[int, ByScenarioSlice]  # p -> spot_{p,s,t}
    serverless: Mapping[int, ByScenarioSlice]  # p -> sl_{p,s,t}
    serverless_choice: Mapping[int, pulp.LpVariable]  # p -> x_p (all or nothing)
    families: Mapping[str, tuple[str, ...]]  # family -> constraint names
    elastic: Mapping[str, pulp.LpVariable]  # risk family -> its slack (ub 0)
    curve_amount: Mapping[str, pulp.LpVariable]  # commitment family -> amount bought now
    #: ``lp.variables()`` once, at the end of the build: the model's columns in PuLP's order
    #: (nothing adds variables after :func:`build_lp`; PuLP walks every row on each call)
    columns: tuple[pulp.LpVariable, ...]

    @property
    def policy(self) -> Policy:
        return self.index.policy

    def size(self) -> dict[str, int]:
        ix = self.index
        n_int = sum(1 for v in self.buy.values() if v.cat == pulp.LpInteger)
        return {
            "variables": len(self.columns),
            "constraints": int(self.lp.numConstraints()),
            "integer_variables": n_int,
            "scenarios": len(ix.probabilities),
            "slices": ix.slices.n_slices,
            "pools": len(ix.pools),
            "candidates": len(ix.table.candidates),
            "purchase_dates": len(ix.purchase_dates),
        }


# --------------------------------------------------------------------------------------------
# variables, in the order build_lp creates them


def define_purchase_variables(
    lp: pulp.LpProblem, ix: ProblemIndex
) -> dict[tuple[int, int], pulp.LpVariable]:
    """buy_{c,d} for every purchase of the index (buyable candidate, purchase date)."""
    return {
        (c, d): lp.add_variable(
            f"buy__{ix.names.cand[c]}__{ix.names.date[d]}",
            lowBound=0,
            cat=pulp.LpInteger if (c, d) in ix.buy_integer else pulp.LpContinuous,
        )
        for c, d in ix.buy_keys
    }


def define_dispatch_variables(
    lp: pulp.LpProblem, ix: ProblemIndex
) -> tuple[
    dict[tuple[int, int], dict[tuple[int, int], pulp.LpVariable]],
    dict[int, dict[tuple[int, int], pulp.LpVariable]],
]:
    """serve_{g,p,s,t} where a member of group g can be active in slice t; spot_{p,s,t} ≤
    κ_p D_{s,t,p} for interruptible pools. (The module docstring writes serve per candidate c;
    grouping is exact.)"""
    n_s, n_t = ix.slices.demand_gpus.shape[:2]
    serve: dict[tuple[int, int], dict[tuple[int, int], pulp.LpVariable]] = {}
    for gi, grp in enumerate(ix.groups):
        live_t = ix.live_slices[gi]
        if not live_t:
            continue
        for p in grp.pools:
            serve[(gi, p)] = {
                (s, t): lp.add_variable(
                    f"serve__{ix.names.group[gi]}__{ix.names.pool[p]}__s{s}__{ix.names.slice[t]}",
                    lowBound=0,
                )
                for s in range(n_s)
                for t in live_t
            }
    spot: dict[int, dict[tuple[int, int], pulp.LpVariable]] = {}
    dem = ix.slices.demand_gpus
    for p, cap in ix.spot_cap_share.items():
        spot[p] = {
            (s, t): lp.add_variable(
                f"spot__{ix.names.pool[p]}__s{s}__{ix.names.slice[t]}",
                lowBound=0,
                upBound=cap * float(dem[s, t, p]),
            )
            for s in range(n_s)
            for t in range(n_t)
        }
    return serve, spot


def define_objective(
    lp: pulp.LpProblem,
    ix: ProblemIndex,
    buy: Mapping[tuple[int, int], pulp.LpVariable],
    serve: Mapping[tuple[int, int], ByScenarioSlice],
    spot: Mapping[int, ByScenarioSlice],
) -> None:
    """Commitment cost of new purchases plus expected usage cost (module docstring)."""
    cands = ix.table.candidates
    od = ix.table.pool_prices["od_usd_per_gpu_hour"].to_numpy(float)
    spot_price = ix.table.pool_prices["spot_usd_per_gpu_hour"].to_numpy(float)
    prob = ix.probabilities
    w = ix.discounted_weight_h
    terms: dict[pulp.LpVariable, float] = {}
    for (c, d), var in buy.items():
        cost = ix.buy_npv_usd[(c, d)]
        terms[var] = cost * (1.0 + TIE_BREAK * flexibility_rank(cands.iloc[c]))
    for (gi, p), vs in serve.items():
        e = ix.groups[gi].egress_usd_per_gpu_hour
        for (s, t), var in vs.items():
            terms[var] = prob[s] * w[t] * (e - od[p])
    for p, vs in spot.items():
        for (s, t), var in vs.items():
            terms[var] = prob[s] * w[t] * (spot_price[p] * ix.spot_factor[s] - od[p])
    lp.setObjective(pulp.LpAffineExpression(terms, constant=ix.objective_constant_usd))


# --------------------------------------------------------------------------------------------
# rows, in the order build_lp adds them; each returns its rows' names


def add_demand_balance(
    lp: pulp.LpProblem,
    ix: ProblemIndex,
    serve: Mapping[tuple[int, int], ByScenarioSlice],
    spot: Mapping[int, ByScenarioSlice],
    serverless: Mapping[int, ByScenarioSlice],
) -> list[str]:
    """demand_p_s_t: served by commitments, spot and serverless ≤ demand (the rest is
    on-demand). A row with a single variable becomes that variable's upper bound."""
    by_pst: dict[tuple[int, int, int], dict[pulp.LpVariable, float]] = defaultdict(dict)
    for (_c, p), vs in serve.items():
        for (s, t), var in vs.items():
            by_pst[(p, s, t)][var] = 1.0
    for p, vs in spot.items():
        for (s, t), var in vs.items():
            by_pst[(p, s, t)][var] = 1.0
    for p, vs in serverless.items():
        for (s, t), var in vs.items():
            by_pst[(p, s, t)][var] = 1.0
    dem = ix.slices.demand_gpus
    names = []
    for (p, s, t), terms in by_pst.items():
        if len(terms) == 1:  # a single variable: a bound, not a row
            var = next(iter(terms))
            cap = float(dem[s, t, p])
            var.upBound = cap if var.upBound is None else min(var.upBound, cap)
            continue
        name = f"demand__{ix.names.pool[p]}__s{s}__{ix.names.slice[t]}"
        lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(terms), pulp.LpConstraintLE, name, float(dem[s, t, p])
            )
        )
        names.append(name)
    return names


def add_commitment_capacity(
    lp: pulp.LpProblem,
    ix: ProblemIndex,
    buy: Mapping[tuple[int, int], pulp.LpVariable],
    serve: Mapping[tuple[int, int], ByScenarioSlice],
) -> dict[str, list[str]]:
    """capacity_g_s_t (groups with RIs or contracts; GPUs) and sp_dollars_g_s_t (Savings Plans
    only; USD/hour): Σ_p rho_p serve_{g,p,s,t} ≤ cap_{g,k(t)}, where cap_def_g_k defines
    cap_{g,k} = Σ_{c∈g} mult_c U_{c,k} once per group and period (fewer non-zeros than repeating
    the purchases in every scenario's row). Returns the three families' names."""
    kper = ix.slices.slice_period
    cands = ix.table.candidates
    rows: dict[tuple[int, int, int], dict[pulp.LpVariable, float]] = defaultdict(dict)
    for (gi, p), vs in serve.items():
        rho = ix.groups[gi].rho[p]
        for (s, t), var in vs.items():
            rows[(gi, s, t)][var] = rho
    cap_vars: dict[tuple[int, int], pulp.LpVariable] = {}
    def_names = []
    for gi, grp in enumerate(ix.groups):
        for k in sorted({int(kper[t]) for (g2, _s, t) in rows if g2 == gi}):
            var = lp.add_variable(f"cap__{ix.names.group[gi]}__{ix.names.period[k]}", lowBound=0)
            expr: dict[pulp.LpVariable, float] = {var: 1.0}
            rhs = 0.0
            for c in grp.members:
                for d in ix.active.get((c, k), ()):
                    expr[buy[(c, d)]] = -grp.mult[c]
                rhs += grp.mult[c] * ix.inventory_units.get((c, k), 0.0)
            name = f"cap_def__{ix.names.group[gi]}__{ix.names.period[k]}"
            lp.addConstraint(
                pulp.LpConstraint(pulp.LpAffineExpression(expr), pulp.LpConstraintEQ, name, rhs)
            )
            def_names.append(name)
            cap_vars[(gi, k)] = var
    only_sp = [all(cands.at[c, "kind"] == "savings_plan" for c in grp.members) for grp in ix.groups]
    cap_names: list[str] = []
    sp_names: list[str] = []
    for (gi, s, t), terms in rows.items():
        expr = dict(terms)
        expr[cap_vars[(gi, int(kper[t]))]] = -1.0
        kind = "sp_dollars" if only_sp[gi] else "capacity"
        name = f"{kind}__{ix.names.group[gi]}__s{s}__{ix.names.slice[t]}"
        lp.addConstraint(
            pulp.LpConstraint(pulp.LpAffineExpression(expr), pulp.LpConstraintLE, name, 0.0)
        )
        (sp_names if only_sp[gi] else cap_names).append(name)
    return {"capacity_definition": def_names, "capacity": cap_names, "savings_plan": sp_names}


def commitment_spend(
    ix: ProblemIndex, buy: Mapping[tuple[int, int], pulp.LpVariable], *, new_only: bool = False
) -> pulp.LpAffineExpression:
    """Commitment spend inside the horizon (USD): new purchases (+ existing unless new_only)."""
    cands = ix.table.candidates
    terms = {
        var: num(cands.at[c, "effective_usd_per_unit_hour"]) * ix.buy_hours_in_horizon[(c, d)]
        for (c, d), var in buy.items()
    }
    return pulp.LpAffineExpression(terms, constant=0.0 if new_only else ix.inventory_cost_usd)


def define_used_by_scenario(
    lp: pulp.LpProblem, ix: ProblemIndex, serve: Mapping[tuple[int, int], ByScenarioSlice]
) -> tuple[list[dict[pulp.LpVariable, float]], list[str]]:
    """used_s as a short expression per scenario: Σ_k used_{s,k}, where used_def_s_k defines
    used_{s,k} = Σ_{g,p,t in k} w_t v_{g,p} serve_{g,p,s,t} (sparse rows instead of one dense row
    per scenario: much easier on the simplex's factorisation). Returns the expressions and the
    rows' names."""
    w, kper = ix.slices.weight_h, ix.slices.slice_period
    parts: dict[tuple[int, int], dict[pulp.LpVariable, float]] = defaultdict(dict)
    cands = ix.table.candidates
    for (gi, p), vs in serve.items():
        grp = ix.groups[gi]
        # USD per group-capacity unit-hour: the cheapest member's (exact when members price alike,
        # as with risk_pricing = "exact"; otherwise used spend is understated, never overstated)
        unit_usd = min(
            num(cands.at[c, "effective_usd_per_unit_hour"]) / grp.mult[c] for c in grp.members
        )
        v = grp.rho[p] * unit_usd
        for (s, t), var in vs.items():
            parts[(s, int(kper[t]))][var] = -w[t] * v
    out: list[dict[pulp.LpVariable, float]] = [{} for _ in range(len(ix.probabilities))]
    names = []
    for (s, k), terms in sorted(parts.items(), key=lambda kv: kv[0]):
        u = lp.add_variable(f"used_usd__s{s}__{ix.names.period[k]}", lowBound=0)
        name = f"used_def__s{s}__{ix.names.period[k]}"
        lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression({u: 1.0, **terms}), pulp.LpConstraintEQ, name, 0.0
            )
        )
        names.append(name)
        out[s][u] = 1.0
    return out, names


def define_spend(
    lp: pulp.LpProblem, ix: ProblemIndex, buy: Mapping[tuple[int, int], pulp.LpVariable]
) -> pulp.LpAffineExpression:
    """All commitment spend in the horizon as one variable (commitment_spend_def) + the constant
    spend of existing commitments, so risk rows do not repeat every purchase."""
    spend = commitment_spend(ix, buy, new_only=True)
    var = lp.add_variable("commitment_spend_new_usd", lowBound=0)
    expr = {var: 1.0, **{v: -coef for v, coef in spend.items()}}
    lp.addConstraint(
        pulp.LpConstraint(
            pulp.LpAffineExpression(expr), pulp.LpConstraintEQ, "commitment_spend_def", 0.0
        )
    )
    return pulp.LpAffineExpression({var: 1.0}, constant=ix.inventory_cost_usd)


def add_cvar_unused_bound(
    lp: pulp.LpProblem,
    ix: ProblemIndex,
    spend: pulp.LpAffineExpression,
    used: list[dict[pulp.LpVariable, float]],
) -> list[str]:
    """cvar_unused_*: CVaR_β of unused commitment spend ≤ the policy's limit(s)."""
    pol = ix.policy
    eta = lp.add_variable("cvar_unused_eta")
    names = []
    tail_terms: dict[pulp.LpVariable, float] = {eta: 1.0}
    for s, u in enumerate(used):
        z = lp.add_variable(f"cvar_unused_excess__s{s}", lowBound=0)
        tail_terms[z] = float(ix.probabilities[s]) / (1.0 - pol.cvar_beta)
        # z_s ≥ spend − used_s − η  ⇔  z_s + used_s + η − spend_new ≥ inventory spend
        expr = dict(u)
        expr[z] = 1.0
        expr[eta] = 1.0
        for var, coef in spend.items():
            expr[var] = expr.get(var, 0.0) - coef
        name = f"cvar_unused_excess__s{s}"
        lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(expr), pulp.LpConstraintGE, name, spend.constant
            )
        )
        names.append(name)
    if pol.cvar_limit_usd is not None:
        name = "cvar_unused_limit_usd"
        lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(tail_terms),
                pulp.LpConstraintLE,
                name,
                float(pol.cvar_limit_usd),
            )
        )
        names.append(name)
    if pol.cvar_limit_pct is not None:
        share = pol.cvar_limit_pct / 100.0
        expr = dict(tail_terms)
        for var, coef in spend.items():
            expr[var] = expr.get(var, 0.0) - share * coef
        name = "cvar_unused_limit_pct"
        lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(expr), pulp.LpConstraintLE, name, share * spend.constant
            )
        )
        names.append(name)
    return names


def add_min_utilization(
    lp: pulp.LpProblem,
    ix: ProblemIndex,
    spend: pulp.LpAffineExpression,
    used: list[dict[pulp.LpVariable, float]],
) -> list[str]:
    """min_util_s: used_s ≥ u_min · spend in each worst-tail scenario (``ix.tail_scenarios``)."""
    u_min = ix.policy.min_utilization
    assert u_min is not None  # build_lp adds the family only with the bound
    names = []
    for s in ix.tail_scenarios:
        expr = dict(used[s])
        for var, coef in spend.items():
            expr[var] = expr.get(var, 0.0) - u_min * coef
        name = f"min_util__s{s}"
        lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(expr),
                pulp.LpConstraintGE,
                name,
                u_min * spend.constant,
            )
        )
        names.append(name)
    return names


def add_upfront_budget(
    lp: pulp.LpProblem, ix: ProblemIndex, buy: Mapping[tuple[int, int], pulp.LpVariable]
) -> list[str]:
    """upfront_d: upfront cash at each purchase date ≤ ``upfront_budget_usd``."""
    budget = ix.policy.upfront_budget_usd
    assert budget is not None  # build_lp adds the family only with the bound
    cands = ix.table.candidates
    names = []
    for d in range(len(ix.purchase_dates)):
        terms = {
            var: num(cands.at[c, "upfront_usd_per_unit"])
            for (c, dd), var in buy.items()
            if dd == d and num(cands.at[c, "upfront_usd_per_unit"]) > 0
        }
        if not terms:
            continue
        name = f"upfront__{ix.names.date[d]}"
        lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(terms), pulp.LpConstraintLE, name, float(budget)
            )
        )
        names.append(name)
    return names


def add_provider_share(
    lp: pulp.LpProblem, ix: ProblemIndex, serve: Mapping[tuple[int, int], ByScenarioSlice]
) -> list[str]:
    """share_q: expected GPU-hours served by provider q's commitments ≤ m · GPU-hours served by
    all commitments (capacity used, not dollars: buying unused capacity elsewhere cannot satisfy
    it). Groups are split by provider when this bound is set, so each serve variable has one.

    Routing-proof. A Savings Plan's dollars buy more GPU-hours on a cheap GPU than on a dear one,
    and the LP may route them anywhere they apply, while the providers apply them by the highest
    discount first (the evaluator). So that routing cannot meet the bound on paper only, a group
    serving pools at different rates ρ_{g,p} (USD of commitment per GPU-hour) counts each GPU-hour
    of pool p as ρ_{g,p} / min_p' ρ_{g,p'} GPU-hours in its own provider's numerator (its dollars
    at the most GPU-hours they can buy: an upper bound whatever the routing) and as
    ρ_{g,p} / max_p' ρ_{g,p'} in every denominator (the fewest: a lower bound). Capacity (RIs,
    contracts) and single-rate groups count GPU-hours exactly."""
    m = ix.policy.max_share_per_provider
    assert m is not None  # build_lp adds the family only with the bound
    cands = ix.table.candidates
    w, prob = ix.slices.weight_h, ix.probabilities
    by_q: dict[str, dict[pulp.LpVariable, tuple[float, float]]] = defaultdict(dict)
    for (gi, p), vs in serve.items():
        grp = ix.groups[gi]
        q = str(cands.at[grp.members[0], "provider"])
        rhos = [grp.rho[x] for x in grp.pools]
        hi, lo = grp.rho[p] / min(rhos), grp.rho[p] / max(rhos)
        for (s, t), var in vs.items():
            ph = float(prob[s] * w[t])
            by_q[q][var] = (ph * hi, ph * lo)
    names = []
    for q in sorted(by_q):
        expr: dict[pulp.LpVariable, float] = {}
        for q2, terms in by_q.items():
            for var, (upper, lower) in terms.items():
                expr[var] = (upper if q2 == q else 0.0) - m * lower
        name = f"share__{lp_safe(q)}"
        lp.addConstraint(
            pulp.LpConstraint(pulp.LpAffineExpression(expr), pulp.LpConstraintLE, name, 0.0)
        )
        names.append(name)
    return names


def add_risk_averse_objective(
    lp: pulp.LpProblem,
    ix: ProblemIndex,
    spend: pulp.LpAffineExpression,
    serve: Mapping[tuple[int, int], ByScenarioSlice],
    spot: Mapping[int, ByScenarioSlice],
    serverless: Mapping[int, ByScenarioSlice],
) -> list[str]:
    """objective += λ · CVaR_β(cost_s), cost_s = new commitment cost + usage cost of scenario s."""
    lam = ix.policy.risk_aversion
    beta = ix.policy.cvar_beta
    od = ix.table.pool_prices["od_usd_per_gpu_hour"].to_numpy(float)
    spot_price = ix.table.pool_prices["spot_usd_per_gpu_hour"].to_numpy(float)
    w, dem = ix.slices.weight_h, ix.slices.demand_gpus
    per_s: list[dict[pulp.LpVariable, float]] = [dict(spend) for _ in ix.probabilities]
    for (gi, p), vs in serve.items():
        e = ix.groups[gi].egress_usd_per_gpu_hour
        for (s, t), var in vs.items():
            per_s[s][var] = w[t] * (e - od[p])
    for p, vs in spot.items():
        for (s, t), var in vs.items():
            per_s[s][var] = w[t] * (spot_price[p] * ix.spot_factor[s] - od[p])
    rates = {pool.pool: pool.usd_per_held_gpu_hour for pool in ix.serverless}
    for p, vs in serverless.items():
        for (s, t), var in vs.items():
            per_s[s][var] = w[t] * (float(rates[p][s, t]) - od[p])
    const_s = np.einsum("t,stp,p->s", w, dem, od)
    zeta = lp.add_variable("risk_cost_zeta")
    obj = dict(lp.objective)
    obj[zeta] = obj.get(zeta, 0.0) + lam
    names = []
    for s, terms in enumerate(per_s):
        y = lp.add_variable(f"risk_cost_excess__s{s}", lowBound=0)
        obj[y] = lam * float(ix.probabilities[s]) / (1 - beta)
        expr = {var: -coef for var, coef in terms.items()}
        expr[y] = 1.0
        expr[zeta] = 1.0
        name = f"risk_cost_excess__s{s}"
        lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(expr), pulp.LpConstraintGE, name, float(const_s[s])
            )
        )
        names.append(name)
    lp.setObjective(pulp.LpAffineExpression(obj, constant=lp.objective.constant))
    return names


def add_elastic_slack(
    lp: pulp.LpProblem, families: Mapping[str, list[str]]
) -> dict[str, pulp.LpVariable]:
    """relax_<family>: one elastic slack per risk family, in every row of the family (− in ≤ rows,
    + in ≥ rows), with upper bound 0. The diagnosis of an infeasible plan frees one family's slack
    at a time (bounds through PuLP's public API) instead of removing constraints."""
    out: dict[str, pulp.LpVariable] = {}
    for fam in RISK_FAMILIES:
        names = families.get(fam, [])
        if not names:
            continue
        var = lp.add_variable(f"relax_{fam}", lowBound=0, upBound=0)
        for name in names:
            con = lp.get_constraint_by_name(name)
            if con is None:
                continue
            con.expr.addterm(var, -1.0 if con.sense == pulp.LpConstraintLE else 1.0)
        out[fam] = var
    return out


def family_of(ix: ProblemIndex, c: int) -> str:
    """A commitment family: (purchase model, GPU type, region); Compute SPs are one family."""
    row = ix.table.candidates.iloc[c]
    gpu = str(row["gpu_type"]) or "any"
    region = str(row["region"]) or "any"
    return f"{row['purchase_model']}|{gpu}|{region}"


def define_curve_amounts(
    lp: pulp.LpProblem, ix: ProblemIndex, buy: Mapping[tuple[int, int], pulp.LpVariable]
) -> dict[str, pulp.LpVariable]:
    """amount_<family> = Σ_c mult_c buy_{c,0} [amount_def_<family>] for every family bought now
    (GPUs, or USD/hour for Savings Plans): savings curves fix this variable's bounds per point,
    so the LP's rows never change between the solve and its re-solves."""
    out: dict[str, pulp.LpVariable] = {}
    if ix.policy.savings_curve_points <= 0:
        return out
    cands = ix.table.candidates
    fams: dict[str, list[int]] = defaultdict(list)
    for c, d in buy:
        if d == 0:
            fams[family_of(ix, c)].append(c)
    for fam, cs in sorted(fams.items()):
        sp = cands.at[cs[0], "kind"] == "savings_plan"
        var = lp.add_variable(f"curve_amount__{lp_safe(fam)}", lowBound=0)
        expr: dict[pulp.LpVariable, float] = {var: 1.0}
        for c in cs:
            expr[buy[(c, 0)]] = -(1.0 if sp else num(cands.at[c, "gpus_per_unit"]))
        lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(expr),
                pulp.LpConstraintEQ,
                f"curve_amount_def__{lp_safe(fam)}",
                0.0,
            )
        )
        out[fam] = var
    return out


# --------------------------------------------------------------------------------------------
# the whole build


def build_lp(ix: ProblemIndex) -> Problem:
    """The LP of ``ix`` (module docstring): a new PuLP model each call, the index unchanged."""
    pol = ix.policy
    lp = pulp.LpProblem("gpu_commitment_plan", pulp.LpMinimize)
    buy = define_purchase_variables(lp, ix)
    serve, spot = define_dispatch_variables(lp, ix)
    define_objective(lp, ix, buy, serve, spot)
    sl, choice, sl_rows = add_serverless(lp, ix)
    families: dict[str, list[str]] = {}
    if ix.serverless_offered:
        families["serverless_all_or_nothing"] = sl_rows
    families["demand"] = add_demand_balance(lp, ix, serve, spot, sl)
    families.update(add_commitment_capacity(lp, ix, buy, serve))
    # the risk rows share one spend variable and per-scenario used-spend variables, defined
    # where the first family that needs them is added (the rows' order is the build's order)
    spend: pulp.LpAffineExpression | None = None
    cvar = pol.cvar_limit_usd is not None or pol.cvar_limit_pct is not None
    if cvar or pol.min_utilization is not None:
        spend = define_spend(lp, ix, buy)
        families["spend_definition"] = ["commitment_spend_def"]
        used, families["used_definition"] = define_used_by_scenario(lp, ix, serve)
        if cvar:
            families["cvar"] = add_cvar_unused_bound(lp, ix, spend, used)
        if pol.min_utilization is not None:
            families["min_utilization"] = add_min_utilization(lp, ix, spend, used)
    if pol.upfront_budget_usd is not None:
        families["upfront_budget"] = add_upfront_budget(lp, ix, buy)
    if pol.max_share_per_provider is not None:
        families["provider_share"] = add_provider_share(lp, ix, serve)
    if pol.risk_aversion > 0:
        if spend is None:
            spend = define_spend(lp, ix, buy)
            families["spend_definition"] = ["commitment_spend_def"]
        families["risk_aversion"] = add_risk_averse_objective(lp, ix, spend, serve, spot, sl)
    elastic = add_elastic_slack(lp, families)
    curve_amount = define_curve_amounts(lp, ix, buy)
    return Problem(
        index=ix,
        lp=lp,
        buy=MappingProxyType(buy),
        serve=MappingProxyType({k: MappingProxyType(v) for k, v in serve.items()}),
        spot=MappingProxyType({k: MappingProxyType(v) for k, v in spot.items()}),
        serverless=MappingProxyType({k: MappingProxyType(v) for k, v in sl.items()}),
        serverless_choice=MappingProxyType(choice),
        families=MappingProxyType({k: tuple(v) for k, v in families.items()}),
        elastic=MappingProxyType(elastic),
        curve_amount=MappingProxyType(curve_amount),
        columns=tuple(lp.variables()),
    )


def build_problem(
    scenarios: DemandScenarios,
    offers: pd.DataFrame,
    inventory: list[Commitment],
    policy: Policy,
    *,
    as_of: pd.Timestamp | None = None,
    serverless: ServerlessSetup | None = None,
) -> Problem:
    """Build the LP (module docstring): :func:`build_lp` of
    :func:`~planner.optimize.index.build_index`. Pure: the inputs are not changed.

    ``as_of`` is informative: the plan's "now" is the scenarios' start. ``serverless``: options for
    scale-to-zero pools (:mod:`planner.optimize.serverless`).
    """
    del as_of  # informative only (docstring)
    return build_lp(build_index(scenarios, offers, inventory, policy, serverless=serverless))


def summary(pb: Problem) -> dict[str, Any]:
    """Sizes and hours, for the plan's record."""
    out: dict[str, Any] = pb.size()
    ix = pb.index
    out["horizon_hours"] = ix.decision_hours
    out["horizon_months_effective"] = round(ix.decision_hours / HOURS_PER_MONTH, 3)
    out["valuation_hours"] = ix.n_hours
    out["valuation_months_effective"] = round(ix.n_hours / HOURS_PER_MONTH, 3)
    return out
