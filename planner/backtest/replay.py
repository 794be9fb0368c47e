r"""AWS Cost Explorer-style replay: "the last L days repeat", one commitment type at a time.

For a lookback of ``L`` days before the origin (``L`` ∈ {7, 30, 60}; a shorter history is used whole
and the shortfall is recorded), and for each AWS commitment type ``k`` separately — every Compute
Savings Plan, EC2 Instance Savings Plan and Reserved Instance candidate of the cost table
(:func:`planner.optimize.offers.build_cost_table`, same offers and policy filters as the planner,
one term / payment option / offering class each) — the level

    x*_k = argmax_x  S_k(x),   S_k(x) = bill(∅, u_lookback) − bill({k at level x}, u_lookback)

is found, where ``bill`` is the referee :func:`planner.evaluate.evaluate` over the lookback hours
``u_lookback`` (commitment charged per active hour, upfront amortised). The level ``x`` is
instances for a Reserved Instance (whole units, as Cost Explorer recommends) and USD/hour of
commitment for a Savings Plan (to the cent).

``S_k`` is concave in ``x``: each hour's saving is ``min(value of the usage the commitment can
cover, value of x) − price(x)``, a concave piecewise-linear function, and sums of concave functions
are concave. So a golden-section search on a sorted grid of levels finds the grid's maximum exactly. The grid
holds the breakpoints: the levels at which the commitment exactly covers one hour's usage (all of it,
or the part that would otherwise pay on-demand when spot takes ``spot_cap_share``), per pool and for
all pools together; for a single pool these are all the kinks of ``S_k``, so the search is exact.

Then, like a user reading Cost Explorer, the single type with the highest estimated saving
``S_k(x*_k)`` is bought at ``x*_k`` (nothing when no type saves anything). No forecast, no spot
planning, no other provider.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from forecasting.scenarios import Pool
from planner.evaluate import evaluate
from planner.inventory import Commitment
from planner.optimize.offers import CostTable, build_cost_table
from planner.policy import Policy

REPLAY_MODELS = ("reserved_instance", "ec2_instance_savings_plan", "compute_savings_plan")


@dataclass(frozen=True)
class ReplayChoice:
    """The replay recommendation at one origin for one lookback."""

    commitments: tuple[Commitment, ...]
    lookback_days: int
    lookback_days_used: float
    estimated_savings_usd: float
    chosen: str  # the offer id bought, "" for none
    level: float  # instances or USD/hour
    per_type: tuple[tuple[str, float, float], ...]  # (offer id, level, estimated savings)

    @property
    def note(self) -> str:
        parts = []
        if self.lookback_days_used + 1e-9 < self.lookback_days:
            parts.append(
                f"lookback {self.lookback_days} d, only {self.lookback_days_used:.1f} d of history"
            )
        parts.append(f"bought {self.chosen} x {self.level:g}" if self.chosen else "bought nothing")
        return "; ".join(parts)


def _commitment(row: pd.Series, level: float, start: pd.Timestamp, tag: str) -> Commitment:
    sp = row["kind"] == "savings_plan"
    term = int(row["term_months"])
    return Commitment(
        commitment_id=tag,
        provider=str(row["provider"]),
        purchase_model=str(row["purchase_model"]),
        region=str(row["region"]),
        sku=str(row["sku"]),
        offering_class=str(row["offering_class"]),
        term_months=term,
        payment_option=str(row["payment_option"]),
        quantity=0.0 if sp else float(level),
        hourly_commitment_usd=float(level) if sp else 0.0,
        start=start,
        end=start + pd.DateOffset(months=term),
        offer_id=str(row["offer_id"]),
    )


def _grid(
    usage: np.ndarray, pools_rate: dict[int, float], spot_share: np.ndarray, sp: bool, g: float
) -> np.ndarray:
    """Sorted candidate levels: where the commitment exactly covers an hour's (on-demand) usage."""
    pts: list[np.ndarray] = [np.zeros(1)]
    total_all = np.zeros(usage.shape[0])
    total_od = np.zeros(usage.shape[0])
    for p, rate in pools_rate.items():
        k = rate if sp else 1.0 / g
        full = usage[:, p] * k
        od_part = usage[:, p] * (1.0 - spot_share[p]) * k
        pts += [full, od_part]
        total_all += full
        total_od += od_part
    if len(pools_rate) > 1:
        pts += [total_all, total_od]
    levels = np.concatenate(pts)
    if sp:
        levels = np.round(levels, 2)  # Cost Explorer recommends to the cent
    else:
        levels = np.unique(np.concatenate([np.floor(levels), np.ceil(levels)]))
    return np.unique(levels[levels >= 0])


def _ternary_max(f: Callable[[float], float], grid: np.ndarray) -> tuple[float, float]:
    """Maximum of a concave function sampled on a sorted grid: golden-section search on the grid
    indices (one new evaluation per step, about log_1.618 of the grid size), then a sweep of the
    last few points."""
    lo, hi = 0, len(grid) - 1
    cache: dict[int, float] = {}

    def val(i: int) -> float:
        if i not in cache:
            cache[i] = f(float(grid[i]))
        return cache[i]

    inv_phi = (math.sqrt(5.0) - 1.0) / 2.0
    while hi - lo > 3:
        m1 = hi - round(inv_phi * (hi - lo))
        m2 = lo + round(inv_phi * (hi - lo))
        if m1 >= m2:
            m1, m2 = lo + (hi - lo) // 3, hi - (hi - lo) // 3
        if val(m1) < val(m2):
            lo = m1 + 1
        else:
            hi = m2
    best = max(range(lo, hi + 1), key=lambda i: (val(i), -i))
    return float(grid[best]), val(best)


def replay_recommendation(
    usage_gpus: np.ndarray,
    timestamps: pd.DatetimeIndex,
    pools: tuple[Pool, ...],
    offers: pd.DataFrame,
    policy: Policy,
    *,
    start: pd.Timestamp,
    lookback_days: int,
    held: Sequence[Commitment] = (),
) -> ReplayChoice:
    """Cost Explorer's recommendation at ``start`` from the usage before it (module docstring).

    ``usage_gpus`` (hours × pools) and ``timestamps`` are the history before ``start``; the last
    ``lookback_days`` days of it are used (all of it when shorter). ``held``: commitments already
    held at ``start`` (sequential backtest); like Cost Explorer, the recommendation is what saves
    most *given that coverage*: the held commitments are taken as active over the whole lookback,
    ``S_k(x) = bill(held, u) − bill(held + {k at x}, u)``, and the level grid also holds the
    breakpoints of the usage net of the held coverage.
    """
    n_look = min(len(timestamps), lookback_days * 24)
    u = np.asarray(usage_gpus, dtype=float)[-n_look:]
    ts = pd.DatetimeIndex(timestamps)[-n_look:]
    table = build_cost_table(offers, pools, [], policy)
    cands = table.candidates
    look_start = pd.Timestamp(ts[0])
    cover = _merge_by_offer(
        [
            replace(c, start=look_start, end=pd.Timestamp(start) + pd.Timedelta(days=1))
            for c in held
            if c.start <= pd.Timestamp(start) < c.end
        ]
    )
    base = evaluate(cover, u, ts, pools, offers, policy).total_usd
    u_net = np.maximum(u - _held_gpus(cover, table, pools), 0.0) if cover else None
    interruptible = np.array([p.interruptible for p in pools])
    has_spot = table.pool_prices["spot_usd_per_gpu_hour"].notna().to_numpy()
    # each pool's own availability cap, as the evaluator bills it (pool rule, interruption band)
    caps = table.pool_prices["spot_cap_share"].to_numpy(dtype=float)
    spot_share = np.where(interruptible & has_spot, caps, 0.0)
    per_type: list[tuple[str, float, float]] = []
    best: tuple[float, float, int] | None = None
    for c, row in cands.iterrows():
        ci = int(c)  # type: ignore[call-overload]
        if row["provider"] != "aws" or row["purchase_model"] not in REPLAY_MODELS:
            continue
        rates = _rates(table.coverage, ci)
        if not rates:
            continue
        sp = row["kind"] == "savings_plan"
        g = 1.0 if sp else float(row["gpus_per_unit"])
        grid = _grid(u, rates, spot_share, sp, g)
        if u_net is not None:
            grid = np.union1d(grid, _grid(u_net, rates, spot_share, sp, g))

        def savings(level: float, row: pd.Series = row) -> float:
            if level <= 0:
                return 0.0
            com = _commitment(row, level, look_start, "replay")
            return base - evaluate([*cover, com], u, ts, pools, offers, policy).total_usd

        level, s = _ternary_max(savings, grid)
        per_type.append((str(row["offer_id"]), level, s))
        if s > 1e-9 and (best is None or s > best[1] + 1e-9):
            best = (level, s, ci)
    if best is None:
        return ReplayChoice((), lookback_days, n_look / 24, 0.0, "", 0.0, tuple(per_type))
    level, s, ci = best
    chosen_row = cands.iloc[ci]
    com = _commitment(chosen_row, level, pd.Timestamp(start), f"replay{lookback_days}")
    return ReplayChoice(
        (com,), lookback_days, n_look / 24, s, str(chosen_row["offer_id"]), level, tuple(per_type)
    )


def _merge_by_offer(held: Sequence[Commitment]) -> list[Commitment]:
    """Held commitments of one offer, all active over the same hours, billed as one (quantities
    and hourly commitments add up): the same bill, fewer commitments for the evaluator."""
    merged: dict[str, Commitment] = {}
    for c in held:
        key = c.offer_id or c.commitment_id
        if key in merged:
            m = merged[key]
            merged[key] = replace(
                m,
                quantity=m.quantity + c.quantity,
                hourly_commitment_usd=m.hourly_commitment_usd + c.hourly_commitment_usd,
            )
        else:
            merged[key] = c
    return list(merged.values())


def _held_gpus(held: Sequence[Commitment], table: CostTable, pools: tuple[Pool, ...]) -> np.ndarray:
    """GPUs per pool the held commitments can cover (Savings Plans at their best rate): only to
    place grid points, so an approximation is enough."""
    out = np.zeros(len(pools))
    cands = table.candidates
    for c in held:
        m = cands.index[cands["offer_id"] == c.offer_id]
        if len(m) == 0:
            continue
        rates = _rates(table.coverage, int(m[0]))
        for p, r in rates.items():
            if c.is_savings_plan:
                out[p] += c.hourly_commitment_usd / r if r > 0 else 0.0
            else:
                out[p] += c.quantity * float(cands.loc[m[0], "gpus_per_unit"])
            break
    return out


def _rates(coverage: pd.DataFrame, cand: int) -> dict[int, float]:
    m = coverage["cand"] == cand
    return {
        int(p): float(r)
        for p, r in zip(
            coverage.loc[m, "pool"], coverage.loc[m, "rate_usd_per_gpu_hour"], strict=True
        )
    }
