"""What each recommended purchase commits to, what it is worth and which prices it rests on.

Cash flows of a purchase (calendar months from the plan start, as the referee books them)
    The upfront payment U in the start month m₀, then the recurring fee R (USD a month) in each
    month m₀ .. m₀ + T − 1 of the term. Term obligation = U + R·T. NPV cost at the plan start:
    ``U·δ_{m₀} + Σₘ R·δₘ`` with δₘ = (1 + r)^(−m/12) and r = ``discount_rate_pct``/100
    (planner/valuation.py).

Marginal value (leave-one-out on the evaluator, the referee, over every purchase's whole term)
    For purchase p among the plan's commitments C (existing inventory and every purchase), on the
    run's valuation paths s (the forecast's hours, then the tail model to the end of the longest
    term: :func:`whole_term_paths`, the same rows the LP priced) with probabilities π_s::

        saving_p     = Σ_s π_s · (cash_s(C ∖ {p}) − cash_s(C))
        npv_saving_p = Σ_s π_s · (npv_s(C ∖ {p}) − npv_s(C))

    where cash_s / npv_s are the evaluator's undiscounted and discounted cash of path s (upfront
    when paid, recurring and usage when accrued: :func:`planner.evaluate.bill`). The values need
    not sum to the plan's joint saving: purchases that could serve the same demand substitute for
    each other, so each is worth less alone than the group is together (or more, where they
    complement).

Break-even (``breakeven_months``)
    With Δ_m the expected cash saving of month m (its upfront included, in the start month), the
    months from the start until Σ_{m₀..m} Δ turns positive, interpolated within the month that
    crosses; 0 when Δ_{m₀} > 0. Paths shorter than the term (:func:`forecast_window_paths`) are
    extrapolated at their mean monthly saving; ``None`` when the saving does not turn positive
    within the term.

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
    2. Purchases whose marginal NPV saving is not positive (the cost of money counts: an upfront
       payment that earns less than the discount rate is not worth making) are taken in
       increasing order of that value and
       dropped one at a time, each from the set left by the drops before it, unless a risk bound
       that the referee (:func:`planner.evaluate.bounds.check_bounds`) finds held on that set
       breaks without it: then it stays, and ``required_by`` names the bound (its policy-file
       key). Dropping one at a time keeps two drops that are harmless alone from breaking a bound
       together.
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
from planner.evaluate.bill import Tariff, tariff
from planner.evaluate.bounds import check_bounds
from planner.evaluate.compare import StrategyFigures, evaluate_on_paths
from planner.evaluate.plan_bill import upfront_by_date
from planner.evaluate.serverless import plan_serverless
from planner.inventory import Commitment
from planner.optimize.offers import relevant_offers
from planner.plan import Plan, Purchase
from planner.policy import Policy
from planner.serverless import ServerlessSetup
from planner.valuation import (
    Timeline,
    ValuationPaths,
    discount_by_month,
    hourly_timeline,
    valuation_for,
)
from pricing_data.schema import term_hours
from pricing_data.stats import weighted_quantile

Progress = Callable[[str], None]


# ---- cash flows -------------------------------------------------------------------------------


def purchase_cash_flows(p: Purchase, origin: pd.Timestamp) -> pd.DataFrame:
    """The purchase's payments by calendar month from ``origin`` (module docstring): ``month``,
    ``upfront_usd`` (the start month) and ``recurring_usd`` (each month of the term)."""
    c = p.commitment
    first = _month_index(origin, c.start)
    months = np.arange(first, first + int(c.term_months))
    recurring = np.full(len(months), p.recurring_monthly_usd)
    upfront = np.zeros(len(months))
    if len(months):
        upfront[0] = p.upfront_usd
    return pd.DataFrame({"month": months, "upfront_usd": upfront, "recurring_usd": recurring})


def npv_cost_usd(p: Purchase, origin: pd.Timestamp, rate_pct: float) -> float:
    """Present value at ``origin`` of the purchase's payments: Σ_m δ_m · cash_m with
    δ_m = (1 + r)^(−m/12) (planner/valuation.py, the referee's discounting)."""
    flows = purchase_cash_flows(p, origin)
    months = flows["month"].to_numpy(int)
    delta = discount_by_month(int(months.max()) + 1 if len(months) else 0, rate_pct)
    cash = (flows["upfront_usd"] + flows["recurring_usd"]).to_numpy(float)
    return float(delta[np.maximum(months, 0)] @ cash)


def _month_index(start: pd.Timestamp, when: pd.Timestamp) -> int:
    """Calendar months from ``start``'s month to ``when``'s (0 = the same month)."""
    return (when.year - start.year) * 12 + (when.month - start.month)


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
class PurchasePaths:
    """The demand paths purchases are valued on: ``valuation`` (rows of a timeline, demand and
    each path's spot price factor), the paths' ``probabilities`` and their ``pools``."""

    valuation: ValuationPaths
    probabilities: np.ndarray
    pools: tuple[Pool, ...]

    @property
    def timeline(self) -> Timeline:
        return self.valuation.timeline


def whole_term_paths(
    scenarios: DemandScenarios,
    policy: Policy,
    inventory: list[Commitment],
    offers: pd.DataFrame,
) -> PurchasePaths:
    """The run's valuation paths (planner/valuation.py): the forecast's hours, then the tail model
    to the end of every term that can be bought, the same rows the LP priced and the strategy
    comparison bills, so every value here is whole-term."""
    vp = valuation_for(
        scenarios.demand_gpus,
        scenarios.start,
        policy,
        inventory,
        seed=scenarios.seed,
        offers=offers,
    )
    return PurchasePaths(vp, scenarios.probabilities, scenarios.pools)


def forecast_window_paths(scenarios: DemandScenarios) -> PurchasePaths:
    """The scenarios' own hours, no tail and no spot price spread: a purchase is valued only on
    what falls inside them (a test fixture's exact window, or a what-if on a fixed span)."""
    n_s = scenarios.demand_gpus.shape[0]
    vp = ValuationPaths(
        timeline=hourly_timeline(scenarios.timestamps),
        demand_gpus=scenarios.demand_gpus,
        tail_volatility=np.zeros(len(scenarios.pools)),
        note="the scenarios' hours only",
        spot_price_factor=np.ones(n_s),
    )
    return PurchasePaths(vp, scenarios.probabilities, scenarios.pools)


@dataclass(frozen=True)
class PurchaseValue:
    """One purchase's marginal value and the evaluator's figures for it (module docstring)."""

    savings_usd: float
    npv_savings_usd: float
    breakeven_months: float | None
    expected_utilization: float
    p10_utilization: float


@dataclass(frozen=True)
class _Biller:
    """Bills subsets of one set of commitments on the paths, with terms and prices resolved once."""

    paths: PurchasePaths
    offers: pd.DataFrame
    tf: Tariff
    serverless: ServerlessSetup | None

    def __call__(self, name: str, commitments: list[Commitment]) -> StrategyFigures:
        pa = self.paths
        return evaluate_on_paths(
            name,
            commitments,
            pa.valuation,
            pa.probabilities,
            pa.pools,
            self.offers,
            self.tf,
            self.serverless,
        )


def _biller(
    paths: PurchasePaths,
    offers: pd.DataFrame,
    policy: Policy,
    commitments: list[Commitment],
    serverless: ServerlessSetup | None,
) -> _Biller:
    offers = relevant_offers(offers, paths.pools, commitments)
    return _Biller(paths, offers, tariff(commitments, paths.pools, offers, policy), serverless)


def monthly_cash_usd(fig: StrategyFigures) -> np.ndarray:
    """Expected cash of the bill per calendar month of its timeline (every item summed)."""
    by_item = fig.cash_by_month()
    n = max((len(v) for v in by_item.values()), default=0)
    out = np.zeros(n)
    for v in by_item.values():
        out[: len(v)] += v
    return out


def _value_one(
    p: Purchase,
    with_fig: StrategyFigures,
    with_m: np.ndarray,
    without_fig: StrategyFigures,
    origin: pd.Timestamp,
) -> PurchaseValue:
    """``with_m``: :func:`monthly_cash_usd` of ``with_fig`` (the same for every purchase)."""
    c = p.commitment
    util = np.array(
        [e.commitment_utilization.get(c.commitment_id, 0.0) for e in with_fig.evaluations]
    )
    probs = with_fig.probabilities
    without_m = monthly_cash_usd(without_fig)
    n = max(len(with_m), len(without_m))
    delta = np.pad(without_m, (0, n - len(without_m))) - np.pad(with_m, (0, n - len(with_m)))
    first = max(0, _month_index(origin, c.start))
    return PurchaseValue(
        savings_usd=without_fig.expected_cash_usd - with_fig.expected_cash_usd,
        npv_savings_usd=without_fig.expected_npv_usd - with_fig.expected_npv_usd,
        breakeven_months=breakeven_months(delta[first:], float(c.term_months)),
        expected_utilization=float(probs @ util),
        p10_utilization=weighted_quantile(util, probs, 0.1),
    )


def breakeven_months(monthly_saving_usd: np.ndarray, term_months: float) -> float | None:
    """Months from the purchase's start month until the cumulative cash saving turns positive
    (module docstring), interpolated within the month that crosses; 0 when the first month's
    saving (its upfront included) is already positive. Past the months given, extrapolated at
    their mean; ``None`` when it does not turn positive within the term."""
    months = np.asarray(monthly_saving_usd, dtype=float)[: int(np.ceil(term_months))]
    if months.size == 0:
        return None
    cum = 0.0
    for m, usd in enumerate(months):
        if cum + usd > 0:
            return 0.0 if m == 0 else min(term_months, m + (-cum) / usd)
        cum += usd
    mean_month = float(months.mean())
    if mean_month <= 0 or months.size >= term_months:
        return None
    out = months.size + (-cum) / mean_month
    return out if out <= term_months else None


def marginal_values(
    purchases: tuple[Purchase, ...],
    inventory: list[Commitment],
    paths: PurchasePaths,
    offers: pd.DataFrame,
    policy: Policy,
    *,
    progress: Progress | None = None,
    serverless: ServerlessSetup | None = None,
) -> tuple[dict[str, PurchaseValue], StrategyFigures]:
    """Each purchase's leave-one-out value (module docstring) and the evaluator's bill of the
    whole set (inventory plus every purchase), per path; ``serverless``: the plan's serverless
    decisions, billed alike with and without each purchase."""
    every = [*inventory, *(p.commitment for p in purchases)]
    billed = _biller(paths, offers, policy, every, serverless)
    return _marginal(purchases, inventory, billed, progress)


def _marginal(
    purchases: tuple[Purchase, ...],
    inventory: list[Commitment],
    billed: _Biller,
    progress: Progress | None,
) -> tuple[dict[str, PurchaseValue], StrategyFigures]:
    """:func:`marginal_values` with ``billed`` (its tariff holds every commitment given here)."""
    say = progress or (lambda _m: None)
    every = [*inventory, *(p.commitment for p in purchases)]
    with_fig = billed("with every purchase", every)
    with_m = monthly_cash_usd(with_fig)
    origin = billed.paths.timeline.start
    say(f"valuing {len(purchases)} purchases one by one on {len(billed.paths.probabilities)} paths")
    out: dict[str, PurchaseValue] = {}
    for p in purchases:
        cid = p.commitment.commitment_id
        without = billed(f"without {cid}", [c for c in every if c.commitment_id != cid])
        out[cid] = _value_one(p, with_fig, with_m, without, origin)
    return out, with_fig


# ---- bounds on the evaluator ------------------------------------------------------------------

#: plan.json bound names (planner.evaluate.bounds) -> the policy-file key that sets each
BOUND_KEYS = {
    "cvar_unused_usd": "risk.cvar_limit_usd",
    "cvar_unused_pct": "risk.cvar_limit_pct",
    "min_utilization": "risk.min_utilization",
    "max_share_per_provider": "risk.max_share_per_provider",
    "upfront_budget_usd": "risk.upfront_budget_usd",
}


def bounds_broken(fig: StrategyFigures, purchases: list[Purchase], policy: Policy) -> set[str]:
    """The policy's risk bounds (policy-file keys) that the referee's check
    (:func:`planner.evaluate.bounds.check_bounds`) finds broken on the bill ``fig`` of the
    inventory and ``purchases``."""
    checks = check_bounds(fig, policy, upfront_by_date(purchases))
    return {BOUND_KEYS[b.name] for b in checks if not b.held}


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


def _drop_unvalued(
    kept: list[Purchase],
    values: dict[str, PurchaseValue],
    with_fig: StrategyFigures,
    billed: _Biller,
    inventory: list[Commitment],
    policy: Policy,
) -> tuple[list[Purchase], dict[str, str], list[dict[str, Any]]]:
    """Rule 2 of the module docstring: (survivors, required_by per id, dropped rows)."""
    current = list(kept)
    fig = with_fig
    broken_now = bounds_broken(fig, current, policy)
    required: dict[str, str] = {}
    dropped: list[dict[str, Any]] = []
    unvalued = [p for p in kept if values[p.commitment.commitment_id].npv_savings_usd <= 0]
    for p in sorted(unvalued, key=lambda q: values[q.commitment.commitment_id].npv_savings_usd):
        cid = p.commitment.commitment_id
        rest = [q for q in current if q.commitment.commitment_id != cid]
        without = billed(f"without {cid}", [*inventory, *(q.commitment for q in rest)])
        newly = bounds_broken(without, rest, policy) - broken_now
        if newly:
            required[cid] = ", ".join(sorted(newly))
            continue
        current, fig = rest, without
        broken_now = bounds_broken(fig, current, policy)
        dropped.append(
            {
                "purchase": _describe(p),
                "reason": f"marginal value {_usd(values[cid].npv_savings_usd)} NPV "
                f"({_usd(values[cid].savings_usd)} undiscounted) is not positive",
            }
        )
    return current, required, dropped


def value_purchases(
    plan: Plan,
    paths: PurchasePaths,
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
    # one tariff for every bill below: the survivors are a subset of the kept purchases
    every = [*inventory, *(p.commitment for p in kept)]
    billed = _biller(paths, offers, policy, every, serverless)
    values, with_fig = _marginal(tuple(kept), inventory, billed, progress)
    survivors, required, unvalued = _drop_unvalued(
        kept, values, with_fig, billed, inventory, policy
    )
    dropped += unvalued
    if len(survivors) < len(kept):
        values, with_fig = _marginal(tuple(survivors), inventory, billed, progress)
    origin = paths.timeline.start
    rate = float(policy.discount_rate_pct)
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
                price_basis=price_basis(p.commitment, billed.offers, paths.pools).basis,
                required_by=required.get(old, ""),
            )
        )
    tl = paths.timeline
    end = tl.start + pd.Timedelta(hours=int(tl.valuation_hours))
    record = dict(plan.record)
    record["purchase_valuation"] = {
        "method": "leave-one-out on the evaluator over the valuation horizon "
        "(planner/purchase_values.py)",
        "paths": len(paths.probabilities),
        "window": [tl.start.isoformat(), end.isoformat()],
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
