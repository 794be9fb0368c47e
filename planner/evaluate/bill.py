"""The referee: the hour-by-hour bill of fixed commitments for one usage path, with the providers'
rules, independent of the LP code (it shares only the catalog and the Policy).

Serving prices per pool (USD per GPU-hour): on-demand is the cheapest allowed on-demand offer (AWS in
the pool's region; for portable pools also CoreWeave/Lambda plus egress); spot, for interruptible
pools only, is the cheapest spot offer times ``1 + spot_overhead_pct/100`` (egress included off AWS),
used only when cheaper than on-demand, for at most ``spot_cap_share`` of the pool's usage each hour.

Each hour, in the providers' order:
1. Reserved Instances cover matching usage (same GPU type, the pool's AWS region), up to
   instances × GPUs per instance;
2. reserved contracts (CoreWeave, Lambda) cover portable pools of their GPU type, up to their GPUs,
   each GPU-hour paying egress (skipped where egress costs more than the usage it displaces);
3. EC2 Instance Savings Plans, then Compute Savings Plans: each plan's hourly dollars go to the usage
   with the highest discount first (discount = 1 − SP rate ÷ the price the usage would otherwise
   pay), each GPU-hour consuming its SKU's SP rate, until the hour's commitment is spent;
4. what is left goes to spot (up to the cap) when cheaper, then on-demand.

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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.scenarios import Pool
from planner.evaluate.serverless import (
    bill_all_serverless,
    bill_hybrid_bursts,
    bill_hybrid_first,
)
from planner.inventory import Commitment
from planner.policy import Policy
from planner.serverless import ServerlessSetup
from pricing_data.errors import PlannerInputError

_OFF_AWS = ("coreweave", "lambda")
_ORDER = {
    "reserved_instance": 0,
    "reserved_contract": 1,
    "ec2_instance_savings_plan": 2,
    "compute_savings_plan": 3,
}


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


@dataclass(frozen=True)
class _Price:
    od: np.ndarray
    od_provider: list[str]
    spot: np.ndarray  # inf when no spot
    spot_provider: list[str]


def serving_prices(offers: pd.DataFrame, pools: tuple[Pool, ...], policy: Policy) -> _Price:
    """Cheapest allowed on-demand and spot USD per GPU-hour per pool (module docstring)."""
    od = np.full(len(pools), np.inf)
    spot = np.full(len(pools), np.inf)
    od_prov = [""] * len(pools)
    spot_prov = [""] * len(pools)
    factor = 1.0 + policy.spot_overhead_pct / 100.0
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
            elif pool.interruptible and price * factor < spot[i]:
                spot[i], spot_prov[i] = price * factor, prov
    for i, pool in enumerate(pools):
        if not np.isfinite(od[i]):
            raise PlannerInputError(
                f"no on-demand price for pool {pool.name}",
                value=pool.aws_region,
                fix="use a region where AWS sells this GPU on demand",
            )
        if spot[i] >= od[i] or policy.spot_cap_share <= 0:
            spot[i], spot_prov[i] = np.inf, ""
    return _Price(od, od_prov, spot, spot_prov)


@dataclass(frozen=True)
class _Terms:
    """How a commitment bills and what it covers."""

    hourly_usd: float  # billed per active hour
    capacity_gpus: float  # RIs and contracts; 0 for SPs
    egress: float
    pool_rate: dict[int, float]  # SP: USD of commitment per GPU-hour; capacity: USD per GPU-hour


def _terms(c: Commitment, offers: pd.DataFrame, pools: tuple[Pool, ...], policy: Policy) -> _Terms:
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
    if c.is_savings_plan:
        rate: dict[int, float] = {}
        for i, pool in enumerate(pools):
            m = (same["region"] == pool.aws_region) & (same["gpu_type"] == pool.gpu_type)
            if m.any():
                rate[i] = float(same.loc[m, "usd_per_gpu_hour"].min())
        return _Terms(c.hourly_commitment_usd, 0.0, 0.0, rate)
    row = same.iloc[0]
    gpus = float(row["gpus_per_unit"])
    per_gpu = float(row["effective_usd_per_hour"]) / gpus
    rate = {}
    for i, pool in enumerate(pools):
        if row["gpu_type"] != pool.gpu_type:
            continue
        if c.purchase_model == "reserved_instance" and pool.aws_region == c.region:
            rate[i] = per_gpu
        if c.purchase_model == "reserved_contract" and pool.portable:
            rate[i] = per_gpu
    egress = policy.egress_usd_per_gpu_hour if c.provider in _OFF_AWS else 0.0
    return _Terms(
        c.quantity * float(row["effective_usd_per_hour"]), c.quantity * gpus, egress, rate
    )


def evaluate(
    commitments: list[Commitment],
    usage_gpus: np.ndarray,
    timestamps: pd.DatetimeIndex,
    pools: tuple[Pool, ...],
    offers: pd.DataFrame,
    policy: Policy,
    *,
    detail: bool = False,
    serverless: ServerlessSetup | None = None,
) -> Evaluation:
    """The bill of ``commitments`` for ``usage_gpus`` (n_hours × n_pools) at ``timestamps``.

    ``cost_by_pool_usd`` (pool name -> component -> USD) allocates each commitment's billed cost to
    the pools in proportion to the commitment dollars their usage consumed ("amortised by use"); a
    commitment that served nothing is allocated to the pseudo-pool ``(unused commitments)``. With
    ``detail``, ``served_gpus`` holds hourly GPUs (summed over pools) served by each commitment id,
    ``spot`` and ``on_demand``. ``serverless``: scale-to-zero pools billed by busy time
    (:mod:`planner.evaluate.serverless`), shown as the component and provider lines it bills.
    """
    u = np.asarray(usage_gpus, dtype=float)
    if u.ndim == 1:
        u = u[:, None]
    if u.shape != (len(timestamps), len(pools)):
        raise PlannerInputError(
            "usage must be hours x pools",
            value=u.shape,
            fix=f"pass an array of shape ({len(timestamps)}, {len(pools)})",
        )
    if not np.isfinite(u).all() or (u < 0).any():
        raise PlannerInputError("usage must be finite and >= 0 GPUs", fix="clean the usage path")
    ts = pd.DatetimeIndex(timestamps)
    price = serving_prices(offers, pools, policy)
    u_all = u
    u, sl_bill = bill_all_serverless(u_all, ts, pools, serverless)  # pools wholly serverless
    if serverless is not None and serverless.options:  # hybrid hours cheaper than any commitment
        floor = np.full(len(pools), np.inf)
        for c in commitments:
            for p, rate in _terms(c, offers, pools, policy).pool_rate.items():
                floor[p] = min(floor[p], rate)
        u = bill_hybrid_first(u, ts, pools, serverless, floor, sl_bill)
    n_h, n_p = u.shape
    has_spot = np.isfinite(price.spot)
    spot_part = np.where(has_spot[None, :], policy.spot_cap_share * u, 0.0)
    od_left = u - spot_part  # usage that would pay on-demand
    spot_left = spot_part.copy()  # usage that could run on spot
    spot_price = np.where(has_spot, price.spot, 0.0)
    committed = np.zeros_like(u)
    comp = {"commitments": 0.0, "contracts": 0.0, "on_demand": 0.0, "spot": 0.0, "egress": 0.0}
    by_prov: dict[str, float] = {}
    hourly = np.zeros(n_h)
    util: dict[str, float] = {}
    spend: dict[str, float] = {}
    used_total = spend_total = 0.0
    by_pool: dict[str, dict[str, float]] = {}
    served_detail: dict[str, np.ndarray] = {}

    def _charge(pool: str, component: str, usd: float) -> None:
        if usd:
            slot = by_pool.setdefault(pool, {})
            slot[component] = slot.get(component, 0.0) + usd

    order = sorted(commitments, key=lambda c: (_ORDER[c.purchase_model], c.start, c.commitment_id))
    for c in order:
        t = _terms(c, offers, pools, policy)
        active = np.asarray((ts >= c.start) & (ts < c.end))
        billed = t.hourly_usd * active
        hourly += billed
        kind = "contracts" if c.purchase_model == "reserved_contract" else "commitments"
        comp[kind] += float(billed.sum())
        by_prov[c.provider] = by_prov.get(c.provider, 0.0) + float(billed.sum())
        budget = (t.hourly_usd if c.is_savings_plan else t.capacity_gpus) * active.astype(float)
        used_usd = np.zeros(n_h)
        used_by_pool = np.zeros(n_p)
        egress_by_pool = np.zeros(n_p)
        served_c = np.zeros(n_h) if detail else None
        # segments: (value per GPU-hour displaced, pool, which residual); best ratio first
        segs = []
        for p, rate in t.pool_rate.items():
            k = rate if c.is_savings_plan else 1.0
            segs.append(((price.od[p] - t.egress) / k, p, "od"))
            if has_spot[p]:
                segs.append(((spot_price[p] - t.egress) / k, p, "spot"))
        segs.sort(key=lambda x: (-x[0], x[1], x[2]))
        for value, p, which in segs:
            if value <= 0:
                continue
            k = t.pool_rate[p] if c.is_savings_plan else 1.0
            left = od_left if which == "od" else spot_left
            take = np.minimum(left[:, p], budget / k)
            left[:, p] -= take
            budget = budget - take * k
            committed[:, p] += take
            used_usd += take * t.pool_rate[p]
            used_by_pool[p] += float(take.sum()) * t.pool_rate[p]
            if served_c is not None:
                served_c += take
            if t.egress:
                eg = take * t.egress
                comp["egress"] += float(eg.sum())
                egress_by_pool[p] += float(eg.sum())
                hourly += eg
        s = float(billed.sum())
        used = float(used_usd.sum())
        if used_by_pool.sum() > 0:
            for p in range(n_p):
                _charge(pools[p].name, kind, s * used_by_pool[p] / used_by_pool.sum())
                _charge(pools[p].name, "egress", float(egress_by_pool[p]))
        else:
            _charge("(unused commitments)", kind, s)
        if served_c is not None:
            served_detail[c.commitment_id] = served_c
        spend[c.commitment_id] = s
        util[c.commitment_id] = min(1.0, used / s) if s > 0 else 0.0
        used_total += min(used, s)
        spend_total += s
    spot_or_inf = np.where(has_spot, price.spot, np.inf)
    bill_hybrid_bursts(od_left, spot_left, ts, pools, serverless, price.od, spot_or_inf, sl_bill)
    if sl_bill.usd_by_pool:
        hourly += sl_bill.hourly_usd
        comp["serverless"] = sl_bill.total_usd
        for prov, usd in sl_bill.usd_by_provider.items():
            by_prov[prov] = by_prov.get(prov, 0.0) + usd
        for pool_name, usd in sl_bill.usd_by_pool.items():
            _charge(pool_name, "serverless", usd)
    od_gpus = od_left.copy()
    # spot only when cheaper than on-demand; otherwise it is on-demand
    spot_gpus = np.where(has_spot[None, :], spot_left, 0.0)
    od_gpus += np.where(has_spot[None, :], 0.0, spot_left)
    eg = policy.egress_usd_per_gpu_hour
    spot_eg = eg * (1 + policy.spot_overhead_pct / 100)
    for p in range(n_p):
        od_off = price.od_provider[p] in _OFF_AWS
        od_cost = od_gpus[:, p] * price.od[p]
        hourly += od_cost
        od_egress = float(od_gpus[:, p].sum()) * (eg if od_off else 0.0)
        comp["on_demand"] += float(od_cost.sum()) - od_egress
        comp["egress"] += od_egress
        _charge(pools[p].name, "on_demand", float(od_cost.sum()) - od_egress)
        _charge(pools[p].name, "egress", od_egress)
        prov = price.od_provider[p]
        by_prov[prov] = by_prov.get(prov, 0.0) + float(od_cost.sum()) - od_egress
        if has_spot[p]:
            sp_cost = spot_gpus[:, p] * price.spot[p]
            hourly += sp_cost
            sp_off = price.spot_provider[p] in _OFF_AWS
            sp_egress = float(spot_gpus[:, p].sum()) * (spot_eg if sp_off else 0.0)
            comp["spot"] += float(sp_cost.sum()) - sp_egress
            comp["egress"] += sp_egress
            _charge(pools[p].name, "spot", float(sp_cost.sum()) - sp_egress)
            _charge(pools[p].name, "egress", sp_egress)
            sprov = price.spot_provider[p]
            by_prov[sprov] = by_prov.get(sprov, 0.0) + float(sp_cost.sum()) - sp_egress
    by_prov["aws"] = by_prov.get("aws", 0.0) + comp["egress"]
    total = float(sum(comp.values()))
    od_eq = float((u_all * price.od[None, :]).sum())
    demand = float(u_all.sum())
    return Evaluation(
        total_usd=total,
        cost_by_component_usd=comp,
        cost_by_provider_usd=by_prov,
        hourly_cost_usd=hourly,
        on_demand_equivalent_usd=od_eq,
        coverage=float(committed.sum()) / demand if demand > 0 else 0.0,
        utilization=used_total / spend_total if spend_total > 0 else 0.0,
        esr=1.0 - total / od_eq if od_eq > 0 else 0.0,
        waste_usd=spend_total - used_total,
        commitment_utilization=util,
        commitment_spend_usd=spend,
        cost_by_pool_usd=by_pool,
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
    )
