r"""Serverless (scale-to-zero) GPUs in the same LP as commitments, spot and on-demand.

A pool marked ``scale_to_zero`` (a pool rule) with a busy measure may move held GPU-hours to a
serverless provider, which bills only the busy share of them. Per pool p with an option:

Data
    c_p    USD per busy GPU-hour on serverless: list price × m × (1 + cold-start %/100) × k(i)
           (k the billing increment's uplift, :func:`forecasting.busy.billing_uplift`), the
           cheapest allowed provider for the pool's GPU type (:class:`planner.serverless.ServerlessOption`);
    f_p(h) the pool's historical busy fraction by UTC hour of day (:mod:`forecasting.busy`);
    ρ_{s,t,p} = B_{s,t,p} / D_{s,t,p}, the busy share of held demand in slice t, where
           B_{s,h,p} = f_p(hour(h)) · D_{s,h,p} is reduced to slices with the held demand's own
           grouping (:func:`slice_busy_share`); on the whole-term tail's coarse slices (after the
           decision horizon) ρ = f̄_p, the pool's overall busy fraction, as the evaluator bills;
    W_p    ``min_warm_gpus`` kept warm when the whole pool is serverless, billed at the list
           price × m every hour.

Variables
    sl_{p,s,t} ∈ [0, D_{s,t,p}]  held GPUs of pool p moved to serverless in slice t of scenario s,
    over every slice of the valuation horizon (serverless is usage: it has no term of its own, it
    competes with the commitments' whole terms)
    (created only where ρ c_p < o_p: elsewhere on-demand is already cheaper);
    hybrid = false: x_p ∈ [0, 1] (integer when the policy is), the pool is all serverless or not,
    with rows [serverless_all_p_s_t]  sl_{p,s,t} = D_{s,t,p} x_p.

Objective (added; δ_t the slice's discount factor, as in planner.optimize.problem)
    Σ_s π_s Σ_t w_t δ_t (ρ_{s,t,p} c_p − o_p) sl_{p,s,t}
        [+ x_p · W_p · price_p · Σ_t w_t δ_t for all-or-nothing]
    and sl joins the demand row: Σ_c serve + spot + sl ≤ D (on-demand is the rest).

Hybrid (the policy's ``hybrid = true``) lets each slice choose: commitments serve the base (they
are paid anyway), bursts whose busy share is low go to serverless. The LP counts warm GPUs on top
of busy time (an upper bound); the evaluator bills max(busy, warm) each hour.

Break-even: serverless beats a held GPU-hour costing r (on-demand, or a commitment's effective rate
fully used) when the busy fraction f < r / c_p (:func:`planner.serverless.breakeven_table`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pulp

from forecasting.scenarios import DemandScenarios
from planner.optimize.offers import num
from planner.optimize.time_reduction import TimeSlices
from planner.serverless import ServerlessOption, ServerlessSetup, breakeven_table

if TYPE_CHECKING:
    from planner.optimize.index import ProblemIndex
    from planner.optimize.solve import SolvedValues

# --------------------------------------------------------------------------------------------
# the data (planner.optimize.index)


@dataclass(frozen=True, eq=False)
class ServerlessPool:
    """One pool that may move held GPU-hours to serverless: its position ``pool``, the option,
    ``choose`` (all or nothing: x_p exists), ``usd_per_held_gpu_hour`` ρ_{s,t} c_p (n_s, n_t),
    the slices ``keys`` (s, t) where sl_{p,s,t} exists (all of them for "choose", else where
    ρ c_p < o_p) and ``warm_usd``, x_p's objective coefficient W_p · price_p · Σ_t w_t δ_t."""

    pool: int
    option: ServerlessOption
    choose: bool
    usd_per_held_gpu_hour: np.ndarray
    keys: tuple[tuple[int, int], ...]
    warm_usd: float


def slice_busy_share(
    slices: TimeSlices,
    start: pd.Timestamp,
    held: np.ndarray,
    busy: np.ndarray,
    slice_held: np.ndarray,
    overall: float,
) -> np.ndarray:
    """ρ_{s,t} for one pool: busy over held GPU-hours of the hours slice t stands for.

    ``held``/``busy`` are hourly (n_scenarios, decision hours) from ``start``; ``slice_held`` the
    slices' held demand (n_scenarios, n_slices). In the decision horizon the hours are grouped as
    :func:`planner.optimize.time_reduction.reduce_time` groups them (hours sorted by held demand;
    ties by busy time, so equal held hours keep their busiest together); when the grouping does
    not reproduce the slices' held demand (another reduction), each period's mean ratio is used.
    The whole-term tail's coarse rows (no hour of day) get the pool's overall busy fraction
    ``overall`` (f̄), as the evaluator bills them.
    """
    sl = slices
    n_s = held.shape[0]
    num = np.zeros((n_s, sl.n_slices))
    den = np.zeros((n_s, sl.n_slices))
    method = sl.method
    n_dec = held.shape[1]
    ts = pd.date_range(start, periods=max(n_dec, 1), freq="h")
    hod = np.asarray(ts.hour, dtype=np.int64)
    head = [k for k in range(sl.n_periods) if int(sl.period_end_h[k]) <= n_dec]
    head_t = np.flatnonzero(np.isin(sl.slice_period, head))
    exact = True
    for k in head:
        a, b = int(sl.period_start_h[k]), int(sl.period_end_h[k])
        idx = np.flatnonzero(sl.slice_period == k)
        n_t = len(idx)
        for s in range(n_s):
            d, bz = held[s, a:b], busy[s, a:b]
            if method == "hourly":
                groups = [np.array([i]) for i in range(b - a)]
            elif method == "typical_days":
                groups = [np.flatnonzero(hod[a:b] == h) for h in np.unique(hod[a:b])]
            else:
                order = np.lexsort((-bz, -d))
                groups = np.array_split(order, n_t)
            if len(groups) != n_t:
                exact = False
                groups = np.array_split(np.arange(b - a), n_t)
            for j, g in enumerate(groups):
                num[s, idx[j]] = bz[g].sum()
                den[s, idx[j]] = d[g].sum()
    share = np.full((n_s, sl.n_slices), float(overall))
    head_share = np.divide(
        num[:, head_t], den[:, head_t], out=np.zeros((n_s, len(head_t))), where=den[:, head_t] > 0
    )
    # the grouping is the slices' own only if it reproduces their held demand
    exact = exact and bool(
        np.allclose(
            den[:, head_t] / sl.weight_h[None, head_t],
            slice_held[:, head_t],
            rtol=1e-6,
            atol=1e-6,
        )
    )
    share[:, head_t] = head_share
    if exact:
        return share
    for k in head:  # fallback: the period's mean busy share in each of its slices
        idx = np.flatnonzero(sl.slice_period == k)
        tot = np.divide(
            num[:, idx].sum(axis=1),
            den[:, idx].sum(axis=1),
            out=np.zeros(n_s),
            where=den[:, idx].sum(axis=1) > 0,
        )
        share[:, idx] = tot[:, None]
    return share


def serverless_pools(
    scenarios: DemandScenarios,
    setup: ServerlessSetup | None,
    slices: TimeSlices,
    start: pd.Timestamp,
    decision_hours: int,
    discounted_weight_h: np.ndarray,
    od_usd_per_gpu_hour: np.ndarray,
) -> tuple[ServerlessPool, ...]:
    """The pools with a "hybrid" or "choose" option, over every slice of the valuation horizon
    (module docstring): ρ from the option's busy fraction by hour of day, c_p from its price."""
    if setup is None or not setup.options:
        return ()
    dem = slices.demand_gpus
    n_s, n_t, _ = dem.shape
    ts = pd.date_range(start, periods=decision_hours, freq="h", tz="UTC")
    out = []
    for opt in setup.options:
        if opt.mode not in ("hybrid", "choose"):
            continue
        p = next((i for i, q in enumerate(scenarios.pools) if q.name == opt.pool), None)
        if p is None:
            continue
        held = scenarios.demand_gpus[:, :decision_hours, p]
        busy = held * opt.busy_fraction_at(ts)[None, :]
        rho = slice_busy_share(slices, start, held, busy, dem[:, :, p], opt.mean_busy_fraction)
        rate = rho * opt.usd_per_busy_gpu_hour  # USD per held GPU-hour moved
        rate.flags.writeable = False
        choose = opt.mode == "choose"
        od = od_usd_per_gpu_hour[p]
        keys = tuple(
            (s, t)
            for s in range(n_s)
            for t in range(n_t)
            if choose or not rate[s, t] >= od  # else on-demand is cheaper: never moved
        )
        warm = opt.min_warm_gpus * opt.warm_usd_per_gpu_hour * float(discounted_weight_h.sum())
        out.append(ServerlessPool(p, opt, choose, rate, keys, warm if choose else 0.0))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# the LP family


def add_serverless(
    lp: pulp.LpProblem, ix: ProblemIndex
) -> tuple[
    dict[int, dict[tuple[int, int], pulp.LpVariable]], dict[int, pulp.LpVariable], list[str]
]:
    """sl_{p,s,t} (and x_p, serverless_all_p_s_t rows) with their objective terms (module
    docstring), over every slice of the valuation horizon, discounted like the rest of the
    objective. Returns the sl variables by pool, the x_p by pool and the rows' names; the demand
    rows pick sl up."""
    sl_vars: dict[int, dict[tuple[int, int], pulp.LpVariable]] = {}
    choices: dict[int, pulp.LpVariable] = {}
    names: list[str] = []
    if not ix.serverless_offered:
        return sl_vars, choices, names
    od = ix.table.pool_prices["od_usd_per_gpu_hour"].to_numpy(float)
    prob, dem = ix.probabilities, ix.slices.demand_gpus
    wd = ix.discounted_weight_h  # discounted hours (define_objective)
    obj = dict(lp.objective)
    for pool in ix.serverless:
        p = pool.pool
        choice = None
        if pool.choose:
            choice = lp.add_variable(
                f"serverless_all__{ix.names.pool[p]}",
                lowBound=0,
                upBound=1,
                cat=pulp.LpInteger if ix.policy.integer else pulp.LpContinuous,
            )
            choices[p] = choice
            obj[choice] = obj.get(choice, 0.0) + pool.warm_usd
        vs: dict[tuple[int, int], pulp.LpVariable] = {}
        for s, t in pool.keys:
            rate = float(pool.usd_per_held_gpu_hour[s, t])
            var = lp.add_variable(
                f"serverless__{ix.names.pool[p]}__s{s}__{ix.names.slice[t]}",
                lowBound=0,
                upBound=float(dem[s, t, p]),
            )
            vs[(s, t)] = var
            obj[var] = obj.get(var, 0.0) + prob[s] * wd[t] * (rate - od[p])
            if choice is not None:
                name = f"serverless_all__{ix.names.pool[p]}__s{s}__{ix.names.slice[t]}"
                lp.addConstraint(
                    pulp.LpConstraint(
                        pulp.LpAffineExpression({var: 1.0, choice: -float(dem[s, t, p])}),
                        pulp.LpConstraintEQ,
                        name,
                        0.0,
                    )
                )
                names.append(name)
        if vs:
            sl_vars[p] = vs
    lp.setObjective(pulp.LpAffineExpression(obj, constant=lp.objective.constant))
    return sl_vars, choices, names


# --------------------------------------------------------------------------------------------
# reading a solution back


def serverless_solution(ix: ProblemIndex, values: SolvedValues) -> tuple[np.ndarray, np.ndarray]:
    """Held GPUs moved to serverless (n_s, n_t, n_p) and the serverless cost per scenario (USD:
    moved GPU-hours × ρ c, plus the warm GPUs of all-serverless pools) of a solution."""
    w = ix.slices.weight_h
    moved = values.serverless_gpus
    usd = np.zeros(ix.slices.demand_gpus.shape[0])
    for pool in ix.serverless:
        p = pool.pool
        for s, t in pool.keys:
            usd[s] += w[t] * moved[s, t, p] * pool.usd_per_held_gpu_hour[s, t]
    for pool in ix.serverless:
        if not pool.choose:
            continue
        opt = pool.option
        usd += (
            values.serverless_all.get(pool.pool, 0.0)
            * opt.min_warm_gpus
            * opt.warm_usd_per_gpu_hour
            * float(w.sum())
        )
    return moved, usd


def serverless_decisions(
    ix: ProblemIndex, values: SolvedValues, setup: ServerlessSetup | None
) -> ServerlessSetup | None:
    """The setup with a solution's choices: "choose" pools become "all" (x_p ≥ 0.5) or "off";
    hybrid pools stay hybrid (the evaluator routes their bursts hour by hour)."""
    if setup is None:
        return None
    out = []
    for opt in setup.options:
        if opt.mode == "choose":
            p = ix.pool_of(opt.pool)
            val = values.serverless_all.get(p, 0.0) if p is not None else 0.0
            opt = replace(opt, mode="all" if val >= 0.5 else "off")
        out.append(opt)
    return replace(setup, options=tuple(out))


def serverless_record(
    ix: ProblemIndex, values: SolvedValues, setup: ServerlessSetup | None
) -> dict[str, Any] | None:
    """The plan's serverless record: decided options, pools not evaluable, and the LP's expected
    held GPU-hours moved to serverless per pool (the evaluator's figures are in the comparison)."""
    decided = serverless_decisions(ix, values, setup)
    if decided is None:
        return None
    rec = decided.to_dict()
    moved: dict[str, float] = {}
    for pool in ix.serverless:
        if not pool.keys:
            continue
        tot = 0.0
        for s, t in pool.keys:
            tot += (
                float(ix.probabilities[s])
                * float(ix.slices.weight_h[t])
                * float(values.serverless_gpus[s, t, pool.pool])
            )
        moved[ix.pools[pool.pool].name] = round(tot, 3)
    rec["lp_expected_held_gpu_hours_moved"] = moved
    table = breakeven_table(decided, ix.table.pool_prices, best_commitment_rates(ix))
    rec["breakeven"] = [
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
        for r in table.to_dict(orient="records")
    ]
    return rec


def best_commitment_rates(ix: ProblemIndex) -> dict[str, float]:
    """Per pool: the cheapest buyable commitment's USD per GPU-hour (fully used), egress included."""
    cands = ix.table.candidates
    out: dict[str, float] = {}
    for c, p, rate in ix.table.coverage.itertuples(index=False):
        if not bool(cands.at[int(c), "buyable"]):
            continue
        r = float(rate) + num(cands.at[int(c), "egress_usd_per_gpu_hour"])
        name = ix.pools[int(p)].name
        out[name] = min(out.get(name, np.inf), r)
    return out
