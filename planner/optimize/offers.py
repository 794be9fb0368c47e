"""The plain cost table the LP works from: per pool, its on-demand and spot price, and the candidate
commitments that can serve it. Built before the LP so the LP stays small.

Serving prices per pool (all USD per GPU-hour served)
    on-demand: the cheapest AWS on-demand SKU of the pool's GPU type in its region; for portable pools
    also CoreWeave/Lambda on-demand plus ``egress_usd_per_gpu_hour``; the cheapest wins.
    spot (interruptible pools only): the cheapest AWS spot SKU in the region (and CoreWeave spot plus
    egress for portable pools) times its re-run factor (``Policy.spot_rerun_factor``: the flat
    overhead plus the re-runs its interruption rate implies, as the evaluator prices it); dropped
    when not cheaper than on-demand. ``spot_cap_share``: the pool's availability cap from that
    offer (``Policy.spot_cap``; 0 when no spot).

Candidate commitments (one row each; ``units``: instances, GPUs or USD/hour of commitment)
    reserved_instance  capacity of ``gpus_per_unit`` GPUs per instance; serves the pools of its GPU
                       type in its region.
    reserved_contract  capacity in GPUs (CoreWeave, Lambda); serves portable pools of its GPU type;
                       each GPU-hour used pays egress.
    ec2_instance_savings_plan  one unit = USD 1/hour of commitment for one instance family in one
                       region; serves that region's pools of the family's GPU type at the family's
                       cheapest SKU rate (``rate_usd_per_gpu_hour``: commitment dollars consumed per
                       GPU-hour).
    compute_savings_plan  one unit = USD 1/hour of commitment; serves every AWS pool, each at the
                       cheapest SP rate of its GPU type in its region.

Pruning (documented, policy-aware)
    1. Policy filters: providers, purchase models, terms, payment options, offering classes.
    2. Per (provider, model, region, GPU type, class, term, payment) of capacity offers, keep the SKU
       with the lowest USD per GPU-hour (ties: the smaller unit, for finer quantities). Savings Plans
       are grouped per (family, region, term, payment) or (term, payment) and take the cheapest SKU
       rate per pool.
    3. Dominance: a candidate is dropped when another of the same kind (capacity or SP), serving the
       same pools, is no dearer (egress included; prices levelised at the policy's discount rate,
       so an all-upfront price competes with a no-upfront one on NPV: ``levelised_factor``) for
       every pool, has a term no longer, and — only when the policy sets
       an upfront budget — needs no more upfront cash per unit of value, and — only when a provider
       share bound is set — is from the same provider.
    Existing inventory is added as non-buyable candidates whatever the policy says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.scenarios import Pool
from planner.inventory import Commitment
from planner.policy import Policy
from pricing_data.errors import PlannerInputError
from pricing_data.schema import HOURS_PER_MONTH, SAVINGS_PLAN_MODELS

CAPACITY_MODELS = ("reserved_instance", "reserved_contract")
OFF_AWS = ("coreweave", "lambda")

CANDIDATE_COLUMNS = (
    "key",
    "kind",
    "provider",
    "purchase_model",
    "region",
    "sku",
    "gpu_type",
    "gpus_per_unit",
    "offering_class",
    "term_months",
    "payment_option",
    "upfront_usd_per_unit",
    "recurring_usd_per_unit_hour",
    "effective_usd_per_unit_hour",
    "egress_usd_per_gpu_hour",
    "offer_id",
    "catalog_version",
    "buyable",
    "inventory_id",
    "inventory_units",
    "inventory_start",
    "inventory_end",
)


@dataclass(frozen=True)
class CostTable:
    """What the LP needs to know about offers.

    ``pool_prices``: one row per pool (index = pool position): ``od_usd_per_gpu_hour``,
    ``od_provider``, ``od_offer_id``, ``spot_usd_per_gpu_hour`` (NaN when no spot), ``spot_offer_id``,
    ``spot_provider``, ``spot_cap_share``. ``candidates``: one row per candidate commitment (columns CANDIDATE_COLUMNS).
    ``coverage``: (``cand``, ``pool``, ``rate_usd_per_gpu_hour``): which pools each candidate serves;
    for Savings Plans the rate is commitment dollars consumed per GPU-hour served, for capacity it is
    the candidate's effective price per GPU-hour (information only). ``n_catalog_offers`` /
    ``n_pruned`` count rows before and after pruning.
    """

    pool_prices: pd.DataFrame
    candidates: pd.DataFrame
    coverage: pd.DataFrame
    n_catalog_offers: int
    n_pruned: int

    def pools_of(self, cand: int) -> list[int]:
        c = self.coverage
        return [int(p) for p in c.loc[c["cand"] == cand, "pool"]]


def num(value: Any) -> float:
    """A table cell as a float (pandas cells are typed as any scalar)."""
    return float(value)


def _str(df: pd.DataFrame, col: str) -> pd.Series:
    return df[col].astype(object).fillna("").astype(str)


def pool_prices(offers: pd.DataFrame, pools: tuple[Pool, ...], policy: Policy) -> pd.DataFrame:
    """On-demand and spot USD per GPU-hour per pool (see the module docstring)."""
    prov = _str(offers, "provider")
    model = _str(offers, "purchase_model")
    region = _str(offers, "region")
    gpu = _str(offers, "gpu_type")
    price = offers["usd_per_gpu_hour"].astype(float)
    off_aws_ok = prov.isin([p for p in OFF_AWS if p in policy.providers])
    rows = []
    rate = (
        pd.to_numeric(offers["spot_interruption_rate"], errors="coerce")
        if "spot_interruption_rate" in offers.columns
        else pd.Series(np.nan, offers.index)
    )
    # GPU-hours bought per GPU-hour of work on spot (re-runs), as the evaluator prices spot
    factor = pd.Series(
        [policy.spot_rerun_factor(float(r)) for r in rate.to_numpy()], index=offers.index
    )
    for _i, pool in enumerate(pools):
        home = (prov == "aws") & (region == pool.aws_region) & (gpu == pool.gpu_type)
        away = (
            off_aws_ok & (gpu == pool.gpu_type) if pool.portable else pd.Series(False, offers.index)
        )
        best: dict[str, tuple[float, str, str, float]] = {}
        for kind, m in (("od", "on_demand"), ("spot", "spot")):
            if kind == "spot" and not pool.interruptible:
                continue
            for mask, extra in ((home & (model == m), 0.0), (away & (model == m), 1.0)):
                if not mask.any():
                    continue
                cost = price[mask] + extra * policy.egress_usd_per_gpu_hour
                if kind == "spot":
                    cost = cost * factor[mask]
                j: Any = cost.idxmin()
                p = num(cost[j])
                if kind not in best or p < best[kind][0]:
                    best[kind] = (p, str(prov[j]), str(offers.at[j, "offer_id"]), num(rate[j]))
        if "od" not in best:
            raise PlannerInputError(
                f"no on-demand offer for pool {pool.name}",
                column="aws_region",
                value=pool.aws_region,
                fix=f"use a region where AWS sells {pool.gpu_type} on demand "
                "(see `planner prices --gpu " + pool.gpu_type + "`)",
            )
        od = best["od"]
        spot = best.get("spot")
        cap = 0.0 if spot is None else policy.spot_cap(pool.spot_cap_share, spot[1], spot[3])
        if spot is not None and (spot[0] >= od[0] or cap <= 0):
            spot, cap = None, 0.0
        rows.append(
            {
                "pool": pool.name,
                "od_usd_per_gpu_hour": od[0],
                "od_provider": od[1],
                "od_offer_id": od[2],
                "spot_usd_per_gpu_hour": spot[0] if spot else np.nan,
                "spot_provider": spot[1] if spot else "",
                "spot_offer_id": spot[2] if spot else "",
                "spot_cap_share": cap,
            }
        )
    return pd.DataFrame(rows)


def _candidate_row(r: pd.Series, **over: object) -> dict[str, object]:
    model = str(r["purchase_model"])
    sp = model in SAVINGS_PLAN_MODELS
    term_h = float(r["term_months"]) * HOURS_PER_MONTH
    eff = float(r["effective_usd_per_hour"])
    upfront_share = min(1.0, float(r["upfront_usd"]) / (eff * term_h)) if eff > 0 else 0.0
    row: dict[str, object] = {
        "kind": "savings_plan" if sp else "capacity",
        "provider": str(r["provider"]),
        "purchase_model": model,
        "region": str(r["region"]),
        "sku": str(r["sku"]),
        "gpu_type": str(r["gpu_type"]),
        "gpus_per_unit": np.nan if sp else float(r["gpus_per_unit"]),
        "offering_class": str(r["offering_class"] or ""),
        "term_months": int(r["term_months"]),
        "payment_option": str(r["payment_option"] or ""),
        # a Savings Plan unit is USD 1/hour of (effective) commitment
        "upfront_usd_per_unit": upfront_share * term_h if sp else float(r["upfront_usd"]),
        "recurring_usd_per_unit_hour": max(0.0, 1.0 - upfront_share)
        if sp
        else float(r["recurring_usd_per_hour"]),
        "effective_usd_per_unit_hour": 1.0 if sp else eff,
        "egress_usd_per_gpu_hour": 0.0,
        "offer_id": str(r["offer_id"]),
        "catalog_version": str(r.get("catalog_version", "")),
        "buyable": True,
        "inventory_id": "",
        "inventory_units": 0.0,
        "inventory_start": pd.NaT,
        "inventory_end": pd.NaT,
    }
    row.update(over)
    return row


def _capacity_candidates(
    offers: pd.DataFrame, pools: tuple[Pool, ...], policy: Policy
) -> list[tuple[dict[str, object], dict[int, float]]]:
    out: list[tuple[dict[str, object], dict[int, float]]] = []
    # only offers of the pools' GPU types (RIs also in the pools' regions) can serve a pool:
    # filtering first keeps the per-offer loop below to the few rows that matter
    cap = offers[
        offers["purchase_model"].isin(CAPACITY_MODELS)
        & offers["gpu_type"].isin({p.gpu_type for p in pools})
        & (
            (offers["purchase_model"] != "reserved_instance")
            | offers["region"].isin({p.aws_region for p in pools})
        )
    ]
    if cap.empty:
        return out
    cap = cap.sort_values(["usd_per_gpu_hour", "gpus_per_unit", "offer_id"], kind="mergesort")
    keys = ["provider", "purchase_model", "region", "gpu_type", "offering_class"]
    keys += ["term_months", "payment_option"]
    for _, r in cap.drop_duplicates(keys, keep="first").iterrows():
        served: dict[int, float] = {}
        for i, pool in enumerate(pools):
            if r["gpu_type"] != pool.gpu_type:
                continue
            if r["purchase_model"] == "reserved_instance":
                ok = r["provider"] == "aws" and r["region"] == pool.aws_region
            else:
                ok = pool.portable and r["provider"] in OFF_AWS
            if ok:
                served[i] = float(r["usd_per_gpu_hour"])
        if served:
            egress = policy.egress_usd_per_gpu_hour if r["provider"] in OFF_AWS else 0.0
            out.append((_candidate_row(r, egress_usd_per_gpu_hour=egress), served))
    return out


def _sp_candidates(
    offers: pd.DataFrame, pools: tuple[Pool, ...]
) -> list[tuple[dict[str, object], dict[int, float]]]:
    out: list[tuple[dict[str, object], dict[int, float]]] = []
    # only rates for a pool's (region, GPU type) can serve it: filtering first keeps the groups
    # below to the plans that can serve some pool (the same candidates, far fewer pandas calls)
    wanted = {(p.aws_region, p.gpu_type) for p in pools}
    where = list(zip(offers["region"].astype(str), offers["gpu_type"].astype(str), strict=True))
    offers = offers.loc[np.array([k in wanted for k in where], dtype=bool)]
    for model, keys in (
        (
            "ec2_instance_savings_plan",
            ["instance_family", "region", "term_months", "payment_option"],
        ),
        ("compute_savings_plan", ["term_months", "payment_option"]),
    ):
        sp = offers[offers["purchase_model"] == model]
        if sp.empty:
            continue
        # the cheapest row of each plan (keys) for each (region, GPU type): first one on ties
        rate = sp["usd_per_gpu_hour"].astype(float)
        cheapest = rate.groupby([sp[k] for k in [*keys, "region", "gpu_type"]], sort=True).idxmin()
        plans: dict[tuple[Any, ...], dict[tuple[str, str], Any]] = {}
        for full, j in cheapest.items():
            idx: tuple[Any, ...] = tuple(full)  # type: ignore[arg-type]
            plans.setdefault(idx[: len(keys)], {})[(str(idx[-2]), str(idx[-1]))] = j
        for k, rows in plans.items():
            served: dict[int, float] = {}
            best_row = None
            for i, pool in enumerate(pools):
                j2 = rows.get((pool.aws_region, pool.gpu_type))
                if j2 is None:
                    continue
                served[i] = num(sp.at[j2, "usd_per_gpu_hour"])
                if best_row is None:
                    best_row = sp.loc[j2]
            if not served or best_row is None:
                continue
            if model == "compute_savings_plan":
                offer_id = f"aws:compute_savings_plan:{k[0]}:{k[1]}"
                over = {"region": "", "sku": "", "gpu_type": "", "offer_id": offer_id}
            else:
                offer_id = f"aws:{k[1]}:{k[0]}:ec2_instance_savings_plan:{k[2]}:{k[3]}"
                over = {"sku": str(k[0]), "offer_id": offer_id}
            out.append((_candidate_row(best_row, **over), served))
    return out


def levelised_factor(row: dict[str, object], discount_rate_pct: float) -> float:
    """The candidate's levelised price ÷ its undiscounted effective price: with upfront u paid at
    the start and recurring c per hour for T months, the level hourly price with the same NPV is
    u / A + c, A = 730 Σ_{m<T} (1 + r)^(−m/12) discounted hours. 1 when r = 0 (A = term hours)."""
    eff = float(row["effective_usd_per_unit_hour"])  # type: ignore[arg-type]
    if eff <= 0:
        return 1.0
    months = int(row["term_months"])  # type: ignore[call-overload]
    annuity_h = HOURS_PER_MONTH * float(
        ((1.0 + discount_rate_pct / 100.0) ** (-np.arange(months) / 12.0)).sum()
    )
    upfront = float(row["upfront_usd_per_unit"])  # type: ignore[arg-type]
    recurring = float(row["recurring_usd_per_unit_hour"])  # type: ignore[arg-type]
    return (upfront / annuity_h + recurring) / eff if annuity_h > 0 else 1.0


def _dominated(
    cands: list[tuple[dict[str, object], dict[int, float]]], policy: Policy
) -> list[bool]:
    """True where another candidate of the same kind and pools is no worse (module docstring)."""
    drop = [False] * len(cands)
    levelised = [levelised_factor(r, policy.discount_rate_pct) for r, _ in cands]
    for b, (rb, sb) in enumerate(cands):
        for a, (ra, sa) in enumerate(cands):
            if a == b or drop[a] or ra["kind"] != rb["kind"] or set(sa) != set(sb):
                continue
            if policy.max_share_per_provider is not None and ra["provider"] != rb["provider"]:
                continue
            if int(ra["term_months"]) > int(rb["term_months"]):  # type: ignore[call-overload]
                continue
            ea = float(ra["egress_usd_per_gpu_hour"])  # type: ignore[arg-type]
            eb = float(rb["egress_usd_per_gpu_hour"])  # type: ignore[arg-type]
            fa, fb = levelised[a], levelised[b]
            if any(sa[p] * fa + ea > sb[p] * fb + eb + 1e-12 for p in sb):
                continue
            if policy.upfront_budget_usd is not None:
                ua = float(ra["upfront_usd_per_unit"]) / max(  # type: ignore[arg-type]
                    float(ra["effective_usd_per_unit_hour"]),  # type: ignore[arg-type]
                    1e-12,
                )
                ub = float(rb["upfront_usd_per_unit"]) / max(  # type: ignore[arg-type]
                    float(rb["effective_usd_per_unit_hour"]),  # type: ignore[arg-type]
                    1e-12,
                )
                if ua > ub + 1e-9:
                    continue
            # equal candidates: keep the first one only
            same = (
                all(abs(sa[p] * fa + ea - sb[p] * fb - eb) <= 1e-12 for p in sb)
                and ra["term_months"] == rb["term_months"]
            )
            if same and a > b:
                continue
            drop[b] = True
            break
    return drop


def _match_inventory(
    c: Commitment, offers: pd.DataFrame
) -> pd.Series:  # the catalog row that prices an existing commitment
    o = offers
    m = (o["purchase_model"] == c.purchase_model) & (o["provider"] == c.provider)
    if c.purchase_model == "reserved_instance" or c.purchase_model == "reserved_contract":
        m &= (o["sku"] == c.sku) & (o["region"] == c.region)
    elif c.purchase_model == "ec2_instance_savings_plan":
        m &= (o["instance_family"] == c.sku) & (o["region"] == c.region)
    rows = o[m]
    if rows.empty:
        raise PlannerInputError(
            f"existing commitment {c.commitment_id}: no {c.purchase_model} offer in the catalog "
            f"for sku {c.sku!r} in region {c.region!r}",
            column="sku",
            value=c.sku,
            fix="check the inventory's sku and region against `planner prices`",
        )
    exact = rows[
        (rows["term_months"] == c.term_months)
        & (rows["payment_option"].astype(str) == c.payment_option)
        & (
            (rows["offering_class"].astype(str) == c.offering_class)
            if c.purchase_model == "reserved_instance"
            else True
        )
    ]
    pick = exact if not exact.empty else rows
    return pick.iloc[0]


def relevant_offers(
    offers: pd.DataFrame, pools: Sequence[Pool], commitments: Sequence[Commitment] = ()
) -> pd.DataFrame:
    """The catalog rows an optimisation or a bill on ``pools`` with ``commitments`` can read: the
    pools' GPU types (serving prices, candidates, Savings Plan rates) and the commitments' SKUs
    and instance families; AWS rows only in the pools' and commitments' regions. Everything
    downstream filters on those keys first, so the result is the same on this subset, many times
    faster (the catalog holds every GPU type in ~100 regions: 21k rows, the example reads ~1k)."""
    gpus = {p.gpu_type for p in pools}
    skus = {c.sku for c in commitments if c.sku}
    regions = {p.aws_region for p in pools} | {c.region for c in commitments if c.region}
    keep = offers["gpu_type"].astype(str).isin(gpus) | offers["sku"].astype(str).isin(skus)
    if "instance_family" in offers.columns:
        keep |= offers["instance_family"].astype(str).isin(skus)
    keep &= (offers["provider"] != "aws") | offers["region"].astype(str).isin(regions)
    return offers[keep].reset_index(drop=True)


def build_cost_table(
    offers: pd.DataFrame,
    pools: tuple[Pool, ...],
    inventory: list[Commitment],
    policy: Policy,
    *,
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
) -> CostTable:
    """Pool prices and pruned candidate commitments (module docstring). Pure: inputs unchanged.

    ``window`` (start, end): inventory outside it is ignored.
    """
    prices = pool_prices(offers, pools, policy)
    allowed = offers[
        offers["provider"].isin(policy.providers)
        & offers["purchase_model"].isin(policy.purchase_models)
        & offers["term_months"].isin(policy.terms_months)
        & offers["payment_option"].astype(str).isin(policy.payment_options)
        & (
            (offers["purchase_model"] != "reserved_instance")
            | offers["offering_class"].astype(str).isin(policy.offering_classes)
        )
    ]
    cands = _capacity_candidates(allowed, pools, policy) + _sp_candidates(allowed, pools)
    drop = _dominated(cands, policy)
    kept = [c for c, d in zip(cands, drop, strict=True) if not d]

    for c in inventory:
        if window is not None and (c.end <= window[0] or c.start >= window[1]):
            continue
        r = _match_inventory(c, offers)
        if c.is_savings_plan:
            sp_rows = offers[offers["purchase_model"] == c.purchase_model]
            if c.purchase_model == "ec2_instance_savings_plan":
                sp_rows = sp_rows[
                    (sp_rows["instance_family"] == c.sku) & (sp_rows["region"] == c.region)
                ]
            same = sp_rows[
                (sp_rows["term_months"] == r["term_months"])
                & (sp_rows["payment_option"] == r["payment_option"])
            ]
            served = {}
            for i, pool in enumerate(pools):
                mm = (same["region"] == pool.aws_region) & (same["gpu_type"] == pool.gpu_type)
                if mm.any():
                    served[i] = float(same.loc[mm, "usd_per_gpu_hour"].min())
            units = c.hourly_commitment_usd
            extra: dict[str, object] = {"sku": c.sku, "region": c.region}
            if c.purchase_model == "compute_savings_plan":
                extra["gpu_type"] = ""
        else:
            served = {}
            for i, pool in enumerate(pools):
                if r["gpu_type"] != pool.gpu_type:
                    continue
                if c.purchase_model == "reserved_instance" and r["region"] == pool.aws_region:
                    served[i] = float(r["usd_per_gpu_hour"])
                if c.purchase_model == "reserved_contract" and pool.portable:
                    served[i] = float(r["usd_per_gpu_hour"])
            units = c.quantity
            extra = {}
        egress = (
            policy.egress_usd_per_gpu_hour
            if c.provider in OFF_AWS and not c.is_savings_plan
            else 0.0
        )
        row = _candidate_row(
            r,
            buyable=False,
            inventory_id=c.commitment_id,
            inventory_units=float(units),
            inventory_start=c.start,
            inventory_end=c.end,
            egress_usd_per_gpu_hour=egress,
            offering_class=c.offering_class,
            term_months=c.term_months,
            payment_option=c.payment_option,
            **extra,
        )
        kept.append((row, served))

    rows, cov = [], []
    for i, (row, served) in enumerate(kept):
        r2 = dict(row)
        label = r2["inventory_id"] or r2["offer_id"]
        r2["key"] = f"{'inv' if not r2['buyable'] else 'buy'}:{label}"
        rows.append(r2)
        for p, rate in sorted(served.items()):
            cov.append({"cand": i, "pool": p, "rate_usd_per_gpu_hour": rate})
    cand_df = pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))
    cov_df = pd.DataFrame(cov, columns=["cand", "pool", "rate_usd_per_gpu_hour"])
    return CostTable(
        pool_prices=prices,
        candidates=cand_df,
        coverage=cov_df,
        n_catalog_offers=len(offers),
        n_pruned=int(cand_df["buyable"].sum()) if len(cand_df) else 0,
    )
