"""The planning policy: every choice the optimizer makes on the user's behalf, as plain data.

A :class:`Policy` is a frozen dataclass with documented defaults. Loading it from a TOML file lives in
another module; this one only holds the values and checks them (:meth:`Policy.validate`), raising
:class:`~pricing_data.errors.PlannerInputError` with the field name and a fix.

Units are in the names: ``*_months``, ``*_usd``, ``*_pct`` (0-100), ``*_share`` (0-1 fraction),
``*_s`` (seconds).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from pricing_data.errors import PlannerInputError
from pricing_data.schema import (
    COMMITMENT_MODELS,
    HOURS_PER_MONTH,
    OFFERING_CLASSES,
    PAYMENT_OPTIONS,
    PROVIDERS,
)

TIME_REDUCTIONS = ("duration_curve", "joint_duration_curve", "typical_days", "hourly")
PERIODS = ("month", "quarter")
SOLVERS = ("highs", "cbc")
INTEGER_METHODS = ("mip", "round")
RISK_PRICINGS = ("conservative", "exact")
SCENARIO_REDUCTIONS = ("auto", "on", "off")
DECOMPOSITIONS = ("auto", "scenarios", "off")
VALUATIONS = ("whole_term", "horizon")


@dataclass(frozen=True)
class Range:
    """A number's allowed interval [lo, hi] (``lo_open``/``hi_open`` exclude the ends); an
    ``optional`` field may also be None (the bound is not applied)."""

    lo: float
    hi: float
    what: str
    fix: str
    lo_open: bool = False
    hi_open: bool = False
    optional: bool = False

    def holds(self, v: float) -> bool:
        above = v > self.lo if self.lo_open else v >= self.lo
        below = v < self.hi if self.hi_open else v <= self.hi
        return above and below


INF = math.inf
_SHARE = ("must be a share in [0, 1]", "write e.g. 0.6 for 60%")
RANGES: dict[str, Range] = {
    "horizon_months": Range(1, INF, "the horizon must be at least 1 month", "use e.g. 12"),
    "ladder_every_months": Range(0, INF, "must be >= 0", "use 3 (quarterly) or 0 (now only)"),
    "min_purchase_usd_per_hour": Range(
        0, INF, "must be a dollar amount >= 0", "use e.g. 0.5, or 0"
    ),
    "cvar_beta": Range(0, 1, "must be in (0, 1)", "use e.g. 0.9", lo_open=True, hi_open=True),
    "cvar_limit_usd": Range(
        0, INF, "must be a number >= 0", "give a dollar amount or leave unset", optional=True
    ),
    "upfront_budget_usd": Range(
        0, INF, "must be a number >= 0", "give a dollar amount or leave unset", optional=True
    ),
    "cvar_limit_pct": Range(0, 100, "must be a percent in [0, 100]", "use e.g. 20", optional=True),
    "min_utilization": Range(0, 1, *_SHARE, optional=True),
    "max_share_per_provider": Range(0, 1, *_SHARE, optional=True),
    "min_utilization_tail": Range(0, 1, "must be in (0, 1]", "use e.g. 0.1", lo_open=True),
    "risk_aversion": Range(0, INF, "must be >= 0", "use 0 (risk-neutral) or e.g. 0.5"),
    "spot_overhead_pct": Range(0, INF, "must be >= 0", "use e.g. 10"),
    "spot_cap_share": Range(0, 1, "must be a share in [0, 1]", "use e.g. 0.5"),
    "egress_usd_per_gpu_hour": Range(0, INF, "must be >= 0", "use e.g. 0.10"),
    "time_limit_s": Range(0, INF, "must be > 0 seconds", "use e.g. 60", lo_open=True),
    "mip_gap": Range(0, 1, "must be in [0, 1)", "use e.g. 0.005", hi_open=True),
    "blocks_per_period": Range(1, INF, "must be >= 1", "use e.g. 4"),
    "savings_curve_points": Range(0, INF, "must be >= 0", "use e.g. 5, or 0 to skip"),
    "discount_rate_pct": Range(0, 100, "must be a percent in [0, 100]", "use e.g. 8"),
    "tail_blocks": Range(1, INF, "must be >= 1", "use e.g. 2"),
    "tail_step_months": Range(1, INF, "must be >= 1", "use e.g. 3"),
    "tail_min_volatility_pct": Range(0, 30, "must be in [0, 30]", "use e.g. 2"),
    "spot_checkpoint_interval_h": Range(0, INF, "must be >= 0 hours", "use e.g. 1.0"),
    "spot_restart_h": Range(0, INF, "must be >= 0 hours", "use e.g. 1.0"),
    "spot_price_spread_pct": Range(0, 200, "must be in [0, 200]", "use e.g. 25"),
    "bound_rounds": Range(0, INF, "must be >= 0", "use e.g. 3"),
    "reduce_scenarios_to": Range(1, INF, "must be >= 1 scenario", "use e.g. 50"),
}
CHOICES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("risk_pricing", RISK_PRICINGS, "unknown value"),
    ("scenario_reduction", SCENARIO_REDUCTIONS, "unknown value"),
    ("decomposition", DECOMPOSITIONS, "unknown value"),
    ("integer_method", INTEGER_METHODS, "unknown method"),
    ("solver", SOLVERS, "unknown solver"),
    ("time_reduction", TIME_REDUCTIONS, "unknown method"),
    ("period", PERIODS, "unknown period"),
    ("valuation", VALUATIONS, "unknown valuation"),
)
MULTI_CHOICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("providers", PROVIDERS),
    ("purchase_models", COMMITMENT_MODELS),
    ("payment_options", PAYMENT_OPTIONS),
    ("offering_classes", OFFERING_CLASSES),
)


def _one_of(allowed: tuple[str, ...]) -> str:
    return " or ".join(allowed) if len(allowed) == 2 else ", ".join(allowed)


@dataclass(frozen=True)
class Policy:
    """Every planning choice, with the defaults a FinOps team would start from.

    Horizon and ladder
        ``horizon_months`` (12): months planned from the scenarios' start (capped at the scenarios'
        length). ``ladder_every_months`` (3): a tentative purchase date every so many months after
        "now"; 0 buys only now. Only "now" purchases are firm.
    What may be bought
        ``providers``, ``purchase_models`` (commitment kinds), ``terms_months``, ``payment_options``,
        ``offering_classes`` (RIs). On-demand and spot of the allowed providers are always available.
        ``min_purchase_usd_per_hour`` (0.5): purchases committing less than this per hour (or less
        than one instance or GPU) are odd lots and are not recommended; 0 keeps them.
    Risk bounds (``None`` = not applied); they apply to the whole portfolio, existing plus new
        ``cvar_beta`` (0.9): tail level of the CVaR. ``cvar_limit_usd``: CVaR_β of unused commitment
        spend over the horizon ≤ this. ``cvar_limit_pct``: the same, as a percent of commitment spend.
        ``min_utilization`` (0-1): in each scenario of the worst tail (the ``min_utilization_tail``
        share of probability with the lowest total demand), used commitment spend ≥ this share of
        commitment spend. ``upfront_budget_usd``: upfront cash paid at each purchase date ≤ this.
        ``max_share_per_provider`` (0-1): each provider's share of the GPU-hours commitments
        serve (existing and new) ≤ this.
        ``risk_aversion`` λ (0): the objective is E[cost] + λ·CVaR_β(cost).
        ``risk_pricing`` ("conservative"): how the CVaR and utilisation bounds price used
        commitment dollars when equally usable offers of different prices share dispatch (say a
        1-year and a 3-year RI of one instance type): "conservative" values their used GPU-hours at
        the cheapest member's price (unused spend is never understated; the LP stays as small as
        without a bound); "exact" gives each price its own dispatch variables (larger, slower).
    Spot and off-AWS
        ``spot_overhead_pct`` (0): flat extra GPU-hours run on spot, on top of the re-runs of
        interrupted work (below).
        ``spot_cap_share`` (0.5): at most this share of an interruptible pool's demand on spot; a
        pool whose AWS spot offer has a worse interruption band gets less (:meth:`spot_cap`), and a
        ``[[pools]]`` rule's ``spot_cap_share`` overrides both for its pools.
        ``egress_usd_per_gpu_hour`` (0.10, an assumption): data egress paid per GPU-hour run off AWS
        (CoreWeave, Lambda) by portable pools.
    Solving
        ``integer`` (True): RIs and contracts in whole units; False solves the LP relaxation.
        ``integer_method``: "mip" (default; branch and bound, falling back to rounding at the time
        limit) or "round" (solve the LP relaxation, round RIs and contracts to the nearest whole
        unit, else down, and re-solve the rest: fast for large fleets, where rounding costs little).
        ``solver`` ("highs"; "cbc" as fallback), ``time_limit_s`` (60), ``mip_gap`` (0.005).
        ``time_reduction``: "duration_curve" (default; per period and pool, hours sorted by demand
        and cut into ``blocks_per_period`` equal blocks), "joint_duration_curve" (hours sorted by
        total demand over pools), "typical_days" (per period, the mean day by hour of day) or
        "hourly" (no reduction); see planner/optimize/time_reduction.py. ``period``: "month" or
        "quarter".
        ``savings_curve_points`` (5): re-solves per commitment family for the savings curve (0: off).
        ``bound_rounds`` (3): after the solve the evaluator bills the plan and checks every bound;
        a bound it finds breached is tightened by the shortfall and the LP re-solved, at most this
        many times (0: check and report only).
        ``scenario_reduction`` ("auto") and ``reduce_scenarios_to`` (50): the LP is built on
        ``reduce_scenarios_to`` of the S demand scenarios chosen by fast forward selection
        (planner/optimize/scenario_reduction.py; the dropped scenarios' probability moves to the
        nearest kept one), while the evaluator still bills the plan and checks every bound on
        all S. "on": whenever S > ``reduce_scenarios_to``; "auto": only for large problems, S >
        ``reduce_scenarios_to`` and S × pools >= 400 (planner.optimize.index.AUTO_MIN_SCENARIO_POOLS;
        e.g. 100 scenarios from 4 pools up), where the LP's time (∝ S^1.8) is what limits a
        plan; "off": never. The plan's record says what was kept ("scenario_reduction"). 50 of
        100 cost +0.24 % (4 pools) and +0.21 % (8 pools) on the evaluator's bill of the
        enterprise case; 25 cost +0.75 % and +0.46 % (bench/RESULTS-scale.md section 5).
        ``decomposition`` ("auto"): "scenarios" solves the LP relaxation by Benders decomposition
        over its scenarios (planner/optimize/decompose.py: a master with the purchases and one
        dispatch subproblem per scenario, linear in pools), then rounds as ``integer_method =
        "round"`` does (also when ``integer_method`` is "mip": branch and bound on an LP that size
        would spend its time limit and round anyway; the plan's notes say so); "auto" does so
        when the LP has at least 60,000 columns (the example's has 26,000: solved whole); "off":
        never. An LP that does not split (the provider-share bound
        couples every scenario's dispatch; all-or-nothing serverless choices) is solved whole,
        and the plan's notes say so.
    Whole term and cost of money (see planner/valuation.py)
        ``discount_rate_pct`` (8 %/yr, a typical corporate cost of capital; 0 = undiscounted): cash
        flows are discounted monthly at this rate in the objective and the NPV figures.
        ``tail_step_months`` (3) and ``tail_blocks`` (2): resolution of the valuation timeline
        after the decision horizon (periods of so many months, each a duration curve in so many
        blocks).
        ``tail_min_volatility_pct`` (2): the tail model's least monthly demand volatility.
        ``valuation`` ("whole_term"; "horizon" charges and credits a commitment only for its hours
        inside the decision horizon, upfront amortised: what a backtest scoring one window needs,
        never a purchase decision).
    Spot re-runs
        ``spot_checkpoint_interval_h`` (1.0) and ``spot_restart_h`` (0.25): an interruption loses
        half a checkpoint interval of work plus the restart; with the catalog's interruption rate
        λ (share of instances interrupted per month) the re-run overhead is
        λ / 730 h × (interval / 2 + restart) extra GPU-hours per GPU-hour, added to the flat
        ``spot_overhead_pct``.
        ``spot_price_spread_pct`` (25, an assumption: the catalogs hold one snapshot average):
        each scenario pays the snapshot price times m_s = exp(σ z_s − σ²/2), σ = spread/100,
        z_s ~ N(0, 1) seeded (mean 1); spot is used in a scenario only while cheaper than
        on-demand there.
    """

    horizon_months: int = 12
    ladder_every_months: int = 3
    providers: tuple[str, ...] = PROVIDERS
    purchase_models: tuple[str, ...] = COMMITMENT_MODELS
    terms_months: tuple[int, ...] = (12, 24, 36)
    payment_options: tuple[str, ...] = PAYMENT_OPTIONS
    offering_classes: tuple[str, ...] = OFFERING_CLASSES
    min_purchase_usd_per_hour: float = 0.5
    cvar_beta: float = 0.9
    cvar_limit_usd: float | None = None
    cvar_limit_pct: float | None = None
    min_utilization: float | None = None
    min_utilization_tail: float = 0.1
    upfront_budget_usd: float | None = None
    max_share_per_provider: float | None = None
    risk_aversion: float = 0.0
    risk_pricing: str = "conservative"
    spot_overhead_pct: float = 0.0
    spot_cap_share: float = 0.5
    egress_usd_per_gpu_hour: float = 0.10
    integer: bool = True
    integer_method: str = "mip"
    solver: str = "highs"
    time_limit_s: float = 60.0
    mip_gap: float = 0.005
    time_reduction: str = "duration_curve"
    period: str = "month"
    blocks_per_period: int = 4
    savings_curve_points: int = 5
    discount_rate_pct: float = 8.0
    valuation: str = "whole_term"
    tail_step_months: int = 3
    tail_blocks: int = 2
    tail_min_volatility_pct: float = 2.0
    spot_checkpoint_interval_h: float = 1.0
    spot_restart_h: float = 0.25
    spot_price_spread_pct: float = 25.0
    bound_rounds: int = 3
    scenario_reduction: str = "auto"
    decomposition: str = "auto"
    reduce_scenarios_to: int = 50

    def validate(self) -> Policy:
        """Check every field against :data:`CHOICES` and :data:`RANGES`; return self so that
        ``Policy(...).validate()`` chains. A number that is NaN or infinite breaks its range."""

        def bad(name: str, what: str, fix: str) -> PlannerInputError:
            return PlannerInputError(what, column=name, value=getattr(self, name), fix=fix)

        for name, allowed in MULTI_CHOICES:
            for v in getattr(self, name):
                if v not in allowed:
                    raise bad(name, f"unknown value {v!r}", "use " + ", ".join(allowed))
        if any(t <= 0 for t in self.terms_months):
            raise bad("terms_months", "terms must be > 0 months", "use 12, 24 or 36")
        for name, allowed, what in CHOICES:
            if getattr(self, name) not in allowed:
                raise bad(name, what, "use " + _one_of(allowed))
        for name, rule in RANGES.items():
            v = getattr(self, name)
            if v is None and rule.optional:
                continue
            if v is None or not math.isfinite(float(v)) or not rule.holds(float(v)):
                raise bad(name, rule.what, rule.fix)
        return self

    def spot_rerun_factor(self, interruption_rate_per_month: float) -> float:
        """GPU-hours bought per GPU-hour of work on spot: 1 + flat overhead + re-runs, where an
        interruption (rate λ per instance-month, the catalog's band midpoint; 0 when unknown) loses
        half a checkpoint interval plus the restart: λ / 730 × (interval / 2 + restart)."""
        lam = interruption_rate_per_month
        lam = 0.0 if lam is None or not math.isfinite(lam) else max(0.0, float(lam))
        lost_h = self.spot_checkpoint_interval_h / 2.0 + self.spot_restart_h
        return 1.0 + self.spot_overhead_pct / 100.0 + lam / HOURS_PER_MONTH * lost_h

    def spot_cap(
        self, pool_cap_share: float | None, provider: str, interruption_rate_per_month: float
    ) -> float:
        """The spot availability cap of a pool: the most of its demand counted on spot.

        0 when ``spot_cap_share`` is 0 (spot off); else the pool's own cap (a ``[[pools]]``
        rule's ``spot_cap_share``) when set; else, for an AWS spot offer with an interruption band
        in the catalog, the band's assumed cap (pricing_data/assumptions.toml [spot]
        aws_availability_cap_by_band) but at most ``spot_cap_share``; else ``spot_cap_share``."""
        if self.spot_cap_share <= 0:
            return 0.0
        if pool_cap_share is not None:
            return float(pool_cap_share)
        lam = interruption_rate_per_month
        if provider == "aws" and lam is not None and math.isfinite(lam):
            from pricing_data.rates import spot_availability_cap

            return min(self.spot_cap_share, spot_availability_cap(lam))
        return self.spot_cap_share

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        """The inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = [k for k in data if k not in names]
        if unknown:
            from pricing_data.errors import UnknownNameError

            raise UnknownNameError("policy key", unknown[0], names)
        kwargs: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**kwargs).validate()
