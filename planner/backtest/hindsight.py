r"""The hindsight optimum: the best any planner could have done on a window, knowing its usage.

The commitment LP (:func:`planner.optimize.optimize`) is solved with the window's actual usage
``u`` as one certain scenario (:func:`forecasting.scenarios.single_scenario`), at hourly resolution
(``time_reduction = "hourly"``: no time reduction), as the LP relaxation (``integer = False``: RIs
in fractional units, so the optimum is a true lower bound for whole-unit purchases), with purchases
only at the origin (``ladder_every_months = 0``), no risk bounds (no CVaR, minimum utilisation,
upfront budget or provider share; ``risk_aversion = 0``) and the same offers and spot rules.

Horizon-end rule. The LP charges a commitment whose term runs past its horizon only for its hours
inside the horizon; the evaluator (:func:`planner.evaluate.evaluate`) bills every commitment for each
active hour of the window, upfront amortised. The two agree on a window that starts at the
purchase: both charge ``effective USD/hour × window hours``. To be safe against any remaining
difference (e.g. the LP's and the evaluator's Savings Plan allocation across pools), the hindsight
cost used for regret is **the evaluator's bill of the hindsight commitments**, not the LP objective;
both are recorded (``lp_objective_usd``) so a gap between them is visible.

    hindsight cost  C*_w = evaluate(LP*(u_w), u_w).total_usd
    regret of a strategy on window w: C_w / C*_w − 1 (≥ 0 up to solver tolerance)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from forecasting.scenarios import Pool, single_scenario
from planner.inventory import Commitment
from planner.optimize import optimize
from planner.policy import Policy
from pricing_data.schema import HOURS_PER_MONTH


@dataclass(frozen=True)
class Hindsight:
    """Hindsight commitments on one window and the LP's own cost figure."""

    commitments: tuple[Commitment, ...]
    lp_objective_usd: float
    solve_time_s: float


def hindsight_policy(policy: Policy, window_h: int) -> Policy:
    """The policy of the hindsight LP (module docstring): same offers, no risk bounds, hourly LP."""
    months = max(policy.horizon_months, math.ceil(window_h / HOURS_PER_MONTH) + 1)
    return replace(
        policy,
        horizon_months=months,
        ladder_every_months=0,
        cvar_limit_usd=None,
        cvar_limit_pct=None,
        min_utilization=None,
        upfront_budget_usd=None,
        max_share_per_provider=None,
        risk_aversion=0.0,
        integer=False,
        time_reduction="hourly",
        savings_curve_points=0,
        # a window is scored on its own hours: commitments prorated, undiscounted, snapshot spot
        valuation="horizon",
        discount_rate_pct=0.0,
        spot_price_spread_pct=0.0,
    ).validate()


def hindsight_optimum(
    usage_gpus: np.ndarray,
    start: pd.Timestamp,
    pools: tuple[Pool, ...],
    offers: pd.DataFrame,
    policy: Policy,
) -> Hindsight:
    """Solve the hindsight LP on the window's actual usage (hours × pools) from ``start``."""
    u = np.asarray(usage_gpus, dtype=float)
    scen = single_scenario(pd.Timestamp(start), pools, u)
    plan = optimize(scen, offers, [], hindsight_policy(policy, u.shape[0]))
    rec = plan.record
    return Hindsight(
        commitments=tuple(plan.commitments(firm_only=True)),
        lp_objective_usd=float(rec.get("objective_usd", float("nan"))),
        solve_time_s=float(rec.get("total_time_s", 0.0)),
    )
