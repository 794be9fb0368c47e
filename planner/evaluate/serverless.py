"""The referee's serverless step: billing scale-to-zero pools by their busy seconds.

For a pool with a serverless option (:class:`planner.serverless.ServerlessOption`), row r of the
valuation timeline with held GPUs D_r has busy GPUs B_r = ρ_r · D_r, and a held GPU-hour moved to
serverless bills ρ_r · c, with ρ_r = f(hour of day) on hourly rows, f̄ (the pool's overall busy
fraction) on the coarse rows after the decision horizon, and c the USD per busy GPU-hour (cold
starts and the billing increment's uplift in). Serverless is usage: it has no term and no upfront;
its cash falls in the month it accrues (``cash_by_month["serverless"]``), so it is discounted like
on-demand in the whole-term NPV.

- mode ``all`` (the pool is served serverless): before any commitment, the pool's whole usage
  leaves the held path and bills max(B_h · c, W · c_warm) per hour (W warm GPUs at the list price
  × region multiplier);
- mode ``hybrid``, in two steps. First, before commitments, the hours whose ρ_h · c is below the
  cheapest rate of any held commitment that could serve the pool go to serverless whole: the plan
  serves them there, so no instance runs for a Savings Plan or RI to apply to (otherwise a Compute
  Savings Plan would be spent keeping an idle replica up that another pool needed). Then, after
  commitments have covered what they cover (they are paid anyway), each hour's remainder goes to
  serverless where ρ_h · c is below the price it would otherwise pay (on-demand for the part that
  would pay on-demand, spot for the part that could run on spot);
- mode ``off`` (or no option): nothing changes.

These rules follow the LP's dispatch (serverless where it is cheaper than the held alternative,
commitments for the base, then the cheapest of serverless, spot and on-demand), hour by hour on the
real busy profile. They are sequential, the LP is joint: when a commitment has dollars no other
pool needs, the first step still moves the hybrid pool's cheap hours off it (the LP would leave
them there at no cost), so the bill can be slightly above the LP's figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from forecasting.scenarios import Pool
from planner.serverless import ServerlessOption, ServerlessSetup
from planner.valuation import Timeline


def plan_serverless(plan: Any, setup: ServerlessSetup | None) -> ServerlessSetup | None:
    """The serverless decisions a plan recorded (``plan.record["serverless"]``), else ``setup``."""
    rec = getattr(plan, "record", {}).get("serverless")
    return ServerlessSetup.from_dict(rec) if rec else setup


def eligible_everywhere(setup: ServerlessSetup) -> ServerlessSetup:
    """Every option on serverless: hour by hour where hybrid is allowed, else wholly."""
    return replace(
        setup,
        options=tuple(
            replace(o, mode="hybrid" if o.mode == "hybrid" else "all") for o in setup.options
        ),
    )


@dataclass
class ServerlessBill:
    """What serverless billed on a timeline's rows: USD per hour of each row (``rate_usd_per_h``,
    money = rate × the row's weight), USD by pool and provider, busy GPU-hours billed and held
    GPU-hours moved off the held path, by pool, and the held GPUs moved per row."""

    rate_usd_per_h: np.ndarray
    weight_h: np.ndarray
    usd_by_pool: dict[str, float] = field(default_factory=dict)
    usd_by_provider: dict[str, float] = field(default_factory=dict)
    busy_gpu_hours: dict[str, float] = field(default_factory=dict)
    held_gpu_hours_moved: dict[str, float] = field(default_factory=dict)
    moved_gpus: np.ndarray | None = None  # held GPUs moved per row (summed over pools)

    @property
    def total_usd(self) -> float:
        return float(sum(self.usd_by_pool.values()))

    @property
    def row_usd(self) -> np.ndarray:
        return np.asarray(self.rate_usd_per_h * self.weight_h, dtype=float)

    def add(
        self, opt: ServerlessOption, rate: np.ndarray, busy_gpus: np.ndarray, moved: np.ndarray
    ) -> None:
        """Book one pool's serverless use: ``rate`` USD per hour, ``busy_gpus`` and ``moved`` GPUs
        per row."""
        w = self.weight_h
        self.rate_usd_per_h += rate
        usd = float(rate @ w)
        self.usd_by_pool[opt.pool] = self.usd_by_pool.get(opt.pool, 0.0) + usd
        self.usd_by_provider[opt.provider] = self.usd_by_provider.get(opt.provider, 0.0) + usd
        self.busy_gpu_hours[opt.pool] = self.busy_gpu_hours.get(opt.pool, 0.0) + float(
            busy_gpus @ w
        )
        self.held_gpu_hours_moved[opt.pool] = self.held_gpu_hours_moved.get(opt.pool, 0.0) + float(
            moved @ w
        )
        if self.moved_gpus is not None:
            self.moved_gpus += moved


def _options(
    setup: ServerlessSetup | None, pools: tuple[Pool, ...], mode: str
) -> list[tuple[int, ServerlessOption]]:
    if setup is None:
        return []
    out = []
    for p, pool in enumerate(pools):
        opt = setup.option(pool.name)
        if opt is not None and opt.mode == mode:
            out.append((p, opt))
    return out


def bill_all_serverless(
    usage_gpus: np.ndarray,
    timeline: Timeline,
    pools: tuple[Pool, ...],
    setup: ServerlessSetup | None,
) -> tuple[np.ndarray, ServerlessBill]:
    """Mode ``all``: (usage left on the held path, the bill). ``usage_gpus`` is not changed."""
    u = np.asarray(usage_gpus, dtype=float).copy()
    n = u.shape[0]
    bill = ServerlessBill(np.zeros(n), timeline.weight_h, moved_gpus=np.zeros(n))
    for p, opt in _options(setup, pools, "all"):
        busy = u[:, p] * opt.busy_fraction_rows(timeline)
        rate = np.maximum(
            busy * opt.usd_per_busy_gpu_hour, opt.min_warm_gpus * opt.warm_usd_per_gpu_hour
        )
        bill.add(opt, rate, busy, u[:, p].copy())
        u[:, p] = 0.0
    return u, bill


def bill_hybrid_first(
    usage_gpus: np.ndarray,
    timeline: Timeline,
    pools: tuple[Pool, ...],
    setup: ServerlessSetup | None,
    commitment_floor_usd_per_gpu_hour: np.ndarray,
    bill: ServerlessBill,
) -> np.ndarray:
    """Hybrid, first step (module docstring): usage left for commitments; ``bill`` gains the rows
    moved. ``commitment_floor_usd_per_gpu_hour`` (rows × pools): the cheapest rate of a commitment
    active on the row that serves the pool (inf where none: the second step then decides against
    spot and on-demand)."""
    u = np.asarray(usage_gpus, dtype=float).copy()
    for p, opt in _options(setup, pools, "hybrid"):
        floor = commitment_floor_usd_per_gpu_hour[:, p]
        frac = opt.busy_fraction_rows(timeline)
        rate = frac * opt.usd_per_busy_gpu_hour
        moved = np.where(rate < floor, u[:, p], 0.0)
        if moved.any():
            u[:, p] -= moved
            bill.add(opt, moved * rate, moved * frac, moved)
    return u


def bill_hybrid_bursts(
    od_left: np.ndarray,
    spot_left: np.ndarray,
    timeline: Timeline,
    pools: tuple[Pool, ...],
    setup: ServerlessSetup | None,
    od_usd_per_gpu_hour: np.ndarray,
    spot_usd_per_gpu_hour: np.ndarray,
    bill: ServerlessBill,
) -> None:
    """Mode ``hybrid``: move the remainder after commitments to serverless where cheaper; changes
    ``od_left``, ``spot_left`` and ``bill`` in place. ``spot_usd_per_gpu_hour`` is inf where the
    pool has no spot (its spot part then pays on-demand)."""
    for p, opt in _options(setup, pools, "hybrid"):
        frac = opt.busy_fraction_rows(timeline)
        rate = frac * opt.usd_per_busy_gpu_hour  # USD per held GPU-hour moved
        alt_spot = min(float(spot_usd_per_gpu_hour[p]), float(od_usd_per_gpu_hour[p]))
        take_od = np.where(rate < od_usd_per_gpu_hour[p], od_left[:, p], 0.0)
        take_spot = np.where(rate < alt_spot, spot_left[:, p], 0.0)
        moved = take_od + take_spot
        if not moved.any():
            continue
        od_left[:, p] -= take_od
        spot_left[:, p] -= take_spot
        bill.add(opt, moved * rate, moved * frac, moved)
