r"""The data of the commitment LP: a frozen :class:`ProblemIndex` of every set, map and number the
LP (:mod:`planner.optimize.problem`, whose docstring holds the maths) and the read-back
(:mod:`planner.optimize.result`) need, computed by pure functions from (scenarios, offers,
inventory, policy, serverless options). It holds no PuLP object: building the LP from one index
twice gives the same LP, and the plan's figures are read from the index and a solution's values.

What it holds (the symbols of planner/optimize/problem.py)
    the sets: pools P, scenarios S (probabilities π_s), time slices T (weights w_t, periods k(t),
    discount δ_t), candidates C (:class:`~planner.optimize.offers.CostTable`), purchase dates D
    (hours h_d), dispatch groups (:class:`Group`) and the LP-safe names of all of them (:class:`Names`);
    the purchases: which (c, d) exist and are integer, the periods each is active in
    (a_{c,d,k} = 1), its hours inside the valuation horizon and its cash NPV N_{c,d} per unit;
    the existing commitments: units I_{c,k} per period, their spend and remaining cash NPV;
    v_{c,p}, commitment USD one GPU-hour of pool p uses when c serves it;
    the slices where each group can serve, the spot cap κ_p of interruptible pools, the
    objective's constant Σ π_s w_t δ_t o_p D_{s,t,p}, the worst-tail scenarios of the minimum
    utilisation bound, and the serverless pools with their USD per held GPU-hour moved
    (:class:`planner.optimize.serverless.ServerlessPool`).

Scenario reduction (policy ``scenario_reduction``, ``reduce_scenarios_to``)
    The LP's time grows about as S^1.8 in the scenarios (bench/RESULTS-scale.md), so for large
    problems the index is built on k of the S scenarios, chosen by fast forward selection
    (:mod:`planner.optimize.scenario_reduction`) on weekly mean demand per pool weighted by the
    pool's on-demand USD per GPU-hour (a scenario distance in dollars per hour); each dropped
    scenario's probability moves to its nearest kept one. The LP's valuation paths are the full
    set's rows of the kept scenarios (same tail draws and spot price factors), and the index
    keeps the full set's paths and probabilities for the referee, which bills the plan and
    checks every bound on all S (:attr:`ProblemIndex.billing_valuation`). "auto" reduces when
    S > k and S × P >= :data:`AUTO_MIN_SCENARIO_POOLS`; "on" whenever S > k; "off" never.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import pandas as pd

import planner.valuation as valuation
from forecasting.scenarios import DemandScenarios, Pool
from planner.evaluate.bounds import tail_scenarios
from planner.inventory import Commitment
from planner.optimize.offers import CostTable, build_cost_table, num
from planner.optimize.scenario_reduction import reduce_scenarios
from planner.optimize.serverless import ServerlessPool, serverless_pools
from planner.optimize.time_reduction import TimeSlices, append_rows, hours_between, reduce_time
from planner.policy import Policy
from planner.serverless import ServerlessSetup
from planner.valuation import ValuationPaths
from pricing_data.errors import PlannerInputError

K = TypeVar("K")
V = TypeVar("V")

#: "auto" scenario reduction applies from this many scenarios × pools up (100 scenarios, 4 pools)
#: and only when there are more than ``Policy.reduce_scenarios_to`` (50) scenarios
AUTO_MIN_SCENARIO_POOLS = 400


def _frozen_map(d: dict[K, V]) -> Mapping[K, V]:
    """A read-only view of ``d`` (the index owns ``d``: nobody else holds it)."""
    return MappingProxyType(d)


def _frozen_array(a: np.ndarray) -> np.ndarray:
    out = np.array(a, copy=True)
    out.flags.writeable = False
    return out


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


@dataclass(frozen=True, eq=False)
class ProblemIndex:
    """Everything the LP and its read-back need, frozen (module docstring). Built by
    :func:`build_index`; mappings are read-only views and arrays it owns are not writeable."""

    policy: Policy
    pools: tuple[Pool, ...]
    table: CostTable
    slices: TimeSlices
    probabilities: np.ndarray  # π_s
    start: pd.Timestamp
    n_hours: int  # V: the valuation horizon (every bought term ends inside it)
    decision_hours: int  # H: purchases start inside [0, H)
    purchase_dates: tuple[pd.Timestamp, ...]
    purchase_h: np.ndarray  # h_d
    valuation: ValuationPaths
    slice_discount: np.ndarray  # δ_t
    groups: tuple[Group, ...]
    names: Names
    value_usd_per_gpu_hour: Mapping[tuple[int, int], float]  # (c, p) -> v_{c,p}
    buy_keys: tuple[tuple[int, int], ...]  # every purchase (c, d), candidate-major
    buy_integer: frozenset[tuple[int, int]]  # purchases in whole units
    buy_hours_in_horizon: Mapping[tuple[int, int], float]
    buy_npv_usd: Mapping[tuple[int, int], float]  # N_{c,d}: per unit, full term
    active: Mapping[tuple[int, int], tuple[int, ...]]  # (c, period) -> [d]
    inventory_units: Mapping[tuple[int, int], float]  # (c, period) -> I_{c,k}
    inventory_cost_usd: float  # existing commitments' spend in the valuation horizon
    inventory_npv_usd: float  # remaining cash of existing commitments (upfront sunk)
    live_slices: tuple[tuple[int, ...], ...]  # per group: slices where a member can be active
    spot_cap_share: Mapping[int, float]  # p -> κ_p, pools with spot
    objective_constant_usd: float  # Σ π_s w_t δ_t o_p D_{s,t,p}: all on-demand
    tail_scenarios: tuple[int, ...]  # minimum utilisation's worst tail (empty without the bound)
    serverless: tuple[ServerlessPool, ...]
    serverless_offered: bool  # the run had serverless options (the LP family exists)
    # the full scenario set's paths and probabilities when the LP's are reduced (None: the same)
    full_valuation: ValuationPaths | None = None
    full_probabilities: np.ndarray | None = None
    scenario_reduction: Mapping[str, Any] | None = None  # what was kept (the plan's record)

    @property
    def billing_valuation(self) -> ValuationPaths:
        """The paths the referee bills on: every scenario of the run, reduced or not."""
        return self.valuation if self.full_valuation is None else self.full_valuation

    @property
    def billing_probabilities(self) -> np.ndarray:
        """π of the scenarios the referee bills on (:attr:`billing_valuation`)."""
        return self.probabilities if self.full_probabilities is None else self.full_probabilities

    @property
    def spot_factor(self) -> np.ndarray:
        """m_s: each scenario's spot price multiplier (planner/valuation.py)."""
        return self.valuation.spot_price_factor

    @property
    def discounted_weight_h(self) -> np.ndarray:
        """w_t δ_t: each slice's hours, discounted."""
        out: np.ndarray = self.slices.weight_h * self.slice_discount
        return out

    def value_per_gpu_hour(self, c: int, p: int) -> float:
        """v_{c,p}: commitment dollars one GPU-hour of pool p served by c uses."""
        return self.value_usd_per_gpu_hour[(c, p)]

    def units_value(self, c: int, k: int, buy: Mapping[tuple[int, int], float]) -> float:
        """U_{c,k} for solved purchase values ``buy``."""
        return self.inventory_units.get((c, k), 0.0) + sum(
            buy.get((c, d), 0.0) for d in self.active.get((c, k), ())
        )

    def split_by_candidate(
        self, buy: Mapping[tuple[int, int], float], served_by_group: Mapping[int, np.ndarray]
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

    def pool_of(self, name: str) -> int | None:
        """The position of the pool called ``name``, or None."""
        return next((i for i, q in enumerate(self.pools) if q.name == name), None)


# --------------------------------------------------------------------------------------------
# inputs


def lp_safe(text: str) -> str:
    """A name LP file formats accept: letters, digits, underscores and dots only."""
    return re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_")


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


# --------------------------------------------------------------------------------------------
# the index's parts, in the order build_index computes them


def time_slices(
    scenarios: DemandScenarios,
    table: CostTable,
    vp: ValuationPaths,
    policy: Policy,
    start: pd.Timestamp,
    n_hours: int,
    dates: list[pd.Timestamp],
) -> TimeSlices:
    """The decision horizon reduced to weighted slices with a boundary at every purchase date,
    term end and inventory start/end, then the tail model's coarse rows to the valuation end."""
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
    return append_rows(head, vp)


def unit_values(table: CostTable) -> dict[tuple[int, int], float]:
    """v_{c,p} for every (candidate, pool) it covers: the Savings Plan's rate, or a capacity
    offer's effective USD per unit-hour over its GPUs per unit."""
    cands = table.candidates
    out: dict[tuple[int, int], float] = {}
    for cc, pp, rate in table.coverage.itertuples(index=False):
        cc, pp = int(cc), int(pp)
        if cands.at[cc, "kind"] == "savings_plan":
            out[(cc, pp)] = float(rate)
        else:
            out[(cc, pp)] = num(cands.at[cc, "effective_usd_per_unit_hour"]) / num(
                cands.at[cc, "gpus_per_unit"]
            )
    return out


def make_groups(
    table: CostTable,
    policy: Policy,
    values: Mapping[tuple[int, int], float],
    *,
    per_offer: bool,
) -> list[Group]:
    """Group candidates that dispatch alike (see :class:`Group`), so the LP has one serve variable
    per group rather than per offer. Capacity and Savings Plans merge when they serve the same
    pools at proportional rates (e.g. an RI and an EC2 Instance SP of one family and region: an SP
    dollar is 1/r GPUs there). ``per_offer`` (needed when a bound prices used commitment
    spend per offer: CVaR, minimum utilisation) keeps every candidate its own group."""
    cands = table.candidates
    by_c: dict[int, dict[int, float]] = defaultdict(dict)
    for c, p, rate in table.coverage.itertuples(index=False):
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
        if policy.max_share_per_provider is not None:  # share is measured per provider
            key = (*key, str(cands.at[c, "provider"]))
        if per_offer:  # merge only offers whose used dollars per GPU-hour are equal everywhere
            key = (*key, tuple(round(values[(c, p)], 9) for p in pools))
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
    return groups


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


def make_names(
    table: CostTable,
    groups: list[Group],
    pools: tuple[Pool, ...],
    start: pd.Timestamp,
    dates: list[pd.Timestamp],
    slices: TimeSlices,
) -> Names:
    """Labels for the candidates, groups, pools, purchase dates, periods and slices."""
    cand = _unique([lp_safe(str(k)) for k in table.candidates["key"]])
    group = _unique(
        [
            cand[g.members[0]] + (f"_plus{len(g.members) - 1}" if len(g.members) > 1 else "")
            for g in groups
        ]
    )
    period = _unique([_day(start + pd.Timedelta(hours=int(h))) for h in slices.period_start_h])
    kper = slices.slice_period
    block = np.zeros(len(kper), dtype=np.int64)
    for t in range(1, len(kper)):
        block[t] = block[t - 1] + 1 if kper[t] == kper[t - 1] else 0
    return Names(
        cand=cand,
        group=group,
        pool=_unique([lp_safe(p.name) for p in pools]),
        date=tuple(_day(d) for d in dates),
        period=period,
        slice=tuple(f"{period[int(k)]}_b{int(b)}" for k, b in zip(kper, block, strict=True)),
    )


def cash_npv(
    row: pd.Series,
    start: pd.Timestamp,
    discount_rate_pct: float,
    a_h: int,
    b_h: int,
    *,
    upfront: bool,
) -> float:
    """NPV of one unit's cash over ``[a_h, b_h)``: upfront at the start of its month (when paid
    inside the timeline), recurring per hour in the months it accrues (planner/valuation.py)."""
    if b_h <= a_h:
        return 0.0
    rate = discount_rate_pct
    span = valuation.span_discount(start, np.array([a_h]), np.array([b_h]), rate)[0]
    cash = num(row["recurring_usd_per_unit_hour"]) * (b_h - a_h) * span
    if upfront:
        first = valuation.span_discount(start, np.array([a_h]), np.array([a_h + 1]), rate)[0]
        cash += num(row["upfront_usd_per_unit"]) * first
    return float(cash)


@dataclass(frozen=True)
class _Commitments:
    """The purchases and the existing commitments (the fields of :class:`ProblemIndex`)."""

    buy_keys: tuple[tuple[int, int], ...]
    buy_integer: frozenset[tuple[int, int]]
    buy_hours_in_horizon: dict[tuple[int, int], float]
    buy_npv_usd: dict[tuple[int, int], float]
    active: dict[tuple[int, int], tuple[int, ...]]
    inventory_units: dict[tuple[int, int], float]
    inventory_cost_usd: float
    inventory_npv_usd: float


def commitments(
    table: CostTable,
    policy: Policy,
    start: pd.Timestamp,
    n_hours: int,
    dates: list[pd.Timestamp],
    purchase_h: np.ndarray,
    slices: TimeSlices,
) -> _Commitments:
    """Every purchase (c, d) of a buyable candidate: whether it is in whole units, the periods it
    is active in, its hours inside the valuation horizon and its cash NPV per unit; every existing
    commitment's units per period, spend and remaining cash NPV."""
    cands = table.candidates
    bounds_s, bounds_e = slices.period_start_h, slices.period_end_h
    keys: list[tuple[int, int]] = []
    integer: set[tuple[int, int]] = set()
    hours: dict[tuple[int, int], float] = {}
    npv: dict[tuple[int, int], float] = {}
    active: dict[tuple[int, int], list[int]] = {}
    inv_units: dict[tuple[int, int], float] = {}
    inv_cost = inv_npv = 0.0
    rate = policy.discount_rate_pct
    for c, row in cands.iterrows():
        ci = int(c)  # type: ignore[call-overload]
        if not row["buyable"]:
            a = max(0, hours_between(start, row["inventory_start"]))
            b = min(n_hours, hours_between(start, row["inventory_end"]))
            for k in range(len(bounds_s)):
                if a <= bounds_s[k] and bounds_e[k] <= b:
                    inv_units[(ci, k)] = float(row["inventory_units"])
            inv_cost += (
                float(row["inventory_units"])
                * float(row["effective_usd_per_unit_hour"])
                * max(0, b - a)
            )
            inv_npv += float(row["inventory_units"]) * cash_npv(
                row, start, rate, a, b, upfront=hours_between(start, row["inventory_start"]) >= 0
            )
            continue
        whole = policy.integer and row["kind"] == "capacity"
        for d, date in enumerate(dates):
            h0 = int(purchase_h[d])
            end = hours_between(start, date + pd.DateOffset(months=int(row["term_months"])))
            h1 = min(n_hours, end)
            keys.append((ci, d))
            if whole:
                integer.add((ci, d))
            hours[(ci, d)] = float(max(0, h1 - h0))
            if h1 < end:  # valuation = "horizon": the hours inside, upfront amortised
                span = valuation.span_discount(
                    start, np.array([h0]), np.array([max(h1, h0 + 1)]), rate
                )[0]
                npv[(ci, d)] = num(row["effective_usd_per_unit_hour"]) * (h1 - h0) * span
            else:
                npv[(ci, d)] = cash_npv(row, start, rate, h0, h1, upfront=True)
            for k in range(len(bounds_s)):
                if h0 <= bounds_s[k] and bounds_e[k] <= h1:
                    active.setdefault((ci, k), []).append(d)
    return _Commitments(
        buy_keys=tuple(keys),
        buy_integer=frozenset(integer),
        buy_hours_in_horizon=hours,
        buy_npv_usd=npv,
        active={k: tuple(v) for k, v in active.items()},
        inventory_units=inv_units,
        inventory_cost_usd=inv_cost,
        inventory_npv_usd=inv_npv,
    )


def live_slices(
    groups: list[Group],
    slices: TimeSlices,
    active: Mapping[tuple[int, int], object],
    inventory_units: Mapping[tuple[int, int], float],
) -> tuple[tuple[int, ...], ...]:
    """Per group, the slices where one of its members (bought or held) can be active."""
    kper = slices.slice_period
    return tuple(
        tuple(
            t
            for t in range(slices.n_slices)
            if any(
                (c, int(kper[t])) in active or (c, int(kper[t])) in inventory_units
                for c in grp.members
            )
        )
        for grp in groups
    )


def spot_caps(table: CostTable, pools: tuple[Pool, ...]) -> dict[int, float]:
    """κ_p for interruptible pools with a spot price and a positive cap (spot_{p,s,t} exists)."""
    prices = table.pool_prices
    out: dict[int, float] = {}
    for p, pool in enumerate(pools):
        spot_price = num(prices.at[p, "spot_usd_per_gpu_hour"])
        cap = num(prices.at[p, "spot_cap_share"])
        if pool.interruptible and np.isfinite(spot_price) and cap > 0:
            out[p] = cap
    return out


def reduction_target(n_scenarios: int, n_pools: int, policy: Policy) -> int | None:
    """How many scenarios the LP keeps, or None for all (module docstring)."""
    k = int(policy.reduce_scenarios_to)
    if policy.scenario_reduction == "off" or n_scenarios <= k:
        return None
    if policy.scenario_reduction == "auto" and n_scenarios * n_pools < AUTO_MIN_SCENARIO_POOLS:
        return None
    return k


def reduce_for_lp(
    scenarios: DemandScenarios, vp: ValuationPaths, table: CostTable, policy: Policy
) -> tuple[DemandScenarios, ValuationPaths, dict[str, Any] | None]:
    """The scenarios and valuation paths the LP is built on, and the reduction's record (None
    when nothing is dropped). Features: weekly mean demand per pool times the pool's on-demand
    USD per GPU-hour, so the Kantorovich distance is in USD per hour."""
    k = reduction_target(scenarios.n_scenarios, len(scenarios.pools), policy)
    if k is None:
        return scenarios, vp, None
    od = np.nan_to_num(table.pool_prices["od_usd_per_gpu_hour"].to_numpy(float), nan=0.0)
    reduced = reduce_scenarios(scenarios, k, pool_weights=od)
    info = dict(reduced.meta["reduction"])
    kept = np.array(info["kept"], dtype=np.int64)
    lp_vp = replace(
        vp, demand_gpus=vp.demand_gpus[kept], spot_price_factor=vp.spot_price_factor[kept]
    )
    record = {
        "method": info["method"],
        "mode": policy.scenario_reduction,
        "from_scenarios": int(scenarios.n_scenarios),
        "kept_scenarios": len(kept),
        "kept": [int(i) for i in kept],
        "probabilities": [float(q) for q in reduced.probabilities],
        "kantorovich_distance_usd_per_hour": float(info["distance"]),
        "features": f"mean demand per {info['block_h']} h block and pool x on-demand USD/GPU-hour",
        "billed_on": "all scenarios (the evaluator bills the plan and checks bounds on the full set)",
    }
    return reduced, lp_vp, record


def build_index(
    scenarios: DemandScenarios,
    offers: pd.DataFrame,
    inventory: list[Commitment],
    policy: Policy,
    *,
    serverless: ServerlessSetup | None = None,
) -> ProblemIndex:
    """The problem's data (module docstring). Pure: the inputs are not changed."""
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
    full_vp, full_prob = vp, np.asarray(scenarios.probabilities, dtype=float)
    scenarios, vp, reduction = reduce_for_lp(scenarios, vp, table, policy)
    dates = purchase_dates(start, n_hours, policy)
    slices = time_slices(scenarios, table, vp, policy, start, n_hours, dates)
    span_delta = valuation.span_discount(
        start, slices.period_start_h, slices.period_end_h, policy.discount_rate_pct
    )
    slice_discount = span_delta[slices.slice_period]
    prob = np.asarray(scenarios.probabilities, dtype=float)
    purchase_h = np.array([hours_between(start, d) for d in dates], dtype=np.int64)
    priced = (
        policy.cvar_limit_usd is not None
        or policy.cvar_limit_pct is not None
        or policy.min_utilization is not None
    )
    values = unit_values(table)
    groups = make_groups(table, policy, values, per_offer=priced and policy.risk_pricing == "exact")
    names = make_names(table, groups, scenarios.pools, start, dates, slices)
    held = commitments(table, policy, start, n_value, dates, purchase_h, slices)
    od = table.pool_prices["od_usd_per_gpu_hour"].to_numpy(float)
    w = slices.weight_h * slice_discount  # discounted hours
    constant = float(np.einsum("s,t,stp,p->", prob, w, slices.demand_gpus, od))
    tail: list[int] = []
    if policy.min_utilization is not None:
        totals = np.einsum("stp,t->s", slices.demand_gpus, slices.weight_h)
        tail = tail_scenarios(totals, prob, policy.min_utilization_tail)
    sl_pools = serverless_pools(scenarios, serverless, slices, start, n_hours, w, od)
    return ProblemIndex(
        policy=policy,
        pools=scenarios.pools,
        table=table,
        slices=slices,
        probabilities=_frozen_array(prob),
        start=start,
        n_hours=n_value,
        decision_hours=n_hours,
        purchase_dates=tuple(dates),
        purchase_h=_frozen_array(purchase_h),
        valuation=vp,
        slice_discount=_frozen_array(slice_discount),
        groups=tuple(groups),
        names=names,
        value_usd_per_gpu_hour=_frozen_map(values),
        buy_keys=held.buy_keys,
        buy_integer=held.buy_integer,
        buy_hours_in_horizon=_frozen_map(held.buy_hours_in_horizon),
        buy_npv_usd=_frozen_map(held.buy_npv_usd),
        active=_frozen_map(held.active),
        inventory_units=_frozen_map(held.inventory_units),
        inventory_cost_usd=held.inventory_cost_usd,
        inventory_npv_usd=held.inventory_npv_usd,
        live_slices=live_slices(groups, slices, held.active, held.inventory_units),
        spot_cap_share=_frozen_map(spot_caps(table, scenarios.pools)),
        objective_constant_usd=constant,
        tail_scenarios=tuple(tail),
        serverless=sl_pools,
        serverless_offered=serverless is not None and bool(serverless.options),
        full_valuation=None if reduction is None else full_vp,
        full_probabilities=None if reduction is None else _frozen_array(full_prob),
        scenario_reduction=None if reduction is None else _frozen_map(reduction),
    )
