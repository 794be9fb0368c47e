r"""The commitment LP of the sequential backtest: purchases at given decision hours, terms mapped
onto the trace (``--term-scale``), inventory already held, and demand scenarios on weighted slices.

The product's optimizer (:func:`planner.optimize.optimize`) dates terms in calendar months; a
sequential backtest on a 1–6-month trace maps a 12-month term onto e.g. 28 days while keeping its
price per GPU-hour, which that model cannot express. This LP is the same first-stage/second-stage
model restricted to what a backtest needs, written against the same cost table
(:func:`planner.optimize.offers.build_cost_table`), and the evaluator bills every result.

Sets: candidates ``c`` (buyable rows of the cost table), pools ``p``, scenarios ``s`` (probability
``π_s``), slices ``t`` (weight ``w_t`` hours, start hour ``h_t``), decision hours ``d``.
``a_{c,d,t}`` is the share of slice ``t``'s hours during which a purchase of ``c`` at ``d`` is
active (its mapped term ``τ_c`` hours from ``d``); ``I_{c,t}`` the held units active in ``t``.

    min  Σ_{c,d} f_c H_{c,d} buy_{c,d}
         − Σ_s π_s Σ_t w_t Σ_p [ Σ_c (o_p − e_c) serve_{c,p,s,t} + (o_p − σ_p) spot_{p,s,t} ]
    s.t. Σ_c serve_{c,p,s,t} + spot_{p,s,t} ≤ D_{s,t,p}                          (demand)
         Σ_p serve_{c,p,s,t} ≤ g_c (I_{c,t} + Σ_d a_{c,d,t} buy_{c,d})           (RIs, contracts)
         Σ_p r_{c,p} serve_{c,p,s,t} ≤ I_{c,t} + Σ_d a_{c,d,t} buy_{c,d}          (Savings Plans, USD/h)
         0 ≤ spot_{p,s,t} ≤ κ_p D_{s,t,p} (interruptible pools with spot; κ_p the pool's own cap)
         [min utilisation] Σ_t w_t Σ_{c,p} v_{c,p} serve_{c,p,s,t} ≥ u_min · spend   for the tail s

with ``f_c`` USD per unit-hour (a Savings Plan unit is 1 USD/h), ``H_{c,d}`` the purchase's
active hours inside the horizon (the horizon-end rule of the product LP: the tail beyond the
horizon is neither charged nor credited), ``o_p``/``σ_p`` on-demand/spot prices, ``g_c`` GPUs per
unit, ``r_{c,p}`` commitment USD per GPU-hour, ``v_{c,p}`` = ``f_c/g_c`` or ``r_{c,p}``, spend = all
commitment dollars active in the horizon (held and new). The on-demand cost ``Σ o_p D`` is a
constant. Solved by HiGHS through :func:`scipy.optimize.linprog` (LP relaxation: whole RIs are
rounded to the nearest unit afterwards, Savings Plans to the cent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from forecasting.scenarios import Pool
from planner.inventory import Commitment
from planner.optimize.offers import CostTable, build_cost_table
from planner.policy import Policy
from pricing_data.errors import PlannerInputError

H_DAY = 24
#: the default term mapping: 1 year → 28 days, 3 years → 84 days (``--term-scale``)
DEFAULT_TERM_SCALE: dict[int, int] = {12: 28 * H_DAY, 36: 84 * H_DAY}


def parse_term_scale(text: str | None) -> dict[int, int] | None:
    """``1y=28d,3y=84d`` (or ``12=28,36=84`` in months and days) → {term_months: hours}.

    ``none`` or ``off`` keeps the real terms (None).
    """
    if text is None:
        return dict(DEFAULT_TERM_SCALE)
    t = text.strip().lower()
    if t in ("none", "off", "real"):
        return None
    out: dict[int, int] = {}
    for part in t.split(","):
        if "=" not in part:
            raise PlannerInputError(
                "a term mapping is term=duration",
                column="--term-scale",
                value=text,
                fix="write e.g. 1y=28d,3y=84d",
            )
        k, v = (x.strip() for x in part.split("=", 1))
        try:
            months = int(k[:-1]) * 12 if k.endswith("y") else int(k.rstrip("m"))
            days = float(v[:-1]) * 7 if v.endswith("w") else float(v.rstrip("d"))
        except ValueError:
            raise PlannerInputError(
                "not a term mapping",
                column="--term-scale",
                value=part,
                fix="write e.g. 1y=28d,3y=84d",
            ) from None
        if months <= 0 or days <= 0 or days * H_DAY != int(days * H_DAY):
            raise PlannerInputError(
                "a mapped term must be a positive whole number of hours",
                column="--term-scale",
                value=part,
                fix="write e.g. 1y=28d,3y=84d",
            )
        out[months] = int(days * H_DAY)
    return out


def term_hours(term_months: int, term_scale: dict[int, int] | None) -> int:
    """The mapped term in hours (the calendar term at 730 h per month when not mapped)."""
    if term_scale and term_months in term_scale:
        return term_scale[term_months]
    if term_scale:
        # an unmapped term scales like the shortest mapped one
        m0 = min(term_scale)
        return round(term_scale[m0] * term_months / m0)
    return int(term_months * 730)


@dataclass(frozen=True)
class Slices:
    """Demand on weighted slices: ``demand`` (S, T, P), ``weight_h`` (T,), ``start_h`` (T,) and
    ``hours`` (T lists): which horizon hours each slice stands for (for activity shares)."""

    demand: np.ndarray
    weight_h: np.ndarray
    hours: list[np.ndarray]
    probabilities: np.ndarray


def hourly_slices(demand: np.ndarray, probabilities: np.ndarray | None = None) -> Slices:
    """Every hour its own slice (for the hindsight LP)."""
    d = np.asarray(demand, dtype=float)
    if d.ndim == 2:
        d = d[None]
    n = d.shape[1]
    probs = np.ones(1) if probabilities is None else np.asarray(probabilities, dtype=float)
    return Slices(d, np.ones(n), [np.array([h]) for h in range(n)], probs)


def duration_slices(
    demand: np.ndarray, probabilities: np.ndarray, period_h: int, blocks: int
) -> Slices:
    """Per period of ``period_h`` hours and per scenario, hours sorted by total demand and cut into
    ``blocks`` equal blocks; a block's demand is its hours' mean (per pool). The slice's hours are
    the period's hours (activity within a period is taken as its share of the period)."""
    d = np.asarray(demand, dtype=float)
    _s_n, n, _p_n = d.shape
    starts = list(range(0, n, period_h))
    out_d, weights, hours = [], [], []
    for a in starts:
        b = min(a + period_h, n)
        seg = d[:, a:b, :]  # (S, L, P)
        order = np.argsort(seg.sum(axis=2), axis=1)
        seg_sorted = np.take_along_axis(seg, order[:, :, None], axis=1)
        cuts = np.array_split(np.arange(b - a), min(blocks, b - a))
        for c in cuts:
            out_d.append(seg_sorted[:, c, :].mean(axis=1))
            weights.append(float(len(c)))
            hours.append(np.arange(a, b))
    return Slices(np.stack(out_d, axis=1), np.asarray(weights), hours, probabilities)


@dataclass(frozen=True)
class TermLPResult:
    """Units bought per (candidate, decision) and the LP's objective (USD, without the held cost)."""

    buy: dict[tuple[int, int], float]
    objective_usd: float
    status: str


def _active_share(
    hours: list[np.ndarray], start_h: int, end_h: int, weights: np.ndarray
) -> np.ndarray:
    return np.array(
        [float(np.mean((h >= start_h) & (h < end_h))) if h.size else 0.0 for h in hours]
    )


def solve_term_lp(
    table: CostTable,
    slices: Slices,
    *,
    decision_hours: Sequence[int],
    term_scale: dict[int, int] | None,
    held: Sequence[tuple[int, float, int, int]] = (),
    spot_cap_share: float = 0.0,
    min_utilization: float | None = None,
    min_utilization_tail: float = 0.1,
    horizon_h: int | None = None,
    max_term_h: int | None = None,
) -> TermLPResult:
    """Solve the LP of the module docstring. ``held``: (candidate, units, start hour, end hour)
    relative to the slices' hour 0; ``max_term_h``: candidates whose mapped term is longer are not
    bought (the sequential backtest's term cap). Raises :class:`PlannerInputError` when
    infeasible."""
    cands = table.candidates
    cov = table.coverage
    prices = table.pool_prices
    n_s, n_t, n_p = slices.demand.shape
    horizon = horizon_h if horizon_h is not None else int(max(h.max() for h in slices.hours) + 1)
    buyable = [int(c) for c in range(len(cands)) if bool(cands.iloc[c]["buyable"])]
    od = prices["od_usd_per_gpu_hour"].to_numpy(dtype=float)
    spot = prices["spot_usd_per_gpu_hour"].to_numpy(dtype=float)
    pairs = [
        (int(c), int(p), float(r))
        for c, p, r in zip(cov["cand"], cov["pool"], cov["rate_usd_per_gpu_hour"], strict=True)
    ]
    used_cands = sorted({c for c, _, _ in pairs} & (set(buyable) | {h[0] for h in held}))
    pairs = [x for x in pairs if x[0] in used_cands]
    f = {c: float(cands.iloc[c]["effective_usd_per_unit_hour"]) for c in used_cands}
    is_sp = {c: cands.iloc[c]["kind"] == "savings_plan" for c in used_cands}
    g = {c: float(cands.iloc[c]["gpus_per_unit"]) if not is_sp[c] else 1.0 for c in used_cands}
    egress = {c: float(cands.iloc[c]["egress_usd_per_gpu_hour"] or 0.0) for c in used_cands}
    # variables: buy (c, d) | serve (pair, s, t) | spot (p, s, t)
    buy_keys = [
        (c, d)
        for c in buyable
        if c in used_cands
        and (
            max_term_h is None
            or term_hours(int(cands.iloc[c]["term_months"]), term_scale) <= max_term_h
        )
        for d in range(len(decision_hours))
    ]
    n_buy = len(buy_keys)
    n_pair = len(pairs)
    # each pool's own availability cap (its rule, or its spot offer's interruption band, at most
    # the policy's share: planner.optimize.offers.pool_prices), as the evaluator bills it
    caps = prices["spot_cap_share"].to_numpy(dtype=float)
    spot_pools = [
        p
        for p in range(n_p)
        if spot_cap_share > 0 and caps[p] > 0 and np.isfinite(spot[p]) and spot[p] < od[p]
    ]
    n_serve = n_pair * n_s * n_t
    n_spot = len(spot_pools) * n_s * n_t
    n_var = n_buy + n_serve + n_spot

    def serve_idx(k: int, s: int) -> np.ndarray:
        return n_buy + (k * n_s + s) * n_t + np.arange(n_t)

    def spot_idx(i: int, s: int) -> np.ndarray:
        return n_buy + n_serve + (i * n_s + s) * n_t + np.arange(n_t)

    cost = np.zeros(n_var)
    active = {}
    for i, (c, d) in enumerate(buy_keys):
        a = int(decision_hours[d])
        b = a + term_hours(int(cands.iloc[c]["term_months"]), term_scale)
        share = _active_share(slices.hours, a, b, slices.weight_h)
        active[(c, d)] = share
        cost[i] = f[c] * max(0, min(b, horizon) - a)
    held_units = {c: np.zeros(n_t) for c in used_cands}
    held_spend = 0.0
    for c, units, a, b in held:
        if c not in held_units:
            continue
        held_units[c] += units * _active_share(slices.hours, a, b, slices.weight_h)
        held_spend += f[c] * units * max(0, min(b, horizon) - max(a, 0))
    w = slices.weight_h
    for k, (c, p, _r) in enumerate(pairs):
        for s in range(n_s):
            cost[serve_idx(k, s)] = -slices.probabilities[s] * w * (od[p] - egress[c])
    for i, p in enumerate(spot_pools):
        for s in range(n_s):
            cost[spot_idx(i, s)] = -slices.probabilities[s] * w * (od[p] - spot[p])
    rows, cols, vals, rhs = [], [], [], []
    r0 = 0
    # demand rows: (p, s, t)
    for p in range(n_p):
        ks = [k for k, (_c, pp, _r) in enumerate(pairs) if pp == p]
        for s in range(n_s):
            base = r0 + (p * n_s + s) * n_t + np.arange(n_t)
            for k in ks:
                rows.append(base)
                cols.append(serve_idx(k, s))
                vals.append(np.ones(n_t))
            if p in spot_pools:
                rows.append(base)
                cols.append(spot_idx(spot_pools.index(p), s))
                vals.append(np.ones(n_t))
            rhs.append(slices.demand[s, :, p])
    r0 += n_p * n_s * n_t
    # capacity rows: (c, s, t)
    for c in used_cands:
        ks = [k for k, (cc, _p, _r) in enumerate(pairs) if cc == c]
        for s in range(n_s):
            base = r0 + np.arange(n_t)
            for k in ks:
                coef = pairs[k][2] if is_sp[c] else 1.0
                rows.append(base)
                cols.append(serve_idx(k, s))
                vals.append(np.full(n_t, coef))
            for i, key in enumerate(buy_keys):
                if key[0] != c:
                    continue
                sh = active[key]
                nz = np.flatnonzero(sh)
                rows.append(base[nz])
                cols.append(np.full(nz.size, i))
                vals.append(-g[c] * sh[nz])
            rhs.append(g[c] * held_units[c])
            r0 += n_t
    # minimum utilisation in the tail scenarios
    if min_utilization:
        totals = slices.demand.sum(axis=2) @ w
        order = np.argsort(totals, kind="stable")
        cum = np.cumsum(slices.probabilities[order])
        tail = order[: int(np.searchsorted(cum, min_utilization_tail - 1e-12)) + 1]
        for s in tail:
            for k, (c, _p, r) in enumerate(pairs):
                v = r if is_sp[c] else f[c] / g[c]
                rows.append(np.full(n_t, r0))
                cols.append(serve_idx(k, int(s)))
                vals.append(-v * w)
            for i, _key in enumerate(buy_keys):
                rows.append(np.array([r0]))
                cols.append(np.array([i]))
                vals.append(np.array([min_utilization * cost[i]]))
            rhs.append(np.array([-min_utilization * held_spend]))
            r0 += 1
    a_ub = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, n_var)
    )
    b_ub = np.concatenate(rhs)
    bounds = np.zeros((n_var, 2))
    bounds[:, 1] = np.inf
    for i, p in enumerate(spot_pools):
        for s in range(n_s):
            bounds[spot_idx(i, s), 1] = caps[p] * slices.demand[s, :, p]
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:
        raise PlannerInputError(
            f"the backtest LP is {'infeasible' if res.status == 2 else 'not solved'}: {res.message}",
            column="min_utilization",
            value=min_utilization,
            fix="relax the minimum utilisation",
        )
    buy = {key: float(res.x[i]) for i, key in enumerate(buy_keys) if res.x[i] > 1e-7}
    const = float(np.einsum("s,stp,t,p->", slices.probabilities, slices.demand, w, od))
    return TermLPResult(buy, float(res.fun) + const, "optimal")


def cost_table(offers: pd.DataFrame, pools: tuple[Pool, ...], policy: Policy) -> CostTable:
    """The buyable candidates for the backtest LP (no inventory rows: held units are passed in)."""
    return build_cost_table(offers, pools, [], policy)


def to_commitments(
    table: CostTable,
    buy: dict[tuple[int, int], float],
    decision_times: Sequence[pd.Timestamp],
    term_scale: dict[int, int] | None,
    *,
    integer: bool,
    tag: str,
) -> list[tuple[Commitment, int, float]]:
    """Commitments (with their candidate and units) from an LP solution: RIs rounded to whole
    units when ``integer``, Savings Plans to the cent; the end date is the mapped term."""
    out = []
    cands = table.candidates
    for n, ((c, d), units) in enumerate(sorted(buy.items())):
        row = cands.iloc[c]
        is_sp = row["kind"] == "savings_plan"
        q = round(units, 2) if is_sp else (float(round(units)) if integer else units)
        if q <= 0:
            continue
        start = pd.Timestamp(decision_times[d])
        end = start + pd.Timedelta(hours=term_hours(int(row["term_months"]), term_scale))
        com = Commitment(
            commitment_id=f"{tag}-{n + 1}",
            provider=str(row["provider"]),
            purchase_model=str(row["purchase_model"]),
            region=str(row["region"]),
            sku=str(row["sku"]),
            offering_class=str(row["offering_class"]),
            term_months=int(row["term_months"]),
            payment_option=str(row["payment_option"]),
            quantity=0.0 if is_sp else q,
            hourly_commitment_usd=q if is_sp else 0.0,
            start=start,
            end=end,
            offer_id=str(row["offer_id"]),
        )
        out.append((com, c, q))
    return out
