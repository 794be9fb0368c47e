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

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from forecasting import Forecast, PooledUsage, UsageHistory
from forecasting.scenarios import DemandScenarios
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
from planner.optimize import SolveSession, optimize, with_savings_curves
from planner.optimize.referee import anchored, bound_limits, tighten
from planner.optimize.solve import InfeasiblePlanError
from planner.plan import Plan
from planner.policy import Policy
from planner.policy_file import PlanningConfig, defaults_in_force
from planner.purchase_values import PurchasePaths, value_purchases, whole_term_paths
from planner.serverless import ServerlessSetup
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
    paths: PurchasePaths,
    offers: pd.DataFrame,
    inventory: list[Commitment],
    policy: Policy,
    serverless: ServerlessSetup | None,
) -> list[BoundCheck]:
    """The policy's bounds checked on the evaluator's bill of inventory + the plan's purchases over
    the run's valuation paths of the forecast's own (calibrated) scenarios: the bill the run
    reports (as :func:`planner.evaluate.compare.compare_strategies` bills ``this plan``)."""
    held = [*inventory, *plan.commitments()]
    tf = tariff(held, paths.pools, offers, policy)
    figs = evaluate_on_paths(
        THIS_PLAN,
        held,
        paths.valuation,
        paths.probabilities,
        paths.pools,
        offers,
        tf,
        plan_serverless(plan, serverless),
    )
    return check_bounds(figs, policy, upfront_by_date(list(plan.purchases)))


#: the bounds that conservative risk pricing can put out of reach (planner.optimize.solve)
PRICED_BOUNDS = frozenset({"cvar_limit", "min_utilization"})


@dataclass(frozen=True)
class ForecastBoundProof:
    """What proving the risk bounds on the forecast's scenarios needs (see
    :func:`hold_bounds_on_forecast`): the run's valuation paths of those scenarios, the offers,
    the inventory, the user's policy, the run's serverless options, ``finish`` (the
    recommendation rule, :func:`planner.purchase_values.value_purchases`), where notes and
    progress go, and the run's solve session (the re-solves on the sized scenarios);
    ``fallback_policy`` records the calibrated fallback's LP policy when its plan is the run's (the
    price of safety is then priced on that LP)."""

    fc: Forecast
    paths: PurchasePaths
    offers: pd.DataFrame
    inventory: list[Commitment]
    policy: Policy
    serverless: ServerlessSetup | None
    finish: Callable[[Plan], Plan]
    notes: list[str]
    say: Callable[[str], None]
    session: SolveSession = field(default_factory=SolveSession)
    #: the LP policy of the calibrated fallback, when the run's plan is its plan (0 or 1 entry)
    fallback_policy: list[Policy] = field(default_factory=list)

    def breached(self, plan: Plan) -> list[BoundCheck]:
        return [
            b
            for b in forecast_bounds(
                plan, self.paths, self.offers, self.inventory, self.policy, self.serverless
            )
            if not b.held
        ]

    def solve(
        self, scenarios: DemandScenarios, lp_policy: Policy, session: SolveSession | None = None
    ) -> Plan:
        """The optimizer's plan on ``scenarios`` under ``lp_policy`` (``session``: default the
        run's)."""
        return optimize(
            scenarios,
            self.offers,
            self.inventory,
            lp_policy,
            as_of=self.fc.scenarios.start,
            progress=self.say,
            serverless=self.serverless,
            session=self.session if session is None else session,
        )

    def calibrated_plan(self) -> tuple[Plan, str, Policy] | None:
        """The finished plan of the LP sized on the forecast's scenarios, how it was sized and the
        LP's policy, or None when no LP has a solution. When conservative risk pricing puts a
        bound of :data:`PRICED_BOUNDS` out of reach (it can overstate unused spend until the
        existing commitments alone break it), the LP is solved again with the exact pricing,
        which is how the referee bills used and unused spend. Its LPs share a session of their
        own: a basis from the LP on the sized scenarios made the first one slower than a cold
        start on the example (19.6 s against 12.0 s)."""
        own = SolveSession(curves_later=True)
        try:
            plan = self.finish(self.solve(self.fc.scenarios, self.policy, own))
            return plan, "lp-calibrated for every pool", self.policy
        except InfeasiblePlanError as e:
            if e.binding not in PRICED_BOUNDS or self.policy.risk_pricing == "exact":
                return None
            self.say(f"{e.binding} is out of reach under conservative risk pricing; trying exact")
        try:
            exact = replace(self.policy, risk_pricing="exact")
            plan = self.finish(self.solve(self.fc.scenarios, exact, own))
        except InfeasiblePlanError:
            return None
        return plan, "lp-calibrated for every pool, exact risk pricing", exact

    def calibrated_fallback(self, done: Plan, why: str) -> Plan:
        """When the plan sized on the chosen rules cannot hold the bounds on the forecast's
        scenarios: the plan with every pool on ``lp-calibrated`` (the LP sized on those same
        scenarios, so its referee checks the bounds where they are reported), if it holds them;
        else ``done``, with its breaches reported by the run's bill (:meth:`calibrated_plan`)."""
        self.say(
            f"on the forecast's scenarios the plan breaches {why}; sizing every pool on the forecast"
        )
        found = self.calibrated_plan()
        if found is None or self.breached(found[0]):
            self.notes.append(f"on the forecast's scenarios the plan breaches {why}")
            return done
        calibrated, how, lp_policy = found
        self.fallback_policy.append(lp_policy)
        self.notes.append(
            f"the plan sized on the chosen rules breaches {why} on the forecast's scenarios; "
            f"every pool was sized on the forecast's scenarios instead ({how}), which "
            "holds the bounds"
        )
        return replace(calibrated, record={**calibrated.record, "sizing_fallback": how})


def hold_bounds_on_forecast(plan: Plan, sized: SizedInput, proof: ForecastBoundProof) -> Plan:
    """``proof.finish(plan)`` (the recommendation rule), with the risk bounds proven where they are
    reported: on the forecast's calibrated scenarios.

    The LP sizes on ``sized.scenarios``, where a pool on a one-path sizing rule (``lp-point``,
    ``trailing-L``) has no spread, so its unused spend in the tail is not seen; and the
    recommendation rule may drop purchases after the optimizer's referee has checked them. Either
    can breach on the calibrated scenarios a bound the referee held. When one is breached, the LP's
    limits are moved to where its referee measured the LP and tightened as that referee does
    (:func:`planner.optimize.referee.anchored`, :func:`~planner.optimize.referee.tighten`), the
    plan re-solved and finished again, for at most ``policy.bound_rounds`` rounds; then, or when
    the tightened LP has no solution, :meth:`ForecastBoundProof.calibrated_fallback`."""
    policy = proof.policy
    done = proof.finish(plan)
    if all(v is None for v in bound_limits(policy).values()):
        return done
    lp_policy = sized.policy
    for attempt in range(policy.bound_rounds + 1):
        breached = proof.breached(done)
        if not breached:
            return done
        what = ", ".join(f"{b.name} {b.realised:,.4g} vs limit {b.limit:,.4g}" for b in breached)
        if attempt == policy.bound_rounds:
            return proof.calibrated_fallback(done, f"{what} after {attempt} rounds")
        proof.say(f"on the forecast's scenarios the plan breaches {what}; tightened, re-solved")
        lp_policy = tighten(anchored(lp_policy, plan.bounds), breached)
        try:  # no solution means the fallback, whichever bound is to blame: not diagnosed
            plan = proof.solve(sized.scenarios, lp_policy, proof.session.undiagnosed())
        except InfeasiblePlanError:
            return proof.calibrated_fallback(done, f"{what}; the tightened LP has no solution")
        done = proof.finish(plan)
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
    # the run's LPs share one shape: each starts from the last one's basis; the savings curves are
    # drawn for the plan the run keeps only
    session = SolveSession(curves_later=True)
    try:
        plan = optimize(
            sized.scenarios,
            catalog.offers,
            inventory,
            sized.policy,
            as_of=start,
            progress=say,
            serverless=serverless,
            session=session,
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
            session=session,
        )
    # every purchase valued on the evaluator over its whole term (the valuation paths the LP priced
    # and the comparison bills), the recommendation rule applied: planner.purchase_values; the
    # risk bounds proven on the forecast's scenarios, re-solved with tighter limits if need be
    paths = whole_term_paths(fc.scenarios, policy, inventory, catalog.offers)

    def finish(p: Plan) -> Plan:
        return value_purchases(
            p, paths, catalog.offers, inventory, policy, progress=say, serverless=serverless
        )

    proof = ForecastBoundProof(
        fc, paths, catalog.offers, inventory, policy, serverless, finish, notes, say, session
    )
    plan = with_savings_curves(hold_bounds_on_forecast(plan, sized, proof), say)
    if proof.fallback_policy:  # the plan was sized on the forecast's scenarios: so is each bound's
        sized = replace(sized, scenarios=fc.scenarios, policy=proof.fallback_policy[0])  # price
    extra = sized.plan_record(plan, catalog.offers, inventory, serverless)
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
