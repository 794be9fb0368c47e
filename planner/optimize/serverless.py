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

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pulp

from forecasting.scenarios import DemandScenarios
from planner.optimize.offers import num
from planner.serverless import ServerlessSetup, breakeven_table

if TYPE_CHECKING:
    from planner.optimize.problem import Problem

# --------------------------------------------------------------------------------------------
# the LP family


def slice_busy_share(
    pb: Problem, held: np.ndarray, busy: np.ndarray, slice_held: np.ndarray, overall: float
) -> np.ndarray:
    """ρ_{s,t} for one pool: busy over held GPU-hours of the hours slice t stands for.

    ``held``/``busy`` are hourly (n_scenarios, decision hours); ``slice_held`` the slices' held
    demand (n_scenarios, n_slices). In the decision horizon the hours are grouped as
    :func:`planner.optimize.time_reduction.reduce_time` groups them (hours sorted by held demand;
    ties by busy time, so equal held hours keep their busiest together); when the grouping does
    not reproduce the slices' held demand (another reduction), each period's mean ratio is used.
    The whole-term tail's coarse rows (no hour of day) get the pool's overall busy fraction
    ``overall`` (f̄), as the evaluator bills them.
    """
    sl = pb.slices
    n_s = held.shape[0]
    num = np.zeros((n_s, sl.n_slices))
    den = np.zeros((n_s, sl.n_slices))
    method = sl.method
    n_dec = held.shape[1]
    ts = pd.date_range(pb.start, periods=max(n_dec, 1), freq="h")
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


def add_serverless(pb: Problem, scenarios: DemandScenarios, setup: ServerlessSetup | None) -> None:
    """sl_{p,s,t} (and x_p, serverless_all_p_s_t rows) with their objective terms (module
    docstring), over every slice of the valuation horizon, discounted like the rest of the
    objective. The demand rows pick sl up from ``pb.serverless``."""
    if setup is None or not setup.options:
        return
    od = pb.table.pool_prices["od_usd_per_gpu_hour"].to_numpy(float)
    w, prob, dem = pb.slices.weight_h, pb.probabilities, pb.slices.demand_gpus
    wd = w * pb.slice_discount  # discounted hours (define_objective)
    n_s, n_t, _ = dem.shape
    n_dec = pb.decision_hours
    ts = pd.date_range(pb.start, periods=n_dec, freq="h", tz="UTC")
    obj = dict(pb.lp.objective)
    names: list[str] = []
    for opt in setup.options:
        if opt.mode not in ("hybrid", "choose"):
            continue
        p = next((i for i, q in enumerate(pb.pools) if q.name == opt.pool), None)
        if p is None:
            continue
        held = scenarios.demand_gpus[:, :n_dec, p]
        busy = held * opt.busy_fraction_at(ts)[None, :]
        rho = slice_busy_share(pb, held, busy, dem[:, :, p], opt.mean_busy_fraction)
        c = opt.usd_per_busy_gpu_hour
        pb.serverless_setup[p] = opt
        choice = None
        if opt.mode == "choose":
            choice = pb.lp.add_variable(
                f"serverless_all__{pb.names.pool[p]}",
                lowBound=0,
                upBound=1,
                cat=pulp.LpInteger if pb.policy.integer else pulp.LpContinuous,
            )
            pb.serverless_choice[p] = choice
            warm_usd = opt.min_warm_gpus * opt.warm_usd_per_gpu_hour * float(wd.sum())
            obj[choice] = obj.get(choice, 0.0) + warm_usd
        vs: dict[tuple[int, int], pulp.LpVariable] = {}
        rates: dict[tuple[int, int], float] = {}
        for s in range(n_s):
            for t in range(n_t):
                rate = float(rho[s, t]) * c  # USD per held GPU-hour moved
                if choice is None and rate >= od[p]:
                    continue  # on-demand is cheaper: never moved
                var = pb.lp.add_variable(
                    f"serverless__{pb.names.pool[p]}__s{s}__{pb.names.slice[t]}",
                    lowBound=0,
                    upBound=float(dem[s, t, p]),
                )
                vs[(s, t)] = var
                rates[(s, t)] = rate
                obj[var] = obj.get(var, 0.0) + prob[s] * wd[t] * (rate - od[p])
                if choice is not None:
                    name = f"serverless_all__{pb.names.pool[p]}__s{s}__{pb.names.slice[t]}"
                    pb.lp.addConstraint(
                        pulp.LpConstraint(
                            pulp.LpAffineExpression({var: 1.0, choice: -float(dem[s, t, p])}),
                            pulp.LpConstraintEQ,
                            name,
                            0.0,
                        )
                    )
                    names.append(name)
        if vs:
            pb.serverless[p] = vs
            pb.serverless_rate[p] = rates
    pb.lp.setObjective(pulp.LpAffineExpression(obj, constant=pb.lp.objective.constant))
    pb.families["serverless_all_or_nothing"] = names


def serverless_solution(pb: Problem) -> tuple[np.ndarray, np.ndarray]:
    """From the last solve: held GPUs moved to serverless (n_s, n_t, n_p) and the serverless cost
    per scenario (USD: moved GPU-hours × ρ c, plus the warm GPUs of all-serverless pools)."""
    dem = pb.slices.demand_gpus
    w = pb.slices.weight_h
    moved = np.zeros_like(dem)
    usd = np.zeros(dem.shape[0])
    for p, vs in pb.serverless.items():
        for (s, t), var in vs.items():
            v = max(0.0, float(var.varValue or 0.0))
            moved[s, t, p] = v
            usd[s] += w[t] * v * pb.serverless_rate[p][(s, t)]
    for p, x in pb.serverless_choice.items():
        opt = pb.serverless_setup[p]
        usd += (
            float(x.varValue or 0.0)
            * opt.min_warm_gpus
            * opt.warm_usd_per_gpu_hour
            * float(w.sum())
        )
    return moved, usd


def serverless_decisions(pb: Problem, setup: ServerlessSetup | None) -> ServerlessSetup | None:
    """The setup with the LP's choices: "choose" pools become "all" (x_p ≥ 0.5) or "off"; hybrid
    pools stay hybrid (the evaluator routes their bursts hour by hour)."""
    if setup is None:
        return None
    out = []
    for opt in setup.options:
        if opt.mode == "choose":
            p = next((i for i, q in enumerate(pb.pools) if q.name == opt.pool), None)
            x = pb.serverless_choice.get(p) if p is not None else None
            val = float(x.varValue or 0.0) if x is not None else 0.0
            opt = replace(opt, mode="all" if val >= 0.5 else "off")
        out.append(opt)
    return replace(setup, options=tuple(out))


def serverless_record(pb: Problem, setup: ServerlessSetup | None) -> dict[str, Any] | None:
    """The plan's serverless record: decided options, pools not evaluable, and the LP's expected
    held GPU-hours moved to serverless per pool (the evaluator's figures are in the comparison)."""
    decided = serverless_decisions(pb, setup)
    if decided is None:
        return None
    rec = decided.to_dict()
    moved: dict[str, float] = {}
    for p, vs in pb.serverless.items():
        tot = 0.0
        for (s, t), var in vs.items():
            tot += (
                float(pb.probabilities[s])
                * float(pb.slices.weight_h[t])
                * float(var.varValue or 0.0)
            )
        moved[pb.pools[p].name] = round(tot, 3)
    rec["lp_expected_held_gpu_hours_moved"] = moved
    table = breakeven_table(decided, pb.table.pool_prices, best_commitment_rates(pb))
    rec["breakeven"] = [
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
        for r in table.to_dict(orient="records")
    ]
    return rec


def best_commitment_rates(pb: Problem) -> dict[str, float]:
    """Per pool: the cheapest buyable commitment's USD per GPU-hour (fully used), egress included."""
    cands = pb.table.candidates
    out: dict[str, float] = {}
    for c, p, rate in pb.table.coverage.itertuples(index=False):
        if not bool(cands.at[int(c), "buyable"]):
            continue
        r = float(rate) + num(cands.at[int(c), "egress_usd_per_gpu_hour"])
        name = pb.pools[int(p)].name
        out[name] = min(out.get(name, np.inf), r)
    return out
