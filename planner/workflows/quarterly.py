"""The quarterly planning run: usage + inventory + policy -> a reviewed plan and its comparisons.

``quarterly_plan`` chains the library's steps, each a plain function owned by its module::

    read_usage -> make_pools -> forecast -> load_catalog -> optimize -> evaluate (the referee)

and compares, with the evaluator averaged over the same demand scenarios (probability-weighted):

- ``all on-demand``: no commitments and no spot (what the bill would be with nothing bought);
- ``current inventory only``: the existing commitments until they expire, the rest on
  spot (where allowed) and on-demand;
- ``this plan``: existing commitments plus every recommended purchase (firm and ladder);
- ``this plan, firm purchases only``: existing commitments plus what is bought now;
- ``serverless where eligible`` (when some pool may scale to zero): the existing commitments and
  every eligible pool on serverless (see planner.evaluate.compare).

Annual figures scale the horizon's cost by 8,760 h / horizon hours. "Worst-tail utilisation" is the
probability-weighted ``1 − cvar_beta`` quantile (P10 by default) of commitment utilisation across
scenarios.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting import Forecast, PooledUsage, UsageHistory
from planner.backtest.sizing import SizedInput, size_for_plan
from planner.decision import decision_figures
from planner.evaluate.bill import tariff
from planner.evaluate.bounds import BoundCheck, check_bounds
from planner.evaluate.compare import (
    ALL_ON_DEMAND,
    THIS_PLAN,
    Progress,
    StrategyFigures,
    compare_strategies,
    evaluate_on_paths,
)
from planner.evaluate.plan_bill import rebill_plan, upfront_by_date
from planner.evaluate.serverless import plan_serverless
from planner.inventory import Commitment
from planner.optimize import optimize
from planner.optimize.referee import tighten
from planner.optimize.solve import InfeasiblePlanError
from planner.plan import Plan
from planner.policy import Policy
from planner.policy_file import PlanningConfig, defaults_in_force
from planner.purchase_values import value_purchases, whole_term_paths
from planner.serverless import ServerlessSetup
from planner.valuation import valuation_for
from planner.workflows.inputs import PlanningInputs, load_inputs
from planner.workflows.records import (
    RunRecord,
    config_record,
    frame_records,
    inventory_record,
    with_run_record,
)
from planner.workflows.serverless import serverless_for
from pricing_data.catalog import Catalog


@dataclass(frozen=True)
class PlanRun:
    """Everything a quarterly run produced, for the CLI and the reports."""

    config: PlanningConfig
    policy: Policy
    usage_file: str
    inventory_file: str | None
    history: UsageHistory
    pooled: PooledUsage
    forecast: Forecast
    catalog: Catalog
    inventory: tuple[Commitment, ...]
    plan: Plan
    strategies: tuple[StrategyFigures, ...]
    notes: tuple[str, ...] = ()

    def strategy(self, name: str) -> StrategyFigures:
        for s in self.strategies:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def start(self) -> pd.Timestamp:
        return self.forecast.scenarios.start

    @property
    def end(self) -> pd.Timestamp:
        return self.start + pd.Timedelta(hours=self.plan.horizon_hours)

    def comparison_frame(self) -> pd.DataFrame:
        """One row per strategy, to the end of every term (the evaluator's mean over scenarios):
        cash (undiscounted, upfront when paid: the headline's basis) and NPV cost and their
        savings against all on-demand; the accrual cost (each commitment's upfront spread evenly
        over its term's hours, so existing commitments' already-paid upfront is included) and its
        annual rate; ESR, coverage, utilisation and unused commitment spend."""
        od = self.strategy(ALL_ON_DEMAND)
        q = 1 - self.policy.cvar_beta
        rows = []
        for s in self.strategies:
            rows.append(
                {
                    "strategy": s.name,
                    "cash_cost_usd": round(s.expected_cash_usd, 2),
                    "npv_cost_usd": round(s.expected_npv_usd, 2),
                    "cash_savings_vs_on_demand_usd": round(
                        od.expected_cash_usd - s.expected_cash_usd, 2
                    ),
                    "npv_savings_vs_on_demand_usd": round(
                        od.expected_npv_usd - s.expected_npv_usd, 2
                    ),
                    "accrual_cost_usd": round(s.expected_cost_usd, 2),
                    "annual_accrual_cost_usd": round(s.annual_cost_usd, 2),
                    "esr_pct": round(100 * s.expected("esr"), 2) + 0.0,  # no "-0.00"
                    "coverage_pct": round(100 * s.expected("coverage"), 2),
                    "utilization_pct": round(100 * s.expected("utilization"), 2)
                    if s.has_spend
                    else None,
                    f"p{round(100 * q):02d}_utilization_pct": round(100 * s.tail_utilization(q), 2)
                    if s.has_spend
                    else None,
                    "waste_usd": round(s.expected("waste_usd"), 2),
                }
            )
        return pd.DataFrame(rows)

    def run_record(self) -> RunRecord:
        """What the run used and found, as stored in plan.json (``record["run"]``)."""
        config, policy_doc = config_record(self.config)
        return RunRecord(
            usage_file=self.usage_file,
            inventory_file=self.inventory_file,
            config=config,
            policy_doc=policy_doc,
            inventory=inventory_record(self.inventory),
            effective_policy=self.policy.to_dict(),
            catalog_versions=list(self.catalog.versions),
            overlay=self.catalog.overlay,
            forecast_models=dict(self.forecast.models),
            comparison=frame_records(self.comparison_frame()),
            upfront_now_usd=float(self.upfront_now_usd()),
            defaults_used=[*defaults_in_force(self.config), *self.notes],
        )

    def recorded_plan(self) -> Plan:
        """The plan with its run record (what plan.json holds)."""
        return with_run_record(self.plan, self.run_record())

    def upfront_now_usd(self) -> float:
        return float(sum(p.upfront_usd for p in self.plan.purchases if p.firm))

    def expiring_inventory(self) -> pd.DataFrame:
        """Existing commitments that end inside the horizon (they leave a gap the plan fills)."""
        rows = [
            {
                "commitment_id": c.commitment_id,
                "provider": c.provider,
                "purchase_model": c.purchase_model,
                "sku": c.sku or "(any)",
                "quantity": c.quantity if not c.is_savings_plan else None,
                "hourly_commitment_usd": c.hourly_commitment_usd if c.is_savings_plan else None,
                "end_date": c.end.date().isoformat(),
                "days_left": int((c.end - self.start) / pd.Timedelta(days=1)),
            }
            for c in self.inventory
            if self.start <= c.end < self.end
        ]
        return pd.DataFrame(rows)


def quarterly_plan(
    usage_path: str | Path,
    *,
    config: PlanningConfig,
    inventory_path: str | Path | None = None,
    progress: Progress | None = None,
) -> PlanRun:
    """Load the inputs, forecast, optimise and compare: the quarterly run (module docstring)."""
    inputs = load_inputs(usage_path, config, inventory_path, progress=progress)
    return plan_run(inputs, progress=progress)


def forecast_bounds(
    plan: Plan,
    fc: Forecast,
    offers: pd.DataFrame,
    inventory: list[Commitment],
    policy: Policy,
    serverless: ServerlessSetup | None,
) -> list[BoundCheck]:
    """The policy's bounds checked on the evaluator's bill of inventory + the plan's purchases over
    the forecast's own (calibrated) scenarios: the bill the run reports (as
    :func:`planner.evaluate.compare.compare_strategies` bills ``this plan``)."""
    sc = fc.scenarios
    vp = valuation_for(sc.demand_gpus, sc.start, policy, inventory, seed=sc.seed, offers=offers)
    held = [*inventory, *plan.commitments()]
    tf = tariff(held, tuple(sc.pools), offers, policy)
    figs = evaluate_on_paths(
        THIS_PLAN,
        held,
        vp,
        sc.probabilities,
        sc.pools,
        offers,
        tf,
        plan_serverless(plan, serverless),
    )
    return check_bounds(figs, policy, upfront_by_date(list(plan.purchases)))


#: the LP limit of each bound the forecast check can tighten: (policy field, "max" or "min")
_LP_LIMITS = {
    "cvar_unused_pct": ("cvar_limit_pct", "max"),
    "cvar_unused_usd": ("cvar_limit_usd", "max"),
    "min_utilization": ("min_utilization", "min"),
}


def anchored(lp_policy: Policy, lp_bounds: Sequence[dict[str, Any]]) -> Policy:
    """``lp_policy`` with each limit moved to what the optimizer's referee measured on the LP's
    own scenarios when that was inside the limit (``min(l, r)`` for an upper bound, ``max(l, r)``
    for a lower one). Tightening then starts from where the LP actually stood: a limit that did
    not bind in the LP (its scenarios see less risk than the forecast's) would take several
    rounds of ``l · L / R`` before it bit."""
    kw: dict[str, Any] = {}
    for b in lp_bounds:
        spec = _LP_LIMITS.get(str(b.get("name")))
        if spec is None:
            continue
        field_name, sense = spec
        limit, realised = getattr(lp_policy, field_name), b.get("realised")
        if limit is None or realised is None or not np.isfinite(float(realised)):
            continue
        kw[field_name] = (
            min(limit, float(realised)) if sense == "max" else max(limit, float(realised))
        )
    return replace(lp_policy, **kw)


def hold_bounds_on_forecast(
    plan: Plan,
    fc: Forecast,
    sized: SizedInput,
    inputs: PlanningInputs,
    policy: Policy,
    *,
    finish: Callable[[Plan], Plan],
    notes: list[str],
    progress: Progress | None = None,
) -> Plan:
    """``finish(plan)`` (the recommendation rule, :func:`planner.purchase_values.value_purchases`),
    with the risk bounds proven where they are reported: on the forecast's calibrated scenarios.

    The LP sizes on ``sized.scenarios``, where a pool on a one-path sizing rule (``lp-point``,
    ``trailing-L``) has no spread, so its unused spend in the tail is not seen; and the
    recommendation rule may drop purchases after the optimizer's referee has checked them. Either
    can breach on the calibrated scenarios a bound the referee held. When one is breached, the LP's
    limits are tightened as the optimizer's referee does (:func:`planner.optimize.referee.tighten`),
    the plan re-solved and finished again, for at most ``policy.bound_rounds`` rounds; a bound still
    breached is reported breached (the run's bill checks it again) and noted."""
    say = progress or (lambda _m: None)
    done = finish(plan)
    if not any(
        v is not None
        for v in (policy.cvar_limit_usd, policy.cvar_limit_pct, policy.min_utilization)
    ):
        return done
    offers, inventory = inputs.catalog.offers, list(inputs.inventory)
    serverless = serverless_for(inputs.pooled, inputs.config)
    lp_policy = sized.policy
    for attempt in range(policy.bound_rounds + 1):
        breached = [
            b
            for b in forecast_bounds(done, fc, offers, inventory, policy, serverless)
            if not b.held
        ]
        if not breached:
            return done
        what = ", ".join(f"{b.name} {b.realised:,.4g} vs limit {b.limit:,.4g}" for b in breached)
        if attempt == policy.bound_rounds:
            notes.append(
                f"on the forecast's scenarios the plan breaches {what} after {attempt} "
                "tightening rounds"
            )
            return done
        say(f"on the forecast's scenarios the plan breaches {what}; tightened, re-solved")
        lp_policy = tighten(anchored(lp_policy, plan.bounds), breached)
        try:
            plan = optimize(
                sized.scenarios,
                offers,
                inventory,
                lp_policy,
                as_of=fc.scenarios.start,
                progress=say,
                serverless=serverless,
            )
        except InfeasiblePlanError:
            notes.append(
                f"on the forecast's scenarios the plan breaches {what}; the tightened LP has no "
                "solution, so the plan of the previous round is kept"
            )
            return done
        done = finish(plan)
    return done


def plan_run(
    inputs: PlanningInputs,
    *,
    fc: Forecast | None = None,
    sizing_forecasts: dict[int, Forecast] | None = None,
    progress: Progress | None = None,
) -> PlanRun:
    """The quarterly run on loaded inputs; ``fc`` reuses a forecast made for the same demand
    settings (see :func:`planner.workflows.inputs.forecast_key`), and ``sizing_forecasts`` the
    sizing rules' backtest forecasts made for them (filled here when empty)."""
    say = progress or (lambda _m: None)
    if fc is None:
        fc = inputs.forecast(say)
    start = fc.scenarios.start
    policy = inputs.policy
    catalog = inputs.catalog
    inventory = list(inputs.inventory)
    serverless = serverless_for(inputs.pooled, inputs.config)  # scale-to-zero pools, if any
    # each pool's sizing rule, chosen by its backtested cost (planner.backtest.sizing)
    sized = size_for_plan(
        inputs.pooled,
        fc,
        catalog.offers,
        inventory,
        policy,
        seed=inputs.config.seed,
        n_scenarios=min(inputs.config.scenarios, 30),
        forecast_cache=sizing_forecasts,
        progress=say,
    )
    say(f"optimising over {len(catalog.offers):,} offers")
    notes: list[str] = []
    try:
        plan = optimize(
            sized.scenarios,
            catalog.offers,
            inventory,
            sized.policy,
            as_of=start,
            progress=say,
            serverless=serverless,
        )
    except InfeasiblePlanError as e:
        if not (inputs.config.from_defaults and e.binding == "cvar_limit"):
            raise
        # the default bound (no policy file) is a safety net, not the user's choice: when the
        # existing commitments alone break it, plan without it and say so
        notes.append(
            "the default risk bound cannot be met by the existing commitments alone "
            f"({e.what}); planned without it: write a policy file with the bound you want"
        )
        say("default risk bound dropped: the existing commitments alone break it")
        policy = replace(policy, cvar_limit_pct=None, cvar_limit_usd=None)
        unbounded = replace(sized.policy, cvar_limit_pct=None, cvar_limit_usd=None)
        sized = replace(sized, policy=unbounded)
        plan = optimize(
            sized.scenarios,
            catalog.offers,
            inventory,
            unbounded,
            as_of=start,
            progress=say,
            serverless=serverless,
        )
    # every purchase valued on the evaluator over its whole term (the valuation paths the LP priced
    # and the comparison bills), the recommendation rule applied: planner.purchase_values; the
    # risk bounds proven on the forecast's scenarios, re-solved with tighter limits if need be
    paths = whole_term_paths(fc.scenarios, policy, inventory, catalog.offers)

    def finish(p: Plan) -> Plan:
        return value_purchases(
            p, paths, catalog.offers, inventory, policy, progress=say, serverless=serverless
        )

    plan = hold_bounds_on_forecast(
        plan,
        fc,
        sized,
        inputs,
        policy,
        finish=finish,
        notes=notes,
        progress=say,
    )
    extra = sized.plan_record(plan.commitments(), catalog.offers, inventory, as_of=start)
    plan = replace(plan, record={**plan.record, **extra})
    strategies = compare_strategies(
        fc, catalog, inventory, plan, policy, progress=say, serverless=serverless
    )
    # plan.json's figures, bounds and cash-flow schedule, and the headline, from the same bills
    by_name = {s.name: s for s in strategies}
    plan = rebill_plan(
        plan,
        by_name[THIS_PLAN],
        by_name[ALL_ON_DEMAND],
        frozenset(c.commitment_id for c in inventory),
        policy,
    )
    plan = replace(plan, headline=decision_figures(plan, strategies, policy))
    return PlanRun(
        config=inputs.config,
        policy=policy,
        usage_file=inputs.usage_file,
        inventory_file=inputs.inventory_file,
        history=inputs.history,
        pooled=inputs.pooled,
        forecast=fc,
        catalog=catalog,
        inventory=inputs.inventory,
        plan=plan,
        strategies=strategies,
        notes=tuple(notes),
    )
