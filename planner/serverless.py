"""Serverless options as plain data, shared by the LP and the evaluator (like the Policy).

A :class:`ServerlessOption` says how one pool marked ``scale_to_zero`` may be served by a serverless
GPU provider: the cheapest allowed offer for its GPU type, priced per busy GPU-hour

    c = list USD per GPU-hour × m × (1 + cold-start overhead % / 100) × k(i)

(m the pinned-region multiplier when the policy pins a region, else 1; k(i) ≥ 1 the billing
increment's uplift, each request's run time rounded up to the offer's increment i seconds,
:func:`forecasting.busy.billing_uplift`), and the pool's historical busy fraction by UTC hour of
day f(h) and overall f̄ (:mod:`forecasting.busy`). A held GPU-hour moved to serverless in hour h
bills f(h) · c; on a coarse row of the whole-term valuation (no hour of day) it bills f̄ · c
(:meth:`ServerlessOption.busy_fraction_rows`, the same rule in the LP and the evaluator). :func:`serverless_setup` builds the options and lists the
eligible pools that cannot be evaluated (no busy measure, no offer) with the reason.

Break-even (:func:`breakeven_table`): serverless beats a held GPU-hour costing r (on-demand, or a
commitment's effective rate when fully used) when the busy fraction f < r / c.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.busy import billing_uplift
from forecasting.scenarios import Pool
from planner.serverless_policy import ServerlessPolicy
from planner.valuation import Timeline
from pricing_data.serverless import ServerlessCatalog

MODES = ("hybrid", "choose", "all", "off")
NO_BUSY = (
    "no busy measure: add busy_gpu_hours, or requests and [serverless] gpu_seconds_per_request, "
    "to the usage file"
)


@dataclass(frozen=True)
class ServerlessOption:
    """How one eligible pool may be served serverless (module docstring).

    ``mode``: "hybrid" (each hour: held base, bursts to serverless), "choose" (all or nothing, the
    LP decides), then after planning "all" or "off".
    """

    pool: str
    gpu_type: str
    provider: str
    offer_id: str
    list_usd_per_gpu_hour: float
    region_multiplier: float
    cold_start_overhead_pct: float
    busy_fraction_by_hour: tuple[float, ...]
    mode: str
    min_warm_gpus: float = 0.0
    parameters_assumed: bool = True
    catalog_version: str = ""
    busy_fraction: float = float("nan")  # f̄ over the measured hours (nan: mean of by-hour)
    billing_increment_s: float = 0.0
    billing_uplift: float = 1.0  # k(i), forecasting.busy.billing_uplift
    uplift_basis: str = ""  # how invocations were counted for k (requests, or one run per hour)

    @property
    def usd_per_busy_gpu_hour(self) -> float:
        """c_p: what one busy GPU-hour bills, cold starts and the billing increment included."""
        return (
            self.list_usd_per_gpu_hour
            * self.region_multiplier
            * (1.0 + self.cold_start_overhead_pct / 100.0)
            * self.billing_uplift
        )

    @property
    def warm_usd_per_gpu_hour(self) -> float:
        """What one warm (kept-alive) GPU bills per hour."""
        return self.list_usd_per_gpu_hour * self.region_multiplier

    @property
    def mean_busy_fraction(self) -> float:
        """f̄: busy over held GPU-hours in the history (module docstring)."""
        if np.isfinite(self.busy_fraction):
            return float(self.busy_fraction)
        return float(np.mean(self.busy_fraction_by_hour))

    def busy_fraction_at(self, timestamps: pd.DatetimeIndex) -> np.ndarray:
        """f_p(hour of day) for each timestamp (UTC)."""
        ts = pd.DatetimeIndex(timestamps)
        ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
        hod = np.asarray(ts.hour, dtype=np.int64)
        return np.asarray(self.busy_fraction_by_hour, dtype=float)[hod]

    def busy_fraction_rows(self, timeline: Timeline) -> np.ndarray:
        """ρ per row of a valuation timeline: f(hour of day) on hourly rows, f̄ on coarse rows."""
        out = np.full(timeline.n_rows, self.mean_busy_fraction)
        n = timeline.n_hourly
        if n:
            out[:n] = self.busy_fraction_at(timeline.timestamps[:n])
        return out

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["busy_fraction_by_hour"] = [round(v, 6) for v in self.busy_fraction_by_hour]
        d["usd_per_busy_gpu_hour"] = round(self.usd_per_busy_gpu_hour, 6)
        d["busy_fraction"] = (
            round(self.busy_fraction, 6) if np.isfinite(self.busy_fraction) else None
        )
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ServerlessOption:
        keys = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        keys["busy_fraction_by_hour"] = tuple(float(v) for v in keys["busy_fraction_by_hour"])
        if keys.get("busy_fraction") is None:
            keys["busy_fraction"] = float("nan")
        return cls(**keys)


@dataclass(frozen=True)
class ServerlessSetup:
    """The serverless options of a run and, per eligible pool without one, why not."""

    options: tuple[ServerlessOption, ...] = ()
    not_evaluable: tuple[tuple[str, str], ...] = ()
    versions: tuple[str, ...] = ()

    def option(self, pool: str) -> ServerlessOption | None:
        for o in self.options:
            if o.pool == pool:
                return o
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "options": [o.to_dict() for o in self.options],
            "not_evaluable": [{"pool": p, "reason": r} for p, r in self.not_evaluable],
            "catalog_versions": list(self.versions),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ServerlessSetup:
        if not d:
            return cls()
        return cls(
            options=tuple(ServerlessOption.from_dict(o) for o in d.get("options", [])),
            not_evaluable=tuple((x["pool"], x["reason"]) for x in d.get("not_evaluable", [])),
            versions=tuple(d.get("catalog_versions", [])),
        )


def serverless_setup(
    pools: tuple[Pool, ...],
    busy_fraction: dict[str, np.ndarray],
    catalog: ServerlessCatalog,
    policy: ServerlessPolicy,
    *,
    overall: dict[str, float] | None = None,
    invocations: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> ServerlessSetup:
    """Options for the pools marked scale_to_zero: the cheapest allowed serverless offer of their
    GPU type per busy GPU-hour (billing increment included), with the policy's overrides; pools
    without a busy measure or an offer are listed in ``not_evaluable`` with the reason (never
    guessed). ``overall``: f̄ per pool; ``invocations``: per pool, (busy GPU-hours, requests) per
    measured hour, for the billing increment's uplift (none: no uplift is known, k = 1 is
    flagged in ``uplift_basis``)."""
    options: list[ServerlessOption] = []
    missing: list[tuple[str, str]] = []
    for pool in pools:
        if not pool.scale_to_zero:
            continue
        frac = busy_fraction.get(pool.name)
        if frac is None:
            missing.append((pool.name, NO_BUSY))
            continue
        offers = catalog.for_gpu(pool.gpu_type, policy.providers)
        if offers.empty:
            missing.append(
                (
                    pool.name,
                    f"no serverless offer for {pool.gpu_type} from "
                    + ", ".join(policy.providers)
                    + " (add one with an overlay [[serverless]] table)",
                )
            )
            continue
        best: Any = None
        for _, row in offers.iterrows():
            cold = (
                float(row["cold_start_overhead_pct"])
                if policy.cold_start_overhead_pct is None
                else policy.cold_start_overhead_pct
            )
            mult = float(row["pinned_region_multiplier"]) if policy.pin_region else 1.0
            inc = float(row["billing_increment_s"])
            inv = (invocations or {}).get(pool.name)
            if inv is None:
                uplift, basis = 1.0, "no busy history: increment not applied"
            else:
                uplift = billing_uplift(inv[0], inv[1], inc)
                counted = bool(np.isfinite(inv[1]).any())
                basis = (
                    "one invocation per request"
                    if counted
                    else "no request counts: one invocation per busy hour (a lower bound)"
                )
            opt = ServerlessOption(
                pool=pool.name,
                gpu_type=pool.gpu_type,
                provider=str(row["provider"]),
                offer_id=str(row["offer_id"]),
                list_usd_per_gpu_hour=float(row["usd_per_gpu_hour"]),
                region_multiplier=mult,
                cold_start_overhead_pct=cold,
                busy_fraction_by_hour=tuple(float(v) for v in frac),
                mode="hybrid" if policy.hybrid else "choose",
                min_warm_gpus=0.0 if policy.hybrid else policy.min_warm_gpus,
                parameters_assumed=bool(row["parameters_assumed"])
                and policy.cold_start_overhead_pct is None,
                catalog_version=str(row.get("catalog_version", "")),
                busy_fraction=float((overall or {}).get(pool.name, float("nan"))),
                billing_increment_s=inc,
                billing_uplift=round(uplift, 6),
                uplift_basis=basis,
            )
            if best is None or opt.usd_per_busy_gpu_hour < best.usd_per_busy_gpu_hour:
                best = opt
        options.append(best)
    return ServerlessSetup(tuple(options), tuple(missing), catalog.versions)


def breakeven_table(
    setup: ServerlessSetup, pool_prices: pd.DataFrame, best_commitment: dict[str, float]
) -> pd.DataFrame:
    """Per eligible pool: serverless USD per busy GPU-hour, the held alternatives' USD per GPU-hour
    (on-demand; the cheapest commitment fully used), the break-even busy fractions r / c below
    which serverless wins, the pool's historical busy fraction and the decision."""
    rows = []
    prices = pool_prices.set_index("pool")
    for o in setup.options:
        od = float(prices.loc[o.pool, "od_usd_per_gpu_hour"]) if o.pool in prices.index else np.nan  # type: ignore[arg-type]
        com = best_commitment.get(o.pool, np.nan)
        c = o.usd_per_busy_gpu_hour
        rows.append(
            {
                "pool": o.pool,
                "provider": o.provider,
                "serverless_usd_per_busy_gpu_hour": round(c, 4),
                "on_demand_usd_per_gpu_hour": round(od, 4),
                "best_commitment_usd_per_gpu_hour": round(com, 4),
                "breakeven_busy_pct_vs_on_demand": round(100 * min(1.0, od / c), 2),
                "breakeven_busy_pct_vs_commitment": round(100 * min(1.0, com / c), 2)
                if np.isfinite(com)
                else np.nan,
                "busy_pct_history": round(100 * o.mean_busy_fraction, 2),
                "decision": o.mode,
                "billing_increment_s": o.billing_increment_s,
                "billing_uplift": round(o.billing_uplift, 4),
                "assumed_parameters": o.parameters_assumed,
            }
        )
    for pool, reason in setup.not_evaluable:
        rows.append({"pool": pool, "decision": "not evaluable", "reason": reason})
    return pd.DataFrame(rows)
