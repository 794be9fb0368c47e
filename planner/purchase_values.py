"""What each recommended purchase commits to, what it is worth and which prices it rests on.

Cash flows of a purchase (the catalog's 730-hour month)
    The upfront payment U on the start date, then the recurring fee R (USD a month) at the end of
    each month m = 1..T of the term. Term obligation = U + R·T. NPV cost at the plan start t₀:
    ``U·d(start) + Σₘ R·d(start + m months)`` with ``d(t) = (1 + r)^−(t − t₀ in years)`` and r the
    cost of capital (:func:`cost_of_capital_pct`).

Marginal value (leave-one-out on the evaluator, the referee)
    For purchase p among the plan's commitments C (existing inventory and every purchase), on the
    valuation paths s with probabilities π_s::

        saving_p = Σ_s π_s · (bill_s(C ∖ {p}) − bill_s(C))

    where bill_s is :func:`planner.evaluate.evaluate` over the paths' hours. The values need not
    sum to the plan's joint saving: purchases that could serve the same demand substitute for each
    other, so each is worth less alone than the group is together (or more, where they
    complement). NPV: each hour's difference is discounted by d(hour); the purchase's own upfront,
    which the evaluator spreads evenly over the term's hours, is counted as cash on its start date
    instead (the share of it that belongs to the term's hours inside the valuation window). When
    the evaluator's paths cover every purchase's whole term, both figures are full-term.

Break-even (``breakeven_months``)
    Months from the purchase's start until its cumulative cash-basis marginal saving (−U at the
    start, then each month's expected difference with the upfront no longer spread) turns
    positive, interpolated within the month; 0 when it is positive from the first month. Beyond
    the valuation window it is extrapolated at the window's mean monthly saving, up to the end of
    the term; ``None`` when the saving does not turn positive within the term.

Price basis
    ``overlay`` when a user overlay sets a price the purchase uses, else ``assumed`` when any of
    them is an assumption (catalog ``assumed``) or derived (the upfront/recurring split of
    partial-upfront Savings Plans comes from pricing_data/assumptions.toml, not a published
    price), else ``published``. Prices are matched per SKU family: the RI's or contract's SKU and
    region, the EC2 Instance Savings Plan's instance family and region, the Compute Savings
    Plan's rates for the pools' GPU types and regions; all at the purchase's term and payment.

Recommendation rule (:func:`value_purchases`)
    1. A purchase below the minimum lot (less than ``policy.min_purchase_usd_per_hour`` of
       commitment per hour, or less than one instance or GPU) is dropped (set the minimum to 0 to
       keep odd lots).
    2. A purchase whose marginal value is not positive is dropped, unless a risk bound that the
       evaluator finds held with it breaks without it: then it stays, and ``required_by`` names
       the bound (its policy-file key).
    3. The purchases kept are valued again together and renumbered P001, P002, ...
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from forecasting.scenarios import DemandScenarios, Pool
from planner.evaluate import StrategyFigures, evaluate, evaluate_over_scenarios
from planner.evaluate.serverless import plan_serverless
from planner.inventory import Commitment
from planner.plan import Plan, Purchase
from planner.policy import Policy
from planner.serverless import ServerlessSetup
from pricing_data.schema import HOURS_PER_MONTH, term_hours
from pricing_data.stats import weighted_quantile

DEFAULT_COST_OF_CAPITAL_PCT = 8.0
HOURS_PER_YEAR = 8760.0
_DAY = pd.Timedelta(days=1)
Progress = Callable[[str], None]


def cost_of_capital_pct(policy: Policy) -> float:
    """The annual discount rate (percent). Stand-in until the Policy carries one (econ's
    full-term valuation): the policy's ``cost_of_capital_pct`` when it has that field, else 8 %."""
    return float(getattr(policy, "cost_of_capital_pct", DEFAULT_COST_OF_CAPITAL_PCT))


def discount_factors(
    when: pd.DatetimeIndex | pd.Timestamp, origin: pd.Timestamp, rate_pct: float
) -> np.ndarray:
    """``(1 + r)^−years`` from ``origin`` to each time in ``when`` (r = rate_pct / 100)."""
    idx = pd.DatetimeIndex([when]) if isinstance(when, pd.Timestamp) else pd.DatetimeIndex(when)
    years = np.asarray((idx - origin) / _DAY, dtype=float) / 365.25
    return np.power(1.0 + rate_pct / 100.0, -years)


# ---- cash flows -------------------------------------------------------------------------------


def purchase_cash_flows(p: Purchase) -> pd.DataFrame:
    """The purchase's payments: ``date``, ``upfront_usd``, ``recurring_usd`` (module docstring:
    the upfront on the start date, the recurring fee at the end of each month of the term)."""
    c = p.commitment
    months = int(c.term_months)
    dates = [c.start + pd.DateOffset(months=m) for m in range(months + 1)]
    upfront = [p.upfront_usd] + [0.0] * months
    recurring = [0.0] + [p.recurring_monthly_usd] * months
    return pd.DataFrame({"date": dates, "upfront_usd": upfront, "recurring_usd": recurring})


def npv_cost_usd(p: Purchase, origin: pd.Timestamp, rate_pct: float) -> float:
    """Present value at ``origin`` of the purchase's payments (module docstring)."""
    flows = purchase_cash_flows(p)
    d = discount_factors(pd.DatetimeIndex(flows["date"]), origin, rate_pct)
    return float(d @ (flows["upfront_usd"] + flows["recurring_usd"]).to_numpy(float))


def hourly_commitment_usd(p: Purchase) -> float:
    """What the purchase commits per hour: the Savings Plan's $/hour, else the obligation spread
    over the term's hours."""
    c = p.commitment
    if c.is_savings_plan:
        return float(c.hourly_commitment_usd)
    return p.term_obligation_usd / term_hours(c.term_months)


# ---- price basis ------------------------------------------------------------------------------

DERIVED_SPLIT = (
    "upfront/recurring split of partial-upfront Savings Plans derived by "
    "pricing_data/assumptions.toml [ri_payment_split], not published"
)


@dataclass(frozen=True)
class PriceBasis:
    """Which catalog prices a purchase rests on (module docstring)."""

    basis: str  # published | assumed | overlay
    assumptions: tuple[str, ...]
    usd_per_gpu_hour_min: float
    usd_per_gpu_hour_max: float
    n_prices: int


def matching_prices(c: Commitment, offers: pd.DataFrame, pools: tuple[Pool, ...]) -> pd.DataFrame:
    """The catalog rows a commitment's price comes from, per SKU family (module docstring)."""
    o = offers[
        (offers["purchase_model"] == c.purchase_model)
        & (offers["provider"] == c.provider)
        & (offers["term_months"] == c.term_months)
        & (offers["payment_option"].astype(str) == c.payment_option)
    ]
    if c.purchase_model == "compute_savings_plan":
        wanted = {(p.aws_region, p.gpu_type) for p in pools}
        keys = list(zip(o["region"].astype(str), o["gpu_type"].astype(str), strict=True))
        return o[[k in wanted for k in keys]] if wanted else o
    if c.purchase_model == "ec2_instance_savings_plan":
        o = o[(o["instance_family"] == c.sku) & (o["region"] == c.region)]
        gpus = {p.gpu_type for p in pools}
        return o[o["gpu_type"].isin(gpus)] if gpus else o
    o = o[(o["sku"] == c.sku) & (o["region"] == c.region)]
    if c.purchase_model == "reserved_instance" and c.offering_class:
        same = o[o["offering_class"].astype(str) == c.offering_class]
        o = same if not same.empty else o
    return o


def price_basis(c: Commitment, offers: pd.DataFrame, pools: tuple[Pool, ...]) -> PriceBasis:
    """``published``, ``assumed`` or ``overlay`` for a commitment, with the assumption rules."""
    rows = matching_prices(c, offers, pools)
    if rows.empty:
        return PriceBasis("assumed", ("no matching catalog price",), np.nan, np.nan, 0)
    rates = rows["usd_per_gpu_hour"].to_numpy(float)
    lo, hi = float(np.nanmin(rates)), float(np.nanmax(rates))
    if "overlay" in rows.columns and rows["overlay"].astype(bool).any():
        return PriceBasis("overlay", (), lo, hi, len(rows))
    rules: list[str] = []
    if "assumed" in rows.columns:
        assumed = rows[rows["assumed"].astype(bool)]
        if "assumption" in rows.columns:
            rules += sorted({str(a) for a in assumed["assumption"] if str(a) and str(a) != "nan"})
        if len(assumed) and not rules:
            rules.append("labelled assumed in the catalog")
    if c.is_savings_plan and c.payment_option == "partial_upfront":
        rules.append(DERIVED_SPLIT)
    return PriceBasis("assumed" if rules else "published", tuple(rules), lo, hi, len(rows))


# ---- marginal values on the evaluator ---------------------------------------------------------


@dataclass(frozen=True)
class ValuationPaths:
    """The demand paths purchases are valued on: ``demand_gpus`` (paths × hours × pools)."""

    demand_gpus: np.ndarray
    probabilities: np.ndarray
    timestamps: pd.DatetimeIndex
    pools: tuple[Pool, ...]


def valuation_paths(scenarios: DemandScenarios) -> ValuationPaths:
    """The paths to value purchases on: today the forecast's scenarios over the planning horizon
    (what ``compare_strategies`` bills). To be replaced by the full-term paths of econ's
    full-term evaluator, which make every figure here full-term."""
    return ValuationPaths(
        scenarios.demand_gpus, scenarios.probabilities, scenarios.timestamps, scenarios.pools
    )


@dataclass(frozen=True)
class PurchaseValue:
    """One purchase's marginal value and the evaluator's figures for it (module docstring)."""

    savings_usd: float
    npv_savings_usd: float
    breakeven_months: float | None
    expected_utilization: float
    p10_utilization: float


def relevant_offers(
    offers: pd.DataFrame, pools: tuple[Pool, ...], commitments: list[Commitment]
) -> pd.DataFrame:
    """The catalog rows a bill of ``commitments`` on ``pools`` can read: off AWS and in the pools'
    and commitments' AWS regions, the pools' GPU types (serving prices, Savings Plan rates) and
    the commitments' SKUs and instance families. Billing on this subset gives the same bill, many
    times faster (the evaluator scans its offers for every commitment)."""
    gpus = {p.gpu_type for p in pools}
    skus = {c.sku for c in commitments if c.sku}
    regions = {p.aws_region for p in pools} | {c.region for c in commitments if c.region}
    keep = offers["gpu_type"].isin(gpus) | offers["sku"].isin(skus)
    if "instance_family" in offers.columns:
        keep |= offers["instance_family"].isin(skus)
    keep &= (offers["provider"] != "aws") | offers["region"].isin(regions)
    return offers[keep]


def _bill(
    name: str,
    commitments: list[Commitment],
    paths: ValuationPaths,
    offers: pd.DataFrame,
    pol: Policy,
    serverless: ServerlessSetup | None = None,
) -> StrategyFigures:
    return evaluate_over_scenarios(
        name,
        commitments,
        paths.demand_gpus,
        paths.probabilities,
        paths.timestamps,
        paths.pools,
        offers,
        pol,
        serverless=serverless,
    )


def expected_hourly_cost(fig: StrategyFigures) -> np.ndarray:
    """Probability-weighted hourly bill (USD per hour of the paths)."""
    return np.asarray(
        fig.probabilities @ np.stack([e.hourly_cost_usd for e in fig.evaluations]), dtype=float
    )


def _value_one(
    p: Purchase,
    with_hourly: np.ndarray,
    without_hourly: np.ndarray,
    with_fig: StrategyFigures,
    ts: pd.DatetimeIndex,
    disc: np.ndarray,
    rate_pct: float,
) -> PurchaseValue:
    c = p.commitment
    delta = without_hourly - with_hourly  # saving per hour
    active = np.asarray((ts >= c.start) & (ts < c.end))
    th = term_hours(c.term_months)
    amortised = p.upfront_usd / th  # the evaluator's spread of the upfront per active hour
    covered = float(active.sum())
    npv = float(delta @ disc)
    if p.upfront_usd:
        d_start = float(discount_factors(c.start, ts[0], rate_pct)[0])
        npv += amortised * float(disc[active].sum()) - p.upfront_usd * (covered / th) * d_start
    util = np.array(
        [e.commitment_utilization.get(c.commitment_id, 0.0) for e in with_fig.evaluations]
    )
    probs = with_fig.probabilities
    return PurchaseValue(
        savings_usd=float(delta.sum()),
        npv_savings_usd=npv,
        breakeven_months=_breakeven_months(p, delta + amortised * active, active),
        expected_utilization=float(probs @ util),
        p10_utilization=weighted_quantile(util, probs, 0.1),
    )


def _breakeven_months(p: Purchase, cash_delta: np.ndarray, active: np.ndarray) -> float | None:
    """Module docstring: −U at the start, then the cash-basis saving month by month."""
    hours = cash_delta[active]
    term = float(p.commitment.term_months)
    if hours.size == 0:
        return None
    n_months = hours.size / HOURS_PER_MONTH
    cum = -p.upfront_usd
    for m in range(int(np.ceil(n_months))):
        month = float(hours[int(m * HOURS_PER_MONTH) : int((m + 1) * HOURS_PER_MONTH)].sum())
        if cum + month > 0:
            if cum >= 0:
                return float(m)
            return min(term, m + (-cum) / month)
        cum += month
    mean_month = float(hours.sum()) / n_months
    if mean_month <= 0:
        return None
    months = n_months + (-cum) / mean_month
    return months if months <= term else None


def expected_hourly_cost_stacked(
    commitments: list[Commitment],
    paths: ValuationPaths,
    offers: pd.DataFrame,
    policy: Policy,
    serverless: ServerlessSetup | None = None,
) -> np.ndarray:
    """The probability-weighted hourly bill of ``commitments``, from ONE evaluator call on every
    path laid end to end. Exact: the evaluator bills each hour on its own (RI capacity, Savings
    Plan dollars, the spot cap are all per hour) and a commitment's activity depends only on the
    hour's timestamp, so the stacked bill is the per-path bills side by side (tested); it pays
    the evaluator's per-call set-up (catalog look-ups) once instead of once per path."""
    n_s, n_h, n_p = paths.demand_gpus.shape
    ts = paths.timestamps
    stacked_ts = pd.DatetimeIndex(ts.append([ts] * (n_s - 1))) if n_s > 1 else ts
    ev = evaluate(
        commitments,
        paths.demand_gpus.reshape(n_s * n_h, n_p),
        stacked_ts,
        paths.pools,
        offers,
        policy,
        serverless=serverless,
    )
    return np.asarray(paths.probabilities @ ev.hourly_cost_usd.reshape(n_s, n_h), dtype=float)


def marginal_values(
    purchases: tuple[Purchase, ...],
    inventory: list[Commitment],
    paths: ValuationPaths,
    offers: pd.DataFrame,
    policy: Policy,
    *,
    progress: Progress | None = None,
    serverless: ServerlessSetup | None = None,
) -> tuple[dict[str, PurchaseValue], StrategyFigures]:
    """Each purchase's leave-one-out value (module docstring) and the evaluator's bill of the
    whole set (inventory plus every purchase), per path; ``serverless``: the plan's serverless
    decisions, billed alike with and without each purchase."""
    say = progress or (lambda _m: None)
    every = [*inventory, *(p.commitment for p in purchases)]
    offers = relevant_offers(offers, paths.pools, every)
    with_fig = _bill("with every purchase", every, paths, offers, policy, serverless)
    with_hourly = expected_hourly_cost(with_fig)
    ts = paths.timestamps
    rate = cost_of_capital_pct(policy)
    disc = discount_factors(ts, ts[0], rate)
    say(f"valuing {len(purchases)} purchases one by one on {len(paths.probabilities)} paths")
    out: dict[str, PurchaseValue] = {}
    for p in purchases:
        cid = p.commitment.commitment_id
        others = [c for c in every if c.commitment_id != cid]
        without = expected_hourly_cost_stacked(others, paths, offers, policy, serverless)
        out[cid] = _value_one(p, with_hourly, without, with_fig, ts, disc, rate)
    return out, with_fig


# ---- bounds on the evaluator ------------------------------------------------------------------


def cvar(values: np.ndarray, probabilities: np.ndarray, beta: float) -> float:
    """CVaR_β: the probability-weighted mean of the worst (largest) 1 − β share of ``values``."""
    v = np.asarray(values, dtype=float)
    p = np.asarray(probabilities, dtype=float) / float(np.sum(probabilities))
    order = np.argsort(-v, kind="stable")
    mass = 1.0 - beta
    taken = total = 0.0
    for i in order:
        w = min(p[i], mass - taken)
        if w <= 0:
            break
        total += w * v[i]
        taken += w
    return total / taken if taken > 0 else float(v.max())


def bounds_broken(
    fig: StrategyFigures, purchase_ids: set[str], paths: ValuationPaths, policy: Policy
) -> set[str]:
    """The policy's risk bounds (policy-file keys) that the evaluator's bill ``fig`` breaks.
    A stand-in for econ's bounds proven on the evaluator (same definitions as the LP's: CVaR of
    unused commitment spend, utilisation in the low-demand tail, provider share of new spend)."""
    tol = 1e-6
    probs = fig.probabilities
    waste = np.array([e.waste_usd for e in fig.evaluations])
    spend = np.array([sum(e.commitment_spend_usd.values()) for e in fig.evaluations])
    broken: set[str] = set()
    tail_waste = cvar(waste, probs, policy.cvar_beta)
    if policy.cvar_limit_usd is not None and tail_waste > policy.cvar_limit_usd * (1 + tol) + tol:
        broken.add("risk.cvar_limit_usd")
    if policy.cvar_limit_pct is not None:
        limit = policy.cvar_limit_pct / 100.0 * float(probs @ spend)
        if tail_waste > limit * (1 + tol) + tol:
            broken.add("risk.cvar_limit_pct")
    if policy.min_utilization is not None:
        demand = paths.demand_gpus.sum(axis=(1, 2))
        order = np.argsort(demand, kind="stable")
        mass = 0.0
        for s in order:
            if mass >= policy.min_utilization_tail - 1e-12:
                break
            mass += float(probs[s])
            e = fig.evaluations[s]
            if (
                sum(e.commitment_spend_usd.values()) > 0
                and e.utilization < policy.min_utilization - tol
            ):
                broken.add("risk.min_utilization")
                break
    if policy.max_share_per_provider is not None:
        by_provider: dict[str, float] = {}
        for c in fig.commitments:
            if c.commitment_id in purchase_ids:
                usd = float(
                    probs
                    @ [e.commitment_spend_usd.get(c.commitment_id, 0.0) for e in fig.evaluations]
                )
                by_provider[c.provider] = by_provider.get(c.provider, 0.0) + usd
        total = sum(by_provider.values())
        if total > 0 and max(by_provider.values()) / total > policy.max_share_per_provider + tol:
            broken.add("risk.max_share_per_provider")
    return broken


# ---- the recommendation rule ------------------------------------------------------------------


def below_minimum_lot(p: Purchase, policy: Policy) -> str:
    """Why ``p`` is an odd lot ("" when it is not): under the policy's minimum $/hour or under
    one instance or GPU."""
    c = p.commitment
    if not c.is_savings_plan and c.quantity < 1.0 - 1e-9:
        return f"{c.quantity:g} {p.quantity_unit} is less than one"
    per_hour = hourly_commitment_usd(p)
    if per_hour < policy.min_purchase_usd_per_hour - 1e-9:
        return (
            f"${per_hour:,.2f}/h is below the minimum commitment "
            f"${policy.min_purchase_usd_per_hour:,.2f}/h (offers.min_purchase_usd_per_hour)"
        )
    return ""


def _usd(v: float) -> str:
    return f"{'-' if v < 0 else ''}${abs(v):,.0f}"


def _describe(p: Purchase) -> str:
    """In words: "ladder, 2027-02-01: Lambda reserved contract H100 reserved global, 36 months,
    no upfront: 4 GPUs"."""
    c = p.commitment
    amount = (
        f"${c.hourly_commitment_usd:,.2f}/h"
        if c.is_savings_plan
        else f"{c.quantity:g} {'GPUs' if p.quantity_unit == 'gpus' else p.quantity_unit}"
    )
    what = " ".join(x for x in (c.sku, c.region) if x) or "any"
    kind = c.purchase_model.replace("_", " ").replace("ec2", "EC2")
    provider = {"aws": "AWS", "coreweave": "CoreWeave", "lambda": "Lambda"}.get(
        c.provider, c.provider
    )
    pay = c.payment_option.replace("_", " ")
    return (
        f"{'now' if p.firm else 'ladder'}, {c.start.date()}: {provider} {kind} {what}, "
        f"{c.term_months} months, {pay}: {amount}"
    )


def value_purchases(
    plan: Plan,
    paths: ValuationPaths,
    offers: pd.DataFrame,
    inventory: list[Commitment],
    policy: Policy,
    *,
    progress: Progress | None = None,
    serverless: ServerlessSetup | None = None,
) -> Plan:
    """The plan with the recommendation rule applied and every purchase valued (module
    docstring); ``record["purchase_valuation"]`` lists what was dropped and why. ``serverless``:
    the run's serverless options; the plan's own decisions (``record["serverless"]``) are billed."""
    serverless = plan_serverless(plan, serverless)
    t0 = time.perf_counter()
    dropped: list[dict[str, Any]] = []
    kept: list[Purchase] = []
    for p in plan.purchases:
        why = below_minimum_lot(p, policy)
        if why:
            dropped.append({"purchase": _describe(p), "reason": "odd lot: " + why})
        else:
            kept.append(p)
    values, with_fig = marginal_values(
        tuple(kept), inventory, paths, offers, policy, progress=progress, serverless=serverless
    )
    offers = relevant_offers(offers, paths.pools, [*inventory, *(p.commitment for p in kept)])
    ids = {p.commitment.commitment_id for p in kept}
    held_with = bounds_broken(with_fig, ids, paths, policy)
    required: dict[str, str] = {}
    survivors: list[Purchase] = []
    for p in kept:
        cid = p.commitment.commitment_id
        if values[cid].savings_usd > 0:
            survivors.append(p)
            continue
        others = [c for c in [*inventory, *(q.commitment for q in kept)] if c.commitment_id != cid]
        without = _bill(f"without {cid}", others, paths, offers, policy, serverless)
        newly = bounds_broken(without, ids - {cid}, paths, policy) - held_with
        if newly:
            required[cid] = ", ".join(sorted(newly))
            survivors.append(p)
        else:
            dropped.append(
                {
                    "purchase": _describe(p),
                    "reason": f"marginal value {_usd(values[cid].savings_usd)} is not positive",
                }
            )
    if len(survivors) < len(kept):
        values, with_fig = marginal_values(
            tuple(survivors),
            inventory,
            paths,
            offers,
            policy,
            progress=progress,
            serverless=serverless,
        )
    origin = paths.timestamps[0]
    rate = cost_of_capital_pct(policy)
    final: list[Purchase] = []
    for i, p in enumerate(survivors, start=1):
        old = p.commitment.commitment_id
        v = values[old]
        final.append(
            replace(
                p,
                commitment=replace(p.commitment, commitment_id=f"P{i:03d}"),
                expected_savings_usd=v.savings_usd,
                npv_savings_usd=v.npv_savings_usd,
                breakeven_months=v.breakeven_months,
                expected_utilization=v.expected_utilization,
                p10_utilization=v.p10_utilization,
                npv_cost_usd=npv_cost_usd(p, origin, rate),
                price_basis=price_basis(p.commitment, offers, paths.pools).basis,
                required_by=required.get(old, ""),
            )
        )
    record = dict(plan.record)
    record["purchase_valuation"] = {
        "method": "leave-one-out on the evaluator (planner/purchase_values.py)",
        "paths": len(paths.probabilities),
        "window": [paths.timestamps[0].isoformat(), paths.timestamps[-1].isoformat()],
        "cost_of_capital_pct": rate,
        "min_purchase_usd_per_hour": policy.min_purchase_usd_per_hour,
        "dropped": dropped,
        # each purchase's utilisation in every path and the paths' probabilities: what its
        # expected and P10 utilisation are computed from (the report's utilisation chart draws them)
        "probabilities": [round(float(w), 12) for w in with_fig.probabilities],
        "utilization_by_path": {
            f.commitment.commitment_id: [
                round(float(e.commitment_utilization.get(p.commitment.commitment_id, 0.0)), 6)
                for e in with_fig.evaluations
            ]
            for f, p in zip(final, survivors, strict=True)
        },
        "time_s": round(time.perf_counter() - t0, 3),
    }
    return replace(plan, purchases=tuple(final), record=record)
