r"""The two-stage stochastic commitment LP, built as a pure function of (scenarios, offers, inventory,
policy). Solving and reading the solution back live in :mod:`planner.optimize.solve`.

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
    ``upfront__<date>``, ``relax_<family>`` (:class:`Names`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pulp

import planner.valuation as valuation
from forecasting.scenarios import DemandScenarios, Pool
from planner.inventory import Commitment
from planner.optimize.offers import CostTable, build_cost_table, num
from planner.optimize.serverless import add_serverless
from planner.optimize.time_reduction import TimeSlices, append_rows, hours_between, reduce_time
from planner.policy import Policy
from planner.serverless import ServerlessSetup
from planner.valuation import ValuationPaths
from pricing_data.errors import PlannerInputError
from pricing_data.schema import HOURS_PER_MONTH

EPS = 1e-9
TIE_BREAK = 1e-7  # relative cost nudge so equally priced offers resolve the same way every time

_RANK = {
    "compute_savings_plan": 0.0,
    "ec2_instance_savings_plan": 1.0,
    "reserved_contract": 2.0,
    "reserved_instance": 2.0,
}


def flexibility_rank(row: pd.Series) -> float:
    """Ties between equally priced offers go to the more flexible: Compute SP, then EC2 Instance
    SP, then convertible RIs and contracts, then standard RIs; shorter terms first."""
    rank = _RANK[str(row["purchase_model"])]
    if row["purchase_model"] == "reserved_instance" and row["offering_class"] == "standard":
        rank += 1.0
    return rank + float(row["term_months"]) / 36.0


@dataclass(frozen=True)
class Group:
    """Candidates that dispatch as one: same pools, egress and proportional rates.

    ``rho[p]``: group capacity used per GPU-hour of pool p (1 for capacity, GPUs; the reference
    plan's rate for Savings Plans, USD); ``mult[c]``: group capacity per unit of member c (g_c GPUs;
    for a Savings Plan 1/α_c, where r_{c,p} = α_c · rho[p]).
    """

    members: tuple[int, ...]
    pools: tuple[int, ...]
    kind: str
    rho: dict[int, float]
    mult: dict[int, float]
    egress_usd_per_gpu_hour: float


@dataclass(frozen=True)
class Names:
    """LP-safe labels that give variables and constraints their meaning (PyPSA-style: what, then
    which offer, pool and date): ``buy__<offer>__<date>``, ``serve__<group>__<pool>__s<s>__<slice>``,
    ``demand__<pool>__s<s>__<slice>``, ``cap__<group>__<period>`` ... A slice is its period's
    first day and block (``2026_11_01_b2``); a group is its first member's offer (``_plus<n>``
    when it holds more)."""

    cand: tuple[str, ...]
    group: tuple[str, ...]
    pool: tuple[str, ...]
    date: tuple[str, ...]
    period: tuple[str, ...]
    slice: tuple[str, ...]


def _unique(labels: list[str]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    out = []
    for x in labels:
        n = seen.get(x, 0)
        seen[x] = n + 1
        out.append(x if n == 0 else f"{x}_{n}")
    return tuple(out)


def _day(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y_%m_%d")


def make_names(pb: Problem) -> Names:
    """Labels for ``pb``'s candidates, groups, pools, purchase dates, periods and slices."""
    cand = _unique([lp_safe(str(k)) for k in pb.table.candidates["key"]])
    group = _unique(
        [
            cand[g.members[0]] + (f"_plus{len(g.members) - 1}" if len(g.members) > 1 else "")
            for g in pb.groups
        ]
    )
    period = _unique(
        [_day(pb.start + pd.Timedelta(hours=int(h))) for h in pb.slices.period_start_h]
    )
    kper = pb.slices.slice_period
    block = np.zeros(len(kper), dtype=np.int64)
    for t in range(1, len(kper)):
        block[t] = block[t - 1] + 1 if kper[t] == kper[t - 1] else 0
    return Names(
        cand=cand,
        group=group,
        pool=_unique([lp_safe(p.name) for p in pb.pools]),
        date=tuple(_day(d) for d in pb.purchase_dates),
        period=period,
        slice=tuple(f"{period[int(k)]}_b{int(b)}" for k, b in zip(kper, block, strict=True)),
    )


@dataclass
class Problem:
    """An LP ready to solve, with the indices needed to read it back. Built by build_problem."""

    lp: pulp.LpProblem
    policy: Policy
    pools: tuple[Pool, ...]
    table: CostTable
    slices: TimeSlices
    probabilities: np.ndarray
    start: pd.Timestamp
    n_hours: int  # V: the valuation horizon (every bought term ends inside it)
    purchase_dates: list[pd.Timestamp]
    purchase_h: np.ndarray
    buy: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    groups: list[Group] = field(default_factory=list)
    serve: dict[tuple[int, int], dict[tuple[int, int], pulp.LpVariable]] = field(
        default_factory=dict
    )  # (group, p) -> {(s, t): var}
    spot: dict[int, dict[tuple[int, int], pulp.LpVariable]] = field(default_factory=dict)
    buy_hours_in_horizon: dict[tuple[int, int], float] = field(default_factory=dict)
    active: dict[tuple[int, int], list[int]] = field(default_factory=dict)  # (c, period) -> [d]
    inventory_units: dict[tuple[int, int], float] = field(default_factory=dict)  # (c, period)
    families: dict[str, list[str]] = field(default_factory=dict)  # family -> constraint names
    objective_constant_usd: float = 0.0
    inventory_cost_usd: float = 0.0
    tail_scenarios: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _value: dict[tuple[int, int], float] = field(default_factory=dict)
    used_cache: list[dict[pulp.LpVariable, float]] | None = None
    spend_cache: pulp.LpAffineExpression | None = None
    decision_hours: int = 0  # H: purchases start inside [0, H)
    elastic: dict[str, pulp.LpVariable] = field(default_factory=dict)  # family -> slack (ub 0)
    names: Names = None  # type: ignore[assignment]  # set by build_problem before any variable
    curve_amount: dict[str, pulp.LpVariable] = field(default_factory=dict)  # family -> amount
    valuation: ValuationPaths | None = None
    slice_discount: np.ndarray = field(default_factory=lambda: np.zeros(0))
    buy_npv_usd: dict[tuple[int, int], float] = field(default_factory=dict)  # per unit, full term
    inventory_npv_usd: float = 0.0  # remaining cash of existing commitments (upfront sunk)
    # serverless (planner.optimize.serverless): p -> {(s, t): held GPUs moved}, their USD per held
    # GPU-hour, the all-or-nothing choice x_p, and the option
    serverless: dict[int, dict[tuple[int, int], pulp.LpVariable]] = field(default_factory=dict)
    serverless_rate: dict[int, dict[tuple[int, int], float]] = field(default_factory=dict)
    serverless_choice: dict[int, pulp.LpVariable] = field(default_factory=dict)
    serverless_setup: dict[int, Any] = field(default_factory=dict)

    # ---- derived helpers -------------------------------------------------------------------
    @property
    def spot_factor(self) -> np.ndarray:
        """m_s: each scenario's spot price multiplier (planner/valuation.py)."""
        if self.valuation is None:
            return np.ones(len(self.probabilities))
        return self.valuation.spot_price_factor

    def units_active(self, c: int, k: int) -> pulp.LpAffineExpression:
        """U_{c,k}: units of candidate c active in period k (an expression)."""
        terms = {self.buy[(c, d)]: 1.0 for d in self.active.get((c, k), [])}
        return pulp.LpAffineExpression(terms, constant=self.inventory_units.get((c, k), 0.0))

    def value_per_gpu_hour(self, c: int, p: int) -> float:
        """v_{c,p}: commitment dollars one GPU-hour of pool p served by c uses."""
        if not self._value:
            cands = self.table.candidates
            for cc, pp, rate in self.table.coverage.itertuples(index=False):
                cc, pp = int(cc), int(pp)
                if cands.at[cc, "kind"] == "savings_plan":
                    self._value[(cc, pp)] = float(rate)
                else:
                    self._value[(cc, pp)] = num(cands.at[cc, "effective_usd_per_unit_hour"]) / num(
                        cands.at[cc, "gpus_per_unit"]
                    )
        return self._value[(c, p)]

    def units_value(self, c: int, k: int, buy: dict[tuple[int, int], float]) -> float:
        """U_{c,k} for solved purchase values ``buy``."""
        return self.inventory_units.get((c, k), 0.0) + sum(
            buy.get((c, d), 0.0) for d in self.active.get((c, k), [])
        )

    def split_by_candidate(
        self, buy: dict[tuple[int, int], float], served_by_group: dict[int, np.ndarray]
    ) -> dict[int, np.ndarray]:
        """Per-candidate GPUs served: each group's use split in proportion to its members'
        capacity in each period (what each member contributes)."""
        out: dict[int, np.ndarray] = {}
        kper = self.slices.slice_period
        n_k = self.slices.n_periods
        for gi, arr in served_by_group.items():
            grp = self.groups[gi]
            caps = np.array(
                [
                    [grp.mult[c] * self.units_value(c, k, buy) for k in range(n_k)]
                    for c in grp.members
                ]
            )
            tot = caps.sum(axis=0)
            share = np.divide(caps, tot, out=np.zeros_like(caps), where=tot > 0)
            if len(grp.members) == 1:
                share = np.ones_like(share)
            for i, c in enumerate(grp.members):
                out[c] = arr * share[i][kper][None, :, None]
        return out

    def size(self) -> dict[str, int]:
        n_int = sum(1 for v in self.buy.values() if v.cat == pulp.LpInteger)
        return {
            "variables": len(self.lp.variables()),
            "constraints": int(self.lp.numConstraints()),
            "integer_variables": n_int,
            "scenarios": len(self.probabilities),
            "slices": self.slices.n_slices,
            "pools": len(self.pools),
            "candidates": len(self.table.candidates),
            "purchase_dates": len(self.purchase_dates),
        }


RISK_FAMILIES = ("cvar", "min_utilization", "upfront_budget", "provider_share")


# --------------------------------------------------------------------------------------------
# inputs


def purchase_dates(start: pd.Timestamp, n_hours: int, policy: Policy) -> list[pd.Timestamp]:
    """Now, then every ``ladder_every_months`` months while inside the decision horizon."""
    return valuation.purchase_dates(start, n_hours, policy.ladder_every_months)


def horizon_hours(scenarios: DemandScenarios, policy: Policy, start: pd.Timestamp) -> int:
    """H, the decision horizon in hours (the policy's months, capped at the scenarios)."""
    return valuation.decision_hours(scenarios.n_hours, start, policy.horizon_months)


def check_inputs(scenarios: DemandScenarios, offers: pd.DataFrame, policy: Policy) -> None:
    """Validate at the boundary, with fixes in the messages."""
    policy.validate()
    if scenarios.n_hours < 1:
        raise PlannerInputError("the scenarios hold no hours", fix="forecast a horizon >= 1 hour")
    missing = [c for c in ("offer_id", "purchase_model", "usd_per_gpu_hour") if c not in offers]
    if missing:
        raise PlannerInputError(
            "the offers table lacks catalog columns",
            value=missing,
            fix="pass load_catalog(...).offers",
        )


def tail_scenarios(
    demand_total: np.ndarray, probabilities: np.ndarray, tail_share: float
) -> list[int]:
    """Scenarios with the lowest total demand holding at least ``tail_share`` of probability."""
    order = np.argsort(demand_total, kind="stable")
    out, mass = [], 0.0
    for s in order:
        out.append(int(s))
        mass += float(probabilities[s])
        if mass >= tail_share - 1e-12:
            break
    return sorted(out)


# --------------------------------------------------------------------------------------------
# build functions, in the order build_problem calls them


def define_purchase_variables(pb: Problem) -> None:
    """buy_{c,d} for every buyable candidate and purchase date; which periods each is active in."""
    cands = pb.table.candidates
    bounds_s, bounds_e = pb.slices.period_start_h, pb.slices.period_end_h
    for c, row in cands.iterrows():
        ci = int(c)  # type: ignore[call-overload]
        if not row["buyable"]:
            a = max(0, hours_between(pb.start, row["inventory_start"]))
            b = min(pb.n_hours, hours_between(pb.start, row["inventory_end"]))
            for k in range(len(bounds_s)):
                if a <= bounds_s[k] and bounds_e[k] <= b:
                    pb.inventory_units[(ci, k)] = float(row["inventory_units"])
            pb.inventory_cost_usd += (
                float(row["inventory_units"])
                * float(row["effective_usd_per_unit_hour"])
                * max(0, b - a)
            )
            pb.inventory_npv_usd += float(row["inventory_units"]) * _cash_npv(
                pb, row, a, b, upfront=hours_between(pb.start, row["inventory_start"]) >= 0
            )
            continue
        integer = pb.policy.integer and row["kind"] == "capacity"
        for d, date in enumerate(pb.purchase_dates):
            h0 = int(pb.purchase_h[d])
            h1 = min(
                pb.n_hours,
                hours_between(pb.start, date + pd.DateOffset(months=int(row["term_months"]))),
            )
            var = pb.lp.add_variable(
                f"buy__{pb.names.cand[ci]}__{pb.names.date[d]}",
                lowBound=0,
                cat=pulp.LpInteger if integer else pulp.LpContinuous,
            )
            pb.buy[(ci, d)] = var
            pb.buy_hours_in_horizon[(ci, d)] = float(max(0, h1 - h0))
            full = hours_between(pb.start, date + pd.DateOffset(months=int(row["term_months"])))
            if h1 < full:  # valuation = "horizon": the hours inside, upfront amortised
                span = valuation.span_discount(
                    pb.start,
                    np.array([h0]),
                    np.array([max(h1, h0 + 1)]),
                    pb.policy.discount_rate_pct,
                )[0]
                pb.buy_npv_usd[(ci, d)] = num(row["effective_usd_per_unit_hour"]) * (h1 - h0) * span
            else:
                pb.buy_npv_usd[(ci, d)] = _cash_npv(pb, row, h0, h1, upfront=True)
            for k in range(len(bounds_s)):
                if h0 <= bounds_s[k] and bounds_e[k] <= h1:
                    pb.active.setdefault((ci, k), []).append(d)


def _cash_npv(pb: Problem, row: pd.Series, a_h: int, b_h: int, *, upfront: bool) -> float:
    """NPV of one unit's cash over ``[a_h, b_h)``: upfront at the start of its month (when paid
    inside the timeline), recurring per hour in the months it accrues (planner/valuation.py)."""
    if b_h <= a_h:
        return 0.0
    rate = pb.policy.discount_rate_pct
    span = valuation.span_discount(pb.start, np.array([a_h]), np.array([b_h]), rate)[0]
    cash = num(row["recurring_usd_per_unit_hour"]) * (b_h - a_h) * span
    if upfront:
        first = valuation.span_discount(pb.start, np.array([a_h]), np.array([a_h + 1]), rate)[0]
        cash += num(row["upfront_usd_per_unit"]) * first
    return float(cash)


def define_groups(pb: Problem, *, per_offer: bool) -> None:
    """Group candidates that dispatch alike (see :class:`Group`), so the LP has one serve variable
    per group rather than per offer. Capacity and Savings Plans merge when they serve the same
    pools at proportional rates (e.g. an RI and an EC2 Instance SP of one family and region: an SP
    dollar is 1/r GPUs there). ``per_offer`` (needed when a bound prices used commitment
    spend per offer: CVaR, minimum utilisation) keeps every candidate its own group."""
    cands = pb.table.candidates
    by_c: dict[int, dict[int, float]] = defaultdict(dict)
    for c, p, rate in pb.table.coverage.itertuples(index=False):
        by_c[int(c)][int(p)] = float(rate)
    groups: list[Group] = []
    index: dict[tuple[object, ...], int] = {}
    for c in sorted(by_c):
        kind = str(cands.at[c, "kind"])
        sp = kind == "savings_plan"
        pools = tuple(sorted(by_c[c]))
        # q_p: native capacity used per GPU-hour of pool p (GPUs: 1; Savings Plans: USD rate)
        q = dict(by_c[c]) if sp else dict.fromkeys(pools, 1.0)
        native = 1.0 if sp else num(cands.at[c, "gpus_per_unit"])
        egress = num(cands.at[c, "egress_usd_per_gpu_hour"])
        shape = tuple(round(q[p] / q[pools[0]], 9) for p in pools)
        key: tuple[object, ...] = (pools, egress, shape)
        if pb.policy.max_share_per_provider is not None:  # share is measured per provider
            key = (*key, str(cands.at[c, "provider"]))
        if per_offer:  # merge only offers whose used dollars per GPU-hour are equal everywhere
            key = (*key, tuple(round(pb.value_per_gpu_hour(c, p), 9) for p in pools))
        gi = index.get(key)
        if gi is None:
            index[key] = len(groups)
            groups.append(Group((c,), pools, kind, q, {c: native}, egress))
        else:
            g = groups[gi]
            alpha = q[pools[0]] / g.rho[pools[0]]  # q = alpha * rho
            groups[gi] = Group(
                (*g.members, c), g.pools, g.kind, g.rho, {**g.mult, c: native / alpha}, egress
            )
    pb.groups = groups


def define_dispatch_variables(pb: Problem) -> None:
    """serve_{g,p,s,t} where a member of group g can be active in slice t; spot_{p,s,t} for
    interruptible pools. (The module docstring writes serve per candidate c; grouping is exact.)"""
    n_s, n_t = pb.slices.demand_gpus.shape[:2]
    kper = pb.slices.slice_period
    for gi, grp in enumerate(pb.groups):
        live_t = [
            t
            for t in range(n_t)
            if any(
                (c, int(kper[t])) in pb.active or (c, int(kper[t])) in pb.inventory_units
                for c in grp.members
            )
        ]
        if not live_t:
            continue
        for p in grp.pools:
            pb.serve[(gi, p)] = {
                (s, t): pb.lp.add_variable(
                    f"serve__{pb.names.group[gi]}__{pb.names.pool[p]}__s{s}__{pb.names.slice[t]}",
                    lowBound=0,
                )
                for s in range(n_s)
                for t in live_t
            }
    prices = pb.table.pool_prices
    for p, pool in enumerate(pb.pools):
        spot_price = num(prices.at[p, "spot_usd_per_gpu_hour"])
        cap = num(prices.at[p, "spot_cap_share"])
        if not pool.interruptible or not np.isfinite(spot_price) or not cap > 0:
            continue
        dem = pb.slices.demand_gpus
        pb.spot[p] = {
            (s, t): pb.lp.add_variable(
                f"spot__{pb.names.pool[p]}__s{s}__{pb.names.slice[t]}",
                lowBound=0,
                upBound=cap * float(dem[s, t, p]),
            )
            for s in range(n_s)
            for t in range(n_t)
        }


def define_objective(pb: Problem) -> None:
    """Commitment cost of new purchases plus expected usage cost (module docstring)."""
    cands = pb.table.candidates
    od = pb.table.pool_prices["od_usd_per_gpu_hour"].to_numpy(float)
    spot_price = pb.table.pool_prices["spot_usd_per_gpu_hour"].to_numpy(float)
    prob, dem = pb.probabilities, pb.slices.demand_gpus
    w = pb.slices.weight_h * pb.slice_discount  # discounted hours
    terms: dict[pulp.LpVariable, float] = {}
    for (c, d), var in pb.buy.items():
        cost = pb.buy_npv_usd[(c, d)]
        terms[var] = cost * (1.0 + TIE_BREAK * flexibility_rank(cands.iloc[c]))
    for (gi, p), vs in pb.serve.items():
        e = pb.groups[gi].egress_usd_per_gpu_hour
        for (s, t), var in vs.items():
            terms[var] = prob[s] * w[t] * (e - od[p])
    for p, vs in pb.spot.items():
        for (s, t), var in vs.items():
            terms[var] = prob[s] * w[t] * (spot_price[p] * pb.spot_factor[s] - od[p])
    pb.objective_constant_usd = float(np.einsum("s,t,stp,p->", prob, w, dem, od))
    pb.lp.setObjective(pulp.LpAffineExpression(terms, constant=pb.objective_constant_usd))


def add_demand_balance(pb: Problem) -> None:
    """demand_p_s_t: served by commitments and spot ≤ demand (the rest is on-demand)."""
    by_pst: dict[tuple[int, int, int], dict[pulp.LpVariable, float]] = defaultdict(dict)
    for (_c, p), vs in pb.serve.items():
        for (s, t), var in vs.items():
            by_pst[(p, s, t)][var] = 1.0
    for p, vs in pb.spot.items():
        for (s, t), var in vs.items():
            by_pst[(p, s, t)][var] = 1.0
    for p, vs in pb.serverless.items():
        for (s, t), var in vs.items():
            by_pst[(p, s, t)][var] = 1.0
    dem = pb.slices.demand_gpus
    names = []
    for (p, s, t), terms in by_pst.items():
        if len(terms) == 1:  # a single variable: a bound, not a row
            var = next(iter(terms))
            cap = float(dem[s, t, p])
            var.upBound = cap if var.upBound is None else min(var.upBound, cap)
            continue
        name = f"demand__{pb.names.pool[p]}__s{s}__{pb.names.slice[t]}"
        pb.lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(terms), pulp.LpConstraintLE, name, float(dem[s, t, p])
            )
        )
        names.append(name)
    pb.families["demand"] = names


def add_commitment_capacity(pb: Problem) -> None:
    """capacity_g_s_t (groups with RIs or contracts; GPUs) and sp_dollars_g_s_t (Savings Plans
    only; USD/hour): Σ_p rho_p serve_{g,p,s,t} ≤ cap_{g,k(t)}, where cap_def_g_k defines
    cap_{g,k} = Σ_{c∈g} mult_c U_{c,k} once per group and period (fewer non-zeros than repeating
    the purchases in every scenario's row)."""
    kper = pb.slices.slice_period
    cands = pb.table.candidates
    rows: dict[tuple[int, int, int], dict[pulp.LpVariable, float]] = defaultdict(dict)
    for (gi, p), vs in pb.serve.items():
        rho = pb.groups[gi].rho[p]
        for (s, t), var in vs.items():
            rows[(gi, s, t)][var] = rho
    cap_vars: dict[tuple[int, int], pulp.LpVariable] = {}
    def_names = []
    for gi, grp in enumerate(pb.groups):
        for k in sorted({int(kper[t]) for (g2, _s, t) in rows if g2 == gi}):
            var = pb.lp.add_variable(f"cap__{pb.names.group[gi]}__{pb.names.period[k]}", lowBound=0)
            expr: dict[pulp.LpVariable, float] = {var: 1.0}
            rhs = 0.0
            for c in grp.members:
                for d in pb.active.get((c, k), []):
                    expr[pb.buy[(c, d)]] = -grp.mult[c]
                rhs += grp.mult[c] * pb.inventory_units.get((c, k), 0.0)
            name = f"cap_def__{pb.names.group[gi]}__{pb.names.period[k]}"
            pb.lp.addConstraint(
                pulp.LpConstraint(pulp.LpAffineExpression(expr), pulp.LpConstraintEQ, name, rhs)
            )
            def_names.append(name)
            cap_vars[(gi, k)] = var
    only_sp = [all(cands.at[c, "kind"] == "savings_plan" for c in grp.members) for grp in pb.groups]
    cap_names: list[str] = []
    sp_names: list[str] = []
    for (gi, s, t), terms in rows.items():
        expr = dict(terms)
        expr[cap_vars[(gi, int(kper[t]))]] = -1.0
        kind = "sp_dollars" if only_sp[gi] else "capacity"
        name = f"{kind}__{pb.names.group[gi]}__s{s}__{pb.names.slice[t]}"
        pb.lp.addConstraint(
            pulp.LpConstraint(pulp.LpAffineExpression(expr), pulp.LpConstraintLE, name, 0.0)
        )
        (sp_names if only_sp[gi] else cap_names).append(name)
    pb.families["capacity_definition"] = def_names
    pb.families["capacity"] = cap_names
    pb.families["savings_plan"] = sp_names


def commitment_spend(pb: Problem, *, new_only: bool = False) -> pulp.LpAffineExpression:
    """Commitment spend inside the horizon (USD): new purchases (+ existing unless new_only)."""
    cands = pb.table.candidates
    terms = {
        var: num(cands.at[c, "effective_usd_per_unit_hour"]) * pb.buy_hours_in_horizon[(c, d)]
        for (c, d), var in pb.buy.items()
    }
    return pulp.LpAffineExpression(terms, constant=0.0 if new_only else pb.inventory_cost_usd)


def _used_by_scenario(pb: Problem) -> list[dict[pulp.LpVariable, float]]:
    """used_s as a short expression per scenario: Σ_k used_{s,k}, where used_def_s_k defines
    used_{s,k} = Σ_{g,p,t in k} w_t v_{g,p} serve_{g,p,s,t} (sparse rows instead of one dense row
    per scenario: much easier on the simplex's factorisation)."""
    if pb.used_cache is not None:
        return pb.used_cache
    w, kper = pb.slices.weight_h, pb.slices.slice_period
    parts: dict[tuple[int, int], dict[pulp.LpVariable, float]] = defaultdict(dict)
    cands = pb.table.candidates
    for (gi, p), vs in pb.serve.items():
        grp = pb.groups[gi]
        # USD per group-capacity unit-hour: the cheapest member's (exact when members price alike,
        # as with risk_pricing = "exact"; otherwise used spend is understated, never overstated)
        unit_usd = min(
            num(cands.at[c, "effective_usd_per_unit_hour"]) / grp.mult[c] for c in grp.members
        )
        v = grp.rho[p] * unit_usd
        for (s, t), var in vs.items():
            parts[(s, int(kper[t]))][var] = -w[t] * v
    out: list[dict[pulp.LpVariable, float]] = [{} for _ in range(len(pb.probabilities))]
    names = []
    for (s, k), terms in sorted(parts.items(), key=lambda kv: kv[0]):
        u = pb.lp.add_variable(f"used_usd__s{s}__{pb.names.period[k]}", lowBound=0)
        name = f"used_def__s{s}__{pb.names.period[k]}"
        pb.lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression({u: 1.0, **terms}), pulp.LpConstraintEQ, name, 0.0
            )
        )
        names.append(name)
        out[s][u] = 1.0
    pb.families["used_definition"] = names
    pb.used_cache = out
    return out


def _spend_expression(pb: Problem) -> pulp.LpAffineExpression:
    """All commitment spend in the horizon as one variable (commitment_spend_def) + the constant
    spend of existing commitments, so risk rows do not repeat every purchase."""
    if pb.spend_cache is not None:
        return pb.spend_cache
    spend = commitment_spend(pb, new_only=True)
    var = pb.lp.add_variable("commitment_spend_new_usd", lowBound=0)
    expr = {var: 1.0, **{v: -coef for v, coef in spend.items()}}
    pb.lp.addConstraint(
        pulp.LpConstraint(
            pulp.LpAffineExpression(expr), pulp.LpConstraintEQ, "commitment_spend_def", 0.0
        )
    )
    pb.families["spend_definition"] = ["commitment_spend_def"]
    pb.spend_cache = pulp.LpAffineExpression({var: 1.0}, constant=pb.inventory_cost_usd)
    return pb.spend_cache


def add_cvar_unused_bound(pb: Problem) -> None:
    """cvar_unused_*: CVaR_β of unused commitment spend ≤ the policy's limit(s)."""
    pol = pb.policy
    if pol.cvar_limit_usd is None and pol.cvar_limit_pct is None:
        return
    spend = _spend_expression(pb)
    eta = pb.lp.add_variable("cvar_unused_eta")
    used = _used_by_scenario(pb)
    names = []
    tail_terms: dict[pulp.LpVariable, float] = {eta: 1.0}
    for s, u in enumerate(used):
        z = pb.lp.add_variable(f"cvar_unused_excess__s{s}", lowBound=0)
        tail_terms[z] = float(pb.probabilities[s]) / (1.0 - pol.cvar_beta)
        # z_s ≥ spend − used_s − η  ⇔  z_s + used_s + η − spend_new ≥ inventory spend
        expr = dict(u)
        expr[z] = 1.0
        expr[eta] = 1.0
        for var, coef in spend.items():
            expr[var] = expr.get(var, 0.0) - coef
        name = f"cvar_unused_excess__s{s}"
        pb.lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(expr), pulp.LpConstraintGE, name, spend.constant
            )
        )
        names.append(name)
    if pol.cvar_limit_usd is not None:
        name = "cvar_unused_limit_usd"
        pb.lp.addConstraint(
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
        pb.lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(expr), pulp.LpConstraintLE, name, share * spend.constant
            )
        )
        names.append(name)
    pb.families["cvar"] = names


def add_min_utilization(pb: Problem) -> None:
    """min_util_s: used_s ≥ u_min · spend in each worst-tail scenario."""
    pol = pb.policy
    if pol.min_utilization is None:
        return
    totals = np.einsum("stp,t->s", pb.slices.demand_gpus, pb.slices.weight_h)
    pb.tail_scenarios = tail_scenarios(totals, pb.probabilities, pol.min_utilization_tail)
    spend = _spend_expression(pb)
    used = _used_by_scenario(pb)
    names = []
    for s in pb.tail_scenarios:
        expr = dict(used[s])
        for var, coef in spend.items():
            expr[var] = expr.get(var, 0.0) - pol.min_utilization * coef
        name = f"min_util__s{s}"
        pb.lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(expr),
                pulp.LpConstraintGE,
                name,
                pol.min_utilization * spend.constant,
            )
        )
        names.append(name)
    pb.families["min_utilization"] = names


def add_upfront_budget(pb: Problem) -> None:
    """upfront_d: upfront cash at each purchase date ≤ ``upfront_budget_usd``."""
    budget = pb.policy.upfront_budget_usd
    if budget is None:
        return
    cands = pb.table.candidates
    names = []
    for d in range(len(pb.purchase_dates)):
        terms = {
            var: num(cands.at[c, "upfront_usd_per_unit"])
            for (c, dd), var in pb.buy.items()
            if dd == d and num(cands.at[c, "upfront_usd_per_unit"]) > 0
        }
        if not terms:
            continue
        name = f"upfront__{pb.names.date[d]}"
        pb.lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(terms), pulp.LpConstraintLE, name, float(budget)
            )
        )
        names.append(name)
    pb.families["upfront_budget"] = names


def add_provider_share(pb: Problem) -> None:
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
    m = pb.policy.max_share_per_provider
    if m is None:
        return
    cands = pb.table.candidates
    w, prob = pb.slices.weight_h, pb.probabilities
    by_q: dict[str, dict[pulp.LpVariable, tuple[float, float]]] = defaultdict(dict)
    for (gi, p), vs in pb.serve.items():
        grp = pb.groups[gi]
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
        pb.lp.addConstraint(
            pulp.LpConstraint(pulp.LpAffineExpression(expr), pulp.LpConstraintLE, name, 0.0)
        )
        names.append(name)
    pb.families["provider_share"] = names


def add_risk_averse_objective(pb: Problem) -> None:
    """objective += λ · CVaR_β(cost_s), cost_s = new commitment cost + usage cost of scenario s."""
    lam = pb.policy.risk_aversion
    if lam <= 0:
        return
    beta = pb.policy.cvar_beta
    od = pb.table.pool_prices["od_usd_per_gpu_hour"].to_numpy(float)
    spot_price = pb.table.pool_prices["spot_usd_per_gpu_hour"].to_numpy(float)
    w, dem = pb.slices.weight_h, pb.slices.demand_gpus
    spend = _spend_expression(pb)  # one variable for new spend (+ the existing, a constant)
    per_s: list[dict[pulp.LpVariable, float]] = [dict(spend) for _ in pb.probabilities]
    for (gi, p), vs in pb.serve.items():
        e = pb.groups[gi].egress_usd_per_gpu_hour
        for (s, t), var in vs.items():
            per_s[s][var] = w[t] * (e - od[p])
    for p, vs in pb.spot.items():
        for (s, t), var in vs.items():
            per_s[s][var] = w[t] * (spot_price[p] * pb.spot_factor[s] - od[p])
    for p, vs in pb.serverless.items():
        for (s, t), var in vs.items():
            per_s[s][var] = w[t] * (pb.serverless_rate[p][(s, t)] - od[p])
    const_s = np.einsum("t,stp,p->s", w, dem, od)
    zeta = pb.lp.add_variable("risk_cost_zeta")
    obj = dict(pb.lp.objective)
    obj[zeta] = obj.get(zeta, 0.0) + lam
    names = []
    for s, terms in enumerate(per_s):
        y = pb.lp.add_variable(f"risk_cost_excess__s{s}", lowBound=0)
        obj[y] = lam * float(pb.probabilities[s]) / (1 - beta)
        expr = {var: -coef for var, coef in terms.items()}
        expr[y] = 1.0
        expr[zeta] = 1.0
        name = f"risk_cost_excess__s{s}"
        pb.lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(expr), pulp.LpConstraintGE, name, float(const_s[s])
            )
        )
        names.append(name)
    pb.lp.setObjective(pulp.LpAffineExpression(obj, constant=pb.lp.objective.constant))
    pb.families["risk_aversion"] = names


def add_elastic_slack(pb: Problem) -> None:
    """relax_<family>: one elastic slack per risk family, in every row of the family (− in ≤ rows,
    + in ≥ rows), with upper bound 0. The diagnosis of an infeasible plan frees one family's slack
    at a time (bounds through PuLP's public API) instead of removing constraints."""
    for fam in RISK_FAMILIES:
        names = pb.families.get(fam, [])
        if not names:
            continue
        var = pb.lp.add_variable(f"relax_{fam}", lowBound=0, upBound=0)
        for name in names:
            con = pb.lp.get_constraint_by_name(name)
            if con is None:
                continue
            con.expr.addterm(var, -1.0 if con.sense == pulp.LpConstraintLE else 1.0)
        pb.elastic[fam] = var


def family_of(pb: Problem, c: int) -> str:
    """A commitment family: (purchase model, GPU type, region); Compute SPs are one family."""
    row = pb.table.candidates.iloc[c]
    gpu = str(row["gpu_type"]) or "any"
    region = str(row["region"]) or "any"
    return f"{row['purchase_model']}|{gpu}|{region}"


def define_curve_amounts(pb: Problem) -> None:
    """amount_<family> = Σ_c mult_c buy_{c,0} [amount_def_<family>] for every family bought now
    (GPUs, or USD/hour for Savings Plans): savings curves fix this variable's bounds per point,
    so the LP's rows never change between the solve and its re-solves."""
    if pb.policy.savings_curve_points <= 0:
        return
    cands = pb.table.candidates
    fams: dict[str, list[int]] = defaultdict(list)
    for c, d in pb.buy:
        if d == 0:
            fams[family_of(pb, c)].append(c)
    for fam, cs in sorted(fams.items()):
        sp = cands.at[cs[0], "kind"] == "savings_plan"
        var = pb.lp.add_variable(f"curve_amount__{lp_safe(fam)}", lowBound=0)
        expr: dict[pulp.LpVariable, float] = {var: 1.0}
        for c in cs:
            expr[pb.buy[(c, 0)]] = -(1.0 if sp else num(cands.at[c, "gpus_per_unit"]))
        pb.lp.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(expr),
                pulp.LpConstraintEQ,
                f"curve_amount_def__{lp_safe(fam)}",
                0.0,
            )
        )
        pb.curve_amount[fam] = var


def lp_safe(text: str) -> str:
    """A name LP file formats accept: letters, digits, underscores and dots only."""
    return re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_")


def build_problem(
    scenarios: DemandScenarios,
    offers: pd.DataFrame,
    inventory: list[Commitment],
    policy: Policy,
    *,
    as_of: pd.Timestamp | None = None,
    serverless: ServerlessSetup | None = None,
) -> Problem:
    """Build the LP (module docstring). Pure: the inputs are not changed.

    ``as_of`` is informative: the plan's "now" is the scenarios' start. ``serverless``: options for
    scale-to-zero pools (:mod:`planner.optimize.serverless`).
    """
    check_inputs(scenarios, offers, policy)
    start = pd.Timestamp(scenarios.start)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    n_hours = horizon_hours(scenarios, policy, start)
    vp = valuation.valuation_for(
        scenarios.demand_gpus, start, policy, inventory, seed=scenarios.seed, offers=offers
    )
    n_value = vp.timeline.valuation_hours
    end = start + pd.Timedelta(hours=n_value)
    table = build_cost_table(offers, scenarios.pools, inventory, policy, window=(start, end))
    dates = purchase_dates(start, n_hours, policy)
    cuts: set[int] = {hours_between(start, d) for d in dates}
    for d in dates:
        for term in set(table.candidates["term_months"].astype(int)):
            cuts.add(hours_between(start, d + pd.DateOffset(months=term)))
    for _, row in table.candidates[~table.candidates["buyable"].astype(bool)].iterrows():
        cuts.add(hours_between(start, row["inventory_start"]))
        cuts.add(hours_between(start, row["inventory_end"]))
    head = reduce_time(
        scenarios.demand_gpus[:, :n_hours, :],
        start,
        method=policy.time_reduction,
        period=policy.period,
        blocks=policy.blocks_per_period,
        extra_boundaries_h=cuts,
    )
    slices = append_rows(head, vp)
    span_delta = valuation.span_discount(
        start, slices.period_start_h, slices.period_end_h, policy.discount_rate_pct
    )
    pb = Problem(
        lp=pulp.LpProblem("gpu_commitment_plan", pulp.LpMinimize),
        policy=policy,
        pools=scenarios.pools,
        table=table,
        slices=slices,
        probabilities=np.asarray(scenarios.probabilities, dtype=float),
        start=start,
        n_hours=n_value,
        purchase_dates=dates,
        purchase_h=np.array([hours_between(start, d) for d in dates], dtype=np.int64),
        decision_hours=n_hours,
        valuation=vp,
        slice_discount=span_delta[slices.slice_period],
    )
    priced = (
        policy.cvar_limit_usd is not None
        or policy.cvar_limit_pct is not None
        or policy.min_utilization is not None
    )
    define_groups(pb, per_offer=priced and policy.risk_pricing == "exact")
    pb.names = make_names(pb)
    define_purchase_variables(pb)
    define_dispatch_variables(pb)
    define_objective(pb)
    add_serverless(pb, scenarios, serverless)
    add_demand_balance(pb)
    add_commitment_capacity(pb)
    add_cvar_unused_bound(pb)
    add_min_utilization(pb)
    add_upfront_budget(pb)
    add_provider_share(pb)
    add_risk_averse_objective(pb)
    add_elastic_slack(pb)
    define_curve_amounts(pb)
    return pb


def summary(pb: Problem) -> dict[str, Any]:
    """Sizes and hours, for the plan's record."""
    out: dict[str, Any] = pb.size()
    out["horizon_hours"] = pb.decision_hours
    out["horizon_months_effective"] = round(pb.decision_hours / HOURS_PER_MONTH, 3)
    out["valuation_hours"] = pb.n_hours
    out["valuation_months_effective"] = round(pb.n_hours / HOURS_PER_MONTH, 3)
    return out
