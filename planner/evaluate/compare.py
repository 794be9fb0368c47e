"""The strategy comparison: one set of commitments billed by the evaluator on every scenario.

``compare_strategies`` evaluates, averaged over the same demand scenarios (probability-weighted):

- ``all on-demand``: no commitments and no spot (what the bill would be with nothing bought);
- ``current inventory only``: the existing commitments until they expire, the rest on
  spot (where allowed) and on-demand;
- ``this plan``: existing commitments plus every recommended purchase (firm and ladder);
- ``this plan, firm purchases only``: existing commitments plus what is bought now;
- ``serverless where eligible`` (only when some pool may scale to zero and has a busy measure):
  the existing commitments, every eligible pool on serverless (row by row where the policy allows
  hybrid, else wholly), nothing bought. "This plan" and "firm only" use the plan's own serverless
  decisions (:mod:`planner.evaluate.serverless`); serverless is usage, billed on the same whole-term
  rows as the rest.

Every strategy is billed over the whole valuation horizon (:func:`planner.valuation.valuation_for`:
hourly in the decision horizon, coarse to the end of the longest term that can be bought), so a
commitment is judged on its whole term; NPV and undiscounted cash figures sit beside the accrual
bill. Terms and serving prices are resolved once per strategy set (:func:`planner.evaluate.bill.
tariff`) and reused on every scenario.

Annual figures scale the valuation horizon's cost by 8,760 h / valuation hours. "Worst-tail
utilisation" is the probability-weighted ``1 - cvar_beta`` quantile (P10 by default) of commitment
utilisation across scenarios.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from forecasting import Forecast
from forecasting.parallel import map_pools, n_workers
from planner.evaluate.bill import Evaluation, Tariff, bill, extend_tariff, tariff
from planner.evaluate.serverless import eligible_everywhere, plan_serverless
from planner.inventory import Commitment
from planner.plan import Plan
from planner.policy import Policy
from planner.serverless import ServerlessSetup
from planner.valuation import Timeline, ValuationPaths, hourly_timeline, valuation_for
from pricing_data.catalog import Catalog
from pricing_data.stats import weighted_quantile
from pricing_data.units import HOURS_PER_YEAR

Progress = Callable[[str], None]
#: scenarios × rows × commitments from which the scenarios' bills are spread over worker
#: processes (forecasting.parallel; the 8-pool enterprise referee, 100 scenarios × 26k rows ×
#: 32 commitments, is about 8e7 and takes about 10 s serially)
PARALLEL_MIN_WORK = 5e7


@dataclass(frozen=True)
class StrategyFigures:
    """The evaluator's figures for one set of commitments, over the scenarios."""

    name: str
    commitments: tuple[Commitment, ...]
    evaluations: tuple[Evaluation, ...]
    probabilities: np.ndarray
    horizon_hours: int
    timeline: Timeline | None = None

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

    @property
    def expected_npv_usd(self) -> float:
        """Expected present value of the cash (module docstring of planner.evaluate.bill)."""
        return self.expected("npv_usd")

    @property
    def expected_cash_usd(self) -> float:
        """Expected undiscounted cash (upfront when paid, recurring and usage when accrued)."""
        return self.expected("cash_usd")

    @property
    def expected_spot_saving_usd(self) -> float:
        return self.expected("spot_saving_usd")

    def cash_by_month(self) -> dict[str, np.ndarray]:
        """Expected cash per month by item (``upfront:<id>``, ``recurring:<id>``, ``on_demand``,
        ``spot``, ``egress``)."""
        keys = sorted({k for e in self.evaluations for k in e.cash_by_month})
        out: dict[str, np.ndarray] = {}
        for k in keys:
            rows = [e.cash_by_month.get(k) for e in self.evaluations]
            n = max(len(r) for r in rows if r is not None)
            stack = np.array([np.zeros(n) if r is None else r for r in rows])
            out[k] = self.probabilities @ stack
        return out

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


def evaluate_on_paths(
    name: str,
    commitments: list[Commitment],
    vp: ValuationPaths,
    probabilities: np.ndarray,
    pools: tuple,  # type: ignore[type-arg]
    offers: pd.DataFrame,
    tf: Tariff,
    serverless: ServerlessSetup | None = None,
) -> StrategyFigures:
    """Bill ``commitments`` on the valuation paths ``vp`` (their rows, demand and spot price
    factors) with the tariff ``tf`` (extended to any commitment it lacks)."""
    return evaluate_over_scenarios(
        name,
        commitments,
        vp.demand_gpus,
        probabilities,
        None,
        pools,
        offers,
        tf.policy,
        timeline=vp.timeline,
        tf=tf,
        spot_price_factor=vp.spot_price_factor,
        serverless=serverless,
    )


def evaluate_over_scenarios(
    name: str,
    commitments: list[Commitment],
    run_scenarios: np.ndarray,
    probabilities: np.ndarray,
    timestamps: pd.DatetimeIndex | None,
    pools: tuple,  # type: ignore[type-arg]
    offers: pd.DataFrame,
    policy: Policy,
    *,
    timeline: Timeline | None = None,
    tf: Tariff | None = None,
    spot_price_factor: np.ndarray | None = None,
    serverless: ServerlessSetup | None = None,
) -> StrategyFigures:
    """Bill ``commitments`` on every scenario (rows of ``timeline``, else the hours
    ``timestamps``), resolving terms and prices once (or reusing ``tf``)."""
    if timeline is None:
        if timestamps is None:
            raise ValueError("evaluate_over_scenarios needs timestamps or a timeline")
        timeline = hourly_timeline(pd.DatetimeIndex(timestamps))
    tf = (
        tariff(commitments, tuple(pools), offers, policy)
        if tf is None
        else extend_tariff(tf, commitments, offers)
    )
    n_s = run_scenarios.shape[0]
    factor = np.ones(n_s) if spot_price_factor is None else np.asarray(spot_price_factor)
    work = n_s * timeline.n_rows * max(1, len(commitments))
    k = n_workers(n_s, min_tasks=2) if work >= PARALLEL_MIN_WORK else 1
    bounds = np.linspace(0, n_s, k + 1).astype(int)  # k runs of consecutive scenarios
    parts = map_pools(
        _bill_scenarios,
        [
            (commitments, run_scenarios[a:b], timeline, tf, factor[a:b], serverless)
            for a, b in itertools.pairwise(bounds)
        ],
        workers=k,
    )
    evals = tuple(ev for part in parts for ev in part)
    return StrategyFigures(
        name,
        tuple(commitments),
        evals,
        probabilities,
        int(timeline.weight_h.sum()),
        timeline,
    )


def _bill_scenarios(
    commitments: list[Commitment],
    demand: np.ndarray,
    timeline: Timeline,
    tf: Tariff,
    factors: np.ndarray,
    serverless: ServerlessSetup | None,
) -> tuple[Evaluation, ...]:
    """The bills of several scenarios (a worker's share of :func:`evaluate_over_scenarios`)."""
    return tuple(
        bill(
            commitments,
            demand[i],
            timeline,
            tf,
            spot_price_factor=float(factors[i]),
            serverless=serverless,
        )
        for i in range(demand.shape[0])
    )


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
    pools, probs = sc.pools, sc.probabilities
    no_spot = replace(policy, spot_cap_share=0.0)
    bought = plan.commitments()
    firm = plan.commitments(firm_only=True)
    vp = valuation_for(
        sc.demand_gpus, sc.start, policy, inventory, seed=sc.seed, offers=catalog.offers
    )
    eligible = serverless is not None and bool(serverless.options)
    say(
        f"evaluating {5 if eligible else 4} strategies on {sc.n_scenarios} scenarios over "
        f"{vp.timeline.valuation_hours / 730:.0f} months"
    )
    offers = catalog.offers
    tf = tariff([*inventory, *bought], tuple(pools), offers, policy)
    tf_od = tariff([], tuple(pools), offers, no_spot)

    decided = plan_serverless(plan, serverless)

    def run(
        name: str, comms: list[Commitment], t: Tariff, sl: ServerlessSetup | None = None
    ) -> StrategyFigures:
        return evaluate_on_paths(name, comms, vp, probs, pools, offers, t, sl)

    out: tuple[StrategyFigures, ...] = (
        run(ALL_ON_DEMAND, [], tf_od),
        run(INVENTORY_ONLY, list(inventory), tf),
        run(THIS_PLAN, [*inventory, *bought], tf, decided),
        run(FIRM_ONLY, [*inventory, *firm], tf, decided),
    )
    if eligible and serverless is not None:
        out = (
            *out,
            run(SERVERLESS_ELIGIBLE, list(inventory), tf, eligible_everywhere(serverless)),
        )
    return out


def valuation_of(
    fc: Forecast, policy: Policy, inventory: list[Commitment], offers: pd.DataFrame
) -> ValuationPaths:
    """The valuation paths of a run (the same rows the optimizer priced)."""
    sc = fc.scenarios
    return valuation_for(sc.demand_gpus, sc.start, policy, inventory, seed=sc.seed, offers=offers)
