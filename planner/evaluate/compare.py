"""The strategy comparison: one set of commitments billed by the evaluator on every scenario.

``compare_strategies`` evaluates, averaged over the same demand scenarios (probability-weighted):

- ``all on-demand``: no commitments and no spot (what the bill would be with nothing bought);
- ``current inventory only``: the existing commitments until they expire, the rest on
  spot (where allowed) and on-demand;
- ``this plan``: existing commitments plus every recommended purchase (firm and ladder);
- ``this plan, firm purchases only``: existing commitments plus what is bought now;
- ``serverless where eligible`` (only when some pool may scale to zero and has a busy measure):
  the existing commitments, every eligible pool on serverless (hour by hour where the policy allows
  hybrid, else wholly), nothing bought. "This plan" and "firm only" use the plan's own serverless
  decisions (:mod:`planner.evaluate.serverless`).

Annual figures scale the horizon's cost by 8,760 h / horizon hours. "Worst-tail utilisation" is the
probability-weighted ``1 - cvar_beta`` quantile (P10 by default) of commitment utilisation across
scenarios.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from forecasting import Forecast
from planner.evaluate.bill import Evaluation, evaluate
from planner.evaluate.serverless import eligible_everywhere, plan_serverless
from planner.inventory import Commitment
from planner.plan import Plan
from planner.policy import Policy
from planner.serverless import ServerlessSetup
from pricing_data.catalog import Catalog
from pricing_data.stats import weighted_quantile
from pricing_data.units import HOURS_PER_YEAR

Progress = Callable[[str], None]


@dataclass(frozen=True)
class StrategyFigures:
    """The evaluator's figures for one set of commitments, over the scenarios."""

    name: str
    commitments: tuple[Commitment, ...]
    evaluations: tuple[Evaluation, ...]
    probabilities: np.ndarray
    horizon_hours: int

    def expected(self, attr: str) -> float:
        return float(np.dot(self.probabilities, [getattr(e, attr) for e in self.evaluations]))

    @property
    def has_spend(self) -> bool:
        """True when some commitment bills inside the horizon (else utilisation means nothing)."""
        return any(sum(e.commitment_spend_usd.values()) > 0 for e in self.evaluations)

    @property
    def expected_cost_usd(self) -> float:
        return self.expected("total_usd")

    @property
    def annual_cost_usd(self) -> float:
        return self.expected_cost_usd * HOURS_PER_YEAR / self.horizon_hours

    def tail_utilization(self, q: float) -> float:
        return weighted_quantile(
            np.array([e.utilization for e in self.evaluations]), self.probabilities, q
        )

    def cost_by_component(self) -> dict[str, float]:
        keys = sorted({k for e in self.evaluations for k in e.cost_by_component_usd})
        return {
            k: float(
                np.dot(
                    self.probabilities,
                    [e.cost_by_component_usd.get(k, 0.0) for e in self.evaluations],
                )
            )
            for k in keys
        }

    def cost_by_provider(self) -> dict[str, float]:
        keys = sorted({k for e in self.evaluations for k in e.cost_by_provider_usd})
        return {
            k: float(
                np.dot(
                    self.probabilities,
                    [e.cost_by_provider_usd.get(k, 0.0) for e in self.evaluations],
                )
            )
            for k in keys
        }

    def utilization_by_commitment(self) -> dict[str, np.ndarray]:
        ids = sorted({k for e in self.evaluations for k in e.commitment_utilization})
        return {
            i: np.array([e.commitment_utilization.get(i, np.nan) for e in self.evaluations])
            for i in ids
        }


ALL_ON_DEMAND = "all on-demand"
INVENTORY_ONLY = "current inventory only"
THIS_PLAN = "this plan"
FIRM_ONLY = "this plan, firm purchases only"
SERVERLESS_ELIGIBLE = "serverless where eligible"


def evaluate_over_scenarios(
    name: str,
    commitments: list[Commitment],
    run_scenarios: np.ndarray,
    probabilities: np.ndarray,
    timestamps: pd.DatetimeIndex,
    pools: tuple,  # type: ignore[type-arg]
    offers: pd.DataFrame,
    policy: Policy,
    serverless: ServerlessSetup | None = None,
) -> StrategyFigures:
    evals = tuple(
        evaluate(
            commitments, run_scenarios[s], timestamps, pools, offers, policy, serverless=serverless
        )
        for s in range(run_scenarios.shape[0])
    )
    return StrategyFigures(name, tuple(commitments), evals, probabilities, len(timestamps))


def compare_strategies(
    fc: Forecast,
    catalog: Catalog,
    inventory: list[Commitment],
    plan: Plan,
    policy: Policy,
    *,
    progress: Progress | None = None,
    serverless: ServerlessSetup | None = None,
) -> tuple[StrategyFigures, ...]:
    """The strategies of the module docstring, each evaluated on every scenario. ``serverless``:
    the options of the run (as the LP received them, before its decisions)."""
    say = progress or (lambda _m: None)
    sc = fc.scenarios
    ts, pools, probs = sc.timestamps, sc.pools, sc.probabilities
    no_spot = replace(policy, spot_cap_share=0.0)
    bought = plan.commitments()
    firm = plan.commitments(firm_only=True)
    n_strategies = 5 if serverless is not None and serverless.options else 4
    say(f"evaluating {n_strategies} strategies on {sc.n_scenarios} scenarios")
    offers = catalog.offers
    decided = plan_serverless(plan, serverless)
    out: tuple[StrategyFigures, ...] = (
        evaluate_over_scenarios(
            ALL_ON_DEMAND, [], sc.demand_gpus, probs, ts, pools, offers, no_spot
        ),
        evaluate_over_scenarios(
            INVENTORY_ONLY, list(inventory), sc.demand_gpus, probs, ts, pools, offers, policy
        ),
        evaluate_over_scenarios(
            THIS_PLAN,
            [*inventory, *bought],
            sc.demand_gpus,
            probs,
            ts,
            pools,
            offers,
            policy,
            decided,
        ),
        evaluate_over_scenarios(
            FIRM_ONLY,
            [*inventory, *firm],
            sc.demand_gpus,
            probs,
            ts,
            pools,
            offers,
            policy,
            decided,
        ),
    )
    if serverless is not None and serverless.options:
        everywhere = eligible_everywhere(serverless)
        out = (
            *out,
            evaluate_over_scenarios(
                SERVERLESS_ELIGIBLE,
                list(inventory),
                sc.demand_gpus,
                probs,
                ts,
                pools,
                offers,
                policy,
                everywhere,
            ),
        )
    return out
