"""The referee: the bill of fixed commitments for one usage path, with the providers' rules,
independent of the LP code (it shares only the catalog, the Policy and the valuation timeline).

Serving prices per pool (USD per GPU-hour): on-demand is the cheapest allowed on-demand offer (AWS in
the pool's region; for portable pools also CoreWeave/Lambda plus egress); spot, for interruptible
pools only, is the cheapest spot offer times its re-run factor
(:meth:`~planner.policy.Policy.spot_rerun_factor`: flat ``spot_overhead_pct`` plus the re-runs the
catalog's interruption rate implies; egress included off AWS), used only when cheaper than
on-demand, for at most the pool's availability cap of its usage
(:meth:`~planner.policy.Policy.spot_cap`: the pool's own ``[[pools]]`` cap, else the assumed cap of
that offer's interruption band, at most ``spot_cap_share``).

Rows. The usage path is given on rows: single hours (``timestamps``), or the rows of a
:class:`~planner.valuation.Timeline` (hours in the decision horizon, then coarse blocks to the end
of the valuation horizon, each with a weight in hours). Usage is mean GPUs over a row; a row's
money is GPUs × weight × price. A commitment active on part of a coarse row bills and serves that
share of it.

Each row, in the providers' order:
1. Reserved Instances cover matching usage (same GPU type, the pool's AWS region), up to
   instances × GPUs per instance;
2. reserved contracts (CoreWeave, Lambda) cover portable pools of their GPU type, up to their GPUs,
   each GPU-hour paying egress (skipped where egress costs more than the usage it displaces);
3. EC2 Instance Savings Plans, then Compute Savings Plans: each plan's hourly dollars go to the usage
   with the highest discount first (discount = 1 − SP rate ÷ the price the usage would otherwise
   pay), each GPU-hour consuming its SKU's SP rate, until the hour's commitment is spent;
4. what is left goes to spot (up to the pool's cap) when cheaper, then on-demand.

Scale-to-zero pools with a serverless option (``serverless``): a pool decided wholly serverless
leaves the held path before step 1; a hybrid pool's rows cheaper on serverless than any active
commitment that serves it leave before step 1, and after step 3 what would pay spot or on-demand
goes to serverless where that is cheaper (:mod:`planner.evaluate.serverless`, component
``serverless``, billed to the serverless provider, cash in the month it accrues).

These are sequential rules, as the providers bill; the LP dispatches jointly, so where one pool can
be served by several kinds of commitment (say an RI, a Compute SP and a contract all fit a portable
H100 pool) the LP's cost can be slightly below this bill (measured in bench/optimizer_enterprise.py).
Where eligibility does not overlap that way, the two agree to solver tolerance (tested).
Within a step, usage that would otherwise pay on-demand is covered before usage that could run on
spot. Every commitment is billed each hour it is active (upfront amortised), used or not.

Figures: cost by component (commitments = RIs and Savings Plans, contracts, on_demand, spot, egress)
and by provider (egress billed to aws); per-commitment utilisation (used ÷ billed commitment dollars);
coverage (share of GPU-hours served by commitments); ESR = 1 − cost ÷ on-demand-equivalent cost
(every GPU-hour at the pool's on-demand price); waste = billed minus used commitment dollars.

Cash and the cost of money. Beside the accrual bill (upfront amortised over the term), the
evaluator keeps the cash: each commitment's upfront at the start of its first month (when it starts
inside the timeline; an upfront paid before is sunk and left out), its recurring fee and all usage
in the month they accrue. ``cash_by_month`` holds them per month; ``cash_usd`` is their sum and
``npv_usd`` their present value at ``discount_rate_pct`` (:mod:`planner.valuation`). Provider
GPU-hours served by commitments (``served_gpu_hours_by_provider``) measure provider share on
capacity used; ``spot_saving_usd`` is what spot saved against on-demand for the same GPU-hours.

Terms and prices are resolved once per run (:func:`tariff`) and reused across scenarios and
strategies.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.scenarios import Pool
from planner.evaluate.serverless import (
    ServerlessBill,
    bill_all_serverless,
    bill_hybrid_bursts,
    bill_hybrid_first,
)
from planner.inventory import Commitment
from planner.policy import Policy
from planner.serverless import ServerlessSetup
from planner.valuation import Timeline, discount_by_month, hourly_timeline
from pricing_data.errors import PlannerInputError
from pricing_data.schema import HOURS_PER_MONTH

_OFF_AWS = ("coreweave", "lambda")
_ORDER = {
    "reserved_instance": 0,
    "reserved_contract": 1,
    "ec2_instance_savings_plan": 2,
    "compute_savings_plan": 3,
}
COMPONENTS = ("commitments", "contracts", "on_demand", "spot", "egress")


@dataclass(frozen=True)
class Evaluation:
    """The realised bill of one usage path (module docstring)."""

    total_usd: float
    cost_by_component_usd: dict[str, float]
    cost_by_provider_usd: dict[str, float]
    hourly_cost_usd: np.ndarray
    on_demand_equivalent_usd: float
    coverage: float
    utilization: float
    esr: float
    waste_usd: float
    commitment_utilization: dict[str, float] = field(default_factory=dict)
    commitment_spend_usd: dict[str, float] = field(default_factory=dict)
    cost_by_pool_usd: dict[str, dict[str, float]] = field(default_factory=dict)
    served_gpus: dict[str, np.ndarray] = field(default_factory=dict)
    commitment_used_usd: dict[str, float] = field(default_factory=dict)
    served_gpu_hours_by_provider: dict[str, float] = field(default_factory=dict)
    demand_gpu_hours: float = 0.0
    spot_saving_usd: float = 0.0
    cash_by_month: dict[str, np.ndarray] = field(default_factory=dict)
    cash_usd: float = 0.0
    npv_usd: float = 0.0
    discount_rate_pct: float = 0.0


@dataclass(frozen=True)
class ServingPrices:
    """Per pool: on-demand and spot USD per GPU-hour (spot inf when none) and their providers."""

    od: np.ndarray
    od_provider: list[str]
    spot: np.ndarray  # inf when no spot
    spot_provider: list[str]
    spot_factor: np.ndarray  # GPU-hours bought per GPU-hour of work (re-runs), per pool
    spot_cap: np.ndarray  # availability cap: most of the pool's usage on spot (0 when no spot)
    spot_rate: np.ndarray | None = None  # the spot offer's interruption rate a month (NaN: none)


_Price = ServingPrices  # the former private name


def _interruption(rec: Any) -> float:
    v = getattr(rec, "spot_interruption_rate", float("nan"))
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def serving_prices(offers: pd.DataFrame, pools: tuple[Pool, ...], policy: Policy) -> ServingPrices:
    """Cheapest allowed on-demand and spot USD per GPU-hour per pool (module docstring)."""
    od = np.full(len(pools), np.inf)
    spot = np.full(len(pools), np.inf)
    od_prov = [""] * len(pools)
    spot_prov = [""] * len(pools)
    factor = np.ones(len(pools))
    rate = np.full(len(pools), np.nan)
    rec: Any
    for rec in offers[offers["purchase_model"].isin(["on_demand", "spot"])].itertuples():
        prov = str(rec.provider)
        for i, pool in enumerate(pools):
            if rec.gpu_type != pool.gpu_type:
                continue
            if prov == "aws":
                if rec.region != pool.aws_region:
                    continue
                price = float(rec.usd_per_gpu_hour)
            elif pool.portable and prov in policy.providers:
                price = float(rec.usd_per_gpu_hour) + policy.egress_usd_per_gpu_hour
            else:
                continue
            if rec.purchase_model == "on_demand":
                if price < od[i]:
                    od[i], od_prov[i] = price, prov
                continue
            f = policy.spot_rerun_factor(_interruption(rec))
            if pool.interruptible and price * f < spot[i]:
                spot[i], spot_prov[i], factor[i] = price * f, prov, f
                rate[i] = _interruption(rec)
    for i, pool in enumerate(pools):
        if not np.isfinite(od[i]):
            raise PlannerInputError(
                f"no on-demand price for pool {pool.name}",
                value=pool.aws_region,
                fix="use a region where AWS sells this GPU on demand",
            )
    cap = np.array(
        [policy.spot_cap(p.spot_cap_share, spot_prov[i], rate[i]) for i, p in enumerate(pools)]
    )
    for i in range(len(pools)):
        if spot[i] >= od[i] or cap[i] <= 0:
            spot[i], spot_prov[i], cap[i] = np.inf, "", 0.0
    return ServingPrices(od, od_prov, spot, spot_prov, factor, cap, rate)


def spot_availability(
    offers: pd.DataFrame, pools: tuple[Pool, ...], policy: Policy
) -> pd.DataFrame:
    """Per pool served by spot: the spot provider, its interruption band, the availability cap and
    where the cap comes from (``pool rule``, ``interruption band (assumed)``, ``policy``)."""
    from pricing_data.rates import spot_band

    sp = serving_prices(offers, pools, policy)
    rows = []
    for i, pool in enumerate(pools):
        if not np.isfinite(sp.spot[i]):
            continue
        lam = float(sp.spot_rate[i]) if sp.spot_rate is not None else float("nan")
        banded = sp.spot_provider[i] == "aws" and np.isfinite(lam)
        if pool.spot_cap_share is not None:
            basis = "pool rule"
        elif banded and sp.spot_cap[i] < policy.spot_cap_share:
            basis = "interruption band (assumed)"
        else:
            basis = "policy"
        rows.append(
            {
                "pool": pool.name,
                "spot_provider": sp.spot_provider[i],
                "interruption_band": spot_band(lam) if banded else "",
                "spot_cap_share": float(sp.spot_cap[i]),
                "basis": basis,
            }
        )
    return pd.DataFrame(
        rows, columns=["pool", "spot_provider", "interruption_band", "spot_cap_share", "basis"]
    )


@dataclass(frozen=True)
class Terms:
    """How a commitment bills (accrual and cash) and what it covers."""

    hourly_usd: float  # billed per active hour, upfront amortised
    upfront_usd: float  # paid once at the start
    recurring_usd_per_hour: float  # paid per active hour
    capacity_gpus: float  # RIs and contracts; 0 for SPs
    egress: float
    pool_rate: dict[int, float]  # SP: USD of commitment per GPU-hour; capacity: USD per GPU-hour


_Terms = Terms


def _catalog_rows(c: Commitment, offers: pd.DataFrame) -> pd.DataFrame:
    o = offers[(offers["purchase_model"] == c.purchase_model) & (offers["provider"] == c.provider)]
    if c.purchase_model in ("reserved_instance", "reserved_contract"):
        rows = o[(o["sku"] == c.sku) & (o["region"] == c.region)]
    elif c.purchase_model == "ec2_instance_savings_plan":
        rows = o[(o["instance_family"] == c.sku) & (o["region"] == c.region)]
    else:
        rows = o
    if rows.empty:
        raise PlannerInputError(
            f"commitment {c.commitment_id}: no {c.purchase_model} price in the catalog for "
            f"sku {c.sku!r} in region {c.region!r}",
            column="sku",
            value=c.sku,
            fix="check the commitment against `planner prices`",
        )
    same = rows[
        (rows["term_months"] == c.term_months)
        & (rows["payment_option"].astype(str) == c.payment_option)
    ]
    if c.purchase_model == "reserved_instance":
        cls = same[same["offering_class"].astype(str) == c.offering_class]
        same = cls if not cls.empty else same
    if same.empty:
        same = rows[rows["term_months"] == rows["term_months"].iloc[0]]
    return same


@dataclass(frozen=True)
class _Resolved:
    """What the catalog says about one kind of commitment (everything :class:`Terms` needs except
    the quantity): the first matching row's effective, upfront and recurring price per unit, GPUs
    per unit and term, and the rate per pool it serves (SP: USD of commitment per GPU-hour;
    capacity: USD per GPU-hour)."""

    effective_usd_per_hour: float
    upfront_usd: float
    recurring_usd_per_hour: float
    gpus_per_unit: float
    term_h: float
    pool_rate: dict[int, float]


def _resolve(c: Commitment, offers: pd.DataFrame, pools: tuple[Pool, ...]) -> _Resolved:
    same = _catalog_rows(c, offers)
    row = same.iloc[0]
    eff = float(row["effective_usd_per_hour"])
    gpus = 0.0 if c.is_savings_plan else float(row["gpus_per_unit"])
    rate: dict[int, float] = {}
    for i, pool in enumerate(pools):
        if c.is_savings_plan:
            m = (same["region"] == pool.aws_region) & (same["gpu_type"] == pool.gpu_type)
            if m.any():
                rate[i] = float(same.loc[m, "usd_per_gpu_hour"].min())
            continue
        if row["gpu_type"] != pool.gpu_type:
            continue
        if c.purchase_model == "reserved_instance" and pool.aws_region == c.region:
            rate[i] = eff / gpus
        if c.purchase_model == "reserved_contract" and pool.portable:
            rate[i] = eff / gpus
    return _Resolved(
        eff,
        float(row["upfront_usd"]),
        float(row["recurring_usd_per_hour"]),
        gpus,
        float(row["term_months"]) * HOURS_PER_MONTH,
        rate,
    )


def _terms_of(c: Commitment, r: _Resolved, policy: Policy) -> Terms:
    """``c``'s terms from its kind's catalog resolution: RIs and contracts scale with the quantity,
    Savings Plans with their hourly commitment (the upfront share of the catalog row's price)."""
    eff = r.effective_usd_per_hour
    if c.is_savings_plan:
        upfront_share = min(1.0, r.upfront_usd / (eff * r.term_h)) if eff > 0 else 0.0
        q = c.hourly_commitment_usd
        return Terms(
            q,
            q * upfront_share * c.term_months * HOURS_PER_MONTH,
            q * (1.0 - upfront_share),
            0.0,
            0.0,
            r.pool_rate,
        )
    egress = policy.egress_usd_per_gpu_hour if c.provider in _OFF_AWS else 0.0
    return Terms(
        c.quantity * eff,
        c.quantity * r.upfront_usd,
        c.quantity * r.recurring_usd_per_hour,
        c.quantity * r.gpus_per_unit,
        egress,
        r.pool_rate,
    )


def _kind(c: Commitment) -> tuple[object, ...]:
    """The fields of a commitment its catalog look-up reads (:func:`_catalog_rows`)."""
    return (
        c.purchase_model,
        c.provider,
        c.sku,
        c.region,
        c.term_months,
        c.payment_option,
        c.offering_class,
    )


class _CatalogMemo:
    """Per offers frame: its split by (purchase model, provider) and each commitment kind's
    resolution per pool set, so a run's many bills (scenarios, strategies, rounds, the marginal
    values) look each kind up once. Held while the frame lives (:func:`_memo`); offers frames are
    not modified after they are built, which this relies on."""

    def __init__(self, offers: pd.DataFrame) -> None:
        self.by_kind = dict(iter(offers.groupby(["purchase_model", "provider"], sort=False)))
        self.empty = offers.iloc[:0]
        self.resolved: dict[tuple[object, ...], _Resolved] = {}

    def resolve(self, c: Commitment, pools: tuple[Pool, ...]) -> _Resolved:
        key = (*_kind(c), pools)
        found = self.resolved.get(key)
        if found is None:
            rows = self.by_kind.get((c.purchase_model, c.provider), self.empty)
            found = self.resolved[key] = _resolve(c, rows, pools)
        return found


_MEMOS: dict[int, _CatalogMemo] = {}


def _memo(offers: pd.DataFrame) -> _CatalogMemo:
    """The :class:`_CatalogMemo` of ``offers``, dropped when the frame is collected (so an id is
    never reused for another frame)."""
    key = id(offers)
    memo = _MEMOS.get(key)
    if memo is None:
        memo = _MEMOS[key] = _CatalogMemo(offers)
        weakref.finalize(offers, _MEMOS.pop, key, None)
    return memo


@dataclass(frozen=True)
class Tariff:
    """Serving prices and commitment terms resolved once for a run (reused for every path)."""

    pools: tuple[Pool, ...]
    policy: Policy
    prices: ServingPrices
    terms: dict[str, Terms]


def tariff(
    commitments: list[Commitment], pools: tuple[Pool, ...], offers: pd.DataFrame, policy: Policy
) -> Tariff:
    """Resolve the serving prices and every commitment's terms once (module docstring)."""
    return Tariff(
        pools=tuple(pools),
        policy=policy,
        prices=serving_prices(offers, pools, policy),
        terms=_all_terms(commitments, offers, tuple(pools), policy),
    )


def _all_terms(
    commitments: list[Commitment], offers: pd.DataFrame, pools: tuple[Pool, ...], policy: Policy
) -> dict[str, Terms]:
    """Every commitment's terms, each kind looked up once among its own (purchase model, provider)
    rows of the catalog (:class:`_CatalogMemo`: a run's later bills reuse the look-ups)."""
    if not commitments:
        return {}
    memo = _memo(offers)
    return {c.commitment_id: _terms_of(c, memo.resolve(c, pools), policy) for c in commitments}


def extend_tariff(base: Tariff, commitments: list[Commitment], offers: pd.DataFrame) -> Tariff:
    """``base`` plus the terms of commitments it does not hold yet (ids already present reused)."""
    new = _all_terms(
        [c for c in commitments if c.commitment_id not in base.terms],
        offers,
        base.pools,
        base.policy,
    )
    if not new:
        return base
    return Tariff(base.pools, base.policy, base.prices, {**base.terms, **new})


class _Ledger:
    """Running totals of one bill (one usage path): by component, provider, pool and month."""

    def __init__(self, n_rows: int, n_months: int) -> None:
        self.comp = dict.fromkeys(COMPONENTS, 0.0)
        self.by_provider: dict[str, float] = {}
        self.by_pool: dict[str, dict[str, float]] = {}
        self.hourly = np.zeros(n_rows)
        self.cash: dict[str, np.ndarray] = {}
        self.n_months = n_months

    def charge_pool(self, pool: str, component: str, usd: float) -> None:
        if usd:
            slot = self.by_pool.setdefault(pool, {})
            slot[component] = slot.get(component, 0.0) + usd

    def provider(self, name: str, usd: float) -> None:
        self.by_provider[name] = self.by_provider.get(name, 0.0) + usd

    def cash_add(self, key: str, by_month: np.ndarray) -> None:
        slot = self.cash.get(key)
        self.cash[key] = by_month if slot is None else slot + by_month


@dataclass
class _Residual:
    """Usage still to serve, GPUs per row and pool: what would pay on-demand, what could run spot."""

    od_left: np.ndarray
    spot_left: np.ndarray
    committed: np.ndarray


def _check_usage(u: np.ndarray, n_rows: int, n_pools: int) -> np.ndarray:
    u = np.asarray(u, dtype=float)
    if u.ndim == 1:
        u = u[:, None]
    if u.shape != (n_rows, n_pools):
        raise PlannerInputError(
            "usage must be rows x pools",
            value=u.shape,
            fix=f"pass an array of shape ({n_rows}, {n_pools})",
        )
    if not np.isfinite(u).all() or (u < 0).any():
        raise PlannerInputError("usage must be finite and >= 0 GPUs", fix="clean the usage path")
    return u


def _segments(t: Terms, sp: bool, price: ServingPrices, has_spot: np.ndarray) -> list[Any]:
    """(value per unit of commitment, pool, residual): best value first."""
    spot_price = np.where(has_spot, price.spot, 0.0)
    segs = []
    for p, rate in t.pool_rate.items():
        k = rate if sp else 1.0
        segs.append(((price.od[p] - t.egress) / k, p, "od"))
        if has_spot[p]:
            segs.append(((spot_price[p] - t.egress) / k, p, "spot"))
    segs.sort(key=lambda x: (-x[0], x[1], x[2]))
    return segs


def _serve_commitment(
    c: Commitment,
    t: Terms,
    share: np.ndarray,
    res: _Residual,
    price: ServingPrices,
    has_spot: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dispatch one commitment on the residual usage (mutates ``res``): the pools it serves, and
    for each of them (rows of the arrays) GPUs served per row and commitment USD used per row
    (per hour of the row); the budget left per row."""
    n_rows = res.od_left.shape[0]
    budget = (t.hourly_usd if c.is_savings_plan else t.capacity_gpus) * share
    pools = np.array(sorted(t.pool_rate), dtype=np.int64)
    slot = {int(p): i for i, p in enumerate(pools)}
    served = np.zeros((len(pools), n_rows))
    used = np.zeros((len(pools), n_rows))
    for value, p, which in _segments(t, c.is_savings_plan, price, has_spot):
        if value <= 0:
            continue
        k = t.pool_rate[p] if c.is_savings_plan else 1.0
        left = res.od_left if which == "od" else res.spot_left
        take = np.minimum(left[:, p], budget / k)
        left[:, p] -= take
        budget = budget - take * k
        res.committed[:, p] += take
        served[slot[p]] += take
        used[slot[p]] += take * t.pool_rate[p]
    return pools, served, used, budget


@dataclass(frozen=True)
class _CommitmentBill:
    spend: float
    used: float
    served_gpu_hours: float
    served_detail: np.ndarray | None


def _bill_commitment(
    c: Commitment,
    t: Terms,
    tl: Timeline,
    res: _Residual,
    tf: Tariff,
    has_spot: np.ndarray,
    led: _Ledger,
    *,
    detail: bool,
) -> _CommitmentBill:
    """Bill one commitment on every row, dispatch it, and book its cash (module docstring)."""
    w = tl.weight_h
    share = tl.active_share(c.start, c.end)
    billed = t.hourly_usd * share * w
    led.hourly += billed
    kind = "contracts" if c.purchase_model == "reserved_contract" else "commitments"
    s = float(billed.sum())
    led.comp[kind] += s
    led.provider(c.provider, s)
    led.cash_add(f"recurring:{c.commitment_id}", tl.by_month(t.recurring_usd_per_hour * share))
    if t.upfront_usd and pd.Timestamp(c.start) >= tl.start and (share > 0).any():
        upfront = np.zeros(tl.n_months)
        upfront[tl.month_of_h(int((pd.Timestamp(c.start) - tl.start) / pd.Timedelta(hours=1)))] = (
            t.upfront_usd
        )
        led.cash_add(f"upfront:{c.commitment_id}", upfront)
    pools, served, used, _ = _serve_commitment(c, t, share, res, tf.prices, has_spot)
    used_by_pool = np.zeros(len(tf.pools))
    used_by_pool[pools] = used @ w
    egress_by_pool = np.zeros(len(tf.pools))
    egress_by_pool[pools] = t.egress * (served @ w)
    served_rows = served.sum(axis=0)  # GPUs served per row, all pools
    if t.egress:
        eg_rows = t.egress * served_rows * w
        led.comp["egress"] += float(eg_rows.sum())
        led.hourly += eg_rows
        led.cash_add("egress", tl.by_month(t.egress * served_rows))
    if used_by_pool.sum() > 0:
        for p, pool in enumerate(tf.pools):
            led.charge_pool(pool.name, kind, s * used_by_pool[p] / used_by_pool.sum())
            led.charge_pool(pool.name, "egress", float(egress_by_pool[p]))
    else:
        led.charge_pool("(unused commitments)", kind, s)
    return _CommitmentBill(
        spend=s,
        used=float(used_by_pool.sum()),
        served_gpu_hours=float(served_rows @ w),
        served_detail=served_rows if detail else None,
    )


def _commitment_floor(commitments: list[Commitment], tl: Timeline, tf: Tariff) -> np.ndarray:
    """Per row and pool: the cheapest USD per GPU-hour of a commitment active on the row that
    serves the pool (egress included; inf where none)."""
    floor = np.full((tl.n_rows, len(tf.pools)), np.inf)
    for c in commitments:
        t = tf.terms[c.commitment_id]
        active = tl.active_share(c.start, c.end) > 0
        for p, rate in t.pool_rate.items():
            floor[active, p] = np.minimum(floor[active, p], rate + t.egress)
    return floor


def _book_serverless(sl: ServerlessBill, tl: Timeline, led: _Ledger) -> None:
    """The serverless step's money in the ledger (component, providers, pools, cash by month)."""
    if not sl.usd_by_pool:
        return
    led.hourly += sl.row_usd
    led.comp["serverless"] = sl.total_usd
    for prov, usd in sl.usd_by_provider.items():
        led.provider(prov, usd)
    for pool_name, usd in sl.usd_by_pool.items():
        led.charge_pool(pool_name, "serverless", usd)
    led.cash_add("serverless", tl.by_month(sl.rate_usd_per_h))


def _bill_usage(
    res: _Residual, tl: Timeline, tf: Tariff, has_spot: np.ndarray, led: _Ledger
) -> tuple[np.ndarray, np.ndarray, float]:
    """Spot (where cheaper, up to the cap) and on-demand for what commitments left; returns
    (on-demand GPUs, spot GPUs, spot saving USD)."""
    price, pol, w = tf.prices, tf.policy, tl.weight_h
    spot_gpus = np.where(has_spot[None, :], res.spot_left, 0.0)
    od_gpus = res.od_left + np.where(has_spot[None, :], 0.0, res.spot_left)
    eg = pol.egress_usd_per_gpu_hour
    saving = 0.0
    for p, pool in enumerate(tf.pools):
        eg_od = eg if price.od_provider[p] in _OFF_AWS else 0.0
        od_rate = od_gpus[:, p] * price.od[p]
        led.hourly += od_rate * w
        od_cost = float(od_rate @ w)
        od_egress = float(od_gpus[:, p] @ w) * eg_od
        led.comp["on_demand"] += od_cost - od_egress
        led.comp["egress"] += od_egress
        led.cash_add("on_demand", tl.by_month(od_gpus[:, p] * (price.od[p] - eg_od)))
        led.cash_add("egress", tl.by_month(od_gpus[:, p] * eg_od))
        led.charge_pool(pool.name, "on_demand", od_cost - od_egress)
        led.charge_pool(pool.name, "egress", od_egress)
        led.provider(price.od_provider[p], od_cost - od_egress)
        if not has_spot[p]:
            continue
        eg_spot = eg * price.spot_factor[p] if price.spot_provider[p] in _OFF_AWS else 0.0
        sp_rate = spot_gpus[:, p] * price.spot[p]
        led.hourly += sp_rate * w
        sp_cost = float(sp_rate @ w)
        sp_egress = float(spot_gpus[:, p] @ w) * eg_spot
        saving += float(spot_gpus[:, p] @ w) * (price.od[p] - price.spot[p])
        led.comp["spot"] += sp_cost - sp_egress
        led.comp["egress"] += sp_egress
        led.cash_add("spot", tl.by_month(spot_gpus[:, p] * (price.spot[p] - eg_spot)))
        led.cash_add("egress", tl.by_month(spot_gpus[:, p] * eg_spot))
        led.charge_pool(pool.name, "spot", sp_cost - sp_egress)
        led.charge_pool(pool.name, "egress", sp_egress)
        led.provider(price.spot_provider[p], sp_cost - sp_egress)
    led.by_provider["aws"] = led.by_provider.get("aws", 0.0) + led.comp["egress"]
    return od_gpus, spot_gpus, saving


def _scaled_spot(tf: Tariff, factor: float) -> Tariff:
    p = tf.prices
    spot = p.spot * factor
    keep = spot < p.od
    prices = ServingPrices(
        od=p.od,
        od_provider=p.od_provider,
        spot=np.where(keep, spot, np.inf),
        spot_provider=[q if k else "" for q, k in zip(p.spot_provider, keep, strict=True)],
        spot_factor=p.spot_factor,
        spot_cap=np.where(keep, p.spot_cap, 0.0),
        spot_rate=p.spot_rate,
    )
    return Tariff(tf.pools, tf.policy, prices, tf.terms)


def bill(
    commitments: list[Commitment],
    usage_gpus: np.ndarray,
    timeline: Timeline,
    tf: Tariff,
    *,
    discount_rate_pct: float | None = None,
    detail: bool = False,
    spot_price_factor: float = 1.0,
    serverless: ServerlessSetup | None = None,
) -> Evaluation:
    """The bill of ``commitments`` for ``usage_gpus`` (rows × pools) on ``timeline`` with terms
    and prices from ``tf`` (module docstring). ``discount_rate_pct`` defaults to the policy's;
    ``spot_price_factor`` scales this path's spot prices (spot then used only while cheaper than
    on-demand); ``serverless`` bills scale-to-zero pools by busy time."""
    if spot_price_factor != 1.0:
        tf = _scaled_spot(tf, spot_price_factor)
    pools = tf.pools
    u_all = _check_usage(usage_gpus, timeline.n_rows, len(pools))
    rate = tf.policy.discount_rate_pct if discount_rate_pct is None else discount_rate_pct
    w = timeline.weight_h
    has_spot = np.isfinite(tf.prices.spot)
    missing = [c for c in commitments if c.commitment_id not in tf.terms]
    if missing:
        raise PlannerInputError(
            "commitments without resolved terms",
            value=[c.commitment_id for c in missing],
            fix="build the tariff with every commitment (planner.evaluate.tariff)",
        )
    u, sl_bill = bill_all_serverless(u_all, timeline, pools, serverless)
    if serverless is not None and serverless.options:
        floor = _commitment_floor(commitments, timeline, tf)
        u = bill_hybrid_first(u, timeline, pools, serverless, floor, sl_bill)
    spot_part = np.where(has_spot[None, :], tf.prices.spot_cap[None, :] * u, 0.0)
    res = _Residual(od_left=u - spot_part, spot_left=spot_part.copy(), committed=np.zeros_like(u))
    led = _Ledger(timeline.n_rows, timeline.n_months)
    util: dict[str, float] = {}
    spend: dict[str, float] = {}
    used_usd: dict[str, float] = {}
    by_provider_gpu_h: dict[str, float] = {}
    served_detail: dict[str, np.ndarray] = {}
    used_total = spend_total = 0.0
    order = sorted(commitments, key=lambda c: (_ORDER[c.purchase_model], c.start, c.commitment_id))
    for c in order:
        cb = _bill_commitment(
            c, tf.terms[c.commitment_id], timeline, res, tf, has_spot, led, detail=detail
        )
        if cb.served_detail is not None:
            served_detail[c.commitment_id] = cb.served_detail
        spend[c.commitment_id] = cb.spend
        used_usd[c.commitment_id] = min(cb.used, cb.spend)
        util[c.commitment_id] = min(1.0, cb.used / cb.spend) if cb.spend > 0 else 0.0
        by_provider_gpu_h[c.provider] = by_provider_gpu_h.get(c.provider, 0.0) + (
            cb.served_gpu_hours
        )
        used_total += min(cb.used, cb.spend)
        spend_total += cb.spend
    spot_or_inf = np.where(has_spot, tf.prices.spot, np.inf)
    bill_hybrid_bursts(
        res.od_left,
        res.spot_left,
        timeline,
        pools,
        serverless,
        tf.prices.od,
        spot_or_inf,
        sl_bill,
    )
    _book_serverless(sl_bill, timeline, led)
    od_gpus, spot_gpus, spot_saving = _bill_usage(res, timeline, tf, has_spot, led)
    total = float(sum(led.comp.values()))
    od_eq = float((u_all * tf.prices.od[None, :]).sum(axis=1) @ w)
    demand = float(u_all.sum(axis=1) @ w)
    delta = discount_by_month(timeline.n_months, rate)
    cash = float(sum(float(v.sum()) for v in led.cash.values()))
    npv = float(sum(float(v @ delta) for v in led.cash.values()))
    return Evaluation(
        total_usd=total,
        cost_by_component_usd=led.comp,
        cost_by_provider_usd=led.by_provider,
        hourly_cost_usd=led.hourly,
        on_demand_equivalent_usd=od_eq,
        coverage=float(res.committed.sum(axis=1) @ w) / demand if demand > 0 else 0.0,
        utilization=used_total / spend_total if spend_total > 0 else 0.0,
        esr=1.0 - total / od_eq if od_eq > 0 else 0.0,
        waste_usd=spend_total - used_total,
        commitment_utilization=util,
        commitment_spend_usd=spend,
        cost_by_pool_usd=led.by_pool,
        served_gpus=(
            {
                **served_detail,
                "spot": spot_gpus.sum(axis=1),
                "on_demand": od_gpus.sum(axis=1),
                **(
                    {"serverless": sl_bill.moved_gpus}
                    if sl_bill.moved_gpus is not None and sl_bill.usd_by_pool
                    else {}
                ),
            }
            if detail
            else {}
        ),
        commitment_used_usd=used_usd,
        served_gpu_hours_by_provider=by_provider_gpu_h,
        demand_gpu_hours=demand,
        spot_saving_usd=spot_saving,
        cash_by_month=led.cash,
        cash_usd=cash,
        npv_usd=npv,
        discount_rate_pct=rate,
    )


def evaluate(
    commitments: list[Commitment],
    usage_gpus: np.ndarray,
    timestamps: pd.DatetimeIndex | None,
    pools: tuple[Pool, ...],
    offers: pd.DataFrame,
    policy: Policy,
    *,
    detail: bool = False,
    timeline: Timeline | None = None,
    tf: Tariff | None = None,
    serverless: ServerlessSetup | None = None,
) -> Evaluation:
    """The bill of ``commitments`` for ``usage_gpus`` (rows × pools): on the hours ``timestamps``,
    or on ``timeline``'s rows. ``tf`` reuses terms and prices resolved once (:func:`tariff`).

    ``cost_by_pool_usd`` (pool name -> component -> USD) allocates each commitment's billed cost to
    the pools in proportion to the commitment dollars their usage consumed ("amortised by use"); a
    commitment that served nothing is allocated to the pseudo-pool ``(unused commitments)``. With
    ``detail``, ``served_gpus`` holds GPUs per row (summed over pools) served by each commitment id,
    ``spot`` and ``on_demand`` (and ``serverless``: held GPUs moved). ``serverless``: scale-to-zero
    pools billed by busy time (:mod:`planner.evaluate.serverless`).
    """
    if timeline is None:
        if timestamps is None:
            raise PlannerInputError("evaluate needs timestamps or a timeline")
        timeline = hourly_timeline(pd.DatetimeIndex(timestamps))
    u = np.asarray(usage_gpus, dtype=float)
    if u.ndim == 1:
        u = u[:, None]
    if u.shape != (timeline.n_rows, len(pools)):
        raise PlannerInputError(
            "usage must be hours x pools",
            value=u.shape,
            fix=f"pass an array of shape ({timeline.n_rows}, {len(pools)})",
        )
    if not np.isfinite(u).all() or (u < 0).any():
        raise PlannerInputError("usage must be finite and >= 0 GPUs", fix="clean the usage path")
    tf = (
        tariff(commitments, pools, offers, policy)
        if tf is None
        else extend_tariff(tf, commitments, offers)
    )
    return bill(commitments, u, timeline, tf, detail=detail, serverless=serverless)
