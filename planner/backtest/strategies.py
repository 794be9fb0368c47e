"""The strategies a backtest compares, each a function from what is known at the origin to the
commitments bought there (evaluated afterwards on the window by the referee).

``on-demand``        nothing committed, no spot (the on-demand bill);
``on-demand+spot``   nothing committed, spot where the policy allows (interruptible pools with a
                     spot price cheaper than on-demand, up to ``spot_cap_share``);
``replay-L``         Cost Explorer's replay over the last L days (:mod:`planner.backtest.replay`);
``planner``          this planner: forecast from the history before the origin, then the optimizer
                     with the policy and its risk bounds; only the firm ("now") purchases count;
``hindsight``        the LP on the window's actual usage (:mod:`planner.backtest.hindsight`).
``planner-oracle``   (diagnostic, off by default) the optimizer with the policy exactly as the
                     planner runs it (risk bounds, time reduction, whole RIs) but handed the
                     window's actual usage as its only scenario: a perfect forecast. Its regret is
                     what the policy and the LP's approximations cost; the planner's regret above it
                     is what forecast error costs.

Every strategy but ``on-demand`` runs spot as the policy allows (the evaluator sends the capped
share of interruptible usage to spot whatever is committed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from forecasting.forecast import forecast
from forecasting.growth import Growth
from forecasting.pools import PooledUsage
from forecasting.scenarios import Pool, single_scenario
from planner.inventory import Commitment
from planner.optimize import InfeasiblePlanError, optimize
from planner.policy import Policy


@dataclass(frozen=True)
class PlannerRun:
    """The planner's firm purchases at one origin and how they were found."""

    commitments: tuple[Commitment, ...]
    note: str
    models: dict[str, str]
    seconds: float
    scenario_mean_gpus: np.ndarray  # per scenario: mean total GPUs over the planned hours


def on_demand_policy(policy: Policy) -> Policy:
    """The policy under which the evaluator bills everything on demand (no spot)."""
    return replace(policy, spot_cap_share=0.0)


def backtest_policy(policy: Policy) -> Policy:
    """The planner's policy in a backtest: as given, without savings curves (not evaluated), and
    valued like the window it is scored on (prorated, undiscounted, snapshot spot prices)."""
    return replace(
        policy,
        savings_curve_points=0,
        valuation="horizon",
        discount_rate_pct=0.0,
        spot_price_spread_pct=0.0,
    )


def history_before(pooled: PooledUsage, origin_h: int) -> PooledUsage:
    """The pooled usage of hours ``[0, origin_h)`` only: what the planner may know at the origin."""
    return replace(
        pooled,
        demand_gpus=pooled.demand_gpus.iloc[:origin_h],
        outage_mask=pooled.outage_mask.iloc[:origin_h],
        gap_mask=pooled.gap_mask.iloc[:origin_h],
    )


def planner_purchases(
    history: PooledUsage,
    offers: pd.DataFrame,
    policy: Policy,
    *,
    horizon_hours: int,
    n_scenarios: int,
    seed: int,
    growth: Growth | None = None,
    models: tuple[str, ...] | None = None,
) -> PlannerRun:
    """Forecast ``horizon_hours`` from the end of ``history``, optimise, keep the firm purchases.

    A plan the policy makes infeasible buys nothing (recorded in the note), as a user would.
    """
    import time

    t0 = time.perf_counter()
    fc = forecast(
        history,
        horizon_hours=horizon_hours,
        n_scenarios=n_scenarios,
        seed=seed,
        growth=growth,
        models=models,
    )
    means = fc.scenarios.demand_gpus[:, :horizon_hours, :].sum(axis=2).mean(axis=1)
    try:
        plan = optimize(fc.scenarios, offers, [], backtest_policy(policy))
    except InfeasiblePlanError as e:
        first = str(e).splitlines()[0]
        return PlannerRun((), f"no plan: {first}", fc.models, time.perf_counter() - t0, means)
    firm = tuple(plan.commitments(firm_only=True))
    method = plan.record.get("method", "")
    note = f"{len(firm)} firm purchase(s); LP {method}; models " + ", ".join(
        sorted(set(fc.models.values()))
    )
    return PlannerRun(firm, note, fc.models, time.perf_counter() - t0, means)


def oracle_purchases(
    usage_gpus: np.ndarray,
    start: pd.Timestamp,
    pools: tuple[Pool, ...],
    offers: pd.DataFrame,
    policy: Policy,
) -> PlannerRun:
    """The planner's optimizer on a perfect forecast (module docstring), firm purchases only."""
    import time

    t0 = time.perf_counter()
    u = np.asarray(usage_gpus, dtype=float)
    scen = single_scenario(pd.Timestamp(start), pools, u)
    means = np.array([float(u.sum(axis=1).mean())])
    try:
        plan = optimize(scen, offers, [], backtest_policy(policy))
    except InfeasiblePlanError as e:
        first = str(e).splitlines()[0]
        return PlannerRun((), f"no plan: {first}", {}, time.perf_counter() - t0, means)
    firm = tuple(plan.commitments(firm_only=True))
    return PlannerRun(
        firm, f"{len(firm)} firm purchase(s), perfect forecast", {}, time.perf_counter() - t0, means
    )


def usage_matrix(pooled: PooledUsage, a: int, b: int) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Actual GPUs of hours ``[a, b)`` (hours × pools) and their timestamps."""
    frame = pooled.demand_gpus.iloc[a:b]
    return frame.to_numpy(dtype=float), pd.DatetimeIndex(frame.index)
