"""Every risk bound of the policy checked on the referee's bill of the plan, over all scenarios and
the whole valuation horizon (the LP's own figures are never trusted for "held").

Bounds (names as in plan.json's ``bounds``)
    ``cvar_unused_usd`` / ``cvar_unused_pct``: CVaR_β of unused commitment spend (billed minus
    used commitment dollars of existing and new commitments, per scenario) ≤ ``cvar_limit_usd``, or
    as a percent of commitment spend ≤ ``cvar_limit_pct``. CVaR_β of X over scenarios with
    probabilities π: min_η η + E[(X − η)⁺] / (1 − β) (the mean of the worst 1 − β of probability).
    ``min_utilization``: the lowest utilisation (used ÷ billed commitment dollars) among the
    scenarios of the worst tail (lowest total demand, ``min_utilization_tail`` of probability) ≥
    ``min_utilization``.
    ``max_share_per_provider``: the largest provider share of GPU-hours served by commitments
    (expected over scenarios) ≤ ``max_share_per_provider``.
    ``upfront_budget_usd``: the largest upfront cash at one purchase date ≤ ``upfront_budget_usd``.
A bound is held when realised ≤ limit (≥ for utilisation) within a relative 1e-6.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from planner.evaluate.compare import StrategyFigures
from planner.policy import Policy

REL_TOL = 1e-6


@dataclass(frozen=True)
class BoundCheck:
    """One bound on the referee's bill: ``held`` when ``realised`` is within ``limit``."""

    name: str
    limit: float
    realised: float
    held: bool
    unit: str
    sense: str  # "max" (realised ≤ limit) or "min" (realised ≥ limit)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def shortfall(self) -> float:
        """How far past the limit (0 when held), in the bound's unit."""
        gap = self.realised - self.limit if self.sense == "max" else self.limit - self.realised
        return max(0.0, gap)


def weighted_cvar(x: np.ndarray, p: np.ndarray, beta: float) -> float:
    """CVaR_β of ``x`` with probabilities ``p``: the mean of the worst (largest) 1 − β of mass."""
    x = np.asarray(x, dtype=float)
    p = np.asarray(p, dtype=float)
    order = np.argsort(-x, kind="stable")
    tail = 1.0 - beta
    left, acc = tail, 0.0
    for i in order:
        take = min(p[i], left)
        acc += take * x[i]
        left -= take
        if left <= 1e-15:
            break
    return acc / tail


def tail_scenarios(
    demand_total: np.ndarray, probabilities: np.ndarray, tail_share: float
) -> list[int]:
    """Scenarios with the lowest total demand holding at least ``tail_share`` of probability
    (sorted): the worst tail of the minimum-utilisation bound, the same in the LP
    (planner.optimize.index) and here."""
    order = np.argsort(demand_total, kind="stable")
    out, mass = [], 0.0
    for s in order:
        out.append(int(s))
        mass += float(probabilities[s])
        if mass >= tail_share - 1e-12:
            break
    return sorted(out)


def _check(name: str, limit: float, realised: float, unit: str, sense: str) -> BoundCheck:
    tol = REL_TOL * max(1.0, abs(limit))
    held = realised <= limit + tol if sense == "max" else realised >= limit - tol
    return BoundCheck(name, float(limit), float(realised), bool(held), unit, sense)


def check_bounds(
    figs: StrategyFigures, policy: Policy, upfront_by_date_usd: dict[str, float]
) -> list[BoundCheck]:
    """Each bound the policy sets, measured on ``figs`` (the plan's bill; module docstring)."""
    p = figs.probabilities
    evs = figs.evaluations
    out: list[BoundCheck] = []
    spend = np.array([sum(e.commitment_spend_usd.values()) for e in evs])
    unused = np.array([e.waste_usd for e in evs])
    if policy.cvar_limit_usd is not None or policy.cvar_limit_pct is not None:
        cvar = weighted_cvar(unused, p, policy.cvar_beta)
        if policy.cvar_limit_usd is not None:
            out.append(_check("cvar_unused_usd", policy.cvar_limit_usd, cvar, "usd", "max"))
        if policy.cvar_limit_pct is not None:
            base = float(p @ spend)
            pct = 100.0 * cvar / base if base > 0 else 0.0
            out.append(_check("cvar_unused_pct", policy.cvar_limit_pct, pct, "pct", "max"))
    if policy.min_utilization is not None:
        demand = np.array([e.demand_gpu_hours for e in evs])
        tail = tail_scenarios(demand, p, policy.min_utilization_tail)
        worst = min((evs[s].utilization for s in tail if spend[s] > 0), default=1.0)
        out.append(_check("min_utilization", policy.min_utilization, worst, "share", "min"))
    if policy.max_share_per_provider is not None:
        provs = sorted({q for e in evs for q in e.served_gpu_hours_by_provider})
        served = {
            q: float(p @ [e.served_gpu_hours_by_provider.get(q, 0.0) for e in evs]) for q in provs
        }
        total = sum(served.values())
        share = max((v / total for v in served.values()), default=0.0) if total > 0 else 0.0
        out.append(
            _check("max_share_per_provider", policy.max_share_per_provider, share, "share", "max")
        )
    if policy.upfront_budget_usd is not None:
        most = max(upfront_by_date_usd.values(), default=0.0)
        out.append(_check("upfront_budget_usd", policy.upfront_budget_usd, most, "usd", "max"))
    return out
